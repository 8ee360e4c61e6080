"""The LoRA catalogue of a connection, cached, and the check that a style named in a request
is one of it: a mistyped ``--lora watercolour`` is answered ``did you mean watercolor?`` before
anything is sent, instead of a 404 from the server.

The catalogue is fetched once per connection (base URL and version) and shared by the magics
and the widgets. A name that is not in it triggers one fresh read before it is refused, so a
style delivered to the team after the first read is never turned away. A legacy UUID cannot be
checked locally and is left to the server, and so is everything when the catalogue cannot be
read at all.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from aurous_nb.client.errors import ValidationError

__all__ = [
    "aloras",
    "check",
    "check_request",
    "closest",
    "find",
    "loras",
    "unknown",
    "video_loras",
]

_UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$", re.I)
_CACHE: dict[tuple[str, str, str | None], list[Any]] = {}


def _key(session: Any, kind: str) -> tuple[str, str, str | None]:
    return (kind, str(session.base_url), getattr(session, "version", None))


def loras(session: Any, *, refresh: bool = False) -> list[Any]:
    """Image styles of ``session``'s connection (one ``GET /v1/loras`` until ``refresh``)."""
    key = _key(session, "image")
    if refresh or key not in _CACHE:
        _CACHE[key] = list(session.client.loras.list())
    return _CACHE[key]


async def aloras(session: Any, *, refresh: bool = False) -> list[Any]:
    """:func:`loras` on the session's ``AsyncClient`` (for widgets on the kernel loop)."""
    key = _key(session, "image")
    if refresh or key not in _CACHE:
        _CACHE[key] = list(await session.aclient.loras.list())
    return _CACHE[key]


def video_loras(session: Any, *, refresh: bool = False) -> list[Any]:
    """Video models of ``session``'s connection (one ``GET /v1/video_loras`` until ``refresh``)."""
    key = _key(session, "video")
    if refresh or key not in _CACHE:
        _CACHE[key] = list(session.client.video_loras.list())
    return _CACHE[key]


def _known(ref: str, catalogue: Sequence[Any]) -> bool:
    """Whether the API takes ``ref``: an id, or a slug (in any case, as the sandbox does)."""
    folded = ref.casefold()
    return any(ref == x.id or folded == str(x.slug or "").casefold() for x in catalogue)


def find(ref: str, catalogue: Sequence[Any]) -> Any:
    """The style whose id, slug or name is ``ref`` (a name case-insensitively), or ``None``."""
    for lora in catalogue:
        if ref in (lora.id, lora.slug):
            return lora
    folded = ref.casefold()
    return next((x for x in catalogue if str(x.name).casefold() == folded), None)


def closest(ref: str, catalogue: Sequence[Any]) -> str | None:
    """The slug (or id) people most likely meant by ``ref``: the nearest slug or name."""
    choices: dict[str, str] = {}
    for lora in catalogue:
        handle = lora.slug or lora.id
        for text in (lora.slug, lora.name, lora.id):
            if text:
                choices.setdefault(str(text).casefold(), handle)
    match = difflib.get_close_matches(ref.casefold(), list(choices), n=1, cutoff=0.6)
    return choices[match[0]] if match else None


def unknown(ref: str, catalogue: Sequence[Any], *, param: str, hint: str) -> ValidationError:
    """The error for a style that is not in ``catalogue``, naming the closest one."""
    from aurous_nb.client.errors import ValidationError

    named = find(ref, catalogue)
    if named is not None:  # the display name: the API wants the slug or id
        message = f"{param}: {ref!r} is a style's name; use its slug {named.slug or named.id}"
    else:
        guess = closest(ref, catalogue)
        maybe = f"did you mean {guess}? " if guess else ""
        message = f"{param}: unknown LoRA {ref!r}; {maybe}({hint})"
    return ValidationError(param, message)


def check(
    session: Any,
    ref: Any,
    *,
    param: str = "lora_id",
    hint: str = "%aurous loras",
    video: bool = False,
) -> None:
    """Raise :class:`~aurous_nb.client.errors.ValidationError` (with the closest style) when
    ``ref`` is not an id or slug of the connection's catalogue; nothing is sent then."""
    if not isinstance(ref, str) or _UUID.match(ref):
        return
    from aurous_nb.client._params import check_encodable

    check_encodable(param, ref)  # before any catalogue read
    read = video_loras if video else loras
    try:
        catalogue = read(session)
        if _known(ref, catalogue):
            return
        catalogue = read(session, refresh=True)  # delivered since the first read?
    except Exception:  # no catalogue: the server decides
        return
    if _known(ref, catalogue):
        return
    raise unknown(ref, catalogue, param=param, hint=hint)


def check_request(session: Any, request: Mapping[str, Any], *, hint: str = "%aurous loras") -> None:
    """:func:`check` every style an image request names (``lora_id``, ``loras[i].lora``)."""
    if request.get("lora_id") is not None:
        check(session, request["lora_id"], hint=hint)
    for i, entry in enumerate(request.get("loras") or ()):
        ref = entry.get("lora") if isinstance(entry, Mapping) else entry[0]
        check(session, ref, param=f"loras[{i}].lora", hint=hint)

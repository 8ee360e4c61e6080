"""Characters (contract §2.28-2.37): made from your images or synthesized from attributes, then
passed as ``character_id`` to ``images.create``.

``create(name=, images=[...])`` runs the upload dance for you: one ticket per image
(``uploads/init``), a keyless PUT of the bytes to the ticket's signed URL, an optional
``uploads/classify`` for the pose, then ``POST /v1/characters``. ``synthesize`` asks the API to
draw the four poses (4 generations' worth of credits). The paid calls -- synthesize,
resynthesize, regenerate_ref -- carry an Idempotency-Key (made when not given) that every retry
reuses, so a lost answer never pays twice; the same ``idempotency_key`` again collects the
same character instead of buying another.
"""

from __future__ import annotations

import os
import re
from collections.abc import AsyncIterator, Iterator, Mapping, Sequence
from typing import Any
from urllib.parse import quote

from aurous_nb.client._core import Core, Flow, Request, Response, Sleep
from aurous_nb.client._params import (
    check_bool,
    check_choice,
    check_id,
    check_int,
    check_limit,
    check_text,
)
from aurous_nb.client._resource import AsyncResource, SyncResource
from aurous_nb.client.backoff import Backoff
from aurous_nb.client.errors import ValidationError, WaitTimeoutError, json_kind
from aurous_nb.client.files import FileInput, read_image
from aurous_nb.client.images import check_wait, checked_url, idempotency_key
from aurous_nb.client.models import Character, Page
from aurous_nb.statuses import REVIEWING

__all__ = [
    "ATTRIBUTES",
    "POSES",
    "AsyncCharacters",
    "CharacterArg",
    "Characters",
    "character_body",
    "check_attributes",
]

_BASE = "/v1/characters"
POST_BUCKET = "characters_post"
GET_BUCKET = "characters_get"
SYNTH_BUCKET = "characters_synthesize"
POSES = ("portrait", "front", "side", "back", "other")
#: The contract's locked v1.0 attribute set (``age`` a number, the rest text).
ATTRIBUTES = (
    "gender",
    "age",
    "ethnicity",
    "hair_color",
    "hair_style",
    "eye_color",
    "body_type",
    "additional_details",
)
LISTABLE = ("synthesizing", "reviewing", "ready", "failed")
NAME_MAX = 120
MAX_IMAGES = 6
_CHAR_ID = re.compile(r"char_[A-Za-z0-9]{1,64}")
_EXTENSION = {"image/png": "png", "image/jpeg": "jpeg", "image/webp": "webp"}

CharacterArg = str | Character


# ---------------------------------------------------------------- checks (before anything is sent)


def check_name(name: object) -> str:
    return check_text("name", name, NAME_MAX)


def check_attributes(attributes: Mapping[str, Any] | None) -> dict[str, Any]:
    """The attribute set as sent: known keys only, ``age`` a number, the rest text."""
    if attributes is None:
        return {}
    if not isinstance(attributes, Mapping):
        raise ValidationError("attributes", "attributes: must be a mapping")
    out: dict[str, Any] = {}
    for key, value in attributes.items():
        if key not in ATTRIBUTES:
            check_choice(f"attributes.{key}", key, ATTRIBUTES)
        if value is None:
            continue
        if key == "age":
            if (
                isinstance(value, bool)
                or not isinstance(value, (int, float))
                or not 0 <= value <= 150
            ):
                raise ValidationError("attributes.age", "attributes.age: a number from 0 to 150")
            out[key] = value
        else:
            out[key] = check_text(
                f"attributes.{key}", value, 1000 if key == "additional_details" else 200
            )
    return out


def character_body(
    name: str,
    *,
    attributes: Mapping[str, Any] | None = None,
    upload_ids: Sequence[str] | None = None,
    client_reference_id: str | None = None,
) -> dict[str, Any]:
    """The ``POST /v1/characters`` body: ``upload_ids`` for the upload flow, else a synthesis."""
    body: dict[str, Any] = {"name": check_name(name)}
    attrs = check_attributes(attributes)
    if upload_ids is None:
        if not attrs:
            raise ValidationError("attributes", "attributes: a synthesis needs at least one")
        body["generate"] = True
    else:
        body["upload_ids"] = list(upload_ids)
    if attrs or upload_ids is None:
        body["attributes"] = attrs
    if client_reference_id is not None:
        body["client_reference_id"] = check_text("client_reference_id", client_reference_id, 256)
    return body


def _id(ref: CharacterArg) -> str:
    return ref.id if isinstance(ref, Character) else check_id("id", ref)


def _path(ref: CharacterArg, suffix: str = "") -> str:
    return f"{_BASE}/{quote(_id(ref), safe='')}{suffix}"


def parse_character(d: Any, resp: Response) -> Character:
    """A character from an answer: an object with a ``char_`` id, or InvalidResponseError."""
    if not isinstance(d, dict):
        raise resp.invalid(f"a character is {json_kind(d)}, not a JSON object")
    if not (isinstance(d.get("id"), str) and _CHAR_ID.fullmatch(d["id"])):
        raise resp.invalid(f"the server sent {str(d.get('id'))[:80]!r} as a character id", "id")
    return Character.from_json(
        d,
        request_id=resp.request_id,
        replayed=resp.headers.get("aurous-idempotent-replayed", "").lower() == "true",
    )


def character(resp: Response) -> Character:
    return parse_character(resp.object(), resp)


# ---------------------------------------------------------------- flows (shared)


def upload_flow(core: Core, source: FileInput, classify: bool, version: str | None) -> Flow[str]:
    """One image onto a ticket: init, the keyless PUT, and the pose when ``classify``."""
    name, data, mime = read_image(source, None)
    ext = _EXTENSION[mime]
    stem = os.path.splitext(name)[0][:100] or "image"
    init = core.send_json(
        "POST",
        f"{_BASE}/uploads/init",
        {"filename": f"{stem}.{ext}", "extension": ext, "content_type": mime},
        bucket=POST_BUCKET,
        version=version,
    )
    ticket = yield from core.call_json(init)
    upload_id, url = ticket.get("upload_id"), ticket.get("upload_url")
    if not isinstance(upload_id, str) or not isinstance(url, str):
        raise ValidationError("upload_url", "the API sent an upload ticket without an id or URL")
    headers = {"Content-Type": mime}
    sent = ticket.get("upload_headers")
    if isinstance(sent, Mapping):
        headers = {str(k): str(v) for k, v in sent.items() if str(k).lower() != "content-type"}
        headers["Content-Type"] = str(sent.get("Content-Type", sent.get("content-type", mime)))
    # The same bytes to the same URL: a retried PUT is harmless. No key goes to it (auth=False).
    put = Request(
        "PUT",
        checked_url(upload_id, url),
        body=data,
        headers=headers,
        auth=False,
        idempotent=True,
    )
    yield from core.call(put)
    if classify:
        req = core.send_json(
            "POST",
            f"{_BASE}/uploads/classify",
            {"upload_id": upload_id},
            bucket=POST_BUCKET,
            idempotent=True,  # a pure read (contract §2.29)
            version=version,
        )
        yield from core.call_json(req)
    return upload_id


def create_flow(
    core: Core,
    name: str,
    images: Sequence[FileInput],
    attributes: Mapping[str, Any] | None,
    classify: bool,
    client_reference_id: str | None,
    key: str | None,
    version: str | None,
) -> Flow[Character]:
    """Upload ``images`` (1 to 6) and make a ready character of them (free)."""
    if isinstance(images, (str, bytes, os.PathLike)) or not isinstance(images, Sequence):
        raise ValidationError("images", "images: pass a list of paths or bytes")
    if not 1 <= len(images) <= MAX_IMAGES:
        raise ValidationError("images", f"images: 1 to {MAX_IMAGES} (got {len(images)})")
    character_body(
        name, attributes=attributes, upload_ids=[], client_reference_id=client_reference_id
    )
    for i, source in enumerate(images):
        read_image(source, None, param=f"images[{i}]")  # every image checked before any upload
    upload_ids = []
    for source in images:
        upload_ids.append((yield from upload_flow(core, source, classify, version)))
    body = character_body(
        name, attributes=attributes, upload_ids=upload_ids, client_reference_id=client_reference_id
    )
    req = core.send_json(
        "POST",
        _BASE,
        body,
        bucket=POST_BUCKET,
        idempotency_key=idempotency_key(key),
        version=version,
    )
    return character((yield from core.call(req)))


def synthesize_flow(
    core: Core,
    name: str,
    attributes: Mapping[str, Any],
    client_reference_id: str | None,
    key: str | None,
    version: str | None,
) -> Flow[Character]:
    body = character_body(name, attributes=attributes, client_reference_id=client_reference_id)
    return (yield from post_synthesis_flow(core, body, key, version))


def post_synthesis_flow(
    core: Core, body: dict[str, Any], key: str | None, version: str | None
) -> Flow[Character]:
    """Send a built synthesis body under its Idempotency-Key (the ledger path builds its own)."""
    req = core.send_json(
        "POST",
        _BASE,
        body,
        bucket=SYNTH_BUCKET,
        idempotency_key=idempotency_key(key),
        version=version,
    )
    return character((yield from core.call(req)))


def get_flow(core: Core, ref: CharacterArg, version: str | None) -> Flow[Character]:
    req = core.get(_path(ref), version=version, bucket=GET_BUCKET)
    return character((yield from core.call(req)))


def list_page_flow(
    core: Core, limit: int, starting_after: str | None, status: str | None, version: str | None
) -> Flow[Page[Character]]:
    params: dict[str, Any] = {"limit": check_limit(limit)}
    if starting_after is not None:
        params["starting_after"] = check_id("starting_after", starting_after)
    if status is not None:
        params["status"] = check_choice("status", status, LISTABLE)
    resp = yield from core.call(core.get(_BASE, params=params, version=version, bucket=GET_BUCKET))
    body = resp.object()
    items = body.get("data") or []
    if not isinstance(items, list):
        raise resp.invalid(f"data is {json_kind(items)}, not a list", "data")
    cursor = body.get("next_cursor")
    return Page(
        data=tuple(parse_character(r, resp) for r in items),
        has_more=bool(body.get("has_more")),
        next_cursor=cursor if isinstance(cursor, str) else None,
        raw=body,
    )


def update_flow(
    core: Core,
    ref: CharacterArg,
    name: str | None,
    attributes: Mapping[str, Any] | None,
    version: str | None,
) -> Flow[Character]:
    """PATCH ``name`` and/or ``attributes`` (replaced whole, never merged)."""
    body: dict[str, Any] = {}
    if name is not None:
        body["name"] = check_name(name)
    if attributes is not None:
        body["attributes"] = check_attributes(attributes)
    if not body:
        raise ValidationError("update", "update: pass name and/or attributes")
    # Setting the same fields twice leaves the same character: safe to retry.
    req = core.send_json(
        "PATCH", _path(ref), body, bucket=POST_BUCKET, idempotent=True, version=version
    )
    return character((yield from core.call(req)))


def delete_flow(core: Core, ref: CharacterArg, version: str | None) -> Flow[bool]:
    """Delete (a second delete is a 404, so an answer lost on the way is not retried)."""
    req = core.send_json("DELETE", _path(ref), bucket=POST_BUCKET, version=version)
    body = yield from core.call_json(req)
    return bool(body.get("deleted", True))


def save_flow(core: Core, ref: CharacterArg, version: str | None) -> Flow[Character]:
    # save on a ready character answers it unchanged (contract §2.35): safe to retry
    req = core.send_json(
        "POST", _path(ref, "/save"), bucket=POST_BUCKET, idempotent=True, version=version
    )
    return character((yield from core.call(req)))


def resynthesize_flow(
    core: Core, ref: CharacterArg, force_all: bool, key: str | None, version: str | None
) -> Flow[Character]:
    body = {"force_all": check_bool("force_all", force_all)}
    req = core.send_json(
        "POST",
        _path(ref, "/resynthesize"),
        body,
        bucket=SYNTH_BUCKET,
        idempotency_key=idempotency_key(key),
        version=version,
    )
    return character((yield from core.call(req)))


def regenerate_flow(
    core: Core, ref: CharacterArg, pose: str, key: str | None, version: str | None
) -> Flow[Character]:
    body = {"pose": check_choice("pose", pose, POSES)}
    req = core.send_json(
        "POST",
        _path(ref, "/refs/regenerate"),
        body,
        bucket=SYNTH_BUCKET,
        idempotency_key=idempotency_key(key),
        version=version,
    )
    return character((yield from core.call(req)))


def wait_flow(
    core: Core,
    ref: CharacterArg,
    save: bool,
    timeout: float,
    poll_interval: float,
    version: str | None,
) -> Flow[Character]:
    """Poll until the synthesis stops (``reviewing``, ``ready`` or ``failed``); with ``save``, a
    ``reviewing`` character is saved (so it comes back ``ready``)."""
    check_wait(timeout, poll_interval)
    deadline = core.monotonic() + timeout
    gaps = Backoff.for_client(poll_interval)
    char = ref if isinstance(ref, Character) else None
    while char is None or not char.is_settled:
        char = yield from get_flow(core, ref, version)
        if char.is_settled:
            break
        left = deadline - core.monotonic()
        if left <= 0:
            raise WaitTimeoutError(
                f"{char.id} was still {char.status} after {timeout:g}s", generation=char
            )
        yield Sleep(min(gaps.next(), left))
    if save and char.status == REVIEWING:
        char = yield from save_flow(core, char, version)
    return char


def download_ref_flow(
    core: Core, ref: CharacterArg, index: int, version: str | None
) -> Flow[bytes]:
    """The bytes of one ref through its signed URL (no key sent; the URL is fetched fresh when
    a bare id is given)."""
    check_int("index", index, 0)
    char = ref if isinstance(ref, Character) else (yield from get_flow(core, ref, version))
    if index >= len(char.refs):
        raise ValidationError("index", f"index: {char.id} has {len(char.refs)} ref(s), got {index}")
    url = checked_url(char.id, char.refs[index].url)
    req = Request("GET", url, auth=False, idempotent=True, output=True)
    return (yield from core.call(req)).content


def iterate(
    client: Any, limit: int, status: str | None, version: str | None
) -> Any:  # Iterator or AsyncIterator, by the client's driver
    core = client._core
    return client._iterate(lambda cursor: list_page_flow(core, limit, cursor, status, version))


# ---------------------------------------------------------------- namespaces


class Characters(SyncResource):
    """``client.characters``: make, list, change and delete characters."""

    __slots__ = ()

    def create(
        self,
        *,
        name: str,
        images: Sequence[FileInput],
        attributes: Mapping[str, Any] | None = None,
        classify: bool = True,
        client_reference_id: str | None = None,
        idempotency_key: str | None = None,
        version: str | None = None,
    ) -> Character:
        """A character from 1 to 6 images (paths or bytes; PNG, JPEG or WebP): ready at once,
        free. ``classify`` asks the API which pose each image shows."""
        return self._run(
            create_flow(
                self._core,
                name,
                images,
                attributes,
                classify,
                client_reference_id,
                idempotency_key,
                version,
            )
        )

    def synthesize(
        self,
        *,
        name: str,
        attributes: Mapping[str, Any],
        client_reference_id: str | None = None,
        idempotency_key: str | None = None,
        version: str | None = None,
    ) -> Character:
        """Ask the API to draw four poses (4 generations' worth of credits): it answers
        ``synthesizing``; :meth:`wait` until ``reviewing``, look, then :meth:`save`."""
        return self._run(
            synthesize_flow(
                self._core, name, attributes, client_reference_id, idempotency_key, version
            )
        )

    def get(self, id: CharacterArg, *, version: str | None = None) -> Character:
        return self._run(get_flow(self._core, id, version))

    def list_page(
        self,
        limit: int = 100,
        starting_after: str | None = None,
        *,
        status: str | None = None,
        version: str | None = None,
    ) -> Page[Character]:
        return self._run(list_page_flow(self._core, limit, starting_after, status, version))

    def list(
        self, *, status: str | None = None, limit: int = 100, version: str | None = None
    ) -> Iterator[Character]:
        """Every character (deleted ones never show), newest first, page by page."""
        result: Iterator[Character] = iterate(self._client, limit, status, version)
        return result

    def update(
        self,
        id: CharacterArg,
        *,
        name: str | None = None,
        attributes: Mapping[str, Any] | None = None,
        version: str | None = None,
    ) -> Character:
        """Rename, or replace the attributes whole (they are not merged)."""
        return self._run(update_flow(self._core, id, name, attributes, version))

    def delete(self, id: CharacterArg, *, version: str | None = None) -> bool:
        return self._run(delete_flow(self._core, id, version))

    def save(self, id: CharacterArg, *, version: str | None = None) -> Character:
        """``reviewing -> ready`` (free; a ready character comes back unchanged)."""
        return self._run(save_flow(self._core, id, version))

    def resynthesize(
        self,
        id: CharacterArg,
        *,
        force_all: bool = False,
        idempotency_key: str | None = None,
        version: str | None = None,
    ) -> Character:
        """Draw the four poses again (4 generations)."""
        return self._run(resynthesize_flow(self._core, id, force_all, idempotency_key, version))

    def regenerate_ref(
        self,
        id: CharacterArg,
        *,
        pose: str,
        idempotency_key: str | None = None,
        version: str | None = None,
    ) -> Character:
        """Draw one pose again (1 generation)."""
        return self._run(regenerate_flow(self._core, id, pose, idempotency_key, version))

    def wait(
        self,
        id: CharacterArg,
        *,
        save: bool = False,
        timeout: float = 300.0,
        poll_interval: float = 2.0,
        version: str | None = None,
    ) -> Character:
        """Poll until ``reviewing``, ``ready`` or ``failed`` (check ``.status``); ``save=True``
        saves a reviewed one. WaitTimeoutError after ``timeout`` s."""
        return self._run(wait_flow(self._core, id, save, timeout, poll_interval, version))

    def download_ref(
        self, character: CharacterArg, index: int = 0, *, version: str | None = None
    ) -> bytes:
        """One reference image's bytes (``refs[index]``; the first is the cover)."""
        return self._run(download_ref_flow(self._core, character, index, version))


class AsyncCharacters(AsyncResource):
    """``client.characters`` on :class:`AsyncClient` (same methods, awaited)."""

    __slots__ = ()

    async def create(
        self,
        *,
        name: str,
        images: Sequence[FileInput],
        attributes: Mapping[str, Any] | None = None,
        classify: bool = True,
        client_reference_id: str | None = None,
        idempotency_key: str | None = None,
        version: str | None = None,
    ) -> Character:
        return await self._run(
            create_flow(
                self._core,
                name,
                images,
                attributes,
                classify,
                client_reference_id,
                idempotency_key,
                version,
            )
        )

    async def synthesize(
        self,
        *,
        name: str,
        attributes: Mapping[str, Any],
        client_reference_id: str | None = None,
        idempotency_key: str | None = None,
        version: str | None = None,
    ) -> Character:
        return await self._run(
            synthesize_flow(
                self._core, name, attributes, client_reference_id, idempotency_key, version
            )
        )

    async def get(self, id: CharacterArg, *, version: str | None = None) -> Character:
        return await self._run(get_flow(self._core, id, version))

    async def list_page(
        self,
        limit: int = 100,
        starting_after: str | None = None,
        *,
        status: str | None = None,
        version: str | None = None,
    ) -> Page[Character]:
        return await self._run(list_page_flow(self._core, limit, starting_after, status, version))

    def list(
        self, *, status: str | None = None, limit: int = 100, version: str | None = None
    ) -> AsyncIterator[Character]:
        result: AsyncIterator[Character] = iterate(self._client, limit, status, version)
        return result

    async def update(
        self,
        id: CharacterArg,
        *,
        name: str | None = None,
        attributes: Mapping[str, Any] | None = None,
        version: str | None = None,
    ) -> Character:
        return await self._run(update_flow(self._core, id, name, attributes, version))

    async def delete(self, id: CharacterArg, *, version: str | None = None) -> bool:
        return await self._run(delete_flow(self._core, id, version))

    async def save(self, id: CharacterArg, *, version: str | None = None) -> Character:
        return await self._run(save_flow(self._core, id, version))

    async def resynthesize(
        self,
        id: CharacterArg,
        *,
        force_all: bool = False,
        idempotency_key: str | None = None,
        version: str | None = None,
    ) -> Character:
        return await self._run(
            resynthesize_flow(self._core, id, force_all, idempotency_key, version)
        )

    async def regenerate_ref(
        self,
        id: CharacterArg,
        *,
        pose: str,
        idempotency_key: str | None = None,
        version: str | None = None,
    ) -> Character:
        return await self._run(regenerate_flow(self._core, id, pose, idempotency_key, version))

    async def wait(
        self,
        id: CharacterArg,
        *,
        save: bool = False,
        timeout: float = 300.0,
        poll_interval: float = 2.0,
        version: str | None = None,
    ) -> Character:
        return await self._run(wait_flow(self._core, id, save, timeout, poll_interval, version))

    async def download_ref(
        self, character: CharacterArg, index: int = 0, *, version: str | None = None
    ) -> bytes:
        return await self._run(download_ref_flow(self._core, character, index, version))

"""The one rule for showing a secret: its public prefix (``al_live_``), then ``…``; nothing else.

Every repr, log line, error, table and printed line that mentions an API key goes through
:func:`mask` (a key) or :func:`redact` (any text). Keys of unknown shape show as ``…`` alone.
Standard library only, so the client and the sandbox (which imports nothing else of the package)
share the rule instead of each keeping a copy.
"""

from __future__ import annotations

import re
import threading
import weakref
from typing import Any

__all__ = ["PREFIXES", "MaskedUrl", "Secret", "looks_like_key", "mask", "mask_url", "redact"]

#: Public prefixes: API keys (hosted, test, legacy ``og_``) and webhook signing secrets.
PREFIXES = ("al_live_", "al_test_", "og_", "whsec_")

#: A secret we do not hold but can recognise: a known prefix and a long tail.
_SHAPE = re.compile(r"\b(al_live_|al_test_|og_|whsec_)[A-Za-z0-9_\-]{16,}")
#: A signed URL's token.
_TOKEN = re.compile(r"([?&](?:token|sig|signature)=)[^&\s\"')]+", re.IGNORECASE)
#: A password in a URL (``postgresql://user:password@host``) or a connection string.
_URL_PASSWORD = re.compile(r"(\b[a-z][a-z0-9+.-]*://[^/:@\s]*:)[^@\s/]+(@)", re.IGNORECASE)
_PARAM_PASSWORD = re.compile(r"(\bpassword\s*=\s*)('[^']*'|[^&\s]+)", re.IGNORECASE)
#: Held keys shorter than this are hidden in text only where they stand alone (not inside a
#: longer word); keys shorter than ``_MIN_HELD`` are not held (they protect nothing), but still
#: never show in a repr, since those print only :func:`mask`.
_WHOLE_WORD_BELOW = 8
_MIN_HELD = 4


class _Held(tuple[str, ...]):
    """The held keys, longest first (a key that contains another is hidden whole); its repr,
    like everything else here, shows none of them."""

    def __repr__(self) -> str:
        return f"<{len(self)} held key(s)>"

    __str__ = __repr__


#: The keys of this process's live Secrets, by holder (a key is forgotten with its holder),
#: and all of them as one ``_Held``, rebuilt on each change.
_held: dict[int, weakref.ref[Secret]] = {}
_keys = _Held()
_lock = threading.Lock()
_freed: list[int] = []  # ids of keys the collector freed, dropped at the next change


def mask(key: str) -> str:
    """Enough to recognise a key (``al_live_…``), nothing of its secret part."""
    for prefix in PREFIXES:
        if key.startswith(prefix) and len(key) > len(prefix):
            return prefix + "…"
    return "…"


def redact(text: str) -> str:
    """``text`` with every held key, anything shaped like a key and every signed-URL token
    hidden."""
    text = mask_url(_TOKEN.sub(r"\1[redacted]", text))
    for key in _keys:
        if key in text:
            text = _pattern(key).sub(mask(key), text)
    return _SHAPE.sub(lambda m: m.group(1) + "…", text)


def mask_url(text: str) -> str:
    """``text`` with the password of every URL or ``password=`` setting shown as ``…``
    (``postgresql://ana:…@db/team``): where a ledger is, never how to get in."""
    return _PARAM_PASSWORD.sub(r"\1…", _URL_PASSWORD.sub(r"\1…\2", text))


def looks_like_key(text: str) -> bool:
    """Whether ``text`` holds a key: one this process holds, or anything shaped like one."""
    if _SHAPE.search(text):
        return True
    return any(key in text and _pattern(key).search(text) for key in _keys)


def _hold(holder: Secret) -> None:
    with _lock:
        _drop_freed()
        _held[id(holder)] = weakref.ref(holder)
        _rebuild()
    weakref.finalize(holder, _forget, id(holder))


def _forget(holder_id: int) -> None:
    """A key's finalizer. The collector may run it on a thread that already holds ``_lock``
    (inside :func:`_hold`), so it only queues the id unless the lock is free right now."""
    _freed.append(holder_id)
    if _lock.acquire(blocking=False):
        try:
            _drop_freed()
            _rebuild()
        finally:
            _lock.release()


def _drop_freed() -> None:
    while _freed:
        _held.pop(_freed.pop(), None)


def _rebuild() -> None:
    global _keys
    live = [ref() for ref in list(_held.values())]
    _keys = _Held(sorted({s.reveal() for s in live if s is not None}, key=len, reverse=True))


def _pattern(key: str) -> re.Pattern[str]:
    """Where a held key counts as present: anywhere, or, when short, only standing alone."""
    if len(key) >= _WHOLE_WORD_BELOW:
        return re.compile(re.escape(key))
    return re.compile(rf"(?<![A-Za-z0-9_]){re.escape(key)}(?![A-Za-z0-9_])")


class Secret:
    """Holds an API key: its repr, str and format show only :func:`mask`, it refuses to be
    pickled, and :func:`redact` hides its value in any text from then on."""

    __slots__ = ("__weakref__", "_value")

    def __init__(self, value: str) -> None:
        self._value = value
        if len(value) >= _MIN_HELD:
            _hold(self)

    def reveal(self) -> str:
        """The key itself: only for the header that carries it."""
        return self._value

    def __repr__(self) -> str:
        return repr(mask(self._value))

    def __str__(self) -> str:
        return mask(self._value)

    def __format__(self, spec: str) -> str:
        return format(str(self), spec)

    def __reduce__(self) -> Any:
        raise TypeError("the API key is not picklable")


class MaskedUrl(str):
    """A URL that may carry a password: the text itself, but its repr and str are
    :func:`mask_url`'s (for settings that are printed, such as ``%config Aurous``)."""

    __slots__ = ()

    def reveal(self) -> str:
        """The URL itself: only for the driver that connects with it."""
        return str.__str__(self)

    def __repr__(self) -> str:
        return repr(mask_url(self.reveal()))

    def __str__(self) -> str:
        return mask_url(self.reveal())

    def __format__(self, spec: str) -> str:
        return format(str(self), spec)

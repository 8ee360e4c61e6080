"""Opaque ids: a resource prefix plus a 26-character Crockford base32 ULID, as the API uses."""

from __future__ import annotations

import os
import time

_CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"


def ulid(now: float | None = None) -> str:
    """A ULID: 48 bits of milliseconds then 80 random bits, so ids sort roughly by creation."""
    ms = int((time.time() if now is None else now) * 1000) & ((1 << 48) - 1)
    value = (ms << 80) | int.from_bytes(os.urandom(10), "big")
    chars = []
    for _ in range(26):
        chars.append(_CROCKFORD[value & 31])
        value >>= 5
    return "".join(reversed(chars))


def new_id(prefix: str, now: float | None = None) -> str:
    """``prefix`` + ``_`` + ULID, e.g. ``img_01JAEM2JJXSAKRTNT69QB3DEFN``."""
    return f"{prefix}_{ulid(now)}"

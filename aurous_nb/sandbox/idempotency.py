"""Idempotency keys as in the contract's section 5: replay a 2xx, 409 on any mismatch or overlap.

Only 2xx responses are kept (a 4xx or 5xx is re-evaluated on retry). Keys live 24 h per team, and
a key belongs to the route it was first used on.
"""

from __future__ import annotations

import hashlib
import json
import time
from dataclasses import dataclass, field
from typing import Any

from aurous_nb.sandbox.errors import ApiError, bad_request

WINDOW_S = 24 * 3600.0
HEADERS = ("idempotency-key", "aurous-idempotent-key")


def canonical(value: Any) -> str:
    """Canonical JSON: sorted keys, no spaces, so key order and whitespace never matter."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def fingerprint(value: Any) -> str:
    return hashlib.sha256(canonical(value).encode()).hexdigest()


def key_from_headers(headers: Any) -> str | None:
    """The request's key (either header name); 400 ``invalid_format`` unless 1..256 characters."""
    for name in HEADERS:
        value = headers.get(name)
        if value is not None:
            if not 1 <= len(value) <= 256:
                raise bad_request(
                    "invalid_format",
                    "Idempotency-Key must be between 1 and 256 characters.",
                    param="Idempotency-Key",
                )
            return str(value)
    return None


@dataclass
class Record:
    """One key's use: where, with what, and (once answered with a 2xx) the answer."""

    route: str
    fingerprint: str
    created: float = field(default_factory=time.time)
    status: int | None = None
    body: bytes = b""
    media_type: str = "application/json"

    @property
    def in_flight(self) -> bool:
        return self.status is None


def _conflict(message: str) -> ApiError:
    return ApiError(409, "idempotency_key_in_use", message, param="Idempotency-Key")


class IdempotencyStore:
    """The team's keys. ``begin`` either reserves a key or says what to do instead."""

    def __init__(self) -> None:
        self._records: dict[str, Record] = {}

    def begin(self, key: str, route: str, body: Any) -> Record | None:
        """Reserve ``key`` for this request, or return the stored record to replay.

        Raises 409 ``idempotency_key_in_use`` when the key is in flight, or was used with another
        body or on another route.
        """
        now = time.time()
        record = self._records.get(key)
        if record is not None and now - record.created > WINDOW_S:
            record = None
        digest = fingerprint(body)
        if record is None:
            self._records[key] = Record(route, digest, now)
            return None
        if record.route != route:
            raise _conflict("This Idempotency-Key was already used on another route.")
        if record.fingerprint != digest:
            raise _conflict("This Idempotency-Key was already used with a different body.")
        if record.in_flight:
            raise _conflict("A request with this Idempotency-Key is still being processed.")
        return record

    def finish(self, key: str, status: int, body: bytes, media_type: str) -> None:
        """Keep a 2xx answer for replay; forget the key after anything else."""
        record = self._records.get(key)
        if record is None:
            return
        if 200 <= status < 300:
            record.status, record.body, record.media_type = status, body, media_type
        else:
            del self._records[key]

    def abandon(self, key: str) -> None:
        """Forget a reserved key whose request ended in an error."""
        record = self._records.get(key)
        if record is not None and record.in_flight:
            del self._records[key]

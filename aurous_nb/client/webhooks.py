"""Verify (and, for tests and local receivers, sign) Aurous webhook deliveries.

Header ``Aurous-Webhook-Signature: t=<unix seconds>,v1=<hex>[,v1=<hex>...]``; the signature is
HMAC-SHA256 keyed with the whole ``whsec_...`` secret over ``f"{t}.{raw_body}"``. Any one
matching ``v1`` is enough (two appear during a secret rotation); comparison is constant-time.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from collections.abc import Sequence

from aurous_nb.client.errors import AurousError
from aurous_nb.client.models import Event

__all__ = [
    "SIGNATURE_HEADER",
    "InvalidSignatureError",
    "MalformedSignatureHeaderError",
    "TimestampOutOfToleranceError",
    "WebhookVerificationError",
    "compute_signature",
    "sign",
    "verify",
]

SIGNATURE_HEADER = "Aurous-Webhook-Signature"
DEFAULT_TOLERANCE = 300


class WebhookVerificationError(AurousError, ValueError):
    """A delivery could not be trusted; never act on its body."""

    def __init__(self, message: str, code: str) -> None:
        super().__init__(message, code=code)


class MalformedSignatureHeaderError(WebhookVerificationError):
    """The signature header is missing or not ``t=...,v1=...``."""

    def __init__(self, message: str) -> None:
        super().__init__(message, "malformed_signature_header")


class InvalidSignatureError(WebhookVerificationError):
    """No ``v1`` signature matches the body under any of the given secrets."""

    def __init__(self, message: str) -> None:
        super().__init__(message, "invalid_signature")


class TimestampOutOfToleranceError(WebhookVerificationError):
    """The signature is genuine but its timestamp is too old (a replay?) or in the future."""

    def __init__(self, message: str, age: float) -> None:
        super().__init__(message, "timestamp_out_of_tolerance")
        self.age = age


def _bytes(payload: bytes | str) -> bytes:
    return payload.encode("utf-8") if isinstance(payload, str) else bytes(payload)


def compute_signature(payload: bytes | str, secret: str, timestamp: int) -> str:
    """Lowercase hex HMAC-SHA256 of ``f"{timestamp}.{payload}"`` keyed with ``secret``."""
    message = str(int(timestamp)).encode() + b"." + _bytes(payload)
    return hmac.new(secret.encode("utf-8"), message, hashlib.sha256).hexdigest()


def sign(payload: bytes | str, secret: str | Sequence[str], timestamp: int | None = None) -> str:
    """The header value a sender would attach (one ``v1`` per secret)."""
    t = int(time.time()) if timestamp is None else int(timestamp)
    secrets = [secret] if isinstance(secret, str) else list(secret)
    return ",".join([f"t={t}", *(f"v1={compute_signature(payload, s, t)}" for s in secrets)])


def parse_header(header: str | None) -> tuple[int, list[str]]:
    if not header or not isinstance(header, str):
        raise MalformedSignatureHeaderError(f"missing {SIGNATURE_HEADER} header")
    timestamp: int | None = None
    signatures: list[str] = []
    for part in header.split(","):
        key, sep, value = part.strip().partition("=")
        if not sep:
            raise MalformedSignatureHeaderError(f"{SIGNATURE_HEADER}: bad element {part.strip()!r}")
        if key == "t":
            if not (value.isascii() and value.isdigit()):  # "²".isdigit(), but int() fails
                raise MalformedSignatureHeaderError(f"{SIGNATURE_HEADER}: t is not unix seconds")
            timestamp = int(value)
        elif key == "v1":
            signatures.append(value.strip().lower())
    if timestamp is None:
        raise MalformedSignatureHeaderError(f"{SIGNATURE_HEADER}: no t= timestamp")
    if not signatures:
        raise MalformedSignatureHeaderError(f"{SIGNATURE_HEADER}: no v1= signature")
    return timestamp, signatures


def verify(
    raw_body: bytes | str,
    signature_header: str,
    secret: str | Sequence[str],
    tolerance: float = DEFAULT_TOLERANCE,
    now: float | None = None,
) -> Event:
    """Check a delivery and return its event.

    Pass the body exactly as received (not re-serialised JSON). ``secret`` may be several
    secrets (old and new during a rotation). Raises MalformedSignatureHeaderError,
    InvalidSignatureError or TimestampOutOfToleranceError.
    """
    timestamp, signatures = parse_header(signature_header)
    secrets = [secret] if isinstance(secret, str) else list(secret)
    if not secrets or not all(isinstance(s, str) and s for s in secrets):
        raise ValueError("verify() needs at least one non-empty secret")
    body = _bytes(raw_body)
    expected = [compute_signature(body, s, timestamp) for s in secrets]
    matched = False
    for sig in signatures:
        for exp in expected:
            matched |= hmac.compare_digest(sig.encode(), exp.encode())
    if not matched:
        raise InvalidSignatureError("webhook signature does not match (wrong secret or body)")
    age = (time.time() if now is None else now) - timestamp
    if abs(age) > tolerance:
        when = "old" if age > 0 else "in the future"
        raise TimestampOutOfToleranceError(
            f"webhook timestamp is {abs(age):.0f}s {when} (tolerance {tolerance:g}s)", age
        )
    try:
        data = json.loads(body)
    except ValueError:
        raise WebhookVerificationError("webhook body is not JSON", "malformed_body") from None
    if not isinstance(data, dict):
        raise WebhookVerificationError("webhook body is not a JSON object", "malformed_body")
    return Event.from_json(data)

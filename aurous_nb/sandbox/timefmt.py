"""Timestamps as the API writes and reads them: RFC 3339 UTC with a ``Z``."""

from __future__ import annotations

from datetime import datetime, timezone


def iso(ts: float, millis: bool = False) -> str:
    """``2026-05-04T10:00:00Z`` (or ``...00.000Z`` with ``millis``)."""
    dt = datetime.fromtimestamp(ts, tz=timezone.utc)
    if millis:
        return dt.strftime("%Y-%m-%dT%H:%M:%S.") + f"{dt.microsecond // 1000:03d}Z"
    return dt.strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_iso(text: str) -> float | None:
    """Epoch seconds from an RFC 3339 timestamp (``Z`` or an offset); None when unreadable."""
    try:
        dt = datetime.fromisoformat(text.strip().replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        return None
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=timezone.utc)
    return dt.timestamp()

"""The one parser of API timestamps (shared by the client's models and the ledger's columns), and
of the times people write (``since="7d"``, shared by frames, reports and ledger exports).

Standard library only, below the client (like ``secret``), so the ledger reads times without
importing httpx.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone
from typing import Any

__all__ = ["TIME_FORMS", "TimeLike", "epoch", "parse_datetime"]

TimeLike = datetime | date | str | float | int | timedelta | None


def parse_datetime(value: Any) -> datetime | None:
    """RFC 3339 text (``...Z`` or an offset) -> aware datetime; naive text is taken as UTC."""
    if not isinstance(value, str) or not value:
        return None
    text = value[:-1] + "+00:00" if value.endswith(("Z", "z")) else value
    try:
        dt = datetime.fromisoformat(text)
    except ValueError:
        return None
    return dt if dt.tzinfo is not None else dt.replace(tzinfo=timezone.utc)


TIME_FORMS = (
    "an age like 30s, 15m, 1h, 7d or 2w, or a date or time like 2026-11-01 or 2026-11-01T09:30:00Z"
)


def epoch(value: TimeLike, now: float | None = None) -> float | None:
    """``since``/``until`` as epoch seconds: datetimes, dates, ISO text, ``"7d"``-style ages.

    Raises ``ValueError`` naming :data:`TIME_FORMS` for anything else."""
    if value is None:
        return None
    import time

    now = time.time() if now is None else now
    if isinstance(value, timedelta):
        return now - value.total_seconds()
    if isinstance(value, datetime):
        moment = value if value.tzinfo else value.replace(tzinfo=timezone.utc)
        return moment.timestamp()
    if isinstance(value, date):
        return datetime(value.year, value.month, value.day, tzinfo=timezone.utc).timestamp()
    if isinstance(value, (int, float)):
        return float(value)
    text = str(value).strip()
    units = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}
    if text[:-1].replace(".", "", 1).isdigit() and text[-1:] in units:
        parsed: float | None = now - float(text[:-1]) * units[text[-1]]
    else:
        read = parse_datetime(text)
        parsed = None if read is None else read.timestamp()
    if parsed is None or not _representable(parsed):
        raise ValueError(f"{value!r} is not a time; use {TIME_FORMS}")
    return parsed


def _representable(epoch: float) -> bool:
    """Whether a datetime can hold it (an age of 10**14 days cannot)."""
    try:
        datetime.fromtimestamp(epoch, tz=timezone.utc)
    except (OverflowError, OSError, ValueError):
        return False
    return True

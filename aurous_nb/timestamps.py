"""The one parser of API timestamps, shared by the client's models and the ledger's columns.

Standard library only, below the client (like ``secret``), so the ledger reads times without
importing httpx.
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

__all__ = ["parse_datetime"]


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

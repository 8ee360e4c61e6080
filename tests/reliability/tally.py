"""How many bad inputs the property-based tests tried, by kind (reported by ``make soak``).

``conftest.py`` appends the tally to ``$AUROUS_BAD_INPUT_COUNT_FILE`` (one JSON line per
session) when that variable is set.
"""

from __future__ import annotations

TRIED: dict[str, int] = {}


def count(kind: str) -> None:
    TRIED[kind] = TRIED.get(kind, 0) + 1

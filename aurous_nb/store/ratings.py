"""Ratings: a person's 1-5 stars (or a rejection) on a generation, kept in the ledger.

A grid of 24 cells is only useful once the good ones are picked out. A rating lives in the
ledger's ``ratings`` table (so it survives restarts and shows in :func:`aurous_nb.frames.history`
as the ``rating`` column: 1-5, 0 for rejected, missing when unrated), keyed by the generation,
so the grid, the panel, the gallery and code all read and write the same one.
"""

from __future__ import annotations

from typing import Any

from aurous_nb.store.ledger import Ledger, ledger_or_default

__all__ = ["REJECTED", "rate", "rating", "stars_text", "stars_value"]

REJECTED = 0  # how a rejection is stored (and shown in history's ``rating`` column)


def stars_value(stars: Any) -> int | None:
    """``1``-``5``, ``"reject"`` (or ``0``, ``False``) as the stored number; ``None`` clears."""
    if stars is None:
        return None
    if stars is False or (
        isinstance(stars, str) and stars.strip().lower() in ("reject", "rejected")
    ):
        return REJECTED
    if isinstance(stars, bool) or not isinstance(stars, int) or not 0 <= stars <= 5:
        raise ValueError(f"stars: {stars!r} is not 1 to 5 (or 'reject', or None to clear)")
    return stars


def _generation_id(ref: Any) -> str:
    for attr in ("generation_id", "id"):
        value = getattr(ref, attr, None)
        if isinstance(value, str) and value:
            return value
    if isinstance(ref, str) and ref:
        return ref
    raise TypeError(f"rate: give a generation id (or a generation, job or view), not {ref!r}")


def rate(generation: Any, stars: Any, *, ledger: Ledger | None = None) -> int | None:
    """Rate a generation (an id, a ``Generation``, a batch ``Job``, a view): ``rate(id, 4)``,
    ``rate(id, "reject")``, ``rate(id, None)`` to clear. Returns the stored value.

    Raises ``LookupError`` for a generation the ledger does not know (rate what you made)."""
    value = stars_value(stars)
    ledger = ledger_or_default(ledger)
    gen_id = _generation_id(generation)
    record = ledger.find(gen_id)
    if record is None:
        raise LookupError(f"rate: {gen_id!r} is not in the ledger")
    ledger.set_rating(record.env, gen_id, value)
    return value


def rating(generation: Any, *, ledger: Ledger | None = None) -> int | None:
    """The stored rating (1-5, 0 for rejected) or ``None``."""
    ledger = ledger_or_default(ledger)
    gen_id = _generation_id(generation)
    record = ledger.find(gen_id)
    if record is None:
        return None
    return ledger.ratings(record.env, [gen_id]).get(gen_id)


def stars_text(value: int | None) -> str:
    """``★★★★☆``, ``rejected`` or ``""`` for a stored rating."""
    if value is None:
        return ""
    if value == REJECTED:
        return "rejected"
    return "★" * value + "☆" * (5 - value)

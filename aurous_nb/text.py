"""How amounts, times and missing values are written for people, in one place (widgets,
magics, displays, errors).

``credits(1)`` is ``"1 credit"``, ``credits(2.5)`` is ``"2.5 credits"``, ``credits(1000.0)`` is
``"1000 credits"``: at most four decimals, never a trailing ``.0``, and no exponent notation (which
``format(x, "g")`` falls into from a million up). Times are UTC: ``clock(t)`` is
``"14:54:21 UTC"``, ``moment(t)`` is ``"2026-11-29 14:54:21 UTC"``.
"""

from __future__ import annotations

__all__ = ["NO_LORA", "UNKNOWN", "clock", "credits", "held", "moment", "number", "plural"]

#: The one placeholder for a value that is missing or not known yet, wherever one is shown.
UNKNOWN = "—"
#: The one name of the no-LoRA bucket: no style was asked for, so the platform picks one from
#: the prompt (or none). Used by the panel's LoRA list, grids, cards, tables and reports alike.
NO_LORA = "(platform's choice)"


def number(amount: float | None) -> str:
    """A credit amount without unit: ``12``, ``2.5``, ``0.125``, ``1000``; ``—`` when unknown."""
    if amount is None or amount != amount:  # None or NaN
        return UNKNOWN
    text = f"{float(amount):.4f}".rstrip("0").rstrip(".")
    return "0" if text == "-0" else text


def plural(count: float | None, word: str, words: str | None = None) -> str:
    """``word`` when ``count`` reads as exactly one, else ``words`` (default ``word + "s"``)."""
    one = count is not None and number(abs(count)) == "1"
    return word if one else (words or word + "s")


def credits(amount: float | None) -> str:
    """``1 credit``, ``2.5 credits``, ``0 credits``, ``— credits`` when unknown."""
    return f"{number(amount)} {plural(amount, 'credit')}"


def held(amount: float | None) -> str:
    """``0 held``, ``2.5 held``: credits reserved by running jobs, as the panel words it."""
    return f"{number(amount)} held"


def _utc(epoch: float | None, pattern: str) -> str:
    from datetime import datetime, timezone

    if epoch is None or epoch != epoch:
        return UNKNOWN
    return datetime.fromtimestamp(float(epoch), tz=timezone.utc).strftime(pattern)


def clock(epoch: float | None) -> str:
    """A time of day in UTC, to the second: ``14:54:21 UTC`` (``—`` when unknown)."""
    return _utc(epoch, "%H:%M:%S UTC")


def moment(epoch: float | None) -> str:
    """A date and time in UTC: ``2026-11-29 14:54:21 UTC`` (``—`` when unknown)."""
    return _utc(epoch, "%Y-%m-%d %H:%M:%S UTC")

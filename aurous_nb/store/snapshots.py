"""Read the rate card and the balance through a client, and keep each reading in the ledger.

The API keeps no history of either: a price change or a balance trend is visible later only if
every reading was kept. Magics, widgets and reports read them through here. A ledger that cannot
be used costs the record, not the reading: a :class:`LedgerWarning` says it was not recorded.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from typing import Any

from aurous_nb.config import env_for
from aurous_nb.store.ledger import Ledger, LedgerError, LedgerWarning, ledger_or_default

__all__ = ["abalance", "apricing", "balance", "keep", "pricing"]

# A ledger, a way to open one (opening may fail), or None for the default ledger.
LedgerSource = Ledger | Callable[[], Ledger] | None


def keep(ledger: LedgerSource, write: Callable[[Ledger], object]) -> None:
    """Write a reading to the ledger; when the ledger cannot be used, warn and go on."""
    try:
        write(ledger() if callable(ledger) else ledger_or_default(ledger))
    except LedgerError as exc:
        warnings.warn(
            LedgerWarning(f"{exc.message}: this reading was not recorded. {exc.advice}"),
            stacklevel=3,
        )


def pricing(client: Any, ledger: LedgerSource = None, *, version: str | None = None) -> Any:
    """``client.pricing()`` (for ``version`` when given), stored with its version and time."""
    card = client.pricing(version=version) if version else client.pricing()
    keep(ledger, lambda kept: kept.record_pricing(env_for(str(client.base_url)), card))
    return card


def balance(client: Any, ledger: LedgerSource = None) -> Any:
    """``client.balance()``, stored as a balance snapshot."""
    reading = client.balance()
    keep(ledger, lambda kept: kept.record_balance(env_for(str(client.base_url)), reading))
    return reading


async def apricing(client: Any, ledger: LedgerSource = None, *, version: str | None = None) -> Any:
    """:func:`pricing` for an ``AsyncClient``."""
    card = await (client.pricing(version=version) if version else client.pricing())
    keep(ledger, lambda kept: kept.record_pricing(env_for(str(client.base_url)), card))
    return card


async def abalance(client: Any, ledger: LedgerSource = None) -> Any:
    """:func:`balance` for an ``AsyncClient``."""
    reading = await client.balance()
    keep(ledger, lambda kept: kept.record_balance(env_for(str(client.base_url)), reading))
    return reading

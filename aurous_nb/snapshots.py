"""Read the rate card and the balance through a client, and keep each reading in the ledger.

The API keeps no history of either: a price change or a balance trend is visible later only if
every reading was kept. Magics, widgets and reports read them through here.
"""

from __future__ import annotations

from typing import Any

from aurous_nb.config import env_for
from aurous_nb.ledger import Ledger, ledger_or_default

__all__ = ["abalance", "apricing", "balance", "pricing"]


def pricing(client: Any, ledger: Ledger | None = None, *, version: str | None = None) -> Any:
    """``client.pricing()`` (for ``version`` when given), stored with its version and time."""
    card = client.pricing(version=version) if version else client.pricing()
    ledger_or_default(ledger).record_pricing(env_for(str(client.base_url)), card)
    return card


def balance(client: Any, ledger: Ledger | None = None) -> Any:
    """``client.balance()``, stored as a balance snapshot."""
    reading = client.balance()
    ledger_or_default(ledger).record_balance(env_for(str(client.base_url)), reading)
    return reading


async def apricing(client: Any, ledger: Ledger | None = None, *, version: str | None = None) -> Any:
    """:func:`pricing` for an ``AsyncClient``."""
    card = await (client.pricing(version=version) if version else client.pricing())
    ledger_or_default(ledger).record_pricing(env_for(str(client.base_url)), card)
    return card


async def abalance(client: Any, ledger: Ledger | None = None) -> Any:
    """:func:`balance` for an ``AsyncClient``."""
    reading = await client.balance()
    ledger_or_default(ledger).record_balance(env_for(str(client.base_url)), reading)
    return reading

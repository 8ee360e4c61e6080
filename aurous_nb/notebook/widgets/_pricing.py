"""Live cost estimates for widgets, without a burst of API calls while someone types.

The rate card prices what its formula covers exactly (:func:`aurous_nb.work.quote.card_price`, the
same rule the batch engine uses); the card is fetched once per environment. Anything else goes to
the estimate endpoint once per price shape (prompt text and seed do not change the price), and when
the ``estimate_post`` bucket runs low or answers 429 the panel shows "no price yet" instead of
spending the tokens a batch needs.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

__all__ = ["Quote", "forget", "quote"]

# Leave this many estimate tokens for everything else (the batch engine prices grids with them).
RESERVE = 10
_QUOTES: dict[tuple[str, str], float] = {}
_CARDS: dict[str, Any] = {}


@dataclass(frozen=True)
class Quote:
    amount: float
    source: str  # "card" or "estimate"

    def __str__(self) -> str:
        from aurous_nb.text import credits

        return credits(self.amount)


class EstimateDeferred(RuntimeError):
    """The estimate bucket is nearly empty; try again in a moment."""


def forget() -> None:
    """Drop cached cards and estimates (a new pricing version, or tests)."""
    _QUOTES.clear()
    _CARDS.clear()


async def card(session: Any, *, refresh: bool = False) -> Any:
    """The rate card of the session's environment (kept in the ledger's pricing history)."""
    env = str(session.env)
    if refresh or env not in _CARDS:
        from aurous_nb.store import snapshots

        _CARDS[env] = await snapshots.apricing(session.aclient, lambda: session.ledger)
    return _CARDS[env]


def _bucket_low(session: Any) -> bool:
    bucket = session.aclient.rate_limits.get("estimate_post")
    return bucket is not None and bucket.remaining < RESERVE


async def quote(session: Any, request: Mapping[str, Any], media_type: str = "image") -> Quote:
    """The price of one create request."""
    from aurous_nb.client import RateLimitError
    from aurous_nb.work.quote import card_price
    from aurous_nb.work.spec import JobSpec

    body = dict(request)
    if media_type == "image":
        body["prompt"] = body.get("prompt") or "estimate"  # the words do not change the price
    spec = JobSpec(media_type, body)
    amount = card_price(spec, await card(session))
    if amount is not None:
        return Quote(amount, "card")
    key = (str(session.env), spec.price_shape())
    if key not in _QUOTES:
        if _bucket_low(session):
            raise EstimateDeferred("estimate rate limit nearly reached; retrying shortly")
        resource = session.aclient.images if media_type == "image" else session.aclient.videos
        body.pop("seed", None)
        try:
            estimate = await resource.estimate(**body)
        except RateLimitError as exc:
            raise EstimateDeferred("estimate rate limited; retrying shortly") from exc
        _QUOTES[key] = float(estimate.amount)
    return Quote(_QUOTES[key], "estimate")

"""What a batch will cost, known before anything is spent.

Prices come from the rate card wherever its formula is exact (images: base x count, times the
enhance multiplier; videos with an explicit resolution and no enhance), and from the estimate
endpoint otherwise -- once per distinct price shape, never once per job, since a 200-cell grid
usually has two or three shapes. :func:`check` refuses a batch past its budget or past the
available balance and says by how much.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from aurous_nb.work.caps import BudgetExceededError
from aurous_nb.work.spec import JobSpec

__all__ = ["BudgetExceededError", "Quote", "card_price", "check", "quote"]


@dataclass(frozen=True)
class Quote:
    """The price of each job (in the order given) and how it was found."""

    amounts: tuple[float, ...]
    methods: tuple[str, ...]  # "card" or "estimate" per job
    estimate_calls: int
    card_version: str | None
    available_credits: float | None = None
    extra: dict[str, Any] = field(default_factory=dict, repr=False)

    @property
    def total(self) -> float:
        return round(sum(self.amounts), 4)

    def __repr__(self) -> str:
        card = sum(m == "card" for m in self.methods)
        return (
            f"<Quote total={self.total:g} jobs={len(self.amounts)} from_card={card} "
            f"estimate_calls={self.estimate_calls}>"
        )


def card_price(spec: JobSpec, card: Any) -> float | None:
    """The rate card's price for ``spec`` when its formula is exact, else None."""
    r = spec.request
    if spec.media_type == "image":
        img = card.image
        count = int(r.get("count") or 1)
        refs = len(r.get("reference_image_urls") or r.get("reference_images") or ())
        base = img.base * count + img.reference_image_per_image * refs * count
        factor = img.enhance_prompt_multiplier if r.get("enhance_prompt") else 1.0
        return round(float(base * factor), 4)
    # Videos: the default resolution is the LoRA's, and what enhance adds is not documented.
    resolution = r.get("resolution")
    factors = card.video.resolution_factor
    if not resolution or resolution not in factors or r.get("enhance_prompt"):
        return None
    duration = int(r.get("duration") or 5)
    return round(float(card.video.base_per_second * factors[resolution] * duration), 4)


async def quote(client: Any, specs: Sequence[JobSpec], *, balance: bool = True) -> Quote:
    """Price ``specs``: one ``GET /v1/pricing``, one estimate per shape the card cannot price,
    and (with ``balance``) one ``GET /v1/balance``."""
    card_task = asyncio.ensure_future(client.pricing())
    balance_task = asyncio.ensure_future(client.balance()) if balance else None
    try:
        card = await card_task
    except BaseException:
        if balance_task is not None:
            balance_task.cancel()
        raise
    amounts: list[float | None] = [card_price(s, card) for s in specs]
    shapes: dict[str, JobSpec] = {}
    for spec, amount in zip(specs, amounts, strict=True):
        if amount is None:
            shapes.setdefault(spec.price_shape(), spec)
    estimates = await asyncio.gather(*(_estimate(client, s) for s in shapes.values()))
    by_shape = dict(zip(shapes, estimates, strict=True))
    methods = []
    for i, spec in enumerate(specs):
        if amounts[i] is None:
            amounts[i] = by_shape[spec.price_shape()]
            methods.append("estimate")
        else:
            methods.append("card")
    available = None
    if balance_task is not None:
        bal = await balance_task
        if getattr(bal, "billing_mode", None) != "exempt":  # exempt teams are never blocked
            available = float(bal.available_credits)
    return Quote(
        amounts=tuple(float(a or 0.0) for a in amounts),
        methods=tuple(methods),
        estimate_calls=len(shapes),
        card_version=getattr(card, "version", None),
        available_credits=available,
        extra={"card": card},
    )


async def _estimate(client: Any, spec: JobSpec) -> float:
    request = dict(spec.request)
    request.pop("webhook_url", None)
    if spec.media_type == "image":
        est = await client.images.estimate(**request)
    else:
        est = await client.videos.estimate(**request)
    return float(est.amount)


def check(
    needed: float,
    *,
    budget: float | None = None,
    available: float | None = None,
    committed: float = 0.0,
) -> None:
    """Raise :class:`BudgetExceededError` when ``needed`` (plus what the batch already
    ``committed``) passes the budget, or ``needed`` passes the available balance."""
    if budget is not None and needed + committed > budget + 1e-9:
        raise BudgetExceededError(round(needed + committed, 4), budget, "budget")
    if available is not None and needed > available + 1e-9:
        raise BudgetExceededError(round(needed, 4), available, "available balance")

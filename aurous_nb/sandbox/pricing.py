"""Dated rate cards (one per ``Aurous-Version``) and the cost of a request under one of them.

Prices are frozen per version, so a team pinned to an older date keeps the older prices. The
``2026-05-15`` card is the contract's (section 2.14); the others exist to exercise pricing history.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

DEFAULT_VERSION = "2026-05-15"

DESCRIPTION = (
    "Baseline rate card per Aurous-Version. Per-team negotiated rates may differ; call "
    "POST /v1/images/estimate or POST /v1/videos/estimate for the exact pre-charge amount."
)


@dataclass(frozen=True)
class RateCard:
    """The prices a version ships with."""

    version: str
    image_base: float
    enhance_prompt_multiplier: float
    reference_image_per_image: float
    video_base_per_second: float
    resolution_factor: dict[str, float]

    def to_json(self) -> dict[str, Any]:
        return {
            "object": "pricing",
            "version": self.version,
            "currency": "credit",
            "description": DESCRIPTION,
            "image": {
                "base": num(self.image_base),
                "enhance_prompt_multiplier": num(self.enhance_prompt_multiplier),
                "reference_image_per_image": num(self.reference_image_per_image),
            },
            "video": {
                "base_per_second": num(self.video_base_per_second),
                "resolution_factor": {k: num(v) for k, v in self.resolution_factor.items()},
            },
        }


CARDS: dict[str, RateCard] = {
    card.version: card
    for card in (
        RateCard("2026-01-15", 1.5, 1.5, 0.0, 0.75, {"480p": 1.0, "720p": 1.5, "1080p": 2.0}),
        RateCard("2026-05-15", 1.0, 2.0, 0.0, 0.5, {"480p": 1.0, "720p": 1.5, "1080p": 2.5}),
        RateCard("2026-09-01", 0.8, 2.0, 0.0, 0.4, {"480p": 1.0, "720p": 1.5, "1080p": 2.5}),
    )
}

KNOWN_VERSIONS: tuple[str, ...] = tuple(sorted(CARDS))


def num(value: float) -> float | int:
    """A money amount as JSON wants it: integral values as ints, others rounded to 4 places."""
    rounded = round(value, 4)
    return int(rounded) if rounded == int(rounded) else rounded


@dataclass(frozen=True)
class Cost:
    """An amount with its breakdown (``base`` and, with enhance, ``enhance``)."""

    base: float
    enhance: float | None = None

    @property
    def amount(self) -> float:
        return round(self.base + (self.enhance or 0.0), 4)

    def breakdown(self) -> dict[str, float | int]:
        out: dict[str, float | int] = {"base": num(self.base)}
        if self.enhance is not None:
            out["enhance"] = num(self.enhance)
        return out

    def to_json(self, amount: float | None = None) -> dict[str, Any]:
        """The ``cost`` echo; ``amount`` overrides the total (held, charged or 0)."""
        total = self.amount if amount is None else amount
        return {"amount": num(total), "currency": "credit", "breakdown": self.breakdown()}

    def estimate_json(self) -> dict[str, Any]:
        return {
            "object": "estimate",
            "estimated_cost": {"amount": num(self.amount), "breakdown": self.breakdown()},
            "currency": "credit",
        }


def image_cost(card: RateCard, *, count: int, enhance: bool, references: int = 0) -> Cost:
    """``base x count`` (plus free-by-default references); enhance multiplies the total."""
    base = card.image_base * count + card.reference_image_per_image * references * count
    if not enhance:
        return Cost(base)
    return Cost(base, base * (card.enhance_prompt_multiplier - 1.0))


def video_cost(card: RateCard, *, resolution: str, duration: int, enhance: bool) -> Cost:
    """``base_per_second x resolution_factor x duration``; enhance adds the same again."""
    base = card.video_base_per_second * card.resolution_factor[resolution] * duration
    return Cost(base, base if enhance else None)

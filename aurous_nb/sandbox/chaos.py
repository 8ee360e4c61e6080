"""Fault injection for reliability tests: a seeded fraction of ``/v1`` requests misbehave.

Faults, picked uniformly: 500 or 503 or 429 before any work is done; the response dropped after
the work was done (the connection closes mid-response); or the response delayed after the work.
"""

from __future__ import annotations

import random
from typing import Any

#: faults answered before the app runs: kind -> (status, code, message)
EARLY: dict[str, tuple[int, str, str]] = {
    "internal_error": (500, "internal_error", "Injected fault: internal error."),
    "provider_unavailable": (503, "provider_unavailable", "Injected fault: provider unavailable."),
    "too_many_requests": (
        429,
        "too_many_requests",
        "Injected fault: rate limited. Retry after 1s.",
    ),
}
LATE = ("drop", "delay")
KINDS: tuple[str, ...] = (*EARLY, *LATE)


class DropConnection(Exception):
    """Raised after a response was started on purpose; uvicorn then closes the socket."""


class Chaos:
    """Decides which requests fail, repeatably for a given seed, and counts what it did."""

    def __init__(self, rate: float, delay: float, seed: int) -> None:
        self.rate = max(0.0, min(rate, 1.0))
        self.delay = max(0.0, delay)
        self._rng = random.Random(f"chaos:{seed}")
        self.counts: dict[str, int] = dict.fromkeys(KINDS, 0)
        self.requests = 0

    def pick(self) -> str | None:
        """The fault for this request, or None (most of the time)."""
        self.requests += 1
        if self.rate <= 0.0 or self._rng.random() >= self.rate:
            return None
        kind = self._rng.choice(KINDS)
        self.counts[kind] += 1
        return kind

    def to_json(self) -> dict[str, Any]:
        return {
            "rate": self.rate,
            "delay_s": self.delay,
            "requests_seen": self.requests,
            "injected": dict(self.counts),
            "injected_total": sum(self.counts.values()),
        }

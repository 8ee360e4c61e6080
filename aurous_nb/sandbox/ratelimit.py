"""Per-team token buckets, one per endpoint class, as in the contract's section 6."""

from __future__ import annotations

import math
import re
import time
from dataclasses import dataclass, field

#: bucket name -> (burst capacity, sustained tokens per minute)
BUCKETS: dict[str, tuple[int, float]] = {
    "images_post": (120, 60.0),
    "read": (1200, 600.0),
    "estimate_post": (240, 120.0),
    "files": (60, 30.0),
    "webhook_endpoints": (10, 10.0),
    "webhooks_test": (30, 30.0),
    "characters_post": (60, 30.0),
    "characters_get": (240, 120.0),
    "characters_synthesize": (12, 6.0),
}

_CANCEL = re.compile(r"^/v1/images/[^/]+/cancel$")
_WEBHOOK_TEST = re.compile(r"^/v1/webhook_endpoints/[^/]+/test$")
_CHARACTER_PAID = re.compile(r"^/v1/characters/[^/]+/(resynthesize|refs/regenerate)$")
#: POST /v1/characters draws from ``characters_post`` (uploads) or ``characters_synthesize``
#: (generate): only its body says which, so the route draws, not the gate
CHOSEN_BY_ROUTE = (("POST", "/v1/characters"),)


def bucket_for(method: str, path: str) -> str:
    """Which bucket a request draws from; unknown writes fall back to ``read``."""
    if path == "/v1/characters" or path.startswith("/v1/characters/"):
        if method in ("GET", "HEAD", "OPTIONS"):
            return "characters_get"
        return "characters_synthesize" if _CHARACTER_PAID.match(path) else "characters_post"
    if method in ("GET", "HEAD", "OPTIONS"):
        return "read"
    if path in ("/v1/images", "/v1/videos") or _CANCEL.match(path):
        return "images_post"
    if path in ("/v1/images/estimate", "/v1/videos/estimate"):
        return "estimate_post"
    if path.startswith("/v1/files"):
        return "files"
    if _WEBHOOK_TEST.match(path):
        return "webhooks_test"
    if path.startswith("/v1/webhook_endpoints"):
        return "webhook_endpoints"
    return "read"


@dataclass
class Verdict:
    """The outcome of one draw, with the values of the ``X-RateLimit-*`` headers."""

    allowed: bool
    limit: int
    remaining: int
    reset: int
    retry_after: int

    def headers(self) -> list[tuple[bytes, bytes]]:
        out = [
            (b"x-ratelimit-limit", str(self.limit).encode()),
            (b"x-ratelimit-remaining", str(self.remaining).encode()),
            (b"x-ratelimit-reset", str(self.reset).encode()),
        ]
        if not self.allowed:
            out.append((b"retry-after", str(self.retry_after).encode()))
        return out


@dataclass
class Bucket:
    """A token bucket; ``time_factor`` speeds up the refill for tests and demos."""

    capacity: int
    per_second: float
    tokens: float = field(init=False)
    stamp: float = field(default_factory=time.monotonic)

    def __post_init__(self) -> None:
        self.tokens = float(self.capacity)

    def _refill(self, now: float) -> None:
        self.tokens = min(self.capacity, self.tokens + (now - self.stamp) * self.per_second)
        self.stamp = now

    def draw(self, take: bool = True) -> Verdict:
        now = time.monotonic()
        self._refill(now)
        allowed = self.tokens >= 1.0
        if allowed and take:
            self.tokens -= 1.0
        missing = self.capacity - self.tokens
        reset = math.ceil(time.time() + missing / self.per_second)
        retry = 0 if allowed else max(1, math.ceil((1.0 - self.tokens) / self.per_second))
        return Verdict(allowed, self.capacity, int(self.tokens), reset, retry)


class RateLimiter:
    """All of a team's buckets (the sandbox has one team, so one limiter)."""

    def __init__(self, time_factor: float = 1.0, enabled: bool = True) -> None:
        self.enabled = enabled
        self.buckets = {
            name: Bucket(capacity, per_min / 60.0 * max(time_factor, 1e-9))
            for name, (capacity, per_min) in BUCKETS.items()
        }

    def draw(self, name: str) -> Verdict:
        """Take a token (when enforced) and report the headers; ``allowed`` is False on 429."""
        if not self.enabled:
            return self.peek(name)
        return self.buckets[name].draw(take=True)

    def peek(self, name: str) -> Verdict:
        """The headers without spending a token (for requests rejected before the draw)."""
        verdict = self.buckets[name].draw(take=False)
        verdict.allowed = True
        return verdict

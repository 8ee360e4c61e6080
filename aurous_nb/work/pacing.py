"""How fast a batch may create: a token bucket learned from ``X-RateLimit-*`` headers.

The server's bucket is invisible except through three integers per response: its capacity, the
tokens left (rounded down) and the epoch second (rounded up) at which it would be full again. The
client's own limiter reads the refill rate off one response, which is off by up to a whole second
over the deficit: 10-20 % too slow when a 120-token bucket runs dry under a fast refill. Every
response bounds the refill time per token from both sides, so :class:`BucketModel` intersects
those bounds; after a few dozen creates the rate is known to a fraction of a percent, and a batch
can send exactly as fast as the bucket refills without ever meeting a 429.

:class:`LatencyModel` keeps what the server says generations take (``duration_ms``), so polls go
out when jobs are likely done rather than on a fixed tick.
"""

from __future__ import annotations

import bisect
import math
import time
from collections.abc import Callable, Mapping

__all__ = ["BucketModel", "LatencyModel", "SlotCap"]


def _header(headers: Mapping[str, str], name: str) -> str | None:
    value = headers.get("x-ratelimit-" + name)
    return value if value is not None else headers.get("ratelimit-" + name)


class BucketModel:
    """A local mirror of one server token bucket (e.g. ``images_post``).

    ``reserve`` before each request, ``observe`` each response (with the times it was sent and
    received), ``wait_time`` to know when the next token is due. Until the first response the
    capacity is unknown, so only one request at a time is allowed.
    """

    def __init__(self, clock: Callable[[], float] = time.time) -> None:
        self._clock = clock
        self.limit: int | None = None
        self.tokens = 0.0
        self._stamp = clock()
        self._lo = 0.0  # seconds per token: strict lower bound
        self._hi = math.inf  # seconds per token: upper bound
        self._rough: float | None = None  # a slow guess, until a response bounds it above
        self._solo: dict[int, bool] = {}  # ticket -> alone in flight for its whole life
        self._next_ticket = 0
        self._blocked_until = 0.0

    # -- the refill rate -------------------------------------------------------------------

    @property
    def per_token(self) -> float | None:
        """Seconds per token, erring slow (None until a response has said anything about it)."""
        if math.isfinite(self._hi):
            return self._hi
        return self._rough

    @property
    def known(self) -> bool:
        return self.limit is not None

    def _refill(self, now: float) -> None:
        pt = self.per_token
        if pt and self.limit is not None and now > self._stamp:
            self.tokens = min(float(self.limit), self.tokens + (now - self._stamp) / pt)
        self._stamp = max(self._stamp, now)

    # -- requests ---------------------------------------------------------------------------

    def wait_time(self) -> float:
        """Seconds until a request may be sent (0: now; inf: wait for an answer first)."""
        now = self._clock()
        if now < self._blocked_until:
            return self._blocked_until - now
        if self.limit is None:
            return 0.0 if self._pending == 0 else math.inf
        self._refill(now)
        if self.tokens >= 1.0:
            return 0.0
        pt = self.per_token
        if pt is None:
            # Only throttled answers so far (their Retry-After is honoured above): the refill
            # rate is unknown and waiting teaches nothing, so probe one request at a time.
            return math.inf if self._pending else 0.0
        return (1.0 - self.tokens) * pt

    @property
    def _pending(self) -> int:
        return len(self._solo)

    def reserve(self) -> int:
        """Count a request as sent (its token is spent locally right away); returns the
        ticket to hand to :meth:`observe` or :meth:`release` with its answer."""
        self._refill(self._clock())
        self.tokens -= 1.0
        for ticket in self._solo:
            self._solo[ticket] = False
        ticket = self._next_ticket
        self._next_ticket += 1
        self._solo[ticket] = not self._solo
        return ticket

    def release(self, ticket: int) -> None:
        """A request was answered without headers, or never left."""
        self._solo.pop(ticket, None)

    def observe(
        self,
        ticket: int,
        headers: Mapping[str, str],
        sent_at: float,
        received_at: float,
        *,
        throttled: bool = False,
    ) -> None:
        """Learn from one answered request of this bucket.

        ``throttled``: the bucket itself refused it (429 ``too_many_requests``); a 429 for the
        concurrency cap did draw its token, so it teaches the same as a success.
        """
        try:
            limit = int(float(_header(headers, "limit") or "nan"))
            remaining = int(float(_header(headers, "remaining") or "nan"))
            reset = float(_header(headers, "reset") or "nan")
        except ValueError:
            limit = remaining = -1
            reset = math.nan
        retry_after = _retry_after(headers) if throttled else None
        self.reading(ticket, limit, remaining, reset, sent_at, received_at, throttled, retry_after)

    def reading(
        self,
        ticket: int,
        limit: int,
        remaining: int,
        reset: float,
        sent_at: float,
        received_at: float,
        throttled: bool = False,
        retry_after: float | None = None,
    ) -> None:
        """Learn from one answer's bucket reading, already parsed (the client's ``RateLimit``)."""
        solo = self._solo.pop(ticket, False)
        if retry_after is not None:
            self._blocked_until = max(self._blocked_until, received_at + retry_after)
        if limit <= 0 or remaining < 0 or math.isnan(reset):
            return
        if reset < 1e9:  # delta seconds (IETF draft) rather than an epoch second
            reset += received_at
        self.limit = limit
        deficit = limit - remaining
        if not throttled and deficit >= 1:
            self._learn(deficit, reset, sent_at, received_at)
        # A request that was alone in flight all its life saw the bucket exactly (rounded
        # down). Otherwise answers may arrive in another order than the server counted them,
        # so the count can only go down: less every request still in flight.
        now = self._clock()
        self._refill(now)
        synced = float(remaining) - self._pending
        pt = self.per_token
        if pt:
            synced = min(float(limit), synced + max(0.0, now - received_at) / pt)
        self.tokens = synced if solo else min(self.tokens, synced)

    def _learn(self, deficit: int, reset: float, sent_at: float, received_at: float) -> None:
        # The server computed reset = ceil(t + missing * pt) at some t in [sent_at, received_at],
        # with missing in (deficit - 1, deficit] because remaining is rounded down.
        lo = (reset - 1.0 - received_at) / deficit
        hi = (reset - sent_at) / (deficit - 1) if deficit > 1 else math.inf
        rough = max(reset - sent_at, 0.0) / deficit  # only until the bounds close; errs slow
        if rough > 0:
            self._rough = rough if self._rough is None else max(self._rough, rough)
        new_lo, new_hi = max(self._lo, lo), min(self._hi, hi)
        if new_lo > new_hi:  # clocks disagree or the bucket changed: start over from this one
            new_lo, new_hi = max(lo, 0.0), hi
        self._lo, self._hi = new_lo, new_hi

    def assume(self, limit: int, per_token: float) -> None:
        """No headers came back: fall back to the documented bucket (e.g. 120, 1 s/token)."""
        if self.limit is None:
            self.limit = limit
            self.tokens = float(limit) - self._next_ticket
            self._rough = per_token
            self._stamp = self._clock()

    def block(self, seconds: float) -> None:
        """Send nothing for ``seconds`` (a 429 said so)."""
        self._blocked_until = max(self._blocked_until, self._clock() + seconds)


def _retry_after(headers: Mapping[str, str]) -> float | None:
    value = headers.get("retry-after")
    try:
        return max(0.0, float(value)) if value is not None else None
    except ValueError:
        return None


class SlotCap:
    """How many unfinished jobs to keep: the configured cap, lowered by what 429
    ``concurrency_limit_exceeded`` reveals (no header states the team's cap).

    A refusal caps us at the number of our other unfinished jobs (we count finished-but-unpolled
    jobs too, so that is at or above the server's count). Now and then one slot more is tried;
    a refusal right after such a probe confirms the cap, and probing stops.
    """

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.value = limit
        self._since_refusal = 0
        self._probing = False
        self._confirmed = False

    def refused(self, others: int) -> None:
        """The server refused a create while ``others`` of our jobs were unfinished."""
        cap = max(1, others)
        self._confirmed = self._confirmed or self._probing
        # Refusals of one burst arrive together: keep the lowest of them.
        self.value = min(self.value, cap) if self._since_refusal == 0 else cap
        self._probing = False
        self._since_refusal = 0

    def accepted(self) -> None:
        self._since_refusal += 1
        if self.value >= self.limit or self._confirmed:
            return
        if self._since_refusal >= 2 * self.value:
            self.value += 1
            self._since_refusal, self._probing = 1, True


class LatencyModel:
    """Observed seconds from create to terminal, as the server measured them."""

    def __init__(self) -> None:
        self._seen: list[float] = []

    def add(self, seconds: float) -> None:
        if seconds >= 0 and math.isfinite(seconds):
            bisect.insort(self._seen, seconds)

    def __len__(self) -> int:
        return len(self._seen)

    def quantile(self, q: float) -> float | None:
        """The ``q`` quantile of what has been seen (None before the first observation)."""
        if not self._seen:
            return None
        pos = min(len(self._seen) - 1, max(0, round(q * (len(self._seen) - 1))))
        return self._seen[pos]

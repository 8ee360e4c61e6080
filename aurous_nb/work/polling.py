"""Bulk status polling: one ``GET /v1/images?limit=100`` answers for up to 100 jobs.

A batch's running jobs are among the team's newest generations, so the first page of history
usually holds all of them. The walk goes on to older pages only while some are still unseen and
the pages have not yet passed the oldest of them; a few stragglers are fetched one by one, which
is cheaper than paging through someone else's history to reach them.

:class:`PollClock` says *when* to poll: when the observed latencies say jobs are likely done,
not on a fixed tick.
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from aurous_nb.work.pacing import LatencyModel

__all__ = ["PollClock", "PollResult", "poll"]

PAGE = 100
STRAGGLERS = 3
POLL_BATCH = 4  # when no create waits for a slot, poll once this many jobs are likely done


@dataclass
class PollResult:
    """Fresh generations by id, ids the server no longer knows, and the requests it took."""

    seen: dict[str, Any] = field(default_factory=dict)
    missing: list[str] = field(default_factory=list)
    requests: int = 0


def _epoch(value: datetime | None) -> float | None:
    return value.timestamp() if value is not None else None


async def poll(
    client: Any, active: Mapping[str, float | None], *, stragglers: int = STRAGGLERS
) -> PollResult:
    """Fetch the current state of every id in ``active`` (id -> server created_at, epoch s).

    Lists pages newest first until every id is seen, or the page passes the oldest id (by
    ``created_at``), or only ``stragglers`` remain; the rest are fetched with single GETs.
    """
    from aurous_nb.client import NotFoundError

    out = PollResult()
    unseen = set(active)
    if not unseen:
        return out
    known = [t for t in active.values() if t is not None]
    oldest = min(known) if len(known) == len(active) else None
    cursor: str | None = None
    if len(unseen) > 1:
        while unseen:
            page = await client.images.list_page(limit=PAGE, starting_after=cursor)
            out.requests += 1
            for gen in page.data:
                if gen.id in unseen:
                    out.seen[gen.id] = gen
                    unseen.discard(gen.id)
            if not unseen or not page.has_more or not page.next_cursor or not page.data:
                break
            last = _epoch(page.data[-1].created_at)
            if oldest is not None and last is not None and last < oldest:
                break  # past the oldest running job: the rest are not in the list at all
            if len(unseen) <= stragglers:
                break
            cursor = page.next_cursor

    async def one(gen_id: str) -> None:
        out.requests += 1
        try:
            out.seen[gen_id] = await client.images.get(gen_id)
        except NotFoundError:
            out.missing.append(gen_id)

    await asyncio.gather(*(one(g) for g in sorted(unseen)))
    return out


class PollClock:
    """When the next poll is due, from when each running job's create was answered."""

    def __init__(self, min_interval: float = 0.05, max_interval: float = 2.0) -> None:
        self.min_interval, self.max_interval = min_interval, max_interval
        self.last = -math.inf
        self._blind_gap = min_interval * 2

    def polled(self, now: float) -> None:
        self.last = now

    def result(self, something_ended: bool) -> None:
        """Before any latency is known, empty polls stretch the gap (x1.25 each)."""
        if something_ended:
            self._blind_gap = self.min_interval * 2
        else:
            self._blind_gap = min(self.max_interval, self._blind_gap * 1.25)

    def due(
        self,
        now: float,
        answered: Sequence[float],
        latency: LatencyModel,
        *,
        blocked: bool = False,
        webhooks: bool = False,
    ) -> float:
        """When to poll (monotonic seconds; inf: nothing to poll).

        Waiting for a free slot (``blocked``), poll as soon as the earliest job is likely done
        (the fast 10 % of observed latencies), at most every tenth of a latency. Otherwise a
        poll waits until a few jobs are likely done (the median), so reads stay far below one
        per job. Jobs running past their prediction are polled less and less often. With
        ``webhooks`` the deliveries end jobs, and a poll only finds those that never came.
        """
        if not answered:
            return math.inf
        first = min(answered)
        early, median = latency.quantile(0.1), latency.quantile(0.5)
        if webhooks:
            slack = 5.0 * self.max_interval  # for the delivery itself to arrive
            patience = max(3.0 * median, median + slack) if median is not None else slack
            return max(self.last + self.max_interval, first + patience)
        if early is None or median is None:
            return max(self.last + self._blind_gap, first + self._blind_gap)
        gap = min(self.max_interval, max(self.min_interval, 0.1 * median))
        expect = sorted(a + (early if blocked else median) for a in answered)
        # Jobs a whole median latency past their prediction are stragglers: they ride along
        # with every poll, and alone they are polled less and less often, never holding up the
        # prediction for the rest.
        fresh = [t for t in expect if now - t < median]
        due = math.inf
        if fresh:
            due = fresh[0] if blocked else fresh[min(POLL_BATCH, len(fresh)) - 1]
        if len(fresh) < len(expect):
            slow_gap = min(self.max_interval, max(gap, 0.25 * (now - expect[0])))
            due = min(due, self.last + slow_gap)
        return max(self.last + gap, due)

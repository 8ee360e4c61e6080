"""Bulk status polling: one ``GET /v1/images?limit=100`` answers for up to 100 jobs.

A batch's running jobs are among the team's newest generations, so the first page of history
usually holds all of them. The walk goes on to older pages only while some are still unseen and
the pages have not yet passed the oldest of them; a few stragglers are fetched one by one, which
is cheaper than paging through someone else's history to reach them.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

__all__ = ["PollResult", "poll"]

PAGE = 100
STRAGGLERS = 3


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

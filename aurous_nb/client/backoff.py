"""The one schedule for polling a generation until it ends: a first gap, then 1.5x, to a cap.

Every waiter uses it: ``client.images.wait`` (from its ``poll_interval`` up to 10 s), and the
places where a person watches one job, a cell (``%aurous generate``), the panel, a job's wait and
``resume`` (from a quarter second up to 2 s, so a quick job shows at once and a slow one costs a
read every 2 s). A batch polls many jobs by their measured latency instead
(:class:`aurous_nb.work.polling.PollClock`).
"""

from __future__ import annotations

__all__ = ["WATCHED", "Backoff"]

FACTOR = 1.5
CLIENT_CAP_S = 10.0
WATCHED = (0.25, 2.0)  # first gap and cap, in seconds, when a person watches one job


class Backoff:
    """Gaps between polls: ``start``, then ``FACTOR`` times the last each time, up to ``cap``."""

    def __init__(self, start: float = WATCHED[0], cap: float = WATCHED[1]) -> None:
        self._gap, self._cap = start, max(start, cap)

    @classmethod
    def for_client(cls, poll_interval: float) -> Backoff:
        """``client.images.wait``'s: the caller's interval first, growing to 10 s."""
        return cls(poll_interval, CLIENT_CAP_S)

    def next(self) -> float:
        """The gap to sleep now; the following one grows."""
        gap = self._gap
        self._gap = min(self._cap, gap * FACTOR)
        return gap

"""A batch's jobs as the engine knows them, and the counts it reports while it runs.

A job's status is one of :mod:`aurous_nb.statuses` (a batch job may also be ``queued``: not sent
yet, ``unknown``: an unanswered create to re-send with its own key, or ``queued_server``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from aurous_nb.statuses import BATCH_CANCELLED, BATCH_FAILED, BATCH_OK, QUEUED, TERMINAL, UNKNOWN
from aurous_nb.text import credits
from aurous_nb.work.spec import JobSpec

__all__ = ["Job", "Progress", "Stats", "rows", "summary_html", "tally"]

HTML_ROWS = 20


@dataclass
class Job:
    """One job of a batch, as the engine knows it right now."""

    index: int
    spec: JobSpec
    base_key: str
    attempt: int = 0
    status: str = QUEUED  # queued (not sent) | submitting | pending | processing | <terminal>
    generation_id: str | None = None
    generation: Any = None  # the latest client Generation, once polled
    estimate: float | None = None
    held: float | None = None
    charged: float | None = None
    created_at: float | None = None  # server created_at, epoch seconds
    error: str | None = None
    error_code: str | None = None
    files: list[Any] = field(default_factory=list)
    # engine bookkeeping
    resend: bool = False
    answered_at: float | None = None  # monotonic, when the create was answered
    finished_at: float | None = None
    not_before: float = 0.0
    failures: int = 0
    cancel_sent: bool = False

    @property
    def key(self) -> str:
        """The idempotency key of the current attempt (also its ledger key)."""
        return self.base_key if self.attempt == 0 else f"{self.base_key}-r{self.attempt}"

    @property
    def media_type(self) -> str:
        return self.spec.media_type

    @property
    def request(self) -> Mapping[str, Any]:
        return self.spec.request

    @property
    def terminal(self) -> bool:
        return self.status in TERMINAL

    @property
    def ok(self) -> bool:
        return self.status in BATCH_OK

    @property
    def cost(self) -> float:
        """Charged once terminal, held while running, the estimate before that."""
        if self.terminal:
            return self.charged or 0.0
        if self.held is not None:
            return self.held
        return self.estimate or 0.0

    def __repr__(self) -> str:
        ident = self.generation_id or self.key
        return f"<Job {self.index} {self.media_type} {ident} {self.status}>"


@dataclass(frozen=True)
class Progress:
    """Counts for a progress bar; ``eta_s`` from the rate limits and the observed latency."""

    total: int
    done: int
    failed: int
    cancelled: int
    running: int
    queued: int
    spent: float
    held: float
    elapsed_s: float
    eta_s: float | None
    finished: bool
    unknown: int = 0  # creates never answered: the server may have them

    @property
    def fraction(self) -> float:
        ended = self.done + self.failed + self.cancelled
        return ended / self.total if self.total else 1.0

    def __str__(self) -> str:
        eta = f", eta {self.eta_s:.1f}s" if self.eta_s is not None and not self.finished else ""
        unknown = f", {self.unknown} unknown (the server may have them)" if self.unknown else ""
        return (
            f"{self.done}/{self.total} done, {self.failed} failed, {self.cancelled} cancelled, "
            f"{self.running} running, {self.queued} queued{unknown}; {credits(self.spent)}{eta}"
        )


@dataclass
class Stats:
    """What a run sent, for benchmarks and tests."""

    creates: int = 0
    polls: int = 0
    poll_requests: int = 0
    cancels: int = 0
    webhooks: int = 0
    rate_limited: int = 0
    concurrency_limited: int = 0
    estimate_calls: int = 0


def tally(jobs: list[Job]) -> tuple[dict[str, int], float, float]:
    """Jobs per progress bucket, and the credits spent (ended jobs) and held (the others)."""
    counts = {"done": 0, "failed": 0, "cancelled": 0, "running": 0, "queued": 0, "unknown": 0}
    spent = held = 0.0
    for j in jobs:
        if j.status in BATCH_OK:
            counts["done"] += 1
        elif j.status in BATCH_FAILED:
            counts["failed"] += 1
        elif j.status in BATCH_CANCELLED:
            counts["cancelled"] += 1
        elif j.status == QUEUED:
            counts["queued"] += 1
        elif j.status == UNKNOWN:
            counts["unknown"] += 1
        else:
            counts["running"] += 1
        if j.terminal:
            spent += j.charged or 0.0
        elif j.held is not None:
            held += j.held
    return counts, round(spent, 4), round(held, 4)


def rows(jobs: list[Job]) -> list[dict[str, Any]]:
    """One dict per job (parameters, status, cost, files): what a DataFrame is built from."""
    out = []
    for j in jobs:
        row: dict[str, Any] = {
            "index": j.index,
            "media_type": j.media_type,
            **{k: v for k, v in j.request.items() if not isinstance(v, (list, dict, tuple))},
            "status": j.status,
            "generation_id": j.generation_id,
            "cost": j.cost,
            "error": j.error,
            "paths": [str(f.path) for f in j.files],
        }
        row.update(j.spec.values)  # one column per grid axis
        out.append(row)
    return out


def summary_html(title: str, progress: Progress, jobs: list[Job]) -> str:
    """Counts, then the first jobs as a table: a batch's static copy in a saved notebook."""
    from html import escape

    shown = jobs[:HTML_ROWS]
    cells = (
        "".join(
            f"<td style='text-align:left'>{escape(str(c))}</td>"
            for c in (
                j.index,
                j.media_type,
                j.status,
                (j.spec.prompt or j.request.get("video_lora_id") or "")[:60],
                f"{j.cost:g}",
                j.error or "",
            )
        )
        for j in shown
    )
    body = "".join(f"<tr>{c}</tr>" for c in cells)
    head = "".join(
        f"<th style='text-align:left'>{h}</th>"
        for h in ("#", "kind", "status", "prompt", "credits", "error")
    )
    more = f"<p>… and {len(jobs) - len(shown)} more</p>" if len(jobs) > len(shown) else ""
    return (
        f"<p><b>Batch {escape(title)}</b>: {escape(str(progress))}</p>"
        f"<table><tr>{head}</tr>{body}</table>{more}"
    )

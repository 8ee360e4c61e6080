"""What a create that did not succeed means for its job, and for the jobs queued behind it.

Rate-limited: queued again (a concurrency 429 also lowers the slot cap). Never answered (5xx,
connection lost, an in-flight 409): re-sent with the same key, backing off, until
``give_up_after`` in a row; then ``unknown``, never ``failed``, since the server may have it (see
:mod:`aurous_nb.work.reuse`). Refused: ``rejected`` (a refused balance ends the queue too, which
would be refused the same way). A cap filled meanwhile by another kernel: every job not yet
written is ``rejected``. Anything else is a bug or the ledger: ``failed``, its row kept for resume.
"""

from __future__ import annotations

import logging
import time
from collections import deque
from typing import TYPE_CHECKING, Any

from aurous_nb.statuses import FAILED, QUEUED, REJECTED, UNKNOWN
from aurous_nb.work.quote import BudgetExceededError
from aurous_nb.work.reuse import UNKNOWN_TEXT

if TYPE_CHECKING:
    from aurous_nb.work.batch import Batch
    from aurous_nb.work.batch_state import Job

log = logging.getLogger("aurous_nb.work.batch")

# Creates that fail in transit are re-sent with the same key (the server replays, never buys
# twice); stop trying a job only after this many in a row (about two minutes of backoff). Such a
# job is ``unknown`` (the server may have it), never ``failed``: a re-run or ``retry_failed()``
# re-sends it with its own key (see aurous_nb.work.reuse).
MAX_CREATE_FAILURES = 20


def apply(
    batch: Batch, job: Job, queue: deque[Job], ticket: int, sent: float, exc: Exception
) -> None:
    """Apply the error of ``job``'s create (sent at ``sent``, holding bucket ``ticket``)."""
    from aurous_nb.client import (
        APIConnectionError,
        AurousError,
        IdempotencyConflictError,
        InsufficientBalanceError,
        RateLimitError,
        ServerError,
    )

    if isinstance(exc, RateLimitError):
        concurrency = exc.code == "concurrency_limit_exceeded"
        batch._observe_error(ticket, exc, sent)
        retry = exc.retry_after or 1.0
        delay = 0.0
        if concurrency:
            batch.stats.concurrency_limited += 1
            others = batch._in_flight() - 1
            if others < 1:
                delay = retry  # someone else's jobs hold the slots: wait as told
            batch._slots.refused(others)
        else:
            batch.stats.rate_limited += 1
        job.status, job.not_before = QUEUED, time.monotonic() + delay
        job.resend = True
        queue.appendleft(job)
        batch._changed()
    elif isinstance(exc, (ServerError, APIConnectionError, IdempotencyConflictError)):
        batch._observe_error(ticket, exc, sent)
        job.failures += 1
        if job.failures > batch.give_up_after:  # unanswered, not failed: it may exist
            job.status = UNKNOWN
            job.error = (
                f"{UNKNOWN_TEXT} (its create was never answered: {exc}); a run again or "
                "retry_failed() re-sends it with its own key"
            )
            job.error_code = getattr(exc, "code", None) or type(exc).__name__
            batch._changed()
            return
        job.status, job.resend = QUEUED, True
        job.not_before = time.monotonic() + min(8.0, 0.25 * 2**job.failures)
        queue.appendleft(job)
        batch._changed()
    elif isinstance(exc, InsufficientBalanceError):
        batch._observe_error(ticket, exc, sent)
        _reject(batch, job, exc)
        for other in list(queue):  # the rest would be refused the same way
            queue.remove(other)
            other.status, other.error = REJECTED, f"not sent: {exc.message}"
            other.error_code = exc.code
            batch._finish(other)
    elif isinstance(exc, AurousError):
        batch._observe_error(ticket, exc, sent)
        _reject(batch, job, exc)
    elif isinstance(exc, BudgetExceededError):  # another kernel spent the rest of a cap meanwhile
        batch._bucket.release(ticket)
        for other in [job, *queue]:  # nothing was written for any of them
            other.status, other.error, other.error_code = REJECTED, str(exc), "over_a_cap"
            batch._finish(other)
        queue.clear()
    else:  # a bug or the ledger: the row (if any) stays for resume
        batch._bucket.release(ticket)
        log.error("create of job %s failed", job.index, exc_info=exc)
        job.status, job.error = FAILED, f"{type(exc).__name__}: {exc}"
        batch._finish(job)


def _reject(batch: Batch, job: Job, exc: Any) -> None:
    job.status = REJECTED
    job.error, job.error_code = str(exc), getattr(exc, "code", None)
    batch._finish(job)

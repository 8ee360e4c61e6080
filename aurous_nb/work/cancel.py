"""Cancelling a batch's jobs: what was never sent ends here, what runs is cancelled on the server.

Cancels spend ``images_post`` tokens like creates, so they are paced by the same bucket. A job
whose create was never answered is first found by its key (it may exist), then cancelled. A
cancel the server refuses means the job already ended another way: it is read back instead.
"""

from __future__ import annotations

import logging
import math
import time
from collections import deque
from collections.abc import Callable, Coroutine
from typing import TYPE_CHECKING, Any

from aurous_nb.statuses import CANCELLED, LOST, SUBMITTING, UNKNOWN, batch_status
from aurous_nb.work.reuse import UNKNOWN_TEXT

if TYPE_CHECKING:
    from aurous_nb.work.batch import Batch
    from aurous_nb.work.batch_state import Job

log = logging.getLogger("aurous_nb.work.batch")

Spawn = Callable[[Coroutine[Any, Any, Any]], Any]


def stop(batch: Batch, client: Any, queue: deque[Job], now: float, spawn: Spawn) -> float:
    """One pass of a stopping batch: end or find every queued job, cancel the running ones the
    bucket allows; returns when to wake for the rest (``inf``: nothing waits on the bucket)."""
    wake_at = math.inf
    for j in queue:
        if j.resend:  # sent before, answer unknown: find it, then cancel it
            j.status = SUBMITTING
            spawn(unanswered(batch, client, j))
        else:
            j.status, j.error = CANCELLED, "cancelled before it was sent"
            batch._finish(j)
    queue.clear()
    for j in batch._active():
        if j.cancel_sent or j.generation_id is None:
            continue
        wait = batch._bucket.wait_time()
        if wait > 0:
            wake_at = min(wake_at, now + wait)
            break
        j.cancel_sent = True
        spawn(running(batch, client, j, batch._bucket.reserve()))
    return wake_at


async def running(batch: Batch, client: Any, job: Job, ticket: int) -> None:
    """Cancel a job the server answered (its hold is released); a failure leaves it to retry."""
    from aurous_nb.client import AurousError, InvalidRequestError, NotFoundError

    sent = time.time()
    gen = None
    try:
        batch.stats.cancels += 1
        gen = await client.images.cancel(job.generation_id)
    except InvalidRequestError as refused:  # already ended another way: read how
        batch._observe_error(ticket, refused, sent)
        try:
            gen = await client.images.get(job.generation_id)
        except AurousError as exc:
            log.warning("could not read job %s after a refused cancel: %s", job.index, exc)
    except NotFoundError as exc:
        batch._observe_error(ticket, exc, sent)
        job.status, job.error = LOST, "the server no longer knows this generation"
        batch._finish(job)
        return
    except AurousError as exc:
        batch._observe_error(ticket, exc, sent)
        log.warning("could not cancel job %s: %s", job.index, exc)
        job.cancel_sent = False
        return
    else:
        batch._observe_bucket(client, ticket, sent)
    if gen is None:
        return
    batch.ledger.record_generation(batch.env, gen)
    job.generation = gen
    job.status = batch_status(gen.status)
    if gen.cost is not None:
        job.charged = gen.cost.amount if gen.is_terminal else job.charged
    if job.terminal:
        batch._finish(job)
    batch._changed()


async def unanswered(batch: Batch, client: Any, job: Job) -> None:
    """Cancel a job whose create was never answered: by its ledger row, so by its key."""
    from aurous_nb.work import jobs as jobs_mod

    record = batch.ledger.job(job.key)
    if record is None:
        job.status, job.error = CANCELLED, "cancelled before it was sent"
        batch._finish(job)
        return
    ticket = batch._bucket.reserve()
    try:
        batch.stats.cancels += 1
        record = await jobs_mod.acancel(client, batch.ledger, record, sent=True)
    except Exception as exc:  # the row stays as it was; a later run or resume finishes it
        log.warning("could not cancel unanswered job %s: %s", job.index, exc)
        job.status, job.error = UNKNOWN, f"{UNKNOWN_TEXT} (could not cancel: {exc})"
        batch._changed()
        return
    finally:
        batch._bucket.release(ticket)
    job.answered_at = time.monotonic()
    batch._apply_record(job, record)

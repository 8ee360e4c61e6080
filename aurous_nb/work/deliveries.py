"""Webhook deliveries applied to a batch's jobs.

A delivery names its generation; the job with that id takes it as it would a poll's answer (and
the ledger records it). One may arrive before its create's answer has told us the id: it is
held (up to 10,000) and applied once the answer comes.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from aurous_nb.statuses import batch_status

if TYPE_CHECKING:
    from aurous_nb.work.batch import Batch
    from aurous_nb.work.batch_state import Job

EARLY_MAX = 10_000  # deliveries held for creates not yet answered


def apply(batch: Batch, payload: dict[str, Any]) -> None:
    """A delivery (``{event, data}`` or an event envelope): apply it to its job."""
    from aurous_nb.client import Generation

    data = payload.get("data")
    if not isinstance(data, dict) or not data.get("id") or not data.get("status"):
        return
    gen = Generation.from_json(data)
    job = batch._by_generation.get(gen.id)
    if job is None:  # it may be ours, its create's answer still on the way
        if batch._unanswered() and len(batch._early) < EARLY_MAX:
            batch._early[gen.id] = gen
        return
    if job.terminal or batch_status(gen.status) == job.status:
        return
    batch.stats.webhooks += 1
    batch.ledger.record_generations(batch.env, [gen])
    batch._apply_generation(job, gen)


def answered(batch: Batch, job: Job) -> None:
    """The job's create was answered: apply a delivery that came before the answer."""
    early = batch._early.pop(job.generation_id or "", None)
    if early is not None and not job.terminal:
        apply(batch, {"data": early.raw})

"""The batch engine: many image and video jobs at the pace the rate limits allow.

One asyncio loop drives a batch. It prices the batch before spending (:mod:`aurous_nb.quote`),
then sends creates as fast as the ``images_post`` bucket refills (:mod:`aurous_nb.pacing`),
keeping at most ``max_in_flight`` jobs unfinished so the team's concurrency cap never answers
429. Running jobs are polled in bulk (:mod:`aurous_nb.polling`) when the observed latency says
some are likely done, so a 200-job batch costs a few dozen reads rather than one per job per
tick. A slow job holds only its own slot.

Every job goes through the ledger: its row (idempotency key, canonical request) is written
before the create leaves, and every answer and status change after. Idempotency keys are derived
from the batch name and each spec's stable key, so running the same batch again -- after a
kernel restart, or by re-running the cell -- finds its jobs in the ledger and collects them
instead of buying them twice.

``await batch.run_async()`` (or ``batch.start()``, a task, for widgets) runs it on the current
loop; ``batch.run()`` blocks, for scripts and magics (inside Jupyter's running loop it uses
nest_asyncio).
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import math
import time
import uuid
from collections import deque
from collections.abc import Callable, Coroutine, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from aurous_nb import jobspec, polling
from aurous_nb.jobspec import JobSpec
from aurous_nb.pacing import BucketModel, LatencyModel
from aurous_nb.quote import BudgetExceededError, Quote, check, quote

__all__ = ["Batch", "BudgetExceededError", "Job", "JobSpec", "Progress", "Quote", "run_batch"]

log = logging.getLogger("aurous_nb.batch")

OK = frozenset({"succeeded"})
CANCELLED = frozenset({"cancelled"})
FAILED = frozenset({"failed", "expired", "moderation_rejected", "rejected", "lost"})
TERMINAL = OK | CANCELLED | FAILED
RUNNING = frozenset({"submitting", "pending", "queued_server", "processing"})
RETRYABLE = frozenset({"failed", "expired"})
QUOTE_FRESH_S = 30.0  # a price() this recent is reused by the run that follows

#: The server keeps idempotency keys for 24 h; past that an unanswered create is not re-sent.
IDEMPOTENCY_WINDOW_S = 23 * 3600.0

Callback = Callable[[Any], Any]


def _server_status(status: str) -> str:
    # The contract allows "queued" as an initial status; "queued" here means "not sent yet".
    return "queued_server" if status == "queued" else status


@dataclass
class Job:
    """One job of a batch, as the engine knows it right now."""

    index: int
    spec: JobSpec
    base_key: str
    attempt: int = 0
    status: str = "queued"  # queued (not sent) | submitting | pending | processing | <terminal>
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
    def cell(self) -> tuple[Any, ...] | None:
        return self.spec.cell

    @property
    def terminal(self) -> bool:
        return self.status in TERMINAL

    @property
    def ok(self) -> bool:
        return self.status in OK

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

    @property
    def fraction(self) -> float:
        ended = self.done + self.failed + self.cancelled
        return ended / self.total if self.total else 1.0

    def __str__(self) -> str:
        eta = f", eta {self.eta_s:.1f}s" if self.eta_s is not None and not self.finished else ""
        return (
            f"{self.done}/{self.total} done, {self.failed} failed, {self.cancelled} cancelled, "
            f"{self.running} running, {self.queued} queued; {self.spent:g} credits{eta}"
        )


@dataclass
class Stats:
    """What a run sent, for benchmarks and tests."""

    creates: int = 0
    polls: int = 0
    poll_requests: int = 0
    cancels: int = 0
    rate_limited: int = 0
    concurrency_limited: int = 0
    estimate_calls: int = 0


class Batch:
    """Many jobs, priced first, sent within the rate limits, polled in bulk, kept in the ledger.

    Args:
        jobs: :class:`JobSpec` objects (``jobspec.image(...)``, ``jobspec.video(...)``,
            ``jobspec.grid(...)``) or plain dicts of create arguments (``video_lora_id`` marks a
            video).
        client: an ``AsyncClient`` (a blocking ``Client`` is converted); or pass ``api_key`` /
            ``base_url`` (or set ``AUROUS_API_KEY``) and the batch opens its own per run.
        ledger: the ledger to write (default: the one in ``$AUROUS_NB_HOME``).
        budget: refuse to start when the jobs still to buy, plus what this batch already spent,
            cost more than this many credits.
        name: names the batch's jobs in the ledger. Jobs are identified by ``name`` and their
            request, so the same batch run again (or after a restart) collects instead of buying.
            Pass ``fresh=True`` for a new purchase of the same requests.
        max_in_flight: unfinished jobs at once (the team's concurrency cap; 50 by default).
        on_progress: called with a :class:`Progress` whenever counts change.
        on_job: called with each :class:`Job` once it ends (after its outputs are cached).
        download: cache outputs on success (default: ``AUROUS_NB_AUTO_DOWNLOAD``, on).
    """

    def __init__(
        self,
        jobs: Iterable[JobSpec | Mapping[str, Any]],
        *,
        client: Any = None,
        api_key: str | None = None,
        base_url: str | None = None,
        ledger: Any = None,
        budget: float | None = None,
        name: str | None = None,
        fresh: bool = False,
        max_in_flight: int = 50,
        on_progress: Callback | None = None,
        on_job: Callback | None = None,
        download: bool | None = None,
        check_balance: bool = True,
        notebook: str | None = None,
        cell: str | None = None,
        min_poll_interval: float = 0.05,
        max_poll_interval: float = 2.0,
    ) -> None:
        from aurous_nb.config import env_for

        if max_in_flight < 1:
            raise ValueError("max_in_flight must be at least 1")
        self._client = _async_client(client) if client is not None else None
        self._client_options: dict[str, str | None] = {"api_key": api_key, "base_url": base_url}
        self.base_url = str(self._client.base_url) if self._client else _base_url(base_url)
        self.env = env_for(self.base_url)
        self._ledger = ledger
        self.budget = budget
        self.name = uuid.uuid4().hex if fresh else (name or "")
        self.id = hashlib.sha256(f"{self.env}\x00{self.name}".encode()).hexdigest()[:12]
        self.max_in_flight = max_in_flight
        self.on_progress = on_progress
        self.on_job = on_job
        self.download = download
        self.check_balance = check_balance
        self.notebook, self.cell = notebook, cell
        self.min_poll_interval, self.max_poll_interval = min_poll_interval, max_poll_interval
        specs = jobspec.specs_from(jobs)
        self.jobs: list[Job] = [Job(i, s, f"ab-{self.id}-{s.key}") for i, s in enumerate(specs)]
        self.stats = Stats()
        self.last_quote: Quote | None = None
        self._loaded = False
        self._task: asyncio.Task[list[Job]] | None = None
        self._stopping = False
        self._started_at: float | None = None
        self._ended_at: float | None = None
        self._bucket = BucketModel()
        self._latency = LatencyModel()
        self._cap = max_in_flight
        self._since_429 = 0
        self._wake: asyncio.Event | None = None
        self._last_poll = -math.inf
        self._blind_gap = 0.1
        self._version = 0
        self._emitted = -1
        self._quoted_at = -math.inf
        self._downloads: set[asyncio.Task[Any]] = set()
        self._run_client: Any = None

    # -- construction helpers ---------------------------------------------------------------

    @classmethod
    def grid(
        cls,
        prompts: Sequence[str] | str,
        loras: Sequence[str | None] | str | None = None,
        sizes: Sequence[str | None] | str | None = None,
        seeds: Sequence[int | None] | int | None = None,
        counts: Sequence[int | None] | int | None = None,
        *,
        params: Mapping[str, Any] | None = None,
        **options: Any,
    ) -> Batch:
        """A batch of every prompt x LoRA x size x seed x count (see :func:`jobspec.grid`);
        ``params`` go into every request, ``options`` to :class:`Batch`."""
        return cls(
            jobspec.grid(prompts, loras, sizes, seeds, counts, **dict(params or {})), **options
        )

    @classmethod
    def from_ledger(cls, name: str, **options: Any) -> Batch:
        """Rebuild a named batch from the ledger alone (after a restart, without its specs).

        Jobs come back in their original order; grid cells are not (the ledger keeps the
        request, not the cell).
        """
        probe = cls([], name=name, **options)
        _, rows = probe.ledger.query(
            "SELECT idempotency_key, media_type, request FROM generations "
            "WHERE idempotency_key LIKE ? ORDER BY row_id",
            (f"ab-{probe.id}-%",),
        )
        import json

        specs: dict[str, JobSpec] = {}
        for key, media_type, request in rows:
            spec_key = key[len(f"ab-{probe.id}-") :].split("-r", 1)[0]
            if spec_key not in specs and request:
                specs[spec_key] = JobSpec(media_type, json.loads(request), key=spec_key)
        batch = cls([], name=name, **options)
        batch.jobs = [Job(i, s, f"ab-{batch.id}-{s.key}") for i, s in enumerate(specs.values())]
        return batch

    @property
    def ledger(self) -> Any:
        if self._ledger is None:
            from aurous_nb.ledger import default_ledger

            self._ledger = default_ledger()
        return self._ledger

    # -- views ------------------------------------------------------------------------------

    def __len__(self) -> int:
        return len(self.jobs)

    def __repr__(self) -> str:
        return f"<Batch {self.name or self.id} jobs={len(self.jobs)} {self.progress()}>"

    @property
    def running(self) -> bool:
        return self._task is not None and not self._task.done()

    def results(self) -> list[Job]:
        """The jobs that succeeded, in order."""
        return [j for j in self.jobs if j.ok]

    def failed(self) -> list[Job]:
        return [j for j in self.jobs if j.status in FAILED]

    def progress(self) -> Progress:
        counts = {"done": 0, "failed": 0, "cancelled": 0, "running": 0, "queued": 0}
        spent = held = 0.0
        for j in self.jobs:
            if j.status in OK:
                counts["done"] += 1
            elif j.status in FAILED:
                counts["failed"] += 1
            elif j.status in CANCELLED:
                counts["cancelled"] += 1
            elif j.status == "queued":
                counts["queued"] += 1
            else:
                counts["running"] += 1
            if j.terminal:
                spent += j.charged or 0.0
            elif j.held is not None:
                held += j.held
        now = time.monotonic()
        start = self._started_at
        elapsed = 0.0 if start is None else (self._ended_at or now) - start
        finished = counts["queued"] == 0 and counts["running"] == 0
        return Progress(
            total=len(self.jobs),
            spent=round(spent, 4),
            held=round(held, 4),
            elapsed_s=elapsed,
            eta_s=0.0 if finished else self._eta(counts["queued"], now),
            finished=finished,
            **counts,
        )

    def _eta(self, queued: int, now: float) -> float | None:
        latency = self._latency.quantile(0.5)
        if queued == 0:
            if latency is None:
                return None
            due = [j.answered_at + latency for j in self.jobs if j.answered_at and not j.terminal]
            return max([0.0, *(d - now for d in due)])
        per_token = self._bucket.per_token or 1.0  # the contract's 60 per minute
        tokens = max(0.0, self._bucket.tokens)
        by_rate = max(0.0, queued - tokens) * per_token
        by_slots = queued * latency / self._cap if latency else 0.0
        return max(by_rate, by_slots) + (latency or 0.0)

    def rows(self) -> list[dict[str, Any]]:
        """One dict per job (parameters, status, cost, files): what a DataFrame is built from."""
        out = []
        for j in self.jobs:
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
            if j.cell is not None:
                row.update(
                    dict(zip(("prompt", "lora", "size", "seed", "count"), j.cell, strict=False))
                )
            out.append(row)
        return out

    # -- pricing ----------------------------------------------------------------------------

    async def price(self, client: Any = None) -> Quote:
        """Price the jobs still to buy (rate card where exact, one estimate per shape), with
        the available balance. Spends nothing."""
        self._load()
        own = client is None and self._client is None
        client = client or self._client or self._open_client()
        try:
            todo = [j for j in self.jobs if j.status == "queued"]
            q = await quote(client, [j.spec for j in todo], balance=self.check_balance)
        finally:
            if own:
                await client.close()
        for job, amount in zip(todo, q.amounts, strict=True):
            job.estimate = amount
        self.stats.estimate_calls += q.estimate_calls
        self.last_quote = q
        self._quoted_at = time.monotonic()
        return q

    def committed(self) -> float:
        """Credits this batch has already spent or holds (earlier runs included)."""
        return round(
            sum((j.charged or 0.0) if j.terminal else (j.held or 0.0) for j in self.jobs), 4
        )

    # -- running ----------------------------------------------------------------------------

    def start(self) -> asyncio.Task[list[Job]]:
        """Run on the current loop as a task (for widgets); a running batch returns its task."""
        if self._task is None or self._task.done():
            self._task = asyncio.ensure_future(self._run())
        return self._task

    async def run_async(self) -> list[Job]:
        """Run to the end (or until cancelled); returns the jobs."""
        return await self.start()

    def run(self) -> list[Job]:
        """Run to the end, blocking; works inside Jupyter's running loop (nest_asyncio)."""
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            return asyncio.run(self.run_async())
        import nest_asyncio

        nest_asyncio.apply(loop)
        return loop.run_until_complete(self.run_async())

    async def cancel(self) -> list[Job]:
        """Stop sending, cancel every job still running on the server (releasing its hold),
        and wait until each has ended."""
        self._stopping = True
        for j in self.jobs:
            if j.status == "queued":
                j.status, j.error = "cancelled", "cancelled before it was sent"
                self._changed()
        if self.running:
            self._poke()
            assert self._task is not None
            return await asyncio.shield(self._task)
        if any(not j.terminal for j in self.jobs):
            return await self.start()
        return self.jobs

    def retry_failed(self, statuses: Iterable[str] = RETRYABLE) -> int:
        """Queue failed jobs again, each with a new idempotency key; returns how many.

        Run the batch again (``run()``/``start()``) to send them.
        """
        wanted = set(statuses)
        n = 0
        for j in self.jobs:
            if j.status in wanted:
                j.attempt += 1
                j.status, j.generation_id, j.generation = "queued", None, None
                j.held = j.charged = j.created_at = j.answered_at = j.finished_at = None
                j.error = j.error_code = None
                j.failures, j.resend, j.cancel_sent = 0, False, False
                n += 1
        if n:
            self._stopping = False
            self._changed()
        return n

    # -- the loop ---------------------------------------------------------------------------

    async def _run(self) -> list[Job]:
        own = self._client is None
        client = self._client or self._open_client()
        self._run_client = client
        self._wake = asyncio.Event()
        self._started_at = time.monotonic()
        self._ended_at = None
        try:
            self._load()
            todo = [j for j in self.jobs if j.status == "queued"]
            if todo and not self._stopping:
                fresh = time.monotonic() - self._quoted_at < QUOTE_FRESH_S
                if not fresh or any(j.estimate is None for j in todo):
                    await self.price(client)
                assert self.last_quote is not None
                check(
                    sum(j.estimate or 0.0 for j in todo),
                    budget=self.budget,
                    available=self.last_quote.available_credits,
                    committed=self.committed(),
                )
            await self._drive(client)
            if self._downloads:
                await asyncio.gather(*list(self._downloads), return_exceptions=True)
        finally:
            self._ended_at = time.monotonic()
            self._emit(force=True)
            self._run_client = None
            if own:
                await client.close()
        return self.jobs

    async def _drive(self, client: Any) -> None:
        creator = client.with_options(max_retries=0)  # creates are retried here, key and all
        tasks: set[asyncio.Task[Any]] = set()
        poll_task: asyncio.Task[Any] | None = None
        queue = deque(j for j in self.jobs if j.status == "queued")
        assert self._wake is not None

        def spawn(coro: Coroutine[Any, Any, Any]) -> asyncio.Task[Any]:
            task = asyncio.ensure_future(coro)
            tasks.add(task)
            task.add_done_callback(tasks.discard)
            task.add_done_callback(lambda _t: self._poke())
            return task

        try:
            while True:
                now = time.monotonic()
                wake_at = math.inf
                if self._stopping:
                    for j in queue:
                        j.status, j.error = "cancelled", "cancelled before it was sent"
                        self._finish(j)
                    queue.clear()
                    for j in self._active():
                        if j.cancel_sent or j.generation_id is None:
                            continue
                        wait = self._bucket.wait_time()
                        if wait > 0:
                            wake_at = min(wake_at, now + wait)
                            break
                        j.cancel_sent = True
                        self._bucket.reserve()
                        spawn(self._cancel_one(client, j))
                while queue and not self._stopping:
                    if self._in_flight() >= self._cap:
                        break
                    job = next((j for j in queue if j.not_before <= now), None)
                    if job is None:
                        wake_at = min(wake_at, min(j.not_before for j in queue))
                        break
                    wait = self._bucket.wait_time()
                    if wait > 0:
                        wake_at = min(wake_at, now + wait)
                        break
                    queue.remove(job)
                    job.status = "submitting"
                    self._bucket.reserve()
                    spawn(self._create(creator, job, queue))
                    self._changed()
                if poll_task is None or poll_task.done():
                    due = self._next_poll(now)
                    if due <= now:
                        self._last_poll = now
                        poll_task = spawn(self._poll(client))
                    else:
                        wake_at = min(wake_at, due)
                self._emit()
                if not queue and not tasks and all(j.terminal for j in self.jobs):
                    break
                if not tasks and not queue and not self._active():
                    break  # nothing left that this loop can move
                timeout = None if wake_at == math.inf else max(0.0, wake_at - time.monotonic())
                with contextlib.suppress(asyncio.TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), timeout)
                self._wake.clear()
        finally:
            for task in list(tasks):
                task.cancel()
            if tasks:
                await asyncio.gather(*tasks, return_exceptions=True)

    def _active(self) -> list[Job]:
        return [j for j in self.jobs if j.status in RUNNING]

    def _in_flight(self) -> int:
        return sum(1 for j in self.jobs if j.status in RUNNING)

    def _next_poll(self, now: float) -> float:
        """When to poll: when the likeliest-done running job is due, at most every ``gap``."""
        answered = [j for j in self.jobs if j.status in RUNNING and j.answered_at is not None]
        if not answered:
            return math.inf
        early = self._latency.quantile(0.1)
        median = self._latency.quantile(0.5)
        if early is None or median is None:
            # Nothing has finished yet: poll on a gently growing gap from the first answer.
            first = min(j.answered_at or now for j in answered)
            return max(self._last_poll + self._blind_gap, first + self._blind_gap)
        gap = min(self.max_poll_interval, max(self.min_poll_interval, 0.1 * median))
        due = min((j.answered_at or now) + early for j in answered)
        return max(self._last_poll + gap, due)

    # -- one create -------------------------------------------------------------------------

    async def _create(self, client: Any, job: Job, queue: deque[Job]) -> None:
        from aurous_nb import jobs as jobs_mod
        from aurous_nb.client import (
            APIConnectionError,
            AurousError,
            IdempotencyConflictError,
            InsufficientBalanceError,
            RateLimitError,
            ServerError,
        )

        sent = time.time()
        try:
            record = self.ledger.job(job.key)
            if record is None:
                record = self.ledger.prepare(
                    self.env,
                    job.media_type,
                    dict(job.request),
                    key=job.key,
                    estimate=job.estimate,
                    notebook=self.notebook,
                    cell=self.cell,
                )
            self.stats.creates += 1
            record = await jobs_mod.asend(client, self.ledger, record)
        except RateLimitError as exc:
            concurrency = exc.code == "concurrency_limit_exceeded"
            self._bucket.observe(exc.headers, sent, time.time(), throttled=not concurrency)
            retry = exc.retry_after or 1.0
            if concurrency:
                self.stats.concurrency_limited += 1
                self._cap = max(1, self._in_flight() - 1)
                self._since_429 = 0
            else:
                self.stats.rate_limited += 1
            job.status, job.not_before = (
                "queued",
                time.monotonic() + (0 if not concurrency else retry),
            )
            job.resend = True
            queue.appendleft(job)
            self._changed()
            return
        except (ServerError, APIConnectionError, IdempotencyConflictError) as exc:
            self._observe_bucket(client, sent)
            job.failures += 1
            if job.failures > 6:
                job.status, job.error = "failed", f"create kept failing: {exc}"
                job.error_code = getattr(exc, "code", None) or type(exc).__name__
                self._finish(job)
                return
            job.status, job.resend = "queued", True
            job.not_before = time.monotonic() + min(8.0, 0.25 * 2**job.failures)
            queue.appendleft(job)
            self._changed()
            return
        except InsufficientBalanceError as exc:
            self._observe_bucket(client, sent)
            self._reject(job, exc)
            for other in list(queue):  # the rest would be refused the same way
                queue.remove(other)
                other.status, other.error = "rejected", f"not sent: {exc.message}"
                other.error_code = exc.code
                self._finish(other)
            return
        except AurousError as exc:
            self._observe_bucket(client, sent)
            self._reject(job, exc)
            return
        except Exception as exc:  # a bug or the ledger: the row (if any) stays for resume
            self._bucket.release()
            log.exception("create of job %s failed", job.index)
            job.status, job.error = "failed", f"{type(exc).__name__}: {exc}"
            self._finish(job)
            return
        self._observe_bucket(client, sent)
        if self._cap < self.max_in_flight:
            self._since_429 += 1
            if self._since_429 >= 10:
                self._cap, self._since_429 = self._cap + 1, 0
        job.answered_at = time.monotonic()
        self._apply_record(job, record)

    def _observe_bucket(self, client: Any, sent: float) -> None:
        state = client.rate_limits.get("images_post")
        if state is None:
            self._bucket.release()
            return
        headers = {
            "x-ratelimit-limit": str(state.limit),
            "x-ratelimit-remaining": str(state.remaining),
            "x-ratelimit-reset": str(state.reset),
        }
        self._bucket.observe(headers, sent, time.time())

    def _reject(self, job: Job, exc: Any) -> None:
        job.status = "rejected"
        job.error, job.error_code = str(exc), getattr(exc, "code", None)
        self._finish(job)

    def _apply_record(self, job: Job, record: Any) -> None:
        """Take the ledger's view of a job (after a create, or when loading)."""
        job.generation_id = record.generation_id
        job.created_at = record.created_at
        job.held, job.charged = record.held, record.charged
        if record.estimate is not None and job.estimate is None:
            job.estimate = record.estimate
        if record.error_message:
            job.error, job.error_code = record.error_message, record.error_code
        status = _server_status(record.status)
        if status == "submitting" and record.generation_id is None:
            status = "queued"
        job.status = status
        if job.terminal:
            self._finish(job)
        self._changed()

    # -- polling ----------------------------------------------------------------------------

    async def _poll(self, client: Any) -> None:
        active = {j.generation_id: j for j in self._active() if j.generation_id}
        if not active:
            return
        result = await polling.poll(client, {g: j.created_at for g, j in active.items()})
        self.stats.polls += 1
        self.stats.poll_requests += result.requests
        changed = [g for g in result.seen.values() if g.status != active[g.id].status]
        if changed:
            self.ledger.record_generations(self.env, changed)
        finished = False
        for gen_id, gen in result.seen.items():
            job = active[gen_id]
            job.generation = gen
            if gen.cost is not None:
                if gen.is_terminal:
                    job.charged = gen.cost.amount
                else:
                    job.held = gen.cost.amount
            new = _server_status(gen.status)
            if new != job.status:
                job.status = new
                self._changed()
            if gen.is_terminal:
                self._learn_latency(gen)
                job.error = gen.error_message
                self._finish(job)
                finished = True
        for gen_id in result.missing:
            job = active[gen_id]
            job.status, job.error = "lost", "the server no longer knows this generation"
            self._finish(job)
        if finished:
            self._blind_gap = 0.1
        else:
            self._blind_gap = min(self.max_poll_interval, self._blind_gap * 1.25)

    def _learn_latency(self, gen: Any) -> None:
        if gen.duration_ms is not None:
            self._latency.add(gen.duration_ms / 1000.0)
        elif (
            gen.created_at is not None
            and gen.completed_at is not None
            and gen.status != "cancelled"
        ):
            self._latency.add((gen.completed_at - gen.created_at).total_seconds())

    async def _cancel_one(self, client: Any, job: Job) -> None:
        from aurous_nb.client import AurousError, InvalidRequestError

        sent = time.time()
        gen = None
        try:
            self.stats.cancels += 1
            gen = await client.images.cancel(job.generation_id)
        except InvalidRequestError:  # already ended another way: read how
            self._observe_bucket(client, sent)
            try:
                gen = await client.images.get(job.generation_id)
            except AurousError as exc:
                log.warning("could not read job %s after a refused cancel: %s", job.index, exc)
        except AurousError as exc:
            self._observe_bucket(client, sent)
            log.warning("could not cancel job %s: %s", job.index, exc)
            job.cancel_sent = False
            return
        else:
            self._observe_bucket(client, sent)
        if gen is None:
            return
        self.ledger.record_generation(self.env, gen)
        job.generation = gen
        job.status = _server_status(gen.status)
        if gen.cost is not None:
            job.charged = gen.cost.amount if gen.is_terminal else job.charged
        if job.terminal:
            self._finish(job)
        self._changed()

    # -- ledger: what earlier runs already did ------------------------------------------------

    def _load(self) -> None:
        """Match every not-yet-known job with its ledger row (latest attempt)."""
        ledger = self.ledger
        for job in self.jobs:
            if job.status != "queued" or job.resend:
                continue
            record = ledger.job(job.key)
            while True:
                nxt = ledger.job(f"{job.base_key}-r{job.attempt + 1}")
                if nxt is None:
                    break
                job.attempt += 1
                record = nxt
            if record is None:
                continue
            if record.generation_id is None and record.status == "submitting":
                if record.submitted_at and time.time() - record.submitted_at > IDEMPOTENCY_WINDOW_S:
                    ledger.mark(
                        job.key,
                        "lost",
                        error_code="idempotency_window_passed",
                        error_message="never answered, and too old to re-send safely",
                    )
                    job.status, job.error = "lost", "never answered; too old to re-send"
                    continue
                job.resend = True  # sent before, answer unknown: same key again
                job.estimate = record.estimate
                continue
            self._apply_record(job, record)
            if not job.terminal:
                job.answered_at = time.monotonic()
        self._loaded = True

    # -- endings and callbacks ----------------------------------------------------------------

    def _finish(self, job: Job) -> None:
        if job.finished_at is not None:
            return
        job.finished_at = time.monotonic()
        self._changed()
        if job.ok and self._should_download():
            task = asyncio.ensure_future(self._download_then_notify(job))
            self._downloads.add(task)
            task.add_done_callback(self._downloads.discard)
        else:
            self._notify_job(job)

    def _should_download(self) -> bool:
        from aurous_nb import outputs

        return outputs.should_download(self.download)

    async def _download_then_notify(self, job: Job) -> None:
        from aurous_nb import outputs

        try:
            client = self._run_client or self._client
            if client is None:
                raise RuntimeError("no client outside a run")
            job.files = await outputs.adownload_outputs(
                client, self.ledger, job.generation or job.generation_id
            )
        except Exception as exc:
            log.warning("could not cache outputs of job %s: %s", job.index, exc)
        self._notify_job(job)

    def _notify_job(self, job: Job) -> None:
        if self.on_job is None:
            return
        try:
            self.on_job(job)
        except Exception:
            log.exception("on_job callback failed")

    def _changed(self) -> None:
        self._version += 1
        self._poke()

    def _poke(self) -> None:
        if self._wake is not None:
            self._wake.set()

    def _emit(self, force: bool = False) -> None:
        if self.on_progress is None or (self._emitted == self._version and not force):
            return
        self._emitted = self._version
        try:
            self.on_progress(self.progress())
        except Exception:
            log.exception("on_progress callback failed")

    # -- clients ------------------------------------------------------------------------------

    def _open_client(self) -> Any:
        from aurous_nb.client import AsyncClient

        return AsyncClient(
            api_key=self._client_options["api_key"], base_url=self._client_options["base_url"]
        )


def _async_client(client: Any) -> Any:
    """An AsyncClient for ``client`` (a blocking Client shares its key and settings)."""
    from aurous_nb.client import AsyncClient, Client

    if isinstance(client, Client):
        return AsyncClient(
            api_key=client._key,  # type: ignore[arg-type]  # the Secret, never revealed
            base_url=client.base_url,
            version=client.version,
            timeout=client.timeout,
            max_retries=client.max_retries,
        )
    return client


def _base_url(base_url: str | None) -> str:
    import os

    from aurous_nb.client._core import DEFAULT_BASE_URL

    return (base_url or os.environ.get("AUROUS_BASE_URL") or DEFAULT_BASE_URL).rstrip("/")


def run_batch(jobs: Iterable[JobSpec | Mapping[str, Any]], **options: Any) -> list[Job]:
    """``Batch(jobs, **options).run()``: the one-liner for scripts."""
    return Batch(jobs, **options).run()

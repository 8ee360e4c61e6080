"""The batch engine: many image and video jobs at the pace the rate limits allow.

One asyncio loop drives a batch. It prices the batch before spending (:mod:`aurous_nb.work.quote`),
then sends creates as fast as the ``images_post`` bucket refills (:mod:`aurous_nb.work.pacing`),
keeping at most ``max_in_flight`` jobs unfinished so the team's concurrency cap never answers
429. Running jobs are polled in bulk (:mod:`aurous_nb.work.polling`) when the observed latency says
some are likely done, so a 200-job batch costs a few dozen reads rather than one per job per
tick. A slow job holds only its own slot.

Every job goes through the ledger: its row (idempotency key, canonical request) is written
before the create leaves, and every answer and status change after. Idempotency keys are derived
from the batch name and each spec's stable key, so running the same batch again -- after a
kernel restart, or by re-running the cell -- finds its jobs in the ledger and collects them
instead of buying them twice.

With a reachable webhook URL (``webhooks=``, :mod:`aurous_nb.work.receiver`) each create carries it
and jobs end when their delivery arrives; polling then only finds deliveries that never came.

``await batch.run_async()`` (or ``batch.start()``, a task, for widgets) runs it on the current
loop; ``batch.run()`` blocks, for scripts and magics (inside Jupyter's running loop it uses
nest_asyncio). Jobs and progress counts are in :mod:`aurous_nb.work.batch_state`; what a failed
create means for its job in :mod:`aurous_nb.work.create_errors`; cancelling in
:mod:`aurous_nb.work.cancel`; webhook deliveries in :mod:`aurous_nb.work.deliveries`; the client
and checks made before any run in :mod:`aurous_nb.work.batch_setup`.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import math
import time
import uuid
from collections import deque
from collections.abc import Callable, Coroutine, Iterable, Mapping, Sequence
from typing import Any

from aurous_nb.statuses import (
    BATCH_FAILED,
    BATCH_RUNNING,
    CANCELLED,
    LOST,
    QUEUED,
    RETRYABLE,
    SUBMITTING,
    TERMINAL,
    UNKNOWN,
    batch_status,
)
from aurous_nb.work import batch_setup, cancel, caps, create_errors, deliveries, polling
from aurous_nb.work import spec as jobspec
from aurous_nb.work.batch_state import Job, Progress, Stats, rows, summary_html, tally
from aurous_nb.work.create_errors import MAX_CREATE_FAILURES
from aurous_nb.work.pacing import BucketModel, LatencyModel, SlotCap
from aurous_nb.work.quote import BudgetExceededError, Quote, check, quote
from aurous_nb.work.reuse import resendable
from aurous_nb.work.spec import JobSpec

__all__ = [
    "RETRYABLE",
    "TERMINAL",
    "Batch",
    "BudgetExceededError",
    "Job",
    "JobSpec",
    "Progress",
    "Quote",
    "Stats",
    "run_batch",
]

log = logging.getLogger("aurous_nb.work.batch")

QUOTE_FRESH_S = 30.0  # a price() this recent is reused by the run that follows
SLOW_START = 8  # creates awaiting an answer, at first; then as many as were accepted
CONTRACT_BUCKET = (120, 1.0)  # images_post: 120 burst, one a second (contract section 6)

Callback = Callable[[Any], Any]


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
        name: names the batch's jobs in the ledger. A job is identified by the environment,
            ``name``, ``notebook`` and ``cell`` (when given) and its request, so the same batch
            run again (or after a restart) collects instead of buying. Pass ``fresh=True`` for
            a new purchase of the same requests. On a team's ledger the person is part of
            it too, so two people running one shared notebook each buy their own.
        reuse: ``"me"`` (default) collects only your own earlier purchases; ``"team"`` also
            collects a teammate's run of the same batch on a team's ledger (one purchase for all).
        max_in_flight: unfinished jobs at once (the team's concurrency cap; 50 by default).
        on_progress: called with a :class:`Progress` whenever counts change.
        on_job: called with each :class:`Job` once it ends (after its outputs are cached).
        download: cache outputs on success (default: ``AUROUS_NB_AUTO_DOWNLOAD``, on).
        webhooks: a :class:`~aurous_nb.work.receiver.WebhookReceiver` whose URL the API can reach
            (or ``True`` for a loopback one per run, enough for the sandbox): each create
            carries its ``webhook_url`` and jobs end when the delivery arrives; polling only
            catches deliveries that never come.
        give_up_after: unanswered attempts of one create (connection lost, 5xx, in-flight
            409) before the engine stops trying it for this run. The job is then ``unknown``:
            the server may have it; a re-run or :meth:`retry_failed` re-sends it with its own
            key, so it is never bought twice.
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
        webhooks: Any = None,
        give_up_after: int = MAX_CREATE_FAILURES,
        reuse: str = "me",
        labels: Mapping[str, Mapping[Any, str]] | None = None,
    ) -> None:
        from aurous_nb.client._params import check_float
        from aurous_nb.config import env_for, is_sandbox_env

        if max_in_flight < 1:
            raise ValueError("max_in_flight must be at least 1")
        if (
            isinstance(give_up_after, bool)
            or not isinstance(give_up_after, int)
            or give_up_after < 0
        ):
            raise ValueError("give_up_after must be a whole number, 0 or more")
        self.give_up_after = give_up_after
        #: ``{axis: {value: label}}``: how rows() names a value (a character id by its name)
        self.labels = {k: dict(v) for k, v in (labels or {}).items()}
        check_float("min_poll_interval", min_poll_interval, 0, above=True)
        check_float("max_poll_interval", max_poll_interval, min_poll_interval)
        self.budget = budget  # checked before any client is opened
        self._client, self._open_client = batch_setup.clients(client, api_key, base_url)
        self.base_url = (
            str(self._client.base_url) if self._client else batch_setup.base_url(base_url)
        )
        if client is not None and self._client is None:
            self.base_url = str(client.base_url)
        self.env = env_for(self.base_url)
        if webhooks is True and not is_sandbox_env(self.env):
            raise ValueError(
                "webhooks=True listens on loopback, which only a local sandbox can reach; the "
                "hosted API calls https URLs: pass WebhookReceiver(public_url='https://...')"
            )
        self._ledger = ledger
        self.name = uuid.uuid4().hex if fresh else (name or "")
        parts = [self.env, self.name, notebook or "", cell or ""]
        who = batch_setup.buyer(ledger, reuse)
        scope = "\x00".join(parts if who is None else [*parts, who])
        self.id = hashlib.sha256(scope.encode()).hexdigest()[:12]
        self.max_in_flight = max_in_flight
        self.on_progress = on_progress
        self.on_job = on_job
        self.download = download
        self.check_balance = check_balance
        self.notebook, self.cell = notebook, cell
        self.min_poll_interval, self.max_poll_interval = min_poll_interval, max_poll_interval
        specs = jobspec.specs_from(jobs)
        batch_setup.validate(specs)
        self.jobs: list[Job] = [Job(i, s, f"ab-{self.id}-{s.key}") for i, s in enumerate(specs)]
        self.stats = Stats()
        self.last_quote: Quote | None = None
        self._task: asyncio.Task[list[Job]] | None = None
        self._stopping = False
        self._started_at: float | None = None
        self._ended_at: float | None = None
        self._bucket = BucketModel()
        self._latency = LatencyModel()
        self._slots = SlotCap(max_in_flight)
        self._wake: asyncio.Event | None = None
        self._clock = polling.PollClock(min_poll_interval, max_poll_interval)
        self._version = 0
        self._emitted = -1
        self._quoted_at = -math.inf
        self._downloads: set[asyncio.Task[Any]] = set()
        self._run_client: Any = None
        self.webhooks = webhooks
        self._receiver: Any = None  # the started receiver during a run
        self._by_generation: dict[str, Job] = {}
        self._early: dict[str, Any] = {}

    # -- construction helpers ---------------------------------------------------------------

    @classmethod
    def grid(
        cls,
        prompts: Sequence[str] | str | None = None,
        loras: Sequence[str | None] | str | None = None,
        sizes: Sequence[str | None] | str | None = None,
        seeds: Sequence[int | None] | int | None = None,
        counts: Sequence[int | None] | int | None = None,
        *,
        axes: Mapping[str, Any] | None = None,
        params: Mapping[str, Any] | None = None,
        characters: Sequence[Any] | Any | None = None,
        **options: Any,
    ) -> Batch:
        """A batch of every prompt x LoRA x size x seed x count x ``axes`` (see
        :func:`jobspec.grid`); ``params`` go into every request, ``options`` to :class:`Batch`.

        ``characters`` (names, ``char_`` ids or Character objects; or a ``character`` axis)
        are looked up first: each cell's request carries the ``character_id``, and rows()
        the name. An unknown, deleted or not ready one is refused before anything is priced.
        """
        if characters is not None or (axes or {}).get("character") is not None:
            from aurous_nb.work import characters as work_characters

            axes, names = work_characters.batch_axis(axes, characters, options)
            labels = {**dict(options.pop("labels", None) or {}), "character": names}
            options["labels"] = labels
        specs = jobspec.grid(prompts, loras, sizes, seeds, counts, axes=axes, **dict(params or {}))
        return cls(specs, **options)

    @classmethod
    def from_ledger(cls, name: str, **options: Any) -> Batch:
        """Rebuild a named batch from the ledger alone (after a restart, without its specs).

        Jobs come back in their original order; grid cells are not (the ledger keeps the
        request, not the cell).
        """
        import json

        batch = cls([], name=name, **options)
        prefix = f"ab-{batch.id}-"
        _, rows = batch.ledger.query(
            "SELECT idempotency_key, media_type, request FROM generations "
            "WHERE substr(idempotency_key, 1, ?) = ? ORDER BY row_id",
            (len(prefix), prefix),
        )
        specs: dict[str, JobSpec] = {}
        for key, media_type, request in rows:
            spec_key = key[len(prefix) :].split("-r", 1)[0]
            if spec_key not in specs and request:
                specs[spec_key] = JobSpec(media_type, json.loads(request), key=spec_key)
        batch.jobs = [Job(i, s, prefix + s.key) for i, s in enumerate(specs.values())]
        return batch

    @property
    def budget(self) -> float | None:
        """The cap in credits (None: no cap); a NaN or infinite one is refused, since it would
        cap nothing."""
        return self._budget

    @budget.setter
    def budget(self, value: float | None) -> None:
        from aurous_nb.client._params import check_float

        self._budget = None if value is None else check_float("budget", value, 0)

    @property
    def ledger(self) -> Any:
        if self._ledger is None:
            from aurous_nb.store.ledger import default_ledger

            self._ledger = default_ledger()
        return self._ledger

    # -- views ------------------------------------------------------------------------------

    def __len__(self) -> int:
        return len(self.jobs)

    def __repr__(self) -> str:
        return f"<Batch {self.name or self.id} jobs={len(self.jobs)} {self.progress()}>"

    def _repr_html_(self) -> str:
        """A static summary (counts, then the first jobs) for saved notebooks and nbviewer."""
        return summary_html(self.name or self.id, self.progress(), self.jobs)

    @property
    def running(self) -> bool:
        return self._task is not None and not self._task.done()

    def results(self) -> list[Job]:
        """The jobs that succeeded, in order."""
        return [j for j in self.jobs if j.ok]

    def failed(self) -> list[Job]:
        return [j for j in self.jobs if j.status in BATCH_FAILED]

    def progress(self) -> Progress:
        counts, spent, held = tally(self.jobs)
        now = time.monotonic()
        start = self._started_at
        elapsed = 0.0 if start is None else (self._ended_at or now) - start
        finished = counts["queued"] == 0 and counts["running"] == 0
        return Progress(
            total=len(self.jobs),
            spent=spent,
            held=held,
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
        tokens = max(0.0, self._bucket.tokens) if self._bucket.known else CONTRACT_BUCKET[0]
        by_rate = max(0.0, queued - tokens) * per_token
        by_slots = queued * latency / self._slots.value if latency else 0.0
        return max(by_rate, by_slots) + (latency or 0.0)

    def rows(self) -> list[dict[str, Any]]:
        """One dict per job (parameters, status, cost, files): what a DataFrame is built from;
        an axis with labels shows them (``character``: the name; ``character_id`` the id)."""
        out = rows(self.jobs)
        for row in out:
            for axis, names in self.labels.items():
                if axis in row:
                    row[axis] = names.get(row[axis], row[axis])
        return out

    # -- pricing ----------------------------------------------------------------------------

    async def price(self, client: Any = None) -> Quote:
        """Price the jobs still to buy (rate card where exact, one estimate per shape), with
        the available balance. Spends nothing."""
        self._load()
        own = client is None and self._client is None
        client = client or self._client or self._open_client()
        try:
            todo = [j for j in self.jobs if j.status == QUEUED]
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
        self._load()
        if self.running:
            self._poke()
            assert self._task is not None
            return await asyncio.shield(self._task)
        if any(not j.terminal for j in self.jobs):
            return await self.start()
        return self.jobs

    def retry_failed(self, statuses: Iterable[str] = RETRYABLE) -> int:
        """Queue failed jobs again, each with a new idempotency key, and ``unknown`` ones (never
        answered: the server may have them) with their own key; returns how many.

        Run the batch again (``run()``/``start()``) to send them.
        """
        wanted = set(statuses)
        n = 0
        for j in self.jobs:
            if j.status == UNKNOWN and j.status in wanted:
                n += self._requeue_unknown(j)
            elif j.status in wanted:
                j.attempt += 1
                j.status, j.generation_id, j.generation = QUEUED, None, None
                j.held = j.charged = j.created_at = j.answered_at = j.finished_at = None
                j.error = j.error_code = None
                j.failures, j.resend, j.cancel_sent = 0, False, False
                n += 1
        if n:
            self._stopping = False
            self._changed()
        return n

    def _requeue_unknown(self, job: Job) -> int:
        """Queue an unknown job to be re-sent with its own key (the server replays or makes it)."""
        job.status, job.resend, job.failures = QUEUED, True, 0
        job.error = job.error_code = None
        job.not_before = 0.0
        self._changed()
        return 1

    # -- the loop ---------------------------------------------------------------------------

    async def _run(self) -> list[Job]:
        own = self._client is None
        client = self._client or self._open_client()
        self._run_client = client
        self._wake = asyncio.Event()
        self._started_at = time.monotonic()
        self._ended_at = None
        own_receiver = self.webhooks is True
        try:
            if self.webhooks:
                from aurous_nb.work.receiver import WebhookReceiver

                receiver = WebhookReceiver() if own_receiver else self.webhooks
                self._receiver = await receiver.start()
                self._receiver.subscribe(self._on_webhook)
            for job in self.jobs:  # a run again re-sends what an earlier one never heard back
                if job.status == UNKNOWN:
                    self._requeue_unknown(job)
            self._load()
            todo = [j for j in self.jobs if j.status == QUEUED]
            if todo and not self._stopping:
                fresh = time.monotonic() - self._quoted_at < QUOTE_FRESH_S
                if not fresh or any(j.estimate is None for j in todo):
                    await self.price(client)
                assert self.last_quote is not None
                needed = sum(j.estimate or 0.0 for j in todo)
                check(
                    needed,
                    budget=self.budget,
                    available=self.last_quote.available_credits,
                    committed=self.committed(),
                )
                caps.say(caps.check(self.ledger, self.env, self.notebook, needed))
            await self._drive(client)
            if self._downloads:
                await asyncio.gather(*list(self._downloads), return_exceptions=True)
        finally:
            if self._receiver is not None:
                self._receiver.unsubscribe(self._on_webhook)
                if own_receiver:
                    await self._receiver.close()
                self._receiver = None
            self._early.clear()
            self._ended_at = time.monotonic()
            self._emit(force=True)
            self._run_client = None
            if own:
                await client.close()
        return self.jobs

    async def _drive(self, client: Any) -> None:
        creator = client.with_options(max_retries=0)  # creates are retried here, key and all
        loop = asyncio.get_running_loop()
        tasks: set[asyncio.Task[Any]] = set()
        poll_task: asyncio.Task[Any] | None = None
        queue = deque(j for j in self.jobs if j.status == QUEUED)
        assert self._wake is not None

        def spawn(coro: Coroutine[Any, Any, Any]) -> asyncio.Task[Any]:
            task = asyncio.ensure_future(coro)
            tasks.add(task)
            task.add_done_callback(tasks.discard)
            task.add_done_callback(self._reap)
            return task

        try:
            while True:
                now = time.monotonic()
                wake_at = math.inf
                if self._stopping:
                    wake_at = cancel.stop(self, client, queue, now, spawn)
                blocked = False
                while queue and not self._stopping:
                    if self._in_flight() >= self._slots.value:
                        blocked = True
                        break
                    if self._unanswered() >= max(SLOW_START, self._accepted()):
                        break  # the next answers say whether the cap is nearer than we think
                    job = next((j for j in queue if j.not_before <= now), None)
                    if job is None:
                        wake_at = min(wake_at, min(j.not_before for j in queue))
                        break
                    wait = self._bucket.wait_time()
                    if wait > 0:
                        wake_at = min(wake_at, now + wait)
                        break
                    queue.remove(job)
                    job.status = SUBMITTING
                    spawn(self._create(creator, job, queue, self._bucket.reserve()))
                    self._changed()
                if poll_task is None or poll_task.done():
                    answered = [
                        j.answered_at
                        for j in self.jobs
                        if j.status in BATCH_RUNNING and j.answered_at is not None
                    ]
                    due = self._clock.due(
                        now,
                        answered,
                        self._latency,
                        blocked=blocked,
                        webhooks=self._receiver is not None,
                    )
                    if due <= now:
                        self._clock.polled(now)
                        poll_task = spawn(self._poll(client))
                    else:
                        wake_at = min(wake_at, due)
                self._emit()
                if not queue and not tasks and all(j.terminal for j in self.jobs):
                    break
                if not tasks and not queue and not self._active():
                    break  # nothing left that this loop can move
                timeout = None if wake_at == math.inf else max(0.0, wake_at - time.monotonic())
                # (not asyncio.wait_for: on 3.10/3.11 it can swallow a cancel that races a wake)
                timer = None if timeout is None else loop.call_later(timeout, self._wake.set)
                try:
                    await self._wake.wait()
                finally:
                    if timer is not None:
                        timer.cancel()
                self._wake.clear()
        finally:
            for task in list(tasks):
                task.cancel()
            if tasks:
                await asyncio.gather(*tasks, return_exceptions=True)

    def _reap(self, task: asyncio.Task[Any]) -> None:
        if not task.cancelled() and task.exception() is not None:
            log.warning("a batch task failed: %r", task.exception())
        self._poke()

    def _active(self) -> list[Job]:
        return [j for j in self.jobs if j.status in BATCH_RUNNING]

    def _in_flight(self) -> int:
        return sum(1 for j in self.jobs if j.status in BATCH_RUNNING)

    def _unanswered(self) -> int:
        return sum(1 for j in self.jobs if j.status == SUBMITTING)

    def _accepted(self) -> int:
        return sum(1 for j in self.jobs if j.status in BATCH_RUNNING and j.generation_id)

    # -- one create -------------------------------------------------------------------------

    async def _create(self, client: Any, job: Job, queue: deque[Job], ticket: int) -> None:
        from aurous_nb.work import jobs as jobs_mod

        sent = time.time()
        try:
            record = self.ledger.job(job.key)
            if record is None:
                request = dict(job.request)
                refs = job.spec.refs
                if refs is not None:  # uploaded now, once per content (the client remembers)
                    request.pop("reference_images", None)
                    request["reference_image_urls"] = await client.files.resolve_many(
                        refs.wire_sources()
                    )
                if self._receiver is not None and job.media_type in ("image", "video"):
                    request.setdefault("webhook_url", self._receiver.url)
                record = jobs_mod.prepare(  # the one create path: the caps are checked there
                    client,
                    self.ledger,
                    job.media_type,
                    request,
                    key=job.key,
                    estimate=job.estimate,
                    notebook=self.notebook,
                    cell=self.cell,
                    warn=False,  # said once for the whole batch, before the first create
                )
            self.stats.creates += 1
            record = await jobs_mod.asend(client, self.ledger, record)
        except Exception as exc:  # what it means for the job: aurous_nb.work.create_errors
            create_errors.apply(self, job, queue, ticket, sent, exc)
            return
        self._observe_bucket(client, ticket, sent)
        self._slots.accepted()
        job.answered_at = time.monotonic()
        self._apply_record(job, record)
        deliveries.answered(self, job)

    def _observe_bucket(self, client: Any, ticket: int, sent: float) -> None:
        state = client.rate_limits.get("images_post")
        if state is None:  # no X-RateLimit-* headers: pace by the contract's numbers
            self._bucket.release(ticket)
            self._bucket.assume(*CONTRACT_BUCKET)
            return
        self._bucket.reading(ticket, state.limit, state.remaining, state.reset, sent, time.time())

    def _observe_error(self, ticket: int, exc: Any, sent: float) -> None:
        """An error answer carries its own rate-limit headers (none: it never left)."""
        headers = exc.headers if getattr(exc, "status", None) else {}
        if not any(k.lower().endswith("ratelimit-remaining") for k in headers):
            self._bucket.release(ticket)
            return
        throttled = exc.status == 429 and exc.code != "concurrency_limit_exceeded"
        self._bucket.observe(ticket, headers, sent, time.time(), throttled=throttled)

    def _apply_record(self, job: Job, record: Any) -> None:
        """Take the ledger's view of a job (after a create, or when loading)."""
        job.generation_id = record.generation_id
        if job.generation_id:
            self._by_generation[job.generation_id] = job
        job.created_at = record.created_at
        job.held, job.charged = record.held, record.charged
        if record.estimate is not None and job.estimate is None:
            job.estimate = record.estimate
        if record.error_message:
            job.error, job.error_code = record.error_message, record.error_code
        status = batch_status(record.status)
        if status == SUBMITTING and record.generation_id is None:
            status = QUEUED
        job.status = status
        if job.terminal:
            self._finish(job)
        self._changed()

    # -- polling ----------------------------------------------------------------------------

    async def _poll(self, client: Any) -> None:
        from aurous_nb.work import jobs as jobs_mod

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
            finished = self._apply_generation(active[gen_id], gen) or finished
        for gen_id in result.missing:
            job = active[gen_id]
            record = self.ledger.find(gen_id, self.env)
            if record is not None:  # so no later run or resume polls it again
                jobs_mod.forgotten(self.ledger, record)
            job.status, job.error = LOST, "the server no longer knows this generation"
            self._finish(job)
        self._clock.result(finished)

    def _apply_generation(self, job: Job, gen: Any) -> bool:
        """Take a fresh generation (from a poll or a webhook); True when it just ended."""
        job.generation = gen
        if gen.cost is not None:
            if gen.is_terminal:
                job.charged = gen.cost.amount
            else:
                job.held = gen.cost.amount
        new = batch_status(gen.status)
        if new != job.status:
            job.status = new
            self._changed()
        if not gen.is_terminal:
            return False
        self._learn_latency(gen)
        job.error = gen.error_message
        self._finish(job)
        return True

    # -- webhooks -----------------------------------------------------------------------------

    def _on_webhook(self, payload: dict[str, Any]) -> None:
        """What the receiver calls with each delivery (see :mod:`aurous_nb.work.deliveries`)."""
        deliveries.apply(self, payload)

    def _learn_latency(self, gen: Any) -> None:
        if gen.duration_ms is not None:
            self._latency.add(gen.duration_ms / 1000.0)
        elif (
            gen.created_at is not None and gen.completed_at is not None and gen.status != CANCELLED
        ):
            self._latency.add((gen.completed_at - gen.created_at).total_seconds())

    # -- ledger: what earlier runs already did ------------------------------------------------

    def _load(self) -> None:
        """Match every not-yet-known job with its ledger row (latest attempt)."""
        ledger = self.ledger
        for job in self.jobs:
            if job.status != QUEUED or job.resend:
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
            if record.generation_id is None and record.status == SUBMITTING:
                if resendable(ledger, record) is None:
                    job.status, job.error = LOST, "never answered; too old to re-send"
                    continue
                job.resend = True  # sent before, answer unknown: same key again
                job.estimate = record.estimate
                continue
            self._apply_record(job, record)
            if not job.terminal:
                job.answered_at = time.monotonic()

    # -- endings and callbacks ----------------------------------------------------------------

    def _finish(self, job: Job) -> None:
        if job.finished_at is not None:
            return
        job.finished_at = time.monotonic()
        self._changed()
        if job.ok and self._should_download() and (self._run_client or self._client):
            task = asyncio.ensure_future(self._download_then_notify(job))
            self._downloads.add(task)
            task.add_done_callback(self._downloads.discard)
        else:
            self._notify_job(job)

    def _should_download(self) -> bool:
        from aurous_nb.store import outputs

        return outputs.should_download(self.download)

    async def _download_then_notify(self, job: Job) -> None:
        from aurous_nb.store import outputs

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


def run_batch(jobs: Iterable[JobSpec | Mapping[str, Any]], **options: Any) -> list[Job]:
    """``Batch(jobs, **options).run()``: the one-liner for scripts."""
    return Batch(jobs, **options).run()

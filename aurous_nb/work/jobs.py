"""Jobs: the write-before-send create path, status tracking, and resume after a restart.

Every create goes through :func:`submit` (or :func:`asubmit`): the ledger row, with a fresh
idempotency key and the canonical request, is committed *before* the request leaves, and the
answer is recorded when it comes back. If the kernel dies in between, :func:`resume` finds the row
and sends the *same* request with the *same* key: the server either replays its answer or, if it
never saw the first attempt, creates the generation now -- exactly once either way.

Whoever polls (resume here, the batch engine, the magics' ``wait``) hands each fresh generation
to :func:`observe`, which records the status change and, on success, downloads the outputs into
the cache (unless auto-download is off).

:func:`generate` (and :func:`agenerate`) is the ledger-aware one-call path: submit as above,
wait, cache the outputs, return the record. ``client.images.generate`` is the same without a
ledger (it saves to a directory you name); use this one when the job must survive a restart.

The module is callable: ``aurous_nb.jobs()`` lists the pending jobs of the ledger, and
``aurous_nb.work.jobs.resume(client)`` collects them.
"""

from __future__ import annotations

import logging
import sys
import time
import types
from collections.abc import Callable, Iterable, Mapping
from functools import partial
from typing import Any, TypeAlias

from aurous_nb.client._core import Sleep, StepFlow, adrive, drive
from aurous_nb.client.backoff import Backoff
from aurous_nb.config import env_for
from aurous_nb.statuses import ACTIVE, CANCELLED, LOST, REJECTED, SUCCEEDED
from aurous_nb.store import outputs
from aurous_nb.store.ledger import JobRecord, Ledger, ledger_or_default
from aurous_nb.store.payloads import parse_time
from aurous_nb.text import number
from aurous_nb.work import caps
from aurous_nb.work.reuse import IDEMPOTENCY_WINDOW_S, UNKNOWN_TEXT, is_unknown, resendable, settled

__all__ = [
    "IDEMPOTENCY_WINDOW_S",
    "JobList",
    "JobRecord",
    "acancel",
    "agenerate",
    "aobserve",
    "aobserve_many",
    "aresume",
    "asend",
    "asubmit",
    "cancel",
    "client_env",
    "forgotten",
    "generate",
    "observe",
    "observe_many",
    "pending",
    "prepare",
    "resume",
    "send",
    "submit",
]

log = logging.getLogger("aurous_nb.work.jobs")

_SINGLE_POLL_MAX = 5  # more active jobs than this are polled through list pages
_LIST_PAGES_MAX = 20


#: Where the spending caps' 80 % line goes: printed (True), nowhere (False), or a callable.
Warn: TypeAlias = bool | Callable[[str], None]


def client_env(client: Any) -> str:
    """The environment label of a client (from its base URL)."""
    return env_for(str(client.base_url))


def _kind(kind: str) -> str:
    if kind not in ("image", "video"):
        raise ValueError(f"kind must be 'image' or 'video', not {kind!r}")
    return kind


def _resource(client: Any, kind: str) -> Any:
    return client.images if kind == "image" else client.videos


def _on_create_error(ledger: Ledger, record: JobRecord, exc: BaseException) -> None:
    if record.key is None or not settled(exc):  # unknown: the row stays for a re-send
        return
    ledger.mark(
        record.key,
        REJECTED,
        error_code=getattr(exc, "code", None) or type(exc).__name__,
        error_message=str(getattr(exc, "message", "") or exc),
    )


def validate(kind: str, request: Mapping[str, Any]) -> None:
    """Check a request locally, as the client would, so a bad option never leaves a ledger row."""
    from aurous_nb.client._params import image_body, video_body

    params = dict(request)
    if _kind(kind) == "image":
        image_body(params.pop("prompt", None), params)
    else:
        video_body(params.pop("video_lora_id", None), params)


def prepare(
    client: Any,
    ledger: Ledger | None,
    kind: str,
    request: Mapping[str, Any],
    *,
    notebook: str | None = None,
    cell: str | None = None,
    estimate: float | None = None,
    key: str | None = None,
    warn: Warn = True,
) -> JobRecord:
    """Write the job row (fresh key, canonical request, environment) without sending it.

    The request is validated first (raising ``ValidationError``), so nothing invalid is recorded.
    The spending caps (:mod:`aurous_nb.caps`) are checked in the transaction that writes the row:
    past one, :class:`~aurous_nb.caps.BudgetExceededError` and no row; at 80 % one line says so,
    printed, or given to ``warn`` when it is a callable (the panel's status), or not at all when
    ``warn`` is off (a batch says it once for all its jobs).
    """
    validate(kind, request)
    ledger = ledger_or_default(ledger)
    env = client_env(client)
    check = None
    notes: list[str] = []
    if caps.limits().any(notebook):
        if estimate is None:
            estimate = caps.local_price(ledger, env, kind, request, _version(client))
        check, notes = caps.guard(env, notebook, estimate, warn=warn is not False)
    record = ledger.prepare(
        env,
        _kind(kind),
        request,
        key=key,
        estimate=estimate,
        notebook=notebook,
        cell=cell,
        guard=check,
    )
    if record.key is not None:
        caps.remember(record.key)  # this kernel's spend, for a session cap set later
    for note in notes:
        if callable(warn):
            warn(note)
        else:
            caps.say(note)
    return record


def _version(client: Any) -> str | None:
    version = getattr(client, "version", None)
    return version if isinstance(version, str) else None


def _price_flow(
    client: Any, ledger: Ledger, kind: str, request: Mapping[str, Any]
) -> StepFlow[float]:
    """What a spend costs, for the caps: the ledger's rate card for the client's version, else
    ``GET /v1/pricing`` (kept), else one estimate. Nothing is spent."""
    from aurous_nb.store import snapshots
    from aurous_nb.work.quote import card_price
    from aurous_nb.work.spec import JobSpec

    env = client_env(client)
    amount = caps.local_price(ledger, env, kind, request, _version(client))
    if amount is not None:
        return amount
    card = yield partial(client.pricing)
    snapshots.keep(ledger, lambda kept: kept.record_pricing(env, card))
    amount = card_price(JobSpec(kind, dict(request)), card)
    if amount is None:
        params = {k: v for k, v in request.items() if k != "webhook_url"}
        est = yield partial(_resource(client, kind).estimate, **params)
        amount = float(est.amount)
    return amount


# -- flows (one definition each) and their sync and async drivers ---------------------------
# Each operation is written once as a step flow (``client._core.StepFlow``): a client call is
# yielded as a zero-argument callable, and the client's own driver runs it (``client.drive``),
# so the blocking and the asyncio entry points differ only in which client they are given.


def _submit_flow(
    client: Any,
    ledger: Ledger | None,
    kind: str,
    request: Mapping[str, Any],
    notebook: str | None,
    cell: str | None,
    estimate: float | None,
    warn: Warn = True,
) -> StepFlow[JobRecord]:
    ledger = ledger_or_default(ledger)
    validate(kind, request)  # before anything is priced
    if estimate is None and caps.limits().any(notebook):
        estimate = yield from _price_flow(client, ledger, kind, request)
    record = prepare(
        client, ledger, kind, request, notebook=notebook, cell=cell, estimate=estimate, warn=warn
    )
    return (yield from _send_flow(client, ledger, record))


def _send_flow(client: Any, ledger: Ledger | None, record: JobRecord) -> StepFlow[JobRecord]:
    ledger = ledger_or_default(ledger)
    key, request = record.key, record.request
    if key is None or request is None:
        raise ValueError("only jobs written by prepare() can be sent")
    create = _resource(client, record.media_type).create
    try:
        answer = yield lambda: create(**request, idempotency_key=key)
    except BaseException as exc:
        _on_create_error(ledger, record, exc)
        raise
    return ledger.record_generation(record.env, answer, key=key)


def _generate_flow(
    client: Any,
    ledger: Ledger | None,
    kind: str,
    request: Mapping[str, Any],
    notebook: str | None,
    cell: str | None,
    timeout: float,
    download: bool | None,
) -> StepFlow[JobRecord]:
    from aurous_nb.client._params import check_float

    check_float("timeout", timeout, 0)  # before anything is bought: a NaN deadline never passes
    ledger = ledger_or_default(ledger)
    record = yield from _submit_flow(client, ledger, kind, request, notebook, cell, None)
    deadline = time.monotonic() + timeout
    gaps = Backoff()
    while record.status in ACTIVE:
        if time.monotonic() >= deadline:
            from aurous_nb.client.errors import WaitTimeoutError

            raise WaitTimeoutError(
                f"{record.generation_id} was still {record.status} after {timeout:g}s; "
                "aurous_nb.work.jobs.resume(client) collects it (nothing is bought twice)",
                generation=record,
            )
        yield Sleep(gaps.next())
        fresh = yield partial(client.images.get, record.generation_id)
        record = yield from _observe_flow(client, ledger, fresh, download)
    if record.status != SUCCEEDED:
        from aurous_nb.client.errors import GenerationFailedError
        from aurous_nb.client.models import Generation

        raise GenerationFailedError(Generation.from_json(dict(record.generation or {})))
    return record


def _observe_many_flow(
    client: Any, ledger: Ledger | None, generations: Iterable[Any], download: bool | None
) -> StepFlow[list[JobRecord]]:
    ledger = ledger_or_default(ledger)
    fresh = list(generations)
    records = ledger.record_generations(client_env(client), fresh)
    if outputs.should_download(download):
        for generation, record in zip(fresh, records, strict=True):
            if record.status == SUCCEEDED:
                try:
                    yield from outputs.download_outputs_flow(
                        client, ledger, generation, False, outputs.RETRIES
                    )
                except Exception as exc:
                    log.warning("could not cache outputs of %s: %s", record.generation_id, exc)
    return records


def _observe_flow(
    client: Any, ledger: Ledger | None, generation: Any, download: bool | None
) -> StepFlow[JobRecord]:
    [record] = yield from _observe_many_flow(client, ledger, [generation], download)
    return record


def _resume_flow(
    client: Any,
    ledger: Ledger | None,
    env: str | None,
    wait: bool,
    timeout: float | None,
    download: bool | None,
) -> StepFlow[list[JobRecord]]:
    if timeout is not None:
        from aurous_nb.client._params import check_float

        check_float("timeout", timeout, 0)
    ledger = ledger_or_default(ledger)
    env = env or client_env(client)
    handled: dict[str, JobRecord] = {}
    for r in ledger.pending(env):
        handled[_ident(r)] = yield from _restart_flow(client, ledger, r)
    deadline = None if timeout is None else time.monotonic() + timeout
    gaps = Backoff()
    while True:
        active = _active(handled)
        if active:
            handled.update((yield from _poll_flow(client, ledger, active, download)))
        if not wait or not _active(handled):
            break
        if deadline is not None and time.monotonic() >= deadline:
            break
        yield Sleep(gaps.next())
    yield from _download_missing_flow(client, ledger, env, download)
    return list(handled.values())


def _active(handled: Mapping[str, JobRecord]) -> dict[str, JobRecord]:
    return {k: r for k, r in handled.items() if r.generation_id and r.status in ACTIVE}


def _poll_flow(
    client: Any, ledger: Ledger, active: Mapping[str, JobRecord], download: bool | None
) -> StepFlow[dict[str, JobRecord]]:
    """One poll of every active job: list pages cover many at once, single GETs the rest."""
    by_id = {r.generation_id: k for k, r in active.items()}
    updated: dict[str, JobRecord] = {}
    if len(by_id) > _SINGLE_POLL_MAX:
        oldest = min((r.created_at or 0.0) for r in active.values())
        cursor = None
        for _ in range(_LIST_PAGES_MAX):
            page = yield partial(client.images.list_page, limit=100, starting_after=cursor)
            hits = [g for g in page.data if _gen_id(g) in by_id]
            for record in (yield from _observe_many_flow(client, ledger, hits, download)):
                updated[by_id.pop(record.generation_id)] = record
            if not by_id or not page.has_more or _page_older_than(page, oldest):
                break
            cursor = page.next_cursor
    for gen_id, ident in by_id.items():
        try:
            fresh = yield partial(client.images.get, gen_id)
        except Exception as exc:
            updated[ident] = _unknown_to_server(ledger, active[ident], exc)
            continue
        updated[ident] = yield from _observe_flow(client, ledger, fresh, download)
    return updated


def _unknown_to_server(ledger: Ledger, record: JobRecord, exc: Exception) -> JobRecord:
    """A job the server no longer knows is marked ``lost`` instead of being polled forever;
    any other error propagates."""
    from aurous_nb.client import errors

    if not isinstance(exc, errors.NotFoundError):
        raise exc
    return forgotten(ledger, record)


def forgotten(ledger: Ledger | None, record: JobRecord) -> JobRecord:
    """Mark a job the server answers 404 for as ``lost``: a restarted sandbox (every loopback
    sandbox is the one ``sandbox`` environment, and a new one knows none of the old ids), or a
    row the platform purged. Its ledger row, and any outputs already cached, stay."""
    return ledger_or_default(ledger).mark(
        record,
        LOST,
        error_code="not_found_on_server",
        error_message=f"the server no longer knows {record.generation_id}",
    )


def _gen_id(generation: Any) -> str | None:
    raw = getattr(generation, "raw", generation)
    return str(raw.get("id")) if isinstance(raw, Mapping) else None


def _page_older_than(page: Any, moment: float) -> bool:
    """Whether a newest-first page already reaches before ``moment`` (nothing older to find)."""
    rows = list(page.data)
    if not rows:
        return True
    raw = getattr(rows[-1], "raw", rows[-1])
    created = parse_time(raw.get("created_at")) if isinstance(raw, Mapping) else None
    return created is not None and created < moment - 1.0


def _cancel_flow(
    client: Any, ledger: Ledger | None, record: JobRecord, sent: bool
) -> StepFlow[JobRecord]:
    ledger = ledger_or_default(ledger)
    if record.key is not None and not record.answered and record.status in ACTIVE:
        if not sent:
            return ledger.mark(record.key, CANCELLED, error_code="cancelled_before_sending")
        record = yield from _send_flow(client, ledger, record)
    gen_id = record.generation_id
    if gen_id is None or record.status not in ACTIVE:
        return record
    from aurous_nb.client import errors

    try:
        answer = yield partial(client.images.cancel, gen_id)
    except errors.InvalidRequestError as exc:  # it finished first: record how it ended
        if exc.code != "generation_not_cancellable":
            raise
        answer = yield partial(client.images.get, gen_id)
    return (yield from _observe_flow(client, ledger, answer, None))


def _restart_flow(client: Any, ledger: Ledger, record: JobRecord) -> StepFlow[JobRecord]:
    key = record.key
    if record.answered or key is None:
        return record
    if resendable(ledger, record) is None:
        return ledger.job(key) or record
    try:
        return (yield from _send_flow(client, ledger, record))
    except Exception as exc:
        log.warning("could not re-send job %s: %s", key, exc)
        return ledger.job(key) or record


def _download_missing_flow(
    client: Any, ledger: Ledger, env: str, download: bool | None
) -> StepFlow[None]:
    if not outputs.should_download(download):
        return
    for record in outputs.missing_outputs(ledger, env):
        try:
            yield from outputs.download_outputs_flow(client, ledger, record, False, outputs.RETRIES)
        except Exception as exc:
            log.warning("could not cache outputs of %s: %s", record.generation_id, exc)


# -- sync ------------------------------------------------------------------------------------


def submit(
    client: Any,
    ledger: Ledger | None,
    kind: str,
    request: Mapping[str, Any],
    *,
    notebook: str | None = None,
    cell: str | None = None,
    estimate: float | None = None,
) -> JobRecord:
    """Create one generation through the ledger: row first, then the create with its key.

    Returns the record with the server's answer (usually ``pending``). API errors propagate;
    a final refusal leaves the row ``rejected``, a retriable one leaves it ``submitting`` for
    :func:`send` or :func:`resume` to finish.
    """
    return drive(client, _submit_flow(client, ledger, kind, request, notebook, cell, estimate))


def generate(
    client: Any,
    ledger: Ledger | None,
    kind: str,
    request: Mapping[str, Any],
    *,
    notebook: str | None = None,
    cell: str | None = None,
    timeout: float = 600.0,
    download: bool | None = None,
) -> JobRecord:
    """One generation through the ledger, start to finish: the row is written before the create
    is sent, every status is recorded, the outputs are cached on success (unless ``download`` or
    auto-download says no). Returns the succeeded record; raises GenerationFailedError when it
    ends without output and WaitTimeoutError after ``timeout`` s (the job keeps running:
    :func:`resume` collects it). ``request`` holds the create's fields, ``prompt`` (or
    ``video_lora_id``) included."""
    return drive(
        client, _generate_flow(client, ledger, kind, request, notebook, cell, timeout, download)
    )


def send(client: Any, ledger: Ledger | None, record: JobRecord) -> JobRecord:
    """(Re)send the create of a prepared row with its own key and record the answer."""
    return drive(client, _send_flow(client, ledger, record))


def observe(
    client: Any,
    ledger: Ledger | None,
    generation: Any,
    *,
    download: bool | None = None,
) -> JobRecord:
    """Record a freshly fetched generation; on success, cache its outputs (auto-download)."""
    return drive(client, _observe_flow(client, ledger, generation, download))


def observe_many(
    client: Any,
    ledger: Ledger | None,
    generations: Iterable[Any],
    *,
    download: bool | None = None,
) -> list[JobRecord]:
    """Record many fresh generations in one transaction (a bulk poll, a list page), then cache
    the outputs of those that succeeded. A failed download is logged, not raised: the job is
    done, and :func:`resume` fetches missing outputs later."""
    return drive(client, _observe_many_flow(client, ledger, generations, download))


def resume(
    client: Any,
    ledger: Ledger | None = None,
    env: str | None = None,
    *,
    wait: bool = True,
    timeout: float | None = 600.0,
    download: bool | None = None,
) -> list[JobRecord]:
    """Finish every non-terminal job of ``env`` (default: the client's) without buying twice.

    Unanswered rows are re-sent with their original key and request; answered ones are polled
    (a handful one by one, many through ``GET /v1/images`` pages). With ``wait`` it polls until
    all are terminal (or ``timeout`` seconds pass); succeeded jobs have their outputs cached, and
    so do earlier successes whose download never finished. Returns the records it handled, in
    submission order.
    """
    return drive(client, _resume_flow(client, ledger, env, wait, timeout, download))


def cancel(
    client: Any, ledger: Ledger | None, record: JobRecord, *, sent: bool = True
) -> JobRecord:
    """Cancel a job and release its hold, wherever it is in its life.

    Answered and active: ``POST .../cancel``. Never answered: if the create may have left
    (``sent``, the default), it is re-sent with its key first (the server replays it, or creates
    it so it can be cancelled: a hold released at once costs nothing), so no generation is left
    running unseen; if it was certainly never sent (``sent=False``, e.g. a batch cancelled before
    reaching it), the row is just marked ``cancelled``. Terminal jobs are returned unchanged.
    """
    return drive(client, _cancel_flow(client, ledger, record, sent))


# -- async -----------------------------------------------------------------------------------


async def asubmit(
    client: Any,
    ledger: Ledger | None,
    kind: str,
    request: Mapping[str, Any],
    *,
    notebook: str | None = None,
    cell: str | None = None,
    estimate: float | None = None,
    warn: Warn = True,
) -> JobRecord:
    """:func:`submit` for an ``AsyncClient`` (``warn``: where the caps' 80 % line goes, as in
    :func:`prepare`; the panel gives its status)."""
    flow = _submit_flow(client, ledger, kind, request, notebook, cell, estimate, warn)
    return await adrive(client, flow)


async def agenerate(
    client: Any,
    ledger: Ledger | None,
    kind: str,
    request: Mapping[str, Any],
    *,
    notebook: str | None = None,
    cell: str | None = None,
    timeout: float = 600.0,
    download: bool | None = None,
) -> JobRecord:
    """:func:`generate` for an ``AsyncClient``."""
    return await adrive(
        client, _generate_flow(client, ledger, kind, request, notebook, cell, timeout, download)
    )


async def asend(client: Any, ledger: Ledger | None, record: JobRecord) -> JobRecord:
    """:func:`send` for an ``AsyncClient``."""
    return await adrive(client, _send_flow(client, ledger, record))


async def aobserve(
    client: Any, ledger: Ledger | None, generation: Any, *, download: bool | None = None
) -> JobRecord:
    """:func:`observe` for an ``AsyncClient``."""
    return await adrive(client, _observe_flow(client, ledger, generation, download))


async def aobserve_many(
    client: Any,
    ledger: Ledger | None,
    generations: Iterable[Any],
    *,
    download: bool | None = None,
) -> list[JobRecord]:
    """:func:`observe_many` for an ``AsyncClient``."""
    return await adrive(client, _observe_many_flow(client, ledger, generations, download))


async def aresume(
    client: Any,
    ledger: Ledger | None = None,
    env: str | None = None,
    *,
    wait: bool = True,
    timeout: float | None = 600.0,
    download: bool | None = None,
) -> list[JobRecord]:
    """:func:`resume` for an ``AsyncClient``."""
    return await adrive(client, _resume_flow(client, ledger, env, wait, timeout, download))


async def acancel(
    client: Any, ledger: Ledger | None, record: JobRecord, *, sent: bool = True
) -> JobRecord:
    """:func:`cancel` for an ``AsyncClient``."""
    return await adrive(client, _cancel_flow(client, ledger, record, sent))


# -- listing ---------------------------------------------------------------------------------


class JobList(list[JobRecord]):
    """A list of jobs that shows as a small table in a notebook."""

    def _repr_html_(self) -> str:
        from html import escape

        if not self:
            return "<i>no pending jobs</i>"
        head = "".join(
            f"<th style='text-align:left'>{h}</th>"
            for h in ("kind", "status", "generation", "prompt", "cost", "env", "idempotency key")
        )
        rows = []
        for r in self:
            cost = number(r.cost)
            status = UNKNOWN_TEXT if is_unknown(r) else r.status
            cells = (r.media_type, status, r.generation_id or "(not answered)",
                     (r.prompt or "")[:60], cost, r.env, r.key or "")  # fmt: skip
            rows.append(
                "<tr>"
                + "".join(f"<td style='text-align:left'>{escape(str(c))}</td>" for c in cells)
                + "</tr>"
            )
        resume = "<code>aurous_nb.jobs.resume(client)</code>"
        note = f"<p>{len(self)} pending; {resume} collects them</p>"
        return f"{note}<table><tr>{head}</tr>{''.join(rows)}</table>"


def pending(env: str | None = None, *, client: Any = None, ledger: Ledger | None = None) -> JobList:
    """Jobs that are not terminal yet (``env`` defaults to the client's, else every env)."""
    if env is None and client is not None:
        env = client_env(client)
    return JobList(ledger_or_default(ledger).pending(env))


def _ident(record: JobRecord) -> str:
    return record.key or f"{record.env}/{record.generation_id}"


class _CallableModule(types.ModuleType):
    """Lets ``aurous_nb.jobs()`` list pending jobs while ``aurous_nb.jobs.submit`` stays a module
    attribute (a module and a function cannot share the name otherwise)."""

    def __call__(
        self, env: str | None = None, *, client: Any = None, ledger: Ledger | None = None
    ) -> JobList:
        return pending(env, client=client, ledger=ledger)


sys.modules[__name__].__class__ = _CallableModule

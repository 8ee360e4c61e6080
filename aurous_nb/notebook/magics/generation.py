"""One generation from a notebook cell: reuse or buy, wait, record, show.

This is the policy behind ``%aurous generate`` / ``video`` / ``get`` / ``wait`` / ``jobs``:

* **reuse first**: the ledger is asked for an earlier job with the same canonical request in the
  same environment (and the same notebook and cell when the frontend says which; nbclient does
  not), so re-running an unchanged cell spends nothing and says "reused, 0 credits";
  ``fresh=True`` or a changed request buys a new one and says so;
* **write before send**: new jobs go through :func:`aurous_nb.work.jobs.submit`;
* **wait visibly**: :func:`aurous_nb.notebook.magics.progress.wait_for` polls with live progress
  and every state lands in the ledger; on success the outputs are cached
  (:func:`aurous_nb.work.jobs.observe`).
"""

from __future__ import annotations

import argparse
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from IPython.core.error import UsageError

from aurous_nb.notebook.magics.errors import GenerationFailed
from aurous_nb.statuses import SUCCEEDED
from aurous_nb.text import credits, number
from aurous_nb.work import reuse

if TYPE_CHECKING:
    from aurous_nb.notebook.session import Session
    from aurous_nb.store.ledger import JobRecord

__all__ = [
    "Run",
    "describe_estimate",
    "image_params",
    "jobs_table",
    "latest_pending",
    "observe",
    "show",
    "video_params",
    "wait_and_record",
]


# ----------------------------------------------------------------------------- parameters


def parse_loras(text: str) -> list[tuple[str, float]]:
    """``a:0.8,b:0.5`` (weight defaults to 1) as ``[("a", 0.8), ("b", 0.5)]``."""
    out: list[tuple[str, float]] = []
    for part in (p.strip() for p in text.split(",")):
        if not part:
            continue
        name, sep, weight = part.rpartition(":") if ":" in part else (part, "", "")
        try:
            out.append((name.strip(), float(weight) if sep else 1.0))
        except ValueError:
            raise UsageError(f"--loras: {part!r} is not NAME or NAME:WEIGHT") from None
    if not out:
        raise UsageError("--loras: give at least one NAME[:WEIGHT]")
    return out


def image_params(args: argparse.Namespace, settings: Any) -> dict[str, Any]:
    """ImageParams from parsed options, over ``--preset`` (when given), over the ``Aurous``
    defaults for size and LoRA (:func:`aurous_nb.notebook.presets.layered`)."""
    from aurous_nb.notebook import presets

    defaults = {"lora_id": settings.default_lora, "size": settings.default_size}
    try:
        preset = presets.resolve(getattr(args, "preset", None))
    except ValueError as exc:
        raise UsageError(f"--preset: {exc}") from None
    return presets.layered(defaults, preset, _typed_params(args))


def _typed_params(args: argparse.Namespace) -> dict[str, Any]:
    """The ImageParams the options name, and nothing else."""
    p: dict[str, Any] = {}
    if args.lora and args.loras:
        raise UsageError("--lora and --loras: pass one (--loras takes several with weights)")
    if args.lora:
        p["lora_id"] = args.lora
    elif args.loras:
        p["loras"] = parse_loras(args.loras)
    if args.size and (args.width or args.height):
        raise UsageError("--size and --width/--height: pass one")
    if args.size:
        p["size"] = args.size
    elif args.width or args.height:
        if not (args.width and args.height):
            raise UsageError("--width and --height go together")
        p["width"], p["height"] = args.width, args.height
    for option, field in (
        ("count", "count"),
        ("seed", "seed"),
        ("negative", "negative_prompt"),
        ("steps", "steps"),
        ("guidance", "guidance_scale"),
    ):
        value = getattr(args, option)
        if value is not None:
            p[field] = value
    if args.enhance:
        p["enhance_prompt"] = True
    return p


def video_params(args: argparse.Namespace) -> dict[str, Any]:
    """VideoParams from parsed ``%aurous video`` options."""
    p: dict[str, Any] = {}
    if args.positional:
        p["prompt"] = args.positional
    for option, field in (
        ("duration", "duration"),
        ("resolution", "resolution"),
        ("ratio", "ratio"),
        ("seed", "seed"),
        ("first_frame", "first_frame_url"),
        ("last_frame", "last_frame_url"),
    ):
        value = getattr(args, option)
        if value is not None:
            p[field] = value
    if args.camera_fixed:
        p["camera_fixed"] = True
    if args.enhance:
        p["enhance_prompt"] = True
    return p


def describe_estimate(est: Any) -> str:
    """``Estimate: 8 credits (base 8) · nothing was spent``."""
    parts = ", ".join(f"{k.replace('_', ' ')} {number(v)}" for k, v in est.breakdown.items())
    detail = f" ({parts})" if parts else ""
    return f"Estimate: {credits(est.amount)}{detail} · nothing was spent"


# ----------------------------------------------------------------------------- one run


def _from_record(record: JobRecord) -> Any:
    from aurous_nb.client.models import Generation

    return Generation.from_json(dict(record.generation or {}))


@dataclass
class Run:
    """One ``%aurous generate`` / ``video``: reuse or buy, then (optionally) wait and show."""

    session: Session
    kind: str
    request: Mapping[str, Any]
    fresh: bool = False
    budget: float | None = None
    wait: bool = True
    timeout: float = 600.0
    progress: bool = True
    download: bool = True
    context: tuple[str | None, str | None] = (None, None)
    reuse_scope: str = "me"  # "team": a teammate's purchase of this request counts too

    def execute(self) -> Any:
        s = self.session
        notebook, cell = self.context
        why = "--fresh" if self.fresh else "new request"
        from aurous_nb.work import jobs

        jobs.validate(self.kind, self.request)  # before the ledger is asked (or written)
        if not self.fresh:
            prior = s.ledger.reusable(
                s.env, self.kind, self.request, notebook=notebook, cell=cell, scope=self.reuse_scope
            )
            if prior is not None and reuse.is_unknown(prior):  # never answered: its own key again
                prior = reuse.resendable(s.ledger, prior)
            if prior is not None:
                reused = self._reuse(prior)
                if reused is not None:
                    return reused
                why = "the earlier one is gone from the server"
        estimate = self._check_budget()

        try:
            record = jobs.submit(
                s.client,
                s.ledger,
                self.kind,
                self.request,
                notebook=notebook,
                cell=cell,
                estimate=estimate,
            )
        except KeyboardInterrupt:
            print(STOPPED_SENDING)
            raise
        gen = _from_record(record)
        if not self.wait:
            print(f"Submitted {gen.id} ({why}; {gen.status}). `%aurous wait {gen.id}` collects it.")
            return show(s, gen)
        gen = self._wait(gen)
        charged = gen.cost.amount if gen.cost is not None else 0.0
        note(
            "new",
            f"New generation ({why}): {gen.id} · {credits(charged)} charged.",
        )
        return show(s, gen)

    def _check_budget(self) -> float | None:
        if self.budget is None:
            return None
        s = self.session
        if self.kind == "image":
            req = dict(self.request)
            est = s.client.images.estimate(req.pop("prompt"), **req)
        else:
            req = dict(self.request)
            est = s.client.videos.estimate(req.pop("video_lora_id"), **req)
        if est.amount > self.budget:
            raise UsageError(
                f"this costs {credits(est.amount)}, over the budget of {number(self.budget)} "
                f"by {number(est.amount - self.budget)}; nothing was spent (raise --budget)"
            )
        return float(est.amount)

    def _reuse(self, prior: JobRecord) -> Any:
        """Show the earlier result for 0 credits; ``None`` when there is nothing to show: the
        server no longer knows it (a restarted sandbox, a purged row) and its outputs are not
        all in the local cache, so the caller buys a new one."""
        s = self.session
        from aurous_nb.client.errors import NotFoundError
        from aurous_nb.store import outputs
        from aurous_nb.work import jobs

        resent = not prior.answered
        if resent:  # written, never answered: re-send with the same key
            try:
                prior = jobs.send(s.client, s.ledger, prior)
            except KeyboardInterrupt:
                print(STOPPED_SENDING)
                raise
        gen = _from_record(prior)
        try:
            gen = s.client.images.get(gen.id)
        except NotFoundError:
            cached = outputs.cached_outputs(s.ledger, gen.id, s.env)
            if prior.status != SUCCEEDED or len(cached) < prior.output_count:
                jobs.forgotten(s.ledger, prior)
                return None
        except Exception:  # offline: the ledger's copy will do
            pass
        if resent:
            note(
                "resent",
                f"Re-sent the earlier unanswered create with the same idempotency key: {gen.id} "
                f"({gen.status}). The server replays it, or makes it now: bought once either way.",
            )
        else:
            note(
                "reused",
                f"Reused, 0 credits: {gen.id} ({gen.status}) matches this request in the "
                "ledger. Use --fresh to buy a new one.",
            )
        if not gen.is_terminal:
            if not self.wait:
                return show(s, gen)
            gen = self._wait(gen)
        else:
            gen = observe(s, gen, self.download)
            _raise_if_failed(gen)
        return show(s, gen)

    def _wait(self, gen: Any) -> Any:
        return wait_and_record(self.session, gen, self.timeout, self.progress, self.download)


_BADGES = {
    "new": ("#1565c0", "new"),
    "reused": ("#2e7d32", "reused · 0 credits"),
    "resent": ("#6d4c41", "re-sent · same key"),
}

#: Said when Stop lands while a create is in flight (the server may have it).
STOPPED_SENDING = (
    "Stopped while the create was in flight, so it is unknown: the server may have it. Run "
    "the cell again (or %aurous jobs --resume): it re-sends this create with its own "
    "idempotency key, so nothing is bought twice."
)


def note(kind: str, text: str) -> None:
    """One line saying what a run did (bought new, or reused), with a coloured badge in HTML."""
    import html

    from IPython.display import display

    color, label = _BADGES[kind]
    display(  # type: ignore[no-untyped-call]
        {
            "text/plain": text,
            "text/html": (
                f'<div style="font-family:sans-serif;font-size:13px"><span style="background:'
                f'{color};color:white;border-radius:3px;padding:1px 6px;margin-right:6px">'
                f"{label}</span>{html.escape(text)}</div>"
            ),
        },
        raw=True,
    )


def wait_and_record(
    session: Session, gen: Any, timeout: float, progress: bool, download: bool
) -> Any:
    """Wait with live progress, recording every state; raise if it failed or timed out.

    The final state is recorded once, by :func:`observe` (which also caches the outputs).
    """
    from aurous_nb.client.errors import WaitTimeoutError
    from aurous_nb.notebook.magics import progress as waiting

    s = session
    expected = s.sandbox.config.latency if s.sandbox is not None else None
    try:
        gen = waiting.wait_for(
            s.client,
            gen,
            timeout=timeout,
            progress=progress,
            expected=expected,
            on_poll=lambda g: None if g.is_terminal else s.ledger.record_generation(s.env, g),
        )
    except KeyboardInterrupt:
        print(f"Stopped waiting; {gen.id} keeps running. `%aurous wait {gen.id}` collects it.")
        return gen
    if not gen.is_terminal:
        raise WaitTimeoutError(
            f"{gen.id} was still {gen.status} after {timeout:g}s", generation=gen
        )
    gen = observe(s, gen, download)
    _raise_if_failed(gen)
    return gen


def _raise_if_failed(gen: Any) -> None:
    if gen.is_terminal and not gen.succeeded:
        raise GenerationFailed(gen, gen.cost.amount if gen.cost is not None else None)


def observe(session: Session, gen: Any, download: bool) -> Any:
    """Record ``gen`` in the ledger (caching outputs on success) and return it."""
    from aurous_nb.work import jobs

    jobs.observe(session.client, session.ledger, gen, download=download)
    return gen


def show(session: Session, gen: Any) -> Any:
    """The object to return from a magic: the Generation, rendered by
    :mod:`aurous_nb.notebook.display`
    when that module can render it (registered once per shell)."""
    from aurous_nb.notebook import rendering

    rendering.register(session)
    return gen


# ----------------------------------------------------------------------------- listings


def latest_pending(session: Session) -> str:
    """The id of the newest unfinished job of this environment (for a bare ``%aurous wait``)."""
    for record in reversed(session.ledger.pending(session.env)):
        if record.generation_id:
            return record.generation_id
    raise UsageError("%aurous wait: no unfinished job in the ledger; give an ID")


def jobs_table(session: Session, *, resume: bool, download: bool) -> Any:
    """Unfinished jobs as a DataFrame; with ``resume``, collect them first (no second buy)."""
    import pandas as pd

    from aurous_nb.work import jobs

    s = session
    records = (
        jobs.resume(s.client, s.ledger, s.env, download=download)
        if resume
        else s.ledger.pending(s.env)
    )
    if not records:
        print("No unfinished jobs." if not resume else "Nothing to resume.")
        return None
    if resume:
        done = sum(r.status == SUCCEEDED for r in records)
        still = sum(reuse.is_unknown(r) for r in records)
        left = f"; {still} still {reuse.UNKNOWN_TEXT} (resume again later)" if still else ""
        print(f"Resumed {len(records)} job(s): {done} succeeded, nothing bought twice{left}.")
    rows = [
        {
            "generation_id": r.generation_id or "(not answered yet)",
            "status": reuse.UNKNOWN_TEXT if reuse.is_unknown(r) else r.status,
            "media": r.media_type,
            "prompt": (r.prompt or "")[:60],
            "estimate": r.estimate,
            "charged": r.charged,
        }
        for r in records
    ]
    return pd.DataFrame(rows)

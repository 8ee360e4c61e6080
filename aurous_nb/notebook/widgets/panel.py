"""GenerationPanel: one image request, priced live, run on the kernel loop, kept in the ledger.

Every control change re-prices the request (debounced, see :mod:`._pricing`); Generate is
disabled while the price is unknown or above the available balance or the panel's budget. A click
schedules one task that submits through :func:`aurous_nb.work.jobs.asubmit` (ledger row first,
then the
create), polls, records each status, and fills the gallery from the outputs cache.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable, Sequence
from typing import Any

import ipywidgets as w

from aurous_nb.client.backoff import Backoff
from aurous_nb.notebook.context import cell_context
from aurous_nb.notebook.widgets import _catalog, _pricing
from aurous_nb.notebook.widgets._base import StaticFallback, budget_value, resolve_session
from aurous_nb.notebook.widgets._references import ReferencePicker
from aurous_nb.notebook.widgets._static import (
    error_text,
    esc,
    fmt_credits,
    gallery,
    image_format,
    table,
    thumbnail,
    wrap,
)
from aurous_nb.notebook.widgets._tasks import Debouncer, Running, TaskSlot, Work, handler, schedule
from aurous_nb.statuses import CANCELLED, MODERATION_REJECTED, SUCCEEDED
from aurous_nb.text import NO_LORA, UNKNOWN, credits, plural
from aurous_nb.work import reuse

__all__ = ["GenerationPanel"]

PLATFORM_CHOICE = NO_LORA
GALLERY_SIDE = 384
_PROGRESS = {"submitting": 0.05, "pending": 0.15, "queued": 0.2, "processing": 0.55}
LABEL = {"description_width": "88px"}
CSS = """<style>
.aurous-panel{border:1px solid #d6d8de;border-radius:8px;padding:10px 12px;background:#fbfbfd;
  max-width:880px}
.aurous-title{font-weight:600;font-size:15px}
.aurous-badge{font-size:11px;background:#eef0f6;color:#445;border-radius:10px;padding:1px 8px;
  margin-left:8px;font-weight:400}
.aurous-muted{color:#667;font-size:12px}
.aurous-error{color:#8a1020;background:#fdecee;border:1px solid #f3c0c6;border-radius:6px;
  padding:6px 10px;font-size:12px}
.aurous-money{font-size:13px}
.aurous-panel .widget-hbox{gap:8px}
.aurous-gallery img{border-radius:4px}
</style>"""


def _opt(lora: Any) -> tuple[str, str]:
    return (str(lora.name), str(lora.id))


class GenerationPanel(StaticFallback, w.VBox):  # type: ignore[misc]  # ipywidgets is untyped
    """Prompt, LoRA(s), size, count, seed and enhance; a live price; Generate / Cancel; a gallery.

    ``GenerationPanel(session=None, prompt="", lora=None, size="2k_1_1", count=1, seed=None,
    enhance=False, budget=None, references=())``; ``references`` (paths, bytes, generations,
    ids) start the reference row, which the upload control and each result's "Use as
    reference" add to; they are uploaded once each, when Generate sends them. ``budget`` caps
    what this panel may spend in credits; the sizes and the default are the magics'
    (``client._params.IMAGE_SIZE_PRESETS``).
    From code: ``await panel.generate()`` (raises what stopped it); ``panel.request()`` is what
    Generate would send.
    """

    def __init__(
        self,
        session: Any = None,
        *,
        prompt: str = "",
        negative_prompt: str = "",
        lora: str | None = None,
        size: str | None = None,
        count: int = 1,
        seed: int | None = None,
        enhance: bool = False,
        budget: float | None = None,
        references: Sequence[Any] = (),
    ) -> None:
        self.budget = budget  # checked first: nothing is built for a refused budget
        self.session = resolve_session(session)
        self.spent = 0.0
        self.quote: _pricing.Quote | None = None
        self.available: float | None = None
        self.held: float | None = None
        self.record: Any = None
        self.generation: Any = None
        self.images: list[bytes] = []
        self.error: str | None = None
        self._cap_note: str | None = None  # the spending caps' 80 % line of the last spend
        self._loras: list[Any] = []
        self._lora_problem: ValueError | None = None  # a LoRA asked for, not in the catalogue
        self._cancel_requested = False  # Cancel clicked: cancel on the server at the next poll
        self._user_cancelled = False  # ... and its end is not a failure
        self._run = TaskSlot(on_done=self._update_button, shown=True)
        self._pricer = Debouncer(self._reprice)
        self._build(prompt, negative_prompt, size, count, seed, enhance)
        self.references = ReferencePicker()
        self.references.extend(references)
        self.character: Any = None  # a Character from CharacterStudio's "Use in panel"
        self.character_name = w.HTML()
        self.character_remove = w.Button(
            description="×", tooltip="stop using this character", layout=w.Layout(width="32px")
        )
        self.character_remove.on_click(handler(lambda _: self.use_character(None)))
        self.character_chip = w.HBox(
            [self.character_name, self.character_remove],
            layout=w.Layout(align_items="center", display="none"),
        )
        super().__init__(children=self._layout())
        self.add_class("aurous-panel")
        self._pending_lora = lora
        self._setup = Work(self._load)

    # -- layout --------------------------------------------------------------------------------

    def _build(
        self,
        prompt: str,
        negative: str,
        size: str | None,
        count: int,
        seed: int | None,
        enhance: bool,
    ) -> None:
        from aurous_nb.client._params import DEFAULT_IMAGE_SIZE, IMAGE_SIZE_PRESETS

        full = w.Layout(width="100%")
        self.prompt = w.Textarea(
            value=prompt,
            description="Prompt",
            placeholder="What to draw",
            rows=2,
            layout=full,
            style=LABEL,
        )
        self.negative = w.Textarea(
            value=negative,
            description="Negative",
            placeholder="What to avoid (optional)",
            rows=1,
            layout=full,
            style=LABEL,
        )
        self.lora, self.lora_weight, self.lora_preview, self.lora_about = _lora_picker(
            "LoRA", PLATFORM_CHOICE, 1.0
        )
        self.lora2, self.lora2_weight, self.lora2_preview, self.lora2_about = _lora_picker(
            "Second LoRA", "(none)", 0.5
        )
        self.size = w.Dropdown(
            options=list(IMAGE_SIZE_PRESETS),
            value=size or DEFAULT_IMAGE_SIZE,
            description="Size",
            style=LABEL,
            layout=w.Layout(width="200px"),
        )
        self.count = w.BoundedIntText(
            value=count,
            min=1,
            max=4,
            description="Count",
            style={"description_width": "44px"},
            layout=w.Layout(width="110px"),
        )
        self.seed = w.Text(
            value="" if seed is None else str(seed),
            placeholder="random",
            description="Seed",
            style={"description_width": "40px"},
            layout=w.Layout(width="160px"),
        )
        self.enhance = w.Checkbox(
            value=enhance,
            description="Enhance prompt",
            indent=False,
            layout=w.Layout(width="140px"),
        )
        self.generate_button = w.Button(
            description="Generate",
            button_style="primary",
            icon="magic",
            disabled=True,
            layout=w.Layout(width="130px"),
        )
        self.cancel_button = w.Button(
            description="Cancel", icon="stop", disabled=True, layout=w.Layout(width="100px")
        )
        self.cost = w.HTML(value="<span class='aurous-money'>Estimate: …</span>")
        self.balance = w.HTML(value="<span class='aurous-muted'>Balance: …</span>")
        self.status = w.HTML(value="<span class='aurous-muted'>Ready.</span>")
        self.progress = w.FloatProgress(
            value=0.0, min=0.0, max=1.0, layout=w.Layout(width="200px", display="none")
        )
        self.errors = w.HTML()
        self.gallery = w.HBox(layout=w.Layout(flex_flow="row wrap"))
        self.gallery.add_class("aurous-gallery")
        self.rating_box = w.HBox()  # the stars of the generation shown (aurous_nb.store.ratings)
        self.rating: Any = None
        self.actions: Any = None  # "More like this", "Open in panel", "Reuse seed" of the result
        from aurous_nb.notebook.widgets._actions import ActionShelf

        self.shelf = ActionShelf(on_change=self.refresh_static)

        # Widget events may arrive on a kernel subshell's thread: handler() runs them on the
        # loop cells run on, where the panel's tasks live.
        self.generate_button.on_click(handler(lambda _: self.generate()))
        self.cancel_button.on_click(handler(lambda _: self.cancel()))
        for control in (self.lora, self.lora2, self.size, self.count, self.enhance, self.prompt):
            control.observe(handler(self._changed), names="value")
        self.lora.observe(handler(self._lora_picked), names="value")
        self.seed.observe(handler(self._changed), names="value")
        self.lora.observe(
            handler(lambda _: self._show_lora(self.lora, self.lora_preview, self.lora_about)),
            names="value",
        )
        self.lora2.observe(
            handler(lambda _: self._show_lora(self.lora2, self.lora2_preview, self.lora2_about)),
            names="value",
        )

    def _layout(self) -> list[w.Widget]:
        env = esc(getattr(self.session, "env", ""))
        header = w.HTML(
            f"{CSS}<span class='aurous-title'>Aurous · Generate</span>"
            f"<span class='aurous-badge'>{env}</span>"
        )
        row = w.Layout(align_items="center")
        return [
            w.HBox([header, self.balance], layout=w.Layout(justify_content="space-between")),
            self.prompt,
            self.negative,
            w.HBox([self.lora, self.lora_weight, self.lora_preview, self.lora_about], layout=row),
            w.HBox(
                [self.lora2, self.lora2_weight, self.lora2_preview, self.lora2_about], layout=row
            ),
            w.HBox([self.size, self.count, self.seed, self.enhance], layout=row),
            self.references,
            self.character_chip,
            w.HBox([self.generate_button, self.cancel_button, self.cost], layout=row),
            w.HBox([self.progress, self.status], layout=row),
            self.errors,
            self.gallery,
            self.rating_box,
            self.shelf,
        ]

    # -- loading -------------------------------------------------------------------------------

    async def _load(self) -> None:
        try:
            self._loras = await _catalog.loras(self.session)
        except Exception as exc:
            self._show_error(exc)
            self._loras = []
        options = [_opt(x) for x in self._loras]
        self.lora.options = [(PLATFORM_CHOICE, ""), *options]
        self.lora2.options = [("(none)", ""), *options]
        if self._pending_lora:
            try:
                self.set_lora(self._pending_lora)
            except ValueError as exc:  # a typo: say so now, and never send without it
                self._lora_problem = exc
                self._show_error(exc)
        await asyncio.gather(self.refresh_balance(), self._reprice(), return_exceptions=True)
        schedule(_catalog.previews([x.preview_image_url for x in self._loras]))

    async def ready(self) -> GenerationPanel:
        """Wait until the LoRA list, the balance and the first estimate are in (for code/tests)."""
        await self._setup
        await self._pricer.flush()
        return self

    def set_lora(self, lora: str, *, second: bool = False) -> None:
        """Select a LoRA by id, slug or name (what LoraBrowser calls when one is picked)."""
        from aurous_nb.notebook import styles

        target = self.lora2 if second else self.lora
        found = styles.find(lora, self._loras)
        if found is None:
            raise styles.unknown(lora, self._loras, param="lora", hint="pick one in the LoRA list")
        target.value = found.id
        self._lora_picked()

    def use_character(self, character: Any) -> None:
        """Send ``character`` (a ready Character) as ``character_id`` with every Generate, shown
        as a removable "Character: name" chip; ``None`` removes it. The price does not change."""
        if character is not None and not str(getattr(character, "id", "")).startswith("char_"):
            raise ValueError(f"use_character takes a Character, not {type(character).__name__}")
        self.character = character
        if character is None:
            self.character_chip.layout.display = "none"
            self.character_name.value = ""
        else:
            self.character_name.value = (
                "<span class='aurous-badge'>Character: "
                f"<b>{esc(character.name)}</b> · {esc(character.id)}</span>"
            )
            self.character_chip.layout.display = ""
        self.refresh_static()

    def _lora(self, lora_id: str) -> Any:
        return next((x for x in self._loras if x.id == lora_id), None)

    def _show_lora(self, dropdown: w.Dropdown, image: w.Image, about: w.HTML) -> None:
        lora = self._lora(dropdown.value)
        about.value = (
            f"<span class='aurous-muted'>{esc(lora.description or '')}</span>" if lora else ""
        )
        image.layout.display = "none"  # an empty Image shows a broken-picture icon
        if lora is not None:
            schedule(self._fill_preview(lora, image))

    async def _fill_preview(self, lora: Any, image: w.Image) -> None:
        data = await _catalog.preview(lora.preview_image_url)
        if data is not None:
            image.format = image_format(data)
            image.value = data
            image.layout.display = ""

    # -- pricing and balance -------------------------------------------------------------------

    @property
    def budget(self) -> float | None:
        """The most this panel may spend in credits (None: no cap); a NaN or infinite one is
        refused, since it would cap nothing."""
        return self._budget

    @budget.setter
    def budget(self, value: float | None) -> None:
        self._budget = budget_value(value)

    def request(self) -> dict[str, Any]:
        """The create request the fields describe (what Generate sends, with the picked
        references added as ``reference_image_urls`` once they are uploaded)."""
        req: dict[str, Any] = {"prompt": self.prompt.value.strip()}
        if self.negative.value.strip():
            req["negative_prompt"] = self.negative.value.strip()
        first, second = self.lora.value, self.lora2.value
        if second:
            stack = [(first, self.lora_weight.value)] if first else []
            stack.append((second, self.lora2_weight.value))
            req["loras"] = [{"lora": i, "weight": round(wt, 3)} for i, wt in stack]
        elif first:
            req["lora_id"] = first
        if self.character is not None:
            req["character_id"] = str(self.character.id)
        req["size"] = self.size.value
        req["count"] = int(self.count.value)
        seed = self.seed.value.strip()
        if seed:
            try:
                req["seed"] = int(seed)
            except ValueError:
                raise ValueError(f"seed must be a whole number, not {seed!r}") from None
        if self.enhance.value:
            req["enhance_prompt"] = True
        return req

    def _lora_picked(self, _: Any = None) -> None:
        """A person chose a LoRA in the list: the one asked for by name no longer matters."""
        if self._lora_problem is not None:
            self._lora_problem = None
            self.errors.value = ""
            self._update_button()

    def _changed(self, _: Any = None) -> None:
        self._pricer.poke()
        self._update_button()

    async def _reprice(self) -> None:
        try:
            request = self.request()
        except ValueError as exc:
            self.quote = None
            self.cost.value = f"<span class='aurous-error'>{esc(exc)}</span>"
            self._update_button()
            return
        try:
            self.quote = await _pricing.quote(self.session, request)
        except _pricing.EstimateDeferred as exc:  # retry once the bucket has refilled a bit
            self.quote = None
            self.cost.value = f"<span class='aurous-muted'>{esc(exc)}</span>"
            self._pricer.poke(delay=2.0)
        except Exception as exc:
            self.quote = None
            message = getattr(exc, "message", None) or str(exc)
            self.cost.value = (
                f"<span class='aurous-muted'>Estimate unavailable: {esc(message)}</span>"
            )
        self._update_button()

    async def refresh_balance(self) -> None:
        """Fetch the balance (and keep a snapshot of it in the ledger)."""
        from aurous_nb.store import snapshots

        balance = await snapshots.abalance(self.session.aclient, lambda: self.session.ledger)
        self.available, self.held = balance.available_credits, balance.held_credits
        self.balance.value = (
            f"<span class='aurous-money'>Available: <b>{fmt_credits(self.available)}</b> "
            f"{plural(self.available, 'credit')}"
            f"</span> <span class='aurous-muted'>({fmt_credits(self.held)} held)</span>"
        )
        self._update_button()

    def blocked_reason(self) -> str | None:
        """Why Generate is disabled right now, or ``None`` when it may run."""
        if self._run.running:
            return "running"
        if self._lora_problem is not None:
            return str(self._lora_problem)
        if not self.prompt.value.strip():
            return "enter a prompt"
        if self.quote is None:
            return "no price yet"
        if self.available is not None and self.quote.amount > self.available:
            short = self.quote.amount - self.available
            return f"exceeds the available balance by {fmt_credits(short)}"
        if self.budget is not None and self.spent + self.quote.amount > self.budget:
            left = max(0.0, self.budget - self.spent)
            return f"exceeds the budget ({fmt_credits(left)} of {fmt_credits(self.budget)} left)"
        from aurous_nb.work import caps

        env, notebook = str(self.session.env), cell_context()[0]
        return caps.blocked(self.session.ledger, env, notebook, self.quote.amount)

    def _update_button(self) -> None:
        reason = self.blocked_reason()
        self.generate_button.disabled = reason is not None
        self.cancel_button.disabled = not self._run.running
        if self.quote is not None:
            note = "" if reason in (None, "running") else f" — <i>{esc(reason)}</i>"
            self.cost.value = (
                f"<span class='aurous-money'>Estimate: <b>{self.quote}</b></span>{note}"
            )
        self.generate_button.tooltip = reason or "Spend the estimate and generate"

    # -- running -------------------------------------------------------------------------------

    def generate(self) -> Running:
        """Start a generation (or return the one already running: never a duplicate).

        It first waits for the panel to finish loading (:meth:`ready`), so calling it straight
        after the constructor sends the LoRA and fields asked for. ``await panel.generate()``
        waits for the end.
        """
        if not (self._run.running and self._run.task is not None):
            self._run.start(self._generate)
            self._update_button()
        assert self._run.task is not None
        return Running(self._run.task, "GenerationPanel generate")

    def cancel(self) -> Work | None:
        """Cancel the running generation on the server (its hold is released)."""
        if not self._run.running:
            return None
        self._cancel_requested = self._user_cancelled = True
        self._set_status("Cancelling…")
        gen_id = getattr(self.record, "generation_id", None)
        return schedule(self._cancel_server(gen_id)) if gen_id else None

    async def wait(self) -> Any:
        """Wait for the current generation (if any) to end; returns its ledger record."""
        await self._run.wait()
        return self.record

    async def _generate(self) -> None:
        from aurous_nb.notebook.magics.errors import with_advice
        from aurous_nb.work import jobs

        self._cancel_requested = self._user_cancelled = False
        self.error = None
        self.errors.value = ""
        self.gallery.children = self.rating_box.children = ()
        self.actions = None
        self.images = []
        self.generation = None
        self.progress.layout.display = ""
        started = time.monotonic()
        sending = False  # True while the create is in flight: its answer may be lost
        try:
            if not self._setup.done():
                self._set_status("Loading the LoRA list and the price…")
            # Called from code before ready(), the LoRA asked for in the constructor is not
            # selected yet and the estimate is still pending: sending now would drop the LoRA.
            await self.ready()
            if self._lora_problem is not None:
                raise self._lora_problem
            request = self.request()
            quote = self.quote
            aclient, ledger = self.session.aclient, self.session.ledger
            if self.references.picked:  # uploaded once each, after the rest is checked
                jobs.validate("image", request)
                self._set_status("Uploading the references…", "submitting")
                from aurous_nb.notebook.references import source

                picked = [source(self.session, x) for x in self.references.sources()]
                urls = await aclient.files.resolve_many(picked)
                request["reference_image_urls"] = urls
            notebook, cell = cell_context()
            self.record = None
            self._cap_note = None
            jobs.validate("image", request)  # before the ledger is asked (or written)
            prior = reuse.outstanding(
                ledger, str(self.session.env), "image", request, notebook=notebook, cell=cell
            )
            sending = True
            if prior is not None:  # an earlier click never heard back: its own key again
                self._set_status("Re-sending the unanswered create with its own key…", "submitting")
                self.record = await jobs.asend(aclient, ledger, prior)
            else:
                self._set_status("Submitting…", "submitting")
                self.record = await jobs.asubmit(
                    aclient,
                    ledger,
                    "image",
                    request,
                    estimate=quote.amount if quote else None,
                    notebook=notebook,
                    cell=cell,
                    warn=self._noted,  # the caps' 80 % line, said in the status when done
                )
            sending = False
            await self._poll(started)
        except asyncio.CancelledError:
            self._set_status("Cancelled." + (self._unknown_note(None) if sending else ""))
            raise
        except Exception as exc:  # shown here, and raised to whoever awaits the generation
            self._show_error(exc)
            note = self._unknown_note(exc) if sending else ""
            failed = "Failed before it started." if self.record is None else "Failed."
            self._set_status(note.strip(" ·") if note else failed)
            raise with_advice(exc) from None
        finally:
            self.progress.layout.display = "none"
            self._update_button()
            self.refresh_static()
            schedule(self._quiet_balance())

    def _unknown_note(self, exc: BaseException | None) -> str:
        """`` · unknown: the server may have it …`` for a create that ended without an answer."""
        if exc is not None and not reuse.may_have_landed(exc):
            return ""
        return (
            f" · {reuse.UNKNOWN_TEXT} · Generate again re-sends it with its own key "
            "(nothing is bought twice)"
        )

    async def _poll(self, started: float) -> None:
        from aurous_nb.work import jobs

        aclient, ledger = self.session.aclient, self.session.ledger
        gen_id = self.record.generation_id
        gaps = Backoff()
        while True:
            if self._cancel_requested:
                await self._cancel_server(gen_id)
            generation = await aclient.images.get(gen_id)
            self.record = await jobs.aobserve(aclient, ledger, generation)
            self.generation = generation
            status = generation.status
            elapsed = time.monotonic() - started
            self._set_status(f"{status.capitalize()}… {elapsed:.1f} s · {gen_id}", status)
            if generation.is_terminal:
                break
            await asyncio.sleep(gaps.next())
        self.spent += float(self.record.charged or 0.0)
        if status == SUCCEEDED:
            await self._show_outputs(generation)
            cost = credits(self.record.charged)
            note = f" · {self._cap_note}" if self._cap_note else ""
            self._set_status(
                f"Done in {time.monotonic() - started:.1f} s · {cost} · {gen_id}{note}"
            )
        elif status == CANCELLED and self._user_cancelled:  # asked for: not a failure
            cost = credits(self.record.charged)
            self._set_status(f"Cancelled as asked · {cost} charged, hold released · {gen_id}")
        else:
            self._show_failure(generation)
            self._set_status(f"{status.capitalize()} · {gen_id}")

    async def _cancel_server(self, gen_id: str | None) -> None:
        from aurous_nb.work import jobs

        if not gen_id:
            return
        try:
            generation = await self.session.aclient.images.cancel(gen_id)
            await jobs.aobserve(self.session.aclient, self.session.ledger, generation)
        except Exception as exc:  # e.g. it finished first: not cancellable any more
            if getattr(exc, "code", None) != "generation_not_cancellable":
                self._show_error(exc)
        self._cancel_requested = False

    async def _show_outputs(self, generation: Any) -> None:
        from aurous_nb.store import outputs

        files = outputs.cached_outputs(self.session.ledger, generation.id, str(self.session.env))
        if files:
            raw = [f.path.read_bytes() for f in files]
        else:  # auto-download is off: fetch the bytes for display only
            raw = [
                await self.session.aclient.images.download(generation, i)
                for i in range(len(generation.output_urls) or int(generation.image_count or 1))
            ]
        self.images = [thumbnail(b, GALLERY_SIDE) for b in raw]
        seed = generation.seed if generation.seed is not None else "random"
        cells = []
        for i, data in enumerate(self.images):
            caption = w.HTML(f"<span class='aurous-muted'>#{i + 1} · seed {esc(seed)}</span>")
            image = w.Image(value=data, format=image_format(data), layout=w.Layout(width="192px"))
            use = w.Button(description="Use as reference", icon="image")
            use.on_click(self._use_as_reference(raw[i], f"{generation.id} #{i + 1}"))
            cells.append(w.VBox([image, caption, use], layout=w.Layout(align_items="center")))
        from aurous_nb.notebook.widgets._rating import RatingBar  # stars for this generation

        env = str(self.session.env)
        stored = self.session.ledger.ratings(env, [generation.id]).get(generation.id)
        self.rating = RatingBar(generation.id, self.session.ledger, stored)
        from aurous_nb.notebook.widgets._actions import ResultActions

        self.actions = ResultActions(generation.id, self.session, self.shelf, self._reuse_seed)
        self.gallery.children = tuple(cells)
        self.rating_box.children = (self.rating, self.actions)

    def _noted(self, note: str) -> None:
        self._cap_note = note

    def _reuse_seed(self, request: dict[str, Any]) -> None:
        """The result's "Reuse seed": its seed into the Seed field (the rest stays as typed)."""
        seed = request.get("seed")
        self.seed.value = "" if seed is None else str(seed)

    def _use_as_reference(self, data: bytes, label: str) -> Callable[[Any], object]:
        """A result's "Use as reference": its full-size bytes join the next request."""
        return lambda _: self.references.add(data, label)

    async def _quiet_balance(self) -> None:
        with contextlib.suppress(Exception):
            await self.refresh_balance()

    # -- status, errors, static view ------------------------------------------------------------

    def _set_status(self, text: str, state: str | None = None) -> None:
        self.status.value = f"<span class='aurous-muted'>{esc(text)}</span>"
        if state is not None:
            self.progress.value = _PROGRESS.get(state, 1.0)

    def _show_failure(self, generation: Any) -> None:
        """A generation that ended without output; moderation gets the magic's rephrase hint."""
        from aurous_nb.notebook.magics.errors import GenerationFailed, advice

        status, gen_id = generation.status, generation.id
        reason = generation.error_message or status
        moderated = status == MODERATION_REJECTED
        tip = advice(GenerationFailed(generation, None)) if moderated else None
        self.error = f"{status}: {reason}" + (f" — {tip}" if tip else "")
        hint = f"<br>→ {esc(tip)}" if tip else ""
        self.errors.value = (
            f"<div class='aurous-error'><b>{esc(status)}</b>: {esc(reason)}"
            f" · generation {esc(gen_id)}{hint}</div>"
        )

    def _show_error(self, exc: BaseException) -> None:
        message = error_text(exc)
        code = getattr(exc, "code", None) or type(exc).__name__
        request_id = getattr(exc, "request_id", None)
        rid = f" · request id <code>{esc(request_id)}</code>" if request_id else ""
        self.error = f"{code}: {message}" + (f" (request id {request_id})" if request_id else "")
        self.errors.value = (
            f"<div class='aurous-error'><b>{esc(code)}</b>: {esc(message)}{rid}</div>"
        )

    def static_html(self) -> str:
        req: dict[str, Any]
        try:
            req = self.request()
        except ValueError:
            req = {"prompt": self.prompt.value}
        lora = self._lora(self.lora.value)
        row = {
            "prompt": req.get("prompt") or UNKNOWN,
            "LoRA": lora.name if lora else PLATFORM_CHOICE,
            "size": req.get("size"),
            "count": req.get("count"),
            "seed": req.get("seed", "random"),
            "estimate": str(self.quote) if self.quote else UNKNOWN,
            "status": self.record.status if self.record else "not run",
            "charged": fmt_credits(getattr(self.record, "charged", None)),
            "generation": getattr(self.record, "generation_id", None) or UNKNOWN,
        }
        if self.references.picked:
            row["references"] = self.references.static_text()
        if self.character is not None:
            row["character"] = f"{self.character.name} ({self.character.id})"
        parts = [table([row])]
        if self.error:
            parts.append(f"<p class='aurous-err'>{esc(self.error)}</p>")
        parts.append(gallery((img, f"#{i + 1}") for i, img in enumerate(self.images)))
        parts.append(self.shelf.static_html())
        return wrap("Aurous · Generate", *parts)

    def __repr__(self) -> str:
        status = self.record.status if self.record else "idle"
        return f"<GenerationPanel env={getattr(self.session, 'env', '?')} {status}>"


def _lora_picker(
    description: str, empty_choice: str, weight: float
) -> tuple[w.Dropdown, w.FloatSlider, w.Image, w.HTML]:
    """One LoRA row of the panel: the choice, its weight, its preview and its description."""
    choice = w.Dropdown(
        options=[(empty_choice, "")],
        value="",
        description=description,
        style=LABEL,
        layout=w.Layout(width="340px", flex="0 0 auto"),
    )
    slider = w.FloatSlider(
        value=weight,
        min=0.0,
        max=2.0,
        step=0.05,
        description="weight",
        style={"description_width": "48px"},
        layout=w.Layout(width="220px", flex="0 0 auto"),
    )
    preview = w.Image(format="png", layout=_thumb_layout())
    about = w.HTML(layout=w.Layout(flex="1 1 auto"))
    return choice, slider, preview, about


def _thumb_layout() -> w.Layout:
    return w.Layout(width="56px", height="56px", object_fit="cover", display="none")

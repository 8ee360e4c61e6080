"""PromptGrid: prompts x LoRAs (x sizes x seeds) as a labelled grid of images, run as one batch.

The grid is a view over :class:`aurous_nb.work.batch.Batch`: the engine prices it before anything is
spent, paces the creates, polls in bulk and writes every job to the ledger; the grid renders its
progress and fills each cell from the outputs cache as the job ends. A grid is named by its axes,
so building the same grid after a kernel restart picks up the ledger's jobs instead of buying them
again.
"""

from __future__ import annotations

import asyncio
import contextlib
import csv
import shutil
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import ipywidgets as w

from aurous_nb.notebook.widgets import _catalog
from aurous_nb.notebook.widgets._base import StaticFallback, budget_value, resolve_session
from aurous_nb.notebook.widgets._static import (
    Markup,
    credits,
    data_uri,
    error_text,
    esc,
    fmt_credits,
    image_format,
    table,
    thumbnail,
    wrap,
)
from aurous_nb.notebook.widgets._tasks import Running, TaskSlot, Work, handler, schedule
from aurous_nb.statuses import QUEUED, RETRYABLE, UNKNOWN
from aurous_nb.text import NO_LORA
from aurous_nb.work.reuse import UNKNOWN_TEXT

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["PromptGrid"]

CELL_SIDE = 320
CELL_WIDTH = "150px"
PLATFORM = NO_LORA  # the one name of the no-LoRA bucket (aurous_nb.text)
CSS = """<style>
.aurous-grid{border:1px solid #d6d8de;border-radius:8px;padding:10px 12px;background:#fbfbfd}
.aurous-grid .widget-hbox{gap:8px}
.aurous-title{font-weight:600;font-size:15px}
.aurous-muted{color:#667;font-size:12px}
.aurous-error{color:#8a1020;background:#fdecee;border:1px solid #f3c0c6;border-radius:6px;
  padding:6px 10px;font-size:12px}
.aurous-head{font-weight:600;font-size:12px;color:#333;text-align:center;overflow:hidden;
  text-overflow:ellipsis;white-space:nowrap}
.aurous-rowhead{font-size:12px;color:#333;line-height:1.3;padding-right:6px;overflow:hidden}
.aurous-cell{width:150px;height:150px;border-radius:6px;background:#eceef3;display:flex;
  align-items:center;justify-content:center;text-align:center;font-size:11px;color:#667;
  padding:6px;box-sizing:border-box}
.aurous-cell.failed{background:#fdecee;color:#8a1020}
.aurous-cell.unknown{background:#fff8e1;color:#6d4c00}
.aurous-cell.running{background:#eef3fd;color:#2b4c9a}
.aurous-grid img{border-radius:6px}
</style>"""
_RUNNING_TEXT = {
    "queued": "queued",  # only while a run is on: the engine holds it until it may send
    "submitting": "sending…",
    "pending": "pending…",
    "queued_server": "queued…",
    "processing": "processing…",
}


def _short(text: str, n: int = 90) -> str:
    return text if len(text) <= n else text[: n - 1] + "…"


class PromptGrid(StaticFallback, w.VBox):  # type: ignore[misc]  # ipywidgets is untyped
    """A grid of generations: one row per prompt, one column per LoRA (and size / seed).

    ``PromptGrid(prompts, loras=None, sizes=None, seeds=None, budget=None, *, session=None,
    count=None, name=None, **params)``. ``None`` in ``loras`` lets the platform choose; no
    ``sizes`` is the toolkit's default size (``2k_1_1``, as in the magics and the panel);
    ``params`` (``negative_prompt``, ``enhance_prompt``...) go into every request.

    ``characters`` (names, ``char_`` ids or Character objects) is one more axis, looked up
    before anything is priced; the requests carry ``character_id``, the labels the name, and
    ``grid.add_character(c)`` grows it. ``reference_images`` (paths, PIL images, bytes...) go
    into every cell, uploaded once when the grid runs.

    ``grid.run()`` starts it (a task: ``await grid.run()`` waits, and raises what stopped it);
    ``grid.budget = N`` (or the Budget field) changes the cap; ``grid.cancel()``,
    ``grid.retry_failed()``, ``grid.to_dataframe()``, ``grid.save(dir)``.
    """

    def __init__(
        self,
        prompts: Sequence[str] | str | None = None,
        loras: Sequence[str | None] | str | None = None,
        sizes: Sequence[str | None] | str | None = None,
        seeds: Sequence[int | None] | int | None = None,
        budget: float | None = None,
        *,
        session: Any = None,
        count: int | None = None,
        name: str | None = None,
        axes: Mapping[str, Any] | None = None,
        rows: str | Sequence[str] | None = None,
        cols: str | Sequence[str] | None = None,
        preset: str | Mapping[str, Any] | None = None,
        characters: Sequence[Any] | Any | None = None,
        **params: Any,
    ) -> None:
        from aurous_nb.work import characters as work_characters

        self.session = resolve_session(session)
        self._budget = budget_value(budget)
        # names become ids here, before anything is priced; unknown or not ready: refused
        axes, self.character_names = work_characters.grid_axis(
            self.session.client, axes, characters
        )
        self._given = (prompts, loras, sizes, seeds, count, name, rows, cols, preset, params)
        self._configure(axes)
        self.quote: Any = None
        self.error: str | None = None
        self._failure: BaseException | None = None
        self.thumbs: dict[int, bytes] = {}
        self._lora_names: dict[str, str] = {}
        self._slot = TaskSlot(on_done=self._refresh, shown=True)  # once it no longer "runs"
        self.ratings: dict[int, int | None] = {}  # job index -> stars (0: rejected)
        self.rating_bars: dict[int, Any] = {}
        self.action_rows: dict[int, Any] = {}  # job index -> its "More like this" buttons
        self.last_action: dict[str, Any] | None = None  # the request "Reuse seed" gave
        self._row_order = list(range(len(self.layout_of.row_keys)))
        self._hide_rejected = False
        self._min_stars: int | None = None
        self._build()
        super().__init__(children=self._layout())
        self.add_class("aurous-grid")
        self._setup = Work(self._prepare)

    def _configure(self, axes: Mapping[str, Any]) -> None:
        """Axes, layout, name and batch from the given arguments and ``axes`` (ids, not
        names, on the character axis)."""
        from aurous_nb.client._params import DEFAULT_IMAGE_SIZE
        from aurous_nb.notebook.grid_layout import GridLayout
        from aurous_nb.work import spec as jobspec
        from aurous_nb.work.batch import Batch

        prompts, loras, sizes, seeds, count, name, rows, cols, preset, params = self._given
        if params.get("reference_images") is not None:  # read and checked once, before pricing
            params = {**params, "reference_images": jobspec.references(params["reference_images"])}
        if preset is not None:  # it fills what the arguments leave open
            loras, sizes, seeds, count, params = _with_preset(
                preset, axes, loras, sizes, seeds, count, params
            )
        if sizes is None and "size" not in axes:
            sizes = DEFAULT_IMAGE_SIZE
        self._axes_given = dict(axes)
        self.axes = jobspec.grid_axes(prompts, loras, sizes, seeds, count, axes)
        self.layout_of = GridLayout.of(self.axes, rows, cols)  # checked before anything is priced
        values = dict(self.axes)
        self.prompts, self.loras = values["prompt"], values["lora"]
        self.sizes, self.seeds = values["size"], values["seed"]
        self.params = params
        self.columns = self.layout_of.col_keys
        counts = values["count"] if "count" in axes else count
        # The character axis is left out of the name: a cell's key already holds its
        # character, so adding one (add_character) keeps every other cell's key.
        named = [a for a in self.axes[5:] if a[0] != "character"]
        self.name = name or jobspec.grid_name(
            self.prompts, self.loras, self.sizes, self.seeds, counts, params, named
        )
        self.batch = Batch.grid(
            axes=dict(self.axes),
            params=params,
            client=self.session.client,  # each run opens its async twin on the run's own loop
            ledger=self.session.ledger,
            budget=self._budget,
            name=self.name,
            on_progress=self._on_progress,
            on_job=self._on_job,
            labels={"character": dict(self.character_names)} if self.character_names else None,
        )

    def add_character(self, character: Any) -> PromptGrid:
        """Add ``character`` (a name, ``char_`` id or Character) to the character axis, then
        price and draw the grid again; the cells already bought keep their keys. Nothing
        happens when it is already there. Refused while the grid runs."""
        from aurous_nb.work import characters as work_characters

        known = list(self._axes_given.get("character") or [])
        ref = character if isinstance(character, str) else getattr(character, "id", None)
        if ref in known or ref in self.character_names.values():
            return self
        if self._slot.running:
            raise RuntimeError("the grid is running: wait for it (or cancel it) first")
        [char] = work_characters.ready(self.session.client, [character], param="add_character")
        if char.id in known:
            return self
        self.character_names[char.id] = char.name
        self._configure({**self._axes_given, "character": [*known, char.id]})
        self.quote, self.error, self._failure = None, None, None
        self.thumbs, self.ratings, self.rating_bars = {}, {}, {}
        self.action_rows = {}
        self._row_order = list(range(len(self.layout_of.row_keys)))
        self._build()
        self.children = tuple(self._layout())
        self._setup = Work(self._prepare)
        return self

    def character_name(self, ref: Any) -> str:
        """The label of a character id: its name (with the id's end when two share it)."""
        name = self.character_names.get(ref)
        if name is None:
            return str(ref)
        if list(self.character_names.values()).count(name) > 1:
            return f"{name} ({str(ref)[-6:]})"
        return name

    # -- geometry ------------------------------------------------------------------------------

    @property
    def shape(self) -> tuple[int, int]:
        """(rows, columns) of one page: prompts x (LoRAs x sizes x seeds) by default."""
        return len(self.layout_of.row_keys), len(self.columns)

    @property
    def pages(self) -> list[tuple[Any, ...]]:
        """One key per page (the varying axes neither rows nor columns); ``[()]``: one page."""
        return self.layout_of.page_keys

    def _position(self, job: Any) -> tuple[int, int, int]:
        return self.layout_of.position(job.spec.values)

    def _label(self, names: Sequence[str], key: Sequence[Any]) -> str:
        return self.layout_of.label(
            names, key, lambda ref: self._lora_names.get(ref, ref), self.character_name
        )

    def _column_label(self, column: Sequence[Any]) -> str:
        return self._label(self.layout_of.cols, column)

    def _row_label(self, row: Sequence[Any]) -> str:
        return self._label(self.layout_of.rows, row)

    # -- layout --------------------------------------------------------------------------------

    def _build(self) -> None:
        rows, cols = self.shape
        self.summary = w.HTML("<span class='aurous-muted'>Pricing…</span>")
        self.run_button = w.Button(
            description="Run",
            button_style="primary",
            icon="play",
            disabled=True,
            layout=w.Layout(width="110px"),
        )
        self.cancel_button = w.Button(
            description="Cancel", icon="stop", disabled=True, layout=w.Layout(width="100px")
        )
        self.retry_button = w.Button(
            description="Retry failed",
            icon="redo",
            disabled=True,
            layout=w.Layout(width="130px"),
        )
        self.progress = w.IntProgress(
            value=0, min=0, max=max(1, rows * cols), layout=w.Layout(width="180px")
        )
        self.progress_text = w.HTML(
            "<span class='aurous-muted'>not started</span>", layout=w.Layout(flex="1 1 auto")
        )
        self.budget_field = w.Text(
            value=_budget_text(self._budget),
            placeholder="no limit",
            description="Budget",
            continuous_update=False,
            style={"description_width": "50px"},
            layout=w.Layout(width="150px"),
        )
        self.errors = w.HTML()
        if not hasattr(self, "shelf"):  # kept when add_character builds the grid again
            from aurous_nb.notebook.widgets._actions import ActionShelf

            self.shelf = ActionShelf(on_change=self.refresh_static)
        self.run_button.on_click(handler(lambda _: self.run()))
        self.cancel_button.on_click(handler(lambda _: self.cancel()))
        self.retry_button.on_click(handler(lambda _: self.retry_failed()))
        self.budget_field.observe(handler(self._budget_typed), names="value")
        self.view_picker = w.Dropdown(
            options=[
                ("all cells", "all"),
                ("hide rejected", "hide"),
                ("3★ and up", "3"),
                ("sort by rating", "sort"),
            ],
            value="all",
            layout=w.Layout(width="150px"),
        )
        self.view_picker.observe(handler(self._view_picked), names="value")
        self.col_heads = [w.HTML() for _ in self.columns]
        centred = w.Layout(align_self="center")  # a row's label beside its cells' middle
        self.row_heads = [w.HTML(layout=centred) for _ in self.layout_of.row_keys]
        self.cells: dict[int, w.Box] = {}
        for job in self.batch.jobs:
            box = w.Box(layout=w.Layout(width=CELL_WIDTH))
            self.cells[job.index] = box
            self._render_cell(job)
        self.page_grids = [
            w.GridBox(
                layout=w.Layout(
                    grid_template_columns=f"140px repeat({cols}, {CELL_WIDTH})",
                    grid_gap="8px 8px",
                    align_items="flex-start",  # a row's cells line up at the top
                    overflow="auto",
                )
            )
            for _ in self.pages
        ]
        self.grid = self.page_grids[0]
        if len(self.pages) > 1:  # the axes left over are tabs
            self.grid = w.Tab(children=self.page_grids)
        self._fill_grid()

    def _fill_grid(self) -> None:
        for i, column in enumerate(self.columns):
            label = esc(self._column_label(column))
            self.col_heads[i].value = f"<div class='aurous-head' title='{label}'>{label}</div>"
        for r, row in enumerate(self.layout_of.row_keys):
            label = self._row_label(row)
            self.row_heads[
                r
            ].value = f"<div class='aurous-rowhead' title='{esc(label)}'>{esc(_short(label))}</div>"
        by_pos = {self._position(j): self.cells[j.index] for j in self.batch.jobs}
        for p, page in enumerate(self.page_grids):
            children: list[w.Widget] = [w.HTML(""), *self.col_heads]
            for r in self._row_order:
                children.append(self.row_heads[r])
                children.extend(by_pos[(p, r, c)] for c in range(len(self.columns)))
            page.children = tuple(children)
        if isinstance(self.grid, w.Tab):
            for p, key in enumerate(self.pages):
                self.grid.set_title(p, self._label(self.layout_of.pages, key))

    def _layout(self) -> list[w.Widget]:
        rows, cols = self.shape
        title = w.HTML(
            f"{CSS}<span class='aurous-title'>Aurous · Prompt grid</span> "
            f"<span class='aurous-muted'>{rows} × {cols}</span>"
        )
        return [
            title,
            self.summary,
            w.HBox(
                [
                    self.run_button,
                    self.cancel_button,
                    self.retry_button,
                    self.budget_field,
                    self.view_picker,
                    self.progress,
                    self.progress_text,
                ],
                layout=w.Layout(align_items="center"),
            ),
            self.errors,
            self.grid,
            self.shelf,
        ]

    # -- pricing -------------------------------------------------------------------------------

    async def _prepare(self) -> None:
        try:
            catalogue = await _catalog.loras(self.session)
            for lora in catalogue:
                for ref in (lora.id, lora.slug):
                    if ref:
                        self._lora_names[ref] = lora.name
            self._fill_grid()
        except Exception:  # names are a nicety; ids still label the columns
            pass
        await self.price()
        self._load_ratings()
        for job in self.batch.jobs:  # jobs found in the ledger (an earlier run, a restart)
            if job.terminal:
                await self._load_thumb(job)
            self._render_cell(job)
        self._on_progress(self.batch.progress())

    async def ready(self) -> PromptGrid:
        """Wait until names, prices and earlier results are in (for code and tests)."""
        await self._setup
        return self

    async def price(self) -> Any:
        """Price what is still to buy (nothing is spent) and show it; returns the quote."""
        try:
            self.quote = await self.batch.price(self.session.aclient)
        except Exception as exc:
            self._show_error(exc)
            self._update_buttons()
            return None
        self._update_summary()
        self._update_buttons()
        return self.quote

    @property
    def budget(self) -> float | None:
        """The most this grid may spend in credits (earlier runs count); ``None``: no cap.

        Setting it re-checks the grid at once: the Run button, the summary, the saved copy.
        """
        return self._budget

    @budget.setter
    def budget(self, value: float | None) -> None:
        from aurous_nb.work.quote import BudgetExceededError

        self._budget = self.batch.budget = budget_value(value)
        if isinstance(self._failure, BudgetExceededError):  # it spoke of the old budget
            self._clear_error()
        if self.budget_field.value != _budget_text(self._budget):
            self.budget_field.value = _budget_text(self._budget)
        self._refresh()

    def _budget_typed(self, change: Any) -> None:
        try:
            value = budget_value(change["new"].strip() or None)
        except ValueError as exc:
            self.summary.value = f"<span class='aurous-error'>{esc(exc)}</span>"
            return
        if value != self._budget:
            self.budget = value

    def _refresh(self) -> None:
        """Summary, buttons, cells and the saved copy, after a change of budget or price."""
        self._update_summary()
        self._update_buttons()
        for job in self.batch.jobs:
            self._render_cell(job)
        self.refresh_static()

    def blocked_reason(self) -> str | None:
        todo = sum(1 for j in self.batch.jobs if j.status == QUEUED)
        if self._slot.running:
            return "running"
        if self.quote is None:
            return "no price yet"
        if todo == 0:
            return "nothing left to run"
        needed = self.quote.total
        available = self.quote.available_credits
        if available is not None and needed > available + 1e-9:
            return f"needs {credits(needed - available)} more than are available"
        if self.budget is not None and needed + self.batch.committed() > self.budget + 1e-9:
            over = needed + self.batch.committed() - self.budget
            return (
                f"over the budget of {fmt_credits(self.budget)} by {fmt_credits(over)}: "
                f"set the budget to {fmt_credits(needed + self.batch.committed())} or more"
            )
        return self._past_a_cap(needed)

    def _past_a_cap(self, needed: float) -> str | None:
        from aurous_nb.notebook.context import cell_context
        from aurous_nb.work import caps

        env, notebook = str(self.session.env), cell_context()[0]
        return caps.blocked(self.session.ledger, env, notebook, needed)

    def _update_summary(self) -> None:
        rows, cols = self.shape
        total = len(self.batch.jobs)
        todo = sum(1 for j in self.batch.jobs if j.status == QUEUED)
        parts = [f"{rows} prompt{'s' * (rows != 1)} × {cols} column{'s' * (cols != 1)}"]
        if todo == 0:
            progress = self.batch.progress()
            parts.append(f"{total} job{'s' * (total != 1)}, none left to run")
            parts.append(f"<b>{credits(progress.spent)}</b> spent")
        else:
            parts.append(f"{todo} of {total} to run" if todo != total else f"{total} jobs")
            if self.quote is not None:
                parts.append(f"<b>{credits(self.quote.total)}</b>")
        if self.quote is not None and self.quote.available_credits is not None:
            parts.append(f"{fmt_credits(self.quote.available_credits)} available")
        if self.budget is not None:
            parts.append(f"budget {fmt_credits(self.budget)}")
        reason = self.blocked_reason()
        note = (
            "" if reason in (None, "running", "nothing left to run") else f" — <i>{esc(reason)}</i>"
        )
        self.summary.value = f"<span class='aurous-muted'>{' · '.join(parts)}</span>{note}"

    def _update_buttons(self) -> None:
        running = self._slot.running
        self.run_button.disabled = self.blocked_reason() is not None
        self.cancel_button.disabled = not running
        self.retry_button.disabled = running or not self.retryable()

    def retryable(self) -> list[Any]:
        """Cells that ended in a failure a new attempt may fix (not moderation or refusals)."""
        return [j for j in self.batch.jobs if j.status in RETRYABLE]

    # -- running -------------------------------------------------------------------------------

    def run(self) -> Running:
        """Start the grid (a task on the kernel loop; ``await grid.run()`` waits for the end).

        While it runs, calling again returns the same task: nothing is bought twice.
        """
        if not (self._slot.running and self._slot.task is not None):
            self._slot.start(self._run)
            self._update_buttons()
        assert self._slot.task is not None
        return Running(self._slot.task, "PromptGrid run")

    async def wait(self) -> list[Any]:
        await self._slot.wait()
        return list(self.batch.jobs)

    async def _run(self) -> None:
        from aurous_nb.notebook.magics.errors import with_advice

        self._clear_error()
        try:
            await self._setup
            for job in self.batch.jobs:  # now they are queued for real
                self._render_cell(job)
            await self.batch.run_async()
            await self.price()  # the balance after spending, and what is left to run
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # shown here, and raised to whoever awaits the run
            self._show_error(exc)
            raise with_advice(exc) from None
        finally:
            self._on_progress(self.batch.progress())

    def cancel(self) -> Work | None:
        """Stop sending and cancel the running server jobs (their holds are released)."""
        if not self._slot.running:
            return None
        self.progress_text.value = "<span class='aurous-muted'>cancelling…</span>"
        return schedule(self.batch.cancel())

    def retry_failed(self) -> Running | None:
        """Queue the failed cells again (new idempotency keys) and the unknown ones (never
        answered: their own keys, so nothing is bought twice), and run them."""
        if self._slot.running or not self.batch.retry_failed():
            return None
        for job in self.batch.jobs:
            self._render_cell(job)
        self.quote = None
        return self.run()

    # -- engine callbacks ----------------------------------------------------------------------

    def _on_progress(self, progress: Any) -> None:
        ended = progress.done + progress.failed + progress.cancelled
        self.progress.max = max(1, progress.total)
        self.progress.value = ended
        self.progress.bar_style = (
            "danger" if progress.failed else ("success" if progress.finished and ended else "")
        )
        eta = (
            f" · ETA {progress.eta_s:.0f} s"
            if progress.eta_s is not None and not progress.finished and progress.running
            else ""
        )
        unknown = f" · {progress.unknown} {UNKNOWN_TEXT}" if progress.unknown else ""
        self.progress_text.value = (
            f"<span class='aurous-muted'>{progress.done}/{progress.total} done · "
            f"{progress.failed} failed{esc(unknown)} · {credits(progress.spent)} spent{eta}</span>"
        )
        for job in self.batch.jobs:
            if not job.terminal:
                self._render_cell(job)

    def _on_job(self, job: Any) -> None:
        if job.ok and job.index in self.rating_bars:  # its generation id is known now
            self.rating_bars[job.index].generation_id = job.generation_id
        if job.ok and job.index in self.action_rows:
            self.action_rows[job.index].generation_id = job.generation_id
        if job.ok and job.index not in self.thumbs:
            self._thumb_from_files(job)
        self._render_cell(job)

    async def _load_thumb(self, job: Any) -> None:
        from aurous_nb.store import outputs

        if not job.ok or job.index in self.thumbs or not job.generation_id:
            return
        if not job.files:
            job.files = outputs.cached_outputs(
                self.session.ledger, job.generation_id, self.batch.env
            )
        if not job.files:
            try:
                job.files = await outputs.adownload_outputs(
                    self.session.aclient, self.session.ledger, job.generation_id
                )
            except Exception:
                return
        self._thumb_from_files(job)

    def _thumb_from_files(self, job: Any) -> None:
        if job.files:
            with contextlib.suppress(OSError):
                self.thumbs[job.index] = thumbnail(job.files[0].path.read_bytes(), CELL_SIDE)

    def _render_cell(self, job: Any) -> None:
        box = self.cells[job.index]
        if job.ok and job.index in self.thumbs:
            data = self.thumbs[job.index]
            image = w.Image(
                value=data, format=image_format(data), layout=w.Layout(width=CELL_WIDTH)
            )
            image.add_class("aurous-cell-image")
            extra = len(job.files) - 1
            more = f" · +{extra}" if extra > 0 else ""
            caption = w.HTML(f"<span class='aurous-muted'>{credits(job.charged)}{more}</span>")
            if box.children and getattr(box, "_shown", None) == "image":
                return
            parts = [image, caption, self._rating_bar(job), self._actions(job)]
            box.children = (w.VBox(parts, layout=w.Layout(align_items="center")),)
            box._shown = "image"
            return
        text, css = self._cell_text(job)
        key = f"{css}:{text}"
        if getattr(box, "_shown", None) == key:
            return
        box.children = (
            w.HTML(f"<div class='aurous-cell {css}' title='{esc(text)}'>{esc(_short(text))}</div>"),
        )
        box._shown = key

    def _cell_text(self, job: Any) -> tuple[str, str]:
        """What a cell without a picture says, and its CSS class."""
        if job.ok:
            return "done (no preview cached)", ""
        if job.status == UNKNOWN:
            return f"{UNKNOWN_TEXT}; Retry re-sends it with its own key", "unknown"
        if job.terminal:
            return f"{job.status}: {job.error or ''}".strip(": "), "failed"
        if job.status == QUEUED and not self._slot.running:
            price = f" · {credits(job.estimate)}" if job.estimate is not None else ""
            return f"not started{price}", ""
        return _RUNNING_TEXT.get(job.status, job.status), (
            "running" if job.status != QUEUED else ""
        )

    def _show_error(self, exc: BaseException) -> None:
        message = error_text(exc)
        request_id = getattr(exc, "request_id", None)
        rid = f" · request id <code>{esc(request_id)}</code>" if request_id else ""
        self.error = message
        self._failure = exc
        self.errors.value = f"<div class='aurous-error'>{esc(message)}{rid}</div>"

    def _clear_error(self) -> None:
        self.error = self._failure = None
        self.errors.value = ""

    # -- ratings -------------------------------------------------------------------------------

    def _load_ratings(self) -> None:
        ids = {j.generation_id: j.index for j in self.batch.jobs if j.generation_id}
        stored = self.session.ledger.ratings(self.batch.env, ids)
        self.ratings.update({ids[g]: v for g, v in stored.items()})

    def _rating_bar(self, job: Any) -> Any:
        from aurous_nb.notebook.widgets._rating import RatingBar

        bar = self.rating_bars.get(job.index)
        if bar is None:

            def changed(value: int | None) -> None:
                self.ratings[job.index] = value
                self._apply_view()
                self.refresh_static()

            bar = RatingBar(
                job.generation_id, self.session.ledger, self.ratings.get(job.index), changed
            )
            self.rating_bars[job.index] = bar
        return bar

    def _actions(self, job: Any) -> Any:
        from aurous_nb.notebook.widgets._actions import ResultActions

        row = self.action_rows.get(job.index)
        if row is None:
            row = ResultActions(job.generation_id, self.session, self.shelf, self._reused)
            self.action_rows[job.index] = row
        return row

    def _reused(self, request: dict[str, Any]) -> None:
        """A cell's "Reuse seed": its request in ``grid.last_action``, and said on the shelf."""
        from aurous_nb.notebook.widgets._actions import request_text

        self.last_action = request
        self.shelf.say(request_text(request))

    def rate(self, index: int, stars: Any) -> int | None:
        """Rate cell ``index`` (a job's index, as in ``to_dataframe()``): 1-5, "reject", None."""
        value: int | None = self._rating_bar(self.batch.jobs[index]).rate(
            0 if stars == "reject" else stars
        )
        return value

    def variations(self, index: int, n: int = 4) -> Any:
        """A batch of ``n`` new seeds of cell ``index``'s request (see ``notebook/actions.py``)."""
        from aurous_nb.notebook import actions

        job = self.batch.jobs[index]
        return actions.variations(
            job.generation_id, n, ledger=self.session.ledger, client=self.session.client
        )

    def open_in_panel(self, index: int) -> Any:
        """A GenerationPanel filled with cell ``index``'s request and seed."""
        from aurous_nb.notebook import actions

        job = self.batch.jobs[index]
        return actions.open_in_panel(job.generation_id, ledger=self.session.ledger)

    def hide(self, *, rejected: bool = True, below: int | None = None) -> None:
        """Hide rejected cells (and with ``below``, those rated fewer stars); ``hide(
        rejected=False)`` shows every cell again. Unrated cells stay."""
        self._hide_rejected, self._min_stars = rejected, below
        self._apply_view()

    def sort_by_rating(self, on: bool = True) -> None:
        """Rows with the best-rated cells first (``False``: the grid's own order)."""
        rows = range(len(self.layout_of.row_keys))
        if not on:
            self._row_order = list(rows)
        else:
            best = {r: -1 for r in rows}
            for job in self.batch.jobs:
                _, r, _ = self._position(job)
                best[r] = max(best[r], self.ratings.get(job.index) or -1)
            self._row_order = sorted(rows, key=lambda r: -best[r])
        self._fill_grid()

    def _view_picked(self, change: Any) -> None:
        value = change["new"]
        self.sort_by_rating(value == "sort")
        self.hide(rejected=value in ("hide", "3"), below=3 if value == "3" else None)

    def _apply_view(self) -> None:
        for job in self.batch.jobs:
            value = self.ratings.get(job.index)
            hidden = (self._hide_rejected and value == 0) or (
                self._min_stars is not None and value is not None and value < self._min_stars
            )
            self.cells[job.index].layout.visibility = "hidden" if hidden else "visible"

    def hidden(self) -> list[int]:
        """Indexes of the cells hidden by :meth:`hide`."""
        return [i for i, box in self.cells.items() if box.layout.visibility == "hidden"]

    # -- results -------------------------------------------------------------------------------

    def _rows(self) -> list[dict[str, Any]]:
        out = []
        for job in self.batch.jobs:
            values = job.spec.values
            lora = values.get("lora")
            size, count = _used(job)
            p, r, c = self._position(job)
            extra = {k: v for k, v in values.items() if k not in ("lora", "size", "count")}
            for k, v in extra.items():
                if isinstance(getattr(v, "label", None), str):  # reference images
                    extra[k] = v.label
            if "character" in extra:  # the name to read, the id the request carried
                ref = extra["character"]
                extra["character"] = self.character_name(ref) if ref else None
                extra["character_id"] = ref
            out.append(
                {
                    "page": p,
                    "row": r,
                    "column": c,
                    **extra,  # prompt, seed and every other axis, with this cell's value
                    "lora": lora,
                    "lora_name": self._lora_names.get(lora, lora) if lora else None,
                    "size": size,
                    "count": count,
                    "status": job.status,
                    "estimate": job.estimate,
                    "cost": job.charged if job.terminal else None,
                    "error": job.error,
                    "generation_id": job.generation_id,
                    "path": str(job.files[0].path) if job.files else None,
                    "paths": [str(f.path) for f in job.files],
                    "rating": self.ratings.get(job.index),
                }
            )
        return out

    def to_dataframe(self) -> pd.DataFrame:
        """One row per cell: parameters, status, estimate and charged cost, local output path."""
        import pandas as pd

        return pd.DataFrame(self._rows())

    def save(self, directory: str | Path) -> Path:
        """Copy every cell's images into ``directory`` and write ``grid.csv`` beside them."""
        target = Path(directory)
        target.mkdir(parents=True, exist_ok=True)
        rows = self._rows()
        for row, job in zip(rows, self.batch.jobs, strict=False):
            saved = []
            for f in job.files:
                page = f"p{row['page']:02d}_" if len(self.pages) > 1 else ""
                name = f"{page}r{row['row']:02d}_c{row['column']:02d}_{f.index}{f.path.suffix}"
                shutil.copyfile(f.path, target / name)
                saved.append(name)
            row["files"] = ";".join(saved)
        columns = [k for k in rows[0] if k not in ("paths", "path")] if rows else []
        with (target / "grid.csv").open("w", newline="", encoding="utf-8") as handle:
            writer = csv.DictWriter(handle, fieldnames=columns, extrasaction="ignore")
            writer.writeheader()
            writer.writerows(rows)
        return target

    def contact_sheet(self, path: str | Path, *, cell: int | None = None) -> Path:
        """Write the grid as a labelled ``.png`` (axis values on the margins, cost per cell and
        in total, parameters in a footer; ``cell``: at most that many pixels a cell) or a
        self-contained ``.html`` (images embedded; no URL, no key). Returns the path."""
        from aurous_nb.notebook import contact_sheet

        return contact_sheet.write(self._sheet(), path, cell)

    def _sheet(self) -> Any:
        from aurous_nb import __version__
        from aurous_nb.notebook.contact_sheet import Cell, Page, Sheet, footer_items
        from aurous_nb.store.ratings import stars_text

        by_pos = {self._position(j): j for j in self.batch.jobs}
        rows, cols = self.shape
        pages = []
        for p, page in enumerate(self.pages):
            cells = []
            for r in range(rows):
                line = []
                for c in range(cols):
                    job = by_pos[(p, r, c)]
                    image = self.thumbs.get(job.index)
                    if job.files:
                        with contextlib.suppress(OSError):
                            image = job.files[0].path.read_bytes()
                    cost = credits(job.charged) if job.terminal else f"est. {credits(job.estimate)}"
                    note = "" if image is not None else self._cell_text(job)[0].split(" · ")[0]
                    stars = stars_text(self.ratings.get(job.index))
                    cost = f"{cost} · {stars}" if stars else cost
                    line.append(Cell(image, cost, note, job.spec.prompt or ""))
                cells.append(line)
            pages.append(
                Page(
                    self._label(self.layout_of.pages, page),
                    [self._row_label(k) for k in self.layout_of.row_keys],
                    [self._column_label(k) for k in self.columns],
                    cells,
                    (" · ".join(self.layout_of.rows), " · ".join(self.layout_of.cols)),
                )
            )
        progress = self.batch.progress()
        left = sum(j.estimate or 0.0 for j in self.batch.jobs if not j.terminal)
        summary = (
            f"{rows} × {cols}"
            + (f" × {len(self.pages)} pages" if len(self.pages) > 1 else "")
            + f" · {progress.done}/{progress.total} done · total {credits(progress.spent)}"
            + (f" · {credits(left)} still to run" if left else "")
        )
        axes = " × ".join(
            n for n in (*self.layout_of.rows, *self.layout_of.cols, *self.layout_of.pages)
        )
        versions = sorted(
            {v for j in self.batch.jobs if (v := getattr(j.generation, "aurous_version", None))}
        )
        footer = footer_items(
            [
                ("grid", self.name),
                ("axes", axes),
                *(
                    (n, self.character_name(v) if n == "character" else v)
                    for n, v in self.layout_of.constants
                ),
                *sorted((k, getattr(v, "label", v)) for k, v in self.params.items()),
                ("Aurous-Version", ", ".join(versions)),
                ("aurous_nb", __version__),
            ]
        )
        return Sheet("Aurous · Prompt grid", pages, footer, summary)

    def static_html(self) -> str:
        by_pos = {self._position(j): j for j in self.batch.jobs}
        head = "prompt" if self.layout_of.rows == ["prompt"] else " · ".join(self.layout_of.rows)
        tables = []
        for p, page in enumerate(self.pages):
            rows: list[dict[str, Any]] = []
            for r, row_key in enumerate(self.layout_of.row_keys):
                row_label = self._row_label(row_key)
                row: dict[str, Any] = {head: row_label}
                for c, column in enumerate(self.columns):
                    job = by_pos[(p, r, c)]
                    label = self._column_label(column)
                    if job.index in self.thumbs:
                        row[label] = Markup(
                            f'<img src="{data_uri(self.thumbs[job.index])}" '
                            f'alt="{esc(row_label)}"/>'
                        )
                    else:
                        row[label] = self._cell_text(job)[0]
                rows.append(row)
            title = self._label(self.layout_of.pages, page)
            tables.append((f"<h4>{esc(title)}</h4>" if title else "") + table(rows))
        progress = self.batch.progress()
        parts = [
            f"<p>{progress.done}/{progress.total} done · {progress.failed} failed"
            + (f" · {progress.unknown} {UNKNOWN_TEXT}" if progress.unknown else "")
            + " · "
            f"{credits(progress.spent)} spent</p>"
        ]
        reason = self.blocked_reason()
        if self.error:
            parts.append(f"<p class='aurous-err'>Stopped: {esc(self.error)}</p>")
        elif reason not in (None, "running", "nothing left to run"):
            parts.append(f"<p class='aurous-err'>Not run: {esc(reason)}.</p>")
        return wrap("Aurous · Prompt grid", *parts, *tables, self.shelf.static_html())

    def __repr__(self) -> str:
        rows, cols = self.shape
        return f"<PromptGrid {rows}x{cols} {self.batch.progress()}>"


def _budget_text(value: float | None) -> str:
    return "" if value is None else fmt_credits(value)


def _used(job: Any) -> tuple[str | None, int]:
    """The size and image count a cell asked for (the server's answer once there is one)."""
    from aurous_nb.store.payloads import size_fields

    gen = job.generation
    answer = {k: getattr(gen, k, None) for k in ("size_preset", "width", "height")}
    size, _, _ = size_fields("image", job.request, answer)
    count = getattr(gen, "image_count", None) or job.request.get("count") or 1
    return size, int(count)


def _with_preset(
    preset: Any,
    axes: Mapping[str, Any],
    loras: Any,
    sizes: Any,
    seeds: Any,
    count: Any,
    params: Any,
) -> tuple[Any, Any, Any, Any, dict[str, Any]]:
    """The grid's arguments with a preset's fields where they were left open."""
    from aurous_nb.notebook import presets

    fields = presets.resolve(preset)
    taken = set(axes) | set(params)
    if loras is not None or {"lora", "loras", "lora_weight"} & taken:
        fields.pop("lora_id", None), fields.pop("loras", None)
    elif "lora_id" in fields:
        loras = [fields.pop("lora_id")]
    if sizes is not None or {"size", "width", "height"} & taken:
        for name in ("size", "width", "height"):
            fields.pop(name, None)
    elif "size" in fields:
        sizes = [fields.pop("size")]
    if seeds is None and "seed" not in taken and "seed" in fields:
        seeds = [fields.pop("seed")]
    if count is None and "count" not in taken and "count" in fields:
        count = fields.pop("count")
    rest = {k: v for k, v in fields.items() if k not in taken and k not in ("seed", "count")}
    return loras, sizes, seeds, count, {**rest, **params}

"""Buttons under a result (a grid cell, the panel's gallery): "More like this", "Open in panel",
"Reuse seed", over :mod:`aurous_nb.notebook.actions`.

"More like this" prices the variations first and buys only on a second click on a button that
says the price; that click buys once however often it arrives. What the buttons make (a
gallery of variations with their cost, an opened panel, a reused request) goes on the
:class:`ActionShelf` under the grid or panel. The saved copy shows the shelf's images, never
the buttons.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from typing import Any

import ipywidgets as w

from aurous_nb.canonical import canonical_json
from aurous_nb.notebook.widgets._static import error_text, esc, gallery, image_format, thumbnail
from aurous_nb.notebook.widgets._tasks import Work, handler, schedule
from aurous_nb.text import credits

__all__ = ["ActionShelf", "ResultActions", "VariationsGallery"]

VARIATIONS = 4
THUMB_SIDE = 192


def _icon_layout(width: str = "30px") -> w.Layout:
    return w.Layout(width=width, min_width="0", height="24px", padding="0", margin="0 1px")


class VariationsGallery(w.VBox):  # type: ignore[misc]  # ipywidgets is untyped
    """The variations one confirm bought: progress while it runs, then each image and its cost."""

    def __init__(self, title: str) -> None:
        self.title = title
        self.thumbs: list[tuple[bytes, str]] = []
        self.head = w.HTML(f"<span class='aurous-muted'>{esc(title)} · buying…</span>")
        self.images = w.HBox(layout=w.Layout(flex_flow="row wrap"))
        super().__init__(children=[self.head, self.images])
        self.add_class("aurous-variations")

    def progress(self, progress: Any) -> None:
        self.head.value = (
            f"<span class='aurous-muted'>{esc(self.title)} · {progress.done}/{progress.total} "
            f"done · {progress.failed} failed · {credits(progress.spent)}</span>"
        )

    def show(self, jobs: list[Any]) -> None:
        """One small image per finished job, captioned with its seed and what it cost."""
        cells, self.thumbs = [], []
        for job in jobs:
            seed = job.request.get("seed")
            cost = credits(job.charged) if job.terminal else job.status
            data = None
            if job.ok and job.files:
                with contextlib.suppress(OSError):
                    data = thumbnail(job.files[0].path.read_bytes(), THUMB_SIDE)
            caption = f"seed {seed} · {cost}"
            if data is None:
                text = caption if job.ok else f"{job.status}: {job.error or ''}".strip(": ")
                cells.append(w.HTML(f"<div class='aurous-muted'>{esc(text)}</div>"))
                continue
            self.thumbs.append((data, caption))
            image = w.Image(value=data, format=image_format(data), layout=w.Layout(width="96px"))
            label = w.HTML(f"<span class='aurous-muted'>{esc(caption)}</span>")
            cells.append(
                w.VBox([image, label], layout=w.Layout(align_items="center", margin="0 6px 0 0"))
            )
        self.images.children = tuple(cells)
        spent = sum(float(j.charged or 0.0) for j in jobs if j.terminal)
        done = sum(1 for j in jobs if j.ok)
        self.head.value = (
            f"<span class='aurous-muted'>{esc(self.title)} · {done}/{len(jobs)} done · "
            f"<b>{credits(spent)}</b></span>"
        )

    def static_html(self) -> str:
        return f"<p>{esc(self.title)}</p>" + gallery(self.thumbs)


class ActionShelf(w.VBox):  # type: ignore[misc]  # ipywidgets is untyped
    """Under a grid or panel: what its results' buttons made, newest last."""

    def __init__(self, on_change: Callable[[], Any] | None = None) -> None:
        self.on_change = on_change
        self.note = w.HTML()
        self.items: list[Any] = []  # opened panels and bought variations, oldest first
        super().__init__(children=[self.note])
        self.add_class("aurous-shelf")

    def add(self, widget: Any) -> Any:
        self.items.append(widget)
        self.children = (self.note, *self.items)
        return widget

    def say(self, html: str) -> None:
        self.note.value = html

    def changed(self) -> None:
        if self.on_change is not None:
            self.on_change()

    def static_html(self) -> str:
        """The variations' images and captions (no buttons, no opened panels)."""
        return "".join(c.static_html() for c in self.items if isinstance(c, VariationsGallery))


class ResultActions(w.VBox):  # type: ignore[misc]  # ipywidgets is untyped
    """Three small buttons for one generation, and the confirm line of "More like this".

    ``on_seed(request)`` receives the request with its seed ("Reuse seed"); opened panels
    and bought variations go on ``shelf``.
    """

    def __init__(
        self,
        generation_id: str | None,
        session: Any,
        shelf: ActionShelf,
        on_seed: Callable[[dict[str, Any]], Any],
        n: int = VARIATIONS,
    ) -> None:
        self.generation_id, self.session, self.shelf, self.on_seed = (
            generation_id,
            session,
            shelf,
            on_seed,
        )
        self.n = n
        self.batch: Any = None
        self.quote: Any = None
        self.pricing: Work | None = None
        self.buying: Work | None = None
        self.panel: Any = None
        self.more_button = w.Button(
            description=f"+{n}",
            icon="clone",
            tooltip=f"More like this: {n} variations (priced first, bought on confirm)",
            layout=w.Layout(width="52px", min_width="0", height="24px", padding="0"),
        )
        self.open_button = w.Button(
            icon="external-link", tooltip="Open in panel", layout=_icon_layout()
        )
        self.seed_button = w.Button(icon="random", tooltip="Reuse seed", layout=_icon_layout())
        for button in (self.more_button, self.open_button, self.seed_button):
            button.add_class("aurous-action")
        self.more_button.add_class("aurous-more")
        self.confirm = w.Button(
            description="Buy",
            button_style="warning",
            layout=w.Layout(width="auto", max_width="116px", height="24px", padding="0 4px"),
        )
        self.confirm.add_class("aurous-confirm")
        self.dismiss = w.Button(
            description="✕",
            tooltip="don't buy",
            layout=w.Layout(
                width="24px", min_width="0", height="24px", padding="0", margin="0 1px"
            ),
        )
        self.note = w.HTML()
        self.confirm_row = w.HBox(
            [self.confirm, self.dismiss],
            layout=w.Layout(display="none", justify_content="center", flex_flow="row wrap"),
        )
        self.more_button.on_click(handler(lambda _: self.offer()))
        self.confirm.on_click(handler(lambda _: self.buy()))
        self.dismiss.on_click(handler(lambda _: self._hide_confirm()))
        self.open_button.on_click(handler(lambda _: self.open_in_panel()))
        self.seed_button.on_click(handler(lambda _: self.reuse_seed()))
        row = w.HBox(
            [self.more_button, self.open_button, self.seed_button],
            layout=w.Layout(justify_content="center", flex_flow="row wrap"),
        )
        super().__init__(
            children=[row, self.confirm_row, self.note],
            layout=w.Layout(align_items="center", max_width="150px"),
        )
        self.add_class("aurous-actions")

    def _say_failure(self, exc: BaseException) -> str:
        """Say ``exc`` under the buttons; returns it as HTML."""
        said = esc(error_text(exc))
        self.note.value = f"<span class='aurous-error'>{said}</span>"
        return said

    # -- More like this ----------------------------------------------------------------------

    def offer(self) -> Work | None:
        """Price ``n`` variations and show a confirm button that says the price (nothing is
        bought here). A click while pricing, or after buying, starts nothing new."""
        if self.buying is not None:
            return self.buying
        if self.pricing is not None and not self.pricing.done():
            return self.pricing
        self.note.value = "<span class='aurous-muted'>pricing…</span>"
        self.pricing = schedule(self._price())
        return self.pricing

    async def _price(self) -> Any:
        from aurous_nb.notebook import actions

        try:
            if self.batch is None:
                self.batch = actions.variations(
                    self.generation_id,
                    self.n,
                    ledger=self.session.ledger,
                    client=self.session.client,
                    on_progress=self._progress,
                )
            self.quote = await self.batch.price(self.session.aclient)
        except Exception as exc:
            self._say_failure(exc)
            return None
        total, available = self.quote.total, self.quote.available_credits
        self.confirm.description = f"Buy · {credits(total)}"  # the +n says how many
        self.confirm.tooltip = f"buy {self.n} variations for {credits(total)}"
        short = available is not None and total > available + 1e-9
        self.confirm.disabled = short
        self.confirm_row.layout.display = ""
        self.note.value = (
            f"<span class='aurous-error'>needs {credits(total - available)} more than are "
            "available</span>"
            if short and available is not None
            else ""
        )
        return self.quote

    def buy(self) -> Work | None:
        """Buy the priced variations (once: a second click gets the same purchase)."""
        if self.buying is not None or self.quote is None or self.confirm.disabled:
            return self.buying  # bought, not priced, or more than the balance
        self.confirm.disabled = True
        self.more_button.disabled = True
        self.confirm.description = "buying…"
        seeds = [j.request.get("seed") for j in self.batch.jobs]
        prompt = str(self.batch.jobs[0].request.get("prompt", "")) if self.batch.jobs else ""
        short = prompt if len(prompt) <= 40 else prompt[:39] + "…"
        title = f"More like this: {short} · seeds {seeds[0]}–{seeds[-1]}" if seeds else short
        self.gallery = self.shelf.add(VariationsGallery(title))
        self.dismiss.tooltip = "stop: cancel what is not done (holds are released)"
        self.buying = schedule(self._buy())
        return self.buying

    async def _buy(self) -> Any:
        try:
            jobs = await self.batch.run_async()
        except Exception as exc:
            said = self._say_failure(exc)
            self.gallery.head.value = (
                f"<span class='aurous-error'>{esc(self.gallery.title)}: {said}</span>"
            )
            self.gallery.show(list(self.batch.jobs))
            raise
        finally:
            self.confirm_row.layout.display = "none"
            self.shelf.changed()
        self.gallery.show(list(jobs))
        spent = sum(float(j.charged or 0.0) for j in jobs)
        self.note.value = f"<span class='aurous-muted'>{len(jobs)} bought · {credits(spent)}</span>"
        self.shelf.changed()
        return jobs

    def _progress(self, progress: Any) -> None:
        gallery = getattr(self, "gallery", None)
        if gallery is not None and self.buying is not None:
            gallery.progress(progress)

    def _hide_confirm(self) -> Work | None:
        """✕: before the confirm, nothing is bought; while buying, stop what is not done."""
        if self.buying is not None and not self.buying.done():
            self.confirm.description = "stopping…"
            return schedule(self.batch.cancel())
        self.confirm_row.layout.display = "none"
        return None

    # -- Open in panel, Reuse seed -----------------------------------------------------------

    def open_in_panel(self) -> Any:
        """A GenerationPanel with this result's request and seed, shown on the shelf (once: a
        second click gives the panel already open)."""
        from aurous_nb.notebook import actions

        if self.panel is not None:
            return self.panel
        try:
            self.panel = actions.open_in_panel(
                self.generation_id, ledger=self.session.ledger, session=self.session
            )
        except Exception as exc:
            self._say_failure(exc)
            return None
        self.shelf.add(self.panel)
        return self.panel

    def reuse_seed(self) -> dict[str, Any] | None:
        """This result's request with its seed, handed to ``on_seed``."""
        from aurous_nb.notebook import actions

        try:
            request = actions.reuse_seed(self.generation_id, ledger=self.session.ledger)
        except Exception as exc:
            self._say_failure(exc)
            return None
        self.on_seed(request)
        return request


def request_text(request: dict[str, Any]) -> str:
    """A reused request as the shelf shows it: the seed first, then the JSON to copy."""
    body = canonical_json(request, default=str, spaced=True)
    return (
        f"<span class='aurous-muted'>Seed <b>{esc(request.get('seed', 'random'))}</b> · "
        f"<code>grid.last_action</code> = <code>{esc(body)}</code></span>"
    )

"""LoraBrowser: the team's styles as a searchable gallery of previews and descriptions.

Picking a card sets :attr:`LoraBrowser.value` (the LoRA id), fills a connected
:class:`GenerationPanel` (``LoraBrowser(target=panel)``) and calls ``on_pick`` callbacks.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import ipywidgets as w

from aurous_nb.notebook.widgets import _catalog
from aurous_nb.notebook.widgets._base import StaticFallback, resolve_session
from aurous_nb.notebook.widgets._static import (
    Markup,
    data_uri,
    error_text,
    esc,
    image_format,
    table,
    wrap,
)
from aurous_nb.notebook.widgets._tasks import handler, schedule

__all__ = ["LoraBrowser"]

CARD_WIDTH = "180px"
CSS = """<style>
.aurous-loras{border:1px solid #d6d8de;border-radius:8px;padding:10px 12px;background:#fbfbfd}
.aurous-title{font-weight:600;font-size:15px}
.aurous-muted{color:#667;font-size:12px}
.aurous-lora-card{border:1px solid #e1e3ea;border-radius:8px;background:#fff;padding:6px;
  margin:0 8px 8px 0}
.aurous-lora-card.aurous-picked{border:2px solid #1976d2}
.aurous-lora-name{font-weight:600;font-size:13px}
.aurous-lora-about{font-size:11px;color:#555;line-height:1.35;height:44px;overflow:hidden}
.aurous-loras img{border-radius:6px}
</style>"""


class LoraBrowser(StaticFallback, w.VBox):  # type: ignore[misc]  # ipywidgets is untyped
    """A searchable gallery of image styles; ``browser.value`` is the picked id (or ``None``).

    ``LoraBrowser(session=None, *, target=None, on_pick=None)``: ``target`` is a
    :class:`GenerationPanel` whose LoRA picker a pick fills.
    """

    def __init__(
        self,
        session: Any = None,
        *,
        target: Any = None,
        on_pick: Callable[[Any], Any] | None = None,
    ) -> None:
        self.session = resolve_session(session)
        self.target = target
        self.value: str | None = None
        self.loras: list[Any] = []
        self.previews: dict[str, bytes] = {}
        self.loaded = False
        self.error: str | None = None
        self._callbacks: list[Callable[[Any], Any]] = [on_pick] if on_pick else []
        self._cards: dict[str, w.VBox] = {}
        self.search = w.Text(
            placeholder="Search styles by name or description",
            layout=w.Layout(width="320px"),
        )
        self.search.observe(handler(lambda _: self._filter()), names="value")
        self.picked = w.HTML("<span class='aurous-muted'>Nothing picked yet.</span>")
        self.gallery = w.HBox(layout=w.Layout(flex_flow="row wrap"))
        header = w.HTML(f"{CSS}<span class='aurous-title'>Aurous · Styles</span>")
        super().__init__(
            children=[
                w.HBox([header, self.search, self.picked], layout=w.Layout(align_items="center")),
                self.gallery,
            ]
        )
        self.add_class("aurous-loras")
        self._setup = schedule(self._load())

    async def ready(self) -> LoraBrowser:
        await self._setup
        return self

    def on_pick(self, callback: Callable[[Any], Any]) -> None:
        """Call ``callback(lora)`` whenever a style is picked."""
        self._callbacks.append(callback)

    async def _load(self) -> None:
        try:
            self.loras = await _catalog.loras(self.session)
        except Exception as exc:
            self.error = error_text(exc)
            self.picked.value = f"<span class='aurous-error'>{esc(self.error)}</span>"
            self.refresh_static()
            raise
        images = await _catalog.previews([x.preview_image_url for x in self.loras])
        for lora, data in zip(self.loras, images, strict=False):
            if data is not None:
                self.previews[lora.id] = data
            self._cards[lora.id] = self._card(lora)
        self.loaded = True
        self._filter()

    def _card(self, lora: Any) -> w.VBox:
        data = self.previews.get(lora.id)
        parts: list[w.Widget] = []
        if data is not None:
            parts.append(
                w.Image(value=data, format=image_format(data), layout=w.Layout(width="166px"))
            )
        parts.append(w.HTML(f"<div class='aurous-lora-name'>{esc(lora.name)}</div>"))
        parts.append(w.HTML(f"<div class='aurous-lora-about'>{esc(lora.description or '')}</div>"))
        button = w.Button(description="Use this style", layout=w.Layout(width="166px"))
        button.on_click(handler(lambda _, ident=lora.id: self.pick(ident)))
        parts.append(button)
        card = w.VBox(parts, layout=w.Layout(width=CARD_WIDTH))
        card.add_class("aurous-lora-card")
        return card

    def matches(self, query: str) -> list[Any]:
        """Styles whose name, slug or description contains every word of ``query``."""
        words = query.lower().split()
        return [
            x
            for x in self.loras
            if all(
                word in f"{x.name} {x.slug or ''} {x.description or ''}".lower() for word in words
            )
        ]

    def _filter(self) -> None:
        shown = self.matches(self.search.value)
        cards = [self._cards[x.id] for x in shown if x.id in self._cards]
        self.gallery.children = tuple(cards) if cards or not self.loras else (self._no_match(),)
        self.refresh_static()  # the saved copy shows the gallery as filtered now

    def _no_match(self) -> w.HTML:
        """What an empty search shows instead of an empty gallery."""
        return w.HTML(
            f"<span class='aurous-muted'>No style matches "
            f"<b>{esc(self.search.value.strip())}</b> (of {len(self.loras)}); "
            "try fewer or other words.</span>"
        )

    def pick(self, lora: str) -> str:
        """Pick a style by id, slug or name; returns its id."""
        from aurous_nb.notebook import styles

        found = styles.find(lora, self.loras)
        if found is None:
            raise styles.unknown(lora, self.loras, param="lora", hint="search the gallery")
        if self.value in self._cards:
            self._cards[self.value].remove_class("aurous-picked")
        self.value = found.id
        self._cards[found.id].add_class("aurous-picked")
        self.picked.value = f"<span class='aurous-muted'>Picked <b>{esc(found.name)}</b></span>"
        self.refresh_static()
        if self.target is not None:
            self.target.set_lora(found.id)
        for callback in self._callbacks:
            result = callback(found)
            if asyncio.iscoroutine(result):
                schedule(result)
        return str(found.id)

    def static_html(self) -> str:
        """The gallery as the person sees it: the picked style, the search, every shown card."""
        if self.error:
            return wrap("Aurous · Styles", f"<p class='aurous-err'>{esc(self.error)}</p>")
        if not self.loaded:
            return wrap("Aurous · Styles", "<p>loading…</p>")
        picked = next((x.name for x in self.loras if x.id == self.value), None)
        parts = [f"<p>Picked <b>{esc(picked)}</b></p>" if picked else "<p>Nothing picked yet.</p>"]
        shown = self.matches(self.search.value)
        query = self.search.value.strip()
        if query:
            parts.append(
                f"<p>{len(shown)} of {len(self.loras)} styles match <i>{esc(query)}</i></p>"
            )
        rows = [
            {
                "preview": Markup(f'<img src="{data_uri(self.previews[x.id])}" alt=""/>')
                if x.id in self.previews
                else "",
                "name": Markup(f"<b>{esc(x.name)}</b> (picked)") if x.id == self.value else x.name,
                "id": x.id,
                "description": x.description or "",
            }
            for x in shown
        ]
        parts.append(table(rows) if rows else f"<p>No style matches {esc(query)}.</p>")
        return wrap("Aurous · Styles", *parts)

    def __repr__(self) -> str:
        return f"<LoraBrowser {len(self.loras)} styles picked={self.value}>"

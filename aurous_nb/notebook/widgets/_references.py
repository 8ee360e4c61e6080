"""The panel's reference images: an upload control, a row of picked thumbnails, a clear button.

Pictures come from the upload control (read and checked at once, so a bad file is refused when
it is picked, not when Generate is clicked) or from a result's "Use as reference". They are
uploaded through ``/v1/files`` only when a generation is sent, once per picture
(:mod:`aurous_nb.client.references`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

import ipywidgets as w

from aurous_nb.client.references import MAX_REFERENCES
from aurous_nb.notebook.widgets._static import esc, image_format, thumbnail

__all__ = ["ReferencePicker", "image_upload"]

_THUMB = 72


@dataclass(frozen=True)
class Picked:
    """One reference: its source (bytes, a path, a Generation, an id or URL) and a label."""

    source: Any
    label: str
    preview: bytes | None


def image_upload(description: str) -> w.FileUpload:
    """The upload button of the panel and the studio: PNG, JPEG or WebP, several at once."""
    return w.FileUpload(
        accept="image/png,image/jpeg,image/webp",
        multiple=True,
        description=description,
        icon="upload",
        layout=w.Layout(width="130px"),
    )


class ReferencePicker(w.VBox):  # type: ignore[misc]  # ipywidgets is untyped
    """``picker.sources()`` is what the next generation sends as references."""

    def __init__(self, on_change: Callable[[], None] | None = None) -> None:
        self.picked: list[Picked] = []
        self._on_change = on_change
        self.upload = image_upload("Reference")
        self.clear_button = w.Button(
            description="Clear", icon="times", disabled=True, layout=w.Layout(width="80px")
        )
        self.note = w.HTML()
        self.row = w.HBox(layout=w.Layout(flex_flow="row wrap"))
        self.upload.observe(self._uploaded, names="value")
        self.clear_button.on_click(lambda _: self.clear())
        controls = w.HBox(
            [self.upload, self.clear_button, self.note], layout=w.Layout(align_items="center")
        )
        super().__init__(children=[controls, self.row])
        self._show()

    def sources(self) -> list[Any]:
        return [p.source for p in self.picked]

    def add(self, source: Any, label: str, preview: bytes | None = None) -> bool:
        """Add a reference (False, with a note, when it is refused or the row is full)."""
        if len(self.picked) >= MAX_REFERENCES:
            self._say(f"At most {MAX_REFERENCES} references.", error=True)
            return False
        if isinstance(source, (bytes, bytearray, memoryview)):
            from aurous_nb.client.errors import ValidationError
            from aurous_nb.client.references import checked_image

            try:
                checked_image(bytes(source), "reference", repr(label))
            except ValidationError as exc:
                self._say(exc.message.removeprefix("reference: "), error=True)
                return False
            source = preview = bytes(source)
        self.picked.append(Picked(source, label, preview))
        self._say("")
        self._show()
        return True

    def extend(self, sources: Iterable[Any]) -> None:
        for source in sources:
            self.add(source, _label(source))

    def remove(self, index: int) -> None:
        del self.picked[index]
        self._show()

    def clear(self) -> None:
        self.picked.clear()
        self._say("")
        self._show()

    def _uploaded(self, change: dict[str, Any]) -> None:
        files = change["new"]
        if not files:
            return
        for f in files:
            self.add(bytes(f["content"]), str(f.get("name") or "upload"))
        self.upload.value = ()  # the same file may be picked again later

    def _say(self, text: str, *, error: bool = False) -> None:
        css = "aurous-error" if error else "aurous-muted"
        self.note.value = f"<span class='{css}'>{esc(text)}</span>" if text else ""

    def _show(self) -> None:
        cells = [self._cell(i, p) for i, p in enumerate(self.picked)]
        self.row.children = tuple(cells)
        self.clear_button.disabled = not self.picked
        if self.picked and not self.note.value:
            n = len(self.picked)
            self.note.value = (
                f"<span class='aurous-muted'>{n} reference{'s' * (n != 1)} · uploaded once, "
                "when Generate sends them</span>"
            )
        if self._on_change is not None:
            self._on_change()

    def _cell(self, index: int, picked: Picked) -> w.VBox:
        remove = w.Button(
            description="×", tooltip=f"remove {picked.label}", layout=w.Layout(width="32px")
        )
        remove.on_click(lambda _: self.remove(index))
        caption = w.HTML(f"<span class='aurous-muted'>{esc(picked.label[:24])}</span>")
        parts: list[w.Widget] = []
        if picked.preview is not None:
            small = thumbnail(picked.preview, _THUMB)
            parts.append(
                w.Image(value=small, format=image_format(small), layout=w.Layout(width="72px"))
            )
        parts.append(w.HBox([caption, remove], layout=w.Layout(align_items="center")))
        return w.VBox(parts, layout=w.Layout(align_items="center"))

    def static_text(self) -> str:
        return ", ".join(p.label for p in self.picked)


def _label(source: Any) -> str:
    from pathlib import Path

    if isinstance(source, Path):
        return source.name
    ident = getattr(source, "id", None)
    return str(ident if ident is not None else source)[:40]

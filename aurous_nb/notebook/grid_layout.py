"""Where a grid's cells go: which axes make the rows, the columns and the pages.

The widget, its saved copy and the contact sheet all lay a grid out the same way, so it is
decided once here from the axes :func:`aurous_nb.work.spec.grid_axes` returns. By default the
prompts are the rows and every other axis that varies (and the LoRA, always) the columns, as
the grid always was; ``rows=`` / ``cols=`` pick axes by name and the varying axes left over
become pages.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from aurous_nb.text import NO_LORA

__all__ = ["GridLayout", "axis_names", "vary_axes"]


def axis_names(value: str | Sequence[str] | None) -> list[str]:
    """``"seed"`` or ``["seed", "size"]`` (or ``"seed,size"``) as a list of names."""
    if value is None:
        return []
    if isinstance(value, str):
        return [p.strip() for p in value.split(",") if p.strip()]
    return list(value)


@dataclass
class GridLayout:
    """Rows x columns (x pages) over named axes; ``position(values)`` finds a cell."""

    axes: list[tuple[str, list[Any]]]
    rows: list[str] = field(default_factory=list)
    cols: list[str] = field(default_factory=list)
    pages: list[str] = field(default_factory=list)

    @classmethod
    def of(
        cls,
        axes: list[tuple[str, list[Any]]],
        rows: str | Sequence[str] | None = None,
        cols: str | Sequence[str] | None = None,
    ) -> GridLayout:
        """The layout; ``ValueError`` names a row or column that is not an axis."""
        names = [n for n, _ in axes]
        varying = [n for n, v in axes if len(v) > 1]
        row_names, col_names = axis_names(rows), axis_names(cols)
        for option, chosen in (("rows", row_names), ("cols", col_names)):
            for name in chosen:
                if name not in names:
                    raise ValueError(
                        f"{option}: {name!r} is not an axis of this grid ({', '.join(names)})"
                    )
        if set(row_names) & set(col_names):
            raise ValueError("rows and cols share an axis: give each axis to one of them")
        row_names = row_names or (["prompt"] if "prompt" not in col_names else [])
        if not col_names:  # what varies, and the LoRA unless it is only "no LoRA"
            named = {"lora"} if dict(axes).get("lora") != [None] else set()
            col_names = [
                n for n in names if n not in row_names and n != "prompt" and n in {*varying, *named}
            ]
            col_names = col_names or ([] if "lora" in row_names else ["lora"])
        page_names = [n for n in varying if n not in row_names and n not in col_names]
        return cls(axes, row_names, col_names, page_names)

    def _values(self, name: str) -> list[Any]:
        return dict(self.axes)[name]

    def keys(self, names: Sequence[str]) -> list[tuple[Any, ...]]:
        return list(itertools.product(*(self._values(n) for n in names)))

    @property
    def row_keys(self) -> list[tuple[Any, ...]]:
        return self.keys(self.rows)

    @property
    def col_keys(self) -> list[tuple[Any, ...]]:
        return self.keys(self.cols)

    @property
    def page_keys(self) -> list[tuple[Any, ...]]:
        return self.keys(self.pages)

    @property
    def constants(self) -> list[tuple[str, Any]]:
        """Axes with one value (not ``None``): the grid's parameters, said once in a footer."""
        return [(n, v[0]) for n, v in self.axes if len(v) == 1 and v[0] is not None]

    def position(self, values: Mapping[str, Any]) -> tuple[int, int, int]:
        """(page, row, column) of the cell with these axis values."""

        def index(names: list[str], keys: list[tuple[Any, ...]]) -> int:
            return keys.index(tuple(values.get(n) for n in names))

        return (
            index(self.pages, self.page_keys),
            index(self.rows, self.row_keys),
            index(self.cols, self.col_keys),
        )

    def label(
        self,
        names: Sequence[str],
        key: Sequence[Any],
        lora_name: Callable[[str], str] = str,
        character_name: Callable[[str], str] = str,
    ) -> str:
        """A row, column or page heading: ``"Golden Hour · seed 3 · cfg_rescale 0.8"``; a
        character by its name (``"Ana"``), the request carrying its id."""
        parts = []
        for name, value in zip(names, key, strict=True):
            if name == "lora":
                parts.append(lora_name(value) if value else NO_LORA)
            elif name == "prompt":
                parts.append(str(value))
            elif len(self._values(name)) <= 1:
                continue  # said once in the footer, not on every heading
            elif name == "character":
                parts.append(character_name(value) if value else "no character")
            elif name in ("size", "prompt_sr"):
                parts.append(str(value))
            elif name == "seed":
                parts.append(f"seed {value}")
            else:
                parts.append(f"{name} {_text(value)}")
        return " · ".join(parts)


def _text(value: Any) -> str:
    if value is None:
        return "default"
    label = getattr(value, "label", None)  # reference images: their file names
    if isinstance(label, str):
        return label
    if isinstance(value, (list, tuple)):
        return "+".join(f"{v[0]}:{v[1]}" if isinstance(v, (list, tuple)) else str(v) for v in value)
    return str(value)


def vary_axes(options: Sequence[str]) -> dict[str, list[Any]]:
    """``--vary`` options (``cfg_rescale=0.2,0.8``; ``|`` separates values that hold commas)
    as axes, each value read as a number, ``true``/``false``, ``none`` or else text."""
    out: dict[str, list[Any]] = {}
    for option in options:
        name, sep, text = option.partition("=")
        if not sep or not name.strip() or not text.strip():
            raise ValueError(f"--vary {option!r}: write FIELD=VALUE,VALUE")
        parts = text.split("|") if "|" in text else text.split(",")
        out[name.strip()] = [_typed(p.strip()) for p in parts if p.strip()]
    return out


def _typed(text: str) -> Any:
    lowered = text.lower()
    if lowered in ("true", "false"):
        return lowered == "true"
    if lowered in ("none", "default"):
        return None
    for kind in (int, float):
        try:
            return kind(text)
        except ValueError:
            pass
    return text

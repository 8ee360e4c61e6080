"""``%aurous history`` as people read it: prompt, status and cost first.

:func:`aurous_nb.analysis.frames.history` has 32 columns, which a terminal shows as a few
truncated ones
and ``...``. :class:`HistoryTable` is that same frame with the columns a person looks for first
(when, prompt, status, cost, LoRA, size, id), and a text form (what terminal IPython shows)
made of those columns only, with missing values written as everywhere else
(:mod:`aurous_nb.text`). It is a ``DataFrame``: every column is still there, and anything
derived from it is a plain ``DataFrame``. Importing this module imports pandas.
"""

from __future__ import annotations

from typing import Any

import pandas as pd

from aurous_nb.text import NO_LORA, UNKNOWN, moment, number

__all__ = ["FIRST", "HistoryTable"]

#: The columns shown first (and the only ones in the text form).
FIRST = ("created_at", "prompt", "status", "cost", "lora", "size", "generation_id")
_PROMPT_WIDTH = 40


class HistoryTable(pd.DataFrame):  # type: ignore[misc]  # pandas-stubs are not installed
    """A history frame whose text form is the first columns only, one generation per line."""

    @property
    def _constructor(self) -> Any:
        return pd.DataFrame

    @classmethod
    def of(cls, frame: pd.DataFrame) -> HistoryTable:
        """``frame`` with :data:`FIRST` first, then every other column in its own order."""
        order = [c for c in FIRST if c in frame.columns]
        order += [c for c in frame.columns if c not in order]
        table = cls(frame[order])
        table.attrs.update(frame.attrs)
        return table

    def text(self, max_rows: int = 30) -> str:
        """The text form: the first columns, newest first, at most ``max_rows`` lines."""
        if self.empty:
            return f"No generations in {self.attrs.get('env') or 'this environment'}."
        shown = pd.DataFrame(self).head(max_rows)
        rows = {
            "created": [moment(t.timestamp()) if t == t else UNKNOWN for t in shown["created_at"]],
            "prompt": [_cut(p) for p in shown["prompt"]],
            "status": [str(s) for s in shown["status"]],
            "cost": [number(None if c != c else c) for c in shown["cost"]],
            "lora": [NO_LORA if v != v or v is None else str(v) for v in shown["lora"]],
            "size": [UNKNOWN if v != v or v is None else str(v) for v in shown["size"]],
            "id": [UNKNOWN if v != v or v is None else str(v) for v in shown["generation_id"]],
        }
        widths = {k: max(len(k), *(len(v) for v in vals)) for k, vals in rows.items()}
        lines = ["  ".join(k.ljust(widths[k]) for k in rows).rstrip()]
        for i in range(len(shown)):
            cells = (
                rows[k][i].rjust(widths[k]) if k == "cost" else rows[k][i].ljust(widths[k])
                for k in rows
            )
            lines.append("  ".join(cells).rstrip())
        body = "\n".join(lines)
        more = len(self) - len(shown)
        tail = f"\n... {more} more" if more > 0 else ""
        count = f"{len(self)} generation{'s' if len(self) != 1 else ''}"
        return (
            f"{body}{tail}\n[{count}; all {len(self.columns)} columns: .columns, a plain frame: "
            "pd.DataFrame(_)]"
        )

    def __repr__(self) -> str:
        return self.text()

    def _repr_pretty_(self, printer: Any, cycle: bool) -> None:
        printer.text(self.text())


def _cut(prompt: Any) -> str:
    if prompt is None or prompt != prompt:
        return UNKNOWN
    text = str(prompt).replace("\n", " ")
    return text if len(text) <= _PROMPT_WIDTH else text[: _PROMPT_WIDTH - 1] + "…"

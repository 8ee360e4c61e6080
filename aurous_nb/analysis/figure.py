"""A matplotlib figure that shows itself: a picture in any kernel, a sentence in a terminal.

The reports build figures without pyplot (no global state, no backend chosen for the user), and
such a figure has no display of its own: IPython registers its PNG formatter only once pyplot
is imported or ``%matplotlib inline`` has run, so a bare ``Figure`` shows as ``<Figure size
900x420 with 2 Axes>``. :class:`ReportFigure` carries its own ``_repr_png_``, which every
Jupyter frontend renders, and a ``text/plain`` that says what the figure is and how to see it.
It changes neither the backend nor any IPython formatter. Importing this module imports
matplotlib (the reports import it when they build a figure).
"""

from __future__ import annotations

import io
from typing import Any

from matplotlib.figure import Figure

__all__ = ["ReportFigure"]


class ReportFigure(Figure):
    """A ``Figure`` with a PNG display and a readable text form; ``name`` is its report key."""

    name: str | None = None

    def png(self, *, dpi: float | None = None) -> bytes:
        """The figure as PNG bytes (at its own dpi unless ``dpi`` is given)."""
        buffer = io.BytesIO()
        self.savefig(buffer, format="png", dpi=dpi if dpi is not None else "figure")
        return buffer.getvalue()

    def _repr_png_(self) -> bytes:
        return self.png()

    def title(self) -> str:
        """The figure's title: its suptitle, else its first axes' title."""
        suptitle: Any = getattr(self, "_suptitle", None)
        if suptitle is not None and suptitle.get_text():
            return str(suptitle.get_text())
        for axes in self.axes:
            if axes.get_title():
                return str(axes.get_title())
        return ""

    def __repr__(self) -> str:
        width, height = (int(v + 0.5) for v in self.get_size_inches() * self.dpi)
        name = f" {self.name!r}" if self.name else ""
        title = self.title()
        about = f": {title}" if title else ""
        return (
            f"<Figure{name} {width}x{height} px{about}>  (a picture in Jupyter; "
            "here, .savefig('file.png') or the report's .save('folder') writes it)"
        )

    def _repr_pretty_(self, printer: Any, cycle: bool) -> None:
        printer.text(repr(self))

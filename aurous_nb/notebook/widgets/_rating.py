"""A row of five stars and a reject button under a result: the grid's cells and the panel's
gallery rate through it, into the ledger (:mod:`aurous_nb.store.ratings`)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import ipywidgets as w

from aurous_nb.notebook.widgets._tasks import handler
from aurous_nb.store.ratings import REJECTED

__all__ = ["RatingBar"]

STAR, EMPTY, REJECT = "★", "☆", "✕"


class RatingBar(w.HBox):  # type: ignore[misc]  # ipywidgets is untyped
    """Stars 1-5 and reject for one generation; a click stores it (another click on the same
    star, or on reject, clears it). ``on_change(value)`` follows each change."""

    def __init__(
        self,
        generation_id: str,
        ledger: Any,
        value: int | None = None,
        on_change: Callable[[int | None], Any] | None = None,
    ) -> None:
        self.generation_id, self.ledger, self.value = generation_id, ledger, value
        self.on_change = on_change
        small = w.Layout(width="22px", min_width="0", height="22px", padding="0", margin="0 1px")
        self.stars = [
            w.Button(description=EMPTY, tooltip=f"{n} stars", layout=small) for n in range(1, 6)
        ]
        self.reject = w.Button(description=REJECT, tooltip="reject", layout=small)
        for n, button in enumerate(self.stars, start=1):
            button.add_class("aurous-star")
            button.on_click(handler(lambda _, n=n: self.rate(n, toggle=True)))
        self.reject.add_class("aurous-reject")
        self.reject.on_click(handler(lambda _: self.rate(REJECTED, toggle=True)))
        super().__init__(
            children=[*self.stars, self.reject],
            layout=w.Layout(justify_content="center", flex_flow="row wrap"),  # all six, always
        )
        self.add_class("aurous-rating")
        self._show()

    def rate(self, stars: int | None, *, toggle: bool = False) -> int | None:
        """Store ``stars`` (1-5, 0 rejects; with ``toggle``, a click, the current value again
        clears it)."""
        from aurous_nb.store.ratings import rate

        value = None if toggle and stars == self.value else stars
        self.value = rate(
            self.generation_id, "reject" if value == REJECTED else value, ledger=self.ledger
        )
        self._show()
        if self.on_change is not None:
            self.on_change(self.value)
        return self.value

    def _show(self) -> None:
        stars = self.value or 0
        for n, button in enumerate(self.stars, start=1):
            button.description = STAR if n <= stars else EMPTY
        self.reject.button_style = "danger" if self.value == REJECTED else ""

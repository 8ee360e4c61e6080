"""Blocking waits with live progress, for the ``%aurous`` magics.

The cell blocks (a person asked for the result) and polls with the blocking client; progress is
an updating display (``display_id``), so no widget and no second thread is involved. The live
display ends *empty*: a saved notebook keeps no timings, so re-running it under nbval compares
equal, and the result itself is shown by the caller below.
"""

from __future__ import annotations

import html
import time
from typing import Any

from aurous_nb.client.backoff import Backoff

__all__ = ["Progress", "wait_for"]

_EMPTY = {"text/plain": ""}


class Progress:
    """An updating one-line status display (a no-op when ``enabled`` is False)."""

    def __init__(self, enabled: bool = True) -> None:
        self._handle: Any = None
        if enabled:
            from IPython.display import display

            self._handle = display(_EMPTY, raw=True, display_id=True)  # type: ignore[no-untyped-call]

    def show(self, label: str, status: str, elapsed: float, expected: float | None) -> None:
        if self._handle is None:
            return
        text = f"{label}: {status} · {elapsed:.1f}s"
        if expected:
            fraction = min(0.95, elapsed / expected)
            bar = (
                f'<progress value="{fraction:.2f}" max="1" style="width:16em;'
                'vertical-align:middle"></progress>'
            )
        else:
            bar = '<progress style="width:16em;vertical-align:middle"></progress>'
        self._handle.update(
            {
                "text/plain": text,
                "text/html": f"<div>{bar} <code>{html.escape(text)}</code></div>",
            },
            raw=True,
        )

    def close(self) -> None:
        """Clear the line (the final result is displayed separately)."""
        if self._handle is not None:
            self._handle.update(_EMPTY, raw=True)
            self._handle = None


def wait_for(
    client: Any,
    generation: Any,
    *,
    timeout: float,
    progress: bool = True,
    expected: float | None = None,
    on_poll: Any = None,
) -> Any:
    """Poll ``generation`` until it is terminal or ``timeout`` seconds pass; return the last
    state seen (check ``.is_terminal``). ``on_poll(gen)`` sees every fresh state (the ledger).

    ``KeyboardInterrupt`` (the stop button) propagates; the job keeps running on the server.
    """
    label = generation.id
    view = Progress(progress)
    start = time.monotonic()
    gaps = Backoff()
    gen = generation
    try:
        while not gen.is_terminal:
            elapsed = time.monotonic() - start
            view.show(label, gen.status, elapsed, expected)
            if elapsed >= timeout:
                break
            time.sleep(min(gaps.next(), max(0.0, timeout - elapsed)))
            gen = client.images.get(gen.id)
            if on_poll is not None:
                on_poll(gen)
    finally:
        view.close()
    return gen

"""What every panel shares: the session it talks to, and a live view with a static twin.

``_repr_mimebundle_`` returns the widget view *and* ``text/html`` (see :mod:`._static`), so a
saved notebook still shows the result where no kernel runs. When the widget is displayed through
IPython, it keeps the display handle, so work awaited in the same cell (``await grid.run()``)
refreshes the saved HTML too; after a click in a finished cell the frontend no longer listens for
updates, which is why ``static()`` exists (display it in a later cell to save the final state).
"""

from __future__ import annotations

from typing import Any

__all__ = ["StaticFallback", "StaticView", "resolve_session"]


def resolve_session(session: Any) -> Any:
    """The given session, else the notebook's current one (connecting it if needed)."""
    if session is not None:
        return session
    from aurous_nb import session as sessions

    return sessions.current()


class StaticView:
    """Just the static HTML of a widget, frozen at the time it was taken."""

    def __init__(self, html: str) -> None:
        self.html = html

    def _repr_html_(self) -> str:
        return self.html


class StaticFallback:
    """Mixin for ipywidgets containers: adds ``text/html`` beside the widget view."""

    _display_handle: Any = None

    def static_html(self) -> str:  # pragma: no cover - every widget overrides it
        raise NotImplementedError

    def static(self) -> StaticView:
        """The current state as plain HTML (embedded images, tables), for saving or sharing."""
        return StaticView(self.static_html())

    def _repr_mimebundle_(self, **kwargs: Any) -> dict[str, Any]:
        bundle: dict[str, Any] = dict(super()._repr_mimebundle_(**kwargs) or {})  # type: ignore[misc]
        bundle["text/html"] = self.static_html()
        return bundle

    def _ipython_display_(self) -> None:
        from IPython import display as ipy_display

        show: Any = ipy_display.display  # untyped
        self._display_handle = show(self._repr_mimebundle_(), raw=True, display_id=True)

    def refresh_static(self) -> None:
        """Send the fresh static HTML to the output this widget was displayed in (if any)."""
        if self._display_handle is None:
            return
        try:
            self._display_handle.update(self._repr_mimebundle_(), raw=True)
        except Exception:  # no kernel to send to (plain Python): nothing to refresh
            self._display_handle = None

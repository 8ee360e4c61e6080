"""What every panel shares: the session it talks to, and a live view with a static twin.

``_repr_mimebundle_`` returns the widget view *and* ``text/html`` (see :mod:`._static`), so a
saved notebook still shows the result where no kernel runs (GitHub, nbviewer, nbconvert).

JupyterLab prefers the widget view and, once the kernel that owned the model is gone, shows
``Error displaying widget: model not found`` instead of the ``text/html`` beside it. So the bundle
also carries :data:`STATIC_MIME`, which the ``aurous-nb`` labextension shipped in the wheel
renders: the live view while its model exists, else the output's ``text/html``. To keep that copy
current after clicks, the widget carries its latest static HTML in the synced ``_static_html``
trait, and the extension writes it into the output's ``text/html``, which is what gets saved.
Elsewhere (nbclient, ``make demo``) the display handle refreshes the copy while the cell runs.
"""

from __future__ import annotations

from typing import Any

import traitlets

__all__ = ["STATIC_MIME", "StaticFallback", "StaticView", "budget_value", "resolve_session"]

# Read by the labextension (labextension/src/index.ts): "render me, falling back to text/html".
STATIC_MIME = "application/vnd.aurous-nb.static+json"


def budget_value(value: Any) -> float | None:
    """A panel's or grid's budget, given or typed: credits, 0 or more, finite (a NaN cap would
    cap nothing; see ``client._params.number_problem``); ``None`` or ``""``: no cap."""
    from aurous_nb.client._params import check_float
    from aurous_nb.client.errors import ValidationError

    if isinstance(value, str):
        text = value.strip()
        if not text:
            return None
        try:
            value = float(text)
        except ValueError:
            raise ValidationError(
                "budget", f"budget: {text!r} is not a number of credits"
            ) from None
    return None if value is None else float(check_float("budget", value, 0))


def resolve_session(session: Any) -> Any:
    """The given session, else the notebook's current one (connecting it if needed)."""
    if session is not None:
        return session
    from aurous_nb.notebook import session as sessions

    return sessions.current()


class StaticView:
    """Just the static HTML of a widget, frozen at the time it was taken."""

    def __init__(self, html: str) -> None:
        self.html = html

    def _repr_html_(self) -> str:
        return self.html


class StaticFallback(traitlets.HasTraits):
    """Mixin for ipywidgets containers: adds ``text/html`` beside the widget view, kept current."""

    _display_handle: Any = None
    # The static copy as last refreshed; synced, so the frontend can save it after any click.
    _static_html = traitlets.Unicode("").tag(sync=True)

    def static_html(self) -> str:  # pragma: no cover - every widget overrides it
        raise NotImplementedError

    def static(self) -> StaticView:
        """The current state as plain HTML (embedded images, tables), for saving or sharing."""
        return StaticView(self.static_html())

    def _repr_mimebundle_(self, **kwargs: Any) -> dict[str, Any]:
        bundle: dict[str, Any] = dict(super()._repr_mimebundle_(**kwargs) or {})  # type: ignore[misc]
        self._static_html = bundle["text/html"] = self.static_html()
        bundle[STATIC_MIME] = {"trait": "_static_html"}
        return bundle

    def _ipython_display_(self) -> None:
        from IPython import display as ipy_display

        show: Any = ipy_display.display  # untyped
        self._display_handle = show(self._repr_mimebundle_(), raw=True, display_id=True)

    def refresh_static(self) -> None:
        """Bring the static copy up to date: the synced trait, and the output this widget was
        displayed in (when its cell still listens)."""
        bundle = self._repr_mimebundle_()
        if self._display_handle is None:
            return
        try:
            self._display_handle.update(bundle, raw=True)
        except Exception:  # no kernel to send to (plain Python): nothing to refresh
            self._display_handle = None

"""How a ``Generation`` returned by a magic shows in the notebook, and in a terminal.

The magics return the client's ``Generation`` (ids, status, outputs: the data), and this module
makes the shell render it with :mod:`aurous_nb.notebook.display` (previews from the outputs cache,
embedded as bytes, with the facts beside them) by registering an IPython ``text/html``
formatter for the type, bound to the current session's ledger and environment, and a
``text/plain`` one (what terminal IPython shows) that says where each output was saved.
"""

from __future__ import annotations

import html
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from aurous_nb.notebook.session import Session

__all__ = ["generation_html", "generation_text", "register"]


def register(session: Session) -> None:
    """Install the ``text/html`` formatter for ``Generation`` in the running shell, once per
    session: the magics call this whenever they resolve a session (so the first result of a
    kernel, ``--no-wait`` included, renders like every later one), and a new session replaces
    the previous session's formatter."""
    from IPython import get_ipython

    shell = get_ipython()
    if shell is None:
        return
    from aurous_nb.client.models import Generation

    formatters = shell.display_formatter.formatters
    installed = formatters["text/html"].type_printers.get(Generation)
    if installed is not None and getattr(installed, "session", None) is session:
        return
    formatters["text/html"].for_type(Generation, _Renderer(session))
    formatters["text/plain"].for_type(Generation, _PlainRenderer(session))


class _Renderer:
    """``generation_html`` bound to one session (an object, so :func:`register` can tell)."""

    def __init__(self, session: Session) -> None:
        self.session = session

    def __call__(self, gen: Any) -> str:
        return generation_html(gen, self.session)


class _PlainRenderer(_Renderer):
    """The ``text/plain`` printer (IPython calls it with a pretty-printer and a cycle flag)."""

    def __call__(self, gen: Any, printer: Any = None, cycle: bool = False) -> Any:
        text = generation_text(gen, self.session)
        if printer is None:
            return text
        printer.text(text)
        return None


def generation_text(gen: Any, session: Session) -> str:
    """The display module's text for ``gen`` (facts and saved paths); its repr if that fails."""
    try:
        return str(_view(gen, session).text())
    except Exception:
        return repr(gen)


def generation_html(gen: Any, session: Session) -> str:
    """The display module's card for ``gen``; a one-line fallback if it cannot render."""
    try:
        return str(_view(gen, session)._repr_html_())
    except Exception as exc:  # never let a rendering problem hide the result
        return (
            f"<code>{html.escape(repr(gen))}</code> "
            f"<span style='color:#888'>(preview unavailable: {html.escape(str(exc))})</span>"
        )


def _view(gen: Any, session: Session) -> Any:
    """The ledger's view of ``gen``: the magic that returned it has recorded it already, so a
    render only reads (each of a result's formats renders once); recorded here if it was not."""
    from aurous_nb.notebook import display

    try:
        return display.view(gen.id, session.ledger, env=session.env)
    except LookupError:
        return display.view(gen, session.ledger, env=session.env)

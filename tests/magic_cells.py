"""Cells the way a person runs them: one IPython shell with ``%aurous`` loaded, and ``run``.

Every test that drives the magics gets its shell from :func:`aurous_shell`, so each starts from
the same state (no connection, the extension freshly loaded) and leaves nothing behind (the
shell is a process-wide singleton: settings changed with ``%config`` are put back).
"""

from __future__ import annotations

import contextlib
import copy
from collections.abc import Iterator
from typing import Any

import pytest
from IPython.core.interactiveshell import InteractiveShell
from traitlets.config import Config

from aurous_nb.notebook import session as sessions


@contextlib.contextmanager
def aurous_shell(client: Any = None, connect: str | None = None) -> Iterator[InteractiveShell]:
    """The shell with ``%aurous`` loaded; on ``client`` (a sandbox session) or after the
    ``connect`` cell (e.g. ``"%aurous connect --sandbox"``) when given, else unconnected."""
    from aurous_nb.notebook.magics.extension import unload_ipython_extension
    from aurous_nb.notebook.session import Session

    shell = InteractiveShell.instance()
    saved = copy.deepcopy(dict(shell.config.get("Aurous", {})))
    sessions.disconnect()
    shell.run_cell("%load_ext aurous_nb", store_history=False)
    if client is not None:
        sessions._set_current(Session(client, sandbox=None, key_source="sandbox"))
    if connect is not None:
        assert shell.run_cell(connect, store_history=False).success
    try:
        yield shell
    finally:
        shell.config.pop("Aurous", None)
        if saved:
            shell.config.Aurous = Config(saved)
        unload_ipython_extension(shell)
        if client is not None:
            sessions._set_current(None)
        sessions.disconnect()


def run(ip: InteractiveShell, capsys: pytest.CaptureFixture[str], source: str) -> tuple[Any, str]:
    """Run a cell; return (its result, everything it printed)."""
    capsys.readouterr()
    result = ip.run_cell(source)
    out = capsys.readouterr()
    return result, out.out + out.err

"""Which notebook and cell an action came from, when the frontend says (for the ledger).

The ledger keys a re-run by its notebook and cell, so a magic and a panel in the same cell must
read them the same way: JupyterLab and Notebook 7 give the kernel ``JPY_SESSION_NAME`` and a
``cellId`` with each execute request; VS Code puts ``__vsc_ipynb_file__`` in the namespace.
nbclient and the terminal send no cell id, and a button click runs outside any cell.
"""

from __future__ import annotations

import os
from typing import Any

__all__ = ["cell_context"]


def cell_context(shell: Any = None) -> tuple[str | None, str | None]:
    """``(notebook, cell id)`` of the code running now, ``None`` for what is not known."""
    if shell is None:
        try:
            from IPython import get_ipython

            shell = get_ipython()
        except ImportError:
            shell = None
    notebook = os.environ.get("JPY_SESSION_NAME") or None
    ns = getattr(shell, "user_ns", None) or {}
    notebook = notebook or ns.get("__vsc_ipynb_file__") or ns.get("__session__") or None
    cell = None
    kernel = getattr(shell, "kernel", None)
    try:
        parent = kernel.get_parent() if kernel is not None else None
        cell = (parent or {}).get("metadata", {}).get("cellId")
    except Exception:  # an old ipykernel, or no parent message
        cell = None
    return (str(notebook) if notebook else None), (str(cell) if cell else None)

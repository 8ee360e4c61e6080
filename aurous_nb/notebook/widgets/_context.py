"""Which notebook and cell a widget action came from, when the kernel knows (for the ledger)."""

from __future__ import annotations

import os

__all__ = ["cell", "notebook"]


def notebook() -> str | None:
    """The notebook path JupyterLab / Notebook 7 give the kernel (``JPY_SESSION_NAME``)."""
    return os.environ.get("JPY_SESSION_NAME") or None


def cell() -> str | None:
    """The id of the cell being executed; ``None`` for a click or outside JupyterLab."""
    try:
        from IPython import get_ipython

        shell = get_ipython()
        kernel = getattr(shell, "kernel", None)
        if kernel is None:
            return None
        cell_id = kernel.get_parent().get("metadata", {}).get("cellId")
        return str(cell_id) if cell_id else None
    except Exception:
        return None

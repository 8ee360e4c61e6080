"""Which event loop runs the toolkit's background work (widget tasks, the session's AsyncClient).

One loop, the one the person's cells run on, so that a task started by a click can wait for a
task started by a keystroke, and an ``await`` in a cell can wait for both:

* **ipykernel**: the kernel's main loop. JupyterLab 4 sends widget messages over a kernel
  subshell (``commsOverSubshells``, default ``perCommTarget``) and ipykernel 7 runs their
  callbacks on that subshell's thread, with its own loop: work started there is moved to the main
  loop (:func:`elsewhere` says when).
* **terminal IPython** (autoawait): IPython's own loop, which runs while an ``await`` cell runs.
* **a plain script**: the running loop; outside any loop there is none yet, and work waits for
  the first loop that awaits it (``asyncio.run(grid.run())``).

IPython is only looked at when it is already imported: ``import aurous_nb`` stays cheap.
"""

from __future__ import annotations

import asyncio
import sys

__all__ = ["elsewhere", "home", "running", "target"]


def running() -> asyncio.AbstractEventLoop | None:
    """The loop running in this thread, if any."""
    try:
        return asyncio.get_running_loop()
    except RuntimeError:
        return None


def home() -> asyncio.AbstractEventLoop | None:
    """The loop cells run on: the kernel's main loop, terminal IPython's; ``None`` elsewhere."""
    ipython = sys.modules.get("IPython")
    shell = ipython.get_ipython() if ipython is not None else None
    if shell is None:
        return None
    kernel = getattr(shell, "kernel", None)
    if kernel is not None:
        loop = getattr(getattr(kernel, "io_loop", None), "asyncio_loop", None)
        if isinstance(loop, asyncio.AbstractEventLoop) and not loop.is_closed():
            return loop
        return None
    if getattr(shell, "autoawait", False) and str(getattr(shell, "loop_runner", "")) == "asyncio":
        from IPython.core.async_helpers import get_asyncio_loop

        loop = get_asyncio_loop()  # type: ignore[no-untyped-call]  # IPython is untyped
        return loop if isinstance(loop, asyncio.AbstractEventLoop) else None
    return None


def elsewhere() -> asyncio.AbstractEventLoop | None:
    """The home loop when another thread runs it (a callback on a kernel subshell), else None."""
    loop = home()
    if loop is not None and loop.is_running() and loop is not running():
        return loop
    return None


def target() -> asyncio.AbstractEventLoop | None:
    """Where new work goes: the home loop if another thread runs it, else the running loop, else
    the home loop (terminal IPython between cells); ``None`` outside any loop in a script."""
    return elsewhere() or running() or home()

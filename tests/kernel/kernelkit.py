"""A real ipykernel driven the way JupyterLab 4 drives it, without a browser.

JupyterLab (``commsOverSubshells``, default ``perCommTarget``) opens one kernel subshell for the
``jupyter.widget`` comm target and sends every widget message there: ipykernel 7 then runs the
widget's callbacks on that subshell's own thread and event loop, not on the loop cells run on.
:class:`Kernel` does the same: :meth:`Kernel.type_into` sends the ``update`` messages a browser
sends while a person types, :meth:`Kernel.click` the ``custom`` click of a button, both over a
subshell and outside any execute request.
"""

from __future__ import annotations

import os
import queue
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]


def isolated_env(tmp: Path) -> dict[str, str]:
    """Private Jupyter, IPython and aurous_nb homes; the checkout first on the path."""
    env = dict(os.environ)
    for name in ("JUPYTER_CONFIG_DIR", "JUPYTER_DATA_DIR", "JUPYTER_RUNTIME_DIR", "IPYTHONDIR"):
        folder = tmp / name.lower()
        folder.mkdir(parents=True, exist_ok=True)
        env[name] = str(folder)
    env["AUROUS_NB_HOME"] = str(tmp / "aurous_home")
    env.pop("AUROUS_API_KEY", None)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    return env


class Kernel:
    """One started kernel and its client; every wait is bounded by ``timeout`` seconds."""

    def __init__(self, manager: Any, client: Any, timeout: float = 60.0) -> None:
        self.manager = manager
        self.client = client
        self.timeout = timeout
        self._subshell: str | None = None

    def _until_idle(self, msg_id: str) -> list[dict[str, Any]]:
        """Every iopub message answering ``msg_id``, up to its ``idle`` status."""
        seen = []
        while True:
            try:
                msg = self.client.get_iopub_msg(timeout=self.timeout)
            except queue.Empty:
                raise AssertionError(f"no idle status for {msg_id} in {self.timeout} s") from None
            if msg["parent_header"].get("msg_id") != msg_id:
                continue
            seen.append(msg)
            if msg["msg_type"] == "status" and msg["content"]["execution_state"] == "idle":
                return seen

    def run(self, code: str) -> str:
        """Execute ``code`` as a cell; its printed text (an error raises AssertionError)."""
        msg_id = self.client.execute(code)
        out = []
        for msg in self._until_idle(msg_id):
            if msg["msg_type"] == "stream":
                out.append(msg["content"]["text"])
            elif msg["msg_type"] == "error":
                raise AssertionError("\n".join(msg["content"]["traceback"]))
        return "".join(out)

    def subshell(self) -> str:
        """The subshell JupyterLab opens for widget comms (made once, on the control channel)."""
        if self._subshell is None:
            request = self.client.session.msg("create_subshell_request", {})
            self.client.control_channel.send(request)
            reply = self.client.control_channel.get_msg(timeout=self.timeout)
            self._subshell = str(reply["content"]["subshell_id"])
        return self._subshell

    def comm(self, comm_id: str, data: dict[str, Any]) -> None:
        """Send one comm_msg over the widget subshell and wait until the kernel handled it."""
        msg = self.client.session.msg("comm_msg", {"comm_id": comm_id, "data": data})
        msg["header"]["subshell_id"] = self.subshell()
        self.client.shell_channel.send(msg)
        self._until_idle(msg["header"]["msg_id"])

    def type_into(self, model_id: str, text: str, step: int = 3) -> None:
        """What the browser sends while a person types ``text``: one update per few keys."""
        for end in [*range(step, len(text), step), len(text)]:
            self.comm(
                model_id, {"method": "update", "state": {"value": text[:end]}, "buffer_paths": []}
            )

    def click(self, model_id: str) -> None:
        self.comm(model_id, {"method": "custom", "content": {"event": "click"}})


@contextmanager
def kernel(tmp: Path) -> Iterator[Kernel]:
    """A python3 kernel (this interpreter: jupyter_client swaps in sys.executable) with isolated
    homes, shut down afterwards."""
    from jupyter_client import KernelManager

    manager = KernelManager(kernel_name="python3")
    manager.start_kernel(env=isolated_env(tmp), cwd=str(tmp))
    client = manager.client()
    client.start_channels()
    try:
        client.wait_for_ready(timeout=60)
        yield Kernel(manager, client)
    finally:
        client.stop_channels()
        manager.shutdown_kernel(now=True)

"""What only a real kernel shows: how a figure displays, and what a restarted kernel remembers.

Each test starts real ipykernels (``jupyter_client`` / ``nbclient``) with private Jupyter,
IPython and matplotlib folders, so nothing here reads or writes the user's own settings.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import nbformat
import pytest
from jupyter_client.manager import start_new_kernel
from nbclient import NotebookClient


@pytest.fixture
def kernel_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """Private Jupyter / IPython / matplotlib dirs and ``AUROUS_NB_HOME`` for the kernels."""
    home = tmp_path / "aurous_home"
    for name, folder in (
        ("JUPYTER_CONFIG_DIR", "jupyter_config"),
        ("JUPYTER_DATA_DIR", "jupyter_data"),
        ("JUPYTER_RUNTIME_DIR", "jupyter_runtime"),
        ("IPYTHONDIR", "ipython"),
        ("MPLCONFIGDIR", "matplotlib"),
    ):
        (tmp_path / folder).mkdir()
        monkeypatch.setenv(name, str(tmp_path / folder))
    monkeypatch.setenv("AUROUS_NB_HOME", str(home))
    monkeypatch.delenv("AUROUS_API_KEY", raising=False)
    monkeypatch.delenv("AUROUS_BASE_URL", raising=False)
    monkeypatch.delenv("MPLBACKEND", raising=False)
    monkeypatch.chdir(tmp_path)
    yield home


def _outputs(kc: Any, code: str, timeout: float = 120.0) -> list[dict[str, Any]]:
    """Run ``code`` in the kernel; every display_data / execute_result / stream / error it sent."""
    msg_id = kc.execute(code)
    seen: list[dict[str, Any]] = []
    while True:
        msg = kc.get_iopub_msg(timeout=timeout)
        if msg["parent_header"].get("msg_id") != msg_id:
            continue
        kind = msg["msg_type"]
        if kind in ("display_data", "execute_result", "stream", "error"):
            seen.append({"type": kind, **msg["content"]})
        if kind == "status" and msg["content"]["execution_state"] == "idle":
            return seen


def _text(outputs: list[dict[str, Any]]) -> str:
    parts = []
    for out in outputs:
        if out["type"] == "stream":
            parts.append(out["text"])
        elif out["type"] == "error":
            parts.append("\n".join(out["traceback"]))
        else:
            parts.append(out.get("data", {}).get("text/plain", ""))
    return "\n".join(parts)


# ------------------------------------------------------------------------- item 5: figures


def test_a_report_figure_displays_as_a_png_in_a_fresh_kernel(kernel_env: Path) -> None:
    """``report["spend_over_time"]`` shows a picture without ``%matplotlib inline``, and the
    toolkit neither imports pyplot nor changes the kernel's matplotlib backend."""
    km, kc = start_new_kernel(
        kernel_name="python3", extra_arguments=["--IPKernelApp.log_level=ERROR"]
    )
    try:
        setup = _outputs(
            kc,
            "import sys, matplotlib\n"
            "backend = matplotlib.rcParams._get_backend_or_none()\n"
            "from aurous_nb import reports, session\n"
            "s = session.connect(sandbox=True, latency=0.05)\n"
            "c = s.client\n"
            "c.images.wait(c.images.create('a paper lantern', lora_id='watercolor'),"
            " poll_interval=0.05)\n"
            "report = reports.cost_report(c, ledger=s.ledger, since='1d')\n",
        )
        assert not [o for o in setup if o["type"] == "error"], _text(setup)
        shown = _outputs(kc, 'report["spend_over_time"]')
        [result] = [o for o in shown if o["type"] in ("execute_result", "display_data")]
        assert "image/png" in result["data"], result["data"].keys()
        assert result["data"]["image/png"]  # base64 PNG bytes
        checks = _outputs(
            kc,
            "print('pyplot' , 'matplotlib.pyplot' in sys.modules)\n"
            "print('same backend', matplotlib.rcParams._get_backend_or_none() == backend)\n",
        )
        assert "pyplot False" in _text(checks) and "same backend True" in _text(checks)
        _outputs(kc, "session.disconnect()")
    finally:
        kc.stop_channels()
        km.shutdown_kernel(now=True)


# ---------------------------------------------------------- item 6: one sandbox environment

_NOTEBOOK = [
    "%load_ext aurous_nb",
    "%aurous connect --sandbox --latency 0.1",
    "%aurous generate a lighthouse at dusk --seed 7 --lora watercolor",
    "import httpx\n"
    "from aurous_nb import frames, session\n"
    "s = session.current()\n"
    "bought = httpx.get(s.base_url + '/_sandbox/ledger').json()['totals']['generation_count']\n"
    "rows = frames.history(s.client, s.ledger, env=s.env)\n"
    "print('bought', bought, '| history rows', len(rows), '| envs', s.ledger.envs())",
]


def _run_notebook() -> str:
    cells = [nbformat.v4.new_code_cell(src) for src in _NOTEBOOK]  # type: ignore[no-untyped-call]
    nb = nbformat.v4.new_notebook(cells=cells)  # type: ignore[no-untyped-call]
    NotebookClient(
        nb,
        timeout=120,
        kernel_name="python3",
        extra_arguments=["--IPKernelApp.log_level=ERROR"],
    ).execute()
    texts = []
    for cell in nb.cells:
        for out in cell.get("outputs", []):
            texts.append(out.get("text", "") + out.get("data", {}).get("text/plain", ""))
    return "\n".join(texts)


def test_rerunning_a_notebook_in_a_new_kernel_buys_nothing(kernel_env: Path) -> None:
    """Two kernels, one after the other, on one ``AUROUS_NB_HOME``: each starts its own sandbox
    (on a new port); the second run reuses the first run's result and buys nothing."""
    first = _run_notebook()
    assert "New generation" in first and "bought 1 | history rows 1" in first, first
    second = _run_notebook()
    assert "Reused, 0 credits" in second, second
    assert "New generation" not in second, second
    assert "bought 0 | history rows 1 | envs ['sandbox']" in second, second
    assert os.listdir(kernel_env / "outputs") == ["sandbox"]

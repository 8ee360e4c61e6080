"""What every browser test needs: Debian's Chromium, an isolated JupyterLab, a notebook to open.

Headless Debian Chromium through Playwright (never ``playwright install``); JupyterLab, the kernel
and the ledger live in temporary folders, so nothing of the machine's Jupyter setup is read or
written. Labextensions installed in the venv (``share/jupyter/labextensions``) are still found.
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest

CHROMIUM = Path(os.environ.get("CHROMIUM", "/usr/bin/chromium"))
ROOT = Path(__file__).resolve().parents[2]
SHOTS = ROOT / "build" / "screenshots"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
    "--disable-dev-shm-usage",
]

needs_chromium = pytest.mark.skipif(
    not CHROMIUM.exists(), reason=f"no Chromium at {CHROMIUM} (run `make browser-deps`)"
)


def write_notebook(path: Path, cells: Sequence[str]) -> None:
    """An unexecuted notebook of code cells, with a Python 3 kernelspec."""
    nb = {
        "cells": [
            {
                "cell_type": "code",
                "execution_count": None,
                "id": f"cell-{i}",
                "metadata": {},
                "outputs": [],
                "source": source,
            }
            for i, source in enumerate(cells)
        ],
        "metadata": {
            "kernelspec": {"display_name": "Python 3", "language": "python", "name": "python3"},
            "language_info": {"name": "python"},
        },
        "nbformat": 4,
        "nbformat_minor": 5,
    }
    path.write_text(json.dumps(nb, indent=1))


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def isolated_env(tmp: Path) -> dict[str, str]:
    env = dict(os.environ)
    for name in ("JUPYTER_CONFIG_DIR", "JUPYTER_DATA_DIR", "JUPYTER_RUNTIME_DIR", "IPYTHONDIR"):
        folder = tmp / name.lower()
        folder.mkdir()
        env[name] = str(folder)
    env["AUROUS_NB_HOME"] = str(tmp / "aurous_home")
    env["JUPYTERLAB_SETTINGS_DIR"] = str(tmp / "jupyter_config_dir" / "lab" / "user-settings")
    env["JUPYTERLAB_WORKSPACES_DIR"] = str(tmp / "workspaces")
    env.pop("AUROUS_API_KEY", None)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    # No news toast, and every cell rendered (not windowed) so widgets below the fold exist.
    labconfig = tmp / "jupyter_config_dir" / "labconfig"
    labconfig.mkdir(parents=True)
    (labconfig / "page_config.json").write_text(
        json.dumps({"disabledExtensions": {"@jupyterlab/apputils-extension:announcements": True}})
    )
    tracker = Path(env["JUPYTERLAB_SETTINGS_DIR"]) / "@jupyterlab" / "notebook-extension"
    tracker.mkdir(parents=True)
    (tracker / "tracker.jupyterlab-settings").write_text(json.dumps({"windowingMode": "none"}))
    return env


@contextlib.contextmanager
def jupyterlab(tmp: Path, root: Path) -> Iterator[str]:
    """A JupyterLab serving ``root`` with no token; yields its base URL."""
    env = isolated_env(tmp)
    port = free_port()
    log_path = tmp / "lab.log"
    log = log_path.open("wb")
    proc = subprocess.Popen(
        [
            sys.executable, "-m", "jupyterlab", "--allow-root", "--no-browser",
            "--ip", "127.0.0.1", "--port", str(port), "--ServerApp.token=",
            "--ServerApp.password=", f"--ServerApp.root_dir={root}",
        ],
        env=env, stdout=log, stderr=subprocess.STDOUT, cwd=root,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
                break
            except OSError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    log.close()
                    raise RuntimeError(log_path.read_text()[-3000:]) from None
                time.sleep(0.1)
        yield f"http://127.0.0.1:{port}"
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()


def run_all(page: Any) -> None:
    """Run > Run All Cells. A fresh JupyterLab may first ask which kernel to start: accept the
    default (Python 3), which swallows that first run request, then ask again."""
    page.locator(".jp-Notebook .jp-Cell").first.wait_for()
    accept = page.locator(".jp-Dialog .jp-Dialog-button.jp-mod-accept")
    started = page.locator(".jp-InputPrompt", has_text="[*]").or_(
        page.locator(".jp-InputPrompt", has_text="[1]")
    )
    for _ in range(3):
        page.locator(".lm-MenuBar-itemLabel", has_text="Run").first.click()
        page.locator("li[data-command='runmenu:run-all']").click()
        deadline = time.monotonic() + 8
        while time.monotonic() < deadline:
            if started.count():
                return
            if accept.count():
                accept.first.click()
                page.wait_for_timeout(1500)  # let the kernel start before asking again
                break
            page.wait_for_timeout(100)
    raise AssertionError("the notebook did not start running")

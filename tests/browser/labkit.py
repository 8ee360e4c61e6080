"""What every browser test needs: Debian's Chromium, an isolated JupyterLab, a notebook to open.

Headless Debian Chromium through Playwright (never ``playwright install``); JupyterLab, the kernel
and the ledger live in temporary folders, so nothing of the machine's Jupyter setup is read or
written (the private homes come from :func:`tests.kernel.kernelkit.isolated_env`). Labextensions
installed in the venv (``share/jupyter/labextensions``) are still found. Screenshots go to
``build/screenshots/``.
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

from tests.kernel.kernelkit import ROOT
from tests.kernel.kernelkit import isolated_env as kernel_env

CHROMIUM = Path(os.environ.get("CHROMIUM", "/usr/bin/chromium"))
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


def connect_cell(latency: float, credits: int, spread: float = 0.1) -> str:
    """The first cell of every browser notebook: a sandbox session that answers this slowly."""
    return (
        "from aurous_nb import session\n"
        f"s = session.connect(sandbox=True, latency={latency}, latency_spread={spread}, "
        f"credits={credits})\n"
        "print(s.banner())"
    )


#: A 2 x 2 grid (two prompts, no LoRA and Watercolor, seed 11), then a cell that awaits its run.
GRID_CELLS = [
    "from aurous_nb.notebook.widgets import PromptGrid\n"
    "grid = PromptGrid(\n"
    "    ['a lighthouse on a cliff at dusk', 'a fox asleep in fresh snow'],\n"
    "    loras=[None, 'watercolor'],\n"
    "    seeds=[11],\n"
    ")\n"
    "grid",
    "await grid.run()\nprint('grid jobs:', ' '.join(j.status for j in grid.batch.jobs))",
]


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


def _patient_expectations() -> None:
    """``expect(...)`` waits up to 20 s, not Playwright's 5: on a shared 2-core machine a kernel
    start and the first cells can take longer, and a wait is not an assertion about speed."""
    try:
        from playwright.sync_api import expect
    except ImportError:  # pragma: no cover - the tests then fail to import playwright anyway
        return
    expect.set_options(timeout=20_000)


_patient_expectations()


def isolated_env(tmp: Path) -> dict[str, str]:
    """The kernel's private homes plus JupyterLab's settings: no news toast, every cell rendered."""
    env = kernel_env(tmp)
    env["JUPYTERLAB_SETTINGS_DIR"] = str(tmp / "jupyter_config_dir" / "lab" / "user-settings")
    env["JUPYTERLAB_WORKSPACES_DIR"] = str(tmp / "workspaces")
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


def _settle_kernel(page: Any, accept: Any) -> None:
    """Before Run All: answer the kernel dialog, and wait until none has come for 3 s.

    JupyterLab may ask which kernel to start a moment after the notebook opened (even once a
    kernel shows idle); answering it after the run began starts a second kernel, and the
    cells after the first run there, unconnected (seen on a loaded machine).
    """
    quiet_since = time.monotonic()
    deadline = quiet_since + 30
    while time.monotonic() < deadline:
        if accept.count():
            accept.first.click()
            quiet_since = time.monotonic()
        elif time.monotonic() - quiet_since >= 3:
            return
        page.wait_for_timeout(100)


def run_all(page: Any) -> None:
    """Run > Run All Cells. A fresh JupyterLab may first ask which kernel to start: accept the
    default (Python 3), which swallows that first run request, then ask again."""
    page.locator(".jp-Notebook .jp-Cell").first.wait_for()
    accept = page.locator(".jp-Dialog .jp-Dialog-button.jp-mod-accept")
    # Running or run: a busy prompt, a numbered one, or any output (a loaded machine may show
    # the output before the prompt is repainted).
    started = (
        page.locator(".jp-InputPrompt", has_text="[*]")
        .or_(page.locator(".jp-InputPrompt", has_text="[1]"))
        .or_(page.locator(".jp-OutputArea-output"))
    )
    for _ in range(3):
        _settle_kernel(page, accept)
        page.locator(".lm-MenuBar-itemLabel", has_text="Run").first.click()
        page.locator("li[data-command='runmenu:run-all']").click()
        deadline = time.monotonic() + 30  # a kernel starting on a loaded machine is slow
        while time.monotonic() < deadline:
            if started.count():
                return
            if accept.count():
                accept.first.click()
                page.wait_for_timeout(1500)  # let the kernel start before asking again
                break
            page.wait_for_timeout(100)
    raise AssertionError("the notebook did not start running")


@contextlib.contextmanager
def lab_notebook(tmp: Path, name: str, cells: Sequence[str]) -> Iterator[tuple[str, Path]]:
    """JupyterLab serving a new notebook ``name`` of ``cells``: (its URL, its path)."""
    root = tmp / "notebooks"
    root.mkdir()
    write_notebook(root / name, cells)
    with jupyterlab(tmp, root) as base:
        yield f"{base}/lab/tree/{name}", root / name


@contextlib.contextmanager
def browser_page(width: int = 1280, height: int = 1600) -> Iterator[Any]:
    """A Playwright page in headless Debian Chromium (30 s default timeout)."""
    from playwright.sync_api import sync_playwright

    SHOTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": width, "height": height})
            page.set_default_timeout(30_000)
            yield page
        finally:
            browser.close()


def open_and_run_all(page: Any, url: str) -> None:
    """Open the notebook, wait for an idle kernel, show the file browser's tab, Run All."""
    page.goto(url)
    page.locator(".jp-Notebook-ExecutionIndicator[data-status='idle']").wait_for()
    page.locator(".jp-SideBar.jp-mod-left .lm-TabBar-tab.lm-mod-current").click()
    run_all(page)

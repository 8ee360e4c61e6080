"""The panels in a real JupyterLab: run a sandbox notebook, click Generate and Run, see images.

Headless Debian Chromium through Playwright (never ``playwright install``); JupyterLab, the kernel
and the ledger live in temporary folders, so nothing of the machine's Jupyter setup is read or
written. Screenshots of the panel and the grid go to ``build/screenshots/``.
"""

from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

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

pytestmark = pytest.mark.skipif(
    not CHROMIUM.exists(), reason=f"no Chromium at {CHROMIUM} (run `make browser-deps`)"
)

CELLS = [
    "from aurous_nb import session\n"
    "s = session.connect(sandbox=True, latency=0.8, latency_spread=0.2, credits=500)\n"
    "print(s.banner())",
    "from aurous_nb.widgets import GenerationPanel, PromptGrid\n"
    "panel = GenerationPanel(prompt='a lighthouse on a cliff at dusk', lora='golden-hour',\n"
    "                        count=3, seed=7)\n"
    "panel",
    "grid = PromptGrid(\n"
    "    ['a lighthouse on a cliff at dusk', 'a fox asleep in fresh snow'],\n"
    "    loras=[None, 'golden-hour', 'neon-noir', 'watercolor'],\n"
    "    seeds=[11],\n"
    ")\n"
    "grid",
    "from aurous_nb.widgets import CostDashboard, LoraBrowser\nLoraBrowser(target=panel)",
    "dashboard = CostDashboard()\ndashboard",
]


def _notebook(path: Path) -> None:
    cells = [
        {
            "cell_type": "code",
            "execution_count": None,
            "id": f"cell-{i}",
            "metadata": {},
            "outputs": [],
            "source": source,
        }
        for i, source in enumerate(CELLS)
    ]
    nb = {
        "cells": cells,
        "metadata": {
            "kernelspec": {"display_name": "Python 3", "language": "python", "name": "python3"},
            "language_info": {"name": "python"},
        },
        "nbformat": 4,
        "nbformat_minor": 5,
    }
    path.write_text(json.dumps(nb, indent=1))


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _isolated_env(tmp: Path) -> dict[str, str]:
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


@pytest.fixture
def lab(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    root = tmp_path / "notebooks"
    root.mkdir()
    _notebook(root / "widgets_demo.ipynb")
    env = _isolated_env(tmp_path)
    port = _free_port()
    log = (tmp_path / "lab.log").open("wb")
    proc = subprocess.Popen(
        [
            sys.executable, "-m", "jupyterlab", "--allow-root", "--no-browser",
            "--ip", "127.0.0.1", "--port", str(port), "--ServerApp.token=",
            "--ServerApp.password=", f"--ServerApp.root_dir={root}",
        ],
        env=env, stdout=log, stderr=subprocess.STDOUT, cwd=root,
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
                break
            except OSError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    log.close()
                    raise RuntimeError((tmp_path / "lab.log").read_text()[-3000:]) from None
                time.sleep(0.1)
        yield f"{url}/lab/tree/widgets_demo.ipynb", root / "widgets_demo.ipynb"
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()


def _run_all(page: object) -> None:
    """Run > Run All Cells. A fresh JupyterLab may first ask which kernel to start: accept the
    default (Python 3), which swallows that first run request, then ask again."""
    from playwright.sync_api import Page

    assert isinstance(page, Page)
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


def test_panel_and_grid_show_images_in_jupyterlab(lab: tuple[str, Path]) -> None:
    url, notebook = lab
    from playwright.sync_api import expect, sync_playwright

    SHOTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 1600})
            page.set_default_timeout(30_000)
            page.goto(url)
            page.locator(".jp-Notebook-ExecutionIndicator[data-status='idle']").wait_for()
            page.locator(".jp-SideBar.jp-mod-left .lm-TabBar-tab.lm-mod-current").click()
            _run_all(page)

            panel = page.locator(".aurous-panel")
            generate = panel.locator("button.widget-button", has_text="Generate")
            expect(generate).to_be_enabled()
            expect(panel.locator("img.widget-image").first).to_be_visible()  # LoRA preview
            generate.click()
            gallery = panel.locator(".aurous-gallery img.widget-image")
            expect(gallery).to_have_count(3)
            expect(panel).to_contain_text("Done in")
            page.mouse.move(0, 0)  # no hover highlight in the pictures
            panel.screenshot(path=str(SHOTS / "panel.png"))  # before a style pick changes it

            grid = page.locator(".aurous-grid")
            run = grid.locator("button.widget-button", has_text="Run")
            expect(run).to_be_enabled()
            run.click()
            expect(grid.locator(".aurous-cell.running").first).to_be_visible()
            grid.screenshot(path=str(SHOTS / "grid-running.png"))
            expect(grid.locator("img.widget-image")).to_have_count(8)
            expect(grid).to_contain_text("8/8 done")

            styles = page.locator(".aurous-loras")
            cards = styles.locator(".aurous-lora-card")
            expect(cards.first).to_be_visible()
            expect(styles.locator("img.widget-image")).to_have_count(cards.count())
            styles.locator("input").fill("neon")
            expect(styles.locator(".aurous-lora-card")).to_have_count(1)
            styles.locator("button.widget-button", has_text="Use this style").click()
            expect(panel.locator("select").first).to_have_value("Neon Noir")
            styles.locator("input").fill("")

            dashboard = page.locator(".aurous-dash")
            dashboard.locator("button.widget-button", has_text="Refresh").click()
            jobs_card = dashboard.locator(".aurous-card", has_text="Jobs")
            expect(jobs_card).to_have_text(re.compile(r"Jobs\s*9$"))  # 1 panel + 8 grid jobs
            expect(dashboard).to_contain_text("Up to date ·")
            dashboard.locator(".lm-TabBar-tab", has_text="Breakdown").click()
            expect(dashboard).to_contain_text("By LoRA")

            page.mouse.move(0, 0)
            grid.screenshot(path=str(SHOTS / "grid.png"))
            styles.screenshot(path=str(SHOTS / "loras.png"))
            dashboard.screenshot(path=str(SHOTS / "dashboard.png"))
            for img in gallery.all():
                assert img.evaluate("e => e.naturalWidth") > 0

            # Saved, every widget output carries its static HTML twin for GitHub / nbviewer.
            page.keyboard.press("Control+s")
            expect(page.locator(".jp-mod-dirty")).to_have_count(0)
            saved = json.loads(notebook.read_text())
            bundles = [o.get("data", {}) for c in saved["cells"][1:] for o in c["outputs"]]
            widget_view = "application/vnd.jupyter.widget-view+json"
            assert sum(widget_view in b and "text/html" in b for b in bundles) >= 4
            assert not any("token=" in json.dumps(b) for b in bundles)
        except Exception:
            page.screenshot(path=str(SHOTS / "failure.png"))
            raise
        finally:
            browser.close()

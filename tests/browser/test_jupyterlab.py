"""The panels in a real JupyterLab: run a sandbox notebook, click Generate and Run, see images.

Headless Debian Chromium through Playwright (never ``playwright install``); JupyterLab, the kernel
and the ledger live in temporary folders, so nothing of the machine's Jupyter setup is read or
written. Screenshots of the panel and the grid go to ``build/screenshots/``.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.browser.labkit import (
    CHROMIUM,
    CHROMIUM_ARGS,
    SHOTS,
    connect_cell,
    lab_notebook,
    needs_chromium,
    run_all,
)

pytestmark = needs_chromium

CELLS = [
    connect_cell(0.8, 500, spread=0.2),
    "from aurous_nb.notebook.widgets import GenerationPanel, PromptGrid\n"
    "panel = GenerationPanel(prompt='a lighthouse on a cliff at dusk', lora='golden-hour',\n"
    "                        count=3, seed=7)\n"
    "panel",
    "grid = PromptGrid(\n"
    "    ['a lighthouse on a cliff at dusk', 'a fox asleep in fresh snow'],\n"
    "    loras=[None, 'golden-hour', 'neon-noir', 'watercolor'],\n"
    "    seeds=[11],\n"
    ")\n"
    "grid",
    "from aurous_nb.notebook.widgets import CostDashboard, LoraBrowser\nLoraBrowser(target=panel)",
    "dashboard = CostDashboard()\ndashboard",
]


@pytest.fixture
def lab(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    with lab_notebook(tmp_path, "widgets_demo.ipynb", CELLS) as served:
        yield served


def test_panel_and_grid_show_images_in_jupyterlab(lab: tuple[str, Path], tmp_path: Path) -> None:
    url, notebook = lab
    from playwright.sync_api import expect, sync_playwright

    from aurous_nb.analysis import frames
    from aurous_nb.store.ledger import Ledger

    home = tmp_path / "aurous_home"  # the kernel's AUROUS_NB_HOME (tests/kernel/kernelkit.py)

    SHOTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 1600})
            page.set_default_timeout(30_000)
            page.goto(url)
            page.locator(".jp-Notebook-ExecutionIndicator[data-status='idle']").wait_for()
            page.locator(".jp-SideBar.jp-mod-left .lm-TabBar-tab.lm-mod-current").click()
            run_all(page)

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

            # Star the first cell (four stars): the kernel writes it to the ledger at once.
            stars = grid.locator(".aurous-rating").first.locator("button.widget-button")
            stars.nth(3).click()
            expect(stars.nth(3)).to_have_text("★")
            expect(stars.nth(4)).to_have_text("☆")
            rated = frames.history(ledger=Ledger(home / "ledger.sqlite3"), rating=4)
            assert list(rated["rating"]) == [4]
            assert list(rated["prompt"]) == ["a lighthouse on a cliff at dusk"]

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

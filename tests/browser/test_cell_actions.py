"""A grid cell's "More like this" in a real JupyterLab: the click shows the price and buys
nothing; the confirm (clicked twice) buys 4 variations once, shown under the grid with their
cost; the panel's result reuses its seed and opens a second panel. Screenshots in
``build/screenshots/``: ``cell-actions-priced.png``, ``cell-actions-bought.png``,
``cell-actions-panel.png``.
"""

from __future__ import annotations

from pathlib import Path

from tests.browser.labkit import (
    GRID_CELLS,
    SHOTS,
    browser_page,
    connect_cell,
    lab_notebook,
    needs_chromium,
    open_and_run_all,
)

pytestmark = needs_chromium

CELLS = [
    connect_cell(0.3, 200),
    *GRID_CELLS,
    "from aurous_nb.notebook.widgets import GenerationPanel\n"
    "panel = GenerationPanel(prompt='a paper lantern over a dark lake', count=2, seed=5)\n"
    "panel",
]


def test_more_like_this_on_a_grid_cell(tmp_path: Path) -> None:
    from playwright.sync_api import expect

    from aurous_nb.analysis import frames
    from aurous_nb.store.ledger import Ledger

    home = tmp_path / "aurous_home"  # the kernel's AUROUS_NB_HOME (tests/kernel/kernelkit.py)
    with lab_notebook(tmp_path, "actions.ipynb", CELLS) as (url, _), browser_page() as page:
        try:
            open_and_run_all(page, url)
            awaited = page.locator(".jp-OutputArea-output", has_text="grid jobs:")
            expect(awaited).to_contain_text("succeeded succeeded succeeded succeeded")
            grid = page.locator(".aurous-grid")
            expect(grid.locator(".aurous-actions")).to_have_count(4)
            first = grid.locator(".aurous-actions").first
            more = first.locator("button.aurous-more")
            expect(more).to_be_visible()
            box = more.bounding_box()
            cell = grid.locator(".aurous-cell-image").first.bounding_box()
            assert box is not None and cell is not None
            assert box["x"] + box["width"] <= cell["x"] + cell["width"] + 1  # inside the cell
            more.click()
            confirm = first.locator("button.aurous-confirm")
            expect(confirm).to_have_text("Buy · 4 credits")
            page.mouse.move(0, 0)
            grid.screenshot(path=str(SHOTS / "cell-actions-priced.png"))
            ledger = Ledger(home / "ledger.sqlite3")
            assert len(frames.history(ledger=ledger)) == 4  # priced, nothing bought
            confirm.dblclick()
            shelf = grid.locator(".aurous-variations")
            expect(shelf).to_contain_text("4/4 done · 4 credits")
            expect(shelf.locator("img.widget-image")).to_have_count(4)
            expect(first).to_contain_text("4 bought · 4 credits")
            assert len(frames.history(ledger=Ledger(home / "ledger.sqlite3"))) == 8  # 4 more, once
            page.mouse.move(0, 0)
            grid.screenshot(path=str(SHOTS / "cell-actions-bought.png"))

            # the panel: Generate, then its result's "Reuse seed" and "Open in panel"
            panel = page.locator(".aurous-panel").first
            generate = panel.locator("button.widget-button", has_text="Generate")
            expect(generate).to_be_enabled()
            generate.click()
            expect(panel).to_contain_text("Done in")
            seed = panel.locator(".widget-text", has_text="Seed").locator("input")
            seed.fill("99")
            seed.press("Enter")
            panel.locator(".aurous-actions button[title='Reuse seed']").click()
            expect(seed).to_have_value("5")
            panel.locator(".aurous-actions button[title='Open in panel']").click()
            expect(page.locator(".aurous-panel")).to_have_count(2)
            page.mouse.move(0, 0)
            panel.screenshot(path=str(SHOTS / "cell-actions-panel.png"))
        except Exception:
            page.screenshot(path=str(SHOTS / "cell-actions-failure.png"))
            raise

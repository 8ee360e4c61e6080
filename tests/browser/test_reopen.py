"""A saved notebook, reopened with its kernel gone, still shows what the person last saw.

In a real JupyterLab: run a notebook with every widget, click Generate, Run and Refresh (all in
finished cells), save, reload the page while the kernel runs and pick a style, save, shut the
kernel down, then reload the page, and close and reopen the notebook. Each widget output must
show its static copy with the final state (the generated images, the grid, the picked style, the
refreshed costs), never ``Error displaying widget: model not found``. The saved file must carry
that copy, downscaled, with no signed URL and no key. Screenshots of each step go to
``build/screenshots/reopen-*.png``.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.browser.labkit import (
    CHROMIUM,
    CHROMIUM_ARGS,
    SHOTS,
    connect_cell,
    jupyterlab,
    needs_chromium,
    run_all,
    write_notebook,
)
from tests.test_build_secrets import find_secrets

pytestmark = needs_chromium

NAME = "reopen.ipynb"
CELLS = [
    connect_cell(0.3, 500),
    "from aurous_nb.widgets import CostDashboard, GenerationPanel, LoraBrowser, PromptGrid\n"
    "panel = GenerationPanel(prompt='a lighthouse on a cliff at dusk', lora='golden-hour',\n"
    "                        count=2, seed=7)\n"
    "panel",
    "grid = PromptGrid(['a lighthouse at dusk', 'a fox asleep in snow'],\n"
    "                  loras=['golden-hour', 'watercolor'], seeds=[11])\n"
    "grid",
    "LoraBrowser(target=panel)",
    "CostDashboard()",
]
# The title of each widget's static copy, and the images it shows once everything ran.
TITLES = {
    "panel": "Aurous · Generate",
    "grid": "Aurous · Prompt grid",
    "loras": "Aurous · Styles",
    "dashboard": "Aurous · Costs",
}
SAVED_LIMIT = 1_500_000  # bytes: every preview downscaled, the whole notebook well under this


@pytest.fixture
def lab(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    root = tmp_path / "notebooks"
    root.mkdir()
    write_notebook(root / NAME, CELLS)
    with jupyterlab(tmp_path, root) as url:
        yield url, root / NAME


def _shot(page: Any, name: str) -> None:
    page.mouse.move(0, 0)  # no hover highlight in the picture
    page.screenshot(path=str(SHOTS / f"reopen-{name}.png"))


def _static_copies(page: Any) -> dict[str, Any]:
    return {k: page.locator(".aurous-static", has_text=t) for k, t in TITLES.items()}


def _check_static(page: Any, expected: dict[str, int]) -> None:
    """Every widget shows its static copy with the final state; no widget error is visible."""
    from playwright.sync_api import expect

    copies = _static_copies(page)
    for key, locator in copies.items():
        expect(locator, key).to_be_visible()
        expect(locator.locator("img"), key).to_have_count(expected[key])
        for img in locator.locator("img").all():
            assert img.evaluate("e => e.complete && e.naturalWidth > 0"), key
    expect(copies["panel"]).to_contain_text("succeeded")
    expect(copies["grid"]).to_contain_text("4/4 done")
    expect(copies["loras"]).to_contain_text("Picked Neon Noir")
    summary = copies["dashboard"].locator("table").first
    expect(summary.locator("th").last).to_have_text("jobs")
    expect(summary.locator("td").last).to_have_text("5")  # 1 panel + 4 grid jobs
    for text in ("model not found", "Error displaying widget", "Loading widget"):
        expect(page.get_by_text(text).filter(visible=True)).to_have_count(0)


def _wait_kernel(page: Any) -> None:
    """The reopened notebook has a (new) kernel: accept the kernel dialog if one asks."""
    accept = page.locator(".jp-Dialog .jp-Dialog-button.jp-mod-accept")
    idle = page.locator(".jp-Notebook-ExecutionIndicator[data-status='idle']")
    idle.or_(accept).first.wait_for()
    if accept.count():
        accept.first.click()
    idle.wait_for()


def _save(page: Any, notebook: Path) -> str:
    """Ctrl+S, then the file as written (JupyterLab saves even an unmodified notebook)."""
    before = notebook.stat().st_mtime_ns
    page.keyboard.press("Control+s")
    for _ in range(300):
        page.wait_for_timeout(100)
        if notebook.stat().st_mtime_ns != before:
            try:
                text = notebook.read_text()
                json.loads(text)
                return text
            except ValueError:  # caught mid-write
                continue
    raise AssertionError("the notebook was not saved")


def _saved_copies(text: str) -> dict[str, str]:
    saved = json.loads(text)
    found: dict[str, str] = {}
    for cell in saved["cells"]:
        for out in cell.get("outputs", []):
            html = "".join(out.get("data", {}).get("text/html", ""))
            for key, title in TITLES.items():
                if f"<h4>{title}</h4>" in html:
                    found[key] = html
    return found


def test_reopened_notebook_shows_the_last_state(lab: tuple[str, Path]) -> None:
    base, notebook = lab
    from playwright.sync_api import expect, sync_playwright

    SHOTS.mkdir(parents=True, exist_ok=True)
    expect.set_options(timeout=30_000)  # two shared cores: the first estimate can be slow
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1280, "height": 2400})
        page.set_default_timeout(30_000)
        try:
            page.goto(f"{base}/lab/tree/{NAME}")
            page.locator(".jp-Notebook-ExecutionIndicator[data-status='idle']").wait_for()
            run_all(page)

            # Live: click in finished cells, as a person does.
            panel = page.locator(".aurous-panel")
            generate = panel.locator("button.widget-button", has_text="Generate")
            expect(generate).to_be_enabled()
            generate.click()
            expect(panel.locator(".aurous-gallery img.widget-image")).to_have_count(2)
            expect(panel).to_contain_text("Done in")

            grid = page.locator(".aurous-grid")
            run = grid.locator("button.widget-button", has_text="Run")
            expect(run).to_be_enabled()
            run.click()
            expect(grid.locator("img.widget-image")).to_have_count(4)
            expect(grid).to_contain_text("4/4 done")

            dashboard = page.locator(".aurous-dash")
            dashboard.locator("button.widget-button", has_text="Refresh").click()
            jobs_card = dashboard.locator(".aurous-card", has_text="Jobs")
            expect(jobs_card).to_have_text(re.compile(r"Jobs\s*5$"))  # 1 panel + 4 grid jobs
            expect(dashboard).to_contain_text("Up to date ·")
            _save(page, notebook)

            # The page reloaded while the kernel runs: the widgets come back live, and a click
            # now belongs to no cell the frontend listens to; its result must still be saved.
            page.reload()
            _wait_kernel(page)
            styles = page.locator(".aurous-loras")
            cards = styles.locator(".aurous-lora-card")
            expect(cards.first).to_be_visible()
            n_styles = cards.count()
            expect(styles.locator("img.widget-image")).to_have_count(n_styles)
            expect(page.locator(".aurous-grid img.widget-image")).to_have_count(4)
            neon = cards.filter(has_text="Neon Noir")
            neon.locator("button.widget-button", has_text="Use this style").click()
            expect(styles).to_contain_text("Picked Neon Noir")
            expect(panel.locator("select").first).to_have_value("Neon Noir")
            expect(page.locator(".aurous-static").filter(visible=True)).to_have_count(0)
            _shot(page, "1-live")

            # Saved: the file carries each widget's current static copy, small and secret-free.
            text = _save(page, notebook)
            expect(page.locator(".jp-mod-dirty")).to_have_count(0)
            size = len(text.encode())
            print(f"saved notebook: {size} bytes")
            assert size < SAVED_LIMIT, size
            assert find_secrets(notebook) == []  # no key, webhook secret or signed URL
            assert "token=" not in text and "al_live_" not in text and "X-Api-Key" not in text
            copies = _saved_copies(text)
            assert sorted(copies) == sorted(TITLES)
            assert copies["panel"].count("data:image/") == 2 and "succeeded" in copies["panel"]
            assert copies["grid"].count("data:image/") == 4 and "4/4 done" in copies["grid"]
            assert copies["loras"].count("data:image/") == n_styles
            assert "Picked Neon Noir" in re.sub(r"<[^>]+>", "", copies["loras"])
            assert copies["dashboard"].count("data:image/png") == 2
            assert re.search(
                r"<th>jobs</th></tr></thead><tbody><tr>(<td>[^<]*</td>){3}<td>5</td>",
                copies["dashboard"],
            )
            expected = {"panel": 2, "grid": 4, "loras": n_styles, "dashboard": 2}

            # Kernel shut down, page reloaded: the static copies, never "model not found".
            page.locator(".lm-MenuBar-itemLabel", has_text="Kernel").first.click()
            page.locator("li[data-command='kernelmenu:shutdown']").click()
            accept = page.locator(".jp-Dialog .jp-Dialog-button.jp-mod-accept")
            page.wait_for_timeout(500)
            if accept.count():
                accept.first.click()
            expect(page.locator(".jp-Notebook-ExecutionIndicator")).not_to_have_attribute(
                "data-status", "idle"
            )
            page.reload()
            _wait_kernel(page)
            _check_static(page, expected)
            _shot(page, "2-reloaded")

            # Closed and opened again from the file browser: the same.
            tab = page.locator(".lm-DockPanel-tabBar .lm-TabBar-tab", has_text=NAME)
            tab.locator(".lm-TabBar-tabCloseIcon").click()
            expect(page.locator(".jp-Notebook")).to_have_count(0)
            page.locator(".jp-DirListing-item", has_text=NAME).dblclick()
            _wait_kernel(page)
            _check_static(page, expected)
            _shot(page, "3-reopened")
            for key, locator in _static_copies(page).items():
                locator.screenshot(path=str(SHOTS / f"reopen-static-{key}.png"))
        except Exception:
            page.screenshot(path=str(SHOTS / "reopen-failure.png"))
            raise
        finally:
            browser.close()

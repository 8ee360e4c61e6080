"""What a person does in JupyterLab: paste or type a prompt into the panel, click Generate, count
images; run a grid with ``await grid.run()`` in a cell and count its images (issue 14, items 1
and 2).

JupyterLab 4 sends the keystrokes and the click over a kernel subshell, so this is the path where
the panel used to fail with "attached to a different loop" (the first edit of the prompt in one
piece, then Generate at once). Screenshots in ``build/screenshots/``: ``grid-awaited.png``,
``panel-typed.png``, ``panel-pasted.png``.
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

PROMPT = "a lighthouse on a cliff at dusk"
PASTED = "a paper lantern floating over a dark lake"
CELLS = [
    connect_cell(0.4, 200),
    "from aurous_nb.notebook.widgets import GenerationPanel\n"
    "panel = GenerationPanel(count=2, seed=5)  # an empty prompt: the person types it\n"
    "panel",
    *GRID_CELLS,
]


def test_type_a_prompt_click_generate_and_await_a_grid(tmp_path: Path) -> None:
    from playwright.sync_api import expect

    with lab_notebook(tmp_path, "typing.ipynb", CELLS) as (url, _), browser_page() as page:
        try:
            open_and_run_all(page, url)
            # the grid cell awaited its run: every job done, 4 pictures, no error box
            awaited = page.locator(".jp-OutputArea-output", has_text="grid jobs:")
            expect(awaited).to_contain_text(
                "grid jobs: succeeded succeeded succeeded succeeded", timeout=90_000
            )
            grid = page.locator(".aurous-grid")
            expect(grid.locator("img.widget-image")).to_have_count(4)
            expect(grid).to_contain_text("4/4 done")
            expect(grid.locator(".aurous-error")).to_have_count(0)
            page.mouse.move(0, 0)
            grid.screenshot(path=str(SHOTS / "grid-awaited.png"))

            # the panel: paste a prompt into the empty field (one input event, as Ctrl+V
            # gives) and click Generate straight away, the new estimate still pending
            panel = page.locator(".aurous-panel")
            generate = panel.locator("button.widget-button", has_text="Generate")
            gallery = panel.locator(".aurous-gallery img.widget-image")
            done = panel.locator(".widget-html", has_text="Done in")
            expect(generate).to_be_disabled()  # nothing typed yet
            panel.locator("textarea").first.click()
            page.keyboard.insert_text(PASTED)
            generate.click()
            expect(gallery).to_have_count(2)
            expect(done).to_be_visible()
            expect(panel.locator(".aurous-error")).to_have_count(0)
            page.mouse.move(0, 0)
            panel.screenshot(path=str(SHOTS / "panel-pasted.png"))
            first = done.inner_text()

            # then type another over it with the keyboard, key by key, and click Generate
            panel.locator("textarea").first.click()
            page.keyboard.press("Control+a")
            page.keyboard.type(PROMPT, delay=30)
            generate.click()
            expect(done).not_to_have_text(first)  # a second generation, its own id
            expect(done).to_be_visible()
            expect(gallery).to_have_count(2)
            expect(panel.locator(".aurous-error")).to_have_count(0)
            for img in gallery.all():
                assert img.evaluate("e => e.naturalWidth") > 0
            page.mouse.move(0, 0)
            panel.screenshot(path=str(SHOTS / "panel-typed.png"))
        except Exception:
            page.screenshot(path=str(SHOTS / "typing-failure.png"))
            raise

"""CharacterStudio in JupyterLab, as a person drives it: type a name and a description, click
Synthesize, watch the four poses come, redraw one, Save, Use in panel (issue 16). Screenshots in
``build/screenshots/``: ``studio-reviewing.png``, ``studio-in-panel.png``.
"""

from __future__ import annotations

from pathlib import Path

from tests.browser.labkit import (
    SHOTS,
    browser_page,
    connect_cell,
    lab_notebook,
    needs_chromium,
    open_and_run_all,
)

pytestmark = needs_chromium

CELLS = [
    connect_cell(1.0, 50),
    "from aurous_nb.notebook.widgets import CharacterStudio\nstudio = CharacterStudio()\nstudio",
]


def test_describe_synthesize_regenerate_save_and_use_in_a_panel(tmp_path: Path) -> None:
    from playwright.sync_api import expect

    with lab_notebook(tmp_path, "studio.ipynb", CELLS) as (url, _), browser_page() as page:
        try:
            open_and_run_all(page, url)
            studio = page.locator(".aurous-studio")
            synth = studio.locator("button.widget-button", has_text="Synthesize")
            expect(synth).to_have_text("Synthesize · 4 credits")
            studio.locator(".widget-text", has_text="Name").locator("input").fill("Mira")
            studio.locator(".lm-TabBar-tab", has_text="Describe").click()
            for label, value in [("Gender", "female"), ("Age", "28"), ("Hair color", "black")]:
                field = studio.locator(".widget-text", has_text=label).locator("input")
                field.click()
                page.keyboard.type(value, delay=20)
            synth.click()
            synth.click()  # a double click buys one
            poses = studio.locator("img.widget-image:visible")
            expect(poses).to_have_count(4, timeout=60_000)
            expect(studio).to_contain_text("reviewing")
            expect(studio.locator(".aurous-error")).to_have_count(0)
            for img in poses.all():
                assert img.evaluate("e => e.naturalWidth") > 0
            page.mouse.move(0, 0)
            studio.screenshot(path=str(SHOTS / "studio-reviewing.png"))

            regenerate = studio.locator("button.widget-button", has_text="Regenerate · 1 credit")
            expect(regenerate).to_have_count(4)
            regenerate.nth(2).click()  # the side pose
            expect(studio).to_contain_text("bought for 1 credit")
            expect(poses).to_have_count(4, timeout=60_000)
            expect(studio).to_contain_text("reviewing")
            studio.locator("button.widget-button", has_text="Save").click()
            expect(studio).to_contain_text("ready")
            studio.locator("button.widget-button", has_text="Use in panel").click()
            chip = studio.locator(".aurous-panel .aurous-badge", has_text="Character: Mira")
            expect(chip).to_be_visible()
            grid = studio.locator("button.widget-button", has_text="Use in grid")
            expect(grid).to_be_disabled()
            page.mouse.move(0, 0)
            studio.screenshot(path=str(SHOTS / "studio-in-panel.png"))
        except Exception:
            page.screenshot(path=str(SHOTS / "studio-failure.png"))
            raise

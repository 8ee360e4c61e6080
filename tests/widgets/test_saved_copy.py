"""The copy a notebook saves of each widget: what the person last saw, after every click.

Two routes carry it: the output's display handle (nbclient, a cell that still runs) and the
synced ``_static_html`` state, which the aurous-nb labextension writes into the output's
``text/html`` in JupyterLab whatever cell the click came from. Both are read here as a frontend
sees them: the published display messages and ``get_state()``.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest
from IPython.core.interactiveshell import InteractiveShell
from IPython.display import display
from IPython.utils.capture import capture_output

from aurous_nb.notebook.session import Session
from aurous_nb.notebook.widgets import GenerationPanel, LoraBrowser, PromptGrid

# What the aurous-nb labextension renders (notebook/widgets/_base.py STATIC_MIME): a wire name.
STATIC_MIME = "application/vnd.aurous-nb.static+json"


@pytest.fixture
def shell() -> Iterator[InteractiveShell]:
    yield InteractiveShell.instance()


def saved_copy(captured: Any, widget: Any) -> str:
    """The ``text/html`` a frontend holds for the widget's output after every message so far."""
    outputs = [o for o in captured.outputs if "text/html" in o.data]
    view = "application/vnd.jupyter.widget-view+json"
    [first] = [o for o in outputs if not o.update and o.data[view]["model_id"] == widget.model_id]
    display_id = first.transient["display_id"]
    latest = [o for o in outputs if o.transient.get("display_id") == display_id][-1]
    return str(latest.data["text/html"])


def synced_copy(widget: Any) -> str | None:
    """The copy the labextension writes into the output in JupyterLab (the widget's state)."""
    value = widget.get_state().get("_static_html")
    return None if value is None else str(value)


def text(html: str) -> str:
    return " ".join(re.sub(r"<style>.*?</style>|<[^>]+>", " ", html, flags=re.S).split())


async def test_lora_browser_saved_copy_shows_the_gallery_and_the_pick(
    session: Session, shell: InteractiveShell
) -> None:
    with capture_output() as captured:
        browser = LoraBrowser(session)
        display(browser)  # the cell's output, saved as "loading…" at first
        assert "loading" in saved_copy(captured, browser)
        await browser.ready()
        html = saved_copy(captured, browser)
        assert html.count("data:image/") == len(browser.loras) > 3  # the gallery, not "loading…"
        assert "Nothing picked yet." in text(html) and "loading" not in html
        [card] = [c for c in browser.gallery.children if "Neon Noir" in c.children[1].value]
        card.children[-1].click()  # "Use this style"
        html = saved_copy(captured, browser)
        assert "Picked Neon Noir" in text(html) and "Neon Noir (picked)" in text(html)
        assert synced_copy(browser) == html
        browser.search.value = "zzz-no-such-style"
        assert "0 of" in text(saved_copy(captured, browser))
        assert "No style matches zzz-no-such-style." in text(saved_copy(captured, browser))
    assert "token=" not in html and "https://" not in html


async def test_panel_and_grid_carry_their_copy_after_a_click(
    session: Session, shell: InteractiveShell
) -> None:
    with capture_output() as captured:
        panel = await GenerationPanel(session, prompt="a red kite", count=2, seed=3).ready()
        grid = PromptGrid(["a fox", "a crow"], loras=["watercolor"], session=session)
        for widget in (panel, grid):
            display(widget)
            bundle = captured.outputs[-1].data
            assert bundle[STATIC_MIME] == {"trait": "_static_html"}
            assert "application/vnd.jupyter.widget-view+json" in bundle
        panel.generate_button.click()
        await panel.wait()
        grid.run_button.click()
        await grid.wait()
        for widget, shown in ((panel, "succeeded"), (grid, "2/2 done")):
            html = saved_copy(captured, widget)
            assert html.count("data:image/") == 2 and shown in html
            assert synced_copy(widget) == html

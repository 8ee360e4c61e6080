"""Rating from the grid, the panel and the gallery: one click, into the ledger, into history."""

from __future__ import annotations

from aurous_nb.analysis import frames
from aurous_nb.notebook import display
from aurous_nb.notebook.session import Session
from aurous_nb.notebook.widgets import GenerationPanel, PromptGrid

PROMPTS = ["a lighthouse at dusk", "a fox in the snow"]


async def test_star_a_grid_cell_and_see_it_in_history(session: Session) -> None:
    grid = await PromptGrid(PROMPTS, loras=[None, "golden-hour"], seeds=[3]).ready()
    await grid.run()
    bar = grid.cells[3].children[0].children[2]  # the cell's star row, under its caption
    bar.stars[3].click()  # four stars
    grid.rating_bars[0].reject.click()
    grid.rate(1, 2)
    history = frames.history(ledger=session.ledger)
    by_id = dict(zip(history["generation_id"], history["rating"], strict=True))
    jobs = grid.batch.jobs
    assert by_id[jobs[3].generation_id] == 4 and by_id[jobs[0].generation_id] == 0
    assert by_id[jobs[1].generation_id] == 2
    assert list(frames.history(ledger=session.ledger, rating=4)["generation_id"]) == [
        jobs[3].generation_id
    ]
    assert list(grid.to_dataframe()["rating"].fillna(-1)) == [0, 2, -1, 4]
    assert "".join(b.description for b in bar.stars) == "★★★★☆"
    grid.hide()
    assert grid.hidden() == [0]
    grid.view_picker.value = "3"
    assert sorted(grid.hidden()) == [0, 1]
    grid.view_picker.value = "sort"  # the fox row holds the 4-star cell: it comes first
    assert grid.hidden() == [] and grid._row_order == [1, 0]
    # a new grid (a restarted kernel) shows the stored stars
    again = await PromptGrid(PROMPTS, loras=[None, "golden-hour"], seeds=[3]).ready()
    assert again.ratings == {0: 0, 1: 2, 3: 4}
    assert [b.description for b in again.rating_bars[3].stars] == ["★"] * 4 + ["☆"]


async def test_rate_from_the_panel_and_the_gallery(session: Session) -> None:
    panel = await GenerationPanel(prompt="a calm lake").ready()
    await panel.generate()
    panel.rating.stars[4].click()
    gen_id = panel.rating.generation_id
    assert frames.history(ledger=session.ledger, rating=5)["generation_id"].tolist() == [gen_id]
    shown = display.gallery([gen_id], session.ledger)
    assert "★★★★★" in shown._repr_html_()
    shown.rate(0, "reject")
    assert "rejected" in shown._repr_html_()
    assert frames.history(ledger=session.ledger, rating="rejected")["generation_id"].tolist() == [
        gen_id
    ]


async def test_a_liked_cell_gives_variations_and_a_panel(session: Session) -> None:
    grid = await PromptGrid(PROMPTS[:1], seeds=[8]).ready()
    await grid.run()
    batch = grid.variations(0, 2)
    quote = await batch.price()
    assert quote.total == 2  # priced before anything is bought
    await batch.run_async()
    assert sorted(j.request["seed"] for j in batch.jobs) == [9, 10]
    panel = await grid.open_in_panel(0).ready()
    assert panel.request()["seed"] == 8 and panel.request()["prompt"] == PROMPTS[0]

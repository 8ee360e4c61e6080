"""The buttons under a result, clicked as a person would, against the real sandbox: "More like
this" prices first and buys once on a confirm that says the price; "Open in panel" and "Reuse
seed" carry the request and its seed; failed results have no buttons; saved copies show none."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx

from aurous_nb.notebook.session import Session
from aurous_nb.notebook.widgets import GenerationPanel, PromptGrid
from aurous_nb.notebook.widgets._actions import ResultActions
from tests.widgets.conftest import make_session

PROMPT = "a lighthouse at dusk"


def creates(session: Session) -> list[dict[str, Any]]:
    url = f"{session.sandbox.base_url}/_sandbox/ledger"
    return [g["request"] for g in httpx.get(url).json()["generations"]]


def walk(widget: Any) -> list[Any]:
    out = [widget]
    for child in getattr(widget, "children", ()):
        out.extend(walk(child))
    return out


def actions_in(widget: Any) -> list[ResultActions]:
    return [x for x in walk(widget) if isinstance(x, ResultActions)]


async def test_more_like_this_prices_then_buys_once(session: Session) -> None:
    grid = await PromptGrid([PROMPT], loras=["golden-hour"], seeds=[8]).ready()
    await grid.run()
    [row] = actions_in(grid.cells[0])
    assert len(creates(session)) == 1
    row.more_button.click()
    row.more_button.click()  # twice while pricing: one price
    await row.pricing
    assert row.confirm_row.layout.display == ""
    assert row.confirm.description == "Buy · 4 credits"  # the price, on the button
    assert len(creates(session)) == 1  # nothing bought
    row.confirm.click()
    row.confirm.click()  # a double click buys once
    first = row.buying
    await row.buying
    assert row.buying is first
    row.confirm.click()
    row.more_button.click()
    sent = creates(session)
    assert len(sent) == 5
    assert sorted(r["seed"] for r in sent[1:]) == [9, 10, 11, 12]
    assert {r["prompt"] for r in sent} == {PROMPT}
    assert sum(float(j.charged) for j in row.batch.jobs) == 4
    [shown] = grid.shelf.children[1:]
    assert "4/4 done" in shown.head.value and "4 credits" in shown.head.value
    assert len(shown.images.children) == 4
    html = grid.static_html()  # the variations are saved, the buttons are not
    assert "More like this" in html and "seed 9 · 1 credit" in html
    assert "Buy" not in html and "<button" not in html


async def test_open_in_panel_and_reuse_seed_from_a_grid_cell(session: Session) -> None:
    grid = await PromptGrid([PROMPT], loras=["golden-hour"], seeds=[8]).ready()
    await grid.run()
    [row] = actions_in(grid.cells[0])
    row.open_button.click()
    panel = row.panel
    row.open_button.click()  # twice: the one panel
    assert row.panel is panel and list(grid.shelf.children).count(panel) == 1
    assert len(grid.shelf.items) == 1
    await panel.ready()
    request = panel.request()
    assert request["prompt"] == PROMPT and request["seed"] == 8
    assert panel.lora.label == "Golden Hour" and request["lora_id"].startswith("lora_")
    row.seed_button.click()
    assert grid.last_action is not None and grid.last_action["seed"] == 8
    assert grid.last_action["prompt"] == PROMPT
    assert "Seed <b>8</b>" in grid.shelf.note.value
    assert len(creates(session)) == 1  # none of this bought anything


async def test_the_panel_result_has_the_actions(session: Session) -> None:
    panel = await GenerationPanel(prompt="a calm lake", seed=21).ready()
    await panel.generate()
    row = panel.actions
    assert row is not None and row in panel.rating_box.children
    panel.seed.value = "3"
    row.seed_button.click()
    assert panel.seed.value == "21"
    await row.offer()
    assert row.confirm.description == "Buy · 4 credits"
    assert len(creates(session)) == 1
    row.confirm.click()
    await row.buying
    assert sorted(r["seed"] for r in creates(session)[1:]) == [22, 23, 24, 25]
    row.open_button.click()
    opened = await row.panel.ready()
    assert opened.request()["prompt"] == "a calm lake" and opened.request()["seed"] == 21
    assert row.panel in panel.shelf.children
    html = panel.static_html()
    assert "seed 22 · 1 credit" in html and "<button" not in html and "Buy" not in html


async def test_a_price_above_the_balance_is_not_bought(home: Path) -> None:
    for s in make_session(home, credits=3.0):
        grid = await PromptGrid([PROMPT], seeds=[8]).ready()
        await grid.run()
        [row] = actions_in(grid.cells[0])
        row.more_button.click()
        await row.pricing
        assert row.confirm.description == "Buy · 4 credits" and row.confirm.disabled
        assert "needs 2 credits more" in row.note.value
        row.confirm.click()  # disabled: a click that arrives anyway buys nothing
        assert row.buying is None and len(creates(s)) == 1
        await s.aclient.close()


async def test_stop_mid_buy(session: Session) -> None:
    grid = await PromptGrid([PROMPT], seeds=[8]).ready()
    await grid.run()
    [row] = actions_in(grid.cells[0])
    await row.offer()
    row.confirm.click()
    row.dismiss.click()  # ✕ while it buys: stop
    jobs = await row.buying
    assert {j.status for j in jobs} <= {"cancelled", "succeeded"}
    assert any(j.status == "cancelled" for j in jobs)
    assert sum(1 for r in creates(session)) < 5


async def test_open_in_panel_keeps_the_character(session: Session) -> None:
    from tests.widgets.test_grid_characters import png

    ana = session.client.characters.create(name="Ana", images=[png((200, 40, 40))])
    grid = await PromptGrid([PROMPT], characters=["Ana"], session=session).ready()
    await grid.run()
    [row] = actions_in(grid.cells[0])
    row.open_button.click()
    panel = await row.panel.ready()
    assert panel.character is not None and panel.character.id == ana.id
    assert panel.request()["character_id"] == ana.id
    assert "Ana" in panel.character_name.value


async def test_a_failed_result_has_no_actions(home: Path) -> None:
    for s in make_session(home, moderation_word="forbidden"):
        grid = await PromptGrid(["a calm lake", "a forbidden door"], seeds=[1]).ready()
        await grid.run()
        ok, refused = grid.batch.jobs
        assert ok.status == "succeeded" and refused.status == "moderation_rejected"
        assert len(actions_in(grid.cells[ok.index])) == 1
        assert actions_in(grid.cells[refused.index]) == []
        assert set(grid.action_rows) == {ok.index}
        panel = await GenerationPanel(s, prompt="a forbidden door").ready()
        await panel.generate()
        assert panel.record.status == "moderation_rejected"
        assert panel.actions is None and actions_in(panel) == []
        await s.aclient.close()

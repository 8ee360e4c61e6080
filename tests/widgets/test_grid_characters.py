"""PromptGrid's characters axis against the real sandbox: names resolve to ids before anything
is priced, the requests carry ``character_id``, every label shows the name, and a re-run (or a
grid grown with add_character) buys nothing twice."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import httpx
import pytest
from PIL import Image

from aurous_nb.client import NotFoundError
from aurous_nb.notebook.session import Session
from aurous_nb.notebook.widgets import PromptGrid

PROMPTS = ["on a boat", "in the rain"]


def png(colour: tuple[int, int, int]) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (48, 64), colour).save(buf, format="PNG")
    return buf.getvalue()


def generations(session: Session) -> list[dict[str, Any]]:
    """What the sandbox itself recorded (its own ledger), not what we think we sent."""
    book = httpx.get(f"{session.base_url}/_sandbox/ledger", timeout=30).json()
    return list(book["generations"])


@pytest.fixture
def cast(session: Session) -> tuple[Any, Any]:
    ana = session.client.characters.create(name="Ana", images=[png((200, 40, 40))])
    bo = session.client.characters.create(name="Bo", images=[png((40, 40, 200))])
    return ana, bo


async def test_two_prompts_by_two_characters(session: Session, cast, tmp_path: Path) -> None:
    ana, bo = cast
    grid = await PromptGrid(PROMPTS, characters=["Ana", bo], session=session).ready()
    assert grid.shape == (2, 2)
    assert grid.quote.total == 4 and generations(session) == []  # priced, nothing bought
    heads = " ".join(h.value for h in grid.col_heads)
    assert "Ana" in heads and "Bo" in heads and ana.id not in heads
    await grid.run()
    sent = generations(session)
    assert len(sent) == 4
    assert sorted(g["request"]["character_id"] for g in sent) == sorted([ana.id] * 2 + [bo.id] * 2)
    df = grid.to_dataframe()
    assert sorted(df["character"]) == ["Ana", "Ana", "Bo", "Bo"]
    assert set(df["character_id"]) == {ana.id, bo.id}
    assert list(df["status"]) == ["succeeded"] * 4
    by_cell = {(r.prompt, r.character): r.generation_id for r in df.itertuples()}
    server = {g["id"]: g["request"]["character_id"] for g in sent}
    assert server[by_cell[("on a boat", "Ana")]] == ana.id
    assert server[by_cell[("in the rain", "Bo")]] == bo.id
    page = grid.contact_sheet(tmp_path / "sheet.html").read_text()
    assert "Ana" in page and "Bo" in page and ana.id not in page
    assert "Ana" in grid.static_html() and bo.id not in grid.static_html()
    grid.contact_sheet(tmp_path / "sheet.png")  # labelled with the names too (drawn)

    again = await PromptGrid(PROMPTS, characters=[ana.id, "Bo"], session=session).ready()
    assert again.quote.total == 0 and again.blocked_reason() == "nothing left to run"
    await again.run()
    assert len(generations(session)) == 4  # the re-run bought nothing
    assert list(again.to_dataframe()["generation_id"]) == list(df["generation_id"])


async def test_characters_as_pages_show_names_on_tabs(session: Session, cast) -> None:
    ana, bo = cast
    grid = await PromptGrid(
        PROMPTS, seeds=[1, 2], characters=[ana, bo], cols="seed", session=session
    ).ready()
    assert len(grid.pages) == 2
    assert [grid.grid.get_title(i) for i in range(2)] == ["Ana", "Bo"]


async def test_add_character_grows_the_axis_and_keeps_bought_cells(session: Session, cast) -> None:
    ana, bo = cast
    grid = await PromptGrid(PROMPTS, characters=["Ana"], session=session).ready()
    assert grid.shape == (2, 1) and grid.quote.total == 2
    await grid.run()
    assert len(generations(session)) == 2
    before = grid.batch
    assert grid.add_character(ana) is grid and grid.batch is before  # already there: no-op
    assert grid.add_character("Ana") is grid and grid.batch is before
    grid.add_character("Bo")
    await grid.ready()
    assert grid.shape == (2, 2) and grid.quote.total == 2  # only Bo's cells are to buy
    assert "Bo" in " ".join(h.value for h in grid.col_heads)
    grid.add_character(bo.id)  # there now
    await grid.run()
    sent = generations(session)
    assert len(sent) == 4 and {g["request"]["character_id"] for g in sent} == {ana.id, bo.id}
    fresh = await PromptGrid(PROMPTS, characters=["Ana", "Bo"], session=session).ready()
    assert fresh.quote.total == 0  # the grown grid and the one written out share every key


async def test_unknown_name_is_refused_before_pricing(session: Session, cast) -> None:
    with pytest.raises(NotFoundError, match="'Zed'"):
        PromptGrid(PROMPTS, characters=["Ana", "Zed"], session=session)
    grid = await PromptGrid(PROMPTS, characters=["Ana"], session=session).ready()
    with pytest.raises(NotFoundError, match="'Zed'"):
        grid.add_character("Zed")
    assert grid.shape == (2, 1)  # unchanged
    with pytest.raises(NotFoundError, match="char_"):
        PromptGrid(PROMPTS, characters=["char_01JZZZZZZZZZZZZZZZZZZZZZZZ"], session=session)
    assert generations(session) == []


async def test_deleted_and_not_ready_characters_are_refused(session: Session, cast) -> None:
    ana, bo = cast
    session.client.characters.delete(bo.id)
    with pytest.raises(NotFoundError, match=bo.id):
        PromptGrid(PROMPTS, characters=[ana, bo], session=session)
    with pytest.raises(NotFoundError, match="'Bo'"):
        PromptGrid(PROMPTS, characters=["Bo"], session=session)
    attrs = {"gender": "female", "age": 30, "hair_color": "black", "body_type": "slim"}
    synth = session.client.characters.synthesize(name="Cy", attributes=attrs)
    assert synth.status in ("synthesizing", "reviewing")
    with pytest.raises(ValueError, match=r"'Cy'.*not ready"):
        PromptGrid(PROMPTS, characters=["Ana", "Cy"], session=session)
    grid = await PromptGrid(PROMPTS, characters=["Ana"], session=session).ready()
    with pytest.raises(ValueError, match="not ready"):
        grid.add_character(synth)
    assert generations(session) == []


def test_grid_without_characters_keeps_its_name(session: Session) -> None:
    from aurous_nb.work.spec import grid_name

    grid = PromptGrid(PROMPTS, seeds=[1], session=session)
    assert grid.name == grid_name(PROMPTS, [None], ["2k_1_1"], [1], None, {})
    assert "character" not in grid.to_dataframe().columns


async def test_grid_reference_images_upload_once_and_rerun_buys_nothing(
    session: Session, tmp_path: Path
) -> None:
    path = tmp_path / "me.png"
    path.write_bytes(png((120, 60, 30)))
    grid = await PromptGrid(PROMPTS, reference_images=[path], session=session).ready()
    assert grid.quote.total == 2
    await grid.run()
    book = httpx.get(f"{session.base_url}/_sandbox/ledger", timeout=30).json()
    assert book["totals"]["files_uploaded"] == 1
    assert len({tuple(g["request"]["reference_image_urls"]) for g in book["generations"]}) == 1
    assert "me.png" in grid.contact_sheet(tmp_path / "s.html").read_text()  # named, not hashed
    again = await PromptGrid(PROMPTS, reference_images=path.read_bytes(), session=session).ready()
    assert again.name == grid.name and again.quote.total == 0  # the same content
    axis = await PromptGrid(
        PROMPTS, axes={"reference_images": [[path], [png((1, 2, 3))]]}, session=session
    ).ready()
    assert axis.shape == (2, 2) and "me.png" in " ".join(h.value for h in axis.col_heads)
    labels = set(axis.to_dataframe()["reference_images"])
    assert len(labels) == 2 and "me.png" in labels


async def test_odd_character_arguments(session: Session, cast) -> None:
    ana, _ = cast
    plain = PromptGrid(PROMPTS, session=session)
    assert PromptGrid(PROMPTS, characters=[], session=session).name == plain.name
    assert [j.key for j in PromptGrid(PROMPTS, characters=[], session=session).batch.jobs] == [
        j.key for j in plain.batch.jobs
    ]
    for bad in (float("nan"), -1, 10**30, None):
        with pytest.raises(ValueError, match="not a character"):
            PromptGrid(PROMPTS, characters=["Ana", bad], session=session)
    with pytest.raises(NotFoundError, match=r"'An\\udce9'"):  # shown, never a crash
        PromptGrid(PROMPTS, characters=["An\udce9"], session=session)
    with pytest.raises(ValueError, match="empty character name"):
        PromptGrid(PROMPTS, characters=["  "], session=session)
    one = await PromptGrid(PROMPTS, characters="Ana", session=session).ready()  # one, alone
    assert one.shape == (2, 1) and one.batch.jobs[0].request["character_id"] == ana.id
    twice = PromptGrid(PROMPTS, characters=["Ana", ana, ana.id], session=session)
    assert twice.shape == (2, 1)  # the same character three ways is one column
    assert generations(session) == []


async def test_add_character_while_running_is_refused_and_nothing_is_lost(
    session: Session, cast
) -> None:
    ana, bo = cast
    grid = await PromptGrid(PROMPTS, characters=[ana], session=session).ready()
    grid.run_button.click()
    grid.run_button.click()  # twice: still one run
    with pytest.raises(RuntimeError, match="running"):
        grid.add_character(bo)
    assert grid.add_character("Ana") is grid  # already there: fine even while it runs
    await grid.wait()
    assert len(generations(session)) == 2
    grid.add_character(bo)
    await grid.ready()
    assert grid.quote.total == 2


def test_a_grid_without_a_lora_heads_its_columns_by_what_varies() -> None:
    """Seen on notebook 06's contact sheet: every column said "(platform's choice) · Mira"."""
    from aurous_nb.notebook.grid_layout import GridLayout

    axes = [("prompt", ["a", "b"]), ("lora", [None]), ("seed", [7]), ("character", ["c1", "c2"])]
    layout = GridLayout.of(axes)
    assert layout.cols == ["character"]
    assert layout.label(layout.cols, ("c1",), character_name={"c1": "Mira"}.get) == "Mira"
    named = GridLayout.of([("prompt", ["a"]), ("lora", ["ink"]), ("character", ["c1", "c2"])])
    assert named.cols == ["lora", "character"]  # a chosen style stays on the heading
    alone = GridLayout.of([("prompt", ["a", "b"]), ("lora", [None])])
    assert alone.cols == ["lora"]  # one column still has a heading

"""PromptGrid: priced before running, runs through the batch engine, fills cells, resumes."""

from __future__ import annotations

import csv
from pathlib import Path

import httpx
import pytest

from aurous_nb.notebook.session import Session
from aurous_nb.notebook.widgets import PromptGrid
from aurous_nb.work.batch import BudgetExceededError
from tests.widgets.conftest import make_session

PROMPTS = ["a lighthouse at dusk", "a fox in the snow"]


def server_creates(session: Session) -> int:
    return len(httpx.get(f"{session.base_url}/_sandbox/ledger").json()["generations"])


async def test_shape_and_cost_before_running(session: Session) -> None:
    grid = await PromptGrid(PROMPTS, loras=[None, "golden-hour"], seeds=[1]).ready()
    assert grid.shape == (2, 2)
    assert grid.quote.total == 4 and "4 credits" in grid.summary.value
    assert not grid.run_button.disabled
    heads = [h.value for h in grid.col_heads]
    assert "platform" in heads[0] and "Golden" in heads[1]
    assert "lighthouse" in grid.row_heads[0].value
    assert server_creates(session) == 0


async def test_run_fills_every_cell_and_saves(session: Session, tmp_path: Path) -> None:
    grid = await PromptGrid(PROMPTS, loras=[None, "golden-hour"], seeds=[3]).ready()
    grid.run_button.click()
    assert grid.run().task is grid._slot.task  # a second start joins the running one
    assert "running in the background" in repr(grid.run())
    await grid.wait()
    assert [j.status for j in grid.batch.jobs] == ["succeeded"] * 4
    assert server_creates(session) == 4
    assert grid.progress.value == 4 and "4/4 done" in grid.progress_text.value
    for box in grid.cells.values():
        image = box.children[0].children[0]
        assert bytes(image.value)[:2] in (b"\x89P", b"\xff\xd8")
    df = grid.to_dataframe()
    assert list(df["status"]) == ["succeeded"] * 4 and df["cost"].sum() == 4
    assert df["path"].map(lambda p: Path(p).is_file()).all()
    out = grid.save(tmp_path / "out")
    with (out / "grid.csv").open() as fh:
        rows = list(csv.DictReader(fh))
    assert len(rows) == 4 and all((out / r["files"]).is_file() for r in rows)
    html = grid._repr_mimebundle_()["text/html"]
    assert html.count("data:image/") == 4 and "token=" not in html


async def test_failures_show_their_reason_and_retry(home: Path) -> None:
    for session in make_session(home, moderation_word="forbidden"):
        grid = await PromptGrid(["a calm lake", "a forbidden door"], seeds=[1]).ready()
        await grid.run()
        statuses = [j.status for j in grid.batch.jobs]
        assert statuses == ["succeeded", "moderation_rejected"]
        bad = grid.cells[1].children[0].value
        assert "moderation_rejected" in bad and "failed" in bad
        assert grid.retry_button.disabled  # moderation is not a retryable failure
        await session.aclient.close()


async def test_budget_blocks_the_run_and_raises_to_the_awaiter(session: Session) -> None:
    grid = await PromptGrid(PROMPTS, seeds=[1, 2], budget=3).ready()
    assert grid.run_button.disabled and "over the budget" in grid.summary.value
    with pytest.raises(BudgetExceededError, match="budget"):
        await grid.run()
    assert "budget" in (grid.error or "") and server_creates(session) == 0


def cell_texts(grid: PromptGrid) -> list[str]:
    return [box.children[0].value for box in grid.cells.values()]


async def test_an_over_budget_grid_says_why_and_runs_once_the_budget_is_raised(
    session: Session,
) -> None:
    grid = await PromptGrid(PROMPTS, seeds=[1, 2], budget=3).ready()
    assert all("not started" in t and "queued" not in t for t in cell_texts(grid))
    static = grid.static_html()
    assert "Not run: over the budget of 3 by 1" in static and "queued" not in static
    grid.budget = 10
    assert not grid.run_button.disabled and "over the budget" not in grid.summary.value
    assert grid.budget_field.value == "10" and grid.batch.budget == 10
    assert "Not run" not in grid.static_html()
    grid.budget_field.value = "2"  # what typing into the Budget field does
    assert (
        grid.budget == 2
        and grid.run_button.disabled
        and "set the budget to 4" in (grid.summary.value)
    )
    with pytest.raises(BudgetExceededError):
        await grid.run()
    assert "Stopped: this batch needs 4 credits" in grid.static_html()
    grid.budget = None  # no cap: the stale budget error goes with the old budget
    assert grid.error is None and grid.errors.value == "" and not grid.run_button.disabled
    await grid.run()
    assert server_creates(session) == 4 and len(grid.thumbs) == 4


async def test_dataframe_gives_the_size_and_count_each_cell_used(session: Session) -> None:
    plain = await PromptGrid(PROMPTS, seeds=[1]).ready()
    df = plain.to_dataframe()
    assert list(df["size"]) == ["2k_1_1"] * 2 and list(df["count"]) == [1, 1]  # before running
    await plain.run()
    sized = await PromptGrid(PROMPTS[:1], sizes=["2k_16_9", "hd_square"], count=2).ready()
    await sized.run()
    df = sized.to_dataframe()
    assert list(df["size"]) == ["2k_16_9", "hd_square"] and list(df["count"]) == [2, 2]
    assert list(plain.to_dataframe()["size"]) == ["2k_1_1"] * 2
    gens = httpx.get(f"{session.base_url}/_sandbox/ledger").json()["generations"]
    assert sorted(g["request"].get("size") for g in gens) == sorted(
        ["2k_1_1", "2k_1_1", "2k_16_9", "hd_square"]
    )


async def test_resumes_from_the_ledger_after_a_restart(session: Session) -> None:
    first = await PromptGrid(PROMPTS, seeds=[5]).ready()
    await first.run()
    again = await PromptGrid(PROMPTS, seeds=[5]).ready()  # a new kernel would build the same
    assert [j.status for j in again.batch.jobs] == ["succeeded"] * 2
    assert "none left to run" in again.summary.value and "2 credits" in again.summary.value
    assert again.run_button.disabled and len(again.thumbs) == 2
    assert server_creates(session) == 2


async def test_cancel_cancels_server_jobs(home: Path) -> None:
    for session in make_session(home, latency=5.0):
        grid = await PromptGrid(PROMPTS, seeds=[1]).ready()
        task = grid.run()
        for _ in range(200):
            if all(j.generation_id for j in grid.batch.jobs):
                break
            await __import__("asyncio").sleep(0.02)
        grid.cancel_button.click()
        await task
        assert {j.status for j in grid.batch.jobs} == {"cancelled"}
        gens = httpx.get(f"{session.base_url}/_sandbox/ledger").json()["generations"]
        assert {g["status"] for g in gens} == {"cancelled"}
        await session.aclient.close()


async def test_retry_failed_buys_only_the_failed_cells_again(home: Path) -> None:
    for session in make_session(home, failure_rate=1.0):
        grid = await PromptGrid(PROMPTS, seeds=[9]).ready()
        await grid.run()
        assert {j.status for j in grid.batch.jobs} == {"failed"}
        assert not grid.retry_button.disabled and "2 failed" in grid.progress_text.value
        assert session.sandbox is not None
        session.sandbox.config.failure_rate = 0.0
        grid.retry_button.click()
        await grid.wait()
        assert {j.status for j in grid.batch.jobs} == {"succeeded"}
        assert server_creates(session) == 4 and len(grid.thumbs) == 2
        await session.aclient.close()

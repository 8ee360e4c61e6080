"""PromptGrid on any request field: rows, columns and pages chosen from the axes."""

from __future__ import annotations

import httpx
import pytest

from aurous_nb.notebook.session import Session
from aurous_nb.notebook.widgets import PromptGrid


def server_requests(base_url: str) -> list[dict]:
    return [g["request"] for g in httpx.get(f"{base_url}/_sandbox/ledger").json()["generations"]]


async def test_widget_rows_cols_pages_and_dataframe(session: Session) -> None:
    grid = await PromptGrid(
        ["a red fox", "a calm lake"],
        seeds=[1],
        axes={"cfg_rescale": [0.2, 0.8], "enhance_prompt": [False, True]},
        rows="cfg_rescale",
        cols="enhance_prompt",
    ).ready()
    assert grid.shape == (2, 2) and len(grid.pages) == 2  # the prompts became pages
    assert (
        grid.quote.total == 12  # enhance_prompt costs more
        and len(httpx.get(f"{session.base_url}/_sandbox/ledger").json()["generations"]) == 0
    )
    await grid.run()
    df = grid.to_dataframe()
    assert {"prompt", "cfg_rescale", "enhance_prompt", "page", "row", "column"} <= set(df.columns)
    assert sorted(df["cfg_rescale"]) == [0.2] * 4 + [0.8] * 4
    assert list(df["status"]) == ["succeeded"] * 8
    sent = server_requests(session.base_url)
    assert sorted((r["cfg_rescale"], r.get("enhance_prompt", False)) for r in sent)[0] == (
        0.2,
        False,
    )
    with pytest.raises(ValueError, match=r"rows.*not an axis"):
        PromptGrid("a fox", rows="cfg", session=session)

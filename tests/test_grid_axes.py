"""A grid on any request field: axes beyond prompts x LoRAs x sizes x seeds, in the one home of
grid axes (:mod:`aurous_nb.work.spec`), the batch engine, the widget and ``%aurous grid``."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
from IPython.core.interactiveshell import InteractiveShell

from aurous_nb.client import Client, ValidationError
from aurous_nb.notebook.session import Session
from aurous_nb.sandbox import Sandbox
from aurous_nb.work import spec as jobspec
from aurous_nb.work.batch import Batch


def server_requests(base_url: str) -> list[dict]:
    return [g["request"] for g in httpx.get(f"{base_url}/_sandbox/ledger").json()["generations"]]


def test_any_field_is_an_axis_and_the_cell_names_its_values() -> None:
    specs = jobspec.grid(
        ["a red fox in snow"],
        seeds=[1],
        axes={
            "cfg_rescale": [0.2, 0.8],
            "prompt_sr": ["fox", "owl"],
            "enhance_prompt": [False, True],
        },
    )
    assert len(specs) == 8
    prompts = sorted({s.request["prompt"] for s in specs})
    assert prompts == ["a red fox in snow", "a red owl in snow"]
    first = specs[0]
    assert first.values == {
        "prompt": "a red fox in snow",
        "lora": None,
        "size": None,
        "seed": 1,
        "count": None,
        "cfg_rescale": 0.2,
        "prompt_sr": "fox",
        "enhance_prompt": False,
    }
    assert {s.request["cfg_rescale"] for s in specs} == {0.2, 0.8}
    assert len({s.key for s in specs}) == 8


def test_lora_stacks_and_weights() -> None:
    weighted = jobspec.grid(
        "a fox", axes={"lora": ["golden-hour", "neon-noir"], "lora_weight": [0.5, 1.2]}
    )
    assert [s.request["loras"] for s in weighted] == [
        [("golden-hour", 0.5)],
        [("golden-hour", 1.2)],
        [("neon-noir", 0.5)],
        [("neon-noir", 1.2)],
    ]
    assert all("lora_id" not in s.request for s in weighted)
    stacks = jobspec.grid("a fox", axes={"loras": ["golden-hour:0.8,neon-noir:0.4", None]})
    assert stacks[0].request["loras"] == [("golden-hour", 0.8), ("neon-noir", 0.4)]
    assert "loras" not in stacks[1].request
    assert stacks[0].values["loras"] == "golden-hour:0.8,neon-noir:0.4"


def test_bad_axes_are_refused_before_anything_is_built() -> None:
    with pytest.raises(ValueError, match=r"cfg_rescal.*did you mean cfg_rescale"):
        jobspec.grid("a fox", axes={"cfg_rescal": [0.1]})
    with pytest.raises(ValueError, match=r"prompt_sr.*'wolf' is in no prompt"):
        jobspec.grid("a fox", axes={"prompt_sr": ["wolf", "owl"]})
    with pytest.raises(ValueError, match="lora_weight needs a lora"):
        jobspec.grid("a fox", axes={"lora_weight": [0.5]})
    with pytest.raises(ValueError, match="give seeds once"):
        jobspec.grid("a fox", seeds=[1], axes={"seed": [2]})


def test_old_grids_keep_their_keys_and_names() -> None:
    """No extra axis: the same keys and grid name as before axes existed (pinned)."""
    cells = jobspec.grid(["a fox", "ü"], loras=[None, "golden-hour"], seeds=[1], axes={})
    assert [s.key for s in cells][:2] == ["db019b6d2dda4d89", "7ee60d39f9d7467b"]
    name = jobspec.grid_name(["a fox"], [None, "golden-hour"], ["2k_1_1"], [1], None, {})
    assert name == "grid-82e76bb5cb3a9baa"


def test_batch_grid_with_axes_validates_every_cell_before_pricing(
    fresh_sandbox: Sandbox, fresh_client: Client, home: Path
) -> None:
    with pytest.raises(ValidationError, match=r"cfg_rescale"):
        Batch.grid("a fox", axes={"cfg_rescale": [0.5, 3.0]}, client=fresh_client)
    batch = Batch.grid(
        "a fox", seeds=[4], axes={"cfg_rescale": [0.2, 0.8]}, client=fresh_client, name="ax"
    )
    jobs = batch.run()
    assert [j.status for j in jobs] == ["succeeded"] * 2
    rows = batch.rows()
    assert [r["cfg_rescale"] for r in rows] == [0.2, 0.8]
    assert sorted(r["cfg_rescale"] for r in server_requests(fresh_sandbox.base_url)) == [0.2, 0.8]


def test_magic_grid_varies_any_field(
    fresh_sandbox: Sandbox, home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from aurous_nb.notebook import session as sessions

    shell = InteractiveShell.instance()
    client = Client(api_key=fresh_sandbox.api_key, base_url=fresh_sandbox.base_url)
    sessions._set_current(Session(client, sandbox=fresh_sandbox, key_source="sandbox"))
    try:
        shell.run_line_magic("load_ext", "aurous_nb")
        shell.user_ns["x"] = "fox"
        grid = shell.run_line_magic(
            "aurous",
            'grid "a {{x}}" --vary cfg_rescale=0.2,0.8 --lora golden-hour,neon-noir',
        )
        assert grid.shape == (1, 4)
        assert [j.request["cfg_rescale"] for j in grid.batch.jobs] == [0.2, 0.8, 0.2, 0.8]
        assert {j.request["prompt"] for j in grid.batch.jobs} == {"a fox"}
        assert {j.request["lora_id"] for j in grid.batch.jobs} == {"golden-hour", "neon-noir"}
    finally:
        sessions._set_current(None)
        client.close()

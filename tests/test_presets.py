"""Presets: named sets of request fields, set with %config, used by --preset and PromptGrid."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
from IPython.core.interactiveshell import InteractiveShell

from aurous_nb.client import Client
from aurous_nb.notebook import session
from aurous_nb.sandbox import Sandbox
from tests.magic_cells import run

POSTER = '{"poster": {"size": "2k_2_3", "lora": "neon-noir", "negative_prompt": "text"}}'


def sent(sb: Sandbox) -> list[dict]:
    gens = httpx.get(f"{sb.base_url}/_sandbox/ledger").json()["generations"]
    return [g["request"] for g in sorted(gens, key=lambda g: g["id"])]


@pytest.fixture
def ip(fresh_sandbox: Sandbox, home: Path):
    shell = InteractiveShell.instance()
    session.disconnect()
    shell.run_cell("%load_ext aurous_nb", store_history=False)
    client = Client(api_key=fresh_sandbox.api_key, base_url=fresh_sandbox.base_url)
    session._set_current(session.Session(client, sandbox=fresh_sandbox, key_source="sandbox"))
    yield shell
    shell.run_cell("%config Aurous.presets = {}", store_history=False)
    session._set_current(None)
    client.close()


def test_preset_fills_what_the_options_leave(
    ip: InteractiveShell, fresh_sandbox: Sandbox, capsys: pytest.CaptureFixture[str]
) -> None:
    assert ip.run_cell(f"%config Aurous.presets = {POSTER}").success
    _, shown = run(ip, capsys, "%aurous config")
    assert "Aurous.presets" in shown and "poster" in shown and "neon-noir" in shown
    run(ip, capsys, "%aurous generate a fox at night --preset poster --seed 1")
    run(ip, capsys, "%aurous generate a fox at night --preset poster --seed 2 --size 2k_1_1")
    run(ip, capsys, "%aurous generate a fox at night --preset poster --seed 3 --lora golden-hour")
    first, second, third = sent(fresh_sandbox)
    assert (first["size"], first["lora_id"], first["negative_prompt"]) == (
        "2k_2_3",
        "neon-noir",
        "text",
    )
    assert second["size"] == "2k_1_1" and second["lora_id"] == "neon-noir"  # the option wins
    assert third["lora_id"] == "golden-hour" and third["size"] == "2k_2_3"
    _, said = run(ip, capsys, "%aurous generate a fox --preset postr")
    assert "unknown preset 'postr'" in said and "poster" in said
    assert len(sent(fresh_sandbox)) == 3


def test_bad_presets_are_refused_when_set(
    ip: InteractiveShell, capsys: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture
) -> None:
    ip.run_cell('%config Aurous.presets = {"x": {"sizes": "2k_1_1"}}')  # IPython logs refusals
    assert "'sizes' is no field of images.create; did you mean size?" in caplog.text
    _, shown = run(ip, capsys, "%aurous config")
    assert "'x'" not in shown


async def test_prompt_grid_takes_a_preset(ip: InteractiveShell, fresh_sandbox: Sandbox) -> None:
    from aurous_nb.notebook.widgets import PromptGrid

    ip.run_cell(f"%config Aurous.presets = {POSTER}")
    grid = PromptGrid(["a fox", "an owl"], seeds=[1], preset="poster")
    assert grid.sizes == ["2k_2_3"] and grid.loras == ["neon-noir"]
    assert {j.request["negative_prompt"] for j in grid.batch.jobs} == {"text"}
    wide = PromptGrid(["a fox"], sizes=["2k_16_9"], preset="poster", negative_prompt="blur")
    assert wide.sizes == ["2k_16_9"] and wide.batch.jobs[0].request["negative_prompt"] == "blur"
    with pytest.raises(ValueError, match="unknown preset"):
        PromptGrid(["a fox"], preset="nope")
    await grid.ready()
    assert grid.quote.total == 2 and sent(fresh_sandbox) == []

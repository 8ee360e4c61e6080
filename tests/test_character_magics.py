"""``%aurous character ...`` and ``%aurous generate ... --character`` through a real IPython
shell against the sandbox; the sandbox's own ledger is the witness for what was bought."""

from __future__ import annotations

import io
from pathlib import Path

import httpx
import pytest
from IPython.core.error import UsageError
from IPython.core.interactiveshell import InteractiveShell
from PIL import Image

from aurous_nb.notebook import session
from aurous_nb.notebook.character_card import CharacterCard
from aurous_nb.store import characters as character_ledger
from tests.magic_cells import run


@pytest.fixture(scope="module")
def home(tmp_path_factory):
    with pytest.MonkeyPatch.context() as mp:
        path = tmp_path_factory.mktemp("aurous_home")
        mp.setenv("AUROUS_NB_HOME", str(path))
        mp.setenv("AUROUS_NB_AUTO_DOWNLOAD", "0")
        mp.delenv("AUROUS_API_KEY", raising=False)
        mp.delenv("AUROUS_BASE_URL", raising=False)
        mp.chdir(path)
        for i, size in enumerate([(64, 64), (40, 80)]):
            buf = io.BytesIO()
            Image.new("RGB", size, (30 * i, 120, 200)).save(buf, format="PNG")
            (path / f"p{i}.png").write_bytes(buf.getvalue())
        yield path


@pytest.fixture(scope="module")
def ip(home: Path):
    shell = InteractiveShell.instance()
    session.disconnect()
    shell.run_cell("%load_ext aurous_nb", store_history=False)
    assert shell.run_cell("%aurous connect --sandbox --latency 0.1").success
    yield shell
    from aurous_nb.notebook.magics.extension import unload_ipython_extension

    unload_ipython_extension(shell)
    session.disconnect()


def sandbox_book() -> dict[str, object]:
    s = session.current()
    return httpx.get(f"{s.base_url}/_sandbox/ledger", timeout=30).json()  # type: ignore[no-any-return]


def test_create_from_files_show_and_use_with_generate(ip, capsys) -> None:
    result, out = run(ip, capsys, "%aurous character create Theo --from p0.png p1.png")
    assert result.success, out
    card = result.result
    assert isinstance(card, CharacterCard) and card.character.is_ready
    assert "2 ref(s), free" in out
    html = card._repr_html_()
    assert html.count("data:image/") == 2 and "token=" not in html
    gen, out = run(ip, capsys, "%aurous generate a knight --character Theo --seed 3")
    assert gen.success, out
    assert gen.result.character_id == card.id
    shown, _ = run(ip, capsys, "%aurous character show Theo")
    assert shown.result.id == card.id and shown.result.spent == 0


def test_synth_is_priced_first_and_an_unchanged_cell_buys_once(ip, capsys) -> None:
    cell = "%aurous character synth Mira --gender female --age 28 --hair-color black --save"
    before = len(sandbox_book()["characters"])  # type: ignore[arg-type]
    result, out = run(ip, capsys, cell)
    assert result.success, out
    assert "Synthesizing Mira: 4 credits (4 generations at 1 credit" in out
    char = result.result.character
    assert char.is_ready and result.result.spent == 4
    again, out = run(ip, capsys, cell)
    assert again.success and "Reused, 0 credits" in out and "Synthesizing" not in out
    assert again.result.character.id == char.id
    assert len(sandbox_book()["characters"]) == before + 1  # type: ignore[arg-type]
    listed, _ = run(ip, capsys, "%aurous character list --status ready")
    frame = listed.result
    assert frame.set_index("id").loc[char.id, "credits"] == 4
    history, _ = run(ip, capsys, "%aurous history --offline")
    chars = history.result[history.result["media_type"] == "character"]
    assert list(chars["cost"]) == [4.0]


def test_synth_over_budget_spends_nothing(ip, capsys) -> None:
    before = len(sandbox_book()["characters"])  # type: ignore[arg-type]
    result, _ = run(ip, capsys, "%aurous character synth Cara --gender male --budget 3")
    assert not result.success and isinstance(result.error_in_exec, UsageError)
    assert "over the budget of 3" in str(result.error_in_exec)
    assert len(sandbox_book()["characters"]) == before  # type: ignore[arg-type]


def test_save_delete_and_a_deleted_character_on_generate(ip, capsys) -> None:
    result, out = run(ip, capsys, "%aurous character synth Rex --gender male --age 50")
    assert result.success and "Rex is reviewing" in out, out
    char_id = result.result.id
    generate = f"%aurous generate a dog --character {char_id}"
    refused, out = run(ip, capsys, generate)
    assert not refused.success and refused.error_in_exec.code == "character_not_ready"
    saved, out = run(ip, capsys, f"%aurous character save {char_id}")
    assert saved.success and "Rex is ready" in out
    gone, out = run(ip, capsys, "%aurous character delete Rex")
    assert gone.success and f"Deleted Rex ({char_id})" in out
    missing, _ = run(ip, capsys, generate)
    assert not missing.success and missing.error_in_exec.status == 404
    unknown, _ = run(ip, capsys, "%aurous generate a dog --character Nobody")
    assert not unknown.success and "no character named 'Nobody'" in str(unknown.error_in_exec)
    s = session.current()
    rows = [r for r in character_ledger.jobs(s.ledger, s.env) if r.character_id == char_id]
    assert [(r.action, r.status, r.charged) for r in rows] == [("synthesize", "succeeded", 4)]


def test_usage_errors(ip, capsys) -> None:
    for line, message in [
        ("%aurous character", "ACTION [NAME] is required"),
        ("%aurous character fly Mira", "unknown action 'fly'"),
        ("%aurous character create Mira", "create needs images"),
        ("%aurous character synth Mira", "synth needs attributes"),
        ("%aurous character show", "show needs a NAME"),
        ("%aurous character show Mira Lee", "quote a name with spaces"),
    ]:
        result, _ = run(ip, capsys, line)
        assert not result.success and message in str(result.error_in_exec), line


def test_running_the_create_cell_again_shows_the_same_character(ip, capsys, home) -> None:
    """A re-run cell (or a reopened notebook run top to bottom) must not add another Ceci to the
    team: the same name and the same pictures give the character that cell made."""
    cell = "%aurous character create Ceci --from p0.png p1.png"
    first, out = run(ip, capsys, cell)
    assert first.success, out
    before = len(sandbox_book()["characters"])  # type: ignore[arg-type]
    again, out = run(ip, capsys, cell)
    assert again.success, out
    assert again.result.id == first.result.id
    assert "already made" in out
    assert len(sandbox_book()["characters"]) == before  # type: ignore[arg-type]
    # other pictures are another character; so is the same one after it was deleted
    other, _ = run(ip, capsys, "%aurous character create Ceci --from p1.png")
    assert other.result.id != first.result.id
    run(ip, capsys, f"%aurous character delete {first.result.id}")
    remade, out = run(ip, capsys, cell)
    assert remade.success, out
    assert remade.result.id not in (first.result.id, other.result.id)


def test_history_names_the_character_of_each_generation(ip, capsys) -> None:
    """Spend per character: history's ``character`` column is the name the ledger knows (the
    id for a character made elsewhere), on the images made with one and on its synthesis."""
    import pandas as pd

    from aurous_nb import frames

    assert run(ip, capsys, "%aurous character create Dora --from p0.png")[0].success
    assert run(ip, capsys, "%aurous generate a lamp --character Dora --seed 9")[0].success
    assert run(ip, capsys, "%aurous generate a plain lamp --seed 9")[0].success
    synth = "%aurous character synth Eli --gender male --age 40 --hair-color grey --save"
    assert run(ip, capsys, synth)[0].success
    s = session.current()
    h = frames.history(ledger=s.ledger)
    assert list(h.columns).count("character") == 1
    by_prompt = dict(zip(h["prompt"], h["character"], strict=True))
    assert by_prompt["a lamp"] == "Dora"
    assert pd.isna(by_prompt["a plain lamp"])
    assert by_prompt["synthesize Eli"] == "Eli"
    spent = h.groupby("character", observed=True)["cost"].sum()
    assert spent["Eli"] == 4 and spent["Dora"] == 1

"""``%aurous generate --ref``, ``{{var}}`` naming a PIL image or a Generation, and
``%aurous video --from img_...`` (issue 16), through a real IPython shell on the sandbox."""

from __future__ import annotations

import io
from pathlib import Path

import httpx
import pytest
from IPython.core.interactiveshell import InteractiveShell
from PIL import Image

from aurous_nb.client import Generation
from aurous_nb.notebook import session
from tests.magic_cells import run


@pytest.fixture(scope="module")
def home(tmp_path_factory):
    with pytest.MonkeyPatch.context() as mp:
        path = tmp_path_factory.mktemp("aurous_home")
        mp.setenv("AUROUS_NB_HOME", str(path))
        mp.delenv("AUROUS_API_KEY", raising=False)
        mp.chdir(path)
        yield path


@pytest.fixture(scope="module")
def ip(home):
    shell = InteractiveShell.instance()
    session.disconnect()
    shell.run_cell("%load_ext aurous_nb", store_history=False)
    assert shell.run_cell("%aurous connect --sandbox --latency 0.1").success
    yield shell
    from aurous_nb.notebook.magics.extension import unload_ipython_extension

    unload_ipython_extension(shell)
    session.disconnect()


def totals(ip) -> dict:
    return httpx.get(f"{session.current().base_url}/_sandbox/ledger").json()["totals"]


@pytest.fixture(scope="module")
def photo(home: Path) -> Path:
    buf = io.BytesIO()
    Image.new("RGB", (40, 40), (220, 180, 20)).save(buf, format="PNG")
    path = home / "photo.png"
    path.write_bytes(buf.getvalue())
    return path


def test_ref_is_repeatable_and_uploads_once(ip, capsys, photo: Path) -> None:
    before = totals(ip)["files_uploaded"]
    result, out = run(ip, capsys, "%aurous generate a bee --ref photo.png --ref photo.png --seed 1")
    assert result.success, out
    gen = result.result
    assert isinstance(gen, Generation)
    assert len(gen.reference_image_urls) == 2 and gen.reference_image_urls[0].startswith("file_")
    assert totals(ip)["files_uploaded"] - before == 1
    # the cell run again: the same file, so the same request, reused (0 credits, 0 uploads)
    made = totals(ip)["generation_count"]
    again, out = run(ip, capsys, "%aurous generate a bee --ref photo.png --ref photo.png --seed 1")
    assert again.result.id == gen.id, out
    assert totals(ip)["generation_count"] == made
    assert totals(ip)["files_uploaded"] - before == 1


def test_a_variable_may_name_a_pil_image_or_a_generation(ip, capsys) -> None:
    ip.user_ns["pic"] = Image.new("RGB", (30, 20), (1, 200, 90))
    before = totals(ip)["files_uploaded"]
    first, out = run(ip, capsys, "%aurous generate a field --ref {{pic}} --seed 2 --out field")
    assert first.success, out
    ip.user_ns["pic2"] = ip.user_ns["pic"].copy()  # the same pixels: the same upload
    second, out = run(
        ip, capsys, "%aurous generate a field --ref {{pic2}} --ref {{field}} --seed 3"
    )
    assert second.success, out
    refs = second.result.reference_image_urls
    assert refs[0] == first.result.reference_image_urls[0]
    assert totals(ip)["files_uploaded"] - before == 2  # the picture, then field's output


def test_video_from_a_generation(ip, capsys) -> None:
    first, out = run(ip, capsys, "%aurous generate a harbour at dawn --seed 4")
    assert first.success, out
    loras = session.current().client.video_loras.list()
    lora = loras[0].id
    line = (
        f"%aurous video the boats drift --from {first.result.id} --video-lora {lora} --duration 2"
    )
    before = totals(ip)["files_uploaded"]
    result, out = run(ip, capsys, line + " --estimate")
    assert result.success and "Estimate" in out, out
    result, out = run(ip, capsys, line)
    assert result.success, out
    assert result.result.id.startswith("vid_")
    assert totals(ip)["files_uploaded"] - before == 1  # estimated and made from one upload


def test_bad_references_say_what_is_wrong(ip, capsys) -> None:
    before = totals(ip)
    for line, says in [
        ("%aurous generate a cat --ref missing.png", "no such file: 'missing.png'"),
        ("%aurous generate a cat --ref http://example.com/a.png", "http:// URLs are refused"),
        ("%aurous generate a cat --ref photo.png --count 9", "count"),
        ("%aurous video a cat --from img_X --first-frame img_Y --video-lora x", "pass one"),
    ]:
        result, out = run(ip, capsys, line)
        assert not result.success
        assert says in out or says in str(result.error_in_exec), (line, out)
    after = totals(ip)
    assert after["files_uploaded"] == before["files_uploaded"]
    assert after["generation_count"] == before["generation_count"]

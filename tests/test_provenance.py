"""Files that explain themselves: every cached PNG/JPEG carries its parameters, inspect() reads
them back, and ``%aurous generate --like PATH`` makes the same request again (reused if owned)."""

from __future__ import annotations

import io
from pathlib import Path

import httpx
import pytest
from IPython.core.interactiveshell import InteractiveShell
from PIL import Image

import aurous_nb
from aurous_nb.client import Client
from aurous_nb.notebook import session
from aurous_nb.sandbox import Sandbox
from aurous_nb.store.ledger import default_ledger
from aurous_nb.work import jobs
from tests.magic_cells import run

REQUEST = {
    "prompt": "a red fox in the snow",
    "negative_prompt": "blurry",
    "loras": [("golden-hour", 0.7), ("neon-noir", 0.3)],
    "size": "2k_1_1",
    "seed": 11,
    "cfg_rescale": 0.4,
}


def server_creates(sb: Sandbox) -> int:
    return len(httpx.get(f"{sb.base_url}/_sandbox/ledger").json()["generations"])


def test_cached_png_carries_its_parameters(
    fresh_sandbox: Sandbox, fresh_client: Client, home: Path
) -> None:
    record = jobs.generate(fresh_client, default_ledger(), "image", REQUEST)
    [out] = default_ledger().outputs(record.generation_id)
    data = out.path.read_bytes()
    assert data[:4] == b"\x89PNG"
    facts = aurous_nb.inspect(out.path)
    assert facts["request"] == {**REQUEST, "loras": [["golden-hour", 0.7], ["neon-noir", 0.3]]}
    assert facts["generation_id"] == record.generation_id and facts["index"] == 0
    assert facts["seed"] == 11 and facts["cost"] == 1 and facts["aurous_version"]
    assert [(lo["lora"], lo["weight"]) for lo in facts["loras"]] == [
        ("golden-hour", 0.7),
        ("neon-noir", 0.3),
    ]
    with Image.open(io.BytesIO(data)) as img:  # other tools read it too (A1111's "parameters")
        img.load()
        assert "Negative prompt: blurry" in img.info["parameters"]
        assert "Seed: 11" in img.info["parameters"]
    text = data.decode("latin-1")
    assert fresh_sandbox.api_key not in text and "http" not in text and "token" not in text
    assert out.is_intact()  # the ledger's size and hash are of the file as written


def test_jpeg_carries_them_in_a_comment(tmp_path: Path) -> None:
    """The sandbox serves PNG only, so the JPEG path is driven with a JPEG of our own."""
    from aurous_nb.store import provenance

    buf = io.BytesIO()
    Image.new("RGB", (64, 48), (200, 30, 30)).save(buf, format="JPEG", quality=90)
    facts = {"request": {"prompt": "an owl é", "seed": 3}, "generation_id": "gen_x", "index": 0}
    marked = provenance.embed(buf.getvalue(), facts)
    original = buf.getvalue()  # SOI and the 18-byte JFIF header, then the comment, then the rest
    assert marked[:20] == original[:20] and marked.endswith(original[20:])  # pixels untouched
    path = tmp_path / "owl.jpg"
    path.write_bytes(marked)
    assert aurous_nb.inspect(path)["request"] == {"prompt": "an owl é", "seed": 3}
    with Image.open(path) as img:
        img.load()  # still a valid JPEG
        assert img.size == (64, 48)


def test_inspect_says_when_a_file_has_no_parameters(tmp_path: Path) -> None:
    plain = tmp_path / "plain.png"
    Image.new("RGB", (8, 8)).save(plain)
    with pytest.raises(ValueError, match="no Aurous parameters"):
        aurous_nb.inspect(plain)


def test_generate_like_a_file_reuses_or_buys(
    fresh_sandbox: Sandbox, home: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    ip = InteractiveShell.instance()
    session.disconnect()
    ip.run_cell("%load_ext aurous_nb", store_history=False)
    client = Client(api_key=fresh_sandbox.api_key, base_url=fresh_sandbox.base_url)
    session._set_current(session.Session(client, sandbox=fresh_sandbox, key_source="sandbox"))
    try:
        record = jobs.generate(client, default_ledger(), "image", REQUEST)
        [out] = default_ledger().outputs(record.generation_id)
        assert server_creates(fresh_sandbox) == 1
        _, said = run(ip, capsys, f"%aurous generate --like {out.path}")
        assert "reused" in said.lower() and server_creates(fresh_sandbox) == 1
        _, said = run(ip, capsys, f"%aurous generate --like {out.path} --seed 12")
        assert "1 credit" in said and server_creates(fresh_sandbox) == 2
        gens = httpx.get(f"{fresh_sandbox.base_url}/_sandbox/ledger").json()["generations"]
        assert sorted(g["request"]["seed"] for g in gens) == [11, 12]
        again = next(g["request"] for g in gens if g["request"]["seed"] == 12)
        assert again["cfg_rescale"] == 0.4 and again["negative_prompt"] == "blurry"
        assert len(again["loras"]) == 2
    finally:
        session._set_current(None)
        client.close()

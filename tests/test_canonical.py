"""Canonical JSON is an identity: request hashes and stable keys already sit in users' ledgers.

These figures were taken before the three encoders (ledger request, batch spec key, client body)
were folded into one; a change to any byte here would make old ledgers miss their jobs (a re-run
cell or batch buying again) or a retried body differ from its first send.
"""

from __future__ import annotations

from pathlib import Path

from aurous_nb.client._core import dumps
from aurous_nb.client._params import file_fields
from aurous_nb.store.ledger import Ledger
from aurous_nb.store.payloads import request_hash
from aurous_nb.work import spec as jobspec

REQUEST = {
    "prompt": "un renard roux — é",
    "seed": 7,
    "negative_prompt": None,
    "loras": [{"id": "a", "w": 0.5, "x": None}],
    "size": "2k_1_1",
}


def test_ledger_request_text_and_hash_are_pinned(tmp_path: Path) -> None:
    ledger = Ledger(tmp_path / "ledger.sqlite3")
    record = ledger.prepare("sandbox", "image", REQUEST, key="k1")
    assert record.request_hash == (
        "40900c0489ce7c5e5a93f8efab842bd44cf5297a1f4c860f66a620640ed36fee"
    )
    _, [(text,)] = ledger.query("SELECT request FROM generations WHERE idempotency_key = 'k1'")
    assert text == (
        '{"loras":[{"id":"a","w":0.5}],"prompt":"un renard roux — é","seed":7,"size":"2k_1_1"}'
    )
    card = {"version": "2026-05-15", "image": {"base": 1.5, "note": "é", "gone": None}}
    ledger.record_pricing("sandbox", card)
    _, [(digest,)] = ledger.query("SELECT card_sha256 FROM pricing")
    assert digest == "e9302ede5f56e5bf66c5bccbf2cd8bb4f2ab575a99490b4ad5977dbd1ceebd82"
    video = {"video_lora_id": "seedance-1-lite", "prompt": "waves"}
    assert request_hash("video", video) == (
        "a313ceb69b130f1708ba929963ac57369e16173ee0b6b8dc99bc54d3f54fbfa8"
    )


def test_batch_spec_keys_are_pinned() -> None:
    spec = jobspec.image("un renard — é", seed=3, lora_id=None, count=2)
    assert spec.key == "adce40806287fd39"
    assert spec.price_shape() == '{"m":"image","r":{"count":2}}'
    cells = jobspec.grid(["a fox", "ü"], loras=[None, "golden-hour"], seeds=[1])
    assert [s.key for s in cells] == [
        "db019b6d2dda4d89",
        "7ee60d39f9d7467b",
        "9687fcdc2e7beaf5",
        "caca0c550d927874",
    ]
    assert jobspec.specs_from([{"prompt": "x"}, {"prompt": "x"}])[1].key == "8958ae78e79b531e.1"


def test_client_body_bytes_are_pinned() -> None:
    body = {"prompt": "é", "b": [1, None], "a": {"z": 1, "y": 2}}
    assert dumps(body) == b'{"a":{"y":2,"z":1},"b":[1,null],"prompt":"\\u00e9"}'
    assert file_fields("reference", {"b": "é", "a": 1})["metadata"] == '{"a":1,"b":"\\u00e9"}'


def test_one_encoder_that_imports_nothing_else_of_the_package() -> None:
    import subprocess
    import sys

    code = "import sys, aurous_nb.canonical; print(sorted(m for m in sys.modules if 'aurous' in m))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "['aurous_nb', 'aurous_nb.canonical']"
    package = Path(jobspec.__file__).parents[1]
    encoders = [
        p.relative_to(package).as_posix()
        for p in package.rglob("*.py")
        if "sort_keys=True" in p.read_text() and not p.is_relative_to(package / "sandbox")
    ]
    # The grid's name keeps its older spaced form (canonical_json(spaced=True), in jobspec).
    assert sorted(encoders) == ["canonical.py"]

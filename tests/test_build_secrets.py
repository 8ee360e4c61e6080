"""No saved notebook and no file under build/ holds an API key, a webhook secret or a signed URL.

Notebooks are committed with their outputs and ``make demo`` writes executed notebooks, HTML
renders and a ledger under ``build/``; all of them are meant to be shared. The scanner reads
every file as bytes (text, JSON, HTML, SQLite alike), so a key inside a base64-free blob, a
notebook's metadata or a database page is found too.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = ROOT / "notebooks"
BUILD = ROOT / "build"

#: What must never be shared, by name.
PATTERNS: dict[str, re.Pattern[bytes]] = {
    # Hosted API keys: al_live_ + 64 hex (al_test_ too, should test keys appear).
    "api key": re.compile(rb"\bal_(?:live|test)_[0-9a-f]{64}\b"),
    # Legacy keys (og_ + a long random tail).
    "legacy api key": re.compile(rb"\bog_[A-Za-z0-9_-]{24,}"),
    # Webhook signing secrets (a preview such as ``whsec_ab12…`` is shorter and allowed).
    "webhook secret": re.compile(rb"\bwhsec_[A-Za-z0-9+/=_-]{16,}"),
    # Signed output URLs carry their credential as a ``token=`` query parameter.
    "signed URL": re.compile(rb"[?&]token=[^\s\"'&<>]+"),
}

MAX_BYTES = 64 * 1024 * 1024  # larger files (none expected) are read in full anyway


def find_secrets(path: Path) -> list[str]:
    """``["<kind>: <excerpt>", ...]`` for every match in ``path`` (excerpts are shortened)."""
    data = path.read_bytes()
    hits = []
    for kind, pattern in PATTERNS.items():
        for match in pattern.finditer(data):
            excerpt = match.group(0)[:14].decode("ascii", "replace")
            hits.append(f"{kind}: {excerpt}…")
    return hits


def shared_files() -> list[Path]:
    """Every saved notebook, and every file under build/ when it exists."""
    files = sorted(NOTEBOOKS.glob("*.ipynb"))
    if BUILD.is_dir():
        files += sorted(p for p in BUILD.rglob("*") if p.is_file())
    return files


def test_scanner_catches_planted_secrets(tmp_path: Path) -> None:
    key = "al_live_" + "0123456789abcdef" * 4
    planted = {
        "key.ipynb": f'{{"outputs": [{{"text": "key is {key}"}}]}}',
        "legacy.txt": "AUROUS_API_KEY=og_" + "Zx9" * 10,
        "hook.html": "<pre>whsec_" + "q" * 32 + "</pre>",
        "url.json": '{"url": "https://cdn.example/o/1.png?expires=1&token=abc123"}',
    }
    for name, text in planted.items():
        (tmp_path / name).write_text(text, encoding="utf-8")
    found = {name: find_secrets(tmp_path / name) for name in planted}
    assert all(found.values()), found
    assert found["key.ipynb"][0].startswith("api key")
    assert found["url.json"][0].startswith("signed URL")

    # What may appear: a masked key, a secret preview, the word token in prose.
    harmless = tmp_path / "ok.txt"
    harmless.write_text(
        "key al_live_0123… masked; secret whsec_ab12…; a token= is never shown; "
        "tokens=3; al_live_" + "0" * 63,
        encoding="utf-8",
    )
    assert find_secrets(harmless) == []


def test_no_secret_in_notebooks_or_build() -> None:
    files = shared_files()
    notebooks = [p for p in files if p.parent == NOTEBOOKS]
    assert notebooks, "no saved notebooks found under notebooks/"
    problems = {str(p.relative_to(ROOT)): hits for p in files if (hits := find_secrets(p))}
    assert not problems, f"secrets in shared files: {problems}"


@pytest.mark.skipif(not BUILD.is_dir(), reason="no build/ (run make demo)")
def test_build_was_scanned() -> None:
    scanned = [p for p in shared_files() if BUILD in p.parents]
    assert scanned, "build/ exists but holds no files"

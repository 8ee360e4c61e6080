"""Shared fixtures of the reliability suite: an isolated ``$AUROUS_NB_HOME`` per test, and the
tally of bad inputs written where ``make soak`` asks for it."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path

import pytest
import tally


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A fresh ``$AUROUS_NB_HOME`` (ledger and outputs cache) with downloads off."""
    monkeypatch.setenv("AUROUS_NB_HOME", str(tmp_path))
    monkeypatch.setenv("AUROUS_NB_AUTO_DOWNLOAD", "0")
    return tmp_path


@pytest.fixture(scope="session", autouse=True)
def report_tally() -> Iterator[None]:
    yield
    path = os.environ.get("AUROUS_BAD_INPUT_COUNT_FILE")
    if path and tally.TRIED:
        with open(path, "a", encoding="utf-8") as fh:
            fh.write(json.dumps(tally.TRIED) + "\n")

"""Shared fixtures of the reliability suite: an isolated ``$AUROUS_NB_HOME`` per test."""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A fresh ``$AUROUS_NB_HOME`` (ledger and outputs cache) with downloads off."""
    monkeypatch.setenv("AUROUS_NB_HOME", str(tmp_path))
    monkeypatch.setenv("AUROUS_NB_AUTO_DOWNLOAD", "0")
    return tmp_path

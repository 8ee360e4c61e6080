"""Shared fixtures of the reliability suite: an isolated ``$AUROUS_NB_HOME`` per test, and the
tally of bad inputs written where ``make soak`` asks for it, and the fault proxy (``lossy``)."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import tally
from proxy import Lossy, ipython_shell, open_lossy


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


# -- the fault proxy: answers lost after the server did the work ------------------------------


@pytest.fixture
def lossy(home: Path) -> Iterator[Lossy]:
    """A fresh sandbox behind a :class:`~proxy.FaultProxy`, installed as the current session."""
    with open_lossy() as bundle:
        yield bundle


@pytest.fixture
def shell(lossy: Lossy) -> Iterator[Any]:
    """An IPython shell with ``%aurous`` loaded, on the ``lossy`` session."""
    yield ipython_shell()

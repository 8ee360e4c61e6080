"""Re-running an unchanged ``--ref`` cell buys nothing, even after the picture's file expired
and was uploaded again under a new ``file_`` id (issue 16): the ledger reads an uploaded
reference as its content when it matches requests."""

from __future__ import annotations

import io
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from IPython.core.interactiveshell import InteractiveShell
from PIL import Image

from aurous_nb.client import Client
from aurous_nb.notebook import session as sessions
from aurous_nb.notebook.session import Session
from aurous_nb.sandbox import Sandbox
from tests.magic_cells import run


@pytest.fixture
def current(home: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Session]:
    monkeypatch.chdir(home)
    buf = io.BytesIO()
    Image.new("RGB", (24, 24), (90, 10, 160)).save(buf, format="PNG")
    (home / "photo.png").write_bytes(buf.getvalue())
    with Sandbox(latency=0.05, latency_spread=0.0, file_ttl=3.0, time_factor=20) as sb:
        s = Session(Client(api_key=sb.api_key, base_url=sb.base_url), sandbox=sb)
        sessions._set_current(s)
        try:
            yield s
        finally:
            sessions._set_current(None)
            s.close()


def totals(s: Session) -> dict:
    return httpx.get(f"{s.base_url}/_sandbox/ledger").json()["totals"]


def test_the_cell_run_again_after_the_file_expired_is_reused(current: Session, capsys) -> None:
    ip = InteractiveShell.instance()
    if "aurous" not in ip.magics_manager.magics["line"]:
        ip.run_cell("%load_ext aurous_nb", store_history=False)
    cell = "%aurous generate a violet moth --ref photo.png --seed 5"
    first, out = run(ip, capsys, cell)
    assert first.success, out
    time.sleep(3.1)  # the file is purged; the next run uploads the picture again
    again, out = run(ip, capsys, cell)
    assert again.success, out
    assert totals(current)["files_uploaded"] == 2
    assert again.result.id == first.result.id  # before: a second generation was bought
    assert totals(current)["generation_count"] == 1

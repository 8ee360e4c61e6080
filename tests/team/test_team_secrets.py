"""A team's ledger keeps no secret and shows none: no API key or signed URL in any PostgreSQL
row, and the database URL's password never printed (``%aurous config``, reprs, errors)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from IPython.core.interactiveshell import InteractiveShell

from aurous_nb.client import AsyncClient
from aurous_nb.notebook import session
from aurous_nb.sandbox import Sandbox
from aurous_nb.store.ledger import Ledger, LedgerError
from aurous_nb.work.batch import Batch
from aurous_nb.work.spec import grid
from tests.magic_cells import run

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "reliability"))
from leaks import KEY_RE, TOKEN_RE, ledger_rows

PASSWORD = "hunter2-team-secret"


def _with_password(url: str) -> str:
    return url.replace("postgresql://postgres@", f"postgresql://postgres:{PASSWORD}@")


async def test_no_key_or_signed_url_in_any_postgresql_row(pg_url: str, home: Path) -> None:
    with Sandbox(latency=0.05, time_factor=50, credits=1000) as sb:
        ledger = Ledger(url=pg_url)
        async with AsyncClient(api_key=sb.api_key, base_url=sb.base_url) as client:
            batch = Batch(grid([f"leak {i}" for i in range(4)]), client=client, ledger=ledger)
            jobs = await batch.run_async()
        assert [j.status for j in jobs] == ["succeeded"] * 4 and all(j.files for j in jobs)
        rows = list(ledger_rows(pg_url))
        assert len([t for t, _ in rows if t == "outputs"]) == 4
        key = sb.api_key.encode()
        hits = [
            (table, text[:80])
            for table, text in rows
            if key in text.encode()
            or KEY_RE.search(text.encode())
            or TOKEN_RE.search(text.encode())
        ]
        assert len(rows) > 8 and hits == []
        ledger.close()


def test_the_password_of_a_ledger_url_is_never_shown(
    pg_url: str, home: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    url = _with_password(pg_url)  # the test cluster trusts loopback: any password connects
    ledger = Ledger(url=url)
    assert PASSWORD not in repr(ledger) and PASSWORD not in ledger.where
    assert ledger.where == pg_url.replace("postgres@", "postgres:…@")
    ledger.close()
    with pytest.raises(LedgerError) as caught:
        Ledger(url=url.rsplit("/", 1)[0] + "/no_such_database")
    assert "no_such_database" in str(caught.value) and PASSWORD not in str(caught.value)
    assert PASSWORD not in repr(caught.value.args) and PASSWORD not in str(caught.value.path)

    shell = InteractiveShell.instance()
    session.disconnect()
    shell.run_cell("%load_ext aurous_nb", store_history=False)
    try:
        _, shown = run(shell, capsys, f"%config Aurous.ledger_url = {url!r}")
        _, listed = run(shell, capsys, "%config Aurous")
        _, printed = run(shell, capsys, "%aurous config")
        assert "postgres:…@" in printed and "ledger" in printed
        for text in (shown, listed, printed):
            assert PASSWORD not in text
        result, out = run(shell, capsys, "%aurous connect --sandbox")
        assert result.success, out
        assert session.current().ledger.shared  # the setting moved the ledger
        assert "postgres:…@" in repr(session.current().ledger)
    finally:
        shell.run_cell("%config Aurous.ledger_url = None", store_history=False)
        from aurous_nb.notebook.magics.extension import unload_ipython_extension

        unload_ipython_extension(shell)
        session.disconnect()

"""``%aurous generate`` on a team's ledger: a re-run reuses your own purchase, a teammate's only
with ``%config Aurous.reuse_scope = "team"``."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from IPython.core.interactiveshell import InteractiveShell

from aurous_nb.notebook import session
from aurous_nb.sandbox import Sandbox
from tests.magic_cells import run


@pytest.fixture
def ip(home: Path) -> Iterator[InteractiveShell]:
    shell = InteractiveShell.instance()
    session.disconnect()
    shell.run_cell("%load_ext aurous_nb", store_history=False)
    yield shell
    shell.run_cell("%config Aurous.reuse_scope = 'me'", store_history=False)
    from aurous_nb.notebook.magics.extension import unload_ipython_extension

    unload_ipython_extension(shell)
    session.disconnect()


def _made(sb: Sandbox) -> int:
    return int(httpx.get(f"{sb.base_url}/_sandbox/ledger").json()["totals"]["generation_count"])


def test_a_teammates_purchase_is_reused_only_when_asked(
    ip: InteractiveShell,
    pg_url: str,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    with Sandbox(latency=0.05, time_factor=50, credits=1000) as sb:
        monkeypatch.setenv("AUROUS_API_KEY", sb.api_key)
        monkeypatch.setenv("AUROUS_NB_LEDGER", pg_url)
        cell = '%aurous generate "a fox at dawn"'

        def as_user(name: str) -> None:
            monkeypatch.setenv("AUROUS_NB_USER", name)
            run(ip, capsys, "%aurous disconnect")
            result, out = run(ip, capsys, f"%aurous connect --base-url {sb.base_url}")
            assert result.success, out

        as_user("ana")
        result, out = run(ip, capsys, cell)
        assert result.success, out
        assert _made(sb) == 1
        as_user("bo")
        run(ip, capsys, "%config Aurous.reuse_scope = 'team'")
        result, out = run(ip, capsys, cell)
        assert result.success and "Reused, 0 credits" in out, out
        assert _made(sb) == 1  # ana's purchase, shown to bo
        run(ip, capsys, "%config Aurous.reuse_scope = 'me'")
        result, out = run(ip, capsys, cell)
        assert result.success and "Reused" not in out, out
        assert _made(sb) == 2  # bo's own
        result, out = run(ip, capsys, cell)
        assert "Reused, 0 credits" in out and _made(sb) == 2  # and then his own again

"""A damaged, foreign or read-only ledger: a ``LedgerError`` that says what is wrong and what to
do, never a raw ``sqlite3`` traceback; readings that need no ledger (balance, estimates) keep
working; a damaged file is moved aside (``<name>.damaged-<UTC time>``, with a warning), never
overwritten; a zero-byte file never silently restarts history.

Driven through ``%aurous`` in an IPython shell on a fresh sandbox. As root, ``chmod`` stops no
write, so the read-only cases run the shell in a subprocess in a user namespace
(``unshare --user --map-user=65534``): the owner of the files, without root's override, so the
modes hold.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import textwrap
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from IPython.core.interactiveshell import InteractiveShell

import aurous_nb
from aurous_nb.notebook import session
from aurous_nb.sandbox import Sandbox
from aurous_nb.store.ledger import SCHEMA_VERSION, Ledger
from tests.magic_cells import aurous_shell, run

LEDGER = "ledger.sqlite3"


@pytest.fixture
def ip(home: Path) -> Iterator[InteractiveShell]:
    with aurous_shell(connect="%aurous connect --sandbox --latency 0.05") as shell:
        yield shell


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def aside(home: Path) -> list[Path]:
    return sorted(p for p in home.iterdir() if ".damaged-" in p.name)


def generations(sb: Any) -> int:
    totals = httpx.get(f"{sb.base_url}/_sandbox/ledger").json()["totals"]
    return int(totals["generation_count"])


def real_ledger(path: Path, rows: int = 300) -> None:
    """A ledger with enough rows to span many pages."""
    ledger = Ledger(path)
    for n in range(rows):
        ledger.record_generation(
            "sandbox",
            {
                "id": f"img_{n:06d}",
                "status": "succeeded",
                "media_type": "image",
                "prompt": "a long prompt " * 20,
                "created_at": "2026-11-29T07:00:00.000Z",
            },
        )
    ledger.close()
    with sqlite3.connect(path) as conn:
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")


def assert_moved_aside_and_fresh(
    ip: InteractiveShell, capsys: pytest.CaptureFixture[str], home: Path, before: str
) -> None:
    with pytest.warns(aurous_nb.LedgerWarning, match="moved aside") as caught:
        result, out = run(ip, capsys, "%aurous history --offline")
    assert result.success, out
    originals = [p for p in aside(home) if not p.name.endswith(("-wal", "-shm"))]
    assert len(originals) == 1 and digest(originals[0]) == before
    assert re.fullmatch(re.escape(LEDGER) + r"\.damaged-\d{8}T\d{6}Z", originals[0].name)
    assert originals[0].name in str(caught[0].message)
    assert Ledger(home / LEDGER).jobs() == []  # a fresh, working ledger beside it


# -------------------------------------------------------------------------- damaged files


def test_garbage_is_moved_aside_and_a_fresh_ledger_starts(ip, capsys, home) -> None:
    (home / LEDGER).write_bytes(os.urandom(8192))
    assert_moved_aside_and_fresh(ip, capsys, home, digest(home / LEDGER))


def test_a_truncated_ledger_is_moved_aside(ip, capsys, home) -> None:
    session.disconnect()
    real_ledger(home / LEDGER)
    data = (home / LEDGER).read_bytes()
    (home / LEDGER).write_bytes(data[: len(data) // 2])
    ip.run_cell("%aurous connect --sandbox --latency 0.05")
    assert_moved_aside_and_fresh(ip, capsys, home, digest(home / LEDGER))


def test_overwritten_pages_are_moved_aside(ip, capsys, home) -> None:
    session.disconnect()
    real_ledger(home / LEDGER)
    data = bytearray((home / LEDGER).read_bytes())
    middle = len(data) // 2 // 4096 * 4096
    data[middle + 8 : middle + 4096] = os.urandom(4088)
    (home / LEDGER).write_bytes(bytes(data))
    ip.run_cell("%aurous connect --sandbox --latency 0.05")
    assert_moved_aside_and_fresh(ip, capsys, home, digest(home / LEDGER))


def test_a_zero_byte_ledger_does_not_silently_restart_history(ip, capsys, home) -> None:
    session.disconnect()
    for leftover in home.glob(LEDGER + "*"):
        leftover.unlink()
    (home / LEDGER).write_bytes(b"")
    ip.run_cell("%aurous connect --sandbox --latency 0.05")
    assert_moved_aside_and_fresh(ip, capsys, home, digest(home / LEDGER))


# -------------------------------------------------------------------------- refused files


def test_a_newer_schema_is_refused_untouched_and_balance_still_works(ip, capsys, home) -> None:
    session.disconnect()
    with sqlite3.connect(home / LEDGER) as conn:
        conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    before = digest(home / LEDGER)
    ip.run_cell("%aurous connect --sandbox --latency 0.05")
    result, out = run(ip, capsys, "%aurous history --offline")
    assert isinstance(result.error_in_exec, aurous_nb.LedgerError)
    assert "newer" in out and "upgrade aurous_nb" in out.lower()
    assert "Traceback" not in out and "sqlite3." not in out
    with pytest.warns(aurous_nb.LedgerWarning, match="not recorded"):
        result, out = run(ip, capsys, "%aurous balance")
    assert result.success, out
    assert digest(home / LEDGER) == before and aside(home) == []


def test_another_programs_database_is_refused_untouched(ip, capsys, home) -> None:
    session.disconnect()
    for leftover in home.glob(LEDGER + "*"):
        leftover.unlink()
    with sqlite3.connect(home / LEDGER) as conn:
        conn.execute("CREATE TABLE recipes (name TEXT)")
        conn.execute("INSERT INTO recipes VALUES ('soup')")
    before = digest(home / LEDGER)
    ip.run_cell("%aurous connect --sandbox --latency 0.05")
    result, out = run(ip, capsys, '%aurous generate "a red fox" --no-wait')
    assert isinstance(result.error_in_exec, aurous_nb.LedgerError)
    assert "not an aurous_nb ledger" in out and "AUROUS_NB_HOME" in out
    assert generations(session.current().sandbox) == 0  # nothing bought without a ledger row
    assert digest(home / LEDGER) == before and aside(home) == []


def test_ledger_error_is_public_and_carries_what_to_do(home) -> None:
    with sqlite3.connect(home / "other.sqlite3") as conn:
        conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 5}")
    with pytest.raises(aurous_nb.LedgerError) as caught:
        Ledger(home / "other.sqlite3")
    err = caught.value
    assert err.path == home / "other.sqlite3" and "upgrade" in err.advice.lower()
    assert isinstance(err, RuntimeError)


# -------------------------------------------------------------------------- read-only homes

SCRIPT = textwrap.dedent(
    """
    import json, sys, warnings
    from IPython.core.interactiveshell import InteractiveShell
    warnings.simplefilter("always")
    shell = InteractiveShell.instance()
    shell.run_cell("%load_ext aurous_nb")
    shell.run_cell("%aurous connect")
    report = {}
    for name, line in [("balance", "%aurous balance"), ("estimate", '%aurous estimate "a fox"'),
                       ("generate", '%aurous generate "a fox" --no-wait'),
                       ("history", "%aurous history --offline")]:
        with warnings.catch_warnings(record=True) as seen:
            result = shell.run_cell(line)
        err = result.error_in_exec
        report[name] = {"ok": result.success, "error": type(err).__name__ if err else None,
                        "message": str(err) if err else None,
                        "warnings": [str(w.message) for w in seen]}
    print("REPORT " + json.dumps(report))
    """
)


UNSHARE = ["unshare", "--user", "--map-user=65534"]


@pytest.fixture
def unprivileged_home() -> Iterator[Path]:
    """A folder for an ``unshare --user`` child, who owns it but has no power over modes."""
    if shutil.which("unshare") is None:
        pytest.skip("needs unshare")
    path = Path(tempfile.mkdtemp(prefix="aurous-ro-"))
    os.chmod(path, 0o755)
    probe = subprocess.run([*UNSHARE, "true"], capture_output=True)
    if probe.returncode != 0:
        shutil.rmtree(path)
        pytest.skip("unshare --user is not permitted here")
    yield path
    shutil.rmtree(path)


def run_unprivileged(home: Path, sb: Sandbox, scratch: Path) -> dict[str, Any]:
    env = {
        **os.environ,
        "AUROUS_NB_HOME": str(home),
        "AUROUS_API_KEY": sb.api_key,
        "AUROUS_BASE_URL": sb.base_url,
        "AUROUS_NB_AUTO_DOWNLOAD": "0",
        "HOME": str(scratch),
        "IPYTHONDIR": str(scratch / "ipython"),
    }
    proc = subprocess.run(
        [*UNSHARE, sys.executable, "-c", SCRIPT],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        cwd=home,
    )
    lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("REPORT ")]
    assert lines, proc.stdout + proc.stderr
    assert "sqlite3." not in proc.stdout + proc.stderr, proc.stdout + proc.stderr
    report: dict[str, Any] = json.loads(lines[-1].removeprefix("REPORT "))
    return report


def test_a_read_only_home_keeps_readings_and_refuses_spending(unprivileged_home, home) -> None:
    os.chmod(unprivileged_home, 0o555)
    with Sandbox(latency=0.05, credits=100) as sb:
        report = run_unprivileged(unprivileged_home, sb, home)
        bought = generations(sb)
    assert report["balance"]["ok"] and report["estimate"]["ok"], report
    assert any("not recorded" in w for w in report["balance"]["warnings"]), report
    assert report["generate"]["error"] == "LedgerError", report
    assert "AUROUS_NB_HOME" in report["generate"]["message"], report
    assert report["history"]["error"] == "LedgerError", report  # there is no ledger to read
    assert bought == 0
    assert list(unprivileged_home.iterdir()) == []


def test_a_read_only_ledger_file_keeps_readings_and_refuses_spending(
    unprivileged_home, home
) -> None:
    real_ledger(unprivileged_home / LEDGER, rows=3)
    os.chmod(unprivileged_home / LEDGER, 0o444)
    before = digest(unprivileged_home / LEDGER)
    with Sandbox(latency=0.05, credits=100) as sb:
        report = run_unprivileged(unprivileged_home, sb, home)
        bought = generations(sb)
    assert report["balance"]["ok"] and report["estimate"]["ok"], report
    assert report["generate"]["error"] == "LedgerError", report
    assert "read-only" in report["generate"]["message"], report
    assert report["history"]["ok"], report  # a current schema opens without a write
    assert bought == 0
    assert digest(unprivileged_home / LEDGER) == before

"""The promises across machines: two people (processes with their own homes and names) run one
shared notebook's batch against one PostgreSQL ledger; a SIGKILL of either, or a PostgreSQL
restart mid-batch, loses nothing and buys nothing twice; a third reads one history for all."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from collections import Counter
from pathlib import Path
from typing import Any

import httpx
import pytest

from aurous_nb.analysis import frames
from aurous_nb.sandbox import Sandbox
from aurous_nb.store.ledger import Ledger

ROOT = Path(__file__).resolve().parents[2]

CHILD = textwrap.dedent(
    """
    import sys
    from aurous_nb.work.batch import Batch
    from aurous_nb.work.spec import grid

    n = int(sys.argv[1])
    specs = grid([f"team {i}" for i in range(n)])
    Batch(specs, name="shared", notebook="shared.ipynb", max_in_flight=3).run()
    print("finished", flush=True)
    """
)


def _server(sb: Sandbox) -> dict[str, Any]:
    return httpx.get(f"{sb.base_url}/_sandbox/ledger", timeout=30).json()  # type: ignore[no-any-return]


def _env(sb: Sandbox, url: str, home: Path, user: str) -> dict[str, str]:
    return {
        **os.environ,
        "AUROUS_NB_HOME": str(home),
        "AUROUS_NB_LEDGER": url,
        "AUROUS_NB_USER": user,
        "AUROUS_NB_HOST": f"{user}-laptop",
        "AUROUS_API_KEY": sb.api_key,
        "AUROUS_BASE_URL": sb.base_url,
        "AUROUS_NB_AUTO_DOWNLOAD": "0",
        "PYTHONPATH": str(ROOT),
    }


def _start(env: dict[str, str], n: int) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-c", CHILD, str(n)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _finish(proc: subprocess.Popen[str]) -> str:
    out, err = proc.communicate(timeout=300)
    assert proc.returncode == 0 and "finished" in out, err[-2000:]
    return err


def _rows(url: str) -> int:
    ledger = Ledger(url=url, user="lead")
    try:
        _, [(count,)] = ledger.query(
            "SELECT count(*) FROM generations WHERE generation_id IS NOT NULL"
        )
        return int(count)
    finally:
        ledger.close()


def _wait_for_rows(url: str, at_least: int) -> None:
    deadline = time.monotonic() + 120
    while _rows(url) < at_least:
        assert time.monotonic() < deadline, "the batch never answered a create"
        time.sleep(0.05)


def _sandbox() -> Sandbox:
    return Sandbox(latency=0.3, time_factor=50.0, credits=1_000_000.0, seed=7)


def test_two_people_one_ledger_kills_lose_nothing(pg_url: str, tmp_path: Path) -> None:
    n = 12
    with _sandbox() as sb:
        envs = {u: _env(sb, pg_url, tmp_path / u, u) for u in ("ana", "bo")}
        first = {u: _start(e, n) for u, e in envs.items()}
        _wait_for_rows(pg_url, 4)  # both mid-batch: kill both
        for proc in first.values():
            proc.send_signal(signal.SIGKILL)
            proc.communicate()  # reaps it and closes its pipes
        killed_at = _server(sb)["totals"]["generation_count"]
        assert 0 < killed_at < 2 * n
        again = {u: _start(e, n) for u, e in envs.items()}
        for proc in again.values():
            _finish(proc)
        server = _server(sb)

        # A third person reads one history with every row and the right totals.
        lead = Ledger(url=pg_url, user="lead", host="lead-laptop")
        team = frames.history(ledger=lead, env="sandbox", scope="team")
        assert len(frames.history(ledger=lead, env="sandbox")) == 0  # the lead bought nothing
        made = server["generations"]
        assert len(made) == server["totals"]["generation_count"] == 2 * n  # each bought their own
        assert Counter(g["prompt"] for g in made) == {f"team {i}": 2 for i in range(n)}
        assert sorted(team["generation_id"]) == sorted(g["id"] for g in made)
        assert set(team["status"]) == {"succeeded"}
        assert team["cost"].sum() == pytest.approx(server["totals"]["credits_charged"])
        by_user = frames.spend("user", frame=team)
        assert dict(zip(by_user["user"], by_user["jobs"], strict=True)) == {"ana": n, "bo": n}
        assert list(frames.spend("notebook", frame=team)["notebook"]) == ["shared.ipynb"]
        assert dict(Counter(team["host"])) == {"ana-laptop": n, "bo-laptop": n}
        lead.close()


def test_a_postgresql_restart_mid_batch_loses_nothing_and_buys_nothing_twice(
    pg: Any, pg_url: str, tmp_path: Path
) -> None:
    n = 12
    with _sandbox() as sb:
        proc = _start(_env(sb, pg_url, tmp_path / "ana", "ana"), n)
        _wait_for_rows(pg_url, 3)
        pg.restart()  # every connection cut mid-batch; the batch waits, then goes on
        assert "unreachable; waiting for it" in _finish(proc)
        server = _server(sb)
        lead = Ledger(url=pg_url, user="lead")
        team = frames.history(ledger=lead, env="sandbox", scope="team")
        assert server["totals"]["generation_count"] == n  # nothing bought twice
        assert sorted(team["generation_id"]) == sorted(g["id"] for g in server["generations"])
        assert set(team["status"]) == {"succeeded"} and len(team) == n
        assert team["cost"].sum() == pytest.approx(server["totals"]["credits_charged"])
        lead.close()

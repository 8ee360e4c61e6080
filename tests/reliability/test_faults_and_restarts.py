"""Nothing lost, nothing bought twice: a batch under injected faults, and a batch whose process
is SIGKILLed again and again. Sizes here fit ``make test``; ``make soak`` runs 300 jobs.

Both end with :func:`scenarios.audit` against the sandbox's own ledger: one generation per job,
none left running, credits charged = sum of succeeded costs, nothing held, and the local ledger
agreeing with the sandbox row for row.
"""

from __future__ import annotations

import time
from pathlib import Path

import httpx
from scenarios import Outcome, audit, run_faults, run_restarts

from aurous_nb.config import env_for
from aurous_nb.sandbox import Sandbox
from aurous_nb.store.ledger import Ledger

FAULT_JOBS = 60  # make soak: 300
RESTART_JOBS = 60
KILLS = 10


def test_grid_under_30_percent_chaos_ends_whole(home: Path) -> None:
    out = run_faults(FAULT_JOBS, seed=1, home=home)
    assert out.problems == []
    assert out.duplicates == 0 and out.lost == 0
    assert sum(out.statuses.values()) == FAULT_JOBS
    # Every fault kind was injected, including drops after the work and delays past the timeout.
    assert all(out.fault_kinds[k] > 0 for k in out.fault_kinds), out.fault_kinds


def test_ten_sigkills_lose_nothing_and_buy_nothing_twice(home: Path) -> None:
    out = run_restarts(RESTART_JOBS, KILLS, seed=5, home=home)
    assert out.problems == []
    assert out.duplicates == 0 and out.lost == 0
    assert out.statuses == {"succeeded": RESTART_JOBS}
    killed = out.extra["generations_when_killed"]
    # The kills landed mid-batch (not all before the first create, not all after the last).
    assert any(0 < k < RESTART_JOBS for k in killed), killed


def test_the_audit_can_fail(home: Path) -> None:
    """A purchase no job owns, a job never created and a missing local row are all caught."""
    with Sandbox(latency=0.05, latency_spread=0.0) as sb:
        headers = {"X-Api-Key": sb.api_key}
        with httpx.Client(base_url=sb.base_url, headers=headers, timeout=10) as api:
            for key in ("k1", "k2"):
                r = api.post("/v1/images", json={"prompt": "dup"}, headers={"Idempotency-Key": key})
                assert r.status_code == 201
        time.sleep(0.2)
        out = Outcome()
        audit(sb, env_for(sb.base_url), ["k1", "never-sent"], Ledger(home / "l.sqlite3"), out)
    assert out.lost == 1
    assert any("no job owns" in p for p in out.problems)
    assert any("never created" in p for p in out.problems)
    assert any("no local row" in p for p in out.problems)

"""A restarted sandbox: the same ``sandbox`` environment, a new world that knows none of the old
ids. Reuse, history, jobs and batches keep working, and nothing is bought twice that the cache
can still show. (The two-kernel notebook run is in ``test_real_kernels.py``.)
"""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from aurous_nb.client import Client
from aurous_nb.notebook import session
from aurous_nb.sandbox import Sandbox
from aurous_nb.store.ledger import Ledger
from aurous_nb.work.batch import Batch
from tests.magic_cells import aurous_shell, run


@pytest.fixture
def ip(home: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.delenv("AUROUS_API_KEY", raising=False)
    monkeypatch.delenv("AUROUS_BASE_URL", raising=False)
    monkeypatch.chdir(home)
    with aurous_shell() as shell:
        yield shell


def _restart(ip) -> session.Session:
    """What a kernel restart does to the in-process sandbox: a new one, on a new port."""
    ip.run_cell("%aurous disconnect")
    assert ip.run_cell("%aurous connect --sandbox --latency 0.1").success
    return session.current()


def _bought(s: session.Session) -> int:
    return httpx.get(f"{s.base_url}/_sandbox/ledger").json()["totals"]["generation_count"]


def test_an_uncached_result_the_new_sandbox_forgot_is_bought_again_and_says_why(ip, capsys):
    ip.run_cell("%config Aurous.auto_download = False")
    ip.run_cell("%config Aurous.show_progress = False")
    first = _restart(ip)
    cell = "%aurous generate a quiet harbour --seed 3"
    result, out = run(ip, capsys, cell)
    assert result.success and "New generation (new request)" in out, out
    old_id = result.result.id
    second = _restart(ip)
    assert second.env == first.env == "sandbox" and second.base_url != first.base_url
    result, out = run(ip, capsys, cell)
    assert result.success, out
    assert "New generation (the earlier one is gone from the server)" in out, out
    assert _bought(second) == 1
    assert second.ledger.find(old_id, "sandbox").status == "lost"
    # Bought once more, the result is reused from now on.
    _, out = run(ip, capsys, cell)
    assert "Reused, 0 credits" in out and _bought(second) == 1


def test_a_job_left_running_in_the_old_sandbox_ends_lost_not_stuck(ip, capsys):
    ip.run_cell("%aurous disconnect")
    ip.run_cell("%aurous connect --sandbox --latency 30")
    result, out = run(ip, capsys, "%aurous generate a slow tide --no-wait")
    assert result.success, out
    old_id = result.result.id
    s = _restart(ip)
    result, out = run(ip, capsys, "%aurous history")
    assert result.success, out
    assert s.ledger.find(old_id, "sandbox").status == "lost"
    _, out = run(ip, capsys, "%aurous jobs")
    assert "No unfinished jobs" in out


def test_a_named_batch_run_again_on_a_new_sandbox_collects_instead_of_buying(home: Path):
    ledger = Ledger()
    counts = []
    for _ in range(2):  # two sandboxes, one after the other: a kernel restart between runs
        with Sandbox(latency=0.05, time_factor=20) as sb:
            client = Client(api_key=sb.api_key, base_url=sb.base_url)
            batch = Batch.grid(["a fox", "a crow"], seeds=[1], name="restart", ledger=ledger,
                               client=client)  # fmt: skip
            jobs = batch.run()
            counts.append((batch.stats.creates, _bought_at(sb)))
            assert all(j.ok for j in jobs)
            assert all(j.files and j.files[0].path.is_file() for j in jobs)
            client.close()
    assert counts == [(2, 2), (0, 0)]


def _bought_at(sb: Sandbox) -> int:
    return httpx.get(f"{sb.base_url}/_sandbox/ledger").json()["totals"]["generation_count"]

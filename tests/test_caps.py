"""Spending caps that span cells (session, daily, notebook), through the magics, Batch, the widgets
and a second process on the same home, against the sandbox over loopback.

The sandbox's own ledger and balance are the witnesses: a refused spend creates nothing and holds
nothing. Every image here costs 1 credit (the 2026-05-15 card), so ``--count 4`` is 4 credits.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from IPython.core.interactiveshell import InteractiveShell

from aurous_nb import BudgetExceededError
from aurous_nb.client import Client
from aurous_nb.notebook import session
from aurous_nb.sandbox import Sandbox
from aurous_nb.store import characters as character_ledger
from aurous_nb.work import caps, jobs
from aurous_nb.work.batch import Batch
from tests.magic_cells import run


@pytest.fixture(autouse=True)
def no_caps() -> Iterator[None]:
    caps.configure(session=None, daily=None, notebook=None)
    caps.new_session()
    yield
    caps.configure(session=None, daily=None, notebook=None)
    caps.new_session()


def witness(base_url: str) -> tuple[int, float, float]:
    """(generations the sandbox created, credits it holds, credits available)."""
    totals = httpx.get(f"{base_url}/_sandbox/ledger").json()["totals"]
    key = {"Authorization": f"Bearer {_KEYS[base_url]}"}
    balance = httpx.get(f"{base_url}/v1/balance", headers=key).json()
    return totals["generation_count"], balance["held_credits"], balance["available_credits"]


_KEYS: dict[str, str] = {}


@pytest.fixture
def sb(home: Path) -> Iterator[Sandbox]:
    with Sandbox(latency=0.05, credits=1000, time_factor=20) as sandbox:
        _KEYS[sandbox.base_url] = sandbox.api_key
        yield sandbox


@pytest.fixture
def client(sb: Sandbox) -> Iterator[Client]:
    with Client(api_key=sb.api_key, base_url=sb.base_url) as c:
        yield c


@pytest.fixture
def ip(home: Path, sb: Sandbox, monkeypatch: pytest.MonkeyPatch) -> Iterator[InteractiveShell]:
    monkeypatch.delenv("AUROUS_API_KEY", raising=False)
    shell = InteractiveShell.instance()
    session.disconnect()
    shell.run_cell("%load_ext aurous_nb", store_history=False)
    shell.run_cell(
        f"from aurous_nb import session as _s\n_s.connect(api_key={sb.api_key!r}, "
        f"base_url={sb.base_url!r})",
        store_history=False,
    )
    yield shell
    for name in ("session_budget", "daily_budget", "notebook_budget"):
        shell.run_cell(f"%config Aurous.{name} = None", store_history=False)
    shell.user_ns.pop("__session__", None)
    from aurous_nb.notebook.magics.extension import unload_ipython_extension

    unload_ipython_extension(shell)
    session.disconnect()


# --------------------------------------------------------------------------- magics


def test_a_session_cap_warns_at_80_percent_once_then_refuses_with_nothing_held(
    ip: InteractiveShell, capsys: pytest.CaptureFixture[str], sb: Sandbox
) -> None:
    run(ip, capsys, "%config Aurous.session_budget = 10")
    result, out = run(ip, capsys, "%aurous generate owl one --count 4 --seed 1")
    assert result.success and "Spending cap" not in out, out
    result, out = run(ip, capsys, "%aurous generate owl two --count 4 --seed 2")
    assert result.success and out.count("Spending cap:") == 1, out
    assert "session budget 8 of 10 (80%)" in out, out
    before = witness(sb.base_url)
    rows = len(session.current().ledger.jobs())

    result, out = run(ip, capsys, "%aurous generate owl three --count 4 --seed 3")
    assert not result.success and isinstance(result.error_in_exec, BudgetExceededError)
    assert "session budget of 10 credits" in out and "8 spent" in out and "nothing was sent" in out
    assert "%config Aurous.session_budget = 12" in out and "Traceback" not in out, out
    assert witness(sb.base_url) == before  # nothing created, nothing held
    assert len(session.current().ledger.jobs()) == rows  # and no ledger row

    _, out = run(ip, capsys, "%aurous budget")
    assert "session budget" in out and "8 of 10 credits" in out and "80%" in out, out
    assert "daily budget" in out and "no cap" in out, out
    run(ip, capsys, "%config Aurous.session_budget = 12")
    result, out = run(ip, capsys, "%aurous generate owl three --count 4 --seed 3")
    assert result.success and "session budget 12 of 12 (100%)" in out, out


def test_reused_results_spend_nothing_and_pass_a_full_cap(
    ip: InteractiveShell, capsys: pytest.CaptureFixture[str], sb: Sandbox
) -> None:
    run(ip, capsys, "%config Aurous.daily_budget = 4")
    assert run(ip, capsys, "%aurous generate a kettle --count 4 --seed 5")[0].success
    result, out = run(ip, capsys, "%aurous generate a kettle --count 4 --seed 5")
    assert result.success and "Reused, 0 credits" in out, out
    assert witness(sb.base_url)[0] == 1


def test_the_notebook_cap_counts_only_that_notebook(
    ip: InteractiveShell, capsys: pytest.CaptureFixture[str], sb: Sandbox
) -> None:
    assert run(ip, capsys, "%aurous generate elsewhere --count 4 --seed 1")[0].success
    ip.user_ns["__session__"] = "study.ipynb"
    run(ip, capsys, "%config Aurous.notebook_budget = 6")
    assert run(ip, capsys, "%aurous generate here --count 4 --seed 1")[0].success
    result, out = run(ip, capsys, "%aurous generate here --count 4 --seed 2")
    assert not result.success and "notebook budget of 6 credits" in out, out
    _, out = run(ip, capsys, "%aurous budget")
    assert "study.ipynb" in out and "4 of 6 credits" in out, out
    assert witness(sb.base_url)[0] == 2


def test_a_nan_cap_is_refused_and_the_old_one_kept(
    ip: InteractiveShell, capsys: pytest.CaptureFixture[str]
) -> None:
    run(ip, capsys, "%config Aurous.daily_budget = 5")
    run(ip, capsys, "%config Aurous.daily_budget = float('nan')")
    assert caps.limits().daily == 5
    with pytest.raises(ValueError, match="daily_budget"):
        caps.configure(daily=float("inf"))


# --------------------------------------------------------------------------- code and Batch


def test_code_gets_the_typed_error_and_a_batch_counts_toward_the_caps(
    client: Client, sb: Sandbox, capsys: pytest.CaptureFixture[str]
) -> None:
    caps.configure(daily=10)
    batch = Batch([{"prompt": f"tile {i}", "count": 2} for i in range(4)], client=client)
    batch.run()
    out = capsys.readouterr().out
    assert out.count("Spending cap:") == 1 and "daily budget 8 of 10 (80%)" in out, out
    before = witness(sb.base_url)
    with pytest.raises(BudgetExceededError) as info:
        jobs.generate(client, None, "image", {"prompt": "one more", "count": 4})
    assert info.value.spent == 8 and info.value.limit == 10 and info.value.needed == 4
    assert "aurous_nb.caps.configure(daily=12)" in str(info.value)
    assert witness(sb.base_url) == before


def test_a_batch_past_a_cap_is_refused_before_its_first_create(client: Client, sb: Sandbox) -> None:
    caps.configure(session=5)
    batch = Batch([{"prompt": f"tile {i}", "count": 2} for i in range(3)], client=client)
    before = witness(sb.base_url)
    with pytest.raises(BudgetExceededError, match="session budget of 5 credits"):
        batch.run()
    assert witness(sb.base_url) == before
    assert all(j.status == "queued" for j in batch.jobs)


def test_two_processes_on_one_home_share_a_daily_cap(
    home: Path, client: Client, sb: Sandbox
) -> None:
    caps.configure(daily=10)
    jobs.generate(client, None, "image", {"prompt": "parent", "count": 4})
    child = textwrap.dedent(
        f"""
        from aurous_nb import BudgetExceededError
        from aurous_nb.work import caps
        from aurous_nb.work import jobs
        from aurous_nb.client import Client

        caps.configure(daily=10)
        with Client(api_key={sb.api_key!r}, base_url={sb.base_url!r}) as c:
            jobs.generate(c, None, "image", {{"prompt": "child", "count": 4}})
            try:
                jobs.generate(c, None, "image", {{"prompt": "child again", "count": 4}})
            except BudgetExceededError as exc:
                print("REFUSED", exc.spent, exc.needed)
        """
    )
    env = {**os.environ, "AUROUS_NB_HOME": str(home)}
    proc = subprocess.run(
        [sys.executable, "-c", child], capture_output=True, text=True, timeout=120, env=env
    )
    assert "REFUSED 8.0 4.0" in proc.stdout, proc.stdout + proc.stderr
    assert "daily budget 8 of 10 (80%)" in proc.stdout, proc.stdout
    with pytest.raises(BudgetExceededError, match="8 spent today"):
        jobs.generate(client, None, "image", {"prompt": "parent again", "count": 4})
    assert witness(sb.base_url)[0] == 2


# --------------------------------------------------------------------------- widgets


async def test_the_panel_and_the_grid_obey_the_caps(home: Path) -> None:
    from aurous_nb.notebook.widgets import GenerationPanel, PromptGrid
    from tests.widgets.conftest import make_session

    for s in make_session(home):
        caps.configure(session=5)
        panel = await GenerationPanel(s, prompt="a red bicycle", count=4, seed=1).ready()
        await panel.generate()
        record = await panel.wait()
        assert record.charged == 4
        before = witness_session(s)
        panel.seed.value = "2"
        await panel.ready()  # priced again: Generate says why it is disabled
        assert "session budget of 5 credits" in (panel.blocked_reason() or "")
        assert panel.generate_button.disabled and "session_budget" in panel.generate_button.tooltip
        with pytest.raises(BudgetExceededError):
            await panel.generate()
        assert "session budget" in (panel.errors.value + str(panel.error or "")), panel.errors.value
        assert witness_session(s) == before

        grid = await PromptGrid(["a", "b"], seeds=[1], session=s).ready()
        assert "session budget of 5 credits" in (grid.blocked_reason() or "")
        assert grid.run_button.disabled  # before: enabled, the run refused once it started
        with pytest.raises(BudgetExceededError, match="session budget"):
            await grid.run()
        assert witness_session(s) == before
        if s._aclient is not None:
            await s._aclient.close()


def witness_session(s: Any) -> tuple[int, float, float]:
    _KEYS[s.base_url] = s.sandbox.api_key
    return witness(s.base_url)


async def test_the_dashboard_shows_the_caps_as_bars(home: Path) -> None:
    from aurous_nb.notebook.widgets import CostDashboard
    from tests.widgets.conftest import make_session

    for s in make_session(home):
        caps.configure(daily=10)
        jobs.generate(s.client, s.ledger, "image", {"prompt": "x", "count": 3})
        dash = await CostDashboard(s).wait()
        assert dash.error is None, dash.error
        html = dash.caps.value
        assert "daily budget" in html and "3 of 10 credits" in html and "width:30%" in html
        assert "Spending caps" in dash.static_html()


def test_a_session_cap_set_late_counts_what_the_kernel_already_spent(
    client: Client, sb: Sandbox
) -> None:
    jobs.generate(client, None, "image", {"prompt": "before any cap", "count": 3})
    caps.configure(session=4)
    before = witness(sb.base_url)
    with pytest.raises(BudgetExceededError, match="3 spent in this kernel session"):
        jobs.generate(client, None, "image", {"prompt": "after", "count": 2})
    assert witness(sb.base_url) == before


def test_characters_count_toward_the_caps_and_are_refused_past_one(
    ip: InteractiveShell, capsys: pytest.CaptureFixture[str], sb: Sandbox
) -> None:
    """A synthesis is 4 generations' worth: it must spend from the same caps as images do, and
    be refused (nothing held, no row) once a cap would pass."""
    synth = "%aurous character synth {name} --gender female --age 30 --hair-color {hair} --save"
    run(ip, capsys, "%config Aurous.session_budget = 6")
    result, out = run(ip, capsys, synth.format(name="Ada", hair="red"))
    assert result.success, out
    _, out = run(ip, capsys, "%aurous budget")
    assert "4 of 6 credits" in out, out
    result, out = run(ip, capsys, "%aurous generate owl one --count 2 --seed 1")
    assert result.success and "session budget 6 of 6 (100%)" in out, out
    before = witness(sb.base_url)
    chars = len(httpx.get(f"{sb.base_url}/_sandbox/ledger").json()["characters"])
    result, out = run(ip, capsys, synth.format(name="Bea", hair="black"))
    assert not result.success and isinstance(result.error_in_exec, BudgetExceededError), out
    assert "session budget of 6 credits" in out and "nothing was sent" in out, out
    assert witness(sb.base_url) == before
    assert len(httpx.get(f"{sb.base_url}/_sandbox/ledger").json()["characters"]) == chars
    rows = character_ledger.jobs(session.current().ledger)
    assert [j.name for j in rows if j.action == "synthesize"] == ["Ada"]


async def test_the_panel_says_the_80_percent_line_in_its_status_not_on_stdout(
    home: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A click's print lands in no cell (JupyterLab sends it to the log console): the panel must
    say it where the person is looking."""
    from aurous_nb.notebook.widgets import GenerationPanel
    from tests.widgets.conftest import make_session

    for s in make_session(home):
        caps.configure(session=5)
        panel = await GenerationPanel(s, prompt="a red bicycle", count=4, seed=1).ready()
        capsys.readouterr()
        await panel.generate()
        await panel.wait()
        assert "Spending cap: session budget 4 of 5 (80%)" in panel.status.value
        assert "Spending cap" not in capsys.readouterr().out
        if s._aclient is not None:
            await s._aclient.close()

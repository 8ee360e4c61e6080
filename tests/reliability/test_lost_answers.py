"""Nothing bought twice when a create's answer is lost after the server did the work (issue 13,
items 1-3).

The fault proxy (``proxy.py``) relays each create to the sandbox and then loses the answer:
drops the connection, answers 503, or holds it while Stop is pressed. The user then does what
the advice says (runs the cell again, clicks Generate again, retries the batch, resumes), and
the sandbox's own ledger is the witness: one generation, one charge, per request.
"""

from __future__ import annotations

import asyncio
import signal
import threading

import pytest
from proxy import Lossy

from aurous_nb.client import APIConnectionError, ServerError
from aurous_nb.work.batch import Batch
from aurous_nb.work.reuse import UNKNOWN_TEXT
from aurous_nb.work.spec import image

CELL = "%aurous generate a lighthouse in fog --seed 1"


def unanswered(lossy: Lossy) -> list[object]:
    s = lossy.session
    return [r for r in s.ledger.jobs(s.env) if not r.answered]


# -- item 1: a lost answer, then the cell run again -----------------------------------------------


@pytest.mark.parametrize("fault", ["drop", "503"])
def test_a_lost_answer_then_the_cell_run_again_and_resume_buy_once(
    shell, lossy: Lossy, capsys, fault: str
) -> None:
    lossy.proxy.arm(fault, "POST", "/v1/images")
    first = shell.run_cell(CELL)
    assert not first.success
    expected = APIConnectionError if fault == "drop" else ServerError
    assert isinstance(first.error_in_exec, expected)
    assert lossy.totals()[0] == 1, "the server did the work; only the answer was lost"
    if fault == "drop":
        assert first.error_in_exec.delivered
    [row] = unanswered(lossy)
    assert row.status == "submitting"

    lossy.proxy.disarm()
    capsys.readouterr()
    again = shell.run_cell(CELL)
    out = capsys.readouterr().out
    assert again.success, out
    assert again.result.id == lossy.session.ledger.job(row.key).generation_id
    assert "same idempotency key" in out
    shell.run_cell("%aurous jobs --resume")
    shell.run_cell(CELL)  # and once more: reused now, 0 credits

    assert lossy.totals() == (1, 1.0)  # before the fix: (2, 2.0)
    assert unanswered(lossy) == []


def test_the_advice_after_a_lost_answer_is_true(shell, lossy: Lossy, capsys) -> None:
    lossy.proxy.arm("drop", "POST", "/v1/images")
    capsys.readouterr()
    shell.run_cell(CELL)
    shown = capsys.readouterr()
    text = shown.out + shown.err
    assert "run the cell again" in text.lower() and "own idempotency key" in text
    lossy.proxy.disarm()
    shell.run_cell(CELL)
    assert lossy.totals() == (1, 1.0)


def test_a_refused_connection_says_nothing_was_sent(shell, lossy: Lossy, capsys) -> None:
    url = lossy.proxy.url
    lossy.proxy.stop()  # the port now refuses connections: nothing can reach the server
    capsys.readouterr()
    first = shell.run_cell(CELL)
    shown = capsys.readouterr()
    assert isinstance(first.error_in_exec, APIConnectionError)
    assert not first.error_in_exec.delivered and url in str(first.error_in_exec)
    assert "nothing was sent" in shown.out + shown.err
    assert lossy.totals() == (0, 0.0)


def test_the_jobs_view_says_the_server_may_have_it(shell, lossy: Lossy) -> None:
    lossy.proxy.arm("drop", "POST", "/v1/images")
    shell.run_cell(CELL)
    table = shell.run_cell("%aurous jobs").result
    assert list(table["status"]) == [UNKNOWN_TEXT]
    lossy.proxy.disarm()
    shell.run_cell("%aurous jobs --resume")
    assert lossy.totals() == (1, 1.0)


# -- item 1, the widget: a lost answer, then Generate clicked again ------------------------------


async def test_the_panel_resends_an_unanswered_create_with_its_own_key(lossy: Lossy) -> None:
    from aurous_nb.notebook.widgets import GenerationPanel

    panel = await GenerationPanel(lossy.session, prompt="a fox in snow", seed=3).ready()
    lossy.proxy.arm("drop", "POST", "/v1/images")
    with pytest.raises(APIConnectionError):
        await panel.generate()
    assert UNKNOWN_TEXT in panel.status.value
    assert lossy.totals()[0] == 1
    [row] = unanswered(lossy)

    lossy.proxy.disarm()
    await panel.generate()
    record = panel.record
    assert record.key == row.key and record.status == "succeeded"
    assert lossy.totals() == (1, 1.0)  # before the fix: (2, 2.0)
    # A click after an answered one is a new purchase, as before: one job per click.
    await panel.generate()
    assert lossy.totals() == (2, 2.0)
    await asyncio.sleep(0)


# -- item 2: Stop pressed while the create is in flight, then the cell run again -----------------


def test_stop_during_the_create_then_the_cell_run_again_buys_once(shell, lossy: Lossy) -> None:
    main = threading.main_thread().ident
    assert main is not None and threading.get_ident() == main

    def press_stop() -> None:
        signal.pthread_kill(main, signal.SIGINT)

    lossy.proxy.arm("delay", "POST", "/v1/images", times=1, seconds=3.0, after_relay=press_stop)
    first = shell.run_cell(CELL)
    assert isinstance(first.error_in_exec, KeyboardInterrupt)
    assert lossy.totals()[0] == 1
    [row] = unanswered(lossy)

    again = shell.run_cell(CELL)
    assert again.success
    assert again.result.id == lossy.session.ledger.job(row.key).generation_id
    shell.run_cell("%aurous jobs --resume")
    assert lossy.totals() == (1, 1.0)  # before the fix: (2, 2.0)


# -- item 3: a batch that gives up on lost answers, then retry_failed() ---------------------------


def test_a_batch_that_gives_up_leaves_jobs_unknown_and_retry_resends_their_keys(
    lossy: Lossy,
) -> None:
    s = lossy.session
    specs = [image("a red kite", seed=1), image("a blue kite", seed=2)]
    lossy.proxy.arm("drop", "POST", "/v1/images")
    batch = Batch(specs, client=s.client, ledger=s.ledger, name="kites", give_up_after=1)
    jobs = batch.run()
    assert lossy.totals()[0] == 2, "both creates were done; their answers were lost"
    assert [j.status for j in jobs] == ["unknown", "unknown"]
    progress = batch.progress()
    assert progress.unknown == 2 and progress.failed == 0 and progress.finished
    assert "2 unknown" in str(progress)
    assert batch.failed() == []
    keys = [j.key for j in jobs]

    lossy.proxy.disarm()
    assert batch.retry_failed() == 2
    jobs = batch.run()
    assert [j.status for j in jobs] == ["succeeded", "succeeded"]
    assert [j.key for j in jobs] == keys, "re-sent with their own keys, not new -r1 keys"
    assert lossy.totals() == (2, 2.0)  # before the fix: (4, 4.0)
    assert sorted(r.key for r in s.ledger.jobs(s.env)) == sorted(keys)


def test_a_new_run_of_a_batch_that_gave_up_resends_with_the_same_keys(lossy: Lossy) -> None:
    s = lossy.session
    specs = [image("a green kite", seed=4)]
    lossy.proxy.arm("503", "POST", "/v1/images")
    [job] = Batch(specs, client=s.client, ledger=s.ledger, name="k2", give_up_after=1).run()
    assert job.status == "unknown" and UNKNOWN_TEXT in (job.error or "")
    lossy.proxy.disarm()
    [again] = Batch(specs, client=s.client, ledger=s.ledger, name="k2").run()
    assert again.key == job.key and again.status == "succeeded"
    assert lossy.totals() == (1, 1.0)


async def test_the_grid_shows_unknown_cells_and_retry_resends_their_keys(lossy: Lossy) -> None:
    from aurous_nb.notebook.widgets import PromptGrid

    grid = await PromptGrid(["a kite over a cliff"], seeds=[5], session=lossy.session).ready()
    grid.batch.give_up_after = 1
    lossy.proxy.arm("drop", "POST", "/v1/images")
    await grid.run()
    [job] = grid.batch.jobs
    assert job.status == "unknown" and lossy.totals()[0] == 1
    assert UNKNOWN_TEXT in grid.progress_text.value
    assert UNKNOWN_TEXT in grid.static_html()
    assert not grid.retry_button.disabled

    lossy.proxy.disarm()
    running = grid.retry_failed()
    assert running is not None
    await running
    assert job.status == "succeeded" and job.attempt == 0
    assert lossy.totals() == (1, 1.0)


async def test_the_dashboard_names_an_unanswered_create_unknown(shell, lossy: Lossy) -> None:
    from aurous_nb.notebook.widgets import CostDashboard

    lossy.proxy.arm("drop", "POST", "/v1/images")
    shell.run_cell(CELL)
    lossy.proxy.disarm()
    dash = CostDashboard(lossy.session)
    await dash.refresh()
    assert UNKNOWN_TEXT in dash.tables.value and "submitting" not in dash.tables.value


# -- the soak's scenarios, small ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("scenario", "n"),
    [("run_lost_answers", 3), ("run_give_ups", 8), ("run_webhook_downloads", 6)],
)
def test_soak_scenarios_hold_at_small_size(home, scenario: str, n: int) -> None:
    import scenarios

    out = getattr(scenarios, scenario)(n, seed=13, home=home)
    assert out.problems == []
    assert out.duplicates == 0 and out.lost == 0 and out.faults > 0

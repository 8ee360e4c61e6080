"""Write-before-send, resume after a kill, and exactly-once creates, against the real sandbox."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import httpx
import pytest

import aurous_nb
from aurous_nb.client import AsyncClient, Client, InvalidRequestError, ValidationError
from aurous_nb.sandbox import Sandbox
from aurous_nb.store.ledger import Ledger
from aurous_nb.work import jobs


def sandbox_ledger(sb: Sandbox) -> dict[str, Any]:
    return httpx.get(f"{sb.base_url}/_sandbox/ledger").json()  # type: ignore[no-any-return]


def with_key(sb: Sandbox, key: str | None) -> list[dict[str, Any]]:
    return [g for g in sandbox_ledger(sb)["generations"] if g["idempotency_key"] == key]


def test_row_is_written_before_the_create_is_sent(home: Path, fresh_sandbox: Sandbox) -> None:
    ledger = Ledger()
    seen: list[tuple[str, str]] = []

    def check(request: httpx.Request) -> None:
        if request.method == "POST" and request.url.path == "/v1/images":
            key = request.headers["Idempotency-Key"]
            row = ledger.job(key)
            assert row is not None, "the ledger row must exist before the create is sent"
            seen.append((key, row.status))

    http = httpx.Client(event_hooks={"request": [check]})
    client = Client(
        api_key=fresh_sandbox.api_key, base_url=fresh_sandbox.base_url, http_client=http
    )
    record = jobs.submit(client, ledger, "image", {"prompt": "a fox", "count": 2}, cell="c1")
    assert seen == [(record.key, "submitting")]
    assert record.status == "pending" and record.generation_id and record.cell == "c1"
    assert record.env == "sandbox"
    http.close()


KILLER = textwrap.dedent(
    """
    import os, signal, sys
    import httpx
    from aurous_nb.work import jobs
    from aurous_nb.client import Client
    from aurous_nb.store.ledger import Ledger

    moment = sys.argv[3]  # "request": dies before sending; "response": after the server answered

    def die(event):
        if event.request.method == "POST" if moment == "response" else event.method == "POST":
            os.kill(os.getpid(), signal.SIGKILL)

    http = httpx.Client(event_hooks={moment: [die]})
    client = Client(api_key=sys.argv[2], base_url=sys.argv[1], http_client=http, max_retries=0)
    jobs.submit(client, Ledger(), "image", {"prompt": "killed mid-flight", "seed": 5})
    print("not killed")
    """
)


@pytest.mark.parametrize("moment", ["response", "request"])
def test_kill_between_sent_and_answered_then_resume_creates_once(
    home: Path, fresh_sandbox: Sandbox, moment: str
) -> None:
    proc = subprocess.run(
        [sys.executable, "-c", KILLER, fresh_sandbox.base_url, fresh_sandbox.api_key, moment],
        env={**os.environ, "AUROUS_NB_HOME": str(home)},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == -9, proc.stderr
    ledger = Ledger()
    [row] = jobs.pending(ledger=ledger)
    assert row.status == "submitting" and not row.answered
    # "response": the server created it and answered into the void; "request": it never arrived.
    assert len(with_key(fresh_sandbox, row.key)) == (1 if moment == "response" else 0)

    client = Client(api_key=fresh_sandbox.api_key, base_url=fresh_sandbox.base_url)
    [done] = jobs.resume(client, ledger)
    assert done.key == row.key and done.status == "succeeded" and done.charged == 1.0
    created = with_key(fresh_sandbox, row.key)
    assert len(created) == 1 and created[0]["id"] == done.generation_id
    assert sandbox_ledger(fresh_sandbox)["totals"]["generation_count"] == 1
    assert [f.index for f in ledger.outputs(done.generation_id or "")] == [0]
    # A second resume has nothing left to do and buys nothing.
    assert jobs.resume(client, ledger) == []
    assert sandbox_ledger(fresh_sandbox)["totals"]["credits_charged"] == 1
    client.close()


def test_refused_create_is_rejected_not_pending(home: Path, fresh_sandbox: Sandbox) -> None:
    ledger = Ledger()
    client = Client(api_key=fresh_sandbox.api_key, base_url=fresh_sandbox.base_url)
    with pytest.raises(ValidationError, match="width"):
        jobs.submit(client, ledger, "image", {"prompt": "x", "size": "2k_1_1", "width": 1024})
    assert ledger.jobs() == [], "a request that fails local checks leaves no ledger row"
    poor = Sandbox(latency=0.1, credits=0.5).start()
    try:
        broke = Client(api_key=poor.api_key, base_url=poor.base_url)
        with pytest.raises(InvalidRequestError) as info:
            jobs.submit(broke, ledger, "image", {"prompt": "too expensive"})
        assert info.value.code == "balance_too_low"
        [row] = ledger.jobs("sandbox")
        assert row.status == "rejected" and row.error_code == "balance_too_low"
        assert row.charged == 0.0
        assert jobs.pending(ledger=ledger) == []
        broke.close()
    finally:
        poor.stop()
    client.close()


def test_unanswered_row_past_the_idempotency_window_is_lost_not_resent(
    home: Path, fresh_sandbox: Sandbox
) -> None:
    ledger = Ledger()
    client = Client(api_key=fresh_sandbox.api_key, base_url=fresh_sandbox.base_url)
    row = jobs.prepare(client, ledger, "image", {"prompt": "ancient"})
    ledger._connection().execute(
        "UPDATE generations SET submitted_at = submitted_at - 86400 WHERE idempotency_key = ?",
        (row.key,),
    )
    [lost] = jobs.resume(client, ledger)
    assert lost.status == "lost" and lost.error_code == "idempotency_window_passed"
    assert sandbox_ledger(fresh_sandbox)["totals"]["generation_count"] == 0
    client.close()


def test_top_level_jobs_lists_pending(home: Path, fresh_sandbox: Sandbox) -> None:
    client = Client(api_key=fresh_sandbox.api_key, base_url=fresh_sandbox.base_url)
    record = jobs.submit(client, None, "video", {"video_lora_id": "seedance-1-lite", "duration": 2})
    listed = aurous_nb.jobs()
    assert [r.key for r in listed] == [record.key]
    assert record.generation_id and record.generation_id in listed._repr_html_()
    assert [r.key for r in aurous_nb.work.jobs(client=client)] == [record.key]
    assert aurous_nb.work.jobs("api.aurous-labs.com") == []
    [done] = aurous_nb.work.jobs.resume(client)
    assert done.status == "succeeded" and done.media_type == "video"
    assert aurous_nb.jobs() == []
    client.close()


async def test_async_submit_and_resume(home: Path, fresh_sandbox: Sandbox) -> None:
    ledger = Ledger()
    async with AsyncClient(
        api_key=fresh_sandbox.api_key, base_url=fresh_sandbox.base_url
    ) as client:
        first = await jobs.asubmit(client, ledger, "image", {"prompt": "async fox", "count": 2})
        prepared = jobs.prepare(client, ledger, "image", {"prompt": "prepared, never sent"})
        records = await jobs.aresume(client, ledger)
    assert {r.key for r in records} == {first.key, prepared.key}
    assert all(r.status == "succeeded" for r in records)
    assert sorted(len(ledger.outputs(r.generation_id or "")) for r in records) == [1, 2]
    assert sandbox_ledger(fresh_sandbox)["totals"]["generation_count"] == 2


def test_many_active_jobs_are_polled_through_list_pages(home: Path) -> None:
    calls: list[str] = []

    def count(request: httpx.Request) -> None:
        calls.append(f"{request.method} {request.url.path}")

    with Sandbox(latency=0.4, credits=1000, time_factor=20) as sb:
        http = httpx.Client(event_hooks={"request": [count]})
        client = Client(api_key=sb.api_key, base_url=sb.base_url, http_client=http)
        ledger = Ledger()
        for n in range(8):
            jobs.submit(client, ledger, "image", {"prompt": f"bulk {n}"})
        calls.clear()
        done = jobs.resume(client, ledger, download=False)
        http.close()
    assert [r.status for r in done] == ["succeeded"] * 8
    singles = [c for c in calls if c.startswith("GET /v1/images/")]
    lists = [c for c in calls if c == "GET /v1/images"]
    assert singles == [] and 1 <= len(lists) <= 6, calls


def test_heavy_libraries_are_not_imported(tmp_path: Path) -> None:
    code = (
        "import sys, aurous_nb, aurous_nb.ledger, aurous_nb.jobs, aurous_nb.outputs, "
        "aurous_nb.frames, aurous_nb.reports, aurous_nb.display, aurous_nb.snapshots, "
        "aurous_nb.store.payloads\n"
        "assert aurous_nb.jobs() == []\n"
        "heavy = [m for m in ('pandas', 'matplotlib', 'PIL', 'ipywidgets', 'numpy') "
        "if m in sys.modules]\n"
        "print(heavy)"
    )
    out = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "AUROUS_NB_HOME": str(tmp_path)},
    )
    assert out.stdout.strip() == "[]", out.stderr


def test_cancel_in_every_state(home: Path) -> None:
    with (
        Sandbox(latency=5.0, credits=100, time_factor=20) as sb,
        Client(api_key=sb.api_key, base_url=sb.base_url) as client,
    ):
        ledger = Ledger()
        answered = jobs.submit(client, ledger, "image", {"prompt": "answered", "count": 2})
        assert answered.held == 2
        done = jobs.cancel(client, ledger, answered)
        assert done.status == "cancelled" and done.charged == 0
        never = jobs.prepare(client, ledger, "image", {"prompt": "never sent"})
        assert jobs.cancel(client, ledger, never, sent=False).status == "cancelled"
        # Sent but never answered (the answer was lost): replayed, then cancelled.
        lost = jobs.prepare(client, ledger, "image", {"prompt": "in flight"})
        client.images.create("in flight", idempotency_key=lost.key)
        gone = jobs.cancel(client, ledger, lost)
        assert gone.status == "cancelled" and gone.generation_id
        assert jobs.cancel(client, ledger, gone) == gone  # terminal: nothing to do
        server = sandbox_ledger(sb)
        assert server["totals"]["generation_count"] == 2
        assert server["totals"]["credits_charged"] == 0 and server["totals"]["held_credits"] == 0
        assert with_key(sb, never.key) == [] and len(with_key(sb, lost.key)) == 1
        assert jobs.pending(ledger=ledger) == []


async def test_async_cancel_in_every_state(home: Path) -> None:
    with Sandbox(latency=5.0, credits=100, time_factor=20) as sb:
        async with AsyncClient(api_key=sb.api_key, base_url=sb.base_url) as client:
            ledger = Ledger()
            answered = await jobs.asubmit(client, ledger, "image", {"prompt": "answered"})
            done = await jobs.acancel(client, ledger, answered)
            assert done.status == "cancelled" and done.charged == 0
            never = jobs.prepare(client, ledger, "image", {"prompt": "never sent"})
            assert (await jobs.acancel(client, ledger, never, sent=False)).status == "cancelled"
            lost = jobs.prepare(client, ledger, "image", {"prompt": "in flight"})
            await client.images.create("in flight", idempotency_key=lost.key)
            gone = await jobs.acancel(client, ledger, lost)
            assert gone.status == "cancelled" and gone.generation_id
            assert await jobs.acancel(client, ledger, gone) == gone
        server = sandbox_ledger(sb)
        assert server["totals"]["generation_count"] == 2
        assert server["totals"]["credits_charged"] == 0 and server["totals"]["held_credits"] == 0
        assert with_key(sb, never.key) == [] and len(with_key(sb, lost.key)) == 1
        assert jobs.pending(ledger=ledger) == []


def test_a_job_the_server_forgot_is_lost_not_polled_forever(home: Path) -> None:
    ledger = Ledger()
    with (
        Sandbox(latency=30.0, credits=10) as first,
        Client(api_key=first.api_key, base_url=first.base_url) as client,
    ):
        record = jobs.submit(client, ledger, "image", {"prompt": "interrupted"})
    with (
        Sandbox(latency=0.1, credits=10) as second,
        Client(api_key=second.api_key, base_url=second.base_url) as client,
    ):
        # As if `second` were `first` restarted on the same port: same label, a fresh world.
        ledger._connection().execute(
            "UPDATE generations SET env = ? WHERE idempotency_key = ?",
            (jobs.client_env(client), record.key),
        )
        [lost] = jobs.resume(client, ledger)
    assert lost.status == "lost" and lost.error_code == "not_found_on_server"
    assert jobs.pending(ledger=ledger) == []


async def test_generate_is_the_ledger_aware_one_call(home: Path, fresh_sandbox: Sandbox) -> None:
    """``jobs.generate``: the row before the create, then wait, then the outputs in the cache;
    ``agenerate`` is the same flow on an AsyncClient; a failed end raises with the generation."""
    from aurous_nb.client import GenerationFailedError
    from aurous_nb.store import outputs

    ledger = Ledger()
    seen: list[str] = []

    def check(request: httpx.Request) -> None:
        if request.method == "POST" and request.url.path == "/v1/images":
            row = ledger.job(request.headers["Idempotency-Key"])
            seen.append(row.status if row is not None else "no row")

    sb = fresh_sandbox
    with Client(api_key=sb.api_key, base_url=sb.base_url,
                http_client=httpx.Client(event_hooks={"request": [check]})) as client:  # fmt: skip
        record = jobs.generate(client, ledger, "image", {"prompt": "a fox", "count": 2})
        assert seen == ["submitting"] and record.status == "succeeded"
        assert len(outputs.cached_outputs(ledger, record.generation_id, record.env)) == 2
        with pytest.raises(GenerationFailedError) as info:
            jobs.generate(client, ledger, "image", {"prompt": "a forbidden fox"})
        assert info.value.generation.status == "moderation_rejected"
    async with AsyncClient(api_key=sb.api_key, base_url=sb.base_url) as aclient:
        later = await jobs.agenerate(aclient, ledger, "image", {"prompt": "an owl"}, cell="c9")
    assert later.status == "succeeded" and later.cell == "c9"
    assert len(outputs.cached_outputs(ledger, later.generation_id, later.env)) == 1
    assert sandbox_ledger(sb)["totals"]["generation_count"] == 3


def test_pending_jobs_show_a_missing_cost_as_the_one_placeholder(home: Path) -> None:
    from IPython.core.interactiveshell import InteractiveShell

    from aurous_nb.text import UNKNOWN

    ledger = Ledger()
    ledger.prepare("sandbox", "image", {"prompt": "never sent"})
    data, _ = InteractiveShell.instance().display_formatter.format(
        aurous_nb.work.jobs(ledger=ledger)
    )
    row = data["text/html"].split("never sent", 1)[1]
    assert f"<td style='text-align:left'>{UNKNOWN}</td>" in row.split("</tr>")[0]

"""The batch engine against the real sandbox over loopback: pricing, pacing, polling, resume,
cancel, mixed media. Requests are counted with an httpx event hook on the client."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import textwrap
from collections import Counter
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest

from aurous_nb.client import AsyncClient, ValidationError
from aurous_nb.sandbox import Sandbox
from aurous_nb.store.ledger import Ledger
from aurous_nb.work.batch import Batch, BudgetExceededError, Job, Progress
from aurous_nb.work.spec import grid, image, video

VIDEO_LORA = "seedance-1-lite"


@pytest.fixture
def home(home: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The shared private home (tests/conftest.py), with auto-download off."""
    monkeypatch.setenv("AUROUS_NB_AUTO_DOWNLOAD", "0")
    return home


@pytest.fixture
def sandboxes() -> Iterator[Callable[..., Sandbox]]:
    started: list[Sandbox] = []

    def make(**options: Any) -> Sandbox:
        options = {"latency": 0.2, "credits": 10_000, "time_factor": 50, "seed": 3, **options}
        sb = Sandbox(**options).start()
        started.append(sb)
        return sb

    yield make
    for sb in started:
        sb.stop()


class Counted:
    """Every HTTP response the client got, by (method, path shape), plus 429s."""

    def __init__(self) -> None:
        self.by_route: Counter[tuple[str, str]] = Counter()
        self.http_429 = 0

    async def hook(self, response: httpx.Response) -> None:
        parts = response.request.url.path.strip("/").split("/")
        shape = "/".join(
            p if i < 2 or p in ("cancel", "estimate") else "{id}" for i, p in enumerate(parts)
        )
        self.by_route[(response.request.method, shape)] += 1
        if response.status_code == 429:
            self.http_429 += 1

    @property
    def total(self) -> int:
        return sum(self.by_route.values())


@asynccontextmanager
async def counted_client(sb: Sandbox) -> AsyncIterator[tuple[AsyncClient, Counted]]:
    counted = Counted()
    http = httpx.AsyncClient(event_hooks={"response": [counted.hook]})
    async with AsyncClient(api_key=sb.api_key, base_url=sb.base_url, http_client=http) as client:
        yield client, counted
    await http.aclose()


def server_ledger(sb: Sandbox) -> dict[str, Any]:
    return httpx.get(f"{sb.base_url}/_sandbox/ledger").json()  # type: ignore[no-any-return]


def assert_no_duplicates(sb: Sandbox) -> list[dict[str, Any]]:
    gens = server_ledger(sb)["generations"]
    keys = [g["idempotency_key"] for g in gens]
    assert len(keys) == len(set(keys)), "a key bought twice"
    return gens  # type: ignore[no-any-return]


# -- pricing and refusal ------------------------------------------------------------------------


async def test_refuses_past_budget_saying_by_how_much(home: Path, sandboxes: Any) -> None:
    sb = sandboxes()
    async with counted_client(sb) as (client, counted):
        batch = Batch(grid(["a", "b"], seeds=[1, 2, 3], counts=[1, 2]), client=client, budget=10)
        q = await batch.price()
        assert q.total == 18 and q.estimate_calls == 0  # images: the card is exact
        with pytest.raises(BudgetExceededError) as info:
            await batch.run_async()
        assert info.value.over == 8 and "8 more than the budget (10)" in str(info.value)
    assert server_ledger(sb)["totals"]["generation_count"] == 0
    assert counted.by_route[("POST", "v1/images")] == 0


async def test_refuses_past_available_credits(home: Path, sandboxes: Any) -> None:
    sb = sandboxes(credits=5)
    async with counted_client(sb) as (client, _):
        batch = Batch([image("x", enhance_prompt=True, count=2)] * 2, client=client)
        with pytest.raises(BudgetExceededError) as info:
            await batch.run_async()
    assert info.value.what == "available balance" and info.value.needed == 8
    assert info.value.over == 3 and "nothing was sent" in str(info.value)
    assert server_ledger(sb)["totals"]["generation_count"] == 0


async def test_prices_with_one_estimate_per_shape(home: Path, sandboxes: Any) -> None:
    sb = sandboxes()
    specs = [
        *grid(["p1", "p2", "p3"], loras=["golden-hour", "neon-noir"], counts=[1, 3]),
        video(VIDEO_LORA, prompt="waves", resolution="480p", duration=4),  # card: 2
        *[video(VIDEO_LORA, prompt=f"clip {i}") for i in range(5)],  # LoRA's default resolution
        *[
            video(VIDEO_LORA, prompt=f"e {i}", resolution="720p", enhance_prompt=True)
            for i in range(3)
        ],
    ]
    async with counted_client(sb) as (client, counted):
        q = await Batch(specs, client=client).price()
    assert q.estimate_calls == 2 and counted.by_route[("POST", "v1/videos/estimate")] == 2
    assert q.total == 3 * 2 * (1 + 3) + 2 + 5 * 3.75 + 3 * 7.5
    assert counted.total == 4  # pricing, balance, two estimates


# -- pacing -------------------------------------------------------------------------------------


async def test_paces_creates_to_the_bucket_without_a_429(home: Path, sandboxes: Any) -> None:
    # 150 creates: 120 from the burst, 30 more at 20/s, and no 429.
    sb = sandboxes(time_factor=20, latency=0.05, concurrency_limit=500)
    async with counted_client(sb) as (client, counted):
        batch = Batch(
            grid([f"p{i}" for i in range(15)], seeds=range(10)), client=client, max_in_flight=500
        )
        await batch.run_async()
    assert batch.progress().done == 150
    # 30 creates past the sandbox's burst of 120 and not one 429: the batch waited for tokens.
    assert counted.http_429 == 0 and batch.stats.rate_limited == 0
    assert counted.by_route[("POST", "v1/images")] == 150
    per_token = batch._bucket.per_token
    assert per_token is not None and abs(per_token - 1 / 20) < 0.005


async def test_stays_under_the_concurrency_cap(home: Path, sandboxes: Any) -> None:
    sb = sandboxes(concurrency_limit=8, latency=0.3)
    async with counted_client(sb) as (client, counted):
        batch = Batch(grid(["x"], seeds=range(30)), client=client, max_in_flight=8)
        await batch.run_async()
    assert batch.progress().done == 30 and counted.http_429 == 0


async def test_learns_a_smaller_concurrency_cap_from_429(home: Path, sandboxes: Any) -> None:
    sb = sandboxes(concurrency_limit=4, latency=0.2)
    async with counted_client(sb) as (client, counted):
        batch = Batch(grid(["x"], seeds=range(16)), client=client, max_in_flight=50)
        await batch.run_async()
    assert batch.progress().done == 16
    assert batch.stats.concurrency_limited >= 1
    # The first burst meets the cap (nothing says where it is); after that, barely a 429.
    assert counted.http_429 <= 16 - 4 + 3
    assert_no_duplicates(sb)


# -- polling ------------------------------------------------------------------------------------


async def test_polls_in_bulk(home: Path, sandboxes: Any) -> None:
    sb = sandboxes(latency=0.5, latency_spread=0.3)
    async with counted_client(sb) as (client, counted):
        batch = Batch(grid([f"p{i}" for i in range(6)], seeds=range(10)), client=client)
        await batch.run_async()
    assert batch.progress().done == 60
    lists = counted.by_route[("GET", "v1/images")]
    singles = counted.by_route[("GET", "v1/images/{id}")]
    assert lists >= 1 and singles <= lists
    reads = lists + singles
    assert reads <= 30, counted.by_route  # one list answers for all 50 running jobs
    assert counted.total / 60 <= 1.5


async def test_poll_walks_pages_to_the_oldest_and_gets_stragglers(
    home: Path, sandboxes: Any
) -> None:
    from aurous_nb.work.polling import poll

    sb = sandboxes(latency=5.0, concurrency_limit=500)
    async with counted_client(sb) as (client, _):
        ours = [await client.images.create(f"ours {i}") for i in range(5)]
        await asyncio.gather(*(client.images.create(f"someone else {i}") for i in range(110)))
        active = {g.id: g.created_at.timestamp() for g in ours if g.created_at}
        walked = await poll(client, active)
        assert set(walked.seen) == set(active) and walked.requests == 2  # two pages
        few = await poll(client, dict(list(active.items())[:2]))
        assert set(few.seen) == set(list(active)[:2]) and few.requests == 1 + 2  # page, 2 GETs
        one = await poll(client, dict(list(active.items())[:1]))
        assert one.requests == 1  # a single job: one GET, no list


# -- progress, callbacks, blocking run ------------------------------------------------------


async def test_progress_and_job_callbacks(home: Path, sandboxes: Any) -> None:
    sb = sandboxes(latency=0.2)
    seen: list[Progress] = []
    ended: list[Job] = []
    async with counted_client(sb) as (client, _):
        batch = Batch(
            grid(["a", "b"], seeds=range(5)),
            client=client,
            on_progress=seen.append,
            on_job=ended.append,
        )
        await batch.run_async()
    assert sorted(j.index for j in ended) == list(range(10))
    assert all(j.ok and j.generation_id and j.charged == 1 for j in ended)
    assert seen[-1].finished and seen[-1].done == 10 and seen[-1].spent == 10
    assert any(p.running for p in seen) and seen[0].queued > 0
    dones = [p.done for p in seen]
    assert dones == sorted(dones)
    rows = batch.rows()
    assert rows[0]["prompt"] == "a" and rows[0]["status"] == "succeeded"


async def test_outputs_are_cached_before_on_job(home: Path, sandboxes: Any) -> None:
    sb = sandboxes()
    files: list[int] = []
    async with counted_client(sb) as (client, _):
        batch = Batch(
            [image("fox", count=2), image("owl")],
            client=client,
            download=True,
            on_job=lambda j: files.append(len(j.files)),
        )
        await batch.run_async()
    assert sorted(files) == [1, 2]
    assert all(Path(f.path).is_file() for j in batch.jobs for f in j.files)


def test_blocking_run_inside_a_running_loop(home: Path, sandboxes: Any) -> None:
    sb = sandboxes()
    script = textwrap.dedent(
        """
        import asyncio, sys
        from aurous_nb.work.batch import Batch
        from aurous_nb.work.spec import image

        async def cell():  # like a notebook cell: a loop is already running
            batch = Batch([image("a"), image("b")], api_key=sys.argv[2], base_url=sys.argv[1])
            jobs = batch.run()
            print(",".join(j.status for j in jobs))

        asyncio.run(cell())
        print(",".join(j.status for j in Batch([image("c")], api_key=sys.argv[2],
                                               base_url=sys.argv[1]).run()))
        from aurous_nb.client import Client  # a blocking client works too
        with Client(api_key=sys.argv[2], base_url=sys.argv[1]) as sync_client:
            print(",".join(j.status for j in Batch([image("d")], client=sync_client).run()))
        """
    )
    out = subprocess.run(
        [sys.executable, "-c", script, sb.base_url, sb.api_key],
        env={**os.environ},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["succeeded,succeeded", "succeeded", "succeeded"]


# -- ledger: resume and re-runs ------------------------------------------------------------------


async def test_resume_after_a_restart_buys_nothing_twice(home: Path, sandboxes: Any) -> None:
    sb = sandboxes(latency=0.5)
    specs = grid(["r1", "r2", "r3"], seeds=range(10))
    async with counted_client(sb) as (client, _):
        # A kernel that dies mid-batch: some jobs answered, some sent without an answer...
        first = Batch(specs, client=client, name="exp-1")
        task = first.start()
        while sum(1 for j in first.jobs if j.generation_id) < 8:
            await asyncio.sleep(0.01)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        # ... and two more whose creates reached the server but whose answers were lost.
        ledger = Ledger()
        lost = [j for j in first.jobs if j.status == "queued"][:2]
        for j in lost:
            ledger.prepare(first.env, "image", dict(j.request), key=j.key)
            await client.images.create(**j.request, idempotency_key=j.key)
        before = server_ledger(sb)["totals"]["generation_count"]
        assert 10 <= before < 30
        unanswered = [r for r in ledger.pending(first.env) if not r.answered]
        answered = [r for r in ledger.jobs(first.env) if r.answered]
        assert len(unanswered) >= 2 and len(answered) >= 8

    async with counted_client(sb) as (client, counted):  # the restarted kernel
        again = Batch(specs, client=client, name="exp-1")
        await again.run_async()
        assert again.progress().done == 30
        gens = assert_no_duplicates(sb)
        assert len(gens) == 30
        # Answered jobs are only polled; unanswered rows are sent again with their own key (the
        # server replays or creates them); jobs without a row are created.
        assert counted.by_route[("POST", "v1/images")] == 30 - len(answered)

        # Re-running the same cell once more buys nothing at all.
        rerun = Batch(specs, client=client, name="exp-1")
        posts = counted.by_route[("POST", "v1/images")]
        await rerun.run_async()
        assert rerun.progress().done == 30
        assert counted.by_route[("POST", "v1/images")] == posts
        assert server_ledger(sb)["totals"]["generation_count"] == 30

        # The ledger alone is enough to find the batch again.
        found = Batch.from_ledger("exp-1", client=client)
        assert len(found) == 30
        await found.run_async()
        assert found.progress().done == 30
        assert server_ledger(sb)["totals"]["generation_count"] == 30


async def test_fresh_batch_buys_again(home: Path, sandboxes: Any) -> None:
    sb = sandboxes()
    async with counted_client(sb) as (client, _):
        await Batch([image("same")], client=client).run_async()
        await Batch([image("same")], client=client).run_async()
        assert server_ledger(sb)["totals"]["generation_count"] == 1
        await Batch([image("same")], client=client, fresh=True).run_async()
        assert server_ledger(sb)["totals"]["generation_count"] == 2


# -- cancel and retry ---------------------------------------------------------------------------


async def test_cancel_cancels_server_jobs_and_releases_holds(home: Path, sandboxes: Any) -> None:
    sb = sandboxes(latency=30.0, latency_spread=0.0)
    async with counted_client(sb) as (client, counted):
        batch = Batch(grid(["slow"], seeds=range(12)), client=client, max_in_flight=8)
        batch.start()
        while sum(1 for j in batch.jobs if j.generation_id) < 8:
            await asyncio.sleep(0.01)
        assert server_ledger(sb)["totals"]["held_credits"] == 8
        await batch.cancel()
    statuses = Counter(j.status for j in batch.jobs)
    assert statuses == {"cancelled": 12}
    assert sum(1 for j in batch.jobs if j.generation_id) == 8  # 4 were never sent
    totals = server_ledger(sb)["totals"]
    assert totals["generation_count"] == 8 and totals["held_credits"] == 0
    assert totals["credits_charged"] == 0
    assert counted.by_route[("POST", "v1/images/{id}/cancel")] == 8
    rows = Ledger().jobs(batch.env)
    assert len(rows) == 8 and {r.status for r in rows} == {"cancelled"}


async def test_cancel_after_a_restart_finds_every_job(home: Path, sandboxes: Any) -> None:
    sb = sandboxes(latency=30.0, latency_spread=0.0)
    specs = grid(["slow"], seeds=range(6))
    async with counted_client(sb) as (client, _):
        first = Batch(specs, client=client, name="night-run", max_in_flight=3)
        task = first.start()
        while sum(1 for j in first.jobs if j.generation_id) < 3:
            await asyncio.sleep(0.01)
        task.cancel()  # the kernel dies with 3 jobs running...
        with pytest.raises(asyncio.CancelledError):
            await task
        ledger = Ledger()  # ... and one create sent whose answer never came back
        lost = next(j for j in first.jobs if j.status == "queued")
        ledger.prepare(first.env, "image", dict(lost.request), key=lost.key)
        await client.images.create(**lost.request, idempotency_key=lost.key)

        again = Batch(specs, client=client, name="night-run")  # after the restart
        await again.cancel()
    assert Counter(j.status for j in again.jobs) == {"cancelled": 6}
    gens = assert_no_duplicates(sb)
    assert len(gens) == 4 and {g["status"] for g in gens} == {"cancelled"}
    assert server_ledger(sb)["totals"]["held_credits"] == 0


async def test_retry_failed_uses_new_keys(home: Path, sandboxes: Any) -> None:
    sb = sandboxes(failure_rate=0.5, seed=11)
    async with counted_client(sb) as (client, _):
        batch = Batch(grid(["f"], seeds=range(12)), client=client)
        await batch.run_async()
        failed = [j.index for j in batch.jobs if j.status == "failed"]
        assert failed and batch.progress().failed == len(failed)
        assert batch.retry_failed() == len(failed)
        await batch.run_async()
    retried = [batch.jobs[i] for i in failed]
    assert all(j.attempt == 1 and j.key.endswith("-r1") and j.terminal for j in retried)
    gens = assert_no_duplicates(sb)
    assert len(gens) == 12 + len(failed)


async def test_a_bad_job_fails_alone(home: Path, sandboxes: Any) -> None:
    sb = sandboxes()
    with pytest.raises(ValidationError) as info:
        Batch(grid(["ok"], sizes=["2k_1_1", "huge"]), client=None, base_url=sb.base_url)
    assert "job 1" in str(info.value) and info.value.param == "size"
    async with counted_client(sb) as (client, _):
        batch = Batch(
            [image("fine"), image("styled", lora_id="no-such-style"), image("a forbidden cat")],
            client=client,
        )
        await batch.run_async()
    assert [j.status for j in batch.jobs] == ["succeeded", "rejected", "moderation_rejected"]
    assert batch.jobs[1].error_code == "resource_not_found" and batch.jobs[1].generation_id is None
    assert batch.progress().spent == 1 and server_ledger(sb)["totals"]["credits_charged"] == 1
    assert [r.status for r in Ledger().jobs(batch.env)].count("rejected") == 1


# -- mixed media ---------------------------------------------------------------------------------


async def test_mixed_image_and_video_batch(home: Path, sandboxes: Any) -> None:
    sb = sandboxes(latency=0.3)
    specs = [
        image("a castle", lora_id="golden-hour", count=2),
        video(VIDEO_LORA, prompt="tide", resolution="480p", duration=4),
        {"prompt": "a bridge", "size": "2k_16_9"},
        {"video_lora_id": VIDEO_LORA, "prompt": "rain"},
        image("a tower", enhance_prompt=True),
    ]
    async with counted_client(sb) as (client, _):
        batch = Batch(specs, client=client)
        q = await batch.price()
        await batch.run_async()
    assert [j.media_type for j in batch.jobs] == ["image", "video", "image", "video", "image"]
    assert all(j.ok for j in batch.jobs)
    assert [j.generation_id[:4] for j in batch.jobs if j.generation_id] == [
        "img_",
        "vid_",
        "img_",
        "vid_",
        "img_",
    ]
    assert batch.progress().spent == q.total == 2 + 2 + 1 + 3.75 + 2
    assert server_ledger(sb)["totals"]["credits_charged"] == q.total


# -- webhooks ------------------------------------------------------------------------------------


async def test_webhook_mode_ends_jobs_without_polling(home: Path, sandboxes: Any) -> None:
    sb = sandboxes(latency=0.3)
    async with counted_client(sb) as (client, counted):
        batch = Batch(grid(["w"], seeds=range(20)), client=client, webhooks=True)
        await batch.run_async()
    assert batch.progress().done == 20 and batch.stats.webhooks == 20
    assert counted.by_route[("GET", "v1/images")] + counted.by_route[("GET", "v1/images/{id}")] == 0
    assert counted.total == 20 + 2  # the creates, the rate card and the balance
    rows = Ledger().jobs(batch.env)
    assert all(
        str((r.request or {}).get("webhook_url", "")).startswith("http://127.0.0.1:") for r in rows
    )


async def test_webhook_mode_still_finds_jobs_whose_delivery_never_comes(
    home: Path, sandboxes: Any
) -> None:
    from aurous_nb.work.receiver import WebhookReceiver

    sb = sandboxes(latency=0.2)
    receiver = WebhookReceiver(public_url="http://127.0.0.1:9/nobody-listens")
    async with counted_client(sb) as (client, counted):
        batch = Batch(
            grid(["lost"], seeds=range(3)), client=client, webhooks=receiver, max_poll_interval=0.2
        )
        await batch.run_async()
    assert batch.progress().done == 3 and batch.stats.webhooks == 0
    assert counted.by_route[("GET", "v1/images")] >= 1


def test_names_imported_from_the_engine_are_the_one_object_at_their_home() -> None:
    """The engine re-exports, it never copies: each name has one home in aurous_nb/work/."""
    import aurous_nb
    from aurous_nb.work import batch, batch_setup, batch_state, cancel, create_errors, deliveries
    from aurous_nb.work import quote as quote_mod
    from aurous_nb.work import spec as spec_mod

    assert aurous_nb.batch is batch and aurous_nb.Batch is batch.Batch
    assert all(hasattr(batch, name) for name in batch.__all__)
    assert (batch.Job, batch.Progress, batch.Stats) == (
        batch_state.Job,
        batch_state.Progress,
        batch_state.Stats,
    )
    assert batch.BudgetExceededError is quote_mod.BudgetExceededError
    assert batch.Quote is quote_mod.Quote and batch.JobSpec is spec_mod.JobSpec
    assert batch.MAX_CREATE_FAILURES is create_errors.MAX_CREATE_FAILURES
    gone = ["_clients", "_base_url", "_buyer", "_validate", "_character_axis"]
    assert [n for n in gone if hasattr(batch, n)] == []
    gone = ["_reject", "_cancel_one", "_cancel_unanswered"]
    assert [n for n in gone if hasattr(batch.Batch, n)] == []
    assert callable(batch_setup.clients) and callable(cancel.stop) and callable(deliveries.apply)

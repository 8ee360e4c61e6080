"""Nothing bought twice: creates through a sandbox that fails 30 % of requests in every way.

Faults: 500, 503, 429 before the work; the response dropped after the work; the response
delayed past the client's timeout after the work. The ledger must show exactly one generation
per create, no key twice, and credits charged equal to the sum of the costs.
"""

from __future__ import annotations

import asyncio
from concurrent.futures import ThreadPoolExecutor

import pytest
from client_support import ledger

from aurous_nb.client import AsyncClient, Client, Generation, RetryPolicy
from aurous_nb.sandbox import Sandbox

TIMEOUT = 1.0
POLICY = RetryPolicy(
    max_retries=15,
    budget=90.0,
    backoff_initial=0.05,
    backoff_max=0.4,
    conflict_initial=0.1,
    conflict_max=0.5,
    conflict_retries=40,
)


def chaos_sandbox(seed: int) -> Sandbox:
    return Sandbox(
        latency=0.05,
        latency_spread=0.0,
        time_factor=50.0,
        chaos=0.3,
        chaos_delay=TIMEOUT + 0.3,
        seed=seed,
        credits=100000.0,
    )


def check_ledger(sb: Sandbox, done: list[Generation], n: int) -> None:
    book = ledger(sb)
    rows = book["generations"]
    assert len(rows) == n
    keys = [r["idempotency_key"] for r in rows]
    assert None not in keys and len(set(keys)) == n
    assert {r["id"] for r in rows} == {g.id for g in done}
    assert all(g.status == "succeeded" for g in done)
    total = sum(g.cost.amount for g in done if g.cost is not None)
    assert book["totals"]["credits_charged"] == pytest.approx(total)
    assert book["totals"]["starting_credits"] - book["totals"]["credits"] == pytest.approx(total)
    assert book["totals"]["held_credits"] == 0
    injected = book["chaos"]["injected"]
    assert all(injected[k] > 0 for k in ("internal_error", "too_many_requests", "drop", "delay"))


async def test_200_async_creates_under_chaos() -> None:
    n = 200
    with chaos_sandbox(seed=7) as sb:
        async with AsyncClient(
            api_key=sb.api_key, base_url=sb.base_url, timeout=TIMEOUT, retry=POLICY
        ) as c:
            gate = asyncio.Semaphore(25)

            async def one(i: int) -> Generation:
                async with gate:
                    gen = await c.images.create(f"chaos {i}", count=1 + i % 4, seed=i)
                    return await c.images.wait(gen, poll_interval=0.1, timeout=60)

            done = await asyncio.gather(*(one(i) for i in range(n)))
        check_ledger(sb, list(done), n)
        assert sum(g.image_count or 0 for g in done) == sum(1 + i % 4 for i in range(n))


def test_threads_share_one_sync_client_under_chaos() -> None:
    n = 60
    with (
        chaos_sandbox(seed=11) as sb,
        Client(api_key=sb.api_key, base_url=sb.base_url, timeout=TIMEOUT, retry=POLICY) as c,
    ):

        def one(i: int) -> Generation:
            gen = c.images.create(f"thread {i}", count=1 + i % 2)
            return c.images.wait(gen, poll_interval=0.1, timeout=60)

        with ThreadPoolExecutor(8) as pool:
            done = list(pool.map(one, range(n)))
        check_ledger(sb, done, n)
        assert c.rate_limits["images_post"].limit == 120

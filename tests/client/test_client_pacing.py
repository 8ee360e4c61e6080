"""Pacing from X-RateLimit-* headers against the sandbox's real token buckets."""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor

import pytest
from client_support import Api, aclose, make_api

from aurous_nb.client import Client, RateLimitError
from aurous_nb.sandbox import Sandbox


@pytest.mark.parametrize("kind", ["sync", "async"])
async def test_pacing_avoids_429(kind: str) -> None:
    # webhook_endpoints: 10 burst, 10/min; time_factor 60 makes that 10/s.
    with Sandbox(time_factor=60.0) as sb:
        c = make_api(kind, sb, max_retries=0)  # a single 429 would raise
        api = Api(kind, c)
        try:
            t0 = time.monotonic()
            for i in range(22):
                await api(lambda c, i=i: c.webhook_endpoints.create(f"https://x.com/{i}", ["*"]))
            elapsed = time.monotonic() - t0
            state = c.rate_limits["webhook_endpoints"]
            assert state.limit == 10 and state.remaining <= 1
        finally:
            await aclose(c)
    assert elapsed >= 1.0  # 12 tokens beyond the burst at 10/s: it had to wait


def test_threads_share_state_and_connections(sandbox: Sandbox) -> None:
    with Client(api_key=sandbox.api_key, base_url=sandbox.base_url) as c:

        def work(i: int) -> float:
            return sum(c.balance().credits for _ in range(10))

        with ThreadPoolExecutor(8) as pool:
            results = list(pool.map(work, range(16)))
        assert len(results) == 16 and all(r > 0 for r in results)
        assert c.rate_limits["read"].limit == 1200


async def test_concurrency_limit_is_waited_out() -> None:
    import asyncio

    from client_support import ledger

    from aurous_nb.client import AsyncClient

    with Sandbox(concurrency_limit=2, latency=0.6, latency_spread=0.0, time_factor=50.0) as sb:
        async with AsyncClient(api_key=sb.api_key, base_url=sb.base_url) as c:
            t0 = time.monotonic()
            gens = await asyncio.gather(*(c.images.create(f"busy {i}") for i in range(5)))
            elapsed = time.monotonic() - t0
        rows = ledger(sb)["generations"]
    assert len({g.id for g in gens}) == 5 and len(rows) == 5
    assert elapsed >= 0.9  # at least one Retry-After (>= 1 s) was honoured


def test_concurrency_429_does_not_drain_the_token_bucket() -> None:
    # Two jobs may run at once; the third create is refused for concurrency, not for tokens,
    # so the client must not stall its other creates as if the bucket were empty.
    with (
        Sandbox(latency=30.0, concurrency_limit=2) as sb,
        Client(api_key=sb.api_key, base_url=sb.base_url, max_retries=0) as c,
    ):
        c.images.create("one")
        c.images.create("two")
        with pytest.raises(RateLimitError) as info:
            c.images.create("three")
        assert info.value.code == "concurrency_limit_exceeded"
        state = c.rate_limits["images_post"]
        assert state.remaining >= 100, "the bucket still had tokens after two creates"

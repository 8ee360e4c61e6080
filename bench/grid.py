"""A 200-job prompt grid against the sandbox: the batch engine vs the rate limits' lower bound.

One run measures, each on a fresh sandbox with the same settings:

* **batch**: ``aurous_nb.Batch`` (prices first, paces creates from the rate-limit headers,
  polls in bulk). Outputs are not downloaded, so every request counted is an API call.
* **bound**: the earliest the last job can finish, from the bucket (``images_post``: 120 burst,
  60/min x time factor), the concurrency cap and the sandbox's latency: a greedy schedule that
  starts each job as soon as a token and a slot are free, with each job's own latency (the sandbox
  fixes it from its seed and the job's order), and no time for HTTP at all.
* **naive loop**: create, poll every 2 s, next -- on a small sample, extrapolated to 200 jobs.
* **thread pool**: 64 threads, each creating one job and polling it every 0.5 s.
* with ``--webhooks``, the engine again in webhook mode (a loopback receiver; no polls).

HTTP requests and 429s are counted with an httpx event hook on each client. The last line is
machine-readable: ``grid: jobs=200 ratio_to_bound=1.07 requests_per_job=1.3 http_429=0``.
"""

from __future__ import annotations

import argparse
import asyncio
import heapq
import os
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from aurous_nb.client import AsyncClient, Client
from aurous_nb.sandbox import Sandbox
from aurous_nb.sandbox.config import SandboxConfig
from aurous_nb.sandbox.ratelimit import BUCKETS
from aurous_nb.store.ledger import Ledger
from aurous_nb.work.batch import Batch
from aurous_nb.work.spec import grid

BURST, PER_MIN = BUCKETS["images_post"]
TERMINAL = {"succeeded", "failed", "cancelled", "expired", "moderation_rejected"}


@dataclass
class Counter:
    requests: int = 0
    http_429: int = 0

    def hook(self, response: httpx.Response) -> None:
        self.requests += 1
        if response.status_code == 429:
            self.http_429 += 1

    async def ahook(self, response: httpx.Response) -> None:
        self.hook(response)


@dataclass
class Result:
    label: str
    jobs: int
    wall_s: float
    requests: int
    http_429: int
    note: str = ""

    @property
    def per_job(self) -> float:
        return self.requests / self.jobs


def settings(args: argparse.Namespace) -> dict[str, Any]:
    return {
        "latency": args.latency,
        "latency_spread": args.spread,
        "time_factor": args.time_factor,
        "concurrency_limit": args.concurrency,
        "credits": 1_000_000.0,
        "seed": args.seed,
    }


def specs(n: int) -> list[Any]:
    prompts = [f"a lighthouse at dusk, study {i}" for i in range(n // 20 or 1)]
    jobs = grid(prompts, loras=["golden-hour", "neon-noir"], sizes=["2k_1_1"], seeds=range(10))
    return jobs[:n]


# -- the lower bound ------------------------------------------------------------------------


def latencies(config: SandboxConfig, n: int) -> list[float]:
    """Each job's latency as the sandbox will draw it (seeded, by creation order)."""
    from aurous_nb.sandbox.state import SandboxState

    state = SandboxState(config)
    return [state._timeline(seq, 0.0)[1] for seq in range(n)]


def lower_bound(lat: list[float], burst: int, per_s: float, cap: int) -> float:
    """Finish time of a greedy schedule: start each job once a token and a slot are free."""
    t, tokens, stamp = 0.0, float(burst), 0.0
    ends: list[float] = []
    for latency in lat:
        while True:
            while ends and ends[0] <= t:
                heapq.heappop(ends)
            if len(ends) >= cap:
                t = ends[0]
                continue
            have = min(float(burst), tokens + (t - stamp) * per_s)
            if have < 1.0 - 1e-9:
                t += (1.0 - have) / per_s
                continue
            break
        tokens, stamp = have - 1.0, t
        heapq.heappush(ends, t + latency)
    return max(ends)


# -- the contenders ---------------------------------------------------------------------------


async def run_batch(sb: Sandbox, n: int, cap: int, webhooks: bool = False) -> tuple[Result, Batch]:
    counter = Counter()
    http = httpx.AsyncClient(
        limits=httpx.Limits(max_connections=100), event_hooks={"response": [counter.ahook]}
    )
    async with AsyncClient(api_key=sb.api_key, base_url=sb.base_url, http_client=http) as client:
        # a ledger of its own: the same grid in one ledger is found there, not bought again
        ledger = Ledger(Path(tempfile.mkdtemp(prefix="aurous-bench-")) / "ledger.sqlite3")
        batch = Batch(
            specs(n),
            client=client,
            ledger=ledger,
            download=False,
            max_in_flight=cap,
            webhooks=webhooks,
        )
        start = time.perf_counter()
        await batch.run_async()
        wall = time.perf_counter() - start
    await http.aclose()
    p = batch.progress()
    assert p.done == n, p
    st = batch.stats
    note = f"{st.creates} creates, {st.poll_requests} poll requests, {st.polls} polls"
    label = "batch engine, webhooks" if webhooks else "batch engine"
    return Result(label, n, wall, counter.requests, counter.http_429, note), batch


def naive_one(client: Client, spec: Any, interval: float) -> None:
    gen = client.images.create(**spec.request)
    while gen.status not in TERMINAL:
        time.sleep(interval)
        gen = client.images.get(gen.id)


def run_naive(sb: Sandbox, sample: int, n: int) -> Result:
    counter = Counter()
    http = httpx.Client(event_hooks={"response": [counter.hook]})
    with Client(api_key=sb.api_key, base_url=sb.base_url, http_client=http) as client:
        start = time.perf_counter()
        for spec in specs(sample):
            naive_one(client, spec, 2.0)
        wall = time.perf_counter() - start
    http.close()
    scale = n / sample
    return Result(
        "naive loop (2 s polls)",
        n,
        wall * scale,
        round(counter.requests * scale),
        round(counter.http_429 * scale),
        f"extrapolated from {sample} jobs ({wall:.1f} s)",
    )


def run_pool(sb: Sandbox, n: int, workers: int) -> Result:
    counter = Counter()
    limits = httpx.Limits(max_connections=workers)
    http = httpx.Client(limits=limits, event_hooks={"response": [counter.hook]})
    with Client(api_key=sb.api_key, base_url=sb.base_url, http_client=http) as client:
        start = time.perf_counter()
        with ThreadPoolExecutor(workers) as pool:
            list(pool.map(lambda s: naive_one(client, s, 0.5), specs(n)))
        wall = time.perf_counter() - start
    http.close()
    return Result(
        f"thread pool ({workers}, 0.5 s polls)", n, wall, counter.requests, counter.http_429
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--jobs", type=int, default=200)
    parser.add_argument("--latency", type=float, default=1.0, help="sandbox mean latency, s")
    parser.add_argument("--spread", type=float, default=0.3)
    parser.add_argument("--time-factor", type=float, default=20.0)
    parser.add_argument("--concurrency", type=int, default=50)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--naive-sample", type=int, default=5)
    parser.add_argument("--workers", type=int, default=64)
    parser.add_argument("--skip-baselines", action="store_true")
    parser.add_argument(
        "--webhooks",
        action="store_true",
        help="also run the engine in webhook mode (not in the last line)",
    )
    args = parser.parse_args()
    os.environ["AUROUS_NB_HOME"] = tempfile.mkdtemp(prefix="aurous-bench-")
    os.environ["AUROUS_NB_AUTO_DOWNLOAD"] = "0"
    n = args.jobs
    opts = settings(args)

    per_s = PER_MIN / 60.0 * args.time_factor
    lat = latencies(SandboxConfig(**opts), n)
    bound = lower_bound(lat, BURST, per_s, args.concurrency)
    print(
        f"sandbox: latency {args.latency} s +/-{args.spread:.0%}, time factor {args.time_factor:g} "
        f"(images_post {BURST} burst + {per_s:g}/s), concurrency cap {args.concurrency}"
    )
    print(f"lower bound for {n} jobs: {bound:.2f} s")

    with Sandbox(**opts) as sb:
        ours, _ = asyncio.run(run_batch(sb, n, args.concurrency))
    results = [ours]
    if args.webhooks:
        with Sandbox(**opts) as sb:
            results.append(asyncio.run(run_batch(sb, n, args.concurrency, webhooks=True))[0])
    if not args.skip_baselines:
        with Sandbox(**opts) as sb:
            results.append(run_naive(sb, args.naive_sample, n))
        with Sandbox(**opts) as sb:
            results.append(run_pool(sb, n, args.workers))

    print(f"{'':30} {'wall s':>8} {'x bound':>8} {'req/job':>8} {'429s':>6}")
    for r in results:
        print(
            f"{r.label:30} {r.wall_s:8.2f} {r.wall_s / bound:8.2f} {r.per_job:8.2f} "
            f"{r.http_429:6d}  {r.note}"
        )
    print(
        f"grid: jobs={n} ratio_to_bound={ours.wall_s / bound:.2f} "
        f"requests_per_job={ours.per_job:.2f} http_429={ours.http_429}"
    )


if __name__ == "__main__":
    main()

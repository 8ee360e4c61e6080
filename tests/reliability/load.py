"""50 concurrent clients against a sandbox in its own process, for the soak run.

The sandbox runs as the CLI (``python -m aurous_nb.sandbox``) so the load generator does not share
its interpreter lock; each client has its own connection pool and loops over a mix of reads,
estimates and idempotent creates. Errors are 5xx answers and transport failures; 4xx answers are
counted apart (there should be none).
"""

from __future__ import annotations

import asyncio
import os
import re
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from aurous_nb.sandbox.config import new_api_key

ROOT = Path(__file__).resolve().parents[2]


@dataclass
class LoadResult:
    clients: int
    seconds: float
    requests: int = 0
    errors: int = 0
    client_errors: int = 0
    latencies: list[float] = field(default_factory=list)
    alive_after: bool = False

    @property
    def rate(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0

    @property
    def error_rate(self) -> float:
        return self.errors / self.requests if self.requests else 0.0

    def quantile(self, q: float) -> float:
        ordered = sorted(self.latencies)
        return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else 0.0


def start_cli_sandbox(key: str, *extra: str) -> tuple[subprocess.Popen[str], str]:
    """The sandbox CLI on a free port; returns the process and its base URL."""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.Popen(
        [sys.executable, "-m", "aurous_nb.sandbox", "--port", "0", "--api-key", key, *extra],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=env,
    )
    assert proc.stdout is not None
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        found = re.search(r"ready at (http://[\d.]+:\d+)", line)
        if found:
            return proc, found.group(1)
        if proc.poll() is not None:
            break
    proc.kill()
    raise RuntimeError("the sandbox CLI did not start")


async def _client(base: str, key: str, i: int, until: float, out: LoadResult) -> None:
    headers = {"X-Api-Key": key}
    async with httpx.AsyncClient(base_url=base, headers=headers, timeout=30) as http:
        n = 0
        last_id = None
        while time.monotonic() < until:
            n += 1
            started = time.monotonic()
            try:
                kind = n % 5
                if kind == 0:
                    key_header = {"Idempotency-Key": f"load-{i}-{n // 10}"}  # replays too
                    r = await http.post(
                        "/v1/images", json={"prompt": f"load {i}"}, headers=key_header
                    )
                    if r.status_code == 201:
                        last_id = r.json()["id"]
                elif kind == 1 and last_id:
                    r = await http.get(f"/v1/images/{last_id}")
                elif kind == 2:
                    r = await http.post("/v1/images/estimate", json={"prompt": "x", "count": 2})
                elif kind == 3:
                    r = await http.get("/v1/images", params={"limit": 20})
                else:
                    r = await http.get("/v1/balance")
            except httpx.HTTPError:
                out.requests += 1
                out.errors += 1
                continue
            out.requests += 1
            out.latencies.append(time.monotonic() - started)
            if r.status_code >= 500:
                out.errors += 1
            elif r.status_code >= 400:
                out.client_errors += 1


def run_load(clients: int = 50, seconds: float = 60.0) -> LoadResult:
    """``clients`` concurrent clients for ``seconds``; then checks the sandbox still answers."""
    key = new_api_key()
    proc, base = start_cli_sandbox(
        key,
        "--no-rate-limits",
        "--latency",
        "0.5",
        "--credits",
        "1e12",
        "--concurrency-limit",
        "1000000",
    )
    out = LoadResult(clients=clients, seconds=seconds)
    try:

        async def drive() -> None:
            until = time.monotonic() + seconds
            await asyncio.gather(*(_client(base, key, i, until, out) for i in range(clients)))

        started = time.monotonic()
        asyncio.run(drive())
        out.seconds = time.monotonic() - started
        r = httpx.get(f"{base}/v1/balance", headers={"X-Api-Key": key}, timeout=10)
        out.alive_after = r.status_code == 200 and proc.poll() is None
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
    return out

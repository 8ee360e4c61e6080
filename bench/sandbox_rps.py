"""How many simple GET requests per second the sandbox serves on this machine.

The sandbox runs in its own process (as ``python -m aurous_nb.sandbox``) so the load generator
does not share its interpreter; a pool of keep-alive connections sends ``GET /v1/balance``.
Rate limiting stays on, with a time factor high enough that the read bucket never empties, so
the figure includes the full per-request path. Last line: ``sandbox_rps: rps=... target=500``.
"""

from __future__ import annotations

import argparse
import asyncio
import re
import subprocess
import sys
import time

import httpx

READY = re.compile(r"ready at (http://\S+)")
KEY = "al_live_" + "0" * 64


def start_sandbox() -> tuple[subprocess.Popen[str], str]:
    cmd = [sys.executable, "-m", "aurous_nb.sandbox", "--port", "0", "--api-key", KEY]
    proc = subprocess.Popen([*cmd, "--time-factor", "10000"], stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    for line in proc.stdout:
        match = READY.search(line)
        if match:
            return proc, match.group(1)
    raise SystemExit("the sandbox did not start")


async def hammer(base_url: str, total: int, concurrency: int) -> tuple[float, int]:
    headers = {"X-Api-Key": KEY}
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    errors = 0
    async with httpx.AsyncClient(base_url=base_url, headers=headers, limits=limits) as client:
        await client.get("/v1/balance")  # warm up
        queue = iter(range(total))

        async def worker() -> None:
            nonlocal errors
            for _ in queue:
                r = await client.get("/v1/balance")
                errors += r.status_code != 200

        started = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        return time.perf_counter() - started, errors


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--requests", type=int, default=3000)
    parser.add_argument("--concurrency", type=int, default=8)
    args = parser.parse_args()
    proc, base_url = start_sandbox()
    try:
        elapsed, errors = asyncio.run(hammer(base_url, args.requests, args.concurrency))
    finally:
        proc.terminate()
        proc.wait(timeout=10)
    rps = args.requests / elapsed
    print(f"{args.requests} GET /v1/balance in {elapsed:.2f}s with {args.concurrency} connections")
    print(f"non-200 responses: {errors}")
    print(f"sandbox_rps: rps={rps:.0f} target=500 errors={errors}")


if __name__ == "__main__":
    main()

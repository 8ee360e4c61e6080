"""Per-request overhead of ``aurous_nb.Client`` against raw httpx, on the same sandbox.

The sandbox runs in its own process (so the server does not share our GIL), without rate
limits. Both sides send GET /v1/balance over one keep-alive connection and decode the JSON;
ours also runs the flow, the pacing check, header bookkeeping and builds the model. Blocks of
requests alternate between the two sides so drift hits both alike.

    .venv/bin/python bench/client_overhead.py [--requests 500]

Last line: ``client_overhead {"ratio": ..., ...}`` (JSON).
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import statistics
import subprocess
import sys
import time

import httpx

from aurous_nb.client import Client

KEY = "al_live_" + "be" * 32


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start_sandbox(port: int) -> subprocess.Popen[bytes]:
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "aurous_nb.sandbox",
            "--port",
            str(port),
            "--api-key",
            KEY,
            "--no-rate-limits",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        try:
            httpx.get(f"http://127.0.0.1:{port}/_sandbox/stats", timeout=0.5)
            return proc
        except httpx.TransportError:
            time.sleep(0.05)
    proc.kill()
    raise RuntimeError("sandbox did not start")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--requests", type=int, default=500)
    parser.add_argument("--block", type=int, default=25)
    args = parser.parse_args()
    port = free_port()
    proc = start_sandbox(port)
    base = f"http://127.0.0.1:{port}"
    try:
        raw = httpx.Client()
        ours = Client(api_key=KEY, base_url=base)
        headers = {"X-Api-Key": KEY, "Accept": "application/json"}
        url = base + "/v1/balance"

        def raw_block(n: int) -> float:
            t0 = time.perf_counter()
            for _ in range(n):
                r = raw.get(url, headers=headers)
                r.raise_for_status()
                r.json()
            return time.perf_counter() - t0

        def our_block(n: int) -> float:
            t0 = time.perf_counter()
            for _ in range(n):
                ours.balance()
            return time.perf_counter() - t0

        raw_block(args.block)
        our_block(args.block)  # warm-up: connections, imports, caches
        raw_times: list[float] = []
        our_times: list[float] = []
        for i in range(max(1, args.requests // args.block)):
            if i % 2 == 0:  # alternate who goes first
                raw_times.append(raw_block(args.block))
                our_times.append(our_block(args.block))
            else:
                our_times.append(our_block(args.block))
                raw_times.append(raw_block(args.block))
        n = len(raw_times) * args.block
        raw_us = statistics.median(raw_times) / args.block * 1e6
        our_us = statistics.median(our_times) / args.block * 1e6
        # adjacent blocks share the machine's load: the median of their ratios resists noise
        paired = statistics.median(o / r for o, r in zip(our_times, raw_times, strict=True))
        best = min(our_times) / min(raw_times)
        result = {
            "requests_each": n,
            "raw_httpx_us_per_request": round(raw_us, 1),
            "aurous_client_us_per_request": round(our_us, 1),
            "overhead_us": round(our_us - raw_us, 1),
            "ratio": round(paired, 3),
            "ratio_of_medians": round(our_us / raw_us, 3),
            "ratio_of_best_blocks": round(best, 3),
            "target": 1.15,
        }
        print(f"raw httpx:      {raw_us:8.1f} us/request (median block)")
        print(f"aurous Client:  {our_us:8.1f} us/request (median block, +{our_us - raw_us:.1f} us)")
        print(
            f"ratio:          {paired:.3f} paired-block median, {best:.3f} best blocks "
            "(target <= 1.15)"
        )
        print("client_overhead " + json.dumps(result))
        ours.close()
        raw.close()
    finally:
        proc.terminate()
        proc.wait(timeout=10)


if __name__ == "__main__":
    os.environ.pop("AUROUS_VERSION", None)
    main()

"""``import aurous_nb`` (and its client) against ``import httpx``, in fresh interpreters.

Each figure is the median wall time of ``python -c "import X"`` minus the median of
``python -c "pass"`` (interpreter start-up), over several runs.

    .venv/bin/python bench/import_time.py [--runs 15]

Last line: ``import_time {"ratio": ..., ...}`` (JSON).
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time


def timed(code: str) -> float:
    t0 = time.perf_counter()
    subprocess.run([sys.executable, "-c", code], check=True)
    return time.perf_counter() - t0


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=15)
    args = parser.parse_args()
    cases = {
        "bare": "pass",
        "httpx": "import httpx",
        "aurous_nb": "import aurous_nb",
        "aurous_nb.client": "import aurous_nb; aurous_nb.Client",
    }
    samples: dict[str, list[float]] = {k: [] for k in cases}
    for _ in range(args.runs):  # interleaved, so drift hits every case alike
        for name, code in cases.items():
            samples[name].append(timed(code))
    med = {k: statistics.median(v) for k, v in samples.items()}
    net = {k: max(med[k] - med["bare"], 1e-6) for k in cases if k != "bare"}
    for name, value in net.items():
        print(f"{name:18s} {value * 1000:7.1f} ms  (over a bare interpreter)")
    ratio = net["aurous_nb.client"] / net["httpx"]
    print(f"ratio (import aurous_nb + its client / import httpx): {ratio:.2f}  (target <= 1.5)")
    result = {
        "runs": args.runs,
        "httpx_ms": round(net["httpx"] * 1000, 1),
        "aurous_nb_ms": round(net["aurous_nb"] * 1000, 1),
        "aurous_nb_client_ms": round(net["aurous_nb.client"] * 1000, 1),
        "ratio": round(ratio, 3),
        "ratio_top_level_only": round(net["aurous_nb"] / net["httpx"], 3),
        "target": 1.5,
    }
    print("import_time " + json.dumps(result))


if __name__ == "__main__":
    main()

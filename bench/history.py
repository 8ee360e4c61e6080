"""How fast is ``frames.history()`` over a big ledger, next to a plain ``pandas.read_sql``?

Fills a throwaway ledger with N generations (default 100,000; a realistic mix of statuses,
LoRAs, sizes, media types, costs and cached outputs over 90 days), then times, best of
``--repeat`` runs each:

* ``history(ledger=..., env=...)``: the typed frame (UTC datetimes, categories, floats, the
  outputs-cache join), and
* ``pandas.read_sql("SELECT * FROM generations WHERE env = ?")``: the same rows, untyped.

Wall and CPU time are both reported (CPU time is steadier on a busy machine). The last line is
machine-readable:
``history: rows=100000 build_s=0.42 read_sql_s=0.38 ratio=1.11 build_cpu_s=0.41 ...``
"""

from __future__ import annotations

import argparse
import json
import random
import sqlite3
import tempfile
import time
from pathlib import Path

ENV = "sandbox-8765"
LORAS = [("lora_01WATER", "Watercolor"), ("lora_01NOIR", "Noir"), ("lora_01NEON", "Neon")]
SIZES = ["2k_1_1", "2k_16_9", "4k_1_1", "2k_9_16"]
STATUSES = ["succeeded"] * 16 + ["failed", "cancelled", "moderation_rejected", "processing"]


def fill(path: Path, rows: int, seed: int = 0) -> None:
    """Write ``rows`` generations (and their outputs) with the ledger's own schema."""
    from aurous_nb.ledger import Ledger

    Ledger(path).close()  # creates the schema
    rng = random.Random(seed)
    now = time.time()
    gens, outs = [], []
    for i in range(rows):
        gen_id = f"img_{i:026d}"
        status = rng.choice(STATUSES)
        video = rng.random() < 0.1
        lora_id, lora = rng.choice(LORAS)
        count = 1 if video else rng.randint(1, 4)
        price = 0.5 * 1.5 * 5 if video else 1.0 * count
        created = now - rng.random() * 90 * 86400
        terminal = status != "processing"
        charged = (price if status == "succeeded" else 0.0) if terminal else None
        response = json.dumps({"id": gen_id, "status": status, "prompt": f"prompt {i}"})
        gens.append(
            (
                ENV, f"key-{i}", "local", "video" if video else "image", "{}", f"h{i % 5000}",
                "grid.ipynb", None, price, created - 0.1, gen_id, status, f"prompt number {i}",
                lora, lora_id, "720p 16:9" if video else rng.choice(SIZES), 2048, 2048,
                rng.randint(0, 2**31), None if video else count, 5.0 if video else None,
                None if terminal else price, charged, created, created + 12 if terminal else None,
                created + 12, 12000.0, None, None, "2026-05-15", response,
            )
        )  # fmt: skip
        if status == "succeeded" and rng.random() < 0.5:
            for index in range(1 if video else count):
                outs.append((ENV, gen_id, index, f"outputs/{ENV}/{gen_id}/{index}.png",
                             1000, "0" * 64, "image/png", created + 13))  # fmt: skip
    conn = sqlite3.connect(path)
    with conn:
        conn.executemany(
            """INSERT INTO generations (env, idempotency_key, origin, media_type, request,
                request_hash, notebook, cell, estimate, submitted_at, generation_id, status,
                prompt, lora, lora_id, size, width, height, seed, image_count, video_duration,
                held, charged, created_at, completed_at, updated_at, duration_ms, error_code,
                error_message, aurous_version, response)
               VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?,
                       ?, ?, ?, ?, ?, ?, ?)""",
            gens,
        )
        conn.executemany("INSERT INTO outputs VALUES (?, ?, ?, ?, ?, ?, ?, ?)", outs)
    conn.close()


def best_of(repeat: int, func: object) -> tuple[float, float]:
    """Best wall time and best CPU time of ``repeat`` runs (CPU time shrugs off a busy box)."""
    walls, cpus = [], []
    for _ in range(repeat):
        start, start_cpu = time.perf_counter(), time.process_time()
        func()  # type: ignore[operator]
        walls.append(time.perf_counter() - start)
        cpus.append(time.process_time() - start_cpu)
    return min(walls), min(cpus)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()

    import pandas as pd

    from aurous_nb import frames
    from aurous_nb.ledger import Ledger

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "ledger.sqlite3"
        start = time.perf_counter()
        fill(path, args.rows)
        fill_s = time.perf_counter() - start
        ledger = Ledger(path)
        frame = frames.history(ledger=ledger, env=ENV)  # warm: imports, page cache
        assert len(frame) == args.rows, len(frame)
        build_s, build_cpu = best_of(args.repeat, lambda: frames.history(ledger=ledger, env=ENV))
        conn = sqlite3.connect(path)
        plain = pd.read_sql("SELECT * FROM generations WHERE env = ?", conn, params=(ENV,))
        assert len(plain) == args.rows
        read_s, read_cpu = best_of(
            args.repeat,
            lambda: pd.read_sql("SELECT * FROM generations WHERE env = ?", conn, params=(ENV,)),
        )
        conn.close()
        ledger.close()
    print(f"filled {args.rows} rows in {fill_s:.2f} s (not timed below)")
    typed, untyped = len(frame.columns), len(plain.columns)
    print(f"history():       {build_s:.3f} s wall, {build_cpu:.3f} s CPU, {typed} typed columns")
    print(f"pandas.read_sql: {read_s:.3f} s wall, {read_cpu:.3f} s CPU, {untyped} untyped columns")
    print(
        f"history: rows={args.rows} build_s={build_s:.3f} read_sql_s={read_s:.3f} "
        f"ratio={build_s / read_s:.2f} build_cpu_s={build_cpu:.3f} read_sql_cpu_s={read_cpu:.3f}"
    )


if __name__ == "__main__":
    main()

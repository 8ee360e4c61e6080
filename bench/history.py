"""How fast is ``frames.history()`` over a big ledger, next to a plain ``pandas.read_sql``?

Fills a throwaway ledger with N generations (default 100,000; a realistic mix of statuses,
LoRAs, sizes, media types, costs and cached outputs over 90 days), then times, best of
``--repeat`` runs each:

* ``history(ledger=..., env=...)``: the typed frame (UTC datetimes, categories, floats, the
  outputs-cache join), and
* ``pandas.read_sql("SELECT * FROM generations WHERE env = ?")``: the same rows, untyped, and
* ``pandas.read_sql`` of only the columns ``history()`` reads (the strictest comparison).

Wall and CPU time are both reported. CPU time can exceed wall time for ``history()``: its reader
thread scans the next chunk in SQLite (without the GIL) while the caller parses the last one.
The last line is machine-readable:
``history: rows=100000 build_s=0.47 read_sql_s=0.89 ratio=0.53 read_sql_same_columns_s=... ...``
"""

from __future__ import annotations

import argparse
import json
import random
import sqlite3
import tempfile
import time
from pathlib import Path

ENV = "sandbox"
LORAS = [("lora_01WATER", "Watercolor"), ("lora_01NOIR", "Noir"), ("lora_01NEON", "Neon")]
SIZES = ["2k_1_1", "2k_16_9", "4k_1_1", "2k_9_16"]
STATUSES = ["succeeded"] * 16 + ["failed", "cancelled", "moderation_rejected", "processing"]
# A stored request and answer as big as the sandbox's (about 90 and 830 bytes): row width
# decides how many pages a scan reads.
REQUEST = json.dumps({"lora_id": "golden-hour", "prompt": "a lighthouse", "seed": 7, "size": "2k"})
RESPONSE = {
    "object": "inference", "media_type": "image", "created_at": "2026-11-29T08:05:31Z",
    "completed_at": "2026-11-29T08:05:33Z", "error_message": None, "duration_ms": 1604,
    "cost": {"amount": 1, "currency": "credit", "breakdown": {"base": 1}}, "seed": 7,
    "character_id": None, "aurous_version": "2026-05-15",
    "creation_request_id": "req_01M8K5CYTESXE2HKP9HQ0SA0SB", "inference_type": "t2i",
    "negative_prompt": None, "reference_image_urls": [], "width": 2048, "height": 1376,
    "image_count": 1, "size_preset": "2k_3_2", "steps": 30, "guidance_scale": 7.5,
    "cfg_rescale": 0, "denoise_strength": 0.8, "enhance_prompt": False,
    "loras": [{"id": "lora_01JAEM2JJXSAKRTNT69QB3DEFN", "name": "Golden Hour"}],
    "video_duration": None, "video_resolution": None, "video_ratio": None,
    "video_camera_fixed": None,
}  # fmt: skip


def fill(path: Path, rows: int, seed: int = 0) -> None:
    """Write ``rows`` generations (and their outputs) with the ledger's own schema."""
    from aurous_nb.store.ledger import Ledger

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
        response = json.dumps(dict(RESPONSE, id=gen_id, status=status, prompt=f"prompt {i}"))
        gens.append(
            (
                ENV, f"key-{i}", "local", "video" if video else "image", REQUEST, f"h{i % 5000}",
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
        conn.executemany(
            "INSERT INTO outputs (env, generation_id, idx, path, bytes, sha256, content_type, "
            "downloaded_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            outs,
        )
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

    from aurous_nb.analysis import frames
    from aurous_nb.store.ledger import Ledger

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
        every = "SELECT * FROM generations WHERE env = ?"
        same = ", ".join(column.sql for column in frames._history_columns())
        same_sql = f"SELECT {same} FROM generations g WHERE env = ?"
        plain = pd.read_sql(every, conn, params=(ENV,))
        assert len(plain) == args.rows
        read_s, read_cpu = best_of(args.repeat, lambda: pd.read_sql(every, conn, params=(ENV,)))
        same_s, _ = best_of(args.repeat, lambda: pd.read_sql(same_sql, conn, params=(ENV,)))
        conn.close()
        ledger.close()
    print(f"filled {args.rows} rows in {fill_s:.2f} s (not timed below)")
    typed, untyped = len(frame.columns), len(plain.columns)
    print(f"history():       {build_s:.3f} s wall, {build_cpu:.3f} s CPU, {typed} typed columns")
    print(f"pandas.read_sql: {read_s:.3f} s wall, {read_cpu:.3f} s CPU, {untyped} untyped columns")
    print(f"pandas.read_sql: {same_s:.3f} s wall of only the columns history() reads, untyped")
    print(
        f"history: rows={args.rows} build_s={build_s:.3f} read_sql_s={read_s:.3f} "
        f"ratio={build_s / read_s:.2f} read_sql_same_columns_s={same_s:.3f} "
        f"ratio_same_columns={build_s / same_s:.2f} build_cpu_s={build_cpu:.3f}"
    )


if __name__ == "__main__":
    main()

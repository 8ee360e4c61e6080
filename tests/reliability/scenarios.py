"""Reliability scenarios shared by ``tests/reliability`` (small sizes) and ``scripts/soak.py``.

Each scenario runs against the real sandbox over loopback and returns what it measured plus a
list of ``problems`` (empty when every promise held), so a test asserts ``problems == []`` and the
soak run reports the figures.
"""

from __future__ import annotations

import asyncio
import os
import random
import signal
import subprocess
import sys
import textwrap
import time
from collections import Counter
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

import httpx

from aurous_nb.batch import Batch, Job
from aurous_nb.client import AsyncClient, RetryPolicy
from aurous_nb.config import env_for
from aurous_nb.jobspec import grid
from aurous_nb.ledger import Ledger
from aurous_nb.sandbox import Sandbox

ROOT = Path(__file__).resolve().parents[2]

#: Retries for reads (polls) under chaos; creates are retried by the batch engine itself.
CHAOS_POLICY = RetryPolicy(
    max_retries=15,
    budget=90.0,
    backoff_initial=0.05,
    backoff_max=0.4,
    conflict_initial=0.1,
    conflict_max=0.5,
    conflict_retries=40,
)


def server_ledger(sb: Sandbox) -> dict[str, Any]:
    """``GET /_sandbox/ledger``: every generation the sandbox made, totals and chaos counters."""
    return httpx.get(f"{sb.base_url}/_sandbox/ledger", timeout=30).json()  # type: ignore[no-any-return]


@dataclass
class Outcome:
    """What one scenario measured."""

    jobs: int = 0
    faults: int = 0
    duplicates: int = 0
    lost: int = 0
    seconds: float = 0.0
    statuses: dict[str, int] = field(default_factory=dict)
    fault_kinds: dict[str, int] = field(default_factory=dict)
    extra: dict[str, Any] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)


def audit(sb: Sandbox, env: str, keys: list[str], ledger: Ledger, out: Outcome) -> None:
    """The promises every scenario ends with, checked against the sandbox's own ledger.

    One generation per job key (``duplicates`` counts extras), no job without a generation or with
    a non-terminal one (``lost``), credits charged = sum of succeeded costs, nothing held, and the
    local ledger agreeing with the sandbox row for row (id, status, charge).
    """
    book = server_ledger(sb)
    rows = book["generations"]
    totals = book["totals"]
    by_key = Counter(r["idempotency_key"] for r in rows)
    wanted = set(keys)
    out.duplicates = sum(c - 1 for k, c in by_key.items() if c > 1)
    strangers = [k for k in by_key if k not in wanted]
    if strangers:
        out.problems.append(f"{len(strangers)} generations with keys no job owns: {strangers[:3]}")
    missing = [k for k in keys if k not in by_key]
    open_rows = [r for r in rows if r["status"] in ("pending", "queued", "processing")]
    out.lost = len(missing) + len(open_rows)
    if missing:
        out.problems.append(f"{len(missing)} jobs never created: {missing[:3]}")
    if open_rows:
        out.problems.append(f"{len(open_rows)} generations still running on the sandbox")
    if out.duplicates:
        out.problems.append(f"{out.duplicates} duplicate generations")
    succeeded = sum(r["credits_charged"] for r in rows if r["status"] == "succeeded")
    others = sum(r["credits_charged"] for r in rows if r["status"] != "succeeded")
    if abs(totals["credits_charged"] - succeeded) > 1e-6 or others:
        out.problems.append(
            f"charged {totals['credits_charged']} != succeeded costs {succeeded} (+{others})"
        )
    if totals["held_credits"]:
        out.problems.append(f"{totals['held_credits']} credits still held")
    local = {r.key: r for r in ledger.jobs(env) if r.key in wanted}
    for row in rows:
        mine = local.get(row["idempotency_key"])
        if mine is None:
            out.problems.append(f"no local row for {row['id']}")
            continue
        theirs = (row["id"], row["status"], float(row["credits_charged"]))
        ours = (mine.generation_id, mine.status, float(mine.charged or 0.0))
        if ours != theirs:
            out.problems.append(f"local row {ours} != sandbox row {theirs}")
    extra_local = [k for k in local if k not in by_key]
    if extra_local:
        out.problems.append(f"local rows without a generation: {extra_local[:3]}")
    out.statuses = dict(Counter(r["status"] for r in rows))
    chaos = book["chaos"]
    out.faults = int(chaos["injected_total"])
    out.fault_kinds = dict(chaos["injected"])


# -- faults -----------------------------------------------------------------------------------


def fault_sandbox(seed: int, timeout: float) -> Sandbox:
    """30 % of /v1 requests fail in every way the chaos layer knows; delays outlast ``timeout``."""
    return Sandbox(
        latency=0.1,
        latency_spread=0.5,
        time_factor=50.0,
        chaos=0.3,
        chaos_delay=timeout + 0.4,
        failure_rate=0.05,
        seed=seed,
        credits=1_000_000.0,
    )


def fault_jobs(n: int) -> list[Any]:
    """A grid of ``n`` jobs (prompts x counts 1 and 2)."""
    return grid([f"chaos grid {i}" for i in range((n + 1) // 2)], counts=[1, 2])[:n]


def run_faults(n: int, seed: int, home: Path, timeout: float = 1.0) -> Outcome:
    """``n`` grid jobs through the batch engine with the sandbox's chaos at 30 %."""
    out = Outcome(jobs=n)
    started = time.monotonic()
    ledger = Ledger(home / "ledger.sqlite3")
    with fault_sandbox(seed, timeout) as sb:

        async def drive() -> list[Job]:
            async with AsyncClient(
                api_key=sb.api_key, base_url=sb.base_url, timeout=timeout, retry=CHAOS_POLICY
            ) as client:
                batch = Batch(
                    fault_jobs(n),
                    client=client,
                    ledger=ledger,
                    name=f"faults-{seed}",
                    download=False,
                )
                return await batch.run_async()

        jobs = asyncio.run(drive())
        out.seconds = time.monotonic() - started
        not_done = [j for j in jobs if not j.terminal]
        if not_done:
            out.problems.append(f"{len(not_done)} jobs not terminal: {not_done[:3]}")
        gave_up = [j for j in jobs if j.status in ("lost", "rejected") or j.generation_id is None]
        if gave_up:
            out.problems.append(f"{len(gave_up)} jobs gave up: {[j.error for j in gave_up[:3]]}")
        charged = sum(j.charged or 0.0 for j in jobs if j.status == "succeeded")
        out.extra["job_charged"] = charged
        audit(sb, env_for(sb.base_url), [j.key for j in jobs], ledger, out)
        book_charged = server_ledger(sb)["totals"]["credits_charged"]
        if abs(book_charged - charged) > 1e-6:
            out.problems.append(f"jobs say {charged} charged, sandbox says {book_charged}")
        ledger.close()
    return out


# -- restarts ---------------------------------------------------------------------------------

CHILD = textwrap.dedent(
    """
    import sys
    from aurous_nb.batch import Batch
    from aurous_nb.jobspec import grid

    n, slots = int(sys.argv[1]), int(sys.argv[2])
    specs = grid([f"restart {i}" for i in range(n)])
    Batch(specs, name="restarts", max_in_flight=slots).run()
    print("finished", flush=True)
    """
)


def run_restarts(
    n: int,
    kills: int,
    seed: int,
    home: Path,
    *,
    chaos: float = 0.0,
    window: tuple[float, float] = (0.5, 2.0),
    slots: int = 3,
) -> Outcome:
    """A batch in a child process, SIGKILLed ``kills`` times at random points; each time a new
    process resumes from the ledger. The sandbox lives in this process and outlives them all."""
    out = Outcome(jobs=n)
    rng = random.Random(seed)
    started = time.monotonic()
    with Sandbox(
        latency=0.6,
        latency_spread=0.5,
        time_factor=50.0,
        seed=seed,
        chaos=chaos,
        chaos_delay=1.5,
        credits=1_000_000.0,
    ) as sb:
        env = {
            **os.environ,
            "AUROUS_NB_HOME": str(home),
            "AUROUS_API_KEY": sb.api_key,
            "AUROUS_BASE_URL": sb.base_url,
            "AUROUS_NB_AUTO_DOWNLOAD": "0",
            "PYTHONPATH": str(ROOT),
        }
        killed_at: list[int] = []
        for _ in range(kills):
            proc = subprocess.Popen(
                [sys.executable, "-c", CHILD, str(n), str(slots)],
                env=env,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
            )
            time.sleep(rng.uniform(*window))
            if proc.poll() is None:
                proc.send_signal(signal.SIGKILL)
            proc.wait()
            killed_at.append(server_ledger(sb)["totals"]["generation_count"])
        final = subprocess.run(
            [sys.executable, "-c", CHILD, str(n), str(slots)],
            env=env,
            capture_output=True,
            text=True,
            check=False,
        )
        out.seconds = time.monotonic() - started
        if final.returncode != 0 or "finished" not in final.stdout:
            out.problems.append(f"the last run failed: {final.stderr[-800:]}")
        out.extra["generations_when_killed"] = killed_at
        out.extra["kills"] = kills
        ledger = Ledger(home / "ledger.sqlite3")
        keys = [
            r.key
            for r in ledger.jobs()
            if r.key is not None
            and r.request
            and str(r.request.get("prompt", "")).startswith("restart ")
        ]
        if len(keys) != n:
            out.problems.append(f"the ledger has {len(keys)} job rows, expected {n}")
        audit(sb, env_for(sb.base_url), keys, ledger, out)
        ledger.close()
    return out


# -- hostile ids ------------------------------------------------------------------------------


def hostile_ids(rounds: int, seed: int = 13) -> list[str]:
    """``rounds`` generation ids a hostile server might send: traversals of every depth and
    spelling, absolute paths, NULs, over-long and non-ASCII ids."""
    rng = random.Random(seed)
    fixed = ["", "..", "/tmp/abs", "img_", "img_ok\x00", "img_" + "a" * 65, "img_\u0661", "img_a b"]
    out = fixed[:rounds]
    while len(out) < rounds:
        step = rng.choice(["..", "%2e%2e", "\uff0e\uff0e"]) + rng.choice(["/", "\\", "/./"])
        prefix = rng.choice(["", "img_", "vid_", "img_a/"])
        out.append(prefix + step * rng.randint(1, 6) + rng.choice(["outside/x", "x", ""]))
    return out


def run_hostile_ids(rounds: int, home: Path) -> Outcome:
    """Each hostile id answered by a fake API (``hostile.fake_api``) to three paths: a create
    through ``jobs.generate``, ``download_outputs`` of the id, and of a dict carrying it.
    Counted: ``tried`` paths, ``refused`` with a typed error, ``untyped`` errors, files
    ``escaped`` outside the home and witness files ``deleted`` there (every one must be 0)."""
    import hostile

    from aurous_nb import jobs, outputs
    from aurous_nb.client import AurousError, Client

    out = Outcome(jobs=rounds)
    started = time.monotonic()
    deep = home / "a" / "b" / "c" / "d" / "e" / "f" / "home"  # every traversal stays in ``home``
    counts = Counter(tried=0, refused=0, untyped=0, escaped=0, deleted=0)
    ledger = Ledger(deep / "ledger.sqlite3")
    cache = deep / "outputs" / "sandbox"
    for gen_id in hostile_ids(rounds):
        target = Path(os.path.normpath(cache / gen_id.replace("\\", "/")))
        outside = deep not in target.parents and target != deep
        witness = target / "0.jpg"
        if outside and home in target.parents:
            witness.parent.mkdir(parents=True, exist_ok=True)
            witness.write_bytes(b"precious")
        with hostile.Hostile() as server:
            hostile.fake_api(server, gen_id)
            payload = hostile.generation(server, gen_id)
            with Client(api_key="al_live_" + "h" * 40, base_url=server.base_url) as client:
                attempts = [
                    partial(jobs.generate, client, ledger, "image", {"prompt": gen_id}),
                    partial(outputs.download_outputs, client, ledger, gen_id, retries=0),
                    partial(outputs.download_outputs, client, ledger, payload, retries=0),
                ]
                for attempt in attempts:
                    counts["tried"] += 1
                    try:
                        attempt()
                    except AurousError:
                        counts["refused"] += 1
                    except Exception as exc:
                        counts["untyped"] += 1
                        out.problems.append(f"{gen_id!r}: {type(exc).__name__}: {exc}")
        if outside and (target / "0.png").exists():
            counts["escaped"] += 1
            out.problems.append(f"{gen_id!r} wrote {target / '0.png'}")
        if outside and home in target.parents and not witness.exists():
            counts["deleted"] += 1
            out.problems.append(f"{gen_id!r} deleted {witness}")
    ledger.close()
    escaped = [p for p in home.rglob("*.png") if deep not in p.parents]
    counts["escaped"] = max(counts["escaped"], len(escaped))
    if counts["refused"] != counts["tried"]:
        out.problems.append(f"{counts['tried'] - counts['refused']} paths accepted a hostile id")
    out.extra = dict(counts)
    out.seconds = time.monotonic() - started
    return out

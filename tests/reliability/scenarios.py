"""Reliability scenarios shared by ``tests/reliability`` (small sizes) and ``scripts/soak.py``.

Each scenario runs against the real sandbox over loopback and returns what it measured plus a
list of ``problems`` (empty when every promise held), so a test asserts ``problems == []`` and the
soak run reports the figures.
"""

from __future__ import annotations

import asyncio
import contextlib
import io
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

from aurous_nb.client import AsyncClient, RetryPolicy
from aurous_nb.config import env_for
from aurous_nb.sandbox import Sandbox
from aurous_nb.store.ledger import Ledger
from aurous_nb.work.batch import Batch, Job
from aurous_nb.work.spec import grid

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
    from aurous_nb.work.batch import Batch
    from aurous_nb.work.spec import grid

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


# -- lost answers: the server did the work, its answer never arrived ---------------------------


def per_request_duplicates(rows: list[dict[str, Any]], prompts: set[str], out: Outcome) -> None:
    """One generation per *request* (not only per key): a second key for the same request is a
    second purchase. Adds them to ``out.duplicates``; a request never made adds to ``out.lost``."""
    made = Counter(r["prompt"] for r in rows if r["prompt"] in prompts)
    extra = sum(c - 1 for c in made.values() if c > 1)
    never = [p for p in prompts if p not in made]
    out.duplicates += extra
    out.lost += len(never)
    if extra:
        out.problems.append(
            f"{extra} requests bought twice: {[p for p, c in made.items() if c > 1][:3]}"
        )
    if never:
        out.problems.append(f"{len(never)} requests never made: {never[:3]}")


def _local_keys(ledger: Ledger, env: str, prefix: str) -> list[str]:
    return [
        r.key
        for r in ledger.jobs(env)
        if r.key is not None and str((r.request or {}).get("prompt", "")).startswith(prefix)
    ]


def _press_stop() -> Any:
    """A callable that raises KeyboardInterrupt in the main thread, as Stop in a kernel does."""
    import threading

    main = threading.main_thread().ident
    assert main is not None

    def press() -> None:
        signal.pthread_kill(main, signal.SIGINT)

    return press


def run_lost_answers(n: int, seed: int, home: Path) -> Outcome:
    """``n`` cells through ``%aurous generate`` and ``n`` clicks on a GenerationPanel, each
    create's answer lost after the sandbox did the work (connection dropped, 503, or Stop
    pressed while in flight; sometimes twice in a row); then the cell is run again / Generate
    clicked again, as the advice says, and finally ``%aurous jobs --resume``. Audited per key and
    per request: one generation each, every one finished, the local ledger = the sandbox's."""
    from proxy import ipython_shell, open_lossy

    out = Outcome(jobs=2 * n)
    rng = random.Random(seed)
    started = time.monotonic()
    faults: Counter[str] = Counter()
    with (
        open_lossy(home / "ledger.sqlite3", seed=seed) as lossy,
        contextlib.redirect_stdout(io.StringIO()),  # each failed cell prints its error block
    ):
        proxy, s = lossy.proxy, lossy.session
        shell = ipython_shell()

        def spoil(kind: str, stop: Any = None) -> None:
            faults[kind] += 1
            if kind == "stop":
                proxy.arm("delay", "POST", "/v1/images", times=1, seconds=2.0, after_relay=stop)
            else:
                proxy.arm(kind, "POST", "/v1/images")

        for i in range(n):  # the magic
            cell = f'%aurous generate "lost magic {seed} {i}" --seed {i}'
            for attempt in range(3):
                if attempt == 0 or (attempt == 1 and rng.random() < 0.3):
                    spoil(rng.choice(["drop", "503", "stop"]), _press_stop())
                result = shell.run_cell(cell, silent=True)
                proxy.disarm()
                if result.success:
                    break
            else:
                out.problems.append(f"cell {i} never succeeded: {result.error_in_exec!r}")

        async def clicks() -> None:  # the widget
            from aurous_nb.notebook.widgets import GenerationPanel

            loop = asyncio.get_running_loop()
            for i in range(n):
                panel = await GenerationPanel(s, prompt=f"lost panel {seed} {i}", seed=i).ready()
                for attempt in range(3):
                    box: list[Any] = []
                    if attempt == 0 or (attempt == 1 and rng.random() < 0.3):
                        kind = rng.choice(["drop", "503", "stop"])
                        spoil(kind, lambda b=box: loop.call_soon_threadsafe(b[0].task.cancel))
                    box.append(panel.generate())
                    try:
                        await box[0]
                    except (Exception, asyncio.CancelledError):
                        proxy.disarm()
                        continue
                    proxy.disarm()
                    if panel.record is not None and panel.record.status == "succeeded":
                        break
                else:
                    out.problems.append(f"panel {i} never succeeded: {panel.error}")

        loop = asyncio.new_event_loop()
        try:
            loop.run_until_complete(clicks())
        finally:
            loop.run_until_complete(s.aclient.close())
            loop.close()
        shell.run_cell("%aurous jobs --resume", silent=True)
        out.seconds = time.monotonic() - started
        env = s.env
        keys = _local_keys(s.ledger, env, "lost ")
        audit(lossy.sandbox, env, keys, s.ledger, out)
        prompts = {f"lost magic {seed} {i}" for i in range(n)} | {
            f"lost panel {seed} {i}" for i in range(n)
        }
        per_request_duplicates(lossy.book()["generations"], prompts, out)
        out.faults = sum(faults.values())
        out.fault_kinds = dict(faults)
        out.extra["unanswered_left"] = sum(1 for r in s.ledger.jobs(env) if not r.answered)
    return out


def run_give_ups(n: int, seed: int, home: Path, rounds: int = 6) -> Outcome:
    """A batch of ``n`` jobs whose create answers are lost half the time, giving up after one
    re-send (``give_up_after=1``): jobs end ``unknown``, and ``retry_failed()`` re-sends them
    with their own keys, round after round (the proxy healthy in the last). Audited: one
    generation per job and per request, no ``-r`` key, nothing left unknown."""
    from proxy import open_lossy

    out = Outcome(jobs=n)
    started = time.monotonic()
    prompts = [f"give up {seed} {i}" for i in range(n)]
    with open_lossy(home / "ledger.sqlite3", seed=seed) as lossy:
        s = lossy.session
        lossy.proxy.arm("drop", "POST", "/v1/images", chance=0.35)
        lossy.proxy.arm("503", "POST", "/v1/images", chance=0.25)
        batch = Batch(
            grid(prompts),
            client=s.client,
            ledger=s.ledger,
            name=f"give-ups-{seed}",
            give_up_after=1,
            download=False,
        )
        jobs = batch.run()
        unknown = [sum(j.status == "unknown" for j in jobs)]
        for r in range(rounds):
            if not any(j.status == "unknown" for j in jobs):
                break
            if r == rounds - 1:
                lossy.proxy.disarm()
            batch.retry_failed(["unknown"])
            jobs = batch.run()
            unknown.append(sum(j.status == "unknown" for j in jobs))
        out.seconds = time.monotonic() - started
        out.extra["unknown_per_round"] = unknown
        left = [j for j in jobs if not j.terminal]
        if left:
            out.problems.append(f"{len(left)} jobs not terminal: {left[:3]}")
        renamed = [j.key for j in jobs if j.attempt]
        if renamed:
            out.problems.append(f"{len(renamed)} jobs got a new key: {renamed[:3]}")
        audit(lossy.sandbox, s.env, [j.key for j in jobs], s.ledger, out)
        per_request_duplicates(lossy.book()["generations"], set(prompts), out)
        out.faults = lossy.proxy.count(action="drop") + lossy.proxy.count(action="503")
        out.fault_kinds = {
            "drop": lossy.proxy.count(action="drop"),
            "503": lossy.proxy.count(action="503"),
        }
    return out


def run_webhook_downloads(n: int, seed: int, home: Path) -> Outcome:
    """A batch of ``n`` jobs with webhooks and downloads on, a third of the create answers lost
    after the work: every job ends once, its delivery applied, its outputs in the cache with the
    recorded size. A missing or broken output counts as lost."""
    from proxy import open_lossy

    out = Outcome(jobs=n)
    started = time.monotonic()
    prompts = [f"hooked {seed} {i}" for i in range(n)]
    with open_lossy(home / "ledger.sqlite3", seed=seed, credits=1_000_000.0) as lossy:
        s = lossy.session
        lossy.proxy.arm("drop", "POST", "/v1/images", chance=0.3)
        batch = Batch(
            grid(prompts[: (n + 1) // 2], counts=[1, 2])[:n],
            client=s.client,
            ledger=s.ledger,
            name=f"hooks-{seed}",
            download=True,
            webhooks=True,
            give_up_after=4,
        )
        jobs = batch.run()
        for _ in range(3):
            if not any(j.status == "unknown" for j in jobs):
                break
            batch.retry_failed(["unknown"])
            jobs = batch.run()
        out.seconds = time.monotonic() - started
        out.extra["webhooks"] = batch.stats.webhooks
        if not batch.stats.webhooks:
            out.problems.append("no webhook delivery was applied")
        missing = 0
        for j in jobs:
            if j.status != "succeeded" or j.generation_id is None:
                continue
            record = s.ledger.find(j.generation_id, s.env)
            files = s.ledger.outputs(j.generation_id, s.env)
            wanted = record.output_count if record is not None else 1
            if len(files) != wanted or not all(f.is_intact() for f in files):
                missing += 1
        out.extra["outputs_missing"] = missing
        if missing:
            out.problems.append(f"{missing} succeeded jobs without all their outputs cached")
        audit(lossy.sandbox, s.env, [j.key for j in jobs], s.ledger, out)
        out.lost += missing
        out.faults = lossy.proxy.count(action="drop")
        out.fault_kinds = {"drop": out.faults}
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

    from aurous_nb.client import AurousError, Client
    from aurous_nb.store import outputs
    from aurous_nb.work import jobs

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

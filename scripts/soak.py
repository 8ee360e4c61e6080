"""``make soak``: the long reliability run; regenerates RELIABILITY.md and ends with one line.

    soak: jobs=300 faults=NNN duplicates=0 lost=0 bad_inputs=NNNN leaks=0 escaped=0

Stages (each reuses the scenario code of ``tests/reliability``, at full size):

1. faults    300 grid jobs through the batch engine, sandbox chaos at 30 %
2. restarts  a batch process SIGKILLed ten times, resumed from the ledger each time
3. lost      answers lost after the work (fault proxy): the magic and the panel run again,
             Stop pressed mid-create, batches that give up and are retried, webhooks + downloads
4. hostile   ids that are paths, sent by a fake API to three download paths: none escapes
5. bad input the property-based tests with many more examples (client, magics, routes, webhooks)
6. contract  schemathesis against ``/api-spec.json``: examples, coverage, fuzzing and stateful
7. load      50 concurrent clients for 60 s against the sandbox CLI
8. leaks     a notebook, a batch and every error, scanned with the soak's own logs and homes

Exit status 0 only when every promise held. ``--quick`` shrinks every stage (a smoke test of the
script itself).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
SUITE = ROOT / "tests" / "reliability"
sys.path[:0] = [str(SUITE), str(ROOT)]

import contract  # noqa: E402
import leaks  # noqa: E402
import load  # noqa: E402
import scenarios  # noqa: E402


def say(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


def bad_inputs(examples: int) -> tuple[int, dict[str, int], bool]:
    """Run the property-based tests with ``examples`` each; returns (total, by kind, passed)."""
    with tempfile.TemporaryDirectory() as tmp:
        count_file = Path(tmp) / "tally.jsonl"
        env = {
            **os.environ,
            "AUROUS_BAD_INPUT_EXAMPLES": str(examples),
            "AUROUS_BAD_INPUT_COUNT_FILE": str(count_file),
        }
        files = [str(SUITE / "test_bad_input.py"), str(SUITE / "test_webhook_verifier.py")]
        proc = subprocess.run(
            [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *files],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            check=False,
        )
        if proc.returncode != 0:
            say(proc.stdout[-4000:])
        kinds: dict[str, int] = {}
        if count_file.exists():
            for line in count_file.read_text().splitlines():
                for k, v in json.loads(line).items():
                    kinds[k] = kinds.get(k, 0) + v
    return sum(kinds.values()), kinds, proc.returncode == 0


def lost_answers(tmp: Path, args: argparse.Namespace) -> dict[str, scenarios.Outcome]:
    """Stage 3: the fault proxy loses answers after the sandbox did the work."""
    out: dict[str, scenarios.Outcome] = {}
    for name, run, n in (
        ("lost answers", scenarios.run_lost_answers, args.lost),
        ("give-ups", scenarios.run_give_ups, args.lost * 3),
        ("webhooks", scenarios.run_webhook_downloads, args.lost * 3),
    ):
        home = tmp / name.replace(" ", "-")
        os.environ["AUROUS_NB_HOME"] = str(home)
        out[name] = run(n, seed=31, home=home)
    return out


def leak_scan(extra_roots: list[Path], logs: list[str]) -> leaks.Scan:
    """The notebook + batch + errors scenario, and everything this soak wrote or logged."""
    import test_leaks

    from aurous_nb.sandbox import Sandbox

    with tempfile.TemporaryDirectory() as tmp:
        home = Path(tmp)
        old = {k: os.environ.get(k) for k in ("AUROUS_NB_HOME", "AUROUS_NB_AUTO_DOWNLOAD")}
        os.environ.update({"AUROUS_NB_HOME": str(home), "AUROUS_NB_AUTO_DOWNLOAD": "1"})
        errors: list[BaseException] = []
        try:
            with Sandbox(
                latency=0.1, time_factor=50, failure_rate=0.2, chaos=0.1, chaos_delay=3.0
            ) as sb:
                rendered = test_leaks.in_process(sb, home, errors)
                nb = test_leaks.run_notebook(sb, home)
                key = sb.api_key
        finally:
            for k, v in old.items():
                if v is None:
                    os.environ.pop(k, None)
                else:
                    os.environ[k] = v
        scan = test_leaks.scan_everything(key, home, nb, logs, errors, rendered)
    return scan


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--jobs", type=int, default=300)
    p.add_argument("--kills", type=int, default=10)
    p.add_argument("--lost", type=int, default=20, help="cells and clicks whose answers are lost")
    p.add_argument("--examples", type=int, default=1500, help="per property-based test")
    p.add_argument("--contract-seconds", type=float, default=150.0)
    p.add_argument("--load-seconds", type=float, default=60.0)
    p.add_argument("--clients", type=int, default=50)
    p.add_argument("--quick", action="store_true", help="tiny sizes, to try the script")
    p.add_argument("--out", type=Path, default=ROOT / "RELIABILITY.md")
    args = p.parse_args(argv)
    if args.quick:
        args.jobs, args.kills, args.examples, args.lost = 40, 3, 30, 4
        args.contract_seconds, args.load_seconds, args.clients = 10.0, 5.0, 10
    started = time.monotonic()
    results: dict[str, Any] = {}
    ok = True

    with leaks.captured_logs() as logs, tempfile.TemporaryDirectory() as tmp:
        tmp_path = Path(tmp)
        os.environ["AUROUS_NB_AUTO_DOWNLOAD"] = "0"

        say(f"[1/8] faults: {args.jobs} grid jobs, chaos 30 %")
        home = tmp_path / "faults"
        os.environ["AUROUS_NB_HOME"] = str(home)
        faults = scenarios.run_faults(args.jobs, seed=300, home=home)
        results["faults"] = faults
        ok &= not faults.problems
        say(f"      {faults.seconds:.0f}s {faults.statuses} injected {faults.fault_kinds}")

        say(f"[2/8] restarts: {args.kills} SIGKILLs, chaos 10 %")
        home = tmp_path / "restarts"
        restarts = scenarios.run_restarts(
            max(60, args.jobs // 3), args.kills, seed=10, home=home, chaos=0.1
        )
        results["restarts"] = restarts
        ok &= not restarts.problems
        say(f"      {restarts.seconds:.0f}s killed at {restarts.extra['generations_when_killed']}")

        say("[3/8] lost answers: magic, panel, Stop mid-create, give-ups, webhooks + downloads")
        lost = lost_answers(tmp_path, args)
        results["lost"] = lost
        for name, outcome in lost.items():
            ok &= not outcome.problems
            say(
                f"      {name}: {outcome.jobs} jobs {outcome.seconds:.0f}s faults "
                f"{outcome.fault_kinds} duplicates {outcome.duplicates} lost {outcome.lost}"
            )

        say(f"[4/8] hostile ids: {args.jobs} ids x 3 paths")
        hostile_ids = scenarios.run_hostile_ids(args.jobs, tmp_path / "hostile")
        results["hostile"] = hostile_ids
        ok &= not hostile_ids.problems
        say(f"      {hostile_ids.seconds:.0f}s {hostile_ids.extra}")

        say(f"[5/8] bad input: {args.examples} examples per property")
        total, kinds, passed = bad_inputs(args.examples)
        results["bad_inputs"] = (total, kinds, passed)
        ok &= passed
        say(f"      {total} tried {kinds} passed={passed}")

        say(f"[6/8] contract: schemathesis for {args.contract_seconds:.0f}s")
        with contract.contract_sandbox() as sb:
            phases = "examples,coverage,fuzzing,stateful"
            run = contract.run_schemathesis(sb, phases, max_time=args.contract_seconds)
        results["contract"] = run
        ok &= run.ok
        say(f"      {run.cases} cases, {run.failures} failures, {run.errors} errors, ok={run.ok}")
        if not run.ok:
            say(run.report[-6000:])

        say(f"[7/8] load: {args.clients} clients for {args.load_seconds:.0f}s")
        loaded = load.run_load(args.clients, args.load_seconds)
        results["load"] = loaded
        ok &= loaded.alive_after and loaded.error_rate == 0.0
        say(
            f"      {loaded.rate:.0f} req/s, error rate {loaded.error_rate:.4%}, "
            f"p99 {loaded.quantile(0.99) * 1000:.0f} ms, alive={loaded.alive_after}"
        )

        say("[8/8] leaks: notebook, batch, errors, logs, ledgers, files")
        scan = leak_scan([tmp_path], logs.lines)
        for path in leaks.files_under(tmp_path):  # everything the earlier stages wrote
            scan.check(f"soak file {path.name}", path.read_bytes(), "al_live_" + "-" * 64)
            # (each stage's sandbox had its own key: Scan also flags any key-shaped string)
        results["leaks"] = scan
        ok &= not scan.hits
        say(f"      {scan.items} items, {scan.size / 1e6:.1f} MB scanned, {len(scan.hits)} hits")
        for hit in scan.hits[:20]:
            say(f"      LEAK {hit}")

    results["seconds"] = time.monotonic() - started
    counted = [faults, restarts, *lost.values()]
    faults_n = sum(o.faults for o in counted) + args.kills
    line = (
        f"soak: jobs={faults.jobs} faults={faults_n} "
        f"duplicates={sum(o.duplicates for o in counted)} lost={sum(o.lost for o in counted)} "
        f"bad_inputs={total} leaks={len(scan.hits)} escaped={hostile_ids.extra['escaped']}"
    )
    if not args.quick or args.out != ROOT / "RELIABILITY.md":
        args.out.write_text(report(results, line, ok, args), encoding="utf-8")
    named = [("faults", faults), ("restarts", restarts), *lost.items(), ("hostile", hostile_ids)]
    for name, outcome in named:
        for problem in outcome.problems[:10]:
            say(f"PROBLEM {name}: {problem}")
    print(line, flush=True)
    return 0 if ok else 1


def report(r: dict[str, Any], line: str, ok: bool, args: argparse.Namespace) -> str:
    """RELIABILITY.md: what was proved, with this run's figures."""
    f, s, lost = r["faults"], r["restarts"], r["lost"]
    la, gu, wh = lost["lost answers"], lost["give-ups"], lost["webhooks"]
    total, kinds, passed = r["bad_inputs"]
    c, ld, scan = r["contract"], r["load"], r["leaks"]
    when = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())

    def held(problems: list[str]) -> str:
        return "every check held" if not problems else "PROBLEMS: " + "; ".join(problems[:3])

    rows = [
        (
            "Faults",
            f"{f.jobs} grid jobs through the batch engine; sandbox chaos 30 % (500, 503, 429, "
            "response dropped after the work, response delayed past the 1 s client timeout) "
            "and 5 % provider failures. Then: every job terminal, one generation per job key in "
            "`/_sandbox/ledger`, credits charged = sum of succeeded costs, nothing held, the "
            "local ledger = the sandbox row for row (id, status, charge).",
            f"{f.faults} faults injected ({_kv(f.fault_kinds)}); statuses {_kv(f.statuses)}; "
            f"duplicates {f.duplicates}, lost {f.lost}; {f.seconds:.0f} s; {held(f.problems)}",
        ),
        (
            "Restarts",
            f"a batch of {s.jobs} jobs in a child process, SIGKILLed {s.extra.get('kills')} times "
            "at random points (chaos 10 %); each time a new process resumes from the ledger; "
            "the sandbox (in the parent) outlives them all. Same audit as above.",
            f"generations made when each kill landed: {s.extra.get('generations_when_killed')}; "
            f"duplicates {s.duplicates}, lost {s.lost}; {s.faults} chaos faults; "
            f"{s.seconds:.0f} s; {held(s.problems)}",
        ),
        (
            "Lost answers",
            "a loopback fault proxy in front of the sandbox relays each create and then loses "
            "its answer (connection dropped, 503, or Stop pressed while it is in flight; "
            f"sometimes twice in a row): {la.jobs // 2} `%aurous generate` cells run again and "
            f"{la.jobs // 2} GenerationPanel clicks made again, then `%aurous jobs --resume`; a "
            f"batch of {gu.jobs} jobs that gives up after one re-send (`give_up_after=1`) while "
            "about half of the create answers are lost, retried with `retry_failed()` round "
            "after round; "
            f"a batch of {wh.jobs} jobs with webhooks and downloads on while 30 % of create "
            "answers are lost. Audited per key *and per request*: one generation each, every "
            "job ended, no `-r` key, the local ledger = the sandbox row for row, every "
            "succeeded job's outputs cached (a missing one counts as lost).",
            f"magic + panel: faults {_kv(la.fault_kinds)}, duplicates {la.duplicates}, lost "
            f"{la.lost}, {held(la.problems)}; give-ups: unknown per round "
            f"{gu.extra.get('unknown_per_round')}, faults {_kv(gu.fault_kinds)}, duplicates "
            f"{gu.duplicates}, lost {gu.lost}, {held(gu.problems)}; webhooks: "
            f"{wh.extra.get('webhooks')} deliveries applied, {wh.faults} answers dropped, "
            f"outputs missing {wh.extra.get('outputs_missing')}, duplicates {wh.duplicates}, "
            f"lost {wh.lost}, {held(wh.problems)}; "
            f"{la.seconds + gu.seconds + wh.seconds:.0f} s",
        ),
        (
            "Hostile ids",
            f"{r['hostile'].jobs} generation ids a hostile server might send (traversals of "
            "every depth and spelling, absolute paths, NULs, long and non-ASCII ids), answered "
            "by a fake API to a create through `jobs.generate` and to `download_outputs` of the "
            "id and of a dict carrying it; witness files placed where each would land",
            f"{_kv(r['hostile'].extra)}; {r['hostile'].seconds:.0f} s; "
            f"{held(r['hostile'].problems)}",
        ),
        (
            "Concurrency",
            "two kernel processes write one ledger at once and lose no row",
            "tests/test_ledger.py::test_two_processes_write_at_once_and_lose_nothing "
            "(runs in every `make test`)",
        ),
        (
            "Bad input",
            "hypothesis feeds client params (wrong types, huge strings, unicode, negatives, "
            "unknown names), the magics' parser, every sandbox route with a body (junk bytes, "
            "junk JSON, deep nesting, wrong content types), ids and query strings, oversized "
            "uploads, webhook headers and tampered deliveries. Always a typed error naming the "
            "field; never a traceback, a 500 or a hang (10 s timeout).",
            f"{total} bad inputs ({_kv(kinds)}); {'passed' if passed else 'FAILED'}",
        ),
        (
            "Contract",
            "schemathesis (examples, coverage, fuzzing, stateful) against the sandbox's own "
            "`/api-spec.json`; checks: no 500, documented status codes, content types, schemas. "
            "tests/reliability/test_contract.py also proves every route is in the spec and "
            "nothing else is.",
            f"{c.cases} cases, {c.failures} failures, {c.errors} errors, {c.seconds:.0f} s",
        ),
        (
            "Webhooks",
            "any changed byte, foreign secret, flipped signature, stale or future timestamp and "
            "malformed header is refused with a typed error; a rotation's two signatures verify "
            "under either secret; `hmac.compare_digest` over every pair, no early exit",
            "tests/reliability/test_webhook_verifier.py (examples counted under bad input)",
        ),
        (
            "Secrets",
            "the API key (and its random part) and signed output tokens are searched in a real "
            "notebook's outputs, every log record at DEBUG, every exception's text and traceback, "
            "every ledger row, every file under `$AUROUS_NB_HOME` and `build/`, and every file "
            "this soak wrote",
            f"{scan.items} items, {scan.size / 1e6:.1f} MB scanned; {len(scan.hits)} leaks",
        ),
        (
            "Load",
            f"{ld.clients} concurrent clients for {ld.seconds:.0f} s against the sandbox CLI (no "
            "buckets): creates with replays, gets, lists, estimates, balance",
            f"{ld.rate:.0f} requests/s ({ld.requests} requests); error rate "
            f"{ld.error_rate:.4%} (5xx + transport); {ld.client_errors} 4xx; p50 "
            f"{ld.quantile(0.5) * 1000:.0f} ms, p99 {ld.quantile(0.99) * 1000:.0f} ms; "
            f"answering afterwards: {ld.alive_after}",
        ),
    ]
    parts = [
        "# Reliability",
        "",
        f"Regenerated by `make soak` (`scripts/soak.py`) on {when}: Python "
        f"{platform.python_version()}, {os.cpu_count()} CPUs, {r['seconds'] / 60:.1f} min.",
        f"Result: **{'every promise held' if ok else 'SOMETHING FAILED'}**.",
        "",
        "```",
        line,
        "```",
        "",
        "`faults` = chaos faults injected in the faults and restarts stages, answers the fault "
        "proxy lost in the lost-answers stage, plus the SIGKILLs; `duplicates` and `lost` count "
        "all three stages; "
        "`bad_inputs` = property-based examples tried (schemathesis cases are counted apart).",
        "",
        "`make test` runs the same scenarios smaller (tests/reliability, about a minute on 2 "
        "cores): 60 fault jobs, 60 restart jobs with 10 kills, the lost-answer scenarios at 3 to 8 "
        "jobs, 150 examples per property, a 15 s "
        "schemathesis run, the same leak scan.",
        "",
    ]
    for name, how, figures in rows:
        parts += [f"## {name}", "", how, "", f"This run: {figures}.", ""]
    return "\n".join(parts)


def _kv(d: dict[str, Any]) -> str:
    return ", ".join(f"{k} {v}" for k, v in d.items())


if __name__ == "__main__":
    sys.exit(main())

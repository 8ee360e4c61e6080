"""Run schemathesis against a sandbox's ``/api-spec.json`` (shared by the test and the soak).

The CLI is run in a subprocess so a crash in it cannot take the test process down, and because
its console report is what a person reads when it finds something.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

from aurous_nb.sandbox import Sandbox

#: No 500, no answer outside the documented statuses, content types and schemas.
CHECKS = (
    "not_a_server_error,status_code_conformance,content_type_conformance,"
    "response_schema_conformance"
)


def contract_sandbox() -> Sandbox:
    """No buckets, no chaos, room for every create schemathesis can think of."""
    return Sandbox(
        latency=0.05,
        rate_limits=False,
        credits=1e12,
        concurrency_limit=10**9,
        time_factor=50.0,
    )


@dataclass
class ContractRun:
    ok: bool
    cases: int
    failures: int
    errors: int
    seconds: float
    report: str


def st_binary() -> str | None:
    """The schemathesis CLI beside this interpreter (None when not installed)."""
    here = Path(sys.executable).with_name("st")
    return str(here) if here.exists() else shutil.which("st")


def run_schemathesis(sb: Sandbox, phases: str, max_time: float, workers: int = 1) -> ContractRun:
    """``st run`` against ``sb``; ``ok`` when it found no failure and hit no error.

    One worker by default: with several, hypothesis parses lambda sources on parallel threads,
    which CPython 3.11 can fail with a spurious ``SystemError: AST constructor recursion depth
    mismatch`` (python/cpython#106905), an interpreter bug reported as an error of the run.
    The sandbox's key is masked in the report, which a failing test prints.
    """
    import time

    binary = st_binary()
    if binary is None:
        raise RuntimeError("schemathesis is not installed (uv pip install schemathesis)")
    cmd = [
        binary,
        "run",
        f"{sb.base_url}/api-spec.json",
        "--header",
        f"X-Api-Key: {sb.api_key}",
        "--checks",
        CHECKS,
        "--phases",
        phases,
        "--max-time",
        str(int(max_time)),
        "--workers",
        str(workers),
        "--max-redirects",
        "0",
        "--request-timeout",
        "20",
        "--no-color",
    ]
    started = time.monotonic()
    with tempfile.TemporaryDirectory() as scratch:  # st keeps replay files in ./.schemathesis
        proc = subprocess.run(
            cmd,
            cwd=scratch,
            capture_output=True,
            text=True,
            timeout=max_time + 120,
            check=False,
        )
    report = (proc.stdout + proc.stderr).replace(sb.api_key, "<sandbox key>")
    generated = re.search(r"(\d+) generated", report)
    failed = re.search(r"(\d+) found \d+ unique failures", report)
    errored = re.search(r"(\d+) errored", report)
    return ContractRun(
        ok=proc.returncode == 0,
        cases=int(generated.group(1)) if generated else 0,
        failures=int(failed.group(1)) if failed else 0,
        errors=int(errored.group(1)) if errored else 0,
        seconds=time.monotonic() - started,
        report=report,
    )

"""Every code block in the README runs as written.

Each fenced block is preceded by ``<!-- readme-test: NAME -->``; a block without one fails the
first test, so a new example cannot slip in untested.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
FENCE = re.compile(r"^```(\w*)\n(.*?)^```", re.S | re.M)
MARKED = re.compile(
    r"<!-- readme-test: (?P<name>[\w-]+) -->\n```(?P<lang>\w+)\n(?P<code>.*?)^```", re.S | re.M
)
READY = re.compile(r"ready at (http://\S+)")
KEY = "al_live_" + "c" * 64

# Runs cells in a real IPython shell (magics, top-level await): the block, then checks.
IPYTHON_RUNNER = """
import sys
from IPython.testing.globalipapp import start_ipython
shell = start_ipython()
for cell in sys.argv[1:]:
    result = shell.run_cell(cell)
    if not result.success:
        sys.exit(f"cell failed: {result.error_in_exec or result.error_before_exec!r}")
"""


def readme_blocks() -> dict[str, str]:
    return {m["name"]: m["code"] for m in MARKED.finditer(README.read_text())}


def clean_env(home: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("AUROUS_")}
    env["AUROUS_NB_HOME"] = str(home)
    env["MPLBACKEND"] = "Agg"
    return env


def run_ipython(cells: list[str], home: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", IPYTHON_RUNNER, *cells],
        cwd=home,
        env=clean_env(home),
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_every_code_block_is_marked_and_tested() -> None:
    text = README.read_text()
    fences = FENCE.findall(text)
    marked = MARKED.findall(text)
    assert len(fences) == len(marked) > 0
    names = [m[0] for m in marked]
    assert len(names) == len(set(names))
    tested = {"setup", "magics-tour", "widgets-tour", "frames-tour", "cli", "curl-quickstart"}
    assert set(names) == tested | {"python-quickstart", "diagram"}


def test_setup_is_the_two_make_targets_ci_runs() -> None:
    commands = [line.split("#")[0].strip() for line in readme_blocks()["setup"].splitlines()]
    assert commands == ["make demo", "make test"]
    makefile = (ROOT / "Makefile").read_text()
    assert re.search(r"^demo:", makefile, re.M) and re.search(r"^test:", makefile, re.M)
    ci = [
        line
        for line in (ROOT / ".ci" / "run").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]
    assert ci[-1].strip() == "make test"
    assert not any("make" in line for line in ci[:-1]), "CI runs make test and nothing else"


def test_cli_block_prints_what_the_readme_shows() -> None:
    block = readme_blocks()["cli"].splitlines()
    command, shown = block[0].split(), block[1].lstrip("# ")
    assert command[1:4] == ["-m", "aurous_nb.sandbox", "--port"]
    proc = subprocess.Popen(
        [sys.executable, *command[1:3], "--port", "0"], stdout=subprocess.PIPE, text=True
    )
    try:
        assert proc.stdout is not None
        printed = proc.stdout.readline().strip()
    finally:
        proc.terminate()
        proc.wait(timeout=10)
    assert re.sub(r":\d+", ":PORT", printed.split("api key:")[0]) == re.sub(
        r":\d+", ":PORT", shown.split("api key:")[0]
    )
    assert re.sub(r"al_live_\S+", "al_live_…", printed).split("…")[-1] == shown.split("…")[-1]


def test_curl_quickstart_against_the_cli_sandbox(tmp_path: Path) -> None:
    server = subprocess.Popen(
        [sys.executable, "-m", "aurous_nb.sandbox", "--port", "0", "--api-key", KEY],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert server.stdout is not None
        match = READY.search(server.stdout.readline())
        assert match, "the sandbox CLI did not print its base URL"
        env = {**os.environ, "AUROUS_BASE_URL": match.group(1), "AUROUS_API_KEY": KEY}
        script = "set -euo pipefail\n" + readme_blocks()["curl-quickstart"]
        run = subprocess.run(
            ["bash", "-c", script],
            cwd=tmp_path,
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert run.returncode == 0, run.stderr
    finally:
        server.terminate()
        server.wait(timeout=10)
    assert '"available_credits":1000' in run.stdout.replace(" ", "")
    assert '"estimated_cost"' in run.stdout
    from PIL import Image

    with Image.open(tmp_path / "lighthouse.png") as img:
        assert img.format == "PNG" and img.size == (2048, 2048)
    assert KEY not in run.stdout + run.stderr


def test_python_quickstart(tmp_path: Path) -> None:
    run = subprocess.run(
        [sys.executable, "-c", readme_blocks()["python-quickstart"]],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
        env=clean_env(tmp_path),
    )
    assert run.returncode == 0, run.stderr
    assert run.stdout.split() == [
        *("1000", "1", "succeeded", "2048", "2048", "True"),
        *("succeeded", "[True]"),
    ]


def test_magics_tour(tmp_path: Path) -> None:
    check = (
        "from aurous_nb import session\n"
        "assert session.current().synthetic\n"
        "done = session.current().ledger.jobs()\n"
        "assert [j.status for j in done] == ['succeeded'], done\n"
    )
    run = run_ipython([readme_blocks()["magics-tour"], check], tmp_path)
    assert run.returncode == 0, run.stdout + run.stderr
    assert "Estimate: 2 credits" in run.stdout


def test_widgets_tour(tmp_path: Path) -> None:
    check = (
        "frame = grid.to_dataframe()\n"
        "assert len(frame) == 12 and set(frame['status']) == {'succeeded'}, frame\n"
        "assert panel.request()['prompt'] == 'a lighthouse on a cliff at dusk'\n"
    )
    run = run_ipython([readme_blocks()["widgets-tour"], check], tmp_path)
    assert run.returncode == 0, run.stdout + run.stderr


def test_frames_tour(tmp_path: Path) -> None:
    run = subprocess.run(
        [sys.executable, "-c", readme_blocks()["frames-tour"]],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
        env=clean_env(tmp_path),
    )
    assert run.returncode == 0, run.stderr
    rows, rest = run.stdout.split(" ", 1)
    assert rows == "1"
    assert "'cost'" in rest and "'estimate'" in rest


def test_design_diagram_names_real_modules() -> None:
    layer = ""
    named: list[Path] = []
    for line in readme_blocks()["diagram"].splitlines():
        head = re.match(r"\s*([a-z]+)/\s", line)
        if head and line.count("<-") <= 1 and not line.lstrip().startswith("HTTP"):
            layer = head.group(1)
            named.append(ROOT / "aurous_nb" / layer)
            body = line.split("<-")[0][head.end() :]
            for word in re.findall(r"\b([a-z]+)(/?)(?=\s|$)", body):
                name, folder = word
                if layer != "client":
                    named.append(ROOT / "aurous_nb" / layer / (name + (folder or ".py")))
    missing = [str(p.relative_to(ROOT)) for p in named if not p.exists()]
    assert missing == []
    layers = {p.name for p in named if p.parent == ROOT / "aurous_nb"}
    assert layers == {"notebook", "analysis", "work", "store", "client"}


@pytest.mark.parametrize("name", sorted(readme_blocks()))
def test_readme_blocks_hold_no_key(name: str) -> None:
    assert not re.search(r"al_live_[0-9a-f]{64}", readme_blocks()[name])

"""The README's code blocks run as written: each one marked ``<!-- readme-test: NAME -->``."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

README = Path(__file__).resolve().parents[1] / "README.md"
BLOCK = re.compile(
    r"<!-- readme-test: (?P<name>[\w-]+) -->\n```(?P<lang>\w+)\n(?P<code>.*?)```", re.S
)
READY = re.compile(r"ready at (http://\S+)")


def readme_blocks() -> dict[str, str]:
    return {m["name"]: m["code"] for m in BLOCK.finditer(README.read_text())}


def test_readme_marks_the_blocks_it_promises() -> None:
    assert {"curl-quickstart", "python-quickstart"} <= set(readme_blocks())


def test_curl_quickstart_against_the_cli_sandbox(tmp_path: Path) -> None:
    key = "al_live_" + "c" * 64
    server = subprocess.Popen(
        [sys.executable, "-m", "aurous_nb.sandbox", "--port", "0", "--api-key", key],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert server.stdout is not None
        match = READY.search(server.stdout.readline())
        assert match, "the sandbox CLI did not print its base URL"
        env = {**os.environ, "AUROUS_BASE_URL": match.group(1), "AUROUS_API_KEY": key}
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
    png = (tmp_path / "lighthouse.png").read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    from PIL import Image

    with Image.open(tmp_path / "lighthouse.png") as img:
        assert img.size == (2048, 2048)
    assert key not in run.stdout + run.stderr


def test_python_quickstart(tmp_path: Path) -> None:
    run = subprocess.run(
        [sys.executable, "-c", readme_blocks()["python-quickstart"]],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
        env={k: v for k, v in os.environ.items() if not k.startswith("AUROUS_")},
    )
    assert run.returncode == 0, run.stderr
    lines = run.stdout.split()
    assert lines[:2] == ["1000", "1"]
    assert lines[2:] == ["succeeded", "2048", "2048", "True"]


@pytest.mark.parametrize("name", ["curl-quickstart", "python-quickstart"])
def test_readme_blocks_hold_no_key(name: str) -> None:
    assert not re.search(r"al_live_[0-9a-f]{64}", readme_blocks()[name])

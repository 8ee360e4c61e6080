"""The three ways to start the sandbox: the CLI, the context manager, and start()/stop()."""

from __future__ import annotations

import re
import signal
import subprocess
import sys
import time

import httpx
import pytest

from aurous_nb import Sandbox

READY = re.compile(r"ready at (http://127\.0\.0\.1:(\d+))\s+api key: (\S+)")


def _start_cli(*args: str) -> tuple[subprocess.Popen[str], re.Match[str]]:
    proc = subprocess.Popen(
        [sys.executable, "-m", "aurous_nb.sandbox", "--port", "0", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    assert proc.stdout is not None
    deadline = time.monotonic() + 20
    line = ""
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        match = READY.search(line)
        if match:
            return proc, match
        if proc.poll() is not None:
            break
    proc.kill()
    pytest.fail(f"sandbox CLI never became ready: {line!r}")


def _stop_cli(proc: subprocess.Popen[str]) -> int:
    proc.send_signal(signal.SIGINT)
    return proc.wait(timeout=10)


def test_cli_generates_and_prints_a_key_and_serves_it() -> None:
    proc, match = _start_cli("--credits", "250")
    try:
        base_url, key = match.group(1), match.group(3)
        assert re.fullmatch(r"al_live_[0-9a-f]{64}", key)
        r = httpx.get(f"{base_url}/v1/balance", headers={"X-Api-Key": key})
        assert r.status_code == 200
        assert r.json()["credits"] == 250
        assert httpx.get(f"{base_url}/v1/balance").status_code == 401
    finally:
        code = _stop_cli(proc)
    assert code == 0, "Ctrl-C must stop the CLI cleanly"
    output = proc.stdout.read() if proc.stdout else ""
    assert "Traceback" not in output


def test_cli_never_prints_a_key_it_was_given() -> None:
    key = "al_live_" + "ab" * 32
    proc, match = _start_cli("--api-key", key)
    try:
        assert key not in match.group(0)
        r = httpx.get(f"{match.group(1)}/v1/team", headers={"Authorization": f"Bearer {key}"})
        assert r.status_code == 200
    finally:
        _stop_cli(proc)


def test_context_manager_serves_on_an_ephemeral_port_and_stops() -> None:
    with Sandbox(latency=0.1, credits=42) as sb:
        assert sb.running
        r = httpx.get(f"{sb.base_url}/v1/balance", headers={"X-Api-Key": sb.api_key})
        assert r.json()["available_credits"] == 42
        url = sb.base_url
    assert not sb.running
    with pytest.raises(httpx.ConnectError):
        httpx.get(f"{url}/v1/balance", timeout=2)


def test_start_stop_by_hand_and_two_side_by_side() -> None:
    a = Sandbox(credits=1).start()
    b = Sandbox(credits=2).start()
    try:
        assert a.base_url != b.base_url
        assert a.api_key != b.api_key
        ra = httpx.get(f"{a.base_url}/v1/balance", headers={"X-Api-Key": a.api_key})
        rb = httpx.get(f"{b.base_url}/v1/balance", headers={"X-Api-Key": b.api_key})
        assert (ra.json()["credits"], rb.json()["credits"]) == (1, 2)
        assert (
            httpx.get(f"{a.base_url}/v1/balance", headers={"X-Api-Key": b.api_key}).status_code
            == 401
        )
    finally:
        a.stop()
        b.stop()
        b.stop()  # idempotent


def test_repr_never_shows_the_key() -> None:
    sb = Sandbox()
    assert sb.api_key not in repr(sb)
    with pytest.raises(RuntimeError, match="not running"):
        _ = sb.base_url


def test_unknown_option_is_a_clear_error() -> None:
    with pytest.raises(TypeError, match="latencyy"):
        Sandbox(latencyy=1)


def test_cli_help_lists_every_option() -> None:
    out = subprocess.run(
        [sys.executable, "-m", "aurous_nb.sandbox", "--help"], capture_output=True, text=True
    ).stdout
    for flag in (
        "--port",
        "--api-key",
        "--credits",
        "--latency",
        "--seed",
        "--chaos",
        "--time-factor",
    ):
        assert flag in out

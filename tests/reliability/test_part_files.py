"""A kernel killed mid-download leaves a hidden part-file in the outputs cache; the next session
sweeps it (once it is old enough to belong to no running download), and so does the next
download of that generation.

The kill is real: ``%aurous get`` runs in a subprocess whose output URLs point at a loopback
proxy that sends half of the image and then stalls; the subprocess is killed with SIGKILL once
its part-file exists.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest
from IPython.core.interactiveshell import InteractiveShell

from aurous_nb.client import Client
from aurous_nb.sandbox import Sandbox
from tests.magic_cells import aurous_shell

HOUR = 3600.0


class Stall:
    """A loopback proxy for output downloads: sends half the body, then holds the line until
    ``release`` (after which it passes answers through whole)."""

    def __init__(self) -> None:
        self.target = ""
        self.released = threading.Event()
        stall = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                upstream = httpx.get(stall.target + self.path)
                body = upstream.content
                self.send_response(upstream.status_code)
                for name in ("content-type", "etag", "cache-control"):
                    if name in upstream.headers:
                        self.send_header(name, upstream.headers[name])
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                if stall.released.is_set():
                    self.wfile.write(body)
                    return
                self.wfile.write(body[: len(body) // 2])
                self.wfile.flush()
                stall.released.wait(60)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.released.set()
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def stall() -> Iterator[Stall]:
    proxy = Stall()
    yield proxy
    proxy.close()


@pytest.fixture
def sandbox(stall: Stall) -> Iterator[Sandbox]:
    with Sandbox(latency=0.05, credits=100, public_base_url=stall.url) as sb:
        stall.target = sb.base_url
        yield sb


KILLED_GET = textwrap.dedent(
    """
    import sys
    from IPython.core.interactiveshell import InteractiveShell
    shell = InteractiveShell.instance()
    shell.run_cell("%load_ext aurous_nb")
    shell.run_cell("%aurous connect")
    shell.run_cell("%aurous get " + sys.argv[1])
    """
)


def orphans(home: Path) -> list[Path]:
    return sorted(p for p in (home / "outputs").rglob("*") if p.name.endswith(".part"))


def killed_mid_download(home: Path, sb: Sandbox) -> str:
    """A succeeded generation whose download a killed kernel left half done; its id."""
    with Client(api_key=sb.api_key, base_url=sb.base_url) as client:
        gen_id = client.images.generate("a red fox").id
    env = {
        **os.environ,
        "AUROUS_NB_HOME": str(home),
        "AUROUS_API_KEY": sb.api_key,
        "AUROUS_BASE_URL": sb.base_url,
        "AUROUS_NB_AUTO_DOWNLOAD": "1",
        "IPYTHONDIR": str(home / "ipython"),
    }
    proc = subprocess.Popen([sys.executable, "-c", KILLED_GET, gen_id], env=env)
    try:
        for _ in range(600):
            if orphans(home):  # the body has started (httpx hands it on in 64 KiB chunks)
                break
            if proc.poll() is not None:
                pytest.fail(f"the download ended (rc={proc.returncode}) before it could be killed")
            time.sleep(0.05)
        else:
            pytest.fail("no part-file appeared")
    finally:
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
    return gen_id


def age(paths: list[Path], seconds: float) -> None:
    then = time.time() - seconds
    for p in paths:
        os.utime(p, (then, then))


@pytest.fixture
def ip(home: Path) -> Iterator[InteractiveShell]:
    with aurous_shell() as shell:
        yield shell


def connect(ip: InteractiveShell, sb: Sandbox, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AUROUS_API_KEY", sb.api_key)
    monkeypatch.setenv("AUROUS_BASE_URL", sb.base_url)
    assert ip.run_cell("%aurous connect").success


def test_the_next_session_sweeps_what_a_killed_download_left(
    ip, home, sandbox, stall, monkeypatch
) -> None:
    killed_mid_download(home, sandbox)
    left = orphans(home)
    assert len(left) == 1
    age(left, 2 * HOUR)  # old enough to belong to no running download
    stall.released.set()
    connect(ip, sandbox, monkeypatch)
    assert ip.run_cell("%aurous balance").success  # a session's first use of the ledger
    assert orphans(home) == []


def test_downloading_again_sweeps_the_orphan_and_keeps_a_young_one(
    ip, home, sandbox, stall, monkeypatch
) -> None:
    gen_id = killed_mid_download(home, sandbox)
    (old,) = orphans(home)
    age([old], 2 * HOUR)
    young = old.with_name(old.name.replace(".part", ".young.part", 1))
    young.write_bytes(b"another kernel is still writing this")
    stall.released.set()
    monkeypatch.setenv("AUROUS_NB_AUTO_DOWNLOAD", "1")
    connect(ip, sandbox, monkeypatch)
    assert ip.run_cell(f"%aurous get {gen_id}").success
    assert orphans(home) == [young]
    assert len([p for p in old.parent.iterdir() if not p.name.startswith(".")]) == 1  # 0.png

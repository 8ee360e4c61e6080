"""Shared fixtures: real sandboxes on loopback, an httpx client, and a webhook receiver."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
import pytest
from sandbox_testkit import Hit, Receiver, make_client

from aurous_nb.sandbox import Sandbox


@pytest.fixture(scope="session")
def sb() -> Iterator[Sandbox]:
    """A fast, roomy sandbox shared by most tests (nothing here depends on exact balances)."""
    with Sandbox(latency=0.15, credits=100_000, time_factor=50, seed=1) as sandbox:
        yield sandbox


@pytest.fixture(scope="session")
def api(sb: Sandbox) -> Iterator[httpx.Client]:
    with make_client(sb) as client:
        yield client


@pytest.fixture(scope="session")
def slow_api() -> Iterator[httpx.Client]:
    """Generations that take a minute, for tests that must catch them still running."""
    with Sandbox(latency=60, credits=100_000, seed=2) as sandbox, make_client(sandbox) as client:
        yield client


@pytest.fixture(scope="session")
def receiver() -> Iterator[Receiver]:
    box: dict[str, Receiver] = {}

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            rec = box["r"]
            body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            rec.hits.append(Hit(self.path, {k.lower(): v for k, v in self.headers.items()}, body))
            status = 200
            if self.path.startswith("/slow"):
                with rec.lock:
                    rec.in_flight += 1
                    rec.max_in_flight = max(rec.max_in_flight, rec.in_flight)
                time.sleep(0.3)
                with rec.lock:
                    rec.in_flight -= 1
            elif self.path.startswith("/fail"):
                status = 500
            elif self.path.startswith("/flaky") and len(rec.on(self.path)) <= 2:
                status = 503
            self.send_response(status)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    box["r"] = Receiver(f"http://127.0.0.1:{server.server_address[1]}")
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield box["r"]
    server.shutdown()
    server.server_close()

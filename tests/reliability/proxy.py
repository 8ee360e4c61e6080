"""A loopback fault proxy in front of the sandbox: faults *after the server did the work*.

The sandbox's own chaos layer fails requests at random; these tests need one chosen request to be
done by the server and its answer lost (dropped, turned into a 503, delayed past an interrupt).
``FaultProxy`` relays HTTP/1.1 to the sandbox on a daemon thread; armed :class:`Rule` s pick the
requests to spoil (method, path prefix, how many times). Every relayed request is logged, so a
test counts what reached the server instead of timing anything.

    with FaultProxy(sandbox.base_url) as proxy:
        proxy.arm("drop", "POST", "/v1/images")       # every create: done, answer lost
        ...
        proxy.disarm()
"""

from __future__ import annotations

import http.client
import json
import random
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import TracebackType
from typing import Any
from urllib.parse import urlsplit

import httpx

from aurous_nb.client import Client, RetryPolicy
from aurous_nb.notebook.session import Session
from aurous_nb.sandbox import Sandbox

__all__ = ["ACTIONS", "QUICK_RETRIES", "FaultProxy", "Lossy", "Rule", "ipython_shell", "open_lossy"]

#: ``drop``: relay, then close without answering; ``503``: relay, then answer 503;
#: ``delay``: relay, wait ``seconds``, then answer; ``lose``: close without relaying (the server
#: never sees it).
ACTIONS = ("drop", "503", "delay", "lose")
_HOP = {"connection", "keep-alive", "transfer-encoding", "content-length", "proxy-connection"}


@dataclass
class Rule:
    """Spoil matching requests: ``times`` of them (``None``: until disarmed). ``path`` is a
    prefix, or with a trailing ``$`` the whole path.

    ``after_relay`` runs once the server has answered and before the client hears anything
    (where a test presses Stop).
    """

    action: str
    method: str | None = None
    path: str | None = None
    times: int | None = None
    seconds: float = 0.0
    after_relay: Callable[[], None] | None = None
    chance: float = 1.0  # of spoiling each matching request (the proxy's seeded dice)

    def matches(self, method: str, path: str) -> bool:
        if self.times is not None and self.times <= 0:
            return False
        return (self.method is None or method == self.method) and (
            self.path is None
            or (path == self.path[:-1] if self.path.endswith("$") else path.startswith(self.path))
        )


class FaultProxy:
    """HTTP relay on ``127.0.0.1:<free port>`` to ``upstream``; ``url`` is its base URL."""

    def __init__(self, upstream: str, *, seed: int = 0) -> None:
        self._dice = random.Random(seed)
        parts = urlsplit(upstream)
        self._host, self._port = parts.hostname or "127.0.0.1", parts.port or 80
        self._prefix = parts.path.rstrip("/")
        self._rules: list[Rule] = []
        self._lock = threading.Lock()
        #: (method, path, action) of every request, in arrival order (action "pass" when relayed)
        self.log: list[tuple[str, str, str]] = []
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # -- rules ---------------------------------------------------------------------------------

    def arm(
        self,
        action: str,
        method: str | None = None,
        path: str | None = None,
        *,
        times: int | None = None,
        seconds: float = 0.0,
        after_relay: Callable[[], None] | None = None,
        chance: float = 1.0,
    ) -> Rule:
        if action not in ACTIONS:
            raise ValueError(f"action must be one of {ACTIONS}, not {action!r}")
        rule = Rule(action, method, path, times, seconds, after_relay, chance)
        with self._lock:
            self._rules.append(rule)
        return rule

    def disarm(self) -> None:
        with self._lock:
            self._rules.clear()

    def _take(self, method: str, path: str) -> Rule | None:
        with self._lock:
            for rule in self._rules:
                if rule.matches(method, path):
                    if rule.chance < 1.0 and self._dice.random() >= rule.chance:
                        continue
                    if rule.times is not None:
                        rule.times -= 1
                    return rule
        return None

    def count(
        self, method: str | None = None, path: str | None = None, action: str | None = None
    ) -> int:
        """How many logged requests match (``path`` is a prefix)."""
        return sum(
            (method is None or m == method)
            and (path is None or p.startswith(path))
            and (action is None or a == action)
            for m, p, a in list(self.log)
        )

    # -- life ----------------------------------------------------------------------------------

    @property
    def url(self) -> str:
        assert self._server is not None, "start() the proxy first"
        return f"http://127.0.0.1:{self._server.server_address[1]}{self._prefix}"

    def start(self) -> FaultProxy:
        proxy = self

        class Handler(_Relay):
            owner = proxy

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def __enter__(self) -> FaultProxy:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


#: Quick client retries, so a create whose every answer is lost gives up in well under a second
#: (the retries still carry the create's own key).
QUICK_RETRIES = RetryPolicy(max_retries=2, backoff_initial=0.02, backoff_max=0.05)


@dataclass
class Lossy:
    """A sandbox, the fault proxy in front of it, and a session whose client talks to the proxy."""

    sandbox: Sandbox
    proxy: FaultProxy
    session: Session

    def book(self) -> dict[str, Any]:
        """``/_sandbox/ledger``: the sandbox's own accounting (read directly, not via the proxy)."""
        url = f"{self.sandbox.base_url}/_sandbox/ledger"
        return httpx.get(url, timeout=30).json()  # type: ignore[no-any-return]

    def totals(self) -> tuple[int, float]:
        """(generations created, credits charged), as the sandbox counts them."""
        totals = self.book()["totals"]
        return int(totals["generation_count"]), float(totals["credits_charged"])


@contextmanager
def open_lossy(
    ledger_path: Path | None = None, *, seed: int = 0, **sandbox: Any
) -> Iterator[Lossy]:
    """A fresh sandbox behind a :class:`FaultProxy`, installed as the current session."""
    from aurous_nb.notebook import session as sessions
    from aurous_nb.store.ledger import Ledger

    options = {"latency": 0.1, "latency_spread": 0.0, "credits": 100_000, "time_factor": 20}
    with Sandbox(**{**options, **sandbox}) as sb, FaultProxy(sb.base_url, seed=seed) as proxy:
        client = Client(api_key=sb.api_key, base_url=proxy.url, retry=QUICK_RETRIES)
        ledger = Ledger(ledger_path) if ledger_path is not None else None
        s = Session(client, key_source="sandbox", ledger=ledger)
        sessions._set_current(s)
        try:
            yield Lossy(sb, proxy, s)
        finally:
            sessions._set_current(None)
            s.close()


def ipython_shell() -> Any:
    """The process's IPython shell with ``%aurous`` loaded (on the current session)."""
    from IPython.core.interactiveshell import InteractiveShell

    ip = InteractiveShell.instance()
    if "aurous" not in ip.magics_manager.magics["line"]:
        ip.run_cell("%load_ext aurous_nb", store_history=False)
    return ip


class _Relay(BaseHTTPRequestHandler):
    owner: FaultProxy
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: object) -> None:  # quiet
        return

    def _relay(self) -> None:
        proxy = self.owner
        method, path = self.command, self.path
        length = int(self.headers.get("content-length") or 0)
        body = self.rfile.read(length) if length else b""
        rule = proxy._take(method, path.split("?", 1)[0])
        action = rule.action if rule is not None else "pass"
        proxy.log.append((method, path.split("?", 1)[0], action))
        if action == "lose":
            self.close_connection = True
            return
        headers = {k: v for k, v in self.headers.items() if k.lower() not in _HOP}
        upstream = http.client.HTTPConnection(proxy._host, proxy._port, timeout=60)
        try:
            upstream.request(method, path, body=body or None, headers=headers)
            answer = upstream.getresponse()
            status, reason, content = answer.status, answer.reason, answer.read()
            answer_headers = [(k, v) for k, v in answer.getheaders() if k.lower() not in _HOP]
        finally:
            upstream.close()
        if rule is not None and rule.after_relay is not None:
            rule.after_relay()
        if action == "drop":
            self.close_connection = True
            return
        if action == "503":
            status, reason = 503, "Service Unavailable"
            content = json.dumps(
                {
                    "error": {
                        "type": "api_error",
                        "code": "provider_unavailable",
                        "message": "the proxy lost the answer (the server did the work)",
                    }
                }
            ).encode()
            answer_headers = [("content-type", "application/json")]
        if action == "delay":
            time.sleep(rule.seconds if rule is not None else 0.0)
        try:
            self.send_response(status, reason)
            for k, v in answer_headers:
                self.send_header(k, v)
            self.send_header("content-length", str(len(content)))
            self.end_headers()
            self.wfile.write(content)
        except OSError:  # the client gave up waiting (a delay past its interrupt or timeout)
            self.close_connection = True

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _relay

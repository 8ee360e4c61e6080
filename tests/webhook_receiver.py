"""The tests' one webhook receiver: a loopback HTTP server that records every delivery and
answers by path, so a test can make its endpoint fail, flap or hang.

(The package's own :class:`aurous_nb.work.receiver.WebhookReceiver` answers every delivery 204 and
hands on only the parsed payload: right for a batch, too little for testing a sender.)
"""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

__all__ = ["Hit", "Receiver"]


@dataclass
class Hit:
    """One delivery as it arrived: the path, the headers (lower-case names) and the raw body."""

    path: str
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


class Receiver:
    """Records deliveries in ``hits`` and answers by the path's first segment:

    ``/fail...`` 500; ``/flaky...`` 503 for its first two deliveries, then 200; ``/slow...``
    holds the answer 0.3 s, counting deliveries held at once (``in_flight``, ``max_in_flight``);
    anything else 200. Give each test its own path and read it with :meth:`on`.
    """

    def __init__(self) -> None:
        self.hits: list[Hit] = []
        self.lock = threading.Lock()
        self.in_flight = 0
        self.max_in_flight = 0
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"
        threading.Thread(target=self._server.serve_forever, daemon=True).start()

    def on(self, path: str) -> list[Hit]:
        with self.lock:
            return [h for h in self.hits if h.path == path]

    def wait(self, path: str, n: int = 1, timeout: float = 10.0) -> list[Hit]:
        """The deliveries to ``path`` once there are ``n`` (fewer if ``timeout`` passes first)."""
        deadline = time.monotonic() + timeout
        while len(self.on(path)) < n and time.monotonic() < deadline:
            time.sleep(0.02)
        return self.on(path)

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def _answer(self, hit: Hit) -> int:
        with self.lock:
            self.hits.append(hit)
            earlier = sum(h.path == hit.path for h in self.hits) - 1
        if hit.path.startswith("/slow"):
            with self.lock:
                self.in_flight += 1
                self.max_in_flight = max(self.max_in_flight, self.in_flight)
            time.sleep(0.3)
            with self.lock:
                self.in_flight -= 1
        elif hit.path.startswith("/fail"):
            return 500
        elif hit.path.startswith("/flaky") and earlier < 2:
            return 503
        return 200

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                headers = {k.lower(): v for k, v in self.headers.items()}
                self.send_response(receiver._answer(Hit(self.path, headers, body)))
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                pass

        return Handler

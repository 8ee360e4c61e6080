"""A hostile HTTP server on loopback, for the answers the sandbox never gives.

Each route answers with a *script*: an iterable of ``bytes`` (written as they come) and
``float`` (seconds to pause), so a test can send a traversal id, a 300 MB body, a broken gzip
stream or a slow drip. The server counts what it was asked (``requests``), what it wrote
(``sent``) and what it still meant to write when the client hung up (``unsent``).

``fake_api`` adds just enough of the API (create, get, estimate, balance, pricing, LoRAs, one
PNG output) for the magics to buy a generation whose id the test chooses.
"""

from __future__ import annotations

import contextlib
import gzip
import json
import socket
import struct
import threading
import zlib
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any

Step = bytes | float
Script = Iterable[Step]


@dataclass(frozen=True)
class Exchange:
    """One request as the server read it."""

    method: str
    path: str
    headers: dict[str, str]
    body: bytes


Answer = Callable[[Exchange], Script]


def head(status: int, headers: dict[str, str] | None = None, length: int | None = None) -> bytes:
    """A status line and headers; ``length=None`` sends no Content-Length (body ends at close)."""
    lines = [f"HTTP/1.1 {status} X", "Connection: close"]
    if length is not None:
        lines.append(f"Content-Length: {length}")
    lines += [f"{k}: {v}" for k, v in (headers or {}).items()]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")


def reply(
    body: bytes, status: int = 200, headers: dict[str, str] | None = None, *, length: bool = True
) -> Script:
    hdrs = {"Content-Type": "application/json", **(headers or {})}
    return [head(status, hdrs, len(body) if length else None), body]


def json_reply(obj: Any, status: int = 200, headers: dict[str, str] | None = None) -> Script:
    return reply(json.dumps(obj).encode(), status, headers)


def drip(body: bytes, pause: float, chunk: int = 1) -> Script:
    """A slow loris: the whole Content-Length announced, then ``chunk`` bytes per ``pause``."""
    yield head(200, {"Content-Type": "application/json"}, len(body))
    for i in range(0, len(body), chunk):
        yield pause
        yield body[i : i + chunk]


def flood(total: int, *, length: bool, chunk: int = 1 << 16) -> Script:
    """``total`` bytes of a JSON string (never parsed whole by a careful client)."""
    yield head(200, {"Content-Type": "application/json"}, total if length else None)
    yield b'"'
    left = total - 2
    block = b"a" * chunk
    while left > 0:
        yield block[: min(chunk, left)]
        left -= chunk
    yield b'"'


def broken_gzip(obj: Any) -> Script:
    """A JSON body that says ``Content-Encoding: gzip`` and is cut in the middle."""
    packed = gzip.compress(json.dumps(obj).encode() * 50)
    cut = packed[: len(packed) // 2] + b"\x00garbage"
    return reply(cut, headers={"Content-Encoding": "gzip"})


def png(width: int = 2, height: int = 2) -> bytes:
    def block(kind: bytes, data: bytes) -> bytes:
        crc = zlib.crc32(kind + data) & 0xFFFFFFFF
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", crc)

    raw = b"".join(b"\x00" + b"\xff\x00\x00" * width for _ in range(height))
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + block(b"IHDR", ihdr)
        + block(b"IDAT", zlib.compress(raw))
        + block(b"IEND", b"")
    )


class Hostile:
    """The server. Routes match by method and path prefix, the longest prefix first."""

    def __init__(self) -> None:
        self._sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._sock.bind(("127.0.0.1", 0))
        self._sock.listen(64)
        self.port: int = self._sock.getsockname()[1]
        self.routes: dict[tuple[str, str], Answer] = {}
        self.requests: Counter[str] = Counter()
        self.sent = 0
        self.unsent = 0
        self.finished = 0
        self._lock = threading.Lock()
        self._closed = False
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._handlers: list[threading.Thread] = []

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def total_requests(self) -> int:
        return sum(self.requests.values())

    def on(self, method: str, prefix: str, answer: Answer) -> None:
        self.routes[(method, prefix)] = answer

    def __enter__(self) -> Hostile:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._closed = True
        with contextlib.suppress(OSError):
            self._sock.shutdown(socket.SHUT_RDWR)  # wakes the accept() below
        self._sock.close()
        self._thread.join(5)

    def settle(self, timeout: float = 30.0) -> None:
        """Wait until every answer begun has been written or abandoned (for the counters)."""
        for handler in list(self._handlers):
            handler.join(timeout)

    # -- serving ------------------------------------------------------------------------------

    def _serve(self) -> None:
        while not self._closed:
            try:
                conn, _ = self._sock.accept()
            except OSError:
                return
            handler = threading.Thread(target=self._handle, args=(conn,), daemon=True)
            self._handlers.append(handler)
            handler.start()

    def _handle(self, conn: socket.socket) -> None:
        with conn:
            exchange = _read(conn)
            if exchange is None:
                return
            route = self._route(exchange)
            with self._lock:
                self.requests[f"{exchange.method} {route}"] += 1
            answer = self.routes.get((exchange.method, route))
            script: Iterator[Step] = iter(
                answer(exchange) if answer else json_reply({"error": {"code": "nope"}}, 404)
            )
            for step in script:
                if isinstance(step, float):
                    if self._closed:
                        return
                    threading.Event().wait(step)
                    continue
                try:
                    conn.sendall(step)
                except OSError:
                    left = len(step) + sum(len(s) for s in script if isinstance(s, bytes))
                    with self._lock:
                        self.unsent += left
                    return
                with self._lock:
                    self.sent += len(step)
            with self._lock:
                self.finished += 1

    def _route(self, exchange: Exchange) -> str:
        path = exchange.path.split("?", 1)[0]
        best = ""
        for method, prefix in self.routes:
            if method == exchange.method and path.startswith(prefix) and len(prefix) > len(best):
                best = prefix
        return best or path


def _read(conn: socket.socket) -> Exchange | None:
    conn.settimeout(10)
    data = b""
    try:
        while b"\r\n\r\n" not in data:
            chunk = conn.recv(65536)
            if not chunk:
                return None
            data += chunk
        top, _, rest = data.partition(b"\r\n\r\n")
        lines = top.decode("latin-1").split("\r\n")
        method, path, _ = lines[0].split(" ", 2)
        headers = {}
        for line in lines[1:]:
            k, _, v = line.partition(":")
            headers[k.strip().lower()] = v.strip()
        want = int(headers.get("content-length", "0"))
        while len(rest) < want:
            chunk = conn.recv(65536)
            if not chunk:
                break
            rest += chunk
    except (OSError, ValueError):
        return None
    return Exchange(method, path, headers, rest)


# -- a fake API whose generation id the test chooses ------------------------------------------


def generation(server: Hostile, gen_id: str, status: str = "succeeded") -> dict[str, Any]:
    return {
        "id": gen_id,
        "status": status,
        "media_type": "image",
        "prompt": "a fox",
        "image_count": 1,
        "created_at": "2026-01-01T00:00:00Z",
        "completed_at": "2026-01-01T00:00:01Z",
        "output_urls": [f"{server.base_url}/out/0?token=t"],
        "cost": {"amount": 4, "currency": "credit", "breakdown": {"base": 4}},
    }


def fake_api(server: Hostile, gen_id: str) -> None:
    """Routes enough for ``%aurous generate`` and the outputs cache, answering ``gen_id``."""
    picture = png()
    running = {**generation(server, gen_id, "processing"), "output_urls": []}
    server.on("POST", "/v1/images", lambda ex: json_reply(running, 201))
    server.on("GET", "/v1/images/", lambda ex: json_reply(generation(server, gen_id)))
    server.on(
        "POST",
        "/v1/images/estimate",
        lambda ex: json_reply({"estimated_cost": {"amount": 4, "breakdown": {"base": 4}}}),
    )
    server.on(
        "GET",
        "/v1/balance",
        lambda ex: json_reply({"credits": 100, "held_credits": 0, "available_credits": 100}),
    )
    server.on("GET", "/v1/loras", lambda ex: json_reply({"data": [], "has_more": False}))
    server.on("GET", "/out/", lambda ex: reply(picture, headers={"Content-Type": "image/png"}))

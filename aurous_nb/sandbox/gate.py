"""The pure-ASGI layer every request passes: request id, version, auth, body caps, rate limits
and chaos.

Pure ASGI (not ``BaseHTTPMiddleware``) keeps per-request overhead small, and lets the chaos layer
drop a response after the app has done its work.
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from aurous_nb.sandbox import bodies
from aurous_nb.sandbox.chaos import EARLY, Chaos, DropConnection
from aurous_nb.sandbox.errors import ApiError
from aurous_nb.sandbox.ids import new_id
from aurous_nb.sandbox.pricing import DEFAULT_VERSION, KNOWN_VERSIONS
from aurous_nb.sandbox.ratelimit import CHOSEN_BY_ROUTE, Verdict, bucket_for
from aurous_nb.sandbox.state import SandboxState

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

log = logging.getLogger("aurous_nb.sandbox")

VERSION_RE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
OUTPUT_RE = re.compile(r"^/v1/(images/[^/]+/output/[^/]+|videos/[^/]+/output)$")
#: POSTs a ``write`` key may send (creates, estimates, uploads, cancel / test / rotate_secret,
#: and the legacy paths that redirect to them); every other non-GET needs ``full``
WRITE_POST_RE = re.compile(
    r"^/v1/(images|videos|files|webhook_endpoints|generations|video-generations)(/|$)"
)
READ_METHODS = ("GET", "HEAD")


def _headers(scope: Scope) -> dict[bytes, bytes]:
    return {k: v for k, v in scope["headers"] if k in _WANTED}


_WANTED = {b"x-api-key", b"authorization", b"aurous-version"}


def _has_token(scope: Scope) -> bool:
    qs: bytes = scope.get("query_string", b"")
    return qs.startswith(b"token=") or b"&token=" in qs


class Gate:
    """Wraps the Starlette app; see the module docstring."""

    def __init__(
        self, app: ASGIApp, state: SandboxState, chaos: Chaos, on_first: Callable[[], None]
    ) -> None:
        self.app = app
        self.state = state
        self.chaos = chaos
        self.on_first = on_first

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        self.on_first()
        request_id = new_id("req")
        headers = _headers(scope)
        raw_version = headers.get(b"aurous-version")
        version = raw_version.decode("latin-1").strip() if raw_version is not None else None
        applied = version if version in KNOWN_VERSIONS else DEFAULT_VERSION
        state = scope.setdefault("state", {})
        state["request_id"] = request_id
        state["version"] = applied
        state["authenticated"] = False
        extra: list[tuple[bytes, bytes]] = [
            (b"aurous-request-id", request_id.encode()),
            (b"aurous-version", applied.encode()),
        ]
        path: str = scope["path"]
        limit = bodies.limit_for(path)
        receive = bodies.bounded(receive, limit)  # a body past its cap is cut off: 413
        if not (path == "/v1" or path.startswith("/v1/")):
            # /_sandbox/* and friends: no key, no buckets, never chaos.
            unknown = version is not None and version not in KNOWN_VERSIONS
            if unknown and version is not None and not path.startswith("/_sandbox"):
                await self._error(send, _unknown_version(version), request_id, extra)
                return
            await self._run(scope, receive, send, extra, request_id)
            return

        fault = self.chaos.pick()
        bucket = bucket_for(scope["method"], path)
        if fault in EARLY:
            status, code, message = EARLY[fault]
            err = ApiError(status, code, message)
            peek = self.state.limiter.peek(bucket)
            if status == 429:
                peek.allowed, peek.remaining, peek.retry_after = False, 0, 1
            extra = extra + peek.headers()
            await self._error(send, err, request_id, extra)
            return
        try:
            if version is not None and version not in KNOWN_VERSIONS:
                raise _unknown_version(version)
            self._authenticate(scope, headers, path)
            if bodies.declared_too_large(scope["headers"], limit):
                raise bodies.too_large(limit)  # refused before a byte of it is read
        except ApiError as err:
            await self._error(
                send, err, request_id, extra + self.state.limiter.peek(bucket).headers()
            )
            return
        if (scope["method"], path) in CHOSEN_BY_ROUTE:
            verdict: Verdict = self.state.limiter.peek(bucket)  # the route draws and reports
        else:
            verdict = self.state.limiter.draw(bucket)
            extra = extra + verdict.headers()
        if not verdict.allowed:
            limited = ApiError(
                429,
                "too_many_requests",
                f"Rate limit exceeded for {bucket}. Retry after {verdict.retry_after}s.",
            )
            await self._error(send, limited, request_id, extra)
            return
        if fault is None:
            await self._run(scope, receive, send, extra, request_id)
            return
        captured: list[Message] = []

        async def capture(item: Message) -> None:
            captured.append(item)

        await self._run(scope, receive, capture, extra, request_id)
        if fault == "delay":
            await asyncio.sleep(self.chaos.delay)
            for item in captured:
                await send(item)
            return
        # "drop": promise more bytes than will ever come, then abort the connection.
        start = dict(captured[0])
        body_len = sum(len(m.get("body", b"")) for m in captured[1:])
        start["headers"] = [(k, v) for k, v in start["headers"] if k != b"content-length"] + [
            (b"content-length", str(body_len + 1024).encode())
        ]
        await send(start)
        raise DropConnection("response dropped on purpose (sandbox chaos)")

    def _authenticate(self, scope: Scope, headers: dict[bytes, bytes], path: str) -> None:
        key = headers.get(b"x-api-key")
        if key is None:
            auth = headers.get(b"authorization")
            if auth is not None and auth[:7].lower() == b"bearer ":
                key = auth[7:].strip()
        if key is None or not key:
            if OUTPUT_RE.match(path) and _has_token(scope):
                return  # the route checks the signed token itself
            raise ApiError(
                401,
                "missing_api_key",
                "No API key: send it in the X-Api-Key header (or Authorization: Bearer).",
            )
        text = key.decode("latin-1")
        if self.state.key_revoked(text):
            raise ApiError(401, "revoked_api_key", "The API key has been revoked.")
        granted = self.state.key_scope(text)
        if granted is None:
            raise ApiError(401, "invalid_api_key", "The API key is not valid.")
        needed = _needed_scope(scope["method"], path)
        if SCOPE_RANK.get(granted, -1) < SCOPE_RANK[needed]:
            raise ApiError(
                403,
                "missing_scope",
                f"This API key has the '{granted}' scope; {scope['method']} {path} needs "
                f"'{needed}'.",
            )
        scope["state"]["authenticated"] = True

    async def _run(
        self,
        scope: Scope,
        receive: Receive,
        send: Send,
        extra: list[tuple[bytes, bytes]],
        request_id: str,
    ) -> None:
        started = False

        async def send_with_headers(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
                message["headers"] = list(message.get("headers", [])) + extra
            await send(message)

        try:
            await self.app(scope, receive, send_with_headers)
        except Exception:
            if started:
                raise
            log.exception("sandbox route failed")
            err = ApiError(500, "internal_error", "The sandbox hit an unexpected error.")
            await self._error(send, err, request_id, extra)

    @staticmethod
    async def _error(
        send: Send, err: ApiError, request_id: str, extra: list[tuple[bytes, bytes]]
    ) -> None:
        body = err.body(request_id)
        headers = [
            (b"content-type", b"application/json"),
            (b"content-length", str(len(body)).encode()),
            *[(k.lower().encode(), v.encode()) for k, v in err.headers.items()],
            *extra,
        ]
        await send({"type": "http.response.start", "status": err.status, "headers": headers})
        await send({"type": "http.response.body", "body": body})


SCOPE_RANK = {"read": 0, "write": 1, "full": 2}


def _needed_scope(method: str, path: str) -> str:
    """Contract §1: ``read`` for GETs, ``write`` for the listed POSTs, ``full`` for the rest."""
    if method in READ_METHODS:
        return "read"
    if method == "POST" and WRITE_POST_RE.match(path):
        return "write"
    return "full"


def _unknown_version(version: str) -> ApiError:
    shown = version if VERSION_RE.match(version) else "(malformed)"
    return ApiError(
        400,
        "unknown_version",
        f"Aurous-Version {shown} is not a known API version; known: {', '.join(KNOWN_VERSIONS)}.",
        param="Aurous-Version",
    )

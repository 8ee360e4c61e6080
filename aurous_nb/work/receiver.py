"""A webhook receiver on the kernel's own event loop, so a batch hears about jobs instead of
polling for them.

``WebhookReceiver()`` listens on loopback (enough for the sandbox). For the hosted API, which
calls only ``https`` URLs it can reach, put a tunnel or proxy in front and pass its address as
``public_url``; with ``secret`` (a webhook endpoint's ``whsec_...``) every delivery's signature
is checked and forgeries are refused. The server is a few lines of HTTP/1.1 over
``asyncio.start_server``: one POST per connection, answered 204, nothing else.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Callable
from types import TracebackType
from typing import Any

__all__ = ["WebhookReceiver"]

log = logging.getLogger("aurous_nb.work.receiver")

Listener = Callable[[dict[str, Any]], None]
_MAX_BODY = 8 << 20


class WebhookReceiver:
    """Receives webhook deliveries and hands each JSON payload to every listener."""

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        public_url: str | None = None,
        secret: str | list[str] | None = None,
        path: str = "/aurous-webhook",
    ) -> None:
        self.host, self.port, self.path = host, port, path
        self.public_url = public_url
        self.secret = secret
        self.received = 0
        self.refused = 0
        self._listeners: list[Listener] = []
        self._server: asyncio.Server | None = None

    @property
    def url(self) -> str:
        """Where the API should send deliveries."""
        if self.public_url:
            return self.public_url
        if self._server is None:
            raise RuntimeError("the receiver is not started; await receiver.start() first")
        return f"http://{self.host}:{self.port}{self.path}"

    @property
    def started(self) -> bool:
        return self._server is not None

    async def start(self) -> WebhookReceiver:
        if self._server is None:
            self._server = await asyncio.start_server(self._serve, self.host, self.port)
            self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def close(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
            self._server = None

    async def __aenter__(self) -> WebhookReceiver:
        return await self.start()

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    def subscribe(self, listener: Listener) -> None:
        self._listeners.append(listener)

    def unsubscribe(self, listener: Listener) -> None:
        if listener in self._listeners:
            self._listeners.remove(listener)

    # -- HTTP ---------------------------------------------------------------------------------

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        status = 400
        try:
            head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 10.0)
            lines = head.decode("latin-1").split("\r\n")
            method, _, _ = lines[0].partition(" ")
            headers = {}
            for line in lines[1:]:
                name, sep, value = line.partition(":")
                if sep:
                    headers[name.strip().lower()] = value.strip()
            length = int(headers.get("content-length", "0"))
            if method != "POST" or not 0 < length <= _MAX_BODY:
                status = 405 if method != "POST" else 400
            else:
                body = await asyncio.wait_for(reader.readexactly(length), 10.0)
                status = self._accept(body, headers.get("aurous-webhook-signature"))
        except (asyncio.IncompleteReadError, asyncio.TimeoutError, ValueError, OSError):
            status = 400
        try:
            reason = {204: "No Content", 400: "Bad Request", 405: "Method Not Allowed"}
            writer.write(
                f"HTTP/1.1 {status} {reason.get(status, 'Error')}\r\n"
                "Content-Length: 0\r\nConnection: close\r\n\r\n".encode()
            )
            await writer.drain()
            writer.close()
        except OSError:
            pass

    def _accept(self, body: bytes, signature: str | None) -> int:
        if self.secret:
            from aurous_nb.client.webhooks import WebhookVerificationError, verify

            try:
                verify(body, signature or "", self.secret)
            except WebhookVerificationError as exc:
                self.refused += 1
                log.warning("refused a webhook delivery: %s", exc)
                return 400
        try:
            payload = json.loads(body)
        except ValueError:
            return 400
        if not isinstance(payload, dict):
            return 400
        self.received += 1
        for listener in list(self._listeners):
            try:
                listener(payload)
            except Exception:
                log.exception("webhook listener failed")
        return 204

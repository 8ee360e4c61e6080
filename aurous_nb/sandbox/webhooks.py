"""Webhook endpoints, signing and delivery with retries.

The sandbox signs on its own (it must not share code with the client's verifier, or a shared bug
would pass both sides): ``Aurous-Webhook-Signature: t=<unix>,v1=<hex>[,v1=<hex>]``, HMAC-SHA256
keyed with the whole ``whsec_`` secret over ``f"{t}.{raw_body}"``. After a rotation the old secret
keeps signing beside the new one for 24 h.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import secrets
import time
from dataclasses import dataclass, field
from typing import Any

import httpx

from aurous_nb.sandbox.ids import new_id
from aurous_nb.sandbox.pricing import DEFAULT_VERSION
from aurous_nb.sandbox.timefmt import iso

EVENT_TYPES = (
    "image.completed",
    "image.failed",
    "image.cancelled",
    "video.completed",
    "video.failed",
    "video.cancelled",
    "usage.balance_low",
    "webhook.endpoint_disabled",
    "character.completed",
    "character.failed",
    "character.cancelled",
)
RETRY_DELAYS = (1.0, 2.0, 4.0, 8.0, 16.0)
ROTATION_GRACE_S = 24 * 3600.0
DELIVERY_TIMEOUT_S = 10.0
DISABLE_AFTER_FAILURES = 20
MAX_LOGGED_ATTEMPTS = 5000
#: deliveries in flight at once; the rest wait their turn, so a flood of events (or of unreachable
#: endpoints) cannot starve the event loop that also serves the API
MAX_IN_FLIGHT = 16


def new_secret() -> str:
    return "whsec_" + secrets.token_urlsafe(24)


def sign(secret: str, timestamp: int, body: bytes) -> str:
    """Hex HMAC-SHA256 of ``f"{t}.{body}"`` keyed with the whole secret."""
    msg = str(timestamp).encode() + b"." + body
    return hmac.new(secret.encode(), msg, hashlib.sha256).hexdigest()


def signature_header(signing_secrets: list[str], timestamp: int, body: bytes) -> str:
    parts = [f"t={timestamp}"] + [f"v1={sign(s, timestamp, body)}" for s in signing_secrets]
    return ",".join(parts)


@dataclass
class Endpoint:
    """A registered webhook endpoint and its delivery bookkeeping."""

    id: str
    url: str
    events: list[str]
    secret: str
    description: str | None
    metadata: dict[str, Any]
    created_at: float
    updated_at: float
    is_active: bool = True
    consecutive_failures: int = 0
    last_success_at: float | None = None
    last_failure_at: float | None = None
    old_secrets: list[tuple[str, float]] = field(default_factory=list)

    def signing_secrets(self, now: float) -> list[str]:
        """The current secret, then any rotated-out one still inside its 24 h grace."""
        self.old_secrets = [(s, until) for s, until in self.old_secrets if until > now]
        return [self.secret] + [s for s, _ in self.old_secrets]

    def rotate(self, now: float) -> None:
        self.old_secrets.append((self.secret, now + ROTATION_GRACE_S))
        self.secret = new_secret()
        self.updated_at = now

    def to_json(self, reveal_secret: bool = False) -> dict[str, Any]:
        s = self.secret
        return {
            "id": self.id,
            "object": "webhook_endpoint",
            "url": self.url,
            "events": list(self.events),
            "description": self.description,
            "metadata": self.metadata,
            "secret_preview": f"{s[:9]}...{s[-4:]}",
            "secret": s if reveal_secret else None,
            "is_active": self.is_active,
            "consecutive_failures": self.consecutive_failures,
            "last_success_at": iso(self.last_success_at) if self.last_success_at else None,
            "last_failure_at": iso(self.last_failure_at) if self.last_failure_at else None,
            "created_at": iso(self.created_at),
            "updated_at": iso(self.updated_at),
        }


@dataclass
class Attempt:
    """One delivery attempt, as ``/_sandbox/webhooks`` lists it."""

    event_id: str
    event_type: str
    target: str
    endpoint_id: str | None
    attempt: int
    at: float
    status_code: int | None
    error: str | None
    signed: bool

    def to_json(self) -> dict[str, Any]:
        return {
            "event_id": self.event_id,
            "event_type": self.event_type,
            "url": self.target,
            "endpoint_id": self.endpoint_id,
            "attempt": self.attempt,
            "at": iso(self.at, millis=True),
            "status_code": self.status_code,
            "error": self.error,
            "signed": self.signed,
            "ok": self.status_code is not None and 200 <= self.status_code < 300,
        }


class WebhookHub:
    """The team's endpoints plus every delivery in flight; runs on the server's event loop."""

    def __init__(self, time_factor: float = 1.0) -> None:
        self.time_factor = max(time_factor, 1e-9)
        self.endpoints: dict[str, Endpoint] = {}
        self.attempts: list[Attempt] = []
        self._tasks: set[asyncio.Task[None]] = set()
        self._client: httpx.AsyncClient | None = None
        self._slots = asyncio.Semaphore(MAX_IN_FLIGHT)

    def _http(self) -> httpx.AsyncClient:
        """One pooled client for every delivery: building one costs ~20 ms (SSL context)."""
        if self._client is None or self._client.is_closed:
            self._client = httpx.AsyncClient(timeout=DELIVERY_TIMEOUT_S)
        return self._client

    async def aclose(self) -> None:
        """Stop deliveries in flight and close the pooled client (at server shutdown)."""
        for task in list(self._tasks):
            task.cancel()
        if self._client is not None:
            await self._client.aclose()
            self._client = None

    # -- endpoints --------------------------------------------------------------------------

    def create(
        self, url: str, events: list[str], description: str | None, metadata: dict[str, Any]
    ) -> Endpoint:
        now = time.time()
        endpoint = Endpoint(
            id=new_id("we"),
            url=url,
            events=events,
            secret=new_secret(),
            description=description,
            metadata=metadata,
            created_at=now,
            updated_at=now,
        )
        self.endpoints[endpoint.id] = endpoint
        return endpoint

    def active_secret(self) -> list[str] | None:
        """Signing secrets for per-request callbacks: the oldest active endpoint's, if any."""
        now = time.time()
        for endpoint in self.endpoints.values():
            if endpoint.is_active:
                return endpoint.signing_secrets(now)
        return None

    # -- events -----------------------------------------------------------------------------

    def emit(self, event_type: str, data: dict[str, Any], *, synthetic: bool = False) -> str:
        """Queue an event for every active endpoint subscribed to it; returns the event id."""
        event_id = new_id("evt")
        envelope = {
            "id": event_id,
            "object": "event",
            "type": event_type,
            "created_at": iso(time.time()),
            "api_version": DEFAULT_VERSION,
            "synthetic": synthetic,
            "data": data,
        }
        body = json.dumps(envelope, separators=(",", ":")).encode()
        for endpoint in list(self.endpoints.values()):
            if endpoint.is_active and event_type in endpoint.events:
                self._spawn(self._deliver(event_id, event_type, body, endpoint.url, endpoint))
        return event_id

    def emit_to(self, endpoint: Endpoint, event_type: str, data: dict[str, Any]) -> str:
        """A synthetic delivery to one endpoint (``POST /v1/webhook_endpoints/{id}/test``)."""
        event_id = new_id("evt")
        envelope = {
            "id": event_id,
            "object": "event",
            "type": event_type,
            "created_at": iso(time.time()),
            "api_version": DEFAULT_VERSION,
            "synthetic": True,
            "data": data,
        }
        body = json.dumps(envelope, separators=(",", ":")).encode()
        self._spawn(self._deliver(event_id, event_type, body, endpoint.url, endpoint))
        return event_id

    def callback(self, url: str, event_type: str, data: dict[str, Any]) -> None:
        """A per-request ``webhook_url`` callback: ``{event, data}``, signed when possible."""
        body = json.dumps({"event": event_type, "data": data}, separators=(",", ":")).encode()
        self._spawn(self._deliver(new_id("evt"), event_type, body, url, None))

    def _spawn(self, coro: Any) -> None:
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _deliver(
        self, event_id: str, event_type: str, body: bytes, url: str, endpoint: Endpoint | None
    ) -> None:
        for attempt in range(len(RETRY_DELAYS) + 1):
            if attempt:
                await asyncio.sleep(RETRY_DELAYS[attempt - 1] / self.time_factor)
            if endpoint is not None and not endpoint.is_active:
                return
            async with self._slots:
                status, error, signed, now = await self._post(url, event_id, body, endpoint)
            ok = status is not None and 200 <= status < 300
            self.attempts.append(
                Attempt(
                    event_id,
                    event_type,
                    url,
                    endpoint.id if endpoint else None,
                    attempt + 1,
                    now,
                    status,
                    error,
                    signed,
                )
            )
            if len(self.attempts) > MAX_LOGGED_ATTEMPTS:
                del self.attempts[: MAX_LOGGED_ATTEMPTS // 5]
            if endpoint is not None:
                self._book(endpoint, ok, time.time())
            if ok:
                return

    async def _post(
        self, url: str, event_id: str, body: bytes, endpoint: Endpoint | None
    ) -> tuple[int | None, str | None, bool, float]:
        """One signed POST: (status or None, error name or None, signed?, when)."""
        now = time.time()
        signing = endpoint.signing_secrets(now) if endpoint is not None else self.active_secret()
        headers = {
            "Content-Type": "application/json",
            "User-Agent": "Aurous-Webhooks/1.0 (sandbox)",
            "Aurous-Webhook-Id": event_id,
        }
        if signing:
            headers["Aurous-Webhook-Signature"] = signature_header(signing, int(now), body)
        try:
            response = await self._http().post(url, content=body, headers=headers)
        except httpx.HTTPError as exc:
            return None, type(exc).__name__, bool(signing), now
        return response.status_code, None, bool(signing), now

    def _book(self, endpoint: Endpoint, ok: bool, now: float) -> None:
        if ok:
            endpoint.consecutive_failures = 0
            endpoint.last_success_at = now
            return
        endpoint.consecutive_failures += 1
        endpoint.last_failure_at = now
        recent_success = endpoint.last_success_at and now - endpoint.last_success_at < 86400
        if endpoint.consecutive_failures >= DISABLE_AFTER_FAILURES and not recent_success:
            endpoint.is_active = False
            self.emit("webhook.endpoint_disabled", endpoint.to_json())

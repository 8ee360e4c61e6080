"""Webhook endpoint management (contract §2.22-2.27).

create, rotate_secret and test are not idempotent: they are never retried once the request
may have reached the server. update (PATCH) and delete are.
"""

from __future__ import annotations

import builtins
from collections.abc import Mapping, Sequence
from typing import Any
from urllib.parse import quote

from aurous_nb.client._core import Core, Flow, next_cursor
from aurous_nb.client._params import check_id, check_text, webhook_fields
from aurous_nb.client._resource import AsyncResource, SyncResource
from aurous_nb.client.errors import ValidationError
from aurous_nb.client.models import Deleted, WebhookEndpoint, WebhookTestFire, rows

__all__ = ["AsyncWebhookEndpoints", "WebhookEndpoints"]

_BASE = "/v1/webhook_endpoints"
_BUCKET = "webhook_endpoints"


def _path(endpoint_id: str, suffix: str = "") -> str:
    return f"{_BASE}/{quote(check_id('id', endpoint_id), safe='')}{suffix}"


def create_flow(
    core: Core,
    url: str,
    events: Sequence[str],
    description: str | None,
    metadata: Mapping[str, Any] | None,
    version: str | None,
) -> Flow[WebhookEndpoint]:
    if url is None or events is None:
        raise ValidationError("url" if url is None else "events", "url and events are required")
    body = webhook_fields(url, events, description, metadata)
    req = core.send_json("POST", _BASE, body, bucket=_BUCKET, version=version)
    return WebhookEndpoint.from_json((yield from core.call_json(req)))


def list_flow(core: Core, version: str | None) -> Flow[builtins.list[WebhookEndpoint]]:
    out: builtins.list[WebhookEndpoint] = []
    params: dict[str, Any] = {"limit": 100}
    seen: set[str] = set()
    while True:
        body = yield from core.call_json(core.get(_BASE, params=params, version=version))
        out.extend(WebhookEndpoint.from_json(r) for r in rows(body))
        cursor = next_cursor(body.get("has_more"), body.get("next_cursor"), seen)
        if cursor is None:
            return out
        params = {"limit": 100, "starting_after": cursor}


def get_flow(core: Core, endpoint_id: str, version: str | None) -> Flow[WebhookEndpoint]:
    req = core.get(_path(endpoint_id), version=version)
    return WebhookEndpoint.from_json((yield from core.call_json(req)))


def update_flow(
    core: Core,
    endpoint_id: str,
    url: str | None,
    events: Sequence[str] | None,
    description: str | None,
    metadata: Mapping[str, Any] | None,
    is_active: bool | None,
    version: str | None,
) -> Flow[WebhookEndpoint]:
    body = webhook_fields(
        url=url, events=events, description=description, metadata=metadata, is_active=is_active
    )
    if not body:
        raise ValidationError("update", "update: pass at least one field to change")
    req = core.send_json(
        "PATCH", _path(endpoint_id), body, bucket=_BUCKET, idempotent=True, version=version
    )
    return WebhookEndpoint.from_json((yield from core.call_json(req)))


def delete_flow(core: Core, endpoint_id: str, version: str | None) -> Flow[Deleted]:
    req = core.send_json(
        "DELETE", _path(endpoint_id), bucket=_BUCKET, idempotent=True, version=version
    )
    return Deleted.from_json((yield from core.call_json(req)))


def rotate_flow(core: Core, endpoint_id: str, version: str | None) -> Flow[WebhookEndpoint]:
    req = core.send_json(
        "POST", _path(endpoint_id, "/rotate_secret"), bucket=_BUCKET, version=version
    )
    return WebhookEndpoint.from_json((yield from core.call_json(req)))


def test_flow(
    core: Core, endpoint_id: str, event_type: str, version: str | None
) -> Flow[WebhookTestFire]:
    body = {"event_type": check_text("event_type", event_type, 100)}
    req = core.send_json(
        "POST", _path(endpoint_id, "/test"), body, bucket="webhooks_test", version=version
    )
    return WebhookTestFire.from_json((yield from core.call_json(req)))


class WebhookEndpoints(SyncResource):
    """``client.webhook_endpoints``: register endpoints that receive signed events."""

    __slots__ = ()

    def create(
        self,
        url: str,
        events: Sequence[str],
        *,
        description: str | None = None,
        metadata: Mapping[str, Any] | None = None,
        version: str | None = None,
    ) -> WebhookEndpoint:
        """Register an endpoint; the returned ``secret`` is shown only this once."""
        return self._run(create_flow(self._core, url, events, description, metadata, version))

    def list(self, *, version: str | None = None) -> builtins.list[WebhookEndpoint]:
        return self._run(list_flow(self._core, version))

    def get(self, id: str, *, version: str | None = None) -> WebhookEndpoint:
        return self._run(get_flow(self._core, id, version))

    def update(
        self,
        id: str,
        *,
        url: str | None = None,
        events: Sequence[str] | None = None,
        description: str | None = None,
        metadata: Mapping[str, Any] | None = None,
        is_active: bool | None = None,
        version: str | None = None,
    ) -> WebhookEndpoint:
        return self._run(
            update_flow(self._core, id, url, events, description, metadata, is_active, version)
        )

    def delete(self, id: str, *, version: str | None = None) -> Deleted:
        return self._run(delete_flow(self._core, id, version))

    def rotate_secret(self, id: str, *, version: str | None = None) -> WebhookEndpoint:
        """New secret (returned once); the old one keeps signing for 24 h."""
        return self._run(rotate_flow(self._core, id, version))

    def test(self, id: str, event_type: str, *, version: str | None = None) -> WebhookTestFire:
        """Fire a synthetic, signed delivery of ``event_type`` to the endpoint."""
        return self._run(test_flow(self._core, id, event_type, version))


class AsyncWebhookEndpoints(AsyncResource):
    __slots__ = ()

    async def create(
        self,
        url: str,
        events: Sequence[str],
        *,
        description: str | None = None,
        metadata: Mapping[str, Any] | None = None,
        version: str | None = None,
    ) -> WebhookEndpoint:
        return await self._run(create_flow(self._core, url, events, description, metadata, version))

    async def list(self, *, version: str | None = None) -> builtins.list[WebhookEndpoint]:
        return await self._run(list_flow(self._core, version))

    async def get(self, id: str, *, version: str | None = None) -> WebhookEndpoint:
        return await self._run(get_flow(self._core, id, version))

    async def update(
        self,
        id: str,
        *,
        url: str | None = None,
        events: Sequence[str] | None = None,
        description: str | None = None,
        metadata: Mapping[str, Any] | None = None,
        is_active: bool | None = None,
        version: str | None = None,
    ) -> WebhookEndpoint:
        return await self._run(
            update_flow(self._core, id, url, events, description, metadata, is_active, version)
        )

    async def delete(self, id: str, *, version: str | None = None) -> Deleted:
        return await self._run(delete_flow(self._core, id, version))

    async def rotate_secret(self, id: str, *, version: str | None = None) -> WebhookEndpoint:
        return await self._run(rotate_flow(self._core, id, version))

    async def test(
        self, id: str, event_type: str, *, version: str | None = None
    ) -> WebhookTestFire:
        return await self._run(test_flow(self._core, id, event_type, version))

"""``/v1/webhook_endpoints``: create, list, get, update, delete, rotate_secret and test."""

from __future__ import annotations

import time
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from aurous_nb.sandbox import bodies, validation
from aurous_nb.sandbox.config import SandboxConfig
from aurous_nb.sandbox.errors import bad_request, not_found
from aurous_nb.sandbox.responses import base_url, int_param, json_response
from aurous_nb.sandbox.state import SandboxState
from aurous_nb.sandbox.webhooks import EVENT_TYPES, Endpoint


class EndpointRoutes:
    """The team's webhook endpoints (deliveries themselves live in :mod:`webhooks`)."""

    def __init__(self, state: SandboxState, config: SandboxConfig) -> None:
        self.state = state
        self.config = config

    def _endpoint(self, request: Request) -> Endpoint:
        endpoint = self.state.webhooks.endpoints.get(request.path_params["id"])
        if endpoint is None:
            raise not_found("Webhook endpoint", "id")
        return endpoint

    async def create_endpoint(self, request: Request) -> Response:
        body = await bodies.json_object(request)
        url = validation.get_str(body, "url", required=True)
        assert url is not None
        url = validation.check_url(url, "url", allow_loopback_http=True)
        events = _events(body.get("events"), required=True)
        assert events is not None
        description = validation.get_str(body, "description")
        metadata = _metadata(body.get("metadata")) or {}
        endpoint = self.state.webhooks.create(url, events, description, metadata)
        return json_response(endpoint.to_json(reveal_secret=True), 201)

    async def list_endpoints(self, request: Request) -> Response:
        params = request.query_params
        limit = int_param(params.get("limit"), "limit", 20, 1, 100)
        rows = list(self.state.webhooks.endpoints.values())[::-1]
        after, before = params.get("starting_after"), params.get("ending_before")
        ids = [e.id for e in rows]
        if after or before:
            cursor = after or before
            if cursor not in ids:
                raise not_found("Cursor endpoint", "starting_after" if after else "ending_before")
            pos = ids.index(cursor or "")
            window = rows[pos + 1 :] if after else rows[:pos]
            page = window[:limit] if after else window[-limit:]
            has_more = len(window) > limit
        else:
            page, has_more = rows[:limit], len(rows) > limit
        return json_response(
            {
                "object": "list",
                "data": [e.to_json() for e in page],
                "has_more": has_more,
                "next_cursor": page[-1].id if has_more and page else None,
            }
        )

    async def get_endpoint(self, request: Request) -> Response:
        return json_response(self._endpoint(request).to_json())

    async def update_endpoint(self, request: Request) -> Response:
        endpoint = self._endpoint(request)
        body = await bodies.json_object(request)
        allowed = {"url", "events", "description", "metadata", "is_active"}
        unknown = sorted(set(body) - allowed)
        if unknown:
            raise bad_request("invalid_format", f"Cannot update: {', '.join(unknown)}.", unknown[0])
        url = validation.get_str(body, "url")
        if url is not None:
            url = validation.check_url(url, "url", allow_loopback_http=True)
        events = _events(body.get("events"), required=False)
        description = validation.get_str(body, "description")
        metadata = _metadata(body.get("metadata"))
        is_active = validation.get_bool(body, "is_active")
        if url is not None:
            endpoint.url = url
        if events is not None:
            endpoint.events = events
        if "description" in body:
            endpoint.description = description
        if metadata is not None:
            endpoint.metadata = metadata
        if is_active is not None:
            if is_active and not endpoint.is_active:
                endpoint.consecutive_failures = 0
            endpoint.is_active = is_active
        endpoint.updated_at = time.time()
        return json_response(endpoint.to_json())

    async def delete_endpoint(self, request: Request) -> Response:
        endpoint_id = request.path_params["id"]
        existed = self.state.webhooks.endpoints.pop(endpoint_id, None) is not None
        return json_response({"id": endpoint_id, "object": "webhook_endpoint", "deleted": existed})

    async def rotate_secret(self, request: Request) -> Response:
        endpoint = self._endpoint(request)
        endpoint.rotate(time.time())
        return json_response(endpoint.to_json(reveal_secret=True))

    async def test_endpoint(self, request: Request) -> Response:
        endpoint = self._endpoint(request)
        body = await bodies.json_object(request)
        event_type = validation.get_str(body, "event_type", required=True)
        if event_type not in EVENT_TYPES:
            raise bad_request("invalid_format", f"Unknown event type {event_type!r}.", "event_type")
        if event_type not in endpoint.events:
            raise bad_request(
                "value_out_of_range",
                f"The endpoint does not subscribe to {event_type}.",
                "event_type",
            )
        event_id = self.state.webhooks.emit_to(
            endpoint, event_type, _fixture(event_type, base_url(request, self.config))
        )
        return json_response(
            {
                "object": "webhook_test_fire",
                "endpoint_id": endpoint.id,
                "event_id": event_id,
                "enqueued": True,
            }
        )

    def routes(self) -> list[Route]:
        base = "/v1/webhook_endpoints"
        return [
            Route(base, self.create_endpoint, methods=["POST"]),
            Route(base, self.list_endpoints, methods=["GET"]),
            Route(base + "/{id}", self.get_endpoint, methods=["GET"]),
            Route(base + "/{id}", self.update_endpoint, methods=["PATCH"]),
            Route(base + "/{id}", self.delete_endpoint, methods=["DELETE"]),
            Route(base + "/{id}/rotate_secret", self.rotate_secret, methods=["POST"]),
            Route(base + "/{id}/test", self.test_endpoint, methods=["POST"]),
        ]


def _events(value: Any, *, required: bool) -> list[str] | None:
    """Event types to subscribe to; ``["*"]`` expands to today's taxonomy at create time."""
    if value is None:
        if required:
            raise bad_request("missing_field", "'events' is required.", "events")
        return None
    if not isinstance(value, list) or not value or not all(isinstance(e, str) for e in value):
        raise bad_request(
            "invalid_format", "'events' must be a non-empty array of strings.", "events"
        )
    if "*" in value:
        return list(EVENT_TYPES)
    for event in value:
        if event not in EVENT_TYPES:
            raise bad_request("invalid_format", f"Unknown event type {event!r}.", "events")
    return list(dict.fromkeys(value))


def _metadata(value: Any) -> dict[str, Any] | None:
    if value is None:
        return None
    if not isinstance(value, dict):
        raise bad_request("invalid_format", "'metadata' must be an object.", "metadata")
    if len(value) > 50:
        raise bad_request("value_out_of_range", "'metadata' takes at most 50 keys.", "metadata")
    for k, v in value.items():
        if isinstance(v, str) and len(v) > 500:
            raise bad_request(
                "value_out_of_range", f"metadata[{k!r}] is longer than 500 characters.", "metadata"
            )
    return value


def _fixture(event_type: str, base_url: str) -> dict[str, Any]:
    """The fixed payload of a synthetic test delivery."""
    family, _, outcome = event_type.partition(".")
    if family in ("image", "video"):
        status = {"completed": "succeeded", "failed": "failed"}.get(outcome, "cancelled")
        prefix = "img" if family == "image" else "vid"
        return {
            "object": "inference",
            "id": f"{prefix}_00000000000000000000000000",
            "status": status,
            "media_type": family,
            "prompt": "A synthetic test event",
            "created_at": "2026-05-15T00:00:00Z",
            "completed_at": "2026-05-15T00:00:10Z",
            "output_urls": [],
            "output_video_url": None,
            "error_message": None if status == "succeeded" else "Synthetic test event",
        }
    if family == "character":
        status = {"completed": "ready", "failed": "failed"}.get(outcome, "cancelled")
        return {
            "id": "char_00000000000000000000000000",
            "object": "character",
            "name": "A synthetic test character",
            "status": status,
            "refs": [],
            "attributes": {},
            "error_message": None if status == "ready" else "synthetic_test_event",
            "created_at": "2026-05-15T00:00:00Z",
            "updated_at": "2026-05-15T00:00:10Z",
        }
    if family == "usage":
        return {"object": "balance", "credits": 10, "held_credits": 0, "available_credits": 10}
    return {"object": "webhook_endpoint", "id": "we_00000000000000000000000000", "is_active": False}

"""Small request/response helpers every route module shares."""

from __future__ import annotations

import asyncio
import json
import math
from collections.abc import Awaitable, Callable
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from aurous_nb.sandbox.config import SandboxConfig
from aurous_nb.sandbox.errors import bad_request
from aurous_nb.sandbox.idempotency import IdempotencyStore
from aurous_nb.sandbox.outputs import parse_range

DELAY_HEADER = "x-sandbox-delay"
MAX_DELAY_S = 30.0


def json_response(data: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    body = json.dumps(data, separators=(",", ":"), ensure_ascii=False).encode()
    return Response(body, status, headers=headers, media_type="application/json")


def request_id(request: Request) -> str:
    return str(request.scope["state"]["request_id"])


def version(request: Request) -> str:
    return str(request.scope["state"]["version"])


def base_url(request: Request, config: SandboxConfig) -> str:
    """Where signed URLs point: the configured public URL, else the one this request reached."""
    if config.public_base_url:
        return config.public_base_url.rstrip("/")
    return str(request.base_url).rstrip("/")


def int_param(text: str | None, name: str, default: int, lo: int, hi: int) -> int:
    if text is None:
        return default
    try:
        value = int(text)
    except ValueError:
        raise bad_request("invalid_format", f"'{name}' must be an integer.", name) from None
    if not lo <= value <= hi:
        raise bad_request("value_out_of_range", f"'{name}' must be between {lo} and {hi}.", name)
    return value


def ranged(data: bytes, media_type: str, range_header: str | None) -> Response:
    """The bytes, or the requested slice as 206 with ``Content-Range``."""
    headers = {"Accept-Ranges": "bytes", "Cache-Control": "private, max-age=86400"}
    span = parse_range(range_header, len(data)) if range_header else None
    if span is None:
        return Response(data, media_type=media_type, headers=headers)
    start, end = span
    headers["Content-Range"] = f"bytes {start}-{end}/{len(data)}"
    return Response(data[start : end + 1], status_code=206, media_type=media_type, headers=headers)


async def sandbox_delay(request: Request) -> None:
    """``X-Sandbox-Delay: <s>`` holds a create in flight (to exercise the in-flight 409)."""
    raw = request.headers.get(DELAY_HEADER)
    if raw is None:
        return
    try:
        seconds = float(raw)
    except ValueError:
        seconds = math.nan
    if not math.isfinite(seconds):  # float() takes "nan" and "inf"; sleep(nan) is no delay
        raise bad_request("invalid_format", "X-Sandbox-Delay must be seconds.", DELAY_HEADER)
    delay = min(max(seconds, 0.0), MAX_DELAY_S)
    await asyncio.sleep(delay)


async def run_idempotent(
    store: IdempotencyStore,
    request: Request,
    key: str | None,
    route: str,
    fingerprint_of: Any,
    work: Callable[[], Awaitable[Response]],
) -> Response:
    """Run ``work`` once per key (contract section 5); replays carry the original answer."""
    if key is None:
        await sandbox_delay(request)
        return await work()
    record = store.begin(key, route, fingerprint_of)
    if record is not None:
        return Response(
            record.body,
            record.status or 200,
            headers={"Aurous-Idempotent-Replayed": "true"},
            media_type=record.media_type,
        )
    try:
        await sandbox_delay(request)
        response = await work()
    except BaseException:
        store.abandon(key)
        raise
    store.finish(key, response.status_code, bytes(response.body), "application/json")
    return response

"""Helpers shared by the client tests (importable as ``client_support``)."""

from __future__ import annotations

import inspect
import json
from collections.abc import Callable
from typing import Any

import httpx

from aurous_nb.client import AsyncClient, Client
from aurous_nb.sandbox import Sandbox

FAST = {"latency": 0.05, "latency_spread": 0.0, "time_factor": 50.0, "credits": 100000.0}


def ledger(sb: Sandbox) -> dict[str, Any]:
    return httpx.get(sb.base_url + "/_sandbox/ledger").json()  # type: ignore[no-any-return]


class Api:
    """One client, sync or async, behind an awaitable call."""

    def __init__(self, kind: str, client: Client | AsyncClient) -> None:
        self.kind = kind
        self.client = client

    async def __call__(self, fn: Callable[[Any], Any]) -> Any:
        result = fn(self.client)
        if inspect.isawaitable(result):
            result = await result
        return result

    async def collect(self, fn: Callable[[Any], Any]) -> list[Any]:
        it = fn(self.client)
        if hasattr(it, "__aiter__"):
            return [x async for x in it]
        return list(it)


def make_api(kind: str, sb: Sandbox, **options: Any) -> Client | AsyncClient:
    """A client of ``kind`` on ``sb`` (close it yourself)."""
    cls = Client if kind == "sync" else AsyncClient
    return cls(api_key=sb.api_key, base_url=sb.base_url, **options)


async def aclose(c: Client | AsyncClient) -> None:
    result = c.close()
    if inspect.isawaitable(result):
        await result


def dumps(value: Any) -> str:
    return json.dumps(value, sort_keys=True)


KEY = "al_live_" + "ab12" * 16


def mock_api(
    kind: str,
    handler: Callable[[httpx.Request], httpx.Response],
    sleeps: list[float] | None = None,
    **options: Any,
) -> Client | AsyncClient:
    """A client whose HTTP goes to ``handler``; its sleeps are recorded, not slept, and
    advance a fake clock that the retry budget and the rate limiter read."""
    options.setdefault("base_url", "https://api.test")
    transport = httpx.MockTransport(handler)
    record = sleeps if sleeps is not None else []
    now = [1_800_000_000.0]

    def fake_sleep(seconds: float) -> None:
        record.append(seconds)
        now[0] += seconds

    c: Client | AsyncClient
    if kind == "sync":
        c = Client(api_key=KEY, http_client=httpx.Client(transport=transport), **options)
        c._sleep = fake_sleep
    else:
        c = AsyncClient(api_key=KEY, http_client=httpx.AsyncClient(transport=transport), **options)

        async def asleep(seconds: float) -> None:
            fake_sleep(seconds)

        c._sleep = asleep
    c._core.monotonic = lambda: now[0]
    c._core.limiter._clock = lambda: now[0]
    return c


def error_body(status: int, code: str, type_: str = "invalid_request", **extra: Any) -> Any:
    body = {
        "error": {
            "type": type_,
            "code": code,
            "message": f"{code} happened",
            "param": extra.pop("param", None),
            "doc_url": f"https://docs.aurous-labs.com/errors#{code}",
            "request_id": "req_01TESTTESTTESTTESTTESTTEST",
        }
    }
    return httpx.Response(status, json=body, headers=extra.pop("headers", {}))


GEN_JSON = {
    "object": "inference",
    "id": "img_01TEST",
    "status": "pending",
    "media_type": "image",
    "prompt": "p",
    "created_at": "2026-05-04T10:00:00Z",
    "cost": {"amount": 1, "currency": "credit", "breakdown": {"base": 1}},
}

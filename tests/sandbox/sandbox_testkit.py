"""Helpers the sandbox tests share (fixtures live in conftest.py)."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import httpx

from aurous_nb.sandbox import Sandbox

#: A keyless client for signed URLs and /_sandbox routes (one client: building one costs ~40 ms).
NOKEY = httpx.Client(timeout=30)

TERMINAL = {"succeeded", "failed", "cancelled", "expired", "moderation_rejected"}


def make_client(sb: Sandbox, **headers: str) -> httpx.Client:
    return httpx.Client(
        base_url=sb.base_url, headers={"X-Api-Key": sb.api_key, **headers}, timeout=30
    )


def wait_for(
    client: httpx.Client, gen_id: str, statuses: set[str] = TERMINAL, timeout: float = 10.0
) -> dict[str, Any]:
    """Poll ``GET /v1/images/{id}`` until the status is one of ``statuses``."""
    deadline = time.monotonic() + timeout
    while True:
        body: dict[str, Any] = client.get(f"/v1/images/{gen_id}").json()
        if body["status"] in statuses:
            return body
        if time.monotonic() > deadline:
            raise AssertionError(f"{gen_id} stuck in {body['status']}")
        time.sleep(0.02)


def wait_until(check: Callable[[], bool], timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        time.sleep(0.02)


def assert_error(
    response: httpx.Response, status: int, code: str, param: str | None = "<any>"
) -> dict[str, Any]:
    """The response is the contract's error envelope with this status and code."""
    assert response.status_code == status, response.text
    error: dict[str, Any] = response.json()["error"]
    assert error["code"] == code, error
    assert error["doc_url"] == f"https://docs.aurous-labs.com/errors#{code}"
    assert error["request_id"] == response.headers["Aurous-Request-Id"]
    assert set(error) == {"type", "code", "message", "param", "doc_url", "request_id"}
    if param != "<any>":
        assert error["param"] == param, error
    return error


@dataclass
class Hit:
    path: str
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


@dataclass
class Receiver:
    """A loopback HTTP server that records webhook deliveries and answers with set statuses."""

    url: str
    hits: list[Hit] = field(default_factory=list)
    statuses: list[int] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)
    in_flight: int = 0
    max_in_flight: int = 0

    def on(self, path: str) -> list[Hit]:
        return [h for h in self.hits if h.path == path]

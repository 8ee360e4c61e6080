"""Helpers the sandbox tests share (fixtures live in conftest.py)."""

from __future__ import annotations

import time
from collections.abc import Callable
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

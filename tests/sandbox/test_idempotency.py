"""Idempotency keys exactly as the contract's section 5 describes them."""

from __future__ import annotations

import threading
import time
import uuid

import httpx
from sandbox_testkit import NOKEY, assert_error

from aurous_nb.sandbox import Sandbox


def _ledger_ids(sb: Sandbox, key: str) -> list[str]:
    rows = NOKEY.get(sb.base_url + "/_sandbox/ledger").json()["generations"]
    return [row["id"] for row in rows if row["idempotency_key"] == key]


def test_replay_returns_the_same_answer_and_buys_once(sb: Sandbox, api: httpx.Client) -> None:
    key = str(uuid.uuid4())
    body = {"prompt": "once only", "seed": 1, "size": "square"}
    first = api.post("/v1/images", json=body, headers={"Idempotency-Key": key})
    assert first.status_code == 201
    assert "Aurous-Idempotent-Replayed" not in first.headers
    # Key order and whitespace do not matter (canonical JSON).
    raw = b'{ "size": "square",  "seed": 1, "prompt": "once only" }'
    second = api.post(
        "/v1/images",
        content=raw,
        headers={"Idempotency-Key": key, "Content-Type": "application/json"},
    )
    assert second.status_code == 201
    assert second.headers["Aurous-Idempotent-Replayed"] == "true"
    assert second.content == first.content
    assert _ledger_ids(sb, key) == [first.json()["id"]]
    row = next(
        r
        for r in NOKEY.get(sb.base_url + "/_sandbox/ledger").json()["generations"]
        if r["id"] == first.json()["id"]
    )
    assert row["request"] == body
    assert row["prompt"] == "once only"


def test_vendor_alias_header(sb: Sandbox, api: httpx.Client) -> None:
    key = str(uuid.uuid4())
    first = api.post("/v1/images", json={"prompt": "alias"}, headers={"Aurous-Idempotent-Key": key})
    second = api.post("/v1/images", json={"prompt": "alias"}, headers={"Idempotency-Key": key})
    assert second.headers["Aurous-Idempotent-Replayed"] == "true"
    assert second.json()["id"] == first.json()["id"]


def test_different_body_is_409(api: httpx.Client) -> None:
    key = str(uuid.uuid4())
    api.post("/v1/images", json={"prompt": "a"}, headers={"Idempotency-Key": key})
    r = api.post("/v1/images", json={"prompt": "b"}, headers={"Idempotency-Key": key})
    err = assert_error(r, 409, "idempotency_key_in_use")
    assert err["type"] == "invalid_request"
    assert "Retry-After" not in r.headers


def test_different_route_is_409(api: httpx.Client) -> None:
    key = str(uuid.uuid4())
    api.post("/v1/images", json={"prompt": "a"}, headers={"Idempotency-Key": key})
    r = api.post(
        "/v1/videos", json={"video_lora_id": "seedance-1-lite"}, headers={"Idempotency-Key": key}
    )
    assert_error(r, 409, "idempotency_key_in_use")


def test_in_flight_is_409_without_retry_after(sb: Sandbox, api: httpx.Client) -> None:
    key = str(uuid.uuid4())
    results: dict[str, httpx.Response] = {}

    def slow_first() -> None:
        with httpx.Client(base_url=sb.base_url, headers={"X-Api-Key": sb.api_key}) as c:
            results["first"] = c.post(
                "/v1/images",
                json={"prompt": "in flight"},
                headers={"Idempotency-Key": key, "X-Sandbox-Delay": "1.0"},
            )

    thread = threading.Thread(target=slow_first)
    thread.start()
    time.sleep(0.3)
    r = api.post("/v1/images", json={"prompt": "in flight"}, headers={"Idempotency-Key": key})
    assert_error(r, 409, "idempotency_key_in_use")
    assert "Retry-After" not in r.headers
    thread.join()
    assert results["first"].status_code == 201
    replay = api.post("/v1/images", json={"prompt": "in flight"}, headers={"Idempotency-Key": key})
    assert replay.status_code == 201
    assert replay.json()["id"] == results["first"].json()["id"]
    assert len(_ledger_ids(sb, key)) == 1


def test_4xx_is_not_cached(sb: Sandbox, api: httpx.Client) -> None:
    key = str(uuid.uuid4())
    bad = api.post("/v1/images", json={"prompt": "x", "steps": 0}, headers={"Idempotency-Key": key})
    assert_error(bad, 400, "value_out_of_range")
    again = api.post(
        "/v1/images", json={"prompt": "x", "steps": 0}, headers={"Idempotency-Key": key}
    )
    assert_error(again, 400, "value_out_of_range")
    assert "Aurous-Idempotent-Replayed" not in again.headers
    good = api.post(
        "/v1/images", json={"prompt": "x", "steps": 1}, headers={"Idempotency-Key": key}
    )
    assert good.status_code == 201


def test_key_length_is_checked(api: httpx.Client) -> None:
    r = api.post("/v1/images", json={"prompt": "x"}, headers={"Idempotency-Key": "k" * 257})
    assert_error(r, 400, "invalid_format", "Idempotency-Key")
    r = api.post("/v1/images", json={"prompt": "x"}, headers={"Idempotency-Key": ""})
    assert_error(r, 400, "invalid_format", "Idempotency-Key")
    ok = api.post("/v1/images", json={"prompt": "x"}, headers={"Idempotency-Key": "k" * 256})
    assert ok.status_code == 201


def test_without_a_key_every_post_buys(sb: Sandbox, api: httpx.Client) -> None:
    a = api.post("/v1/images", json={"prompt": "twice"}).json()
    b = api.post("/v1/images", json={"prompt": "twice"}).json()
    assert a["id"] != b["id"]

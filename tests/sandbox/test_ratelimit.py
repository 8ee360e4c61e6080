"""Token buckets per endpoint class, with X-RateLimit-* on every response and 429 + Retry-After."""

from __future__ import annotations

import time

import httpx
from sandbox_testkit import assert_error, make_client

from aurous_nb.sandbox import Sandbox

HOOK = {"url": "https://example.com/hook", "events": ["image.completed"]}


def test_bucket_sizes(api: httpx.Client) -> None:
    assert api.get("/v1/team").headers["X-RateLimit-Limit"] == "1200"
    assert (
        api.post("/v1/videos/estimate", json={"video_lora_id": "seedance-1-pro"}).headers[
            "X-RateLimit-Limit"
        ]
        == "240"
    )
    assert api.get("/v1/files/file_nope").headers["X-RateLimit-Limit"] == "1200"


def test_429_with_retry_after() -> None:
    with Sandbox(latency=0.05, time_factor=1.0) as sb, make_client(sb) as client:
        for _ in range(10):
            assert client.post("/v1/webhook_endpoints", json=HOOK).status_code == 201
        r = client.post("/v1/webhook_endpoints", json=HOOK)
        err = assert_error(r, 429, "too_many_requests")
        assert err["type"] == "rate_limit"
        assert "webhook_endpoints" in err["message"]
        assert 1 <= int(r.headers["Retry-After"]) <= 6  # 10/min: one token every 6 s
        assert r.headers["X-RateLimit-Remaining"] == "0"
        assert int(r.headers["X-RateLimit-Reset"]) >= int(time.time()) + 59
        # Other buckets are untouched.
        assert client.get("/v1/webhook_endpoints").status_code == 200


def test_refill_is_scaled_by_time_factor() -> None:
    with Sandbox(latency=0.05, time_factor=60.0) as sb, make_client(sb) as client:
        for _ in range(10):
            client.post("/v1/webhook_endpoints", json=HOOK)
        r = client.post("/v1/webhook_endpoints", json=HOOK)
        if r.status_code == 429:
            assert r.headers["Retry-After"] == "1"
        time.sleep(0.15)  # 10 tokens/min x 60 = 10/s
        assert client.post("/v1/webhook_endpoints", json=HOOK).status_code == 201


def test_limits_can_be_switched_off() -> None:
    with Sandbox(latency=0.05, rate_limits=False) as sb, make_client(sb) as client:
        for _ in range(12):
            r = client.post("/v1/webhook_endpoints", json=HOOK)
            assert r.status_code == 201
        assert r.headers["X-RateLimit-Remaining"] == "10"

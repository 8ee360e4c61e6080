"""Webhook endpoints (CRUD, rotate, test) and signed deliveries with retries."""

from __future__ import annotations

import hashlib
import hmac
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from sandbox_testkit import NOKEY, assert_error, make_client, wait_for, wait_until

from aurous_nb.sandbox import Sandbox
from tests.webhook_receiver import Receiver


def verify(header: str, body: bytes, secret: str) -> bool:
    """An independent check of ``t=<unix>,v1=<hex>`` (any one v1 may match)."""
    parts = [p.split("=", 1) for p in header.split(",")]
    t = next(v for k, v in parts if k == "t")
    expected = hmac.new(secret.encode(), f"{t}.".encode() + body, hashlib.sha256).hexdigest()
    return any(k == "v1" and hmac.compare_digest(v, expected) for k, v in parts)


@pytest.fixture(scope="module")
def hooks() -> Iterator[tuple[Sandbox, httpx.Client]]:
    with (
        Sandbox(latency=0.05, time_factor=1000, seed=9, rate_limits=False) as sb,
        make_client(sb) as client,
    ):
        yield sb, client


def _endpoint(client: httpx.Client, url: str, events: list[str]) -> dict[str, Any]:
    r = client.post("/v1/webhook_endpoints", json={"url": url, "events": events})
    assert r.status_code == 201, r.text
    body: dict[str, Any] = r.json()
    return body


def test_create_shape_and_secret_only_once(hooks: Any, receiver: Receiver) -> None:
    _, client = hooks
    r = client.post(
        "/v1/webhook_endpoints",
        json={
            "url": "https://example.com/hook",
            "events": ["*"],
            "description": "all",
            "metadata": {"team": "x"},
        },
    )
    assert r.status_code == 201
    body = r.json()
    assert body["id"].startswith("we_")
    assert body["object"] == "webhook_endpoint"
    assert body["secret"].startswith("whsec_")
    assert body["secret_preview"].startswith("whsec_") and "..." in body["secret_preview"]
    assert body["secret_preview"].endswith(body["secret"][-4:])
    assert len(body["events"]) == 11 and "image.completed" in body["events"]
    assert body["is_active"] is True
    assert body["consecutive_failures"] == 0
    assert body["last_success_at"] is None and body["last_failure_at"] is None
    assert body["metadata"] == {"team": "x"} and body["description"] == "all"
    got = client.get(f"/v1/webhook_endpoints/{body['id']}").json()
    assert got["secret"] is None
    assert got["secret_preview"] == body["secret_preview"]
    client.delete(f"/v1/webhook_endpoints/{body['id']}")


@pytest.mark.parametrize(
    ("body", "code", "param"),
    [
        ({"events": ["image.completed"]}, "missing_field", "url"),
        ({"url": "http://example.com/h", "events": ["image.completed"]}, "invalid_format", "url"),
        ({"url": "https://e.com/" + "a" * 2048, "events": ["*"]}, "value_out_of_range", "url"),
        ({"url": "https://example.com/h"}, "missing_field", "events"),
        ({"url": "https://example.com/h", "events": []}, "invalid_format", "events"),
        ({"url": "https://example.com/h", "events": ["image.done"]}, "invalid_format", "events"),
        (
            {"url": "https://e.com/h", "events": ["*"], "metadata": {str(i): i for i in range(51)}},
            "value_out_of_range",
            "metadata",
        ),
        (
            {"url": "https://e.com/h", "events": ["*"], "metadata": [1]},
            "invalid_format",
            "metadata",
        ),
    ],
)
def test_create_validation(hooks: Any, body: dict[str, Any], code: str, param: str) -> None:
    _, client = hooks
    assert_error(client.post("/v1/webhook_endpoints", json=body), 400, code, param)


def test_list_get_patch_delete(hooks: Any, receiver: Receiver) -> None:
    _, client = hooks
    a = _endpoint(client, "https://example.com/a", ["image.failed"])
    b = _endpoint(client, "http://localhost:9/b", ["video.completed"])
    listing = client.get("/v1/webhook_endpoints", params={"limit": 1}).json()
    assert listing["object"] == "list"
    assert [e["id"] for e in listing["data"]] == [b["id"]]
    assert listing["has_more"] is True and listing["next_cursor"] == b["id"]
    rest = client.get("/v1/webhook_endpoints", params={"starting_after": b["id"]}).json()
    assert a["id"] in [e["id"] for e in rest["data"]]
    assert all(e["secret"] is None for e in rest["data"])
    r = client.patch(
        f"/v1/webhook_endpoints/{a['id']}",
        json={"events": ["image.completed"], "is_active": False, "description": "off"},
    )
    assert r.status_code == 200
    patched = r.json()
    assert patched["events"] == ["image.completed"]
    assert patched["is_active"] is False and patched["description"] == "off"
    assert patched["secret"] is None
    bad = client.patch(f"/v1/webhook_endpoints/{a['id']}", json={"secret": "mine"})
    assert_error(bad, 400, "invalid_format", "secret")
    bad = client.patch(f"/v1/webhook_endpoints/{a['id']}", json={"url": "http://evil.example"})
    assert_error(bad, 400, "invalid_format", "url")
    for endpoint in (a, b):
        d = client.delete(f"/v1/webhook_endpoints/{endpoint['id']}")
        assert d.status_code == 200
        assert d.json() == {"id": endpoint["id"], "object": "webhook_endpoint", "deleted": True}
    d = client.delete(f"/v1/webhook_endpoints/{a['id']}")
    assert d.status_code == 200 and d.json()["deleted"] is False
    assert_error(client.get(f"/v1/webhook_endpoints/{a['id']}"), 404, "resource_not_found", "id")
    assert_error(
        client.patch(f"/v1/webhook_endpoints/{a['id']}", json={}), 404, "resource_not_found"
    )
    assert_error(
        client.post(f"/v1/webhook_endpoints/{a['id']}/rotate_secret"), 404, "resource_not_found"
    )


def test_signed_delivery_on_completion(hooks: Any, receiver: Receiver) -> None:
    _, client = hooks
    ep = _endpoint(client, receiver.url + "/done", ["image.completed", "image.cancelled"])
    gen = client.post("/v1/images", json={"prompt": "hooked"}).json()
    wait_until(lambda: len(receiver.on("/done")) >= 1)
    hit = receiver.on("/done")[0]
    assert verify(hit.headers["aurous-webhook-signature"], hit.body, ep["secret"])
    t = int(hit.headers["aurous-webhook-signature"].split(",")[0][2:])
    assert abs(t - time.time()) < 60
    event = hit.json()
    assert event["id"].startswith("evt_")
    assert event["object"] == "event"
    assert event["type"] == "image.completed"
    assert event["api_version"] == "2026-05-15"
    assert event["synthetic"] is False
    assert event["created_at"].endswith("Z")
    assert event["data"]["id"] == gen["id"]
    assert event["data"]["status"] == "succeeded"
    assert len(event["data"]["output_urls"]) == 1
    assert NOKEY.get(event["data"]["output_urls"][0]).status_code == 200
    # Cancelling fires image.cancelled.
    with Sandbox(latency=30) as slow, make_client(slow) as c2:
        ep2 = _endpoint(c2, receiver.url + "/cancelled", ["image.cancelled"])
        g2 = c2.post("/v1/images", json={"prompt": "stop"}).json()
        c2.post(f"/v1/images/{g2['id']}/cancel")
        wait_until(lambda: len(receiver.on("/cancelled")) >= 1)
        hit2 = receiver.on("/cancelled")[0]
        assert hit2.json()["type"] == "image.cancelled"
        assert hit2.json()["data"]["status"] == "cancelled"
        assert verify(hit2.headers["aurous-webhook-signature"], hit2.body, ep2["secret"])
    client.delete(f"/v1/webhook_endpoints/{ep['id']}")


def test_per_request_webhook_url(hooks: Any, receiver: Receiver) -> None:
    _, client = hooks
    # With no active endpoint the callback is unsigned.
    for e in client.get("/v1/webhook_endpoints", params={"limit": 100}).json()["data"]:
        client.delete(f"/v1/webhook_endpoints/{e['id']}")
    gen = client.post(
        "/v1/images", json={"prompt": "cb", "webhook_url": receiver.url + "/cb-unsigned"}
    ).json()
    wait_until(lambda: len(receiver.on("/cb-unsigned")) >= 1)
    hit = receiver.on("/cb-unsigned")[0]
    assert hit.json()["event"] == "image.completed"
    assert hit.json()["data"]["id"] == gen["id"]
    assert set(hit.json()) == {"event", "data"}
    assert "aurous-webhook-signature" not in hit.headers
    # With one, it is signed with that endpoint's secret.
    ep = _endpoint(client, "https://example.invalid/x", ["usage.balance_low"])
    vid = client.post(
        "/v1/videos",
        json={
            "video_lora_id": "seedance-1-lite",
            "resolution": "480p",
            "duration": 2,
            "webhook_url": receiver.url + "/cb-signed",
        },
    ).json()
    wait_until(lambda: len(receiver.on("/cb-signed")) >= 1)
    hit = receiver.on("/cb-signed")[0]
    assert hit.json()["event"] == "video.completed"
    assert hit.json()["data"]["id"] == vid["id"]
    assert verify(hit.headers["aurous-webhook-signature"], hit.body, ep["secret"])
    client.delete(f"/v1/webhook_endpoints/{ep['id']}")


def test_retries_and_bookkeeping(hooks: Any, receiver: Receiver) -> None:
    sb, client = hooks
    flaky = _endpoint(client, receiver.url + "/flaky", ["image.completed"])
    failing = _endpoint(client, receiver.url + "/fail", ["image.completed"])
    wait_for(client, client.post("/v1/images", json={"prompt": "retry"}).json()["id"])
    wait_until(lambda: len(receiver.on("/fail")) >= 6 and len(receiver.on("/flaky")) >= 3)
    time.sleep(0.3)
    assert len(receiver.on("/flaky")) == 3  # 503, 503, then 200: no more
    assert len(receiver.on("/fail")) == 6  # the first try and 5 retries
    bodies = {h.body for h in receiver.on("/fail")}
    assert len(bodies) == 1  # the same event every time
    ok = client.get(f"/v1/webhook_endpoints/{flaky['id']}").json()
    assert ok["consecutive_failures"] == 0 and ok["last_success_at"] is not None
    assert ok["last_failure_at"] is not None
    bad = client.get(f"/v1/webhook_endpoints/{failing['id']}").json()
    assert bad["consecutive_failures"] == 6 and bad["last_success_at"] is None
    log = NOKEY.get(sb.base_url + "/_sandbox/webhooks").json()["data"]
    attempts = [a["attempt"] for a in log if a["endpoint_id"] == failing["id"]]
    assert attempts == [1, 2, 3, 4, 5, 6]
    for ep in (flaky, failing):
        client.delete(f"/v1/webhook_endpoints/{ep['id']}")


def test_rotation_signs_with_both_secrets(hooks: Any, receiver: Receiver) -> None:
    _, client = hooks
    ep = _endpoint(client, receiver.url + "/rotated", ["image.completed", "image.failed"])
    r = client.post(f"/v1/webhook_endpoints/{ep['id']}/rotate_secret")
    assert r.status_code == 200
    new_secret = r.json()["secret"]
    assert new_secret.startswith("whsec_") and new_secret != ep["secret"]
    assert client.get(f"/v1/webhook_endpoints/{ep['id']}").json()["secret"] is None
    test = client.post(
        f"/v1/webhook_endpoints/{ep['id']}/test", json={"event_type": "image.failed"}
    )
    assert test.status_code == 200
    fired = test.json()
    assert fired["object"] == "webhook_test_fire"
    assert fired["endpoint_id"] == ep["id"] and fired["enqueued"] is True
    assert test.headers["X-RateLimit-Limit"] == "30"
    wait_until(lambda: len(receiver.on("/rotated")) >= 1)
    hit = receiver.on("/rotated")[0]
    header = hit.headers["aurous-webhook-signature"]
    assert header.count("v1=") == 2
    assert verify(header, hit.body, new_secret) and verify(header, hit.body, ep["secret"])
    assert not verify(header, hit.body, "whsec_wrong")
    event = hit.json()
    assert event["id"] == fired["event_id"]
    assert event["synthetic"] is True and event["type"] == "image.failed"
    bad = client.post(f"/v1/webhook_endpoints/{ep['id']}/test", json={"event_type": "video.failed"})
    assert_error(bad, 400, "value_out_of_range", "event_type")
    bad = client.post(f"/v1/webhook_endpoints/{ep['id']}/test", json={"event_type": "nope"})
    assert_error(bad, 400, "invalid_format", "event_type")
    bad = client.post(f"/v1/webhook_endpoints/{ep['id']}/test", json={})
    assert_error(bad, 400, "missing_field", "event_type")
    client.delete(f"/v1/webhook_endpoints/{ep['id']}")


def test_auto_disable_after_20_failures(receiver: Receiver) -> None:
    with Sandbox(latency=0.02, time_factor=1000) as sb, make_client(sb) as client:
        watcher = _endpoint(client, receiver.url + "/watcher", ["webhook.endpoint_disabled"])
        failing = _endpoint(client, receiver.url + "/fail-disable", ["image.completed"])
        for i in range(4):
            wait_for(client, client.post("/v1/images", json={"prompt": f"d{i}"}).json()["id"])
        wait_until(lambda: len(receiver.on("/watcher")) >= 1)
        got = client.get(f"/v1/webhook_endpoints/{failing['id']}").json()
        assert got["is_active"] is False
        assert got["consecutive_failures"] >= 20
        event = receiver.on("/watcher")[0].json()
        assert event["type"] == "webhook.endpoint_disabled"
        assert event["data"]["id"] == failing["id"]
        assert verify(
            receiver.on("/watcher")[0].headers["aurous-webhook-signature"],
            receiver.on("/watcher")[0].body,
            watcher["secret"],
        )


def test_balance_low_fires_once(receiver: Receiver) -> None:
    with Sandbox(latency=0.02, credits=10, rate_limits=False) as sb, make_client(sb) as client:
        assert client.get("/v1/team").json()["balance_low_threshold"] == 1
        ep = _endpoint(client, receiver.url + "/low", ["usage.balance_low"])
        first = client.post("/v1/images", json={"prompt": "spend", "count": 4}).json()
        second = client.post("/v1/images", json={"prompt": "spend", "count": 4}).json()
        wait_for(client, first["id"])
        wait_for(client, second["id"])
        assert receiver.on("/low") == []  # 2 credits left: above the 1-credit threshold
        wait_for(client, client.post("/v1/images", json={"prompt": "x"}).json()["id"])
        wait_until(lambda: len(receiver.on("/low")) == 1)
        event = receiver.on("/low")[0].json()
        assert event["type"] == "usage.balance_low"
        assert event["data"]["credits"] == 1
        assert verify(
            receiver.on("/low")[0].headers["aurous-webhook-signature"],
            receiver.on("/low")[0].body,
            ep["secret"],
        )
        wait_for(client, client.post("/v1/images", json={"prompt": "y"}).json()["id"])
        time.sleep(0.2)
        assert len(receiver.on("/low")) == 1  # debounced for an hour


def test_a_flood_of_unreachable_endpoints_does_not_starve_the_api(receiver: Receiver) -> None:
    """Deliveries are bounded in flight, so reads stay fast while hundreds are queued."""
    with Sandbox(latency=0.02, time_factor=1, rate_limits=False) as sb, make_client(sb) as client:
        for i in range(40):
            _endpoint(client, f"{receiver.url}/slow-{i}", ["image.completed"])
        ids = [client.post("/v1/images", json={"prompt": f"f{i}"}).json()["id"] for i in range(10)]
        wait_for(client, ids[-1])
        wait_until(lambda: receiver.in_flight >= 16)  # every delivery slot hangs on a slow hook
        for _ in range(20):
            assert client.get("/v1/team").status_code == 200
        assert receiver.in_flight > 0  # the reads were answered while deliveries still hung
        assert receiver.max_in_flight == 16  # 400 deliveries queued, never more than 16 at once

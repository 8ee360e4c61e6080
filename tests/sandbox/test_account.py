"""Balance, team, pricing (one card per version) and bucketed usage."""

from __future__ import annotations

import base64
import json
import time
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone

import httpx
import pytest
from sandbox_testkit import assert_error, make_client, wait_for

from aurous_nb.sandbox import Sandbox


def test_balance_shape(api: httpx.Client) -> None:
    body = api.get("/v1/balance").json()
    assert set(body) >= {"credits", "held_credits", "available_credits", "currency", "billing_mode"}
    assert body["currency"] == "credit"
    assert body["billing_mode"] == "metered"
    assert body["available_credits"] == body["credits"] - body["held_credits"]


def test_team_shape(api: httpx.Client) -> None:
    body = api.get("/v1/team").json()
    assert body["id"].startswith("team_") and len(body["id"]) == 5 + 26
    assert body["name"]
    assert body["created_at"].endswith("Z")
    assert body["billing_mode"] == "metered"
    assert isinstance(body["credits"], (int, float))


def test_pricing_default_card_matches_the_contract(api: httpx.Client) -> None:
    r = api.get("/v1/pricing")
    body = r.json()
    assert body["object"] == "pricing"
    assert body["version"] == "2026-05-15" == r.headers["Aurous-Version"]
    assert body["currency"] == "credit"
    assert body["image"] == {
        "base": 1,
        "enhance_prompt_multiplier": 2,
        "reference_image_per_image": 0,
    }
    assert body["video"] == {
        "base_per_second": 0.5,
        "resolution_factor": {"480p": 1, "720p": 1.5, "1080p": 2.5},
    }


def test_pricing_is_frozen_per_version(api: httpx.Client) -> None:
    old = api.get("/v1/pricing", headers={"Aurous-Version": "2026-01-15"}).json()
    new = api.get("/v1/pricing", headers={"Aurous-Version": "2026-09-01"}).json()
    assert old["version"] == "2026-01-15"
    assert old["image"]["base"] == 1.5
    assert new["version"] == "2026-09-01"
    assert new["image"]["base"] == 0.8
    est = api.post(
        "/v1/images/estimate",
        json={"prompt": "x", "count": 2},
        headers={"Aurous-Version": "2026-01-15"},
    ).json()
    assert est["estimated_cost"]["amount"] == 3


# -- usage ---------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def usage_sb() -> Iterator[tuple[Sandbox, httpx.Client]]:
    """A sandbox with a known history: 2 succeeded images (count 1 and 2), 1 cancelled, 1 video."""
    with Sandbox(latency=0.5, credits=1000, seed=3) as sb, make_client(sb) as client:
        a = client.post("/v1/images", json={"prompt": "one"}).json()
        b = client.post("/v1/images", json={"prompt": "two", "count": 2}).json()
        c = client.post("/v1/images", json={"prompt": "three"}).json()
        client.post(f"/v1/images/{c['id']}/cancel")
        v = client.post(
            "/v1/videos",
            json={"video_lora_id": "seedance-1-lite", "resolution": "480p", "duration": 4},
        ).json()
        for g in (a, b, v):
            wait_for(client, g["id"])
        yield sb, client


def _start(hours: int = 2) -> str:
    return (datetime.now(timezone.utc) - timedelta(hours=hours)).strftime("%Y-%m-%dT%H:%M:%SZ")


def test_usage_requires_start_time(usage_sb: tuple[Sandbox, httpx.Client]) -> None:
    _, client = usage_sb
    assert_error(client.get("/v1/usage"), 400, "missing_field", "start_time")
    assert_error(client.get("/v1/usage", params={"start_time": "yesterday"}), 400, "invalid_format")
    r = client.get("/v1/usage", params={"start_time": _start(), "bucket_width": "2h"})
    assert_error(r, 400, "invalid_format", "bucket_width")
    r = client.get("/v1/usage", params={"start_time": _start(), "group_by": "colour"})
    assert_error(r, 400, "invalid_format", "group_by")
    r = client.get("/v1/usage", params={"start_time": _start(48), "bucket_width": "1m"})
    assert_error(r, 400, "value_out_of_range", "end_time")
    r = client.get("/v1/usage", params={"start_time": _start(), "limit": "0"})
    assert_error(r, 400, "value_out_of_range", "limit")


def test_usage_totals(usage_sb: tuple[Sandbox, httpx.Client]) -> None:
    _, client = usage_sb
    body = client.get("/v1/usage", params={"start_time": _start(), "bucket_width": "1d"}).json()
    assert body["object"] == "list"
    assert body["has_more"] is False and body["next_page"] is None
    (bucket,) = body["data"]
    assert bucket["object"] == "usage.bucket"
    assert bucket["bucket_start"].endswith(".000Z")
    (group,) = bucket["groups"]
    m = group["metrics"]
    assert group["key"] == {}
    assert m["request_count"] == 4
    assert m["successful_count"] == 3
    assert m["cancelled_count"] == 1
    assert m["failed_count"] == 0
    assert m["credits_used"] == 1 + 2 + 2  # images 1 + 2, video 0.5 x 1 x 4 s
    assert m["image_count"] == 3
    assert m["video_seconds"] == 4
    assert m["duration_ms_p50"] > 0


def test_usage_group_by_and_filters(usage_sb: tuple[Sandbox, httpx.Client]) -> None:
    _, client = usage_sb
    params = {"start_time": _start(), "group_by": "status,type"}
    (bucket,) = client.get("/v1/usage", params=params).json()["data"]
    keys = {
        (g["key"]["status"], g["key"]["type"]): g["metrics"]["request_count"]
        for g in bucket["groups"]
    }
    assert keys == {("succeeded", "t2i"): 2, ("cancelled", "t2i"): 1, ("succeeded", "t2v"): 1}
    params = {"start_time": _start(), "type[]": "t2v"}
    (bucket,) = client.get("/v1/usage", params=params).json()["data"]
    assert bucket["groups"][0]["metrics"]["request_count"] == 1
    r = client.get("/v1/usage", params={"start_time": _start(), "status": "bogus"})
    assert_error(r, 400, "invalid_format", "status")


def test_usage_pages_newest_first_with_tokens(usage_sb: tuple[Sandbox, httpx.Client]) -> None:
    _, client = usage_sb
    end = datetime.now(timezone.utc).replace(microsecond=0) + timedelta(minutes=30)
    start = (end - timedelta(hours=5)).strftime("%Y-%m-%dT%H:%M:%SZ")
    window = {"start_time": start, "end_time": end.strftime("%Y-%m-%dT%H:%M:%SZ")}
    first = client.get("/v1/usage", params={**window, "bucket_width": "1h", "limit": 2}).json()
    assert len(first["data"]) == 2 and first["has_more"] is True
    starts = [b["bucket_start"] for b in first["data"]]
    assert starts == sorted(starts, reverse=True)
    assert first["data"][0]["groups"][0]["metrics"]["request_count"] == 4
    token = first["next_page"]
    second = client.get("/v1/usage", params={"page_token": token, "limit": 2}).json()
    assert second["data"][0]["bucket_start"] < starts[-1]
    third = client.get("/v1/usage", params={"page_token": second["next_page"]}).json()
    assert third["has_more"] is False and len(third["data"]) == 1
    assert third["next_page"] is None
    # Same parameters again are fine; different ones break the fingerprint.
    same = client.get("/v1/usage", params={"page_token": token, **window, "bucket_width": "1h"})
    assert same.status_code == 200
    other = client.get("/v1/usage", params={"page_token": token, "bucket_width": "1d"})
    assert_error(other, 400, "invalid_page_token", "page_token")
    assert_error(
        client.get("/v1/usage", params={"page_token": "garbage!"}), 400, "invalid_page_token"
    )


def test_usage_expired_token(usage_sb: tuple[Sandbox, httpx.Client]) -> None:
    _, client = usage_sb
    first = client.get(
        "/v1/usage", params={"start_time": _start(5), "bucket_width": "1h", "limit": 1}
    ).json()
    raw = json.loads(base64.urlsafe_b64decode(first["next_page"] + "=="))
    raw["exp"] = time.time() - 1
    forged = base64.urlsafe_b64encode(json.dumps(raw).encode()).decode().rstrip("=")
    err = assert_error(
        client.get("/v1/usage", params={"page_token": forged}), 400, "invalid_page_token"
    )
    assert "token_expired" in err["message"]


def test_usage_counts_generations_not_character_synthesis() -> None:
    """Usage rows are generations (types t2i/i2i/t2v/i2v): a synthesis's 4 credits leave the
    balance but not usage; ``character_id`` picks the images made with that character."""
    with (
        Sandbox(latency=0.1, credits=1000, seed=3, rate_limits=False) as sb,
        make_client(sb) as client,
    ):
        attrs = {"gender": "female", "age": 30, "hair_color": "red"}
        made = client.post(
            "/v1/characters", json={"name": "Ines", "generate": True, "attributes": attrs}
        ).json()
        deadline = time.monotonic() + 10
        while client.get(f"/v1/characters/{made['id']}").json()["status"] != "reviewing":
            assert time.monotonic() < deadline
            time.sleep(0.02)
        client.post(f"/v1/characters/{made['id']}/save")
        with_char = client.post("/v1/images", json={"prompt": "a", "character_id": made["id"]})
        plain = client.post("/v1/images", json={"prompt": "b"})
        for g in (with_char, plain):
            wait_for(client, g.json()["id"])
        assert 1000 - client.get("/v1/balance").json()["credits"] == 4 + 1 + 1

        def metrics(**params: str) -> list[dict[str, object]]:
            body = client.get("/v1/usage", params={"start_time": _start(), **params}).json()
            return [g["metrics"] for b in body["data"] for g in b["groups"]]

        (total,) = metrics()
        assert total["request_count"] == 2 and total["credits_used"] == 2
        (picked,) = metrics(character_id=made["id"])
        assert picked["request_count"] == 1 and picked["credits_used"] == 1
        (typed,) = metrics(character_id=made["id"], group_by="type")
        assert typed["request_count"] == 1
        assert metrics(character_id="char_nobody") == []

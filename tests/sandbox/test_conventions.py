"""Cross-route conventions: auth, request ids, versions, the error envelope, legacy redirects."""

from __future__ import annotations

import re

import httpx
import pytest
from sandbox_testkit import NOKEY, assert_error, make_client, wait_for

from aurous_nb.sandbox import Sandbox

REQ_ID = re.compile(r"^req_[0-9A-HJKMNP-TV-Z]{26}$")

GET_ROUTES = [
    "/v1/balance",
    "/v1/team",
    "/v1/pricing",
    "/v1/loras",
    "/v1/video_loras",
    "/v1/images",
    "/v1/webhook_endpoints",
]


@pytest.mark.parametrize("path", GET_ROUTES)
def test_every_response_carries_request_id_version_and_rate_headers(
    api: httpx.Client, path: str
) -> None:
    r = api.get(path)
    assert r.status_code == 200
    assert REQ_ID.match(r.headers["Aurous-Request-Id"])
    assert r.headers["Aurous-Version"] == "2026-05-15"
    assert r.headers["X-RateLimit-Limit"] == "1200"
    assert 0 <= int(r.headers["X-RateLimit-Remaining"]) < 1200
    assert int(r.headers["X-RateLimit-Reset"]) > 1_700_000_000


def test_request_ids_are_unique(api: httpx.Client) -> None:
    ids = {api.get("/v1/balance").headers["Aurous-Request-Id"] for _ in range(5)}
    assert len(ids) == 5


def test_missing_key_is_401(sb: Sandbox) -> None:
    r = NOKEY.get(sb.base_url + "/v1/balance")
    err = assert_error(r, 401, "missing_api_key")
    assert err["type"] == "authentication"
    assert REQ_ID.match(r.headers["Aurous-Request-Id"])


def test_invalid_key_is_401_and_never_echoed(sb: Sandbox) -> None:
    r = NOKEY.get(sb.base_url + "/v1/balance", headers={"X-Api-Key": "al_live_" + "0" * 64})
    err = assert_error(r, 401, "invalid_api_key")
    assert "0" * 64 not in r.text
    assert err["type"] == "authentication"


def test_bearer_alias_is_accepted(sb: Sandbox) -> None:
    r = NOKEY.get(sb.base_url + "/v1/balance", headers={"Authorization": f"Bearer {sb.api_key}"})
    assert r.status_code == 200
    bad = NOKEY.get(sb.base_url + "/v1/balance", headers={"Authorization": "Bearer nope"})
    assert_error(bad, 401, "invalid_api_key")


def test_legacy_og_key_works() -> None:
    with Sandbox(api_key="og_legacy_key_123", latency=0.05) as sb:
        r = NOKEY.get(sb.base_url + "/v1/team", headers={"X-Api-Key": "og_legacy_key_123"})
        assert r.status_code == 200
        assert r.json()["id"].startswith("team_")


@pytest.mark.parametrize("path", ["/v1/balance", "/v1/pricing", "/v1/loras", "/v1/nope"])
def test_unknown_version_is_400_everywhere(api: httpx.Client, path: str) -> None:
    r = api.get(path, headers={"Aurous-Version": "2031-01-01"})
    err = assert_error(r, 400, "unknown_version", "Aurous-Version")
    assert err["type"] == "invalid_request"
    assert r.headers["Aurous-Version"] == "2026-05-15"


def test_malformed_version_is_400(api: httpx.Client) -> None:
    r = api.post("/v1/images/estimate", json={"prompt": "x"}, headers={"Aurous-Version": "v1"})
    assert_error(r, 400, "unknown_version")


def test_known_version_is_echoed(api: httpx.Client) -> None:
    r = api.get("/v1/balance", headers={"Aurous-Version": "2026-01-15"})
    assert r.status_code == 200
    assert r.headers["Aurous-Version"] == "2026-01-15"


def test_unknown_route_and_method_use_the_envelope(api: httpx.Client) -> None:
    r = api.get("/v1/nothing-here")
    assert_error(r, 404, "resource_not_found")
    assert r.headers["content-type"] == "application/json"
    r = api.delete("/v1/balance")
    err = assert_error(r, 405, "method_not_allowed")
    assert err["type"] == "invalid_request"
    r = api.get("/not-v1-at-all")
    assert_error(r, 404, "resource_not_found")


@pytest.mark.parametrize(
    ("method", "old", "new"),
    [
        ("POST", "/v1/generations", "/v1/images"),
        ("GET", "/v1/generations", "/v1/images"),
        ("GET", "/v1/generations/img_123", "/v1/images/img_123"),
        ("POST", "/v1/video-generations", "/v1/videos"),
    ],
)
def test_legacy_routes_redirect_with_308(
    api: httpx.Client, sb: Sandbox, method: str, old: str, new: str
) -> None:
    r = api.request(method, old + "?limit=2")
    assert r.status_code == 308
    assert r.headers["Location"] == f"{sb.base_url}{new}?limit=2"
    assert r.headers["Aurous-Deprecated"] == "route"
    assert r.headers["Sunset"] == "Tue, 04 Aug 2026 00:00:00 GMT"


def test_legacy_post_is_followed_to_a_real_create(api: httpx.Client) -> None:
    r = api.post("/v1/generations", json={"prompt": "redirected"}, follow_redirects=True)
    assert r.status_code == 201
    assert r.json()["id"].startswith("img_")
    assert r.json()["prompt"] == "redirected"


def test_docs_redirect(sb: Sandbox) -> None:
    r = NOKEY.get(sb.base_url + "/docs")
    assert r.status_code == 308
    assert r.headers["Location"] == "https://docs.aurous-labs.com/"
    assert r.headers["Aurous-Deprecated"] == "docs"


def test_sandbox_routes_need_no_key(sb: Sandbox) -> None:
    r = NOKEY.get(sb.base_url + "/_sandbox/ledger")
    assert r.status_code == 200
    assert "totals" in r.json()
    assert REQ_ID.match(r.headers["Aurous-Request-Id"])
    assert "X-RateLimit-Limit" not in r.headers


def test_stats_route(sb: Sandbox) -> None:
    body = NOKEY.get(sb.base_url + "/_sandbox/stats").json()
    assert body["chaos"]["rate"] == 0
    assert body["buckets"]["images_post"]["limit"] == 120
    assert body["buckets"]["webhooks_test"]["limit"] == 30


def test_non_bearer_authorization_is_missing_key(sb: Sandbox) -> None:
    r = NOKEY.get(sb.base_url + "/v1/balance", headers={"Authorization": f"Basic {sb.api_key}"})
    assert_error(r, 401, "missing_api_key")


def test_head_carries_the_common_headers(api: httpx.Client) -> None:
    r = api.head("/v1/balance")
    assert r.status_code == 200
    assert r.headers["Aurous-Version"] == "2026-05-15"
    assert REQ_ID.match(r.headers["Aurous-Request-Id"])


def test_public_base_url_is_used_in_signed_urls() -> None:
    with (
        Sandbox(latency=0.05, public_base_url="https://sandbox.example/") as sb,
        make_client(sb) as c,
    ):
        loras = c.get("/v1/loras").json()
        assert loras[0]["preview_image_url"].startswith("https://sandbox.example/_sandbox/")
        gen = c.post("/v1/images", json={"prompt": "x"}).json()
        done = wait_for(c, gen["id"])
        assert done["output_urls"][0].startswith(f"https://sandbox.example/v1/images/{gen['id']}/")


def test_api_spec_needs_no_key(sb: Sandbox) -> None:
    r = NOKEY.get(sb.base_url + "/api-spec.json")
    assert r.status_code == 200
    assert r.headers["content-type"] == "application/json"
    assert "/v1/images" in r.json()["paths"]
    assert "X-RateLimit-Limit" not in r.headers


def test_legacy_redirect_keeps_the_path_percent_encoded(api: httpx.Client, sb: Sandbox) -> None:
    r = api.get("/v1/video-generations/%F1%84%A5%98%2B")
    assert r.status_code == 308
    assert r.headers["Location"] == f"{sb.base_url}/v1/videos/%F1%84%A5%98%2B"
    r = api.get("/v1/generations/caf%C3%A9")
    assert r.headers["Location"] == f"{sb.base_url}/v1/images/caf%C3%A9"

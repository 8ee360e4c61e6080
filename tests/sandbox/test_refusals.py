"""Codes the sandbox produces only when configured: scoped and revoked keys, blocked prompts and
references, expired generations and provider timeouts."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
from sandbox_testkit import NOKEY, assert_error, make_client, wait_for

from aurous_nb.sandbox import Sandbox
from aurous_nb.sandbox.__main__ import build_parser

READ_KEY = "al_live_" + "1" * 64
WRITE_KEY = "al_live_" + "2" * 64
FULL_KEY = "al_live_" + "3" * 64
REVOKED_KEY = "al_live_" + "4" * 64


@pytest.fixture(scope="module")
def scoped() -> Iterator[Sandbox]:
    """Extra keys of every scope, one revoked key, and every generation ending ``expired``."""
    keys = {READ_KEY: "read", WRITE_KEY: "write", FULL_KEY: "full"}
    with Sandbox(
        latency=0.05,
        credits=1000,
        seed=3,
        extra_keys=keys,
        revoked_keys=(REVOKED_KEY,),
        expire_rate=1.0,
    ) as sandbox:
        yield sandbox


def _client(sb: Sandbox, key: str) -> httpx.Client:
    return httpx.Client(base_url=sb.base_url, headers={"X-Api-Key": key}, timeout=30)


def _envelope(r: httpx.Response, status: int, code: str, type_: str) -> dict[str, object]:
    error = assert_error(r, status, code)
    assert error["type"] == type_
    assert r.headers["Aurous-Version"] == "2026-05-15"
    assert r.headers["Aurous-Request-Id"].startswith("req_")
    return error


# -- scopes ------------------------------------------------------------------------------------


def test_read_key_reads_but_cannot_post(scoped: Sandbox) -> None:
    with _client(scoped, READ_KEY) as c:
        assert c.get("/v1/balance").status_code == 200
        assert c.get("/v1/images").status_code == 200
        for path, body in [
            ("/v1/images", {"prompt": "a cat"}),
            ("/v1/images/estimate", {"prompt": "a cat"}),
            ("/v1/videos", {"video_lora_id": "seedance-1-lite"}),
            ("/v1/webhook_endpoints", {"url": "https://example.com/hook"}),
        ]:
            error = _envelope(c.post(path, json=body), 403, "missing_scope", "authentication")
            assert error["param"] is None
            assert "'read'" in str(error["message"]) and "'write'" in str(error["message"])
        # a refused create made nothing
        assert c.get("/v1/images").json()["data"] == []


def test_write_key_creates_and_cancels_but_cannot_delete(scoped: Sandbox) -> None:
    with _client(scoped, WRITE_KEY) as c:
        assert c.post("/v1/images/estimate", json={"prompt": "a cat"}).status_code == 200
        gen = c.post("/v1/images", json={"prompt": "a cat"})
        assert gen.status_code == 201, gen.text
        assert c.post(f"/v1/images/{gen.json()['id']}/cancel").status_code != 403
        hook = c.post(
            "/v1/webhook_endpoints",
            json={"url": "https://example.com/hook", "events": ["image.completed"]},
        )
        assert hook.status_code == 201, hook.text
        hook_id = hook.json()["id"]
        assert c.post(f"/v1/webhook_endpoints/{hook_id}/rotate_secret").status_code != 403
        for method, path in [
            ("DELETE", f"/v1/webhook_endpoints/{hook_id}"),
            ("PATCH", f"/v1/webhook_endpoints/{hook_id}"),
            ("DELETE", "/v1/files/file_unknown"),
        ]:
            r = c.request(method, path, json={"description": "x"} if method == "PATCH" else None)
            error = _envelope(r, 403, "missing_scope", "authentication")
            assert "'full'" in str(error["message"])
    with _client(scoped, FULL_KEY) as full:
        assert full.delete(f"/v1/webhook_endpoints/{hook_id}").status_code in (200, 204)
        assert full.delete("/v1/files/file_unknown").status_code == 200


def test_main_key_is_full(scoped: Sandbox) -> None:
    with make_client(scoped) as c:
        assert c.delete("/v1/files/file_unknown").status_code == 200


def test_revoked_and_unknown_keys(scoped: Sandbox) -> None:
    with _client(scoped, REVOKED_KEY) as c:
        for r in (c.get("/v1/balance"), c.post("/v1/images", json={"prompt": "a cat"})):
            error = _envelope(r, 401, "revoked_api_key", "authentication")
            assert error["param"] is None
    with _client(scoped, "al_live_" + "5" * 64) as c:
        _envelope(c.get("/v1/balance"), 401, "invalid_api_key", "authentication")


# -- blocked prompts and references ------------------------------------------------------------


@pytest.mark.parametrize("route", ["/v1/images", "/v1/images/estimate"])
def test_prompt_blocked_on_images(api: httpx.Client, route: str) -> None:
    before = api.get("/v1/balance").json()
    r = api.post(route, json={"prompt": "a cat and a BlockedWord"})
    error = _envelope(r, 400, "prompt_blocked", "invalid_request")
    assert error["param"] == "prompt"
    assert api.get("/v1/balance").json()["held_credits"] == before["held_credits"]


@pytest.mark.parametrize("route", ["/v1/videos", "/v1/videos/estimate"])
def test_prompt_blocked_on_videos(api: httpx.Client, route: str) -> None:
    body = {"video_lora_id": "seedance-1-lite", "prompt": "blockedword waves"}
    error = _envelope(api.post(route, json=body), 400, "prompt_blocked", "invalid_request")
    assert error["param"] == "prompt"


@pytest.mark.parametrize("route", ["/v1/images", "/v1/images/estimate"])
def test_reference_blocked_on_images(api: httpx.Client, route: str) -> None:
    refs = ["https://example.com/ok.png", "https://example.com/blockedword.png"]
    r = api.post(route, json={"prompt": "a cat", "reference_image_urls": refs})
    error = _envelope(r, 400, "reference_blocked", "invalid_request")
    assert error["param"] == "reference_image_urls[1]"


@pytest.mark.parametrize("route", ["/v1/videos", "/v1/videos/estimate"])
def test_reference_blocked_on_videos(api: httpx.Client, route: str) -> None:
    body = {"video_lora_id": "seedance-1-lite", "first_frame_url": "https://x.test/blockedword.jpg"}
    error = _envelope(api.post(route, json=body), 400, "reference_blocked", "invalid_request")
    assert error["param"] == "first_frame_url"


def test_blocked_word_can_be_turned_off() -> None:
    with Sandbox(latency=0.05, blocked_word=None) as sb, make_client(sb) as c:
        assert c.post("/v1/images/estimate", json={"prompt": "blockedword"}).status_code == 200


def test_moderation_word_still_ends_a_generation(api: httpx.Client) -> None:
    gen = api.post("/v1/images", json={"prompt": "something forbidden"})
    assert gen.status_code == 201
    assert wait_for(api, gen.json()["id"])["status"] == "moderation_rejected"


# -- expired generations and provider timeouts -------------------------------------------------


def test_expired_generation_releases_the_hold_and_has_no_output(scoped: Sandbox) -> None:
    with make_client(scoped) as c:
        credits = c.get("/v1/balance").json()["credits"]
        gen = c.post("/v1/images", json={"prompt": "a slow cat"}).json()
        done = wait_for(c, gen["id"])
        assert done["status"] == "expired"
        assert done["error_message"]
        assert done["cost"]["amount"] == 0
        balance = c.get("/v1/balance").json()
        assert balance["credits"] == credits
        assert balance["held_credits"] == 0
        r = c.get(f"/v1/images/{gen['id']}/output/0")
        error = _envelope(r, 422, "output_not_available", "invalid_request")
        assert error["param"] == "id"
        assert_error(c.post(f"/v1/images/{gen['id']}/cancel"), 400, "generation_not_cancellable")


def test_provider_timeout_creates_nothing() -> None:
    with Sandbox(latency=0.05, provider_timeout_rate=1.0) as sb, make_client(sb) as c:
        for path, body in [
            ("/v1/images", {"prompt": "a cat"}),
            ("/v1/videos", {"video_lora_id": "seedance-1-lite"}),
        ]:
            r = c.post(path, json=body, headers={"Idempotency-Key": f"k-{path}"})
            _envelope(r, 504, "provider_timeout", "server_error")
        # estimates never time out; nothing was held or created
        assert c.post("/v1/images/estimate", json={"prompt": "a cat"}).status_code == 200
        assert c.get("/v1/balance").json()["held_credits"] == 0
        ledger = NOKEY.get(sb.base_url + "/_sandbox/ledger").json()
        assert ledger["totals"]["generation_count"] == 0


# -- CLI ---------------------------------------------------------------------------------------


def test_cli_options() -> None:
    args = build_parser().parse_args(
        [
            "--extra-key",
            "k1:read",
            "--extra-key",
            "k2:write",
            "--revoked-key",
            "old",
            "--blocked-word",
            "",
            "--expire-rate",
            "0.5",
            "--provider-timeout-rate",
            "0.1",
        ]
    )
    assert dict(args.extra_key) == {"k1": "read", "k2": "write"}
    assert args.revoked_key == ["old"]
    assert args.blocked_word == ""
    assert (args.expire_rate, args.provider_timeout_rate) == (0.5, 0.1)
    defaults = build_parser().parse_args([])
    assert defaults.blocked_word == "blockedword" and defaults.extra_key == []
    with pytest.raises(SystemExit):
        build_parser().parse_args(["--extra-key", "k1:admin"])

"""POST /v1/images (+ estimate), GET /v1/images(/{id}), cancel and the image output proxy."""

from __future__ import annotations

import io
import time
from typing import Any

import httpx
import pytest
from PIL import Image
from sandbox_testkit import NOKEY, assert_error, make_client, wait_for

from aurous_nb.sandbox import Sandbox

BAD_BODIES: list[tuple[dict[str, Any], str, str | None, int]] = [
    ({}, "missing_field", "prompt", 400),
    ({"prompt": 5}, "invalid_format", "prompt", 400),
    ({"prompt": ""}, "value_out_of_range", "prompt", 400),
    ({"prompt": "   "}, "invalid_format", "prompt", 400),
    ({"prompt": "x" * 4001}, "value_out_of_range", "prompt", 400),
    ({"prompt": "x", "negative_prompt": "y" * 4001}, "value_out_of_range", "negative_prompt", 400),
    ({"prompt": "x", "steps": 0}, "value_out_of_range", "steps", 400),
    ({"prompt": "x", "steps": 101}, "value_out_of_range", "steps", 400),
    ({"prompt": "x", "steps": 2.5}, "invalid_format", "steps", 400),
    ({"prompt": "x", "steps": "30"}, "invalid_format", "steps", 400),
    ({"prompt": "x", "guidance_scale": 0.05}, "value_out_of_range", "guidance_scale", 400),
    ({"prompt": "x", "guidance_scale": 31}, "value_out_of_range", "guidance_scale", 400),
    ({"prompt": "x", "cfg_rescale": 1.5}, "value_out_of_range", "cfg_rescale", 400),
    ({"prompt": "x", "denoise_strength": -0.1}, "value_out_of_range", "denoise_strength", 400),
    ({"prompt": "x", "count": 0}, "value_out_of_range", "count", 400),
    ({"prompt": "x", "count": 5}, "value_out_of_range", "count", 400),
    ({"prompt": "x", "count": True}, "invalid_format", "count", 400),
    ({"prompt": "x", "seed": "7"}, "invalid_format", "seed", 400),
    ({"prompt": "x", "enhance_prompt": "yes"}, "invalid_format", "enhance_prompt", 400),
    ({"prompt": "x", "size": "huge"}, "invalid_format", "size", 400),
    (
        {"prompt": "x", "size": "2k_1_1", "width": 1024},
        "parameter_invalid_combination",
        "size",
        400,
    ),
    ({"prompt": "x", "width": 1024}, "missing_field", "height", 400),
    ({"prompt": "x", "height": 1024}, "missing_field", "width", 400),
    ({"prompt": "x", "width": 512, "height": 1024}, "value_out_of_range", "width", 400),
    ({"prompt": "x", "width": 1024, "height": 5000}, "value_out_of_range", "height", 400),
    (
        {"prompt": "x", "lora_id": "golden-hour", "loras": [{"lora": "neon-noir", "weight": 1}]},
        "mutually_exclusive_input",
        "loras",
        400,
    ),
    ({"prompt": "x", "loras": []}, "value_out_of_range", "loras", 400),
    ({"prompt": "x", "loras": [{"lora": "golden-hour"}] * 5}, "value_out_of_range", "loras", 400),
    ({"prompt": "x", "loras": [{"weight": 1}]}, "missing_field", "loras[0].lora", 400),
    (
        {"prompt": "x", "loras": [{"lora": "golden-hour", "weight": 2.5}]},
        "value_out_of_range",
        "loras[0].weight",
        400,
    ),
    ({"prompt": "x", "lora_id": "no-such-style"}, "resource_not_found", "lora_id", 404),
    (
        {"prompt": "x", "loras": [{"lora": "golden-hour"}, {"lora": "nope"}]},
        "resource_not_found",
        "loras[1].lora",
        404,
    ),
    ({"prompt": "x", "lora_id": "seedance-1-pro"}, "unsupported_lora_for_mode", "lora_id", 400),
    ({"prompt": "x", "character_id": "char_01ABC"}, "resource_not_found", "character_id", 404),
    (
        {"prompt": "x", "character_id": "char_1", "reference_image_urls": ["https://a.b/c.png"]},
        "mutually_exclusive_input",
        "character_id",
        400,
    ),
    (
        {"prompt": "x", "reference_image_urls": ["http://example.com/a.png"]},
        "invalid_format",
        "reference_image_urls[0]",
        400,
    ),
    (
        {"prompt": "x", "reference_image_urls": ["https://e.com/" + "a" * 2048]},
        "value_out_of_range",
        "reference_image_urls[0]",
        400,
    ),
    (
        {"prompt": "x", "reference_image_urls": ["file_01NOTHERE0000000000000000"]},
        "resource_not_found",
        "reference_image_urls[0]",
        404,
    ),
    (
        {"prompt": "x", "webhook_url": "http://example.com/hook"},
        "invalid_format",
        "webhook_url",
        400,
    ),
]


@pytest.mark.parametrize(("body", "code", "param", "status"), BAD_BODIES)
@pytest.mark.parametrize("route", ["/v1/images", "/v1/images/estimate"])
def test_validation(
    api: httpx.Client, route: str, body: dict[str, Any], code: str, param: str | None, status: int
) -> None:
    assert_error(api.post(route, json=body), status, code, param)


@pytest.mark.parametrize(
    "raw",
    [b"{junk", b"", b"[1, 2]", b'"prompt"', b"\xff\xfe", b'{"prompt": "x", "steps": NaN}'],
)
def test_junk_bodies_are_400_not_500(api: httpx.Client, raw: bytes) -> None:
    r = api.post("/v1/images", content=raw, headers={"Content-Type": "application/json"})
    assert_error(r, 400, "invalid_format")


@pytest.mark.parametrize(
    ("size", "wh"),
    [
        ("2k_1_1", (2048, 2048)),
        ("2k_16_9", (2048, 1152)),
        ("2k_9_16", (1152, 2048)),
        ("2k_3_2", (2048, 1376)),
        ("2k_21_9", (2048, 864)),
        ("4k_4_3", (4096, 3072)),
        ("4k_2_3", (2720, 4096)),
        ("hd_square", (2048, 2048)),
        ("hd_landscape", (2048, 1152)),
        ("portrait", (1024, 1536)),
    ],
)
def test_size_presets(api: httpx.Client, size: str, wh: tuple[int, int]) -> None:
    body = api.post("/v1/images", json={"prompt": "sizes", "size": size}).json()
    assert (body["width"], body["height"]) == wh
    assert body["size_preset"] == size


def test_width_height_snap_to_32(api: httpx.Client) -> None:
    body = api.post("/v1/images", json={"prompt": "snap", "width": 1100, "height": 1030}).json()
    assert (body["width"], body["height"]) == (1088, 1024)
    assert body["size_preset"] is None


def test_estimate(api: httpx.Client) -> None:
    r = api.post("/v1/images/estimate", json={"prompt": "x", "size": "hd_square"})
    assert r.status_code == 200
    assert r.json() == {
        "object": "estimate",
        "estimated_cost": {"amount": 1, "breakdown": {"base": 1}},
        "currency": "credit",
    }
    r = api.post("/v1/images/estimate", json={"prompt": "x", "enhance_prompt": True})
    assert r.json()["estimated_cost"] == {"amount": 2, "breakdown": {"base": 1, "enhance": 1}}
    r = api.post("/v1/images/estimate", json={"prompt": "x", "count": 3, "enhance_prompt": True})
    assert r.json()["estimated_cost"] == {"amount": 6, "breakdown": {"base": 3, "enhance": 3}}
    assert r.headers["X-RateLimit-Limit"] == "240"


def test_estimate_creates_nothing(sb: Sandbox, api: httpx.Client) -> None:
    before = NOKEY.get(sb.base_url + "/_sandbox/ledger").json()["totals"]["generation_count"]
    api.post("/v1/images/estimate", json={"prompt": "x"})
    after = NOKEY.get(sb.base_url + "/_sandbox/ledger").json()["totals"]["generation_count"]
    assert before == after


def test_create_poll_download(sb: Sandbox, api: httpx.Client) -> None:
    r = api.post(
        "/v1/images",
        json={"prompt": "a lighthouse", "lora_id": "golden-hour", "size": "2k_16_9", "seed": 7},
    )
    assert r.status_code == 201
    assert r.headers["X-RateLimit-Limit"] == "120"
    created = r.json()
    assert created["object"] == "inference"
    assert created["id"].startswith("img_") and len(created["id"]) == 30
    assert created["status"] == "pending"
    assert created["media_type"] == "image"
    assert created["output_urls"] == []
    assert created["cost"] == {"amount": 1, "currency": "credit", "breakdown": {"base": 1}}
    assert created["creation_request_id"] == r.headers["Aurous-Request-Id"]
    assert created["aurous_version"] == "2026-05-15"
    assert created["loras"] == [{"id": "lora_01JAEM2JJXSAKRTNT69QB3DEFN", "name": "Golden Hour"}]
    assert created["seed"] == 7
    assert created["inference_type"] == "t2i"
    assert created["steps"] == 30 and created["guidance_scale"] == 7.5
    assert created["cfg_rescale"] == 0

    done = wait_for(api, created["id"])
    assert done["status"] == "succeeded"
    assert done["completed_at"].endswith("Z")
    assert done["duration_ms"] > 0
    assert len(done["output_urls"]) == 1
    url = done["output_urls"][0]
    assert url.startswith(f"{sb.base_url}/v1/images/{created['id']}/output/0?token=")
    img = NOKEY.get(url)  # no key: the token is enough
    assert img.status_code == 200
    assert img.headers["content-type"] == "image/png"
    assert Image.open(io.BytesIO(img.content)).size == (2048, 1152)
    # Fresh tokens on every read, all valid; same bytes for the same request.
    again = api.get(f"/v1/images/{created['id']}").json()["output_urls"][0]
    assert again != url
    assert NOKEY.get(again).content == img.content
    with_key = api.get(f"/v1/images/{created['id']}/output/0")
    assert with_key.content == img.content


def test_same_request_same_seed_same_bytes_and_styles_differ(api: httpx.Client) -> None:
    def render(**extra: Any) -> bytes:
        body = {"prompt": "harbour at dawn", "seed": 11, "size": "square", **extra}
        gen = wait_for(api, api.post("/v1/images", json=body).json()["id"])
        return NOKEY.get(gen["output_urls"][0]).content

    a, b = render(lora_id="golden-hour"), render(lora_id="golden-hour")
    c = render(lora_id="neon-noir")
    assert a == b
    assert a != c


def test_count_gives_that_many_outputs(api: httpx.Client) -> None:
    gen = api.post("/v1/images", json={"prompt": "many", "count": 3, "size": "square"}).json()
    assert gen["image_count"] == 3
    assert gen["cost"]["amount"] == 3
    done = wait_for(api, gen["id"])
    assert len(done["output_urls"]) == 3
    imgs = [NOKEY.get(u).content for u in done["output_urls"]]
    assert len(set(imgs)) == 3
    assert_error(api.get(f"/v1/images/{gen['id']}/output/3"), 404, "resource_not_found", "n")


def test_stacked_loras(api: httpx.Client) -> None:
    body = {
        "prompt": "stack",
        "loras": [{"lora": "golden-hour", "weight": 0.5}, {"lora": "watercolor", "weight": 1.2}],
    }
    gen = api.post("/v1/images", json=body).json()
    assert [entry["name"] for entry in gen["loras"]] == ["Golden Hour", "Watercolor"]
    assert gen["cost"]["amount"] == 1


def test_output_token_checks(api: httpx.Client, sb: Sandbox) -> None:
    gen = wait_for(api, api.post("/v1/images", json={"prompt": "tok"}).json()["id"])
    url = gen["output_urls"][0]
    tampered = url[:-4] + ("0000" if not url.endswith("0000") else "1111")
    assert_error(NOKEY.get(tampered), 401, "invalid_api_key", "token")
    other = url.replace("/output/0?", "/output/1?")
    assert_error(NOKEY.get(other), 401, "invalid_api_key")
    assert_error(NOKEY.get(url.split("?")[0]), 401, "missing_api_key")


def test_get_unknown_generation_is_404(api: httpx.Client) -> None:
    assert_error(api.get("/v1/images/img_01NOPE0000000000000000000"), 404, "resource_not_found")
    assert_error(api.post("/v1/images/img_nope/cancel"), 404, "resource_not_found")
    assert_error(api.get("/v1/images/img_nope/output/0"), 404, "resource_not_found")


def test_list_pagination(api: httpx.Client) -> None:
    ids = [api.post("/v1/images", json={"prompt": f"list {i}"}).json()["id"] for i in range(5)]
    page = api.get("/v1/images", params={"limit": 2}).json()
    assert page["object"] == "list"
    assert [g["id"] for g in page["data"]] == ids[::-1][:2]
    assert page["has_more"] is True and page["next_cursor"] == ids[3]
    page2 = api.get("/v1/images", params={"limit": 2, "starting_after": page["next_cursor"]}).json()
    assert [g["id"] for g in page2["data"]] == [ids[2], ids[1]]
    newer = api.get("/v1/images", params={"limit": 2, "ending_before": ids[1]}).json()
    assert [g["id"] for g in newer["data"]] == [ids[3], ids[2]]
    assert newer["has_more"] is True
    newest = api.get("/v1/images", params={"ending_before": ids[3]}).json()
    assert [g["id"] for g in newest["data"]] == [ids[4]]
    assert newest["has_more"] is False and newest["next_cursor"] is None
    assert_error(api.get("/v1/images", params={"limit": 101}), 400, "value_out_of_range", "limit")
    assert_error(api.get("/v1/images", params={"limit": "x"}), 400, "invalid_format", "limit")
    r = api.get("/v1/images", params={"starting_after": ids[0], "ending_before": ids[1]})
    assert_error(r, 400, "parameter_invalid_combination")


def test_list_walks_everything(api: httpx.Client) -> None:
    seen: list[str] = []
    params: dict[str, Any] = {"limit": 100}
    while True:
        page = api.get("/v1/images", params=params).json()
        seen += [g["id"] for g in page["data"]]
        if not page["has_more"]:
            break
        params["starting_after"] = page["next_cursor"]
    assert len(seen) == len(set(seen)) > 5


# -- cancel, failures, expiry ----------------------------------------------------------------


@pytest.fixture(scope="module")
def slow() -> Any:
    """Slow generations (so they can be cancelled) and a short output lifetime."""
    with Sandbox(latency=30, credits=100, output_ttl=1.0, seed=5) as sb, make_client(sb) as c:
        yield sb, c


def test_cancel_releases_the_hold(slow: Any) -> None:
    _, client = slow
    before = client.get("/v1/balance").json()
    gen = client.post("/v1/images", json={"prompt": "cancel me", "count": 2}).json()
    held = client.get("/v1/balance").json()
    assert held["held_credits"] == before["held_credits"] + 2
    assert held["available_credits"] == before["available_credits"] - 2
    r = client.post(f"/v1/images/{gen['id']}/cancel")
    assert r.status_code == 200
    assert r.headers["X-RateLimit-Limit"] == "120"
    body = r.json()
    assert body["status"] == "cancelled"
    assert body["cost"] == {"amount": 0, "currency": "credit", "breakdown": {"base": 0}}
    again = client.post(f"/v1/images/{gen['id']}/cancel")
    assert again.status_code == 200 and again.json()["status"] == "cancelled"
    after = client.get("/v1/balance").json()
    assert after == before
    err = assert_error(client.get(f"/v1/images/{gen['id']}/output/0"), 422, "output_not_available")
    assert err["type"] == "invalid_request"


def test_pending_output_is_not_available(slow: Any) -> None:
    _, client = slow
    gen = client.post("/v1/images", json={"prompt": "slow"}).json()
    assert_error(client.get(f"/v1/images/{gen['id']}/output/0"), 422, "output_not_available")
    client.post(f"/v1/images/{gen['id']}/cancel")


def test_outcomes_failure_moderation_and_not_cancellable() -> None:
    with Sandbox(latency=0.05, credits=10, failure_rate=1.0) as sb, make_client(sb) as client:
        failed = wait_for(client, client.post("/v1/images", json={"prompt": "boom"}).json()["id"])
        assert failed["status"] == "failed"
        assert failed["error_message"]
        assert failed["cost"] == {"amount": 0, "currency": "credit", "breakdown": {"base": 0}}
        assert_error(client.get(f"/v1/images/{failed['id']}/output/0"), 422, "output_not_available")
        r = client.post(f"/v1/images/{failed['id']}/cancel")
        assert_error(r, 400, "generation_not_cancellable")
        body = {"prompt": "something FORBIDDEN here"}
        mod = wait_for(client, client.post("/v1/images", json=body).json()["id"])
        assert mod["status"] == "moderation_rejected"
        assert mod["error_message"] == "Content policy violation"
        assert client.get("/v1/balance").json()["credits"] == 10


def test_succeeded_is_not_cancellable(api: httpx.Client) -> None:
    gen = wait_for(api, api.post("/v1/images", json={"prompt": "done"}).json()["id"])
    r = api.post(f"/v1/images/{gen['id']}/cancel")
    assert_error(r, 400, "generation_not_cancellable", "id")


def test_output_expires_with_410() -> None:
    with Sandbox(latency=0.05, output_ttl=1.5) as sb, make_client(sb) as client:
        gen = wait_for(client, client.post("/v1/images", json={"prompt": "brief"}).json()["id"])
        url = gen["output_urls"][0]
        assert NOKEY.get(url).status_code == 200
        time.sleep(1.6)
        err = assert_error(NOKEY.get(url), 410, "output_expired")
        assert err["type"] == "not_found"
        assert_error(client.get(f"/v1/images/{gen['id']}/output/0"), 410, "output_expired")
        assert client.get(f"/v1/images/{gen['id']}").json()["output_urls"] == []


def test_pinned_version_prices_and_stamps_the_generation(api: httpx.Client) -> None:
    r = api.post(
        "/v1/images",
        json={"prompt": "old prices", "count": 2, "enhance_prompt": True},
        headers={"Aurous-Version": "2026-01-15"},
    )
    assert r.status_code == 201
    assert r.headers["Aurous-Version"] == "2026-01-15"
    gen = r.json()
    assert gen["aurous_version"] == "2026-01-15"
    # 2026-01-15: base 1.5 per image, enhance multiplier 1.5.
    assert gen["cost"] == {
        "amount": 4.5,
        "currency": "credit",
        "breakdown": {"base": 3, "enhance": 1.5},
    }
    done = wait_for(api, gen["id"])
    assert done["cost"]["amount"] == 4.5
    assert done["aurous_version"] == "2026-01-15"


def test_legacy_uuid_lora_ids(api: httpx.Client) -> None:
    from aurous_nb.sandbox.catalog import IMAGE_LORAS, VIDEO_LORAS

    img = api.post("/v1/images", json={"prompt": "x", "lora_id": IMAGE_LORAS[1].legacy_uuid})
    assert img.json()["loras"][0]["id"] == IMAGE_LORAS[1].id
    vid = api.post(
        "/v1/videos/estimate",
        json={"video_lora_id": VIDEO_LORAS[0].legacy_uuid.upper(), "resolution": "480p"},
    )
    assert vid.status_code == 200

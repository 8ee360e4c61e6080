"""POST /v1/videos (+ estimate) and the video output proxy with Range support."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from sandbox_testkit import NOKEY, assert_error, wait_for

BAD: list[tuple[dict[str, Any], str, str | None, int]] = [
    ({}, "missing_field", "video_lora_id", 400),
    ({"video_lora_id": 3}, "invalid_format", "video_lora_id", 400),
    ({"video_lora_id": "nope"}, "resource_not_found", "video_lora_id", 404),
    ({"video_lora_id": "golden-hour"}, "unsupported_lora_for_mode", "video_lora_id", 400),
    ({"video_lora_id": "seedance-1-pro", "resolution": "4k"}, "invalid_format", "resolution", 400),
    ({"video_lora_id": "seedance-1-pro", "ratio": "2:1"}, "invalid_format", "ratio", 400),
    ({"video_lora_id": "seedance-1-pro", "duration": 1}, "value_out_of_range", "duration", 400),
    ({"video_lora_id": "seedance-1-pro", "duration": 13}, "value_out_of_range", "duration", 400),
    ({"video_lora_id": "seedance-1-pro", "duration": 5.5}, "invalid_format", "duration", 400),
    ({"video_lora_id": "seedance-1-pro", "prompt": " "}, "invalid_format", "prompt", 400),
    (
        {"video_lora_id": "seedance-1-pro", "last_frame_url": "https://x.y/z.png"},
        "missing_field",
        "first_frame_url",
        400,
    ),
    (
        {"video_lora_id": "seedance-1-pro", "first_frame_url": "ftp://x.y/z.png"},
        "invalid_format",
        "first_frame_url",
        400,
    ),
    (
        {"video_lora_id": "seedance-1-pro", "first_frame_url": "file_01NOPE"},
        "resource_not_found",
        "first_frame_url",
        404,
    ),
    (
        {"video_lora_id": "seedance-1-pro", "camera_fixed": "no"},
        "invalid_format",
        "camera_fixed",
        400,
    ),
    ({"video_lora_id": "seedance-1-pro", "seed": -5}, "value_out_of_range", "seed", 400),
]


@pytest.mark.parametrize(("body", "code", "param", "status"), BAD)
@pytest.mark.parametrize("route", ["/v1/videos", "/v1/videos/estimate"])
def test_validation(
    api: httpx.Client, route: str, body: dict[str, Any], code: str, param: str | None, status: int
) -> None:
    assert_error(api.post(route, json=body), status, code, param)


@pytest.mark.parametrize(
    ("resolution", "duration", "enhance", "amount", "breakdown"),
    [
        ("480p", 5, False, 2.5, {"base": 2.5}),
        ("720p", 5, False, 3.75, {"base": 3.75}),
        ("1080p", 5, False, 6.25, {"base": 6.25}),
        ("480p", 4, True, 4, {"base": 2, "enhance": 2}),
    ],
)
def test_estimate(
    api: httpx.Client,
    resolution: str,
    duration: int,
    enhance: bool,
    amount: float,
    breakdown: dict[str, float],
) -> None:
    body = {
        "video_lora_id": "seedance-1-pro",
        "resolution": resolution,
        "duration": duration,
        "enhance_prompt": enhance,
    }
    r = api.post("/v1/videos/estimate", json=body)
    assert r.status_code == 200
    assert r.json() == {
        "object": "estimate",
        "estimated_cost": {"amount": amount, "breakdown": breakdown},
        "currency": "credit",
    }


def test_defaults_come_from_the_video_lora(slow_api: httpx.Client) -> None:
    api = slow_api
    gen = api.post("/v1/videos", json={"video_lora_id": "seedance-1-pro"}).json()
    assert gen["video_resolution"] == "1080p"
    assert gen["video_ratio"] == "16:9"
    assert gen["video_duration"] == 5
    assert gen["cost"]["amount"] == 6.25
    api.post(f"/v1/images/{gen['id']}/cancel")


def test_create_poll_and_range(api: httpx.Client) -> None:
    body = {
        "video_lora_id": "seedance-1-lite",
        "prompt": "waves on a pier",
        "resolution": "480p",
        "ratio": "1:1",
        "duration": 2,
        "seed": 3,
        "camera_fixed": True,
    }
    r = api.post("/v1/videos", json=body)
    assert r.status_code == 201
    gen = r.json()
    assert gen["id"].startswith("vid_")
    assert gen["media_type"] == "video"
    assert gen["object"] == "inference"
    assert gen["inference_type"] == "t2v"
    assert gen["video_camera_fixed"] is True
    assert gen["cost"] == {"amount": 1, "currency": "credit", "breakdown": {"base": 1}}
    done = wait_for(api, gen["id"])
    assert done["status"] == "succeeded"
    url = done["output_video_url"]
    assert url.startswith(api.base_url.join(f"/v1/videos/{gen['id']}/output?token=").__str__())
    full = NOKEY.get(url)
    assert full.status_code == 200
    assert full.headers["content-type"] == "video/mp4"
    assert full.headers["accept-ranges"] == "bytes"
    assert full.content[4:8] == b"ftyp"
    size = len(full.content)
    part = NOKEY.get(url, headers={"Range": "bytes=10-19"})
    assert part.status_code == 206
    assert part.headers["content-range"] == f"bytes 10-19/{size}"
    assert part.content == full.content[10:20]
    tail = NOKEY.get(url, headers={"Range": "bytes=-16"})
    assert tail.status_code == 206 and tail.content == full.content[-16:]
    open_end = NOKEY.get(url, headers={"Range": f"bytes={size - 5}-"})
    assert open_end.content == full.content[-5:]
    bad = NOKEY.get(url, headers={"Range": f"bytes={size + 10}-"})
    assert bad.status_code == 416
    assert bad.headers["content-range"] == f"bytes */{size}"
    # A video id has no image outputs; an image id has no video output.
    assert_error(api.get(f"/v1/images/{gen['id']}/output/0"), 404, "resource_not_found")


def test_image_id_on_video_output_route(api: httpx.Client) -> None:
    img = wait_for(api, api.post("/v1/images", json={"prompt": "still"}).json()["id"])
    assert_error(api.get(f"/v1/videos/{img['id']}/output"), 404, "resource_not_found")


def test_video_cancel_and_422(slow_api: httpx.Client) -> None:
    api = slow_api
    gen = api.post("/v1/videos", json={"video_lora_id": "seedance-1-lite"}).json()
    cancelled = api.post(f"/v1/images/{gen['id']}/cancel").json()
    assert cancelled["status"] == "cancelled"
    assert_error(api.get(f"/v1/videos/{gen['id']}/output"), 422, "output_not_available")

"""Client-side validation: every documented range and exclusion, raised before sending."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from client_support import Api, aclose, mock_api

from aurous_nb.client import ValidationError
from aurous_nb.client._params import image_body, video_body

OK = {"prompt": "a cat"}


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"prompt": ""}, "prompt"),
        ({"prompt": "   "}, "prompt"),
        ({"prompt": "x" * 4001}, "prompt"),
        ({"prompt": 5}, "prompt"),
        ({"negative_prompt": ""}, "negative_prompt"),
        ({"negative_prompt": "n" * 4001}, "negative_prompt"),
        ({"lora_id": "lora_a", "loras": [("lora_b", 1.0)]}, "loras"),
        ({"loras": []}, "loras"),
        ({"loras": [("a", 1.0)] * 5}, "loras"),
        ({"loras": [("a", 2.5)]}, "loras[0].weight"),
        ({"loras": [("a", -0.1)]}, "loras[0].weight"),
        ({"loras": [{"lora": "a", "weight": 1, "x": 1}]}, "loras[0]"),
        ({"loras": [{"lora": "", "weight": 1}]}, "loras[0].lora"),
        ({"loras": ["lora_a"]}, "loras[0]"),
        ({"size": "huge"}, "size"),
        ({"size": "2k_1_1", "width": 1024, "height": 1024}, "size"),
        ({"width": 1024}, "height"),
        ({"height": 1024}, "width"),
        ({"width": 1000, "height": 1024}, "width"),
        ({"width": 1024, "height": 4097}, "height"),
        ({"width": 1024.0, "height": 1024}, "width"),
        ({"count": 0}, "count"),
        ({"count": 5}, "count"),
        ({"count": True}, "count"),
        ({"seed": -1}, "seed"),
        ({"seed": "1"}, "seed"),
        ({"steps": 0}, "steps"),
        ({"steps": 101}, "steps"),
        ({"guidance_scale": 0.05}, "guidance_scale"),
        ({"guidance_scale": 30.5}, "guidance_scale"),
        ({"guidance_scale": float("nan")}, "guidance_scale"),
        ({"cfg_rescale": 1.1}, "cfg_rescale"),
        ({"cfg_rescale": -0.1}, "cfg_rescale"),
        ({"denoise_strength": 1.5}, "denoise_strength"),
        ({"enhance_prompt": "yes"}, "enhance_prompt"),
        ({"reference_image_urls": "https://a/b.png"}, "reference_image_urls"),
        ({"reference_image_urls": []}, "reference_image_urls"),
        ({"reference_image_urls": ["http://a.com/b.png"]}, "reference_image_urls[0]"),
        ({"reference_image_urls": ["https://a.com/" + "b" * 2040]}, "reference_image_urls[0]"),
        (
            {"reference_image_urls": ["file_1"], "character_id": "char_1"},
            "reference_image_urls",
        ),
        ({"character_id": ""}, "character_id"),
        ({"webhook_url": "ftp://x"}, "webhook_url"),
        ({"webhook_url": "http://example.com/hook"}, "webhook_url"),
        ({"colour": "red"}, "colour"),
    ],
)
def test_image_validation(params: dict[str, Any], field: str) -> None:
    merged = {**OK, **params}
    prompt = merged.pop("prompt")
    with pytest.raises(ValidationError) as info:
        image_body(prompt, merged)
    assert info.value.param == field
    assert field.split("[")[0].split(".")[0] in str(info.value)


def test_image_body_is_exact() -> None:
    body = image_body(
        "a cat",
        {
            "negative_prompt": "dogs",
            "loras": [("lora_a", 0.5), {"lora": "golden-hour", "weight": 2}, {"lora": "x"}],
            "width": 1024,
            "height": 4096,
            "count": 4,
            "seed": 0,
            "steps": 100,
            "guidance_scale": 0.1,
            "cfg_rescale": 0,
            "denoise_strength": 1,
            "enhance_prompt": False,
            "reference_image_urls": ["file_01", "https://cdn.example.com/a.png"],
            "webhook_url": "http://127.0.0.1:8000/hook",
            "size": None,
        },
    )
    assert body == {
        "prompt": "a cat",
        "negative_prompt": "dogs",
        "loras": [
            {"lora": "lora_a", "weight": 0.5},
            {"lora": "golden-hour", "weight": 2},
            {"lora": "x", "weight": 1.0},
        ],
        "width": 1024,
        "height": 4096,
        "count": 4,
        "seed": 0,
        "steps": 100,
        "guidance_scale": 0.1,
        "cfg_rescale": 0,
        "denoise_strength": 1,
        "enhance_prompt": False,
        "reference_image_urls": ["file_01", "https://cdn.example.com/a.png"],
        "webhook_url": "http://127.0.0.1:8000/hook",
    }
    assert image_body("x", {"size": "hd_square"})["size"] == "hd_square"
    assert image_body("x", {"size": "4k_21_9", "lora_id": "lora_1"}) == {
        "prompt": "x",
        "size": "4k_21_9",
        "lora_id": "lora_1",
    }


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"video_lora_id": ""}, "video_lora_id"),
        ({"prompt": ""}, "prompt"),
        ({"resolution": "4k"}, "resolution"),
        ({"ratio": "16_9"}, "ratio"),
        ({"duration": 1}, "duration"),
        ({"duration": 13}, "duration"),
        ({"duration": 5.0}, "duration"),
        ({"seed": -2}, "seed"),
        ({"camera_fixed": 1}, "camera_fixed"),
        ({"watermark": None, "enhance_prompt": "no"}, "enhance_prompt"),
        ({"first_frame_url": "http://x.com/a.png"}, "first_frame_url"),
        ({"last_frame_url": "file_1"}, "last_frame_url"),
        ({"first_frame_url": "file_1", "last_frame_url": "x" * 2049}, "last_frame_url"),
        ({"size": "2k_1_1"}, "size"),
    ],
)
def test_video_validation(params: dict[str, Any], field: str) -> None:
    merged = {"video_lora_id": "lora_v", **params}
    lora = merged.pop("video_lora_id")
    with pytest.raises(ValidationError) as info:
        video_body(lora, merged)
    assert info.value.param == field


def test_video_body_is_exact() -> None:
    assert video_body(
        "seedance-1-pro",
        {
            "prompt": "waves",
            "first_frame_url": "file_1",
            "last_frame_url": "https://x.com/b.png",
            "resolution": "1080p",
            "ratio": "21:9",
            "duration": 12,
            "seed": -1,
            "camera_fixed": True,
            "watermark": False,
            "enhance_prompt": True,
            "webhook_url": "https://x.com/h",
        },
    ) == {
        "video_lora_id": "seedance-1-pro",
        "prompt": "waves",
        "first_frame_url": "file_1",
        "last_frame_url": "https://x.com/b.png",
        "resolution": "1080p",
        "ratio": "21:9",
        "duration": 12,
        "seed": -1,
        "camera_fixed": True,
        "watermark": False,
        "enhance_prompt": True,
        "webhook_url": "https://x.com/h",
    }


@pytest.mark.parametrize("kind", ["sync", "async"])
async def test_nothing_is_sent_on_validation_error(kind: str) -> None:
    sent: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        sent.append(request)
        return httpx.Response(500)

    c = mock_api(kind, handler)
    api = Api(kind, c)
    calls = [
        lambda c: c.images.create("x", count=9),
        lambda c: c.images.estimate("x", width=1024),
        lambda c: c.images.create("x", idempotency_key=""),
        lambda c: c.videos.create("lora_v", duration=99),
        lambda c: c.videos.estimate("lora_v", ratio="2:1"),
        lambda c: c.images.list_page(limit=101),
        lambda c: c.images.get(""),
        lambda c: c.images.download("img_1", -1),
        lambda c: c.files.upload(b"not an image"),
        lambda c: c.files.upload(b"\x89PNG\r\n\x1a\n", purpose="poster"),
        lambda c: c.webhook_endpoints.create("ftp://x", ["*"]),
        lambda c: c.webhook_endpoints.create("https://x.com/h", []),
        lambda c: c.webhook_endpoints.update("we_1"),
        lambda c: c.usage("2026-01-01T00:00:00Z", bucket_width="2h"),
        lambda c: c.balance(version="latest"),
    ]
    try:
        for call in calls:
            with pytest.raises(ValidationError):
                await api(call)
        # a naive datetime is ambiguous: rejected
        from datetime import datetime

        with pytest.raises(ValidationError, match="timezone"):
            await api(lambda c: c.usage(datetime(2026, 1, 1)))
    finally:
        await aclose(c)
    assert sent == []


@pytest.mark.parametrize(
    ("keyword", "meant"),
    [("lora", "lora_id"), ("negative", "negative_prompt"), ("seeed", "seed"), ("n", "count")],
)
async def test_an_unknown_keyword_names_the_parameter_it_most_likely_meant(
    api: Api, keyword: str, meant: str
) -> None:
    with pytest.raises(ValidationError) as info:
        await api(lambda c: c.images.create("a cat", **{keyword: "watercolor"}))
    assert info.value.param == keyword
    assert str(info.value) == f"{keyword}: unknown parameter; did you mean {meant}?"


async def test_an_unknown_keyword_with_no_near_name_lists_the_parameters(api: Api) -> None:
    with pytest.raises(ValidationError) as info:
        await api(lambda c: c.videos.create("seedance-1-pro", zzz=1))
    assert "zzz: unknown parameter; known: prompt, first_frame_url" in str(info.value)

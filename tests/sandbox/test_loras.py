"""Image and video LoRA catalogues and the previews the sandbox serves itself."""

from __future__ import annotations

import io

import httpx
from PIL import Image
from sandbox_testkit import NOKEY, assert_error


def test_list_loras_is_a_bare_array(api: httpx.Client, sb: object) -> None:
    body = api.get("/v1/loras").json()
    assert isinstance(body, list) and len(body) >= 8
    for lora in body:
        assert lora["id"].startswith("lora_")
        assert {"name", "is_public", "created_at", "slug", "preview_image_url"} <= set(lora)
    assert len({lora["slug"] for lora in body}) == len(body)


def test_get_lora_by_id_slug_and_legacy_uuid(api: httpx.Client) -> None:
    from aurous_nb.sandbox.catalog import IMAGE_LORAS

    lora = IMAGE_LORAS[0]
    for ref in (lora.id, lora.slug, lora.legacy_uuid):
        body = api.get(f"/v1/loras/{ref}").json()
        assert body["id"] == lora.id
    assert_error(api.get("/v1/loras/lora_NOPE"), 404, "resource_not_found", "id")


def test_preview_is_a_real_png_served_without_a_key(api: httpx.Client) -> None:
    url = api.get("/v1/loras/golden-hour").json()["preview_image_url"]
    r = NOKEY.get(url)
    assert r.status_code == 200 and r.headers["content-type"] == "image/png"
    assert Image.open(io.BytesIO(r.content)).format == "PNG"


def test_video_loras(api: httpx.Client) -> None:
    body = api.get("/v1/video_loras").json()
    assert isinstance(body, list) and len(body) >= 2
    one = api.get(f"/v1/video_loras/{body[0]['slug']}").json()
    assert one["id"] == body[0]["id"]
    assert {"default_resolution", "default_ratio", "default_duration"} <= set(one)
    assert_error(api.get("/v1/video_loras/golden-hour"), 404, "resource_not_found")
    r = NOKEY.get(one["preview_video_url"], headers={"Range": "bytes=0-7"})
    assert r.status_code == 206
    assert r.content[4:8] == b"ftyp"

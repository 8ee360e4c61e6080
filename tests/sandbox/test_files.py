"""POST/GET/DELETE /v1/files: multipart uploads checked with Pillow, idempotent, usable as refs."""

from __future__ import annotations

import io
import json
import uuid

import httpx
import pytest
from PIL import Image
from sandbox_testkit import NOKEY, assert_error

from aurous_nb.sandbox import Sandbox


def image_bytes(fmt: str = "PNG", size: tuple[int, int] = (64, 48)) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", size, (200, 30, 30)).save(buf, format=fmt)
    return buf.getvalue()


def upload(
    api: httpx.Client,
    data: bytes,
    purpose: str | None = "reference",
    metadata: str | None = None,
    headers: dict[str, str] | None = None,
    name: str = "ref.png",
) -> httpx.Response:
    form: dict[str, str] = {}
    if purpose is not None:
        form["purpose"] = purpose
    if metadata is not None:
        form["metadata"] = metadata
    return api.post("/v1/files", files={"file": (name, data)}, data=form, headers=headers or {})


@pytest.mark.parametrize(
    ("fmt", "mime"), [("PNG", "image/png"), ("JPEG", "image/jpeg"), ("WEBP", "image/webp")]
)
def test_upload_get_delete(api: httpx.Client, fmt: str, mime: str) -> None:
    data = image_bytes(fmt)
    r = upload(api, data, metadata=json.dumps({"shot": "A"}))
    assert r.status_code == 201
    assert r.headers["X-RateLimit-Limit"] == "60"
    body = r.json()
    assert body["id"].startswith("file_")
    assert body["object"] == "file"
    assert body["purpose"] == "reference"
    assert body["mime_type"] == mime
    assert body["size_bytes"] == len(data)
    assert (body["width_px"], body["height_px"]) == (64, 48)
    assert body["metadata"] == {"shot": "A"}
    assert body["expires_at"].endswith("Z")
    content = NOKEY.get(body["url"])  # signed, no key
    assert content.status_code == 200 and content.content == data
    got = api.get(f"/v1/files/{body['id']}").json()
    assert got["id"] == body["id"] and got["url"] != body["url"]
    deleted = api.delete(f"/v1/files/{body['id']}")
    assert deleted.status_code == 200
    assert deleted.json() == {"id": body["id"], "object": "file", "deleted": True}
    again = api.delete(f"/v1/files/{body['id']}")
    assert again.status_code == 200 and again.json()["deleted"] is False
    assert_error(api.get(f"/v1/files/{body['id']}"), 404, "resource_not_found")


def test_file_as_reference_and_first_frame(api: httpx.Client) -> None:
    file_id = upload(api, image_bytes()).json()["id"]
    gen = api.post("/v1/images", json={"prompt": "ref", "reference_image_urls": [file_id]}).json()
    assert gen["reference_image_urls"] == [file_id]
    assert gen["inference_type"] == "i2i"
    vid = api.post(
        "/v1/videos", json={"video_lora_id": "seedance-1-lite", "first_frame_url": file_id}
    ).json()
    assert vid["inference_type"] == "i2v"
    api.delete(f"/v1/files/{file_id}")
    r = api.post("/v1/images", json={"prompt": "ref", "reference_image_urls": [file_id]})
    assert_error(r, 404, "resource_not_found", "reference_image_urls[0]")


@pytest.mark.parametrize(
    ("kwargs", "code", "param"),
    [
        ({"purpose": None}, "missing_field", "purpose"),
        ({"purpose": "avatar"}, "invalid_format", "purpose"),
        ({"metadata": "not json"}, "invalid_format", "metadata"),
        ({"metadata": "[1]"}, "invalid_format", "metadata"),
    ],
)
def test_bad_fields(
    api: httpx.Client, kwargs: dict[str, str | None], code: str, param: str
) -> None:
    assert_error(upload(api, image_bytes(), **kwargs), 400, code, param)  # type: ignore[arg-type]


def test_bad_files(api: httpx.Client) -> None:
    assert_error(upload(api, b"GIF89a not really"), 400, "invalid_format", "file")
    gif = io.BytesIO()
    Image.new("RGB", (8, 8)).save(gif, format="GIF")
    assert_error(upload(api, gif.getvalue()), 400, "invalid_format", "file")
    big = image_bytes("PNG", (4097, 8))
    assert_error(upload(api, big), 400, "value_out_of_range", "file")
    huge = b"\x89PNG" + b"\0" * (10 * 1024 * 1024 + 10)
    assert_error(upload(api, huge), 400, "value_out_of_range", "file")
    r = api.post("/v1/files", json={"file": "x"})
    assert_error(r, 400, "invalid_format", "file")
    r = api.post("/v1/files", data={"purpose": "reference"}, files={"other": ("a", b"1")})
    assert_error(r, 400, "missing_field", "file")


def test_idempotent_upload(sb: Sandbox, api: httpx.Client) -> None:
    key = str(uuid.uuid4())
    a = upload(api, image_bytes(), metadata='{"a": 1}', headers={"Idempotency-Key": key})
    b = upload(api, image_bytes(), metadata='{"a":1}', headers={"Idempotency-Key": key})
    assert b.status_code == 201
    assert b.headers["Aurous-Idempotent-Replayed"] == "true"
    assert b.json()["id"] == a.json()["id"]
    c = upload(api, image_bytes(), purpose="first_frame", headers={"Idempotency-Key": key})
    assert_error(c, 409, "idempotency_key_in_use")
    d = api.post("/v1/images", json={"prompt": "x"}, headers={"Idempotency-Key": key})
    assert_error(d, 409, "idempotency_key_in_use")

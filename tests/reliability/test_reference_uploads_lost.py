"""A reference upload whose answer is lost stores one file (issue 16).

``POST /v1/files`` honours Idempotency-Key (contract §2.19, §5: same key + same purpose and
metadata replays). The key is made from the picture's content, so the client's own retry and a
second try after the client gave up both replay the file the server already stored.
"""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from PIL import Image
from proxy import Lossy

from aurous_nb.client import APIConnectionError


def stored(lossy: Lossy) -> int:
    return int(lossy.book()["totals"]["files_uploaded"])


@pytest.fixture
def photo(tmp_path: Path) -> Path:
    buf = io.BytesIO()
    Image.new("RGB", (32, 32), (10, 120, 30)).save(buf, format="PNG")
    path = tmp_path / "photo.png"
    path.write_bytes(buf.getvalue())
    return path


def test_a_lost_answer_retried_stores_one_file(lossy: Lossy, photo: Path) -> None:
    lossy.proxy.arm("drop", "POST", "/v1/files", times=1)
    file_id = lossy.session.client.files.resolve(photo)
    assert lossy.proxy.count("POST", "/v1/files") == 2  # sent twice, the first answer lost
    assert stored(lossy) == 1
    assert lossy.session.client.images.create(
        "a fox", reference_images=[photo]
    ).reference_image_urls == (file_id,)
    assert stored(lossy) == 1


def test_a_try_after_the_client_gave_up_replays_the_same_file(lossy: Lossy, photo: Path) -> None:
    lossy.proxy.arm("drop", "POST", "/v1/files")
    with pytest.raises(APIConnectionError):
        lossy.session.client.files.resolve(photo)
    sent = lossy.proxy.count("POST", "/v1/files")
    assert sent == 3 and stored(lossy) == 1  # every try reached the server; one file stored
    lossy.proxy.disarm()
    lossy.session.client.files.resolve(photo)  # the cell run again
    assert stored(lossy) == 1  # with a fresh key per try: 2

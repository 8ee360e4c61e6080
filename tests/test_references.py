"""Reference images from anything (issue 16): ``reference_images=`` and the video frames take a
path, a PIL image, bytes, a Generation or its id, a ``file_`` id or an https URL; local data is
uploaded once. The sandbox's own count of stored files is the witness."""

from __future__ import annotations

import io
import os
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from PIL import Image

from aurous_nb.client import AsyncClient, Client, ValidationError
from aurous_nb.notebook.session import Session
from aurous_nb.sandbox import Sandbox
from aurous_nb.store.ledger import Ledger


def uploads(sb: Sandbox) -> int:
    """Files the sandbox stored (POST /v1/files that did the work; replays not counted)."""
    book = httpx.get(f"{sb.base_url}/_sandbox/ledger", timeout=30).json()
    return int(book["totals"]["files_uploaded"])


def picture(
    color: tuple[int, int, int] = (200, 40, 40), size: tuple[int, int] = (64, 48)
) -> Image.Image:
    return Image.new("RGB", size, color)


def png(color: tuple[int, int, int] = (200, 40, 40)) -> bytes:
    buf = io.BytesIO()
    picture(color).save(buf, format="PNG")
    return buf.getvalue()


@pytest.fixture
def photo(tmp_path: Path) -> Path:
    path = tmp_path / "photo.png"
    path.write_bytes(png())
    return path


@pytest.fixture
def sb() -> Iterator[Sandbox]:
    with Sandbox(latency=0.05, latency_spread=0.0, credits=1000, time_factor=20) as s:
        yield s


@pytest.fixture
def client(sb: Sandbox) -> Iterator[Client]:
    with Client(api_key=sb.api_key, base_url=sb.base_url, timeout=10) as c:
        yield c


def test_the_same_image_twice_is_uploaded_once(client: Client, sb: Sandbox, photo: Path) -> None:
    a = client.images.create("a fox", reference_images=[photo])
    b = client.images.create("a fox at dusk", reference_images=[str(photo)])
    assert a.reference_image_urls == b.reference_image_urls
    assert a.reference_image_urls[0].startswith("file_")
    assert uploads(sb) == 1  # before: reference_images was an unknown parameter


def test_every_kind_of_reference(client: Client, sb: Sandbox, photo: Path) -> None:
    gen = client.images.generate("a lighthouse", timeout=30, poll_interval=0.05)
    file_id = client.files.upload(png((1, 2, 3))).id
    before = uploads(sb)
    sources: list[object] = [
        str(photo),  # a path as text
        photo,  # a pathlib.Path: the same bytes, so the same file
        picture((0, 90, 200)),  # a PIL image
        png((9, 9, 9)),  # bytes
        gen,  # a Generation: its first output
        gen.id,  # its id: the same output, so the same file
        file_id,  # a file_ id, sent as it is
        "https://example.com/cat.png",  # an https URL, sent as it is
    ]
    out = client.images.create("a collage", reference_images=sources)
    refs = out.reference_image_urls
    assert len(refs) == 8
    assert refs[0] == refs[1] and refs[4] == refs[5]
    assert refs[6] == file_id and refs[7] == "https://example.com/cat.png"
    assert len(set(refs[:6])) == 4 and all(r.startswith("file_") for r in refs[:6])
    assert uploads(sb) - before == 4  # path, PIL, bytes, the generation's output
    again = client.images.create("a collage again", reference_images=sources)
    assert again.reference_image_urls == refs
    assert uploads(sb) - before == 4


def test_a_generation_becomes_a_reference_without_downloading_it_twice(
    client: Client, sb: Sandbox
) -> None:
    gen = client.images.generate("a red door", timeout=30, poll_interval=0.05)
    sent: list[str] = []
    http = httpx.Client(event_hooks={"request": [lambda r: sent.append(r.url.path)]})
    with Client(api_key=sb.api_key, base_url=sb.base_url, http_client=http) as c:
        first = c.files.resolve(gen.id)
        second = c.files.resolve(gen)
    assert first == second
    assert sum("/output/" in p for p in sent) == 1  # the output is fetched once
    assert sent.count("/v1/files") == 1


def test_an_expired_file_is_uploaded_again(photo: Path) -> None:
    with Sandbox(latency=0.05, file_ttl=3.0) as sb:
        with Client(api_key=sb.api_key, base_url=sb.base_url) as c:
            first = c.files.resolve(photo)
            time.sleep(3.1)  # the sandbox purges it; the client knows its expiry (to the second)
            second = c.files.resolve(photo)
        assert first != second
        assert uploads(sb) == 2  # (the replayed, expired first file was not used)


def test_a_file_deleted_elsewhere_is_uploaded_again(
    client: Client, sb: Sandbox, photo: Path
) -> None:
    first = client.files.resolve(photo)
    with Client(api_key=sb.api_key, base_url=sb.base_url) as other:
        other.files.delete(first)  # this client was not told
    client._core.checked_files.clear()  # as in the next kernel: the remembered id is checked
    second = client.files.resolve(photo)
    assert second != first
    assert client.images.create("a fox", reference_images=[photo]).reference_image_urls == (second,)
    assert uploads(sb) == 2


def test_the_ledger_remembers_uploads_across_sessions(
    sb: Sandbox, photo: Path, tmp_path: Path
) -> None:
    path = tmp_path / "ledger.sqlite"
    for _ in range(2):  # two kernels, one ledger
        client = Client(api_key=sb.api_key, base_url=sb.base_url)
        s = Session(client, ledger=Ledger(path))
        s.client.images.create("a fox", reference_images=[photo])
        s.close()
    assert uploads(sb) == 1
    # a restarted sandbox does not know the file: checked, then uploaded again
    with Sandbox(latency=0.05) as fresh:
        client = Client(api_key=fresh.api_key, base_url=fresh.base_url)
        s = Session(client, ledger=Ledger(path))
        assert s.env == Session(Client(api_key="k", base_url=sb.base_url)).env
        gen = s.client.images.create("a fox", reference_images=[photo])
        assert gen.reference_image_urls[0].startswith("file_")
        s.close()
        assert uploads(fresh) == 1


async def test_the_async_client_shares_the_memory(sb: Sandbox, photo: Path) -> None:
    with Client(api_key=sb.api_key, base_url=sb.base_url) as c:
        c.files.resolve(photo)
        async with c.to_async() as ac:
            gen = await ac.images.create("a fox", reference_images=[photo, picture((1, 1, 1))])
        async with AsyncClient(api_key=sb.api_key, base_url=sb.base_url) as fresh:
            await fresh.files.resolve(photo)  # another client's memory: the content key replays
    assert len(gen.reference_image_urls) == 2
    assert uploads(sb) == 2


def test_video_frames_take_any_reference(client: Client, sb: Sandbox, photo: Path) -> None:
    lora = client.video_loras.list()[0].id
    gen = client.images.generate("a harbour", timeout=30, poll_interval=0.05)
    vid = client.videos.create(lora, first_frame=gen, last_frame=photo, duration=2)
    assert vid.id.startswith("vid_")
    sent = client.images.get(vid.id).raw
    assert uploads(sb) == 2
    est = client.videos.estimate(lora, first_frame=gen.id, duration=2)
    assert est.amount > 0 and uploads(sb) == 2
    assert sent["id"] == vid.id


# -- clear errors, and nothing uploaded for a request that is refused -----------------------------


@pytest.mark.parametrize(
    ("source", "says"),
    [
        ("missing.png", "no such file: 'missing.png'"),
        (b"GIF89a not ours", "the bytes is not a PNG, JPEG or WebP image"),
        (b"\x89PNG\r\n\x1a\n" + b"\0" * 40, "not a readable PNG image"),
        (b"\xff\xd8\xff" + b"\0" * (11 * 1024 * 1024), "at most 10 MB"),
        (Image.new("L", (5000, 8)), "5000x8 px; the API takes at most 4096 px a side"),
        ("\ud800.png", "lone surrogate"),
        ("http://example.com/cat.png", "http:// URLs are refused"),
        ("ftp://example.com/cat.png", "ftp:// is not a reference"),
        ("vid_01ABCDEF", "is a video"),
        (3.5, "a float is not a reference"),
    ],
)
def test_a_bad_reference_is_refused_before_anything_is_uploaded(
    client: Client, sb: Sandbox, photo: Path, source: object, says: str
) -> None:
    with pytest.raises(ValidationError) as info:
        client.images.create("a fox", reference_images=[photo, picture(), source])
    assert info.value.param == "reference_images[2]"
    assert says in str(info.value)
    str(info.value).encode("utf-8")  # printable, even for a lone surrogate
    assert uploads(sb) == 0


def test_a_folder_and_a_big_file_on_disk(client: Client, tmp_path: Path, sb: Sandbox) -> None:
    big = tmp_path / "big.png"
    with big.open("wb") as fh:
        fh.truncate(11 * 1024 * 1024)
    for source, says in [(tmp_path, "is a folder"), (big, "bytes; the API takes at most 10 MB")]:
        with pytest.raises(ValidationError, match=says):
            client.files.resolve(source)
    assert uploads(sb) == 0


def test_an_undecodable_file_name_still_reads(client: Client, tmp_path: Path, sb: Sandbox) -> None:
    """A name with a byte that is not UTF-8 comes back from os.listdir as a lone surrogate
    (surrogateescape): it is a real file, so it is read, and its name never leaves."""
    name = os.fsdecode(b"caf\xe9.png")
    (tmp_path / name).write_bytes(png((5, 5, 5)))
    assert client.files.resolve(tmp_path / name).startswith("file_")
    assert uploads(sb) == 1


def test_more_than_eight_is_refused_before_uploading(client: Client, sb: Sandbox) -> None:
    pictures = [picture((i, i, i)) for i in range(9)]
    with pytest.raises(ValidationError, match="at most 8 references"):
        client.images.create("a fox", reference_images=pictures)
    assert uploads(sb) == 0


def test_other_fields_are_checked_before_uploading(
    client: Client, sb: Sandbox, photo: Path
) -> None:
    with pytest.raises(ValidationError, match="count"):
        client.images.create("a fox", reference_images=[photo], count=9)
    with pytest.raises(ValidationError, match="cannot be used with character_id"):
        client.images.create("a fox", reference_images=[photo], character_id="char_x")
    with pytest.raises(ValidationError, match="requires first_frame_url"):
        client.videos.create("lora_x", last_frame=photo)
    assert uploads(sb) == 0


def test_a_ledger_that_cannot_be_used_leaves_references_working(
    sb: Sandbox, photo: Path, home: Path
) -> None:
    import sqlite3

    from aurous_nb.store.ledger import SCHEMA_VERSION

    with sqlite3.connect(home / "ledger.sqlite3") as conn:
        conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")  # a newer aurous_nb's
    s = Session(Client(api_key=sb.api_key, base_url=sb.base_url))
    first = s.client.files.resolve(photo)
    assert s.client.files.resolve(photo) == first  # remembered in memory instead
    assert uploads(sb) == 1
    s.close()


def test_a_request_written_down_first_takes_file_ids(
    client: Client, photo: Path, home: Path
) -> None:
    from aurous_nb.store.ledger import Ledger
    from aurous_nb.work import jobs

    ledger = Ledger()
    with pytest.raises(ValidationError, match=r"client\.files\.resolve"):
        jobs.submit(client, ledger, "image", {"prompt": "a fox", "reference_images": [photo]})
    assert ledger.jobs() == []  # no row for a refused request
    urls = client.files.resolve_many([photo])
    record = jobs.submit(client, ledger, "image", {"prompt": "a fox", "reference_image_urls": urls})
    assert record.request["reference_image_urls"] == urls

"""Every client method, sync and async, against the sandbox over loopback."""

from __future__ import annotations

import struct
import zlib
from datetime import datetime, timedelta, timezone
from pathlib import Path

import httpx
import pytest
from client_support import Api, aclose, ledger, make_api

from aurous_nb.client import (
    AsyncClient,
    Balance,
    Client,
    Deleted,
    Estimate,
    File,
    Generation,
    Lora,
    NotFoundError,
    Page,
    Pricing,
    Team,
    VideoLora,
    WaitTimeoutError,
)
from aurous_nb.sandbox import Sandbox


def png(width: int = 8, height: int = 8) -> bytes:
    """A valid tiny PNG."""
    raw = b"".join(b"\x00" + b"\x80\x40\x20" * width for _ in range(height))

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", ihdr)
        + chunk(b"IDAT", zlib.compress(raw))
        + chunk(b"IEND", b"")
    )


async def test_balance_team_pricing(api: Api) -> None:
    bal = await api(lambda c: c.balance())
    assert isinstance(bal, Balance)
    assert bal.currency == "credit"
    assert bal.credits == pytest.approx(bal.available_credits + bal.held_credits)
    assert bal.billing_mode == "metered"
    team = await api(lambda c: c.team())
    assert isinstance(team, Team)
    assert team.id.startswith("team_")
    assert team.created_at is not None and team.created_at.tzinfo is not None
    pricing = await api(lambda c: c.pricing())
    assert isinstance(pricing, Pricing)
    assert pricing.version == "2026-05-15"
    assert pricing.image.base == 1
    assert pricing.image.enhance_prompt_multiplier == 2
    assert pricing.video.resolution_factor == {"480p": 1.0, "720p": 1.5, "1080p": 2.5}
    assert pricing.raw["object"] == "pricing"


async def test_loras(api: Api) -> None:
    loras = await api(lambda c: c.loras.list())
    assert loras and all(isinstance(x, Lora) for x in loras)
    first = loras[0]
    by_id = await api(lambda c: c.loras.get(first.id))
    assert by_id == first
    assert first.slug is not None
    by_slug = await api(lambda c: c.loras.get(first.slug))
    assert by_slug.id == first.id
    videos = await api(lambda c: c.video_loras.list())
    assert videos and all(isinstance(x, VideoLora) for x in videos)
    one = await api(lambda c: c.video_loras.get(videos[0].id))
    assert one.default_resolution in ("480p", "720p", "1080p")
    with pytest.raises(NotFoundError) as info:
        await api(lambda c: c.loras.get("lora_does_not_exist"))
    assert info.value.status == 404
    assert info.value.code == "resource_not_found"
    assert info.value.request_id and info.value.request_id.startswith("req_")


async def test_image_lifecycle(api: Api, sandbox: Sandbox, tmp_path: Path) -> None:
    est = await api(lambda c: c.images.estimate("a red fox", count=3, enhance_prompt=True))
    assert isinstance(est, Estimate)
    assert est.amount == 6.0
    assert est.breakdown == {"base": 3.0, "enhance": 3.0}
    before = await api(lambda c: c.balance())
    gen = await api(lambda c: c.images.create("a red fox", count=3, enhance_prompt=True))
    assert isinstance(gen, Generation)
    assert gen.id.startswith("img_")
    assert gen.status in ("pending", "queued", "processing")
    assert gen.cost is not None and gen.cost.amount == 6.0
    assert gen.request_id == gen.creation_request_id
    assert gen.idempotent_replayed is False
    done = await api(lambda c: c.images.wait(gen, poll_interval=0.05, timeout=30))
    assert done.status == "succeeded"
    assert len(done.output_urls) == 3
    assert done.completed_at is not None and done.completed_at.tzinfo is not None
    after = await api(lambda c: c.balance())
    assert after.credits == pytest.approx(before.credits - 6.0)
    again = await api(lambda c: c.images.get(gen.id))
    assert again.id == gen.id and again.status == "succeeded"
    data = await api(lambda c: c.images.download(done, 2))
    assert data.startswith(b"\x89PNG")
    by_id = await api(lambda c: c.images.download(gen.id))
    assert by_id.startswith(b"\x89PNG")
    target = tmp_path / "fox.png"
    path = await api(lambda c: c.images.download_to(done, 1, target))
    assert path == target
    assert target.read_bytes().startswith(b"\x89PNG")
    assert [p.name for p in tmp_path.iterdir()] == ["fox.png"]  # no temp file left
    rows = {g["id"]: g for g in ledger(sandbox)["generations"]}
    assert rows[gen.id]["credits_charged"] == 6


async def test_list_and_pages(api: Api) -> None:
    ids = []
    for i in range(3):
        g = await api(lambda c, i=i: c.images.create(f"list test {i}"))
        ids.append(g.id)
    page = await api(lambda c: c.images.list_page(limit=2))
    assert isinstance(page, Page)
    assert [g.id for g in page.data] == ids[::-1][:2]
    assert page.has_more is True and page.next_cursor == ids[1]
    nxt = await api(lambda c: c.images.list_page(limit=2, starting_after=page.next_cursor))
    assert nxt.data[0].id == ids[0]
    newer = await api(lambda c: c.images.list_page(limit=5, ending_before=ids[0]))
    assert [g.id for g in newer.data][-2:] == [ids[2], ids[1]]
    every = await api.collect(lambda c: c.images.list(limit=2))
    every_ids = [g.id for g in every]
    assert every_ids[:3] == ids[::-1]
    assert len(every_ids) == len(set(every_ids))
    assert len(every_ids) >= 3


async def test_cancel(api: Api, slow_sandbox: Sandbox) -> None:
    c = make_api(api.kind, slow_sandbox)
    try:
        gen = await api(lambda _: c.images.create("cancel me", count=1))
        assert (await api(lambda _: c.balance())).held_credits >= 1
        cancelled = await api(lambda _: c.images.cancel(gen))
        assert cancelled.status == "cancelled"
        twice = await api(lambda _: c.images.cancel(gen.id))  # idempotent
        assert twice.status == "cancelled"
        done = await api(lambda _: c.images.wait(gen.id, timeout=5))
        assert done.status == "cancelled" and done.is_terminal
        rows = {g["id"]: g for g in ledger(slow_sandbox)["generations"]}
        assert rows[gen.id]["credits_charged"] == 0
    finally:
        await aclose(c)


async def test_wait_timeout(api: Api, slow_sandbox: Sandbox) -> None:
    c = make_api(api.kind, slow_sandbox)
    try:
        gen = await api(lambda _: c.images.create("slow one"))
        with pytest.raises(WaitTimeoutError) as info:
            await api(lambda _: c.images.wait(gen, timeout=0.3, poll_interval=0.1))
        assert info.value.generation.status in ("pending", "processing")
        assert "still" in str(info.value)
        with pytest.raises(WaitTimeoutError) as info:
            await api(
                lambda _: c.images.wait(gen, timeout=0.2, poll_interval=0.1, cancel_on_timeout=True)
            )
        assert info.value.generation.status == "cancelled"
        assert "cancelled" in str(info.value)
        got = await api(lambda _: c.images.get(gen))
        assert got.status == "cancelled"
    finally:
        await aclose(c)


async def test_videos(api: Api, sandbox: Sandbox, tmp_path: Path) -> None:
    vl = (await api(lambda c: c.video_loras.list()))[0]
    est = await api(
        lambda c: c.videos.estimate(vl.id, prompt="waves", duration=4, resolution="720p")
    )
    assert est.amount == pytest.approx(0.5 * 1.5 * 4)
    gen = await api(
        lambda c: c.videos.create(
            vl.id, prompt="waves", duration=2, resolution="480p", ratio="1:1", camera_fixed=True
        )
    )
    assert gen.id.startswith("vid_") and gen.is_video
    done = await api(lambda c: c.images.wait(gen, poll_interval=0.05, timeout=30))
    assert done.status == "succeeded" and done.output_video_url
    data = await api(lambda c: c.videos.download(done))
    assert len(data) > 100
    path = await api(lambda c: c.videos.download_to(done, tmp_path / "v.mp4"))
    assert path.read_bytes() == data
    rows = {g["id"]: g for g in ledger(sandbox)["generations"]}
    assert rows[gen.id]["credits_charged"] == 1.0


async def test_files(api: Api, tmp_path: Path) -> None:
    image = png()
    f = await api(lambda c: c.files.upload(image, purpose="reference", metadata={"k": "v"}))
    assert isinstance(f, File)
    assert f.id.startswith("file_")
    assert f.mime_type == "image/png"
    assert f.size_bytes == len(image)
    assert f.width_px == 8 and f.metadata == {"k": "v"}
    assert "token" not in repr(f)
    disk = tmp_path / "ref.png"
    disk.write_bytes(image)
    g = await api(lambda c: c.files.upload(disk, purpose="first_frame"))
    assert g.purpose == "first_frame"
    got = await api(lambda c: c.files.get(f.id))
    assert got.id == f.id and got.url
    gen = await api(lambda c: c.images.create("with a reference", reference_image_urls=[f.id]))
    assert gen.reference_image_urls == (f.id,)
    gone = await api(lambda c: c.files.delete(f.id))
    assert isinstance(gone, Deleted)
    with pytest.raises(NotFoundError):
        await api(lambda c: c.files.get(f.id))
    again = await api(lambda c: c.files.delete(f.id))  # idempotent
    assert again.id == f.id


async def test_file_upload_idempotency(api: Api) -> None:
    a = await api(lambda c: c.files.upload(png(), idempotency_key="fk-" + api.kind))
    b = await api(lambda c: c.files.upload(png(), idempotency_key="fk-" + api.kind))
    assert a.id == b.id


async def test_usage(api: Api) -> None:
    await api(lambda c: c.images.create("usage row"))
    start = datetime.now(timezone.utc) - timedelta(hours=2)
    buckets = await api(lambda c: c.usage(start, bucket_width="1h", group_by="status", limit=1))
    assert len(buckets) >= 2  # limit=1 forces paging through next_page
    assert buckets[0].bucket_start > buckets[-1].bucket_start  # newest first
    total = sum(g.metrics.get("request_count", 0) for b in buckets for g in b.groups)
    assert total >= 1
    assert all(b.bucket_start.tzinfo is not None for b in buckets)


async def test_idempotent_create_replays(api: Api, sandbox: Sandbox) -> None:
    key = f"replay-{api.kind}"
    a = await api(lambda c: c.images.create("same body", seed=5, idempotency_key=key))
    b = await api(lambda c: c.images.create("same body", seed=5, idempotency_key=key))
    assert a.id == b.id
    assert b.idempotent_replayed is True and a.idempotent_replayed is False
    keys = [g["idempotency_key"] for g in ledger(sandbox)["generations"]]
    assert keys.count(key) == 1


async def test_version_pinning(api: Api) -> None:
    pinned = api.client.with_options(version="2026-05-15")
    assert pinned.version == "2026-05-15"
    p = await api(lambda c: pinned.pricing())
    assert p.version == "2026-05-15"
    p2 = await api(lambda c: c.pricing(version="2026-05-15"))
    assert p2.version == "2026-05-15"
    from aurous_nb.client import InvalidRequestError

    with pytest.raises(InvalidRequestError) as info:
        await api(lambda c: c.balance(version="2099-01-01"))
    assert info.value.code == "unknown_version" and info.value.status == 400


async def test_legacy_redirect_warns(api: Api) -> None:
    gen = await api(lambda c: c.images.create("legacy path"))
    with pytest.warns(DeprecationWarning, match="legacy route") as record:
        body = await api(lambda c: c.request("GET", f"/v1/generations/{gen.id}"))
    assert body["id"] == gen.id
    assert "sunset" in str(record[0].message)
    assert "aurous_nb" not in record[0].filename  # points at the caller, not our internals
    with pytest.warns(DeprecationWarning):  # 308 keeps the method, body and key
        made = await api(
            lambda c: c.request(
                "POST", "/v1/generations", json={"prompt": "old"}, idempotency_key=f"lg-{api.kind}"
            )
        )
    assert made["id"].startswith("img_") and made["prompt"] == "old"


async def test_shared_rate_limits(api: Api) -> None:
    await api(lambda c: c.balance())
    await api(lambda c: c.images.estimate("x"))
    rl = api.client.rate_limits
    assert rl["read"].limit == 1200
    assert rl["estimate_post"].limit == 240
    assert 0 <= rl["read"].remaining < 1200
    assert rl["read"].reset > 1.7e9


async def test_to_async_lends_key_settings_and_rate_limits(sandbox: Sandbox) -> None:
    """``Client.to_async()``: the async twin a blocking client lends its key, settings and
    rate-limit state to; its connections are its own (closing it leaves the client working)."""
    options = {"version": "2026-05-15", "timeout": 7.0, "max_retries": 1}
    with Client(api_key=sandbox.api_key, base_url=sandbox.base_url, **options) as c:
        c.balance()
        twin = c.to_async()
        assert isinstance(twin, AsyncClient)
        settings = ("base_url", "version", "timeout", "max_retries", "api_key_preview")
        assert [getattr(twin, n) for n in settings] == [getattr(c, n) for n in settings]
        assert list(twin.rate_limits) == ["read"] and twin.rate_limits == c.rate_limits
        async with twin:
            await twin.images.estimate("x")
        assert sorted(c.rate_limits) == ["estimate_post", "read"]  # the twin's answer, seen by c
        assert c.balance().available_credits > 0  # c's own connections are still open


def test_raw_httpx_agrees(sandbox: Sandbox) -> None:
    # the sandbox under the client is the real thing: a raw request sees the same balance
    r = httpx.get(sandbox.base_url + "/v1/balance", headers={"X-Api-Key": sandbox.api_key})
    assert r.status_code == 200 and "available_credits" in r.json()


async def test_generate_creates_waits_and_saves_in_one_call(
    api: Api, sandbox: Sandbox, tmp_path: Path
) -> None:
    """``images.generate``: one call, the finished generation back, its files in the folder;
    the same idempotency key again collects it instead of buying a second one."""
    from aurous_nb.client import GenerationFailedError

    bought = ledger(sandbox)["totals"]["generation_count"]
    key = f"one-call-{api.kind}"
    gen = await api(
        lambda c: c.images.generate(
            "a red fox", count=2, seed=3, download_dir=tmp_path, poll_interval=0.05,
            idempotency_key=key,
        )
    )  # fmt: skip
    assert gen.succeeded and [p.name for p in gen.files] == [f"{gen.id}-0.png", f"{gen.id}-1.png"]
    assert all(p.read_bytes().startswith(b"\x89PNG") for p in gen.files)
    assert not list(tmp_path.glob(".*.part"))
    again = await api(
        lambda c: c.images.generate("a red fox", count=2, seed=3, idempotency_key=key,
                                    poll_interval=0.05)
    )  # fmt: skip
    assert again.id == gen.id and again.files == ()
    assert ledger(sandbox)["totals"]["generation_count"] == bought + 1
    with pytest.raises(GenerationFailedError) as info:
        await api(lambda c: c.images.generate("a forbidden fox", poll_interval=0.05))
    assert info.value.generation.status == "moderation_rejected"
    assert info.value.code == "moderation_rejected"
    video = await api(
        lambda c: c.videos.generate(
            "seedance-1-lite", prompt="a wave", duration=2, resolution="480p",
            download_dir=tmp_path / "v", poll_interval=0.05,
        )
    )  # fmt: skip
    [clip] = video.files
    assert clip.name == f"{video.id}-0.mp4" and clip.stat().st_size > 0

"""The outputs cache: downloaded on success, hashed, retried, and never counted when partial."""

from __future__ import annotations

import hashlib
import time
from pathlib import Path

import httpx
import pytest

import aurous_nb
from aurous_nb import config
from aurous_nb.client import AsyncClient, Client, OutputExpiredError
from aurous_nb.sandbox import Sandbox
from aurous_nb.store import outputs
from aurous_nb.store.ledger import Ledger
from aurous_nb.work import jobs


def _pixels(data: bytes) -> bytes:
    import io

    from PIL import Image

    with Image.open(io.BytesIO(data)) as img:
        return img.tobytes()


def test_success_is_cached_with_size_and_hash(home: Path, fresh_sandbox: Sandbox) -> None:
    ledger = Ledger()
    client = Client(api_key=fresh_sandbox.api_key, base_url=fresh_sandbox.base_url)
    jobs.submit(client, ledger, "image", {"prompt": "a lighthouse", "count": 2})
    [done] = jobs.resume(client, ledger)
    files = outputs.cached_outputs(ledger, done.generation_id or "")
    assert [f.index for f in files] == [0, 1]
    for f in files:
        assert f.path.parent == home / "outputs" / done.env / (done.generation_id or "")
        assert f.path.name == f"{f.index}.png" and f.content_type == "image/png"
        data = f.path.read_bytes()
        assert len(data) == f.bytes and hashlib.sha256(data).hexdigest() == f.sha256
        sent = client.images.download(done.generation_id or "", f.index)
        # the same picture, with its parameters written in (aurous_nb.store.provenance)
        assert data != sent and len(data) > len(sent) and _pixels(data) == _pixels(sent)
        assert aurous_nb.inspect(f.path)["index"] == f.index
    assert not list(files[0].path.parent.glob("*.part"))
    # Already cached: nothing is fetched again.
    before = [f.downloaded_at for f in files]
    again = outputs.download_outputs(client, ledger, done)
    assert [f.downloaded_at for f in again] == before
    # A damaged file is fetched again.
    files[1].path.write_bytes(b"truncated")
    repaired = outputs.download_outputs(client, ledger, done)
    assert repaired[1].is_intact() and repaired[1].sha256 == files[1].sha256
    client.close()


def test_a_failed_download_leaves_nothing_counted_and_is_retried(
    home: Path, fresh_sandbox: Sandbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(outputs, "_BACKOFF_S", 0.01)
    failures = {"left": 0}

    def flaky(response: httpx.Response) -> None:
        if "/output/" in response.request.url.path and failures["left"] > 0:
            failures["left"] -= 1
            raise httpx.ReadError("connection dropped mid-body", request=response.request)

    ledger = Ledger()
    http = httpx.Client(event_hooks={"response": [flaky]})
    client = Client(
        api_key=fresh_sandbox.api_key,
        base_url=fresh_sandbox.base_url,
        http_client=http,
        max_retries=0,
    )
    jobs.submit(client, ledger, "image", {"prompt": "a bridge"})
    [done] = jobs.resume(client, ledger, download=False)
    gen_id = done.generation_id or ""
    assert outputs.missing_outputs(ledger, done.env) == [done]

    failures["left"] = 1
    with pytest.raises(Exception, match="dropped"):
        outputs.download_outputs(client, ledger, done, retries=0)
    assert ledger.outputs(gen_id) == []
    assert list(outputs.output_dir(ledger, done.env, gen_id).iterdir()) == []

    failures["left"] = 2
    [f] = outputs.download_outputs(client, ledger, done, retries=3)
    assert f.is_intact() and failures["left"] == 0
    assert outputs.missing_outputs(ledger, done.env) == []
    http.close()


async def test_async_download_retries_through_the_same_flow(
    home: Path, fresh_sandbox: Sandbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(outputs, "_BACKOFF_S", 0.01)
    failures = {"left": 0}

    async def flaky(response: httpx.Response) -> None:
        if "/output/" in response.request.url.path and failures["left"] > 0:
            failures["left"] -= 1
            raise httpx.ReadError("connection dropped mid-body", request=response.request)

    ledger = Ledger()
    http = httpx.AsyncClient(event_hooks={"response": [flaky]})
    async with AsyncClient(
        api_key=fresh_sandbox.api_key,
        base_url=fresh_sandbox.base_url,
        http_client=http,
        max_retries=0,
    ) as client:
        await jobs.asubmit(client, ledger, "image", {"prompt": "a bridge"})
        [done] = await jobs.aresume(client, ledger, download=False)
        gen_id = done.generation_id or ""
        failures["left"] = 1
        with pytest.raises(Exception, match="dropped"):
            await outputs.adownload_outputs(client, ledger, done, retries=0)
        assert ledger.outputs(gen_id) == []
        failures["left"] = 2
        [f] = await outputs.adownload_outputs(client, ledger, done, retries=3)
    await http.aclose()
    assert f.is_intact() and failures["left"] == 0
    assert outputs.missing_outputs(ledger, done.env) == []


def test_auto_download_can_be_turned_off(
    home: Path, fresh_sandbox: Sandbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AUROUS_NB_AUTO_DOWNLOAD", "0")
    ledger = Ledger()
    client = Client(api_key=fresh_sandbox.api_key, base_url=fresh_sandbox.base_url)
    jobs.submit(client, ledger, "video", {"video_lora_id": "seedance-1-lite", "duration": 2})
    [done] = jobs.resume(client, ledger)
    assert ledger.outputs(done.generation_id or "") == []
    config.set_auto_download(True)  # what %config sets: wins over the environment
    try:
        jobs.resume(client, ledger)  # nothing pending, but missing outputs are collected
    finally:
        config.set_auto_download(None)
    [video] = ledger.outputs(done.generation_id or "")
    assert video.path.name == "0.mp4" and video.content_type == "video/mp4"
    client.close()


def test_expired_output_is_not_retried(home: Path) -> None:
    with Sandbox(latency=0.05, credits=10, output_ttl=0.3) as sb:
        ledger = Ledger()
        sent: list[str] = []
        http = httpx.Client(event_hooks={"request": [lambda r: sent.append(r.url.path)]})
        client = Client(api_key=sb.api_key, base_url=sb.base_url, http_client=http)
        jobs.submit(client, ledger, "image", {"prompt": "gone soon"})
        [done] = jobs.resume(client, ledger, download=False)
        time.sleep(0.5)  # past the sandbox's 0.3 s output lifetime
        sent.clear()
        with pytest.raises(OutputExpiredError):
            outputs.download_outputs(client, ledger, done, retries=3)
        # One read of the generation, whose URLs are gone: no download tried, none of 3 retries.
        assert sent == [f"/v1/images/{done.generation_id}"]
        assert ledger.outputs(done.generation_id or "") == []
        client.close()
        http.close()

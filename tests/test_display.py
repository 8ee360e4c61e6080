"""GenerationView: previews embedded as bytes from the cache, never a signed URL."""

from __future__ import annotations

import base64
import importlib.util
import io
import re
from pathlib import Path

import pytest
from PIL import Image

from aurous_nb.client import Client
from aurous_nb.notebook import display
from aurous_nb.sandbox import Sandbox
from aurous_nb.store.ledger import Ledger
from aurous_nb.work import jobs

PROMPT = 'a <b>bold</b> fox {with braces} & "quotes" 🦊'


def embedded_images(html: str) -> list[Image.Image]:
    found = re.findall(r'src="data:image/(?:jpeg|png);base64,([^"]+)"', html)
    return [Image.open(io.BytesIO(base64.b64decode(b))) for b in found]


def test_image_view_embeds_previews_and_facts(
    home: Path, fresh_client: Client, fresh_sandbox: Sandbox, tmp_path: Path
) -> None:
    ledger = Ledger()
    request = {"prompt": PROMPT, "size": "2k_1_1", "count": 2, "lora_id": "watercolor", "seed": 42}
    jobs.submit(fresh_client, ledger, "image", request)
    [done] = jobs.resume(fresh_client, ledger)
    view = display.view(done, ledger)
    bundle = view._repr_mimebundle_()
    html = bundle["text/html"]
    previews = embedded_images(html)
    assert len(previews) == 2 and all(max(p.size) <= display.PREVIEW_PX for p in previews)
    assert (
        "token=" not in html
        and fresh_sandbox.base_url not in html
        and fresh_sandbox.api_key not in html
    )
    assert "<b>bold</b>" not in html and "&lt;b&gt;bold&lt;/b&gt;" in html
    for fact in ("Watercolor", "2k_1_1", "42", "2 credits", "succeeded", done.generation_id):
        assert fact and fact in html, fact
    assert done.generation_id and done.generation_id in bundle["text/plain"]
    full = view.image(1)
    assert full.size == (2048, 2048)
    copies = view.save(tmp_path / "out")
    assert [p.read_bytes() for p in copies] == [p.read_bytes() for p in view.paths]
    with pytest.raises(IndexError, match="not in the cache"):
        view.image(5)


def test_video_view_embeds_a_player_or_a_poster(
    home: Path, fresh_client: Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    ledger = Ledger()
    jobs.submit(fresh_client, ledger, "video", {"video_lora_id": "seedance-1-lite", "duration": 2})
    [done] = jobs.resume(fresh_client, ledger)
    view = display.view(done, ledger)
    html = view._repr_html_()
    assert "<video" in html and 'src="data:video/mp4;base64,' in html
    monkeypatch.setattr(display, "VIDEO_EMBED_MAX", 1000)  # now "too large to embed"
    big = display.GenerationView(view.record, view.files)._repr_html_()
    assert "<video" not in big and "too large to embed" in big and str(view.paths[0]) in big
    if importlib.util.find_spec("av") is not None:
        [poster] = embedded_images(big)
        assert max(poster.size) <= display.PREVIEW_PX


def test_pending_and_unknown_generations(home: Path, fresh_client: Client) -> None:
    ledger = Ledger()
    record = jobs.submit(fresh_client, ledger, "image", {"prompt": "slow"})
    pending = display.view(record, ledger)
    assert "no output yet" in pending._repr_html_() and "1 credit held" in repr(pending)
    # An id the ledger never saw: fetched through the client, recorded, downloaded, shown.
    outside = fresh_client.images.wait(
        fresh_client.images.create("made elsewhere").id, poll_interval=0.05
    )
    shown = display.view(outside.id, ledger, client=fresh_client)
    assert shown.status == "succeeded" and len(shown.paths) == 1
    assert len(embedded_images(shown._repr_html_())) == 1
    with pytest.raises(LookupError):
        display.view("img_unknown", Ledger())


def test_gallery(home: Path, fresh_client: Client) -> None:
    ledger = Ledger()
    for prompt in ("one", "two", "three"):
        jobs.submit(fresh_client, ledger, "image", {"prompt": prompt})
    done = jobs.resume(fresh_client, ledger)
    grid = display.gallery(done, ledger)
    html = grid._repr_html_()
    assert len(grid) == 3 and html.count("<figure") == 3 and len(embedded_images(html)) == 3

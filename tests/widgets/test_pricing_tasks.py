"""Estimates stay cheap (one call per price shape, none when the bucket is low); clicks only
schedule work; the widgets package loads lazily."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from aurous_nb.notebook.session import Session
from aurous_nb.notebook.widgets import _pricing
from aurous_nb.notebook.widgets._tasks import Debouncer, TaskSlot
from tests.widgets.conftest import make_session

VIDEO = {"video_lora_id": "seedance-1-lite", "enhance_prompt": True, "duration": 4}


@pytest.fixture
async def session(home: Path) -> AsyncIterator[Session]:
    """A session whose sandbox refills no rate-limit tokens during a test, so its own
    ``estimate_post`` bucket counts the estimate calls made."""
    for s in make_session(home, time_factor=1e-9):
        yield s
        if s._aclient is not None:
            await s._aclient.close()


def estimate_tokens(session: Session) -> int:
    """What the sandbox's ``estimate_post`` bucket has left (reading it spends nothing)."""
    assert session.sandbox is not None
    stats = httpx.get(session.sandbox.base_url + "/_sandbox/stats").json()
    return int(stats["buckets"]["estimate_post"]["remaining"])


async def test_one_estimate_per_price_shape(session: Session) -> None:
    before = estimate_tokens(session)
    first = await _pricing.quote(session, {**VIDEO, "prompt": "waves", "seed": 1}, "video")
    again = await _pricing.quote(session, {**VIDEO, "prompt": "other words", "seed": 2}, "video")
    assert first == again and first.source == "estimate"
    assert before - estimate_tokens(session) == 1  # one estimate call reached the sandbox
    image = await _pricing.quote(session, {"prompt": "x", "count": 2})
    assert image.source == "card" and image.amount == 2
    assert before - estimate_tokens(session) == 1


async def test_low_estimate_bucket_defers_instead_of_spending(session: Session) -> None:
    assert session.sandbox is not None
    body = {**VIDEO, "prompt": "drain"}
    headers = {"X-Api-Key": session.sandbox.api_key}
    with httpx.Client(base_url=session.sandbox.base_url, headers=headers) as other:
        for _ in range(estimate_tokens(session) - _pricing.RESERVE):  # someone else's calls
            assert other.post("/v1/videos/estimate", json=body).status_code == 200
    await session.aclient.videos.estimate(**body)  # the client hears: fewer than RESERVE left
    left = estimate_tokens(session)
    assert left == _pricing.RESERVE - 1
    with pytest.raises(_pricing.EstimateDeferred):
        await _pricing.quote(session, {**VIDEO, "duration": 7}, "video")
    assert estimate_tokens(session) == left  # deferred: not one token spent


async def test_a_slot_never_runs_two_tasks_and_debounce_coalesces() -> None:
    runs: list[int] = []

    async def work() -> None:
        runs.append(1)
        await asyncio.sleep(0.05)

    slot = TaskSlot()
    first = slot.start(work)
    assert first is not None and slot.start(work) is None and slot.running
    await slot.wait()
    assert runs == [1] and not slot.running

    async def price() -> None:
        runs.append(2)

    bounce = Debouncer(price, delay=0.02)
    for _ in range(5):
        bounce.poke()
    await asyncio.sleep(0)
    await bounce.flush()
    assert runs == [1, 2]


def test_importing_the_package_is_lazy() -> None:
    code = (
        "import sys, aurous_nb, aurous_nb.widgets as w\n"
        "panel = 'aurous_nb.notebook.widgets.panel'\n"
        "assert 'ipywidgets' not in sys.modules and panel not in sys.modules\n"
        "w.GenerationPanel\n"
        "assert 'aurous_nb.notebook.widgets.panel' in sys.modules\n"
        "assert 'aurous_nb.notebook.widgets.grid' not in sys.modules\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)

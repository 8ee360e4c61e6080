"""Estimates stay cheap (one call per price shape, none when the bucket is low); clicks only
schedule work; the widgets package loads lazily."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from typing import Any

import pytest

from aurous_nb.client import RateLimit
from aurous_nb.session import Session
from aurous_nb.widgets import _pricing
from aurous_nb.widgets._tasks import Debouncer, TaskSlot

VIDEO = {"video_lora_id": "seedance-1-lite", "enhance_prompt": True, "duration": 4}


async def test_one_estimate_per_price_shape(session: Session, monkeypatch: Any) -> None:
    calls: list[dict[str, Any]] = []
    resource = type(session.aclient.videos)
    real = resource.estimate

    async def counting(self: Any, **body: Any) -> Any:
        calls.append(body)
        return await real(self, **body)

    monkeypatch.setattr(resource, "estimate", counting)
    first = await _pricing.quote(session, {**VIDEO, "prompt": "waves", "seed": 1}, "video")
    again = await _pricing.quote(session, {**VIDEO, "prompt": "other words", "seed": 2}, "video")
    assert first == again and first.source == "estimate" and len(calls) == 1
    image = await _pricing.quote(session, {"prompt": "x", "count": 2})
    assert image.source == "card" and image.amount == 2 and len(calls) == 1


async def test_low_estimate_bucket_defers_instead_of_spending(
    session: Session, monkeypatch: Any
) -> None:
    low = {"estimate_post": RateLimit(limit=240, remaining=3, reset=0.0)}
    monkeypatch.setattr(type(session.aclient), "rate_limits", property(lambda _self: low))
    with pytest.raises(_pricing.EstimateDeferred):
        await _pricing.quote(session, {**VIDEO, "duration": 7}, "video")


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
        "assert 'ipywidgets' not in sys.modules and 'aurous_nb.widgets.panel' not in sys.modules\n"
        "w.GenerationPanel\n"
        "assert 'aurous_nb.widgets.panel' in sys.modules\n"
        "assert 'aurous_nb.widgets.grid' not in sys.modules\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)

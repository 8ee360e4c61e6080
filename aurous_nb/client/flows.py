"""Step flows: logic that makes several client calls, written once, run sync or async.

The client's own flows (one endpoint each, ``_core``) yield HTTP requests that its driver
retries. A step flow sits one level up: between client calls it writes the ledger, so its steps
are whole client calls, a zero-argument callable each, or a :class:`Sleep` (the client's own
step type). :func:`drive` runs it over a ``Client`` (calling each step), :func:`adrive` over
an ``AsyncClient`` (awaiting it); a step's result is sent back into the flow, and its exception
is thrown in where the step was yielded. ``jobs`` and ``outputs`` are written this way.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Generator
from typing import Any, TypeVar

from aurous_nb.client._core import Sleep

__all__ = ["Sleep", "Step", "StepFlow", "adrive", "drive"]

T = TypeVar("T")

Step = Sleep | Callable[[], Any]
StepFlow = Generator[Step, Any, T]


def drive(flow: StepFlow[T]) -> T:
    """Run a flow against a blocking client."""
    try:
        step = next(flow)
        while True:
            try:
                if isinstance(step, Sleep):
                    time.sleep(step.seconds)
                    result = None
                else:
                    result = step()
            except BaseException as exc:
                step = flow.throw(exc)
            else:
                step = flow.send(result)
    except StopIteration as done:
        return done.value  # type: ignore[no-any-return]
    finally:
        flow.close()


async def adrive(flow: StepFlow[T]) -> T:
    """Run a flow against an ``AsyncClient``: each call step returns an awaitable."""
    try:
        step = next(flow)
        while True:
            try:
                if isinstance(step, Sleep):
                    await asyncio.sleep(step.seconds)
                    result = None
                else:
                    result = await step()
            except BaseException as exc:
                step = flow.throw(exc)
            else:
                step = flow.send(result)
    except StopIteration as done:
        return done.value  # type: ignore[no-any-return]
    finally:
        flow.close()

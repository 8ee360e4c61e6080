"""One flow, two drivers: logic that talks to a client is written once, run sync or async.

A flow is a generator that yields steps: a :class:`Pause`, or a zero-argument callable making
one client call. :func:`drive` runs it over a ``Client`` (calling each step), :func:`adrive` over
an ``AsyncClient`` (awaiting it); a step's result is sent back into the flow, and its exception
is thrown in where the step was yielded. ``jobs`` and ``outputs`` are written this way.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Generator
from dataclasses import dataclass
from typing import Any, TypeVar

T = TypeVar("T")


@dataclass(frozen=True)
class Pause:
    seconds: float


Step = Pause | Callable[[], Any]
StepFlow = Generator[Step, Any, T]


def drive(flow: StepFlow[T]) -> T:
    """Run a flow against a blocking client."""
    try:
        step = next(flow)
        while True:
            try:
                if isinstance(step, Pause):
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
                if isinstance(step, Pause):
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

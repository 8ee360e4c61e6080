"""Scheduling widget work on the kernel's own event loop, one task per action.

A button callback must return at once (the kernel answers nothing else while it runs), so every
click only *schedules* a coroutine. :class:`TaskSlot` holds the task of one action: a second click
while it runs is refused instead of starting a duplicate job, and failures are logged rather than
lost in an unobserved task.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Coroutine, Generator
from typing import Any

__all__ = ["Debouncer", "Running", "TaskSlot", "schedule"]

log = logging.getLogger("aurous_nb.widgets")


def _loop() -> asyncio.AbstractEventLoop:
    try:
        return asyncio.get_running_loop()
    except RuntimeError:  # a callback fired outside the loop (a script): use the thread's loop
        pass
    policy = asyncio.get_event_loop_policy()
    try:
        loop = policy.get_event_loop()
    except RuntimeError:  # none set, e.g. after asyncio.run() closed the last one
        loop = None
    if loop is None or loop.is_closed():
        loop = policy.new_event_loop()
        policy.set_event_loop(loop)
    return loop


def schedule(coro: Coroutine[Any, Any, Any]) -> asyncio.Task[Any]:
    """Run ``coro`` as a task on the kernel loop; exceptions are logged, never swallowed."""
    task = _loop().create_task(coro)
    task.add_done_callback(_report)
    return task


def _report(task: asyncio.Task[Any]) -> None:
    if not task.cancelled() and task.exception() is not None:
        log.error("widget task failed", exc_info=task.exception())


class Running:
    """What ``grid.run()`` / ``panel.generate()`` return: work going on in the background.

    ``await`` it to wait for the end (its exception, if any, is raised there); left as the last
    line of a cell it says so in one line instead of printing a Task's internals.
    """

    def __init__(self, task: asyncio.Task[Any], what: str) -> None:
        self.task = task
        self.what = what

    def __await__(self) -> Generator[Any, None, Any]:
        return self.task.__await__()

    def done(self) -> bool:
        return self.task.done()

    def cancel(self) -> bool:
        return self.task.cancel()

    def __repr__(self) -> str:
        state = "done" if self.task.done() else "running in the background; `await` it to wait"
        return f"<{self.what}: {state}>"


class TaskSlot:
    """At most one running task for one action (Generate, Run, Refresh...)."""

    def __init__(self, on_done: Callable[[], Any] | None = None) -> None:
        self.task: asyncio.Task[Any] | None = None
        self.on_done = on_done  # e.g. re-enable buttons: inside the task it still "runs"

    @property
    def running(self) -> bool:
        return self.task is not None and not self.task.done()

    def start(self, factory: Callable[[], Coroutine[Any, Any, Any]]) -> asyncio.Task[Any] | None:
        """Start ``factory()`` unless a task is already running (then return ``None``)."""
        if self.running:
            return None
        self.task = schedule(factory())
        if self.on_done is not None:
            callback = self.on_done
            self.task.add_done_callback(lambda _task: callback())
        return self.task

    def cancel(self) -> bool:
        if not self.running or self.task is None:
            return False
        self.task.cancel()
        return True

    async def wait(self) -> Any:
        """Await the current task (if any); its exception, if one, propagates."""
        if self.task is not None:
            return await self.task
        return None


class Debouncer:
    """Call ``action`` once, ``delay`` seconds after the last :meth:`poke` (a typing burst)."""

    def __init__(self, action: Callable[[], Awaitable[Any]], delay: float = 0.35) -> None:
        self.action = action
        self.delay = delay
        self.slot = TaskSlot()

    def poke(self, delay: float | None = None) -> None:
        self.slot.cancel()
        self.slot.task = None
        wait = self.delay if delay is None else delay
        self.slot.start(lambda: self._later(wait))

    async def _later(self, delay: float) -> None:
        await asyncio.sleep(delay)
        await self.action()

    async def flush(self) -> None:
        """Wait for a pending call to finish (tests, and code that needs the fresh value)."""
        task = self.slot.task
        if task is not None:
            try:
                await task
            except asyncio.CancelledError:
                if not task.cancelled():
                    raise

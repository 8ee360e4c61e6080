"""Widget work on the loop cells run on (:mod:`aurous_nb.notebook.loops`), one task per action.

A button callback must return at once (the kernel answers nothing else while it runs), so every
click only *schedules* a coroutine, as a :class:`Work`: a task on the home loop, whatever thread
or loop the click arrived on (:func:`handler` moves a callback from a kernel subshell to the
main loop first). Outside any loop (a script building a grid before ``asyncio.run``) the work
waits for the first loop that awaits it. :class:`TaskSlot` holds the work of one action: a second
click while it runs is refused instead of starting a duplicate job. A failure is never lost: it is
raised to whoever awaits the work and, for work nobody awaits, either shown by its widget
(``shown=True``) or logged.
"""

from __future__ import annotations

import asyncio
import functools
import logging
from collections.abc import Awaitable, Callable, Coroutine, Generator
from typing import Any

from aurous_nb.notebook import loops

__all__ = ["Debouncer", "Running", "TaskSlot", "Work", "handler", "schedule"]

log = logging.getLogger("aurous_nb.notebook.widgets")

Factory = Callable[[], Coroutine[Any, Any, Any]]


class Work:
    """One coroutine, run once as a task on the home loop, awaitable from any loop.

    ``factory`` makes the coroutine when the work starts: at once when a loop can run it, else
    when first awaited. ``shown=True`` says the widget displays the work's failures itself (they
    are still raised to anyone awaiting), so they are not logged a second time.
    """

    def __init__(self, factory: Factory, *, shown: bool = False) -> None:
        self.factory = factory
        self.shown = shown
        self.task: asyncio.Task[Any] | None = None
        self._callbacks: list[Callable[[], Any]] = []
        self._dropped = False  # cancelled before it started
        self.start()

    def start(self, loop: asyncio.AbstractEventLoop | None = None) -> None:
        """Start on ``loop`` (default: :func:`loops.target`) unless started or none is known."""
        if self.task is not None or self._dropped:
            return
        loop = loop or loops.target()
        if loop is None:
            return  # a script outside any loop: the first await starts it
        if loop.is_running() and loop is not loops.running():
            loop.call_soon_threadsafe(self.start, loop)  # that loop's thread makes the task
            return
        self.task = loop.create_task(self.factory())
        self.task.add_done_callback(self._finished)

    def done(self) -> bool:
        return self._dropped or (self.task is not None and self.task.done())

    def add_done_callback(self, callback: Callable[[], Any]) -> None:
        """``callback()`` once the work ended (on the loop that ran it)."""
        if self.task is not None and self.task.done():
            callback()
        else:
            self._callbacks.append(callback)

    def cancel(self) -> bool:
        if self.done():
            return False
        if self.task is None:
            self._dropped = True
            self._run_callbacks()
            return True
        loop = self.task.get_loop()
        if loop.is_running() and loop is not loops.running():
            loop.call_soon_threadsafe(self.task.cancel)
            return True
        return self.task.cancel()

    def result(self) -> Any:
        """The result (or the exception) of work that has ended."""
        if self._dropped:
            raise asyncio.CancelledError
        assert self.task is not None
        return self.task.result()

    def __await__(self) -> Generator[Any, None, Any]:
        return self._wait().__await__()

    async def _wait(self) -> Any:
        home = loops.elsewhere()
        if home is not None:  # awaited from a subshell: the work lives on the main loop
            future = asyncio.run_coroutine_threadsafe(self._wait_here(), home)
            return await asyncio.wrap_future(future)
        return await self._wait_here()

    async def _wait_here(self) -> Any:
        if self.task is None and not self._dropped:
            self.start(asyncio.get_running_loop())
        if self._dropped:
            raise asyncio.CancelledError
        task = self.task
        assert task is not None
        if not task.done() and task.get_loop() is not asyncio.get_running_loop():
            raise RuntimeError(
                "this widget's work runs on another event loop, which is not running; await it "
                "in a cell of the notebook or IPython session that made the widget"
            )
        return await task

    def _finished(self, task: asyncio.Task[Any]) -> None:
        if not task.cancelled():
            exc = task.exception()  # retrieved: no "exception was never retrieved" warning
            if exc is not None and not self.shown:
                log.error("widget task failed", exc_info=exc)
        self._run_callbacks()

    def _run_callbacks(self) -> None:
        callbacks, self._callbacks = self._callbacks, []
        for callback in callbacks:
            try:
                callback()
            except Exception:
                log.exception("widget callback failed")

    def __repr__(self) -> str:
        state = "done" if self.done() else ("running" if self.task else "not started")
        return f"<Work {getattr(self.factory, '__qualname__', 'task')} {state}>"


def schedule(coro: Coroutine[Any, Any, Any]) -> Work:
    """Run ``coro`` as a task on the home loop; a failure is logged, never swallowed."""
    return Work(lambda: coro)


def handler(callback: Callable[..., Any]) -> Callable[..., None]:
    """``callback`` for a widget event, run on the home loop's thread.

    ipykernel 7 runs widget messages from JupyterLab on a kernel subshell (another thread and
    loop); the callback is then handed to the main loop, so widget state and tasks are only
    touched there. Elsewhere it runs at once.
    """

    @functools.wraps(callback)
    def run(*args: Any, **kwargs: Any) -> None:
        home = loops.elsewhere()
        if home is not None:
            home.call_soon_threadsafe(functools.partial(callback, *args, **kwargs))
        else:
            callback(*args, **kwargs)

    return run


class Running:
    """What ``grid.run()`` / ``panel.generate()`` return: work going on in the background.

    ``await`` it to wait for the end (its exception, if any, is raised there); it is also a
    coroutine, so a script can ``asyncio.run(grid.run())``. Left as the last line of a cell it
    says so in one line instead of printing a Task's internals.
    """

    def __init__(self, work: Work, what: str) -> None:
        self.task = work
        self.what = what
        self._coro: Coroutine[Any, Any, Any] | None = None

    def __await__(self) -> Generator[Any, None, Any]:
        return self.task.__await__()

    # the coroutine protocol (asyncio.run and create_task accept a Running)
    def _driver(self) -> Coroutine[Any, Any, Any]:
        if self._coro is None:
            self._coro = self.task._wait()
        return self._coro

    def send(self, value: Any) -> Any:
        return self._driver().send(value)

    def throw(self, *args: Any) -> Any:
        return self._driver().throw(*args)

    def close(self) -> None:
        if self._coro is not None:
            self._coro.close()

    def done(self) -> bool:
        return self.task.done()

    def cancel(self) -> bool:
        return self.task.cancel()

    def __repr__(self) -> str:
        state = "done" if self.task.done() else "running in the background; `await` it to wait"
        return f"<{self.what}: {state}>"


Coroutine.register(Running)


class TaskSlot:
    """At most one running task for one action (Generate, Run, Refresh...)."""

    def __init__(self, on_done: Callable[[], Any] | None = None, *, shown: bool = False) -> None:
        self.task: Work | None = None
        self.on_done = on_done  # e.g. re-enable buttons: inside the task it still "runs"
        self.shown = shown

    @property
    def running(self) -> bool:
        return self.task is not None and not self.task.done()

    def start(self, factory: Factory) -> Work | None:
        """Start ``factory()`` unless a task is already running (then return ``None``)."""
        if self.running:
            return None
        self.task = Work(factory, shown=self.shown)
        if self.on_done is not None:
            self.task.add_done_callback(self.on_done)
        return self.task

    def cancel(self) -> bool:
        if not self.running or self.task is None:
            return False
        return self.task.cancel()

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
        work = self.slot.task
        while work is not None:
            try:
                await work
            except asyncio.CancelledError:
                if self.slot.task is work:  # cancelled from outside, not by a newer poke
                    raise
            if self.slot.task is work:
                return
            work = self.slot.task  # a poke replaced it meanwhile: wait for the newer one

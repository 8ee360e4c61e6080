"""Base classes of the resource namespaces (``client.images`` ...), one per driver kind.

A resource method builds a flow (shared) and hands it to its client's driver: ``self._run``
returns the result on the sync client and an awaitable on the async one.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterator
from typing import Protocol, TypeVar

from aurous_nb.client._core import Core, Flow
from aurous_nb.client.models import Page

T = TypeVar("T")
PageFlow = Callable[[str | None], Flow[Page[T]]]


class SyncRunner(Protocol):
    _core: Core

    def _run(self, flow: Flow[T]) -> T: ...

    def _iterate(self, pages: PageFlow[T]) -> Iterator[T]: ...


class AsyncRunner(Protocol):
    _core: Core

    async def _run(self, flow: Flow[T]) -> T: ...

    def _iterate(self, pages: PageFlow[T]) -> AsyncIterator[T]: ...


class SyncResource:
    __slots__ = ("_client", "_core")

    def __init__(self, client: SyncRunner) -> None:
        self._client = client
        self._core = client._core

    def _run(self, flow: Flow[T]) -> T:
        return self._client._run(flow)


class AsyncResource:
    __slots__ = ("_client", "_core")

    def __init__(self, client: AsyncRunner) -> None:
        self._client = client
        self._core = client._core

    async def _run(self, flow: Flow[T]) -> T:
        return await self._client._run(flow)

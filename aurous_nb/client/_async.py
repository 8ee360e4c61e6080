"""The asyncio client: the same flows as :class:`Client`, driven over httpx.AsyncClient."""

from __future__ import annotations

import sys
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from functools import cached_property
from types import TracebackType
from typing import TYPE_CHECKING, Any, TypeVar

import httpx

from aurous_nb.client import account
from aurous_nb.client._base import ClientBase
from aurous_nb.client._core import (
    Flow,
    Request,
    RetryPolicy,
    Sleep,
    StepFlow,
    next_cursor,
)
from aurous_nb.client._limits import FAULTS, Reading, fault
from aurous_nb.client._params import UsageParams
from aurous_nb.client.characters import AsyncCharacters
from aurous_nb.client.files import AsyncFiles
from aurous_nb.client.images import AsyncImages
from aurous_nb.client.loras import AsyncLoras, AsyncVideoLoras
from aurous_nb.client.models import Balance, Page, Pricing, Team, UsageBucket
from aurous_nb.client.videos import AsyncVideos
from aurous_nb.client.webhook_endpoints import AsyncWebhookEndpoints
from aurous_nb.secret import Secret

if TYPE_CHECKING:
    from aurous_nb.client._sync import Client

if sys.version_info >= (3, 11):
    from typing import Unpack
else:  # pragma: no cover
    from typing_extensions import Unpack

__all__ = ["AsyncClient"]

T = TypeVar("T")


class AsyncClient(ClientBase[httpx.AsyncClient]):
    """The Aurous v1 API for asyncio: every method of :class:`Client`, awaited.

    Use one per event loop (httpx.AsyncClient connections belong to the loop that opened them).
    """

    def __init__(
        self,
        api_key: str | Secret | None = None,
        base_url: str | None = None,
        version: str | None = None,
        timeout: float = 60.0,
        max_retries: int = 4,
        *,
        retry_budget: float = 120.0,
        retry: RetryPolicy | None = None,
        http_client: httpx.AsyncClient | None = None,
    ) -> None:
        self._connect(
            httpx.AsyncClient,
            http_client,
            api_key,
            base_url,
            version,
            timeout,
            max_retries,
            retry_budget,
            retry,
        )
        import asyncio  # here, not at module level: ``import aurous_nb`` stays cheap

        self._sleep: Callable[[float], Awaitable[None]] = asyncio.sleep

    @classmethod
    def from_client(cls, client: ClientBase[Any]) -> AsyncClient:
        """An AsyncClient with ``client``'s key, settings and rate-limit state, and connections of
        its own (httpx's async connections belong to the loop that opens them). What
        :meth:`Client.to_async` returns; call that."""
        import asyncio

        return cls._twin_of(client, httpx.AsyncClient, asyncio.sleep)

    def to_sync(self) -> Client:
        """The blocking twin of this client, for a lookup that cannot await (a grid's names
        before its price): the same key, settings and rate-limit state, connections of its
        own. Close it with ``with``; this client stays open."""
        from aurous_nb.client._sync import Client

        return Client.from_client(self)

    # -- the driver: the only place that performs I/O --------------------------

    async def _run(self, flow: Flow[T]) -> T:
        send = flow.send
        try:
            step = next(flow)
            while True:
                if type(step) is Sleep:
                    await self._sleep(step.seconds)
                    step = send(None)
                elif type(step) is Request:
                    step = send(await self._send(step))
                else:  # a step flow's whole client call: its exception goes back into the flow
                    try:
                        result = await step()  # type: ignore[operator]
                    except BaseException as exc:
                        step = flow.throw(exc)
                    else:
                        step = send(result)
        except StopIteration as done:
            return done.value  # type: ignore[no-any-return]
        finally:
            flow.close()

    async def drive(self, flow: StepFlow[T]) -> T:
        """Run a step flow (see ``_core.StepFlow``) on this client: its calls, its sleeps."""
        return await self._run(flow)  # type: ignore[arg-type]

    async def _send(self, req: Request) -> Any:
        started = time.monotonic()
        try:
            r = await self._http.send(self._build(req), stream=True, follow_redirects=False)
            try:
                with Reading(req, r, started, req.timeout or self._core.timeout) as reading:
                    async for chunk in r.aiter_bytes():
                        reading.feed(chunk)
                return reading.response
            finally:
                await r.aclose()
        except FAULTS as exc:
            return fault(exc)

    async def _iterate(self, pages: Callable[[str | None], Flow[Page[T]]]) -> AsyncIterator[T]:
        cursor: str | None = None
        seen: set[str] = set()
        while True:
            page = await self._run(pages(cursor))
            for item in page.data:
                yield item
            cursor = next_cursor(page.has_more, page.next_cursor, seen)
            if cursor is None:
                return

    # -- resources -------------------------------------------------------------

    @cached_property
    def images(self) -> AsyncImages:
        return AsyncImages(self)

    @cached_property
    def videos(self) -> AsyncVideos:
        return AsyncVideos(self)

    @cached_property
    def loras(self) -> AsyncLoras:
        return AsyncLoras(self)

    @cached_property
    def video_loras(self) -> AsyncVideoLoras:
        return AsyncVideoLoras(self)

    @cached_property
    def characters(self) -> AsyncCharacters:
        return AsyncCharacters(self)

    @cached_property
    def files(self) -> AsyncFiles:
        return AsyncFiles(self)

    @cached_property
    def webhook_endpoints(self) -> AsyncWebhookEndpoints:
        return AsyncWebhookEndpoints(self)

    # -- account ---------------------------------------------------------------

    async def balance(self, *, version: str | None = None) -> Balance:
        return await self._run(account.balance_flow(self._core, version))

    async def team(self, *, version: str | None = None) -> Team:
        return await self._run(account.team_flow(self._core, version))

    async def pricing(self, *, version: str | None = None) -> Pricing:
        return await self._run(account.pricing_flow(self._core, version))

    async def usage(
        self,
        start_time: account.TimeArg,
        end_time: account.TimeArg | None = None,
        *,
        bucket_width: str = "1d",
        group_by: Sequence[str] | str | None = None,
        version: str | None = None,
        **filters: Unpack[UsageParams],
    ) -> list[UsageBucket]:
        return await self._run(
            account.usage_flow(
                self._core, start_time, end_time, bucket_width, group_by, filters, version
            )
        )

    async def request(
        self,
        method: str,
        path: str,
        *,
        json: Any = None,
        params: Any = None,
        idempotency_key: str | None = None,
        bucket: str | None = None,
        version: str | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> Any:
        return await self._run(
            account.request_flow(
                self._core, method, path, json, params, idempotency_key, bucket, version, headers
            )
        )

    # -- lifecycle ---------------------------------------------------------------

    async def close(self) -> None:
        if self._owns_http:
            await self._http.aclose()

    async def __aenter__(self) -> AsyncClient:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

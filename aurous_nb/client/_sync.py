"""The blocking client: one driver loop over httpx.Client, plus one-line methods."""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from functools import cached_property
from types import TracebackType
from typing import Any, TypeVar

import httpx

from aurous_nb.client import account
from aurous_nb.client._async import AsyncClient
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
from aurous_nb.client.characters import Characters
from aurous_nb.client.files import Files
from aurous_nb.client.images import Images
from aurous_nb.client.loras import Loras, VideoLoras
from aurous_nb.client.models import Balance, Page, Pricing, Team, UsageBucket
from aurous_nb.client.videos import Videos
from aurous_nb.client.webhook_endpoints import WebhookEndpoints
from aurous_nb.secret import Secret

if sys.version_info >= (3, 11):
    from typing import Unpack
else:  # pragma: no cover
    from typing_extensions import Unpack

__all__ = ["Client"]

T = TypeVar("T")


class Client(ClientBase[httpx.Client]):
    """The Aurous v1 API, blocking. Safe to share between threads.

    ``api_key``, ``base_url`` and ``version`` default to AUROUS_API_KEY, AUROUS_BASE_URL
    (https://api.aurous-labs.com) and AUROUS_VERSION. ``timeout`` bounds each HTTP request
    from sending to its last byte (see ``_limits``);
    ``retry_budget`` bounds the total seconds one call may spend retrying.
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
        http_client: httpx.Client | None = None,
    ) -> None:
        self._connect(
            httpx.Client,
            http_client,
            api_key,
            base_url,
            version,
            timeout,
            max_retries,
            retry_budget,
            retry,
        )
        self._sleep: Callable[[float], None] = time.sleep

    # -- the driver: the only place that performs I/O --------------------------

    def _run(self, flow: Flow[T]) -> T:
        send = flow.send
        try:
            step = next(flow)
            while True:
                if type(step) is Sleep:
                    self._sleep(step.seconds)
                    step = send(None)
                elif type(step) is Request:
                    step = send(self._send(step))
                else:  # a step flow's whole client call: its exception goes back into the flow
                    try:
                        result = step()  # type: ignore[operator]
                    except BaseException as exc:
                        step = flow.throw(exc)
                    else:
                        step = send(result)
        except StopIteration as done:
            return done.value  # type: ignore[no-any-return]
        finally:
            flow.close()

    def drive(self, flow: StepFlow[T]) -> T:
        """Run a step flow (see ``_core.StepFlow``) on this client: its calls, its sleeps."""
        return self._run(flow)  # type: ignore[arg-type]

    def _send(self, req: Request) -> Any:
        started = time.monotonic()
        try:
            r = self._http.send(self._build(req), stream=True, follow_redirects=False)
            try:
                with Reading(req, r, started, req.timeout or self._core.timeout) as reading:
                    for chunk in r.iter_bytes():
                        reading.feed(chunk)
                return reading.response
            finally:
                r.close()
        except FAULTS as exc:
            return fault(exc)

    def _iterate(self, pages: Callable[[str | None], Flow[Page[T]]]) -> Iterator[T]:
        cursor: str | None = None
        seen: set[str] = set()
        while True:
            page = self._run(pages(cursor))
            yield from page.data
            cursor = next_cursor(page.has_more, page.next_cursor, seen)
            if cursor is None:
                return

    # -- resources -------------------------------------------------------------

    @cached_property
    def images(self) -> Images:
        return Images(self)

    @cached_property
    def videos(self) -> Videos:
        return Videos(self)

    @cached_property
    def loras(self) -> Loras:
        return Loras(self)

    @cached_property
    def video_loras(self) -> VideoLoras:
        return VideoLoras(self)

    @cached_property
    def characters(self) -> Characters:
        return Characters(self)

    @cached_property
    def files(self) -> Files:
        return Files(self)

    @cached_property
    def webhook_endpoints(self) -> WebhookEndpoints:
        return WebhookEndpoints(self)

    # -- account ---------------------------------------------------------------

    def balance(self, *, version: str | None = None) -> Balance:
        return self._run(account.balance_flow(self._core, version))

    def team(self, *, version: str | None = None) -> Team:
        return self._run(account.team_flow(self._core, version))

    def pricing(self, *, version: str | None = None) -> Pricing:
        """The rate card frozen for the applied version (``.version``)."""
        return self._run(account.pricing_flow(self._core, version))

    def usage(
        self,
        start_time: account.TimeArg,
        end_time: account.TimeArg | None = None,
        *,
        bucket_width: str = "1d",
        group_by: Sequence[str] | str | None = None,
        version: str | None = None,
        **filters: Unpack[UsageParams],
    ) -> list[UsageBucket]:
        """All usage buckets in [start_time, end_time), newest first (every page fetched).

        Filters (see ``UsageParams``): status, type, api_key_id, user_id, lora_id,
        character_id, limit (page size).
        """
        return self._run(
            account.usage_flow(
                self._core, start_time, end_time, bucket_width, group_by, filters, version
            )
        )

    def request(
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
        """Escape hatch: any route, with the same auth, retries and error mapping."""
        return self._run(
            account.request_flow(
                self._core, method, path, json, params, idempotency_key, bucket, version, headers
            )
        )

    @classmethod
    def from_client(cls, client: ClientBase[Any]) -> Client:
        """A blocking Client with ``client``'s key, settings and rate-limit state, and
        connections of its own. What :meth:`AsyncClient.to_sync` returns; call that."""
        return cls._twin_of(client, httpx.Client, time.sleep)

    def to_async(self) -> AsyncClient:
        """The async twin of this client, for work on an event loop: it shares the key, the
        settings and the rate-limit state, and opens connections of its own (httpx's async
        connections belong to the loop that opens them). Close it with ``async with``; this
        client stays open. The one way a blocking client lends itself (session, Batch)."""
        return AsyncClient.from_client(self)

    # -- lifecycle ---------------------------------------------------------------

    def close(self) -> None:
        if self._owns_http:
            self._http.close()

    def __enter__(self) -> Client:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

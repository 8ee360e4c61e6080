"""Image LoRA styles and video models (contract §2.1-2.4): bare-array lists, get by id or slug."""

from __future__ import annotations

import builtins
from collections.abc import Callable
from typing import Any, TypeVar
from urllib.parse import quote

from aurous_nb.client._core import Core, Flow
from aurous_nb.client._params import check_id
from aurous_nb.client._resource import AsyncResource, SyncResource
from aurous_nb.client.errors import InvalidResponseError, json_kind
from aurous_nb.client.models import Lora, VideoLora, rows

__all__ = ["AsyncLoras", "AsyncVideoLoras", "Loras", "VideoLoras"]

M = TypeVar("M", Lora, VideoLora)


def list_flow(
    core: Core, path: str, parse: Callable[[dict[str, Any]], M], version: str | None
) -> Flow[builtins.list[M]]:
    body = (yield from core.call(core.get(path, version=version))).json()
    if not isinstance(body, (dict, list)):  # a bare list is tolerated
        raise InvalidResponseError(
            f"the answer is {json_kind(body)}, not a list", code="invalid_response"
        )
    return [parse(r) for r in rows(body)]


def get_flow(
    core: Core,
    path: str,
    id_or_slug: str,
    parse: Callable[[dict[str, Any]], M],
    version: str | None,
) -> Flow[M]:
    url = f"{path}/{quote(check_id('id_or_slug', id_or_slug), safe='')}"
    return parse((yield from core.call_json(core.get(url, version=version))))


class Loras(SyncResource):
    """``client.loras``: image styles available to the team."""

    __slots__ = ()

    def list(self, *, version: str | None = None) -> builtins.list[Lora]:
        return self._run(list_flow(self._core, "/v1/loras", Lora.from_json, version))

    def get(self, id_or_slug: str, *, version: str | None = None) -> Lora:
        return self._run(get_flow(self._core, "/v1/loras", id_or_slug, Lora.from_json, version))


class VideoLoras(SyncResource):
    """``client.video_loras``: video models."""

    __slots__ = ()

    def list(self, *, version: str | None = None) -> builtins.list[VideoLora]:
        return self._run(list_flow(self._core, "/v1/video_loras", VideoLora.from_json, version))

    def get(self, id_or_slug: str, *, version: str | None = None) -> VideoLora:
        return self._run(
            get_flow(self._core, "/v1/video_loras", id_or_slug, VideoLora.from_json, version)
        )


class AsyncLoras(AsyncResource):
    __slots__ = ()

    async def list(self, *, version: str | None = None) -> builtins.list[Lora]:
        return await self._run(list_flow(self._core, "/v1/loras", Lora.from_json, version))

    async def get(self, id_or_slug: str, *, version: str | None = None) -> Lora:
        return await self._run(
            get_flow(self._core, "/v1/loras", id_or_slug, Lora.from_json, version)
        )


class AsyncVideoLoras(AsyncResource):
    __slots__ = ()

    async def list(self, *, version: str | None = None) -> builtins.list[VideoLora]:
        return await self._run(
            list_flow(self._core, "/v1/video_loras", VideoLora.from_json, version)
        )

    async def get(self, id_or_slug: str, *, version: str | None = None) -> VideoLora:
        return await self._run(
            get_flow(self._core, "/v1/video_loras", id_or_slug, VideoLora.from_json, version)
        )

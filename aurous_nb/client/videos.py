"""Video generations: estimate and create (contract §2.11-2.13).

Videos are polled, cancelled and waited for through ``client.images`` (one status surface);
``download`` here fetches ``output_video_url`` with the same refresh-once flow as images.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any

from aurous_nb.client._core import Core, Flow
from aurous_nb.client._params import VideoParams, video_body
from aurous_nb.client._resource import AsyncResource, SyncResource
from aurous_nb.client.errors import ValidationError
from aurous_nb.client.images import (
    GenerationRef,
    download_bytes_flow,
    download_to_flow,
    generate_flow,
    post_create_flow,
    post_estimate_flow,
)
from aurous_nb.client.models import Estimate, Generation

if sys.version_info >= (3, 11):
    from typing import Unpack
else:  # pragma: no cover
    from typing_extensions import Unpack

__all__ = ["AsyncVideos", "Videos"]


def body_flow(
    core: Core, video_lora_id: str, params: VideoParams, version: str | None
) -> Flow[dict[str, Any]]:
    """The request body; ``first_frame`` / ``last_frame`` (anything, see ``client.references``)
    become ``first_frame_url`` / ``last_frame_url``, uploaded once after the rest is checked."""
    frames = {n: params.get(n) for n in _FRAMES if params.get(n) is not None}
    if not frames:
        return video_body(video_lora_id, params)
    from aurous_nb.client.references import resolve_flow

    rest: dict[str, Any] = {k: v for k, v in params.items() if k not in _FRAMES}
    for name in frames:
        if rest.get(f"{name}_url") is not None:
            raise ValidationError(name, f"{name}: cannot be used with {name}_url; pass one")
    # checked with stand-ins first, so a refused request uploads nothing
    video_body(video_lora_id, {**rest, **{f"{n}_url": "file_checked" for n in frames}})
    for name, source in frames.items():
        rest[f"{name}_url"] = yield from resolve_flow(core, source, name, name, version)
    return video_body(video_lora_id, rest)


_FRAMES = ("first_frame", "last_frame")


def estimate_flow(
    core: Core, video_lora_id: str, params: VideoParams, version: str | None
) -> Flow[Estimate]:
    body = yield from body_flow(core, video_lora_id, params, version)
    return (yield from post_estimate_flow(core, "/v1/videos/estimate", body, version))


def create_flow(
    core: Core, video_lora_id: str, params: VideoParams, key: str | None, version: str | None
) -> Flow[Generation]:
    body = yield from body_flow(core, video_lora_id, params, version)
    return (yield from post_create_flow(core, "/v1/videos", body, key, version))


class Videos(SyncResource):
    """``client.videos``: create and price videos; poll them with ``client.images.wait``."""

    __slots__ = ()

    def estimate(
        self, video_lora_id: str, *, version: str | None = None, **params: Unpack[VideoParams]
    ) -> Estimate:
        return self._run(estimate_flow(self._core, video_lora_id, params, version))

    def create(
        self,
        video_lora_id: str,
        *,
        idempotency_key: str | None = None,
        version: str | None = None,
        **params: Unpack[VideoParams],
    ) -> Generation:
        return self._run(create_flow(self._core, video_lora_id, params, idempotency_key, version))

    def generate(
        self,
        video_lora_id: str,
        *,
        download_dir: str | os.PathLike[str] | None = None,
        timeout: float = 900.0,
        poll_interval: float = 2.0,
        idempotency_key: str | None = None,
        version: str | None = None,
        **params: Unpack[VideoParams],
    ) -> Generation:
        """Create, wait and (with ``download_dir``) save the video: see ``Images.generate``."""
        create = create_flow(self._core, video_lora_id, params, idempotency_key, version)
        return self._run(
            generate_flow(self._core, create, timeout, poll_interval, download_dir, version)
        )

    def download(self, generation: GenerationRef, *, version: str | None = None) -> bytes:
        return self._run(download_bytes_flow(self._core, generation, 0, version))

    def download_to(
        self, generation: GenerationRef, path: str | os.PathLike[str], *, version: str | None = None
    ) -> Path:
        return self._run(download_to_flow(self._core, generation, 0, path, version))


class AsyncVideos(AsyncResource):
    """``client.videos`` on :class:`AsyncClient`."""

    __slots__ = ()

    async def estimate(
        self, video_lora_id: str, *, version: str | None = None, **params: Unpack[VideoParams]
    ) -> Estimate:
        return await self._run(estimate_flow(self._core, video_lora_id, params, version))

    async def create(
        self,
        video_lora_id: str,
        *,
        idempotency_key: str | None = None,
        version: str | None = None,
        **params: Unpack[VideoParams],
    ) -> Generation:
        return await self._run(
            create_flow(self._core, video_lora_id, params, idempotency_key, version)
        )

    async def generate(
        self,
        video_lora_id: str,
        *,
        download_dir: str | os.PathLike[str] | None = None,
        timeout: float = 900.0,
        poll_interval: float = 2.0,
        idempotency_key: str | None = None,
        version: str | None = None,
        **params: Unpack[VideoParams],
    ) -> Generation:
        """:meth:`Videos.generate`, awaited."""
        create = create_flow(self._core, video_lora_id, params, idempotency_key, version)
        return await self._run(
            generate_flow(self._core, create, timeout, poll_interval, download_dir, version)
        )

    async def download(self, generation: GenerationRef, *, version: str | None = None) -> bytes:
        return await self._run(download_bytes_flow(self._core, generation, 0, version))

    async def download_to(
        self, generation: GenerationRef, path: str | os.PathLike[str], *, version: str | None = None
    ) -> Path:
        return await self._run(download_to_flow(self._core, generation, 0, path, version))

"""The LoRA catalogue and its preview thumbnails, fetched once and cached.

Previews are fetched as bytes (memory, plus a disk cache under ``$AUROUS_NB_HOME/previews``) so
widgets embed them instead of linking a URL: the picture survives the kernel and the CDN. Preview
URLs are public; the API key is never sent with them. They are untrusted answers like any other:
at most :data:`MAX_PREVIEW_BYTES` is read, and only a picture is kept (and embedded).
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
from typing import Any
from urllib.parse import urlsplit

from aurous_nb.config import aurous_home
from aurous_nb.notebook.widgets._static import sniff_mime, thumbnail

__all__ = ["loras", "preview", "previews"]

log = logging.getLogger("aurous_nb.notebook.widgets")

PREVIEW_SIDE = 160
MAX_PREVIEW_BYTES = 8 * 1024 * 1024  # a style's sample picture; more is not a preview
_PREVIEWS: dict[str, bytes | None] = {}


async def loras(session: Any, *, refresh: bool = False) -> list[Any]:
    """Image LoRA styles of the session's connection (the cache the magics share, in
    :mod:`aurous_nb.notebook.styles`: one ``GET /v1/loras`` per connection)."""
    from aurous_nb.notebook import styles

    return await styles.aloras(session, refresh=refresh)


def _cache_key(url: str) -> str:
    parts = urlsplit(url)  # drop any query string: a token must not become part of a file name
    return hashlib.sha256(f"{parts.netloc}{parts.path}".encode()).hexdigest()[:32]


async def preview(url: str | None, http: Any = None) -> bytes | None:
    """A small PNG/JPEG of a preview URL, or ``None`` when it cannot be fetched."""
    if not url:
        return None
    key = _cache_key(url)
    if key in _PREVIEWS:
        return _PREVIEWS[key]
    path = aurous_home() / "previews" / f"{key}.img"
    data: bytes | None = None
    if path.is_file():
        data = path.read_bytes()
    else:
        data = await _download(url, http)
        if data is not None:
            data = thumbnail(data, PREVIEW_SIDE)
            if not sniff_mime(data).startswith("image/"):
                log.info("a LoRA preview is not a picture; none shown")
                data = None
        if data is not None:
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp = path.with_suffix(".part")
            tmp.write_bytes(data)
            tmp.replace(path)
    _PREVIEWS[key] = data
    return data


async def _download(url: str, http: Any) -> bytes | None:
    import httpx

    owned = http is None
    client = http or httpx.AsyncClient(timeout=10.0, follow_redirects=True)
    try:
        async with client.stream("GET", url) as response:
            response.raise_for_status()
            parts, size = [], 0
            async for chunk in response.aiter_bytes():
                size += len(chunk)
                if size > MAX_PREVIEW_BYTES:
                    log.info("a LoRA preview is over %d MiB; none shown", MAX_PREVIEW_BYTES >> 20)
                    return None
                parts.append(chunk)
            return b"".join(parts)
    except Exception as exc:
        log.info("could not fetch a LoRA preview: %s", type(exc).__name__)
        return None
    finally:
        if owned:
            await client.aclose()


async def previews(urls: list[str | None]) -> list[bytes | None]:
    """Many previews at once, over one connection pool."""
    import httpx

    async with httpx.AsyncClient(timeout=10.0, follow_redirects=True) as http:
        return list(await asyncio.gather(*(preview(u, http) for u in urls)))

"""Reference files (contract §2.19-2.21): multipart upload with an Idempotency-Key, get, delete."""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from aurous_nb.client._core import Core, Flow, Request
from aurous_nb.client._params import check_id, file_fields
from aurous_nb.client._resource import AsyncResource, SyncResource
from aurous_nb.client.errors import ValidationError
from aurous_nb.client.images import idempotency_key
from aurous_nb.client.models import Deleted, File

if TYPE_CHECKING:
    from aurous_nb.client.references import ReferenceSource

__all__ = ["AsyncFiles", "Files"]

MAX_FILE_BYTES = 10 * 1024 * 1024
FileInput = str | os.PathLike[str] | bytes


def sniff_mime(data: bytes) -> str | None:
    """PNG, JPEG or WebP by their magic bytes (the only types the API takes)."""
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if data.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp"
    return None


def _read(source: FileInput, filename: str | None, param: str = "file") -> tuple[str, bytes]:
    if isinstance(source, (bytes, bytearray)):
        return filename or "upload", bytes(source)
    if isinstance(source, (str, os.PathLike)):
        path = Path(source)
        try:
            return filename or path.name, path.read_bytes()
        except OSError as exc:
            raise ValidationError(param, f"{param}: cannot read {path}: {exc.strerror}") from None
    raise ValidationError(param, f"{param}: pass a path or bytes")


def read_image(
    source: FileInput, filename: str | None, param: str = "file"
) -> tuple[str, bytes, str]:
    """(name, bytes, mime type) of an image the API takes: PNG, JPEG or WebP, 10 MB at most."""
    name, data = _read(source, filename, param)
    if len(data) > MAX_FILE_BYTES:
        raise ValidationError(param, f"{param}: at most 10 MB (got {len(data)} bytes)")
    mime = sniff_mime(data)
    if mime is None:
        raise ValidationError(param, f"{param}: must be a PNG, JPEG or WebP image")
    return name, data, mime


def upload_flow(
    core: Core,
    source: FileInput,
    purpose: str,
    metadata: Mapping[str, Any] | None,
    key: str | None,
    filename: str | None,
    version: str | None,
) -> Flow[File]:
    fields = file_fields(purpose, metadata)
    name, data, mime = read_image(source, filename)
    req = Request(
        "POST",
        core.url("/v1/files"),
        bucket="files",
        files={"file": (name, data, mime)},
        data=fields,
        idempotency_key=idempotency_key(key),
        idempotent=True,
        version=version,
    )
    return File.from_json((yield from core.call_json(req)))


def get_flow(core: Core, file_id: str, version: str | None) -> Flow[File]:
    path = f"/v1/files/{quote(check_id('id', file_id), safe='')}"
    return File.from_json((yield from core.call_json(core.get(path, version=version))))


def delete_flow(core: Core, file_id: str, version: str | None) -> Flow[Deleted]:
    path = f"/v1/files/{quote(check_id('id', file_id), safe='')}"
    req = core.send_json("DELETE", path, bucket="files", idempotent=True, version=version)
    core.uploads.forget(file_id)  # never offered again as a reference
    core.checked_files.pop(file_id, None)
    resp = yield from core.call(req)
    body = resp.json() if resp.content else None
    return Deleted.from_json(body if isinstance(body, dict) else {"id": file_id, "deleted": True})


def _purpose(purpose: str) -> str:
    return file_fields(purpose, None)["purpose"]


def resolve_flow(
    core: Core, source: ReferenceSource, purpose: str, param: str, version: str | None
) -> Flow[str]:
    from aurous_nb.client import references

    return (yield from references.resolve_flow(core, source, purpose, param, version))


def resolve_many_flow(
    core: Core, sources: Sequence[ReferenceSource], purpose: str, version: str | None
) -> Flow[list[str]]:
    from aurous_nb.client import references

    return (yield from references.resolve_many_flow(core, sources, purpose, "sources", version))


class Files(SyncResource):
    """``client.files``: reference images for ``reference_image_urls`` and video frames."""

    __slots__ = ()

    def upload(
        self,
        path_or_bytes: FileInput,
        *,
        purpose: str = "reference",
        metadata: Mapping[str, Any] | None = None,
        idempotency_key: str | None = None,
        filename: str | None = None,
        version: str | None = None,
    ) -> File:
        return self._run(
            upload_flow(
                self._core, path_or_bytes, purpose, metadata, idempotency_key, filename, version
            )
        )

    def get(self, id: str, *, version: str | None = None) -> File:
        """The file with a freshly minted signed ``url``."""
        return self._run(get_flow(self._core, id, version))

    def resolve(
        self, source: ReferenceSource, *, purpose: str = "reference", version: str | None = None
    ) -> str:
        """A reference as the wire takes it (a ``file_`` id or https URL): a path, PIL image,
        bytes or generation is uploaded, once while its file lives (``client.references``)."""
        return self._run(resolve_flow(self._core, source, _purpose(purpose), "source", version))

    def resolve_many(
        self,
        sources: Sequence[ReferenceSource],
        *,
        purpose: str = "reference",
        version: str | None = None,
    ) -> list[str]:
        """:meth:`resolve` for a list, every source read and checked before the first upload."""
        return self._run(resolve_many_flow(self._core, sources, _purpose(purpose), version))

    def delete(self, id: str, *, version: str | None = None) -> Deleted:
        return self._run(delete_flow(self._core, id, version))


class AsyncFiles(AsyncResource):
    __slots__ = ()

    async def upload(
        self,
        path_or_bytes: FileInput,
        *,
        purpose: str = "reference",
        metadata: Mapping[str, Any] | None = None,
        idempotency_key: str | None = None,
        filename: str | None = None,
        version: str | None = None,
    ) -> File:
        return await self._run(
            upload_flow(
                self._core, path_or_bytes, purpose, metadata, idempotency_key, filename, version
            )
        )

    async def get(self, id: str, *, version: str | None = None) -> File:
        return await self._run(get_flow(self._core, id, version))

    async def resolve(
        self, source: ReferenceSource, *, purpose: str = "reference", version: str | None = None
    ) -> str:
        return await self._run(
            resolve_flow(self._core, source, _purpose(purpose), "source", version)
        )

    async def resolve_many(
        self,
        sources: Sequence[ReferenceSource],
        *,
        purpose: str = "reference",
        version: str | None = None,
    ) -> list[str]:
        return await self._run(resolve_many_flow(self._core, sources, _purpose(purpose), version))

    async def delete(self, id: str, *, version: str | None = None) -> Deleted:
        return await self._run(delete_flow(self._core, id, version))

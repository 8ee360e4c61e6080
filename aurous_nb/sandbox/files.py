"""Uploaded reference files (``POST /v1/files``): checked with Pillow, kept in memory for 24 h."""

from __future__ import annotations

import io
from dataclasses import dataclass
from typing import Any

from aurous_nb.sandbox.errors import bad_request
from aurous_nb.sandbox.outputs import Signer
from aurous_nb.sandbox.timefmt import iso

MAX_BYTES = 10 * 1024 * 1024
MAX_PX = 4096
TTL_S = 24 * 3600.0
URL_TTL_S = 3600.0
PURPOSES = ("reference", "first_frame", "last_frame")
MIME_FOR_FORMAT = {"PNG": "image/png", "JPEG": "image/jpeg", "WEBP": "image/webp"}


def inspect_image(data: bytes) -> tuple[str, int, int]:
    """(mime type, width, height) of a PNG/JPEG/WebP; 400 for anything else or too big."""
    from PIL import Image, UnidentifiedImageError

    if len(data) > MAX_BYTES:
        raise bad_request("value_out_of_range", "Files may be at most 10 MB.", "file")
    if not data:
        raise bad_request("invalid_format", "The file is empty.", "file")
    try:
        with Image.open(io.BytesIO(data)) as img:
            fmt, (width, height) = img.format or "", img.size
    except (UnidentifiedImageError, OSError, ValueError):
        raise bad_request(
            "invalid_format", "The file must be a PNG, JPEG or WebP image.", "file"
        ) from None
    if fmt not in MIME_FOR_FORMAT:
        raise bad_request("invalid_format", "The file must be a PNG, JPEG or WebP image.", "file")
    if width > MAX_PX or height > MAX_PX:
        raise bad_request(
            "value_out_of_range", f"Images may be at most {MAX_PX} px a side.", "file"
        )
    return MIME_FOR_FORMAT[fmt], width, height


@dataclass
class StoredFile:
    """One uploaded file."""

    id: str
    purpose: str
    mime_type: str
    data: bytes
    width: int
    height: int
    metadata: dict[str, Any] | None
    created_at: float
    ttl: float = TTL_S

    @property
    def expires_at(self) -> float:
        return self.created_at + self.ttl

    def to_json(self, signer: Signer, base_url: str, now: float) -> dict[str, Any]:
        token = signer.mint("file", self.id, "0", min(now + URL_TTL_S, self.expires_at))
        return {
            "id": self.id,
            "object": "file",
            "purpose": self.purpose,
            "mime_type": self.mime_type,
            "size_bytes": len(self.data),
            "width_px": self.width,
            "height_px": self.height,
            "url": f"{base_url}/_sandbox/files/{self.id}?token={token}",
            "expires_at": iso(self.expires_at),
            "created_at": iso(self.created_at),
            "metadata": self.metadata,
        }

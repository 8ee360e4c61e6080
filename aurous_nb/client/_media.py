"""What a downloaded file is, from its first bytes (the API's signed URLs carry no extension)."""

from __future__ import annotations

from collections.abc import Callable

__all__ = ["sniff"]

# (magic test, extension, content type), checked in order.
_SIGNATURES: tuple[tuple[Callable[[bytes], bool], str, str], ...] = (
    (lambda b: b.startswith(b"\x89PNG\r\n\x1a\n"), "png", "image/png"),
    (lambda b: b.startswith(b"\xff\xd8\xff"), "jpg", "image/jpeg"),
    (lambda b: b[:4] == b"RIFF" and b[8:12] == b"WEBP", "webp", "image/webp"),
    (lambda b: b.startswith((b"GIF87a", b"GIF89a")), "gif", "image/gif"),
    (lambda b: b[4:8] == b"ftyp", "mp4", "video/mp4"),
    (lambda b: b.startswith(b"\x1a\x45\xdf\xa3"), "webm", "video/webm"),
)


def sniff(head: bytes) -> tuple[str, str]:
    """``(extension, content type)`` of a file from its first bytes."""
    for test, ext, content_type in _SIGNATURES:
        if test(head):
            return ext, content_type
    return "bin", "application/octet-stream"

"""Request bodies as a real API takes them: size caps enforced while the body streams in, and JSON
only in UTF-8.

A JSON body may be at most 1 MiB and an upload (``POST /v1/files``, a 10 MB file plus its
multipart framing) 16 MiB; more is 413 ``request_too_large``. A declared ``Content-Length`` over
the cap is refused before a byte is read; a chunked or understated body is counted as it arrives
and cut off at the cap, so a 200 MB body costs the sandbox no more memory than a small one.
JSON must be UTF-8 (RFC 8259 §8.1; no BOM, no UTF-16 or UTF-32, no other declared charset):
anything else is 400 ``invalid_format``.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, MutableMapping
from typing import TYPE_CHECKING, Any

from aurous_nb.sandbox.errors import ApiError, bad_request
from aurous_nb.sandbox.validation import parse_json_object

if TYPE_CHECKING:
    from starlette.requests import Request

__all__ = ["JSON_LIMIT", "UPLOAD_LIMIT", "bounded", "json_object", "limit_for"]

MiB = 1 << 20
JSON_LIMIT = 1 * MiB
UPLOAD_LIMIT = 16 * MiB
UPLOAD_PATHS = ("/v1/files",)
#: where the bytes of a character upload ticket are PUT (a 10 MB image, no framing)
UPLOAD_PREFIXES = ("/_sandbox/uploads/",)

Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]


def limit_for(path: str) -> int:
    """The most bytes a request body on ``path`` may have."""
    if path.rstrip("/") in UPLOAD_PATHS or path.startswith(UPLOAD_PREFIXES):
        return UPLOAD_LIMIT
    return JSON_LIMIT


def too_large(limit: int) -> ApiError:
    return ApiError(
        413,
        "request_too_large",
        f"The request body is larger than {limit // MiB} MiB.",
    )


def declared_too_large(headers: list[tuple[bytes, bytes]], limit: int) -> bool:
    """Whether the request's ``Content-Length`` already says more than ``limit``."""
    for name, value in headers:
        if name == b"content-length":
            text = value.decode("latin-1").strip()
            return text.isdigit() and int(text) > limit
    return False


def bounded(receive: Receive, limit: int) -> Receive:
    """``receive``, raising 413 as soon as the body passes ``limit`` bytes."""
    seen = 0

    async def counted() -> Message:
        nonlocal seen
        message = await receive()
        if message["type"] == "http.request":
            seen += len(message.get("body", b""))
            if seen > limit:
                raise too_large(limit)
        return message

    return counted


async def json_object(request: Request) -> dict[str, Any]:
    """The body as a JSON object in UTF-8; anything else is 400 ``invalid_format``."""
    charset = _charset(request.headers.get("content-type", ""))
    if charset is not None and charset not in ("utf-8", "utf8"):
        raise bad_request("invalid_format", "JSON request bodies must be UTF-8.")
    chunks = [chunk async for chunk in request.stream()]  # bounded by the gate (``bounded``)
    raw = b"".join(chunks)
    try:
        if b"\0" in raw:  # never in JSON text; the mark of UTF-16 or UTF-32 (RFC 8259 §8.1)
            raise UnicodeDecodeError("utf-8", raw, raw.index(b"\0"), len(raw), "NUL byte")
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise bad_request("invalid_format", "JSON request bodies must be UTF-8.") from None
    if text.startswith("\ufeff"):
        raise bad_request("invalid_format", "JSON request bodies must be UTF-8 without a BOM.")
    return parse_json_object(text)


def _charset(content_type: str) -> str | None:
    for part in content_type.split(";")[1:]:
        name, _, value = part.strip().partition("=")
        if name.strip().lower() == "charset":
            return value.strip().strip('"').lower()
    return None

"""Reference images from anything: what ``reference_images=`` and the video frames take.

A reference is a local path (``str`` or ``pathlib.Path``), a PIL image, ``bytes``, a
:class:`Generation` or a generation id (its first output), a ``file_`` id, or an ``https://``
URL. The wire takes only the last two (``reference_image_urls``, ``first_frame_url``), so local
data is uploaded through ``POST /v1/files`` (contract §2.19) and sent as its ``file_`` id.

Uploaded once: the client's :class:`~aurous_nb.client._uploads.UploadCache` remembers
``sha256 -> file_ id`` with the file's expiry, so the same picture is never sent twice while its
file lives. A remembered file is checked alive (``GET /v1/files/{id}``) the first time this
process uses it, since a restarted sandbox or another team's key would not know it. Uploads carry
an Idempotency-Key made from the content, so a lost answer (retried, or the cell run again)
replays the same file instead of storing another.

Every source is read and checked (exists, is a PNG/JPEG/WebP, at most 10 MB and 4096 px) before
anything is uploaded, so a bad third reference uploads nothing.
"""

from __future__ import annotations

import hashlib
import io
import os
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, TypeAlias, Union
from urllib.parse import urlsplit

from aurous_nb.client._core import Core, Flow, Request, new_idempotency_key
from aurous_nb.client._params import check_id, check_url
from aurous_nb.client._uploads import Upload
from aurous_nb.client.errors import NotFoundError, ValidationError
from aurous_nb.client.files import MAX_FILE_BYTES, sniff_mime
from aurous_nb.client.models import GENERATION_ID, File, Generation

if TYPE_CHECKING:
    from PIL.Image import Image

__all__ = ["MAX_PX", "MAX_REFERENCES", "ReferenceSource", "resolve_flow", "resolve_many_flow"]

#: Anything a reference may be given as.
ReferenceSource: TypeAlias = Union[
    str, "os.PathLike[str]", bytes, bytearray, memoryview, "Image", Generation
]

MAX_PX = 4096
#: [inferred] the contract gives no maximum; the sandbox takes at most 8 (contract-decisions)
MAX_REFERENCES = 8
#: How long a remembered file, once seen alive, is trusted without asking again.
RECHECK_S = 600.0
_EXT = {"image/png": "png", "image/jpeg": "jpg", "image/webp": "webp"}


@dataclass(frozen=True, slots=True)
class Local:
    """Image bytes read and checked, not yet uploaded."""

    data: bytes
    sha256: str
    mime: str

    @property
    def key(self) -> str:
        return f"sha256:{self.sha256}"


@dataclass(frozen=True, slots=True)
class Output:
    """The first output of a generation (the object, or only its id)."""

    generation_id: str
    generation: Generation | None

    @property
    def key(self) -> str:
        return f"output:{self.generation_id}/0"


Prepared: TypeAlias = str | Local | Output


def _fail(param: str, message: str) -> ValidationError:
    return ValidationError(param, f"{param}: {message}")


# ---------------------------------------------------------------- reading (no network)


def checked_image(data: bytes, param: str, what: str = "the image") -> Local:
    """``data`` as an upload the API takes, or a ValidationError saying what is wrong."""
    if not data:
        raise _fail(param, f"{what} is empty")
    if len(data) > MAX_FILE_BYTES:
        raise _fail(
            param,
            f"{what} is {len(data):,} bytes; the API takes at most 10 MB "
            "(save it as JPEG, or make it smaller)",
        )
    mime = sniff_mime(data)
    if mime is None:
        raise _fail(param, f"{what} is not a PNG, JPEG or WebP image")
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(io.BytesIO(data)) as img:
            width, height = img.size
    except (UnidentifiedImageError, OSError, ValueError):
        raise _fail(param, f"{what} is not a readable {_EXT[mime].upper()} image") from None
    _check_px(param, what, width, height)
    return Local(bytes(data), hashlib.sha256(data).hexdigest(), mime)


def _check_px(param: str, what: str, width: int, height: int) -> None:
    if width > MAX_PX or height > MAX_PX:
        raise _fail(
            param,
            f"{what} is {width}x{height} px; the API takes at most {MAX_PX} px a side "
            "(resize it first, e.g. PIL's Image.thumbnail((4096, 4096)))",
        )


def _pil(image: Image, param: str) -> Local:
    """A PIL image as PNG bytes (the same pixels always give the same bytes)."""
    _check_px(param, "the PIL image", *image.size)
    buf = io.BytesIO()
    try:
        image.save(buf, format="PNG")
    except (OSError, ValueError):  # a mode PNG cannot hold (CMYK, ...)
        buf = io.BytesIO()
        image.convert("RGBA" if "A" in image.getbands() else "RGB").save(buf, format="PNG")
    return checked_image(buf.getvalue(), param, "the PIL image (as PNG)")


def _read_path(path: Path, param: str) -> Local:
    shown = repr(str(path))  # repr escapes a lone surrogate, so the message always prints
    try:
        size = path.stat().st_size
        if path.is_dir():
            raise _fail(param, f"{shown} is a folder, not an image file")
        if size > MAX_FILE_BYTES:  # refused before reading it
            raise _fail(
                param, f"{shown} is {size:,} bytes; the API takes at most 10 MB (save it smaller)"
            )
        data = path.read_bytes()
    except FileNotFoundError:
        raise _fail(param, f"no such file: {shown}") from None
    except UnicodeEncodeError:
        raise _fail(
            param,
            f"the path {shown} has a lone surrogate, which no file name on this system can "
            "hold (text decoded with errors='surrogateescape' elsewhere, or a split UTF-16 "
            "pair); pass a pathlib.Path from os.listdir / Path.iterdir, or the bytes",
        ) from None
    except ValueError as exc:  # an embedded NUL
        raise _fail(param, f"{shown} is not a usable path ({exc})") from None
    except OSError as exc:
        raise _fail(param, f"cannot read {shown}: {exc.strerror or exc}") from None
    return checked_image(data, param, shown)


def _is_pil(source: object) -> bool:
    return type(source).__module__.startswith("PIL.") and hasattr(source, "save")


def prepare(source: object, param: str) -> Prepared:
    """Read and check one reference; a wire string (``file_`` id or https URL) as it is."""
    if isinstance(source, Generation):
        return Output(source.id, source)
    if isinstance(source, (bytes, bytearray, memoryview)):
        return checked_image(bytes(source), param, "the bytes")
    if _is_pil(source):
        return _pil(source, param)  # type: ignore[arg-type]
    if isinstance(source, os.PathLike):
        return _read_path(Path(source).expanduser(), param)
    if not isinstance(source, str):
        raise _fail(
            param,
            f"a {type(source).__name__} is not a reference; pass a path, a PIL image, bytes, "
            "a Generation or its id, a file_ id or an https:// URL",
        )
    text = source.strip()
    if not text:
        raise _fail(param, "is empty; pass a path, a file_ id or an https:// URL")
    scheme = urlsplit(text).scheme.lower() if "://" in text else ""
    if scheme == "http":
        raise _fail(
            param,
            "http:// URLs are refused: the API fetches references over https only, and "
            "plain http can be read or changed on the way; pass an https:// URL, or a local "
            "path or bytes (uploaded for you)",
        )
    if scheme == "https":
        return check_url(param, text, allow_file_id=False, local_http=False)
    if scheme:
        raise _fail(param, f"{scheme}:// is not a reference; pass an https:// URL")
    path = Path(text).expanduser()
    exists = _exists(path)
    if text.startswith("file_") and "/" not in text and not exists:
        return check_id(param, text)
    if GENERATION_ID.fullmatch(text) and not exists:
        if text.startswith("vid_"):
            raise _fail(param, f"{text} is a video; a reference is an image (an img_ id)")
        return Output(text, None)
    return _read_path(path, param)


def _exists(path: Path) -> bool:
    try:
        return path.exists()
    except (OSError, ValueError):
        return False


# ---------------------------------------------------------------- resolving (flows)


def _upload_from(f: File) -> Upload:
    now = time.time()
    created = f.created_at.timestamp() if f.created_at else now
    expires = f.expires_at.timestamp() if f.expires_at else created + 24 * 3600.0
    return Upload(f.id, expires, created)


def _alive(core: Core, upload: Upload, version: str | None) -> Flow[bool]:
    """Whether a remembered file can still be used: not near its expiry, and known to the
    server (asked once per process, then every ``RECHECK_S``)."""
    from aurous_nb.client.files import get_flow

    if not upload.usable():
        return False
    seen = core.checked_files.get(upload.file_id)
    if seen is not None and core.monotonic() - seen < RECHECK_S:
        return True
    try:
        yield from get_flow(core, upload.file_id, version)
    except NotFoundError:
        return False
    core.checked_files[upload.file_id] = core.monotonic()
    return True


def _remembered(core: Core, key: str, purpose: str, version: str | None) -> Flow[Upload | None]:
    upload = core.uploads.find(key, purpose)
    if upload is None:
        return None
    if (yield from _alive(core, upload, version)):
        return upload
    core.uploads.forget(upload.file_id)
    core.checked_files.pop(upload.file_id, None)
    return None


def _post(core: Core, local: Local, purpose: str, key: str, version: str | None) -> Flow[File]:
    name = f"{local.sha256[:16]}.{_EXT[local.mime]}"  # never the local file name
    req = Request(
        "POST",
        core.url("/v1/files"),
        bucket="files",
        files={"file": (name, local.data, local.mime)},
        data={"purpose": purpose},
        idempotency_key=key,
        idempotent=True,
        version=version,
    )
    resp = yield from core.call(req)
    f = File.from_json(resp.object())
    replayed = resp.headers.get("aurous-idempotent-replayed", "").lower() == "true"
    if replayed:
        core.checked_files.pop(f.id, None)  # a replay may name a file deleted since
    else:
        core.checked_files[f.id] = core.monotonic()
    return f


def _upload(core: Core, local: Local, purpose: str, version: str | None) -> Flow[Upload]:
    """Store ``local`` under a key made from its content: a retry after a lost answer, or the
    same upload from another kernel, replays the file the server already stored."""
    f = yield from _post(core, local, purpose, f"aurous-nb-ref-{purpose}-{local.sha256}", version)
    upload = _upload_from(f)
    if not (yield from _alive(core, upload, version)):  # replayed after it expired or was deleted
        f = yield from _post(core, local, purpose, new_idempotency_key(), version)
        upload = _upload_from(f)
    return upload


def _store(core: Core, local: Local, purpose: str, version: str | None) -> Flow[Upload]:
    found = yield from _remembered(core, local.key, purpose, version)
    if found is None:
        found = yield from _upload(core, local, purpose, version)
        core.uploads.remember((local.key,), purpose, found)
    return found


def _output_local(core: Core, ref: Output, param: str, version: str | None) -> Flow[Local]:
    from aurous_nb.client.images import download_bytes_flow, get_flow

    gen = ref.generation
    if gen is None or not gen.output_urls:
        gen = yield from get_flow(core, ref.generation_id, version)
    if gen.is_video:
        raise _fail(param, f"{gen.id} is a video; a reference is an image")
    if not gen.succeeded:
        raise _fail(param, f"{gen.id} is {gen.status}; only a succeeded generation has an output")
    data = yield from download_bytes_flow(core, gen, 0, version)
    return checked_image(data, param, f"the output of {gen.id}")


def resolve_prepared_flow(
    core: Core, ref: Prepared, purpose: str, param: str, version: str | None
) -> Flow[str]:
    if isinstance(ref, str):
        return ref
    if isinstance(ref, Local):
        return (yield from _store(core, ref, purpose, version)).file_id
    found = yield from _remembered(core, ref.key, purpose, version)
    if found is None:
        local = yield from _output_local(core, ref, param, version)
        found = yield from _store(core, local, purpose, version)
        core.uploads.remember((ref.key,), purpose, found)
    return found.file_id


def resolve_flow(
    core: Core, source: object, purpose: str, param: str, version: str | None
) -> Flow[str]:
    """One reference as the wire takes it: a ``file_`` id or an https URL."""
    return (yield from resolve_prepared_flow(core, prepare(source, param), purpose, param, version))


def resolve_many_flow(
    core: Core, sources: object, purpose: str, param: str, version: str | None
) -> Flow[list[str]]:
    """Every reference of a list, all read and checked before the first upload."""
    if isinstance(sources, (str, bytes, os.PathLike, Generation)) or _is_pil(sources):
        sources = [sources]  # one reference given alone
    if not isinstance(sources, Sequence) or not sources:
        raise _fail(param, "must be a non-empty list of references")
    prepared = [prepare(s, f"{param}[{i}]") for i, s in enumerate(sources)]
    out = []
    for i, ref in enumerate(prepared):
        out.append((yield from resolve_prepared_flow(core, ref, purpose, f"{param}[{i}]", version)))
    return out

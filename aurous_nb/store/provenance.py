"""Files that explain themselves: a cached picture carries the parameters that made it.

When the outputs cache stores a PNG or JPEG (:mod:`aurous_nb.outputs`) it writes the request
(prompt, negative prompt, LoRAs with weights, size, seed, every other field sent), the generation
id, the cost and the API version into the file itself: a PNG ``iTXt`` chunk named ``aurous``
(JSON), plus A1111's ``parameters`` text so other tools show it too; in a JPEG, a comment
segment. The bytes are inserted beside the image data, never re-encoded, so pixels stay exactly
as the server sent them. Only what explains the picture goes in: no signed URL, no webhook URL,
no key. :func:`inspect` reads it back; ``%aurous generate --like PATH`` asks for it again.
"""

from __future__ import annotations

import json
import struct
import zlib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from aurous_nb.canonical import canonical_json

__all__ = ["KEYWORD", "embed", "facts", "inspect", "mark_file", "request_of"]

KEYWORD = "aurous"
_JPEG_PREFIX = b"aurous_nb:"
#: Request fields that explain a picture (webhook and reference URLs may carry tokens).
_KEPT = (
    "prompt",
    "negative_prompt",
    "lora_id",
    "loras",
    "size",
    "width",
    "height",
    "count",
    "seed",
    "steps",
    "guidance_scale",
    "cfg_rescale",
    "denoise_strength",
    "enhance_prompt",
    "character_id",
)


def facts(record: Any, index: int) -> dict[str, Any]:
    """What a cached output of ``record`` (a ledger ``JobRecord``) says about itself."""
    from aurous_nb import __version__

    request = {k: v for k, v in (record.request or {}).items() if k in _KEPT and v is not None}
    answer: Mapping[str, Any] = record.generation or {}
    names = {
        str(lo.get("id")): lo.get("name")
        for lo in answer.get("loras") or []
        if isinstance(lo, Mapping)
    }
    stack: list[dict[str, Any]] = []
    for entry in request.get("loras") or []:
        ref, weight = (
            (entry.get("lora"), entry.get("weight", 1.0))
            if isinstance(entry, Mapping)
            else (entry[0], entry[1])
        )
        stack.append({"lora": ref, "name": names.get(str(ref)), "weight": weight})
    if request.get("lora_id"):
        stack.append({"lora": request["lora_id"], "name": record.lora, "weight": 1.0})
    answered = [lo for lo in answer.get("loras") or [] if isinstance(lo, Mapping)]
    if len(answered) == len(stack):  # the server answers ids and names in the order sent
        for entry, lora in zip(stack, answered, strict=True):
            entry["name"] = entry["name"] or lora.get("name")
    out = {
        "generator": f"aurous_nb {__version__}",
        "generation_id": record.generation_id,
        "index": index,
        "request": request,
        "prompt": request.get("prompt", record.prompt),
        "negative_prompt": request.get("negative_prompt"),
        "loras": stack,
        "size": record.size,
        "width": record.width,
        "height": record.height,
        "seed": record.seed,
        "cost": record.charged,
        "aurous_version": answer.get("aurous_version"),
    }
    return {k: v for k, v in out.items() if v not in (None, [], {})} | {"request": request}


def _a1111(info: Mapping[str, Any]) -> str:
    """A1111's ``parameters`` text: prompt, negative prompt, then ``Key: value`` pairs."""
    request = info.get("request") or {}
    lines = [str(info.get("prompt") or "")]
    if info.get("negative_prompt"):
        lines.append(f"Negative prompt: {info['negative_prompt']}")
    pairs = [
        ("Steps", request.get("steps")),
        ("CFG scale", request.get("guidance_scale")),
        ("CFG rescale", request.get("cfg_rescale")),
        ("Seed", info.get("seed")),
        ("Size", f"{info['width']}x{info['height']}" if info.get("width") else info.get("size")),
        ("Lora", ", ".join(f"{lo['lora']}:{lo['weight']}" for lo in info.get("loras") or [])),
        ("Aurous generation", info.get("generation_id")),
        ("Aurous-Version", info.get("aurous_version")),
        ("Cost", info.get("cost")),
    ]
    lines.append(", ".join(f"{k}: {v}" for k, v in pairs if v not in (None, "")))
    return "\n".join(lines)


def _png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def _itxt(keyword: str, text: str) -> bytes:
    return _png_chunk(b"iTXt", keyword.encode("latin-1") + b"\0\0\0\0\0" + text.encode("utf-8"))


def embed(data: bytes, info: Mapping[str, Any]) -> bytes:
    """``data`` (PNG or JPEG) with ``info`` written in; anything else comes back unchanged."""
    text = canonical_json(info, default=str)
    if data[:8] == b"\x89PNG\r\n\x1a\n" and data[12:16] == b"IHDR":
        end = 8 + 12 + struct.unpack(">I", data[8:12])[0]  # after IHDR, before any image data
        extra = _itxt(KEYWORD, text) + _itxt("parameters", _a1111(info))
        return data[:end] + extra + data[end:]
    if data[:2] == b"\xff\xd8":
        payload = _JPEG_PREFIX + text.encode("utf-8")
        if len(payload) > 65533:
            return data
        at = 2
        while at + 4 <= len(data) and data[at] == 0xFF and 0xE0 <= data[at + 1] <= 0xEF:
            at += 2 + struct.unpack(">H", data[at + 2 : at + 4])[0]  # after the APPn segments
        segment = b"\xff\xfe" + struct.pack(">H", len(payload) + 2) + payload
        return data[:at] + segment + data[at:]
    return data


def mark_file(path: Path, record: Any, index: int) -> None:
    """Write ``record``'s facts into the PNG/JPEG at ``path`` (in place; it is a part-file)."""
    if record is None or record.media_type != "image":
        return
    data = path.read_bytes()
    marked = embed(data, facts(record, index))
    if marked is not data:
        path.write_bytes(marked)


def _read_png(data: bytes) -> str | None:
    at = 8
    while at + 8 <= len(data):
        (size,) = struct.unpack(">I", data[at : at + 4])
        kind, body = data[at + 4 : at + 8], data[at + 8 : at + 8 + size]
        if kind == b"iTXt" and body.startswith(KEYWORD.encode() + b"\0"):
            rest = body[len(KEYWORD) + 1 :]
            flag, rest = rest[0], rest[2:]
            _, _, rest = rest.partition(b"\0")  # language tag
            _, _, rest = rest.partition(b"\0")  # translated keyword
            return (zlib.decompress(rest) if flag else rest).decode("utf-8")
        if kind in (b"IDAT", b"IEND"):
            return None
        at += 12 + size
    return None


def _read_jpeg(data: bytes) -> str | None:
    at = 2
    while at + 4 <= len(data) and data[at] == 0xFF:
        marker = data[at + 1]
        if marker == 0xDA:  # start of scan: no more headers
            return None
        (size,) = struct.unpack(">H", data[at + 2 : at + 4])
        body = data[at + 4 : at + 2 + size]
        if marker == 0xFE and body.startswith(_JPEG_PREFIX):
            return body[len(_JPEG_PREFIX) :].decode("utf-8")
        at += 2 + size
    return None


def inspect(path: str | Path) -> dict[str, Any]:
    """The parameters a cached (or saved, or sent) PNG/JPEG carries, as a dict.

    Raises ``ValueError`` for a file without them (made elsewhere, or re-saved by a tool that
    drops metadata)."""
    target = Path(path)
    data = target.read_bytes()
    text = _read_png(data) if data[:4] == b"\x89PNG" else None
    if text is None and data[:2] == b"\xff\xd8":
        text = _read_jpeg(data)
    if text is None:
        raise ValueError(f"{target.name}: no Aurous parameters in this file")
    info: dict[str, Any] = json.loads(text)
    return info


def request_of(path: str | Path) -> dict[str, Any]:
    """The create request a file was made by (for ``%aurous generate --like``)."""
    request = inspect(path).get("request")
    if not isinstance(request, dict) or not request.get("prompt"):
        raise ValueError(f"{Path(path).name}: its parameters hold no request")
    out = dict(request)
    if isinstance(out.get("loras"), list):  # JSON made the (lora, weight) pairs lists
        out["loras"] = [tuple(e) if isinstance(e, list) else e for e in out["loras"]]
    return out

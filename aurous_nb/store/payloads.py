"""What of an API payload the toolkit keeps, and in which form.

Pure functions shared by the ledger, jobs and frames: the canonical form of a request (its
identity for idempotency and "same cell, same request"), the typed columns kept for a generation,
and the scrubbing that keeps API keys and signed URLs out of everything stored. Standard library
only.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping
from datetime import datetime, timezone
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from aurous_nb.canonical import canonical_json
from aurous_nb.secret import looks_like_key, redact
from aurous_nb.statuses import PENDING, SERVER_TERMINAL
from aurous_nb.timestamps import parse_datetime

__all__ = [
    "as_float",
    "as_int",
    "as_payload",
    "contains_api_key",
    "generation_fields",
    "lora_ids_from_request",
    "parse_time",
    "redact_keys",
    "request_hash",
    "sanitize",
    "size_fields",
]


def request_hash(media_type: str, request: Mapping[str, Any]) -> str:
    """A stable digest of (media type, canonical request): equal requests hash equal."""
    text = canonical_json(request, drop_none=True)
    return hashlib.sha256(f"{media_type}\n{text}".encode()).hexdigest()


_SECRET_QUERY = re.compile(r"token|sig|signature|key|secret|credential|expires", re.IGNORECASE)
_DROPPED_FIELDS = frozenset({"output_urls", "output_video_url"})


def sanitize(value: Any) -> Any:
    """A copy of an API payload that is safe to keep: no output URLs, no tokens, no keys.

    Output URLs are dropped outright (they expire, and carry a signed token); any other URL
    loses the query parameters that look like credentials; anything shaped like an API key is
    redacted.
    """
    if isinstance(value, Mapping):
        return {str(k): sanitize(v) for k, v in value.items() if k not in _DROPPED_FIELDS}
    if isinstance(value, (list, tuple)):
        return [sanitize(v) for v in value]
    if isinstance(value, str):
        return redact_keys(_strip_url_secrets(value))
    return value


def redact_keys(text: str) -> str:
    """``text`` with every key (and signed token) hidden, by the one rule (aurous_nb.secret)."""
    return redact(text)


def _strip_url_secrets(text: str) -> str:
    if not text.startswith(("http://", "https://")) or "?" not in text:
        return text
    parts = urlsplit(text)
    pairs = parse_qsl(parts.query, keep_blank_values=True)
    kept = [(k, v) for k, v in pairs if not _SECRET_QUERY.search(k)]
    return urlunsplit(parts._replace(query=urlencode(kept)))


def contains_api_key(value: Any) -> bool:
    """Whether anything in a request looks like an API key (it must never be stored)."""
    if isinstance(value, Mapping):
        return any(contains_api_key(k) or contains_api_key(v) for k, v in value.items())
    if isinstance(value, (list, tuple)):
        return any(contains_api_key(v) for v in value)
    return isinstance(value, str) and looks_like_key(value)


def parse_time(value: Any) -> float | None:
    """An API timestamp (ISO 8601, ``Z``) as epoch seconds; numbers pass through."""
    if value is None or value == "":
        return None
    if isinstance(value, (int, float)):
        return float(value)
    moment = value if isinstance(value, datetime) else parse_datetime(str(value).strip())
    if moment is None:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    return moment.timestamp()


def as_float(value: Any) -> float | None:
    """A JSON number as a float (``None`` for missing, booleans and non-numbers)."""
    if value is None or isinstance(value, bool):
        return None
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def as_int(value: Any) -> int | None:
    """An integer SQLite can hold (64-bit); anything else (or out of range) is None."""
    if isinstance(value, bool):
        return None
    number = value if isinstance(value, int) else as_float(value)
    if number is None or number != number:  # NaN
        return None
    integer = int(number)
    return integer if -(2**63) <= integer < 2**63 else None


def lora_ids_from_request(request: Mapping[str, Any] | None) -> list[str]:
    if not request:
        return []
    for field in ("lora_id", "video_lora_id"):
        if request.get(field):
            return [str(request[field])]
    stack = request.get("loras")
    if isinstance(stack, list):
        return [str(item.get("lora")) for item in stack if isinstance(item, Mapping)]
    return []


def size_fields(
    media_type: str,
    request: Mapping[str, Any] | None,
    generation: Mapping[str, Any] | None = None,
) -> tuple[str | None, int | None, int | None]:
    """The ledger's (and :func:`aurous_nb.analysis.frames.history`'s) ``size``, ``width``,
    ``height``.

    ``size`` is the size as it was asked for: the image preset when one was sent (``2k_1_1``,
    ``hd_square``), else the pixel size ``"WxH"`` (custom width/height, or the server's default
    when nothing was sent); for videos ``"<resolution> <ratio>"`` (``720p 16:9``). ``width`` and
    ``height`` are always the pixel size, the server's (snapped) answer once there is one, else
    what the request asked for.
    """
    req, gen = request or {}, generation or {}
    width = as_int(gen.get("width")) or as_int(req.get("width"))
    height = as_int(gen.get("height")) or as_int(req.get("height"))
    if media_type == "video":
        resolution = gen.get("video_resolution") or req.get("resolution")
        ratio = gen.get("video_ratio") or req.get("ratio")
        size = " ".join(str(x) for x in (resolution, ratio) if x) or None
    else:
        size = gen.get("size_preset") or req.get("size") or None
        if not size and width and height:
            size = f"{width}x{height}"
    return (None if size is None else str(size)), width, height


def generation_fields(
    generation: Mapping[str, Any], request: Mapping[str, Any] | None = None
) -> dict[str, Any]:
    """The typed columns the ledger keeps for one ``GenerationResponse`` (section 2.8)."""
    gen_id = str(generation.get("id") or "") or None
    status = str(generation.get("status") or PENDING)
    media_type = generation.get("media_type") or (
        "video" if gen_id and gen_id.startswith("vid_") else "image"
    )
    cost = generation.get("cost")
    amount = as_float(cost.get("amount")) if isinstance(cost, Mapping) else as_float(cost)
    terminal = status in SERVER_TERMINAL
    charged = (amount if amount is not None else 0.0) if terminal else None
    loras = generation.get("loras")
    entries = [x for x in loras if isinstance(x, Mapping)] if isinstance(loras, list) else []
    lora_ids = [str(x.get("id")) for x in entries if x.get("id")]
    lora_names = [str(x.get("name") or x.get("id")) for x in entries]
    if not lora_ids:
        lora_ids = lora_ids_from_request(request)
    if not lora_names:
        lora_names = lora_ids
    size, width, height = size_fields(str(media_type), request, generation)
    return {
        "generation_id": gen_id,
        "status": status,
        "media_type": str(media_type),
        "prompt": generation.get("prompt"),
        "lora": " + ".join(lora_names) or None,
        "lora_id": ",".join(lora_ids) or None,
        "size": size,
        "width": width,
        "height": height,
        "seed": as_int(generation.get("seed")),
        "image_count": as_int(generation.get("image_count")),
        "video_duration": as_float(generation.get("video_duration")),
        "held": None if terminal else amount,
        "charged": charged,
        "created_at": parse_time(generation.get("created_at")),
        "completed_at": parse_time(generation.get("completed_at")),
        "duration_ms": as_float(generation.get("duration_ms")),
        "error_message": redact_keys(str(generation["error_message"]))
        if generation.get("error_message")
        else None,
        "aurous_version": generation.get("aurous_version"),
        "response": json.dumps(sanitize(generation), separators=(",", ":"), ensure_ascii=False),
    }


def as_payload(payload: Any) -> dict[str, Any]:
    """API payloads arrive as dicts or as client models carrying the JSON in ``.raw``."""
    raw = getattr(payload, "raw", payload)
    if not isinstance(raw, Mapping):
        raise TypeError(f"expected an API payload (dict or model with .raw), got {type(payload)}")
    return dict(raw)

"""``GET /v1/usage``: time-bucketed usage aggregates with fingerprinted page tokens (section 2.17).

A page token is base64url JSON holding the resolved query (so later pages need no parameters), the
next bucket index, the team and an expiry 24 h after page 1. Sending parameters that differ from
the token's query is 400 ``invalid_page_token``.

Rows are generations only (``type`` t2i/i2i/t2v/i2v): a character synthesis spends credits (the
balance shows it) but is no usage row; see docs/contract-decisions.md.
"""

from __future__ import annotations

import base64
import binascii
import json
import math
import time
from collections.abc import Iterable
from typing import Any

from aurous_nb.sandbox import catalog
from aurous_nb.sandbox.errors import ApiError, bad_request
from aurous_nb.sandbox.generations import TERMINAL, Generation
from aurous_nb.sandbox.idempotency import fingerprint
from aurous_nb.sandbox.pricing import num
from aurous_nb.sandbox.state import SandboxState
from aurous_nb.sandbox.timefmt import iso, parse_iso
from aurous_nb.sandbox.validation import ImageRequest, VideoRequest

WIDTHS: dict[str, int] = {"1m": 60, "5m": 300, "15m": 900, "1h": 3600, "1d": 86400, "7d": 604800}
#: most buckets one query may span, per width (1 day of minutes ... about 2 years of weeks)
MAX_BUCKETS: dict[str, int] = {"1m": 1440, "5m": 2016, "15m": 1344, "1h": 744, "1d": 366, "7d": 105}
GROUP_FIELDS = ("status", "api_key_id", "user_id", "type")
LIST_FILTERS = ("status", "type", "api_key_id", "user_id")
SINGLE_FILTERS = ("lora_id", "character_id")
STATUSES = ("pending", "processing", *TERMINAL)
TYPES = ("t2i", "i2i", "t2v", "i2v")
TOKEN_TTL_S = 24 * 3600.0
QUERY_PARAMS = (
    "start_time",
    "end_time",
    "bucket_width",
    "group_by",
    *LIST_FILTERS,
    *SINGLE_FILTERS,
)


def _invalid_token(message: str) -> ApiError:
    return bad_request("invalid_page_token", message, "page_token")


def _values(params: Any, name: str) -> list[str] | None:
    """``name`` and ``name[]``, repeated or comma-separated; None when absent."""
    raw = [*params.getlist(name), *params.getlist(f"{name}[]")]
    if not raw:
        return None
    return [part.strip() for item in raw for part in item.split(",") if part.strip()]


def _read_query(params: Any, now: float) -> dict[str, Any]:
    """The resolved query from request parameters (400 with ``param`` on anything wrong)."""
    start_text = params.get("start_time")
    if start_text is None:
        raise bad_request("missing_field", "'start_time' is required.", "start_time")
    start = parse_iso(start_text)
    if start is None:
        raise bad_request("invalid_format", "'start_time' must be RFC 3339.", "start_time")
    end_text = params.get("end_time")
    end = now if end_text is None else parse_iso(end_text)
    if end is None:
        raise bad_request("invalid_format", "'end_time' must be RFC 3339.", "end_time")
    if end <= start:
        raise bad_request(
            "value_out_of_range", "'end_time' must be after 'start_time'.", "end_time"
        )
    width = params.get("bucket_width", "1d")
    if width not in WIDTHS:
        raise bad_request(
            "invalid_format", f"'bucket_width' must be one of {', '.join(WIDTHS)}.", "bucket_width"
        )
    if math.ceil((end - start) / WIDTHS[width]) > MAX_BUCKETS[width]:
        raise bad_request(
            "value_out_of_range",
            f"A {width} query may span at most {MAX_BUCKETS[width]} buckets.",
            "end_time",
        )
    group_by = _values(params, "group_by") or []
    if len(group_by) > 2:
        raise bad_request("value_out_of_range", "'group_by' takes at most 2 fields.", "group_by")
    for name in group_by:
        if name not in GROUP_FIELDS:
            raise bad_request(
                "invalid_format",
                f"Cannot group by {name!r}; use {', '.join(GROUP_FIELDS)}.",
                "group_by",
            )
    filters: dict[str, list[str]] = {}
    for name in LIST_FILTERS:
        values = _values(params, name)
        if values:
            allowed = STATUSES if name == "status" else TYPES if name == "type" else None
            bad = [v for v in values if allowed is not None and v not in allowed]
            if bad:
                raise bad_request("invalid_format", f"Unknown {name} {bad[0]!r}.", name)
            filters[name] = values
    for name in SINGLE_FILTERS:
        value = params.get(name)
        if value is not None:
            filters[name] = [value]
    return {
        "start": round(start, 3),
        "end": round(end, 3),
        "width": width,
        "group_by": group_by,
        "filters": filters,
    }


def _encode_token(payload: dict[str, Any]) -> str:
    raw = json.dumps(payload, separators=(",", ":"), sort_keys=True).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _decode_token(token: str) -> dict[str, Any]:
    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
        payload = json.loads(raw)
    except (ValueError, binascii.Error):
        raise _invalid_token("The page_token is not one this API issued.") from None
    if not isinstance(payload, dict) or payload.get("v") != 1:
        raise _invalid_token("The page_token is not one this API issued.")
    return payload


def _limit(params: Any) -> int:
    text = params.get("limit")
    if text is None:
        return 24
    try:
        limit = int(text)
    except ValueError:
        raise bad_request("invalid_format", "'limit' must be an integer.", "limit") from None
    if not 1 <= limit <= 100:
        raise bad_request("value_out_of_range", "'limit' must be between 1 and 100.", "limit")
    return limit


def _row_fields(gen: Generation, state: SandboxState) -> dict[str, str]:
    return {
        "status": gen.status,
        "type": gen.request.inference_type,
        "api_key_id": state.team.key_id,
        "user_id": state.team.user_id,
    }


def _matches(gen: Generation, fields: dict[str, str], filters: dict[str, list[str]]) -> bool:
    for name in LIST_FILTERS:
        if name in filters and fields[name] not in filters[name]:
            return False
    wanted = filters.get("character_id")  # the images made with it (a synthesis is no row)
    if wanted and getattr(gen.request, "character_id", None) != wanted[0]:
        return False
    if "lora_id" in filters:
        ref = filters["lora_id"][0]
        req = gen.request
        ids = [p.lora.id for p in req.loras] if isinstance(req, ImageRequest) else [req.lora.id]
        lora = catalog.find_image_lora(ref) or catalog.find_video_lora(ref)
        if lora is None or lora.id not in ids:
            return False
    return True


def _percentile(values: list[int], q: float) -> int | None:
    if not values:
        return None
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, math.ceil(q * len(ordered)) - 1))]


def _metrics(rows: Iterable[Generation]) -> dict[str, Any]:
    rows = list(rows)
    durations = [
        round((g.completed_at - g.created_at) * 1000)
        for g in rows
        if g.completed_at is not None and g.status in ("succeeded", "failed")
    ]
    ok = [g for g in rows if g.status == "succeeded"]
    return {
        "request_count": len(rows),
        "successful_count": len(ok),
        "failed_count": sum(g.status in ("failed", "moderation_rejected", "expired") for g in rows),
        "cancelled_count": sum(g.status == "cancelled" for g in rows),
        "credits_used": num(sum(g.charged for g in rows)),
        "duration_ms_p50": _percentile(durations, 0.5),
        "duration_ms_p95": _percentile(durations, 0.95),
        "image_count": sum(g.request.count for g in ok if isinstance(g.request, ImageRequest)),
        "video_seconds": sum(g.request.duration for g in ok if isinstance(g.request, VideoRequest)),
    }


def usage(state: SandboxState, params: Any) -> dict[str, Any]:
    """The ``GET /v1/usage`` response for these query parameters."""
    now = time.time()
    state.settle(now)
    limit = _limit(params)
    token = params.get("page_token")
    if token:
        payload = _decode_token(token)
        if payload.get("team") != state.team.id:
            raise _invalid_token("The page_token belongs to another team.")
        if now > float(payload.get("exp", 0)):
            raise _invalid_token("The page_token has expired (token_expired).")
        query = payload["q"]
        if any(name in params for name in QUERY_PARAMS):
            sent = _read_query(params, now) if "start_time" in params else None
            same = (
                sent is not None
                and all(sent[k] == query[k] for k in ("start", "width", "group_by", "filters"))
                and ("end_time" not in params or sent["end"] == query["end"])
            )
            if not same:
                raise _invalid_token("The page_token does not match this query (fingerprint).")
        if payload.get("fp") != fingerprint(query):
            raise _invalid_token("The page_token does not match this query (fingerprint).")
        index, expiry = int(payload["i"]), float(payload["exp"])
    else:
        query = _read_query(params, now)
        index, expiry = 0, now + TOKEN_TTL_S

    start, end, width = query["start"], query["end"], WIDTHS[query["width"]]
    total = math.ceil((end - start) / width)
    picked = list(range(total - 1 - index, max(-1, total - 1 - index - limit), -1))
    rows_by_bucket: dict[int, list[tuple[Generation, dict[str, str]]]] = {}
    for gen in state.order:
        if not start <= gen.created_at < end:
            continue
        fields = _row_fields(gen, state)
        if _matches(gen, fields, query["filters"]):
            k = int((gen.created_at - start) // width)
            rows_by_bucket.setdefault(k, []).append((gen, fields))
    data = []
    for k in picked:
        bucket_start = start + k * width
        bucket_end = min(end, bucket_start + width)
        groups: dict[tuple[str, ...], list[Generation]] = {}
        for gen, fields in rows_by_bucket.get(k, []):
            key = tuple(fields[name] for name in query["group_by"])
            groups.setdefault(key, []).append(gen)
        data.append(
            {
                "object": "usage.bucket",
                "bucket_start": iso(bucket_start, millis=True),
                "bucket_end": iso(bucket_end, millis=True),
                "groups": [
                    {
                        "key": dict(zip(query["group_by"], key, strict=True)),
                        "metrics": _metrics(rows),
                    }
                    for key, rows in sorted(groups.items())
                ],
            }
        )
    next_index = index + len(picked)
    has_more = next_index < total
    next_page = None
    if has_more:
        next_page = _encode_token(
            {
                "v": 1,
                "team": state.team.id,
                "q": query,
                "fp": fingerprint(query),
                "i": next_index,
                "exp": expiry,
            }
        )
    return {"object": "list", "data": data, "has_more": has_more, "next_page": next_page}

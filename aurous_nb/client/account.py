"""Team-level reads (contract §2.14-2.17): balance, team, pricing, bucketed usage.

These are methods of the client itself (``client.balance()``), so only flows live here.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime, timezone
from typing import Any

from aurous_nb.client._core import Core, Flow, Request, check_version, dumps
from aurous_nb.client._params import (
    USAGE_BUCKET_WIDTHS,
    USAGE_GROUP_BY,
    UsageParams,
    check_choice,
    check_encodable,
    check_header_value,
    check_headers,
    check_id,
    check_limit,
)
from aurous_nb.client.errors import InvalidResponseError, ValidationError
from aurous_nb.client.models import Balance, Pricing, Team, UsageBucket, rows

__all__ = ["balance_flow", "pricing_flow", "request_flow", "team_flow", "usage_flow"]

TimeArg = datetime | str


def balance_flow(core: Core, version: str | None) -> Flow[Balance]:
    return Balance.from_json((yield from core.call_json(core.get("/v1/balance", version=version))))


def team_flow(core: Core, version: str | None) -> Flow[Team]:
    return Team.from_json((yield from core.call_json(core.get("/v1/team", version=version))))


def pricing_flow(core: Core, version: str | None) -> Flow[Pricing]:
    resp = yield from core.call(core.get("/v1/pricing", version=version))
    body = resp.object()
    if not body.get("version") and resp.version:
        body = {**body, "version": resp.version}
    return Pricing.from_json(body)


def rfc3339(param: str, value: TimeArg) -> str:
    """An aware datetime (or RFC 3339 text, passed through) as ``YYYY-MM-DDTHH:MM:SSZ``."""
    if isinstance(value, str):
        if not value.strip():
            raise ValidationError(param, f"{param}: must not be empty")
        return value
    if not isinstance(value, datetime):
        raise ValidationError(param, f"{param}: must be a datetime or RFC 3339 text")
    if value.tzinfo is None:
        raise ValidationError(param, f"{param}: must be timezone-aware (e.g. tzinfo=timezone.utc)")
    text = value.astimezone(timezone.utc).isoformat(timespec="milliseconds")
    return text.replace("+00:00", "Z")


def usage_params(
    start_time: TimeArg,
    end_time: TimeArg | None,
    bucket_width: str,
    group_by: Sequence[str] | str | None,
    filters: Mapping[str, Any],
) -> dict[str, Any]:
    params: dict[str, Any] = {
        "start_time": rfc3339("start_time", start_time),
        "bucket_width": check_choice("bucket_width", bucket_width, USAGE_BUCKET_WIDTHS),
    }
    if end_time is not None:
        params["end_time"] = rfc3339("end_time", end_time)
    if group_by is not None:
        groups = [group_by] if isinstance(group_by, str) else list(group_by)
        if not 1 <= len(groups) <= 2:
            raise ValidationError("group_by", "group_by: 1 or 2 dimensions")
        params["group_by"] = ",".join(check_choice("group_by", g, USAGE_GROUP_BY) for g in groups)
    for name, value in filters.items():
        if value is None:
            continue
        if name == "limit":
            params["limit"] = check_limit(value)
        elif name in ("lora_id", "character_id"):
            params[name] = check_id(name, value)
        elif name in ("status", "type", "api_key_id", "user_id"):
            values = [value] if isinstance(value, str) else list(value)
            params[name] = ",".join(check_id(name, v) for v in values)
        else:
            raise ValidationError(name, f"{name}: unknown parameter")
    return params


def usage_flow(
    core: Core,
    start_time: TimeArg,
    end_time: TimeArg | None,
    bucket_width: str,
    group_by: Sequence[str] | str | None,
    filters: UsageParams,
    version: str | None,
) -> Flow[list[UsageBucket]]:
    """Every bucket in the range (all pages, following ``next_page``), newest first."""
    params: dict[str, Any] = usage_params(start_time, end_time, bucket_width, group_by, filters)
    out: list[UsageBucket] = []
    while True:
        body = yield from core.call_json(core.get("/v1/usage", params=params, version=version))
        out.extend(UsageBucket.from_json(b) for b in rows(body))
        token = body.get("next_page")
        if not body.get("has_more") or not isinstance(token, str) or not token:
            return out
        params = {"page_token": token}


def request_flow(
    core: Core,
    method: str,
    path: str,
    json: Any,
    params: Any,
    idempotency_key: str | None,
    bucket: str | None,
    version: str | None,
    headers: Mapping[str, str] | None = None,
) -> Flow[Any]:
    method = method.upper()
    key = idempotency_key
    check_encodable("path", path)
    check_encodable("params", params)
    req = Request(
        method,
        core.url(path),
        bucket=bucket,
        params=params,
        body=None if json is None else dumps(json),
        idempotency_key=None if key is None else check_header_value("idempotency_key", key),
        idempotent=method in ("GET", "HEAD", "PUT", "DELETE") or key is not None,
        version=check_version(version),
        headers=check_headers("headers", headers),
    )
    resp = yield from core.call(req)
    try:
        return resp.json()
    except InvalidResponseError:
        return resp.content

"""The hand-written readers as they were before the generic one (issue 15), kept frozen.

``test_client_models.py`` checks that ``aurous_nb.client.models`` parses every pinned and every
mutated answer into the same objects as this copy did. Do not edit it; delete it once nobody
doubts the generic reader.

Original docstring: typed, frozen views of every response.

Each model keeps the decoded JSON in ``raw`` (fields the contract adds later stay reachable) and
parses timestamps into aware UTC datetimes. Unknown or missing optional fields read as None, so a
newer server never breaks an older client.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Generic, TypeVar

from aurous_nb.client.errors import InvalidResponseError, json_kind

__all__ = [
    "GENERATION_ID",
    "TERMINAL_STATUSES",
    "Balance",
    "Cost",
    "Deleted",
    "Estimate",
    "Event",
    "File",
    "Generation",
    "GenerationLora",
    "ImagePricing",
    "Lora",
    "Page",
    "Pricing",
    "Team",
    "UsageBucket",
    "UsageGroup",
    "VideoLora",
    "VideoPricing",
    "WebhookEndpoint",
    "WebhookTestFire",
    "check_generation_id",
    "parse_datetime",
    "rows",
]

T = TypeVar("T")

TERMINAL_STATUSES = frozenset(
    {"succeeded", "failed", "cancelled", "expired", "moderation_rejected"}
)


#: What a generation id looks like (``img_`` or ``vid_`` and ASCII letters and digits; the API
#: and the sandbox use a 26-character ULID). Ids name directories in the outputs cache, so
#: anything else -- ``../``, ``/``, a NUL, non-ASCII digits -- is refused where answers are read.
GENERATION_ID = re.compile(r"(?:img|vid)_[A-Za-z0-9]{1,64}")


def check_generation_id(value: Any) -> str:
    """``value`` when it is a generation id, else :class:`InvalidResponseError` (param ``id``)."""
    if isinstance(value, str) and GENERATION_ID.fullmatch(value):
        return value
    raise InvalidResponseError(
        f"the server sent {str(value)[:80]!r} as a generation id; ids look like img_<letters "
        "and digits>, so nothing from this answer is used",
        code="invalid_response",
        param="id",
    )


def rows(body: dict[str, Any] | list[Any], key: str = "data") -> list[dict[str, Any]]:
    """The object rows of a list answer (``{"data": [...]}``, or a bare list): non-object rows
    are skipped; a ``data`` that is not a list is an :class:`InvalidResponseError`."""
    items = body.get(key) if isinstance(body, dict) else body
    if items is None:
        return []
    if not isinstance(items, list):
        raise InvalidResponseError(
            f"{key}: the server sent {json_kind(items)}, not a list",
            code="invalid_response",
            param=key,
        )
    return [r for r in items if isinstance(r, dict)]


def parse_datetime(value: Any) -> datetime | None:
    """RFC 3339 text (``...Z`` or an offset) -> aware datetime; naive text is taken as UTC."""
    if not isinstance(value, str) or not value:
        return None
    text = value[:-1] + "+00:00" if value.endswith(("Z", "z")) else value
    try:
        dt = datetime.fromisoformat(text)
    except ValueError:
        return None
    return dt if dt.tzinfo is not None else dt.replace(tzinfo=timezone.utc)


def _str(d: Mapping[str, Any], key: str) -> str | None:
    v = d.get(key)
    return v if isinstance(v, str) else None


def _req_str(d: Mapping[str, Any], key: str) -> str:
    v = d.get(key)
    return v if isinstance(v, str) else ("" if v is None else str(v))


def _num(d: Mapping[str, Any], key: str) -> float | None:
    # ints stay ints (1000, not 1000.0): the model shows what the server sent
    v = d.get(key)
    return v if isinstance(v, (int, float)) and not isinstance(v, bool) else None


def _int(d: Mapping[str, Any], key: str) -> int | None:
    v = d.get(key)
    if isinstance(v, bool):
        return None
    if isinstance(v, int):
        return v
    return int(v) if isinstance(v, float) and v.is_integer() else None


def _bool(d: Mapping[str, Any], key: str) -> bool | None:
    v = d.get(key)
    return v if isinstance(v, bool) else None


def _dict(d: Mapping[str, Any], key: str) -> dict[str, Any]:
    v = d.get(key)
    return v if isinstance(v, dict) else {}


def _strs(d: Mapping[str, Any], key: str) -> tuple[str, ...]:
    v = d.get(key)
    return tuple(x for x in v if isinstance(x, str)) if isinstance(v, list) else ()


def _floats(v: Any) -> dict[str, float]:
    if not isinstance(v, dict):
        return {}
    return {
        str(k): x for k, x in v.items() if isinstance(x, (int, float)) and not isinstance(x, bool)
    }


@dataclass(frozen=True, slots=True)
class Balance:
    """GET /v1/balance. ``available_credits`` is what a create is checked against."""

    credits: float
    held_credits: float
    available_credits: float
    currency: str
    billing_mode: str | None
    raw: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> Balance:
        return cls(
            credits=_num(d, "credits") or 0.0,
            held_credits=_num(d, "held_credits") or 0.0,
            available_credits=_num(d, "available_credits") or 0.0,
            currency=_str(d, "currency") or "credit",
            billing_mode=_str(d, "billing_mode"),
            raw=d,
        )


@dataclass(frozen=True, slots=True)
class Team:
    """GET /v1/team."""

    id: str
    name: str
    credits: float | None
    created_at: datetime | None
    billing_email: str | None
    billing_mode: str | None
    raw: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> Team:
        return cls(
            id=_req_str(d, "id"),
            name=_req_str(d, "name"),
            credits=_num(d, "credits"),
            created_at=parse_datetime(d.get("created_at")),
            billing_email=_str(d, "billing_email"),
            billing_mode=_str(d, "billing_mode"),
            raw=d,
        )


@dataclass(frozen=True, slots=True)
class ImagePricing:
    base: float
    enhance_prompt_multiplier: float
    reference_image_per_image: float


@dataclass(frozen=True, slots=True)
class VideoPricing:
    base_per_second: float
    resolution_factor: dict[str, float]


@dataclass(frozen=True, slots=True)
class Pricing:
    """GET /v1/pricing: the rate card frozen for ``version`` (the applied Aurous-Version)."""

    version: str
    currency: str
    description: str | None
    image: ImagePricing
    video: VideoPricing
    raw: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> Pricing:
        img, vid = _dict(d, "image"), _dict(d, "video")
        return cls(
            version=_req_str(d, "version"),
            currency=_str(d, "currency") or "credit",
            description=_str(d, "description"),
            image=ImagePricing(
                base=_num(img, "base") or 0.0,
                enhance_prompt_multiplier=_num(img, "enhance_prompt_multiplier") or 1.0,
                reference_image_per_image=_num(img, "reference_image_per_image") or 0.0,
            ),
            video=VideoPricing(
                base_per_second=_num(vid, "base_per_second") or 0.0,
                resolution_factor=_floats(vid.get("resolution_factor")),
            ),
            raw=d,
        )


@dataclass(frozen=True, slots=True)
class UsageGroup:
    """One group of a usage bucket: ``key`` (the group_by values) and its ``metrics``."""

    key: dict[str, Any]
    metrics: dict[str, float]

    def __getattr__(self, name: str) -> float:
        # metrics read as attributes: group.credits_used, group.request_count ...
        try:
            return self.metrics[name]
        except KeyError:
            raise AttributeError(name) from None


@dataclass(frozen=True, slots=True)
class UsageBucket:
    """One time bucket of GET /v1/usage (newest first)."""

    bucket_start: datetime | None
    bucket_end: datetime | None
    groups: tuple[UsageGroup, ...]
    raw: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> UsageBucket:
        groups = d.get("groups")
        return cls(
            bucket_start=parse_datetime(d.get("bucket_start")),
            bucket_end=parse_datetime(d.get("bucket_end")),
            groups=tuple(
                UsageGroup(key=_dict(g, "key"), metrics=_floats(g.get("metrics")))
                for g in (groups if isinstance(groups, list) else [])
                if isinstance(g, dict)
            ),
            raw=d,
        )


@dataclass(frozen=True, slots=True)
class Lora:
    """An image LoRA style (GET /v1/loras)."""

    id: str
    name: str
    is_public: bool
    created_at: datetime | None
    slug: str | None
    description: str | None
    preview_image_url: str | None
    default_denoise_strength: float | None
    default_guidance_scale: float | None
    default_steps: int | None
    raw: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> Lora:
        return cls(
            id=_req_str(d, "id"),
            name=_req_str(d, "name"),
            is_public=bool(d.get("is_public")),
            created_at=parse_datetime(d.get("created_at")),
            slug=_str(d, "slug"),
            description=_str(d, "description"),
            preview_image_url=_str(d, "preview_image_url"),
            default_denoise_strength=_num(d, "default_denoise_strength"),
            default_guidance_scale=_num(d, "default_guidance_scale"),
            default_steps=_int(d, "default_steps"),
            raw=d,
        )


@dataclass(frozen=True, slots=True)
class VideoLora:
    """A video model (GET /v1/video_loras)."""

    id: str
    name: str
    is_public: bool
    default_resolution: str | None
    default_ratio: str | None
    default_duration: float | None
    created_at: datetime | None
    slug: str | None
    description: str | None
    preview_video_url: str | None
    raw: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> VideoLora:
        return cls(
            id=_req_str(d, "id"),
            name=_req_str(d, "name"),
            is_public=bool(d.get("is_public")),
            default_resolution=_str(d, "default_resolution"),
            default_ratio=_str(d, "default_ratio"),
            default_duration=_num(d, "default_duration"),
            created_at=parse_datetime(d.get("created_at")),
            slug=_str(d, "slug"),
            description=_str(d, "description"),
            preview_video_url=_str(d, "preview_video_url"),
            raw=d,
        )


@dataclass(frozen=True, slots=True)
class Cost:
    """A hold while a generation runs, the charge once it is terminal."""

    amount: float
    currency: str
    breakdown: dict[str, float]

    @classmethod
    def from_json(cls, d: Any) -> Cost | None:
        if not isinstance(d, dict):
            return None
        return cls(
            amount=_num(d, "amount") or 0.0,
            currency=_str(d, "currency") or "credit",
            breakdown=_floats(d.get("breakdown")),
        )


@dataclass(frozen=True, slots=True)
class Estimate:
    """POST /v1/{images,videos}/estimate: the exact pre-charge amount, nothing created."""

    amount: float
    breakdown: dict[str, float]
    currency: str
    raw: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> Estimate:
        est = _dict(d, "estimated_cost")
        return cls(
            amount=_num(est, "amount") or 0.0,
            breakdown=_floats(est.get("breakdown")),
            currency=_str(d, "currency") or _str(est, "currency") or "credit",
            raw=d,
        )


@dataclass(frozen=True, slots=True)
class GenerationLora:
    id: str
    name: str | None


@dataclass(frozen=True, slots=True)
class Generation:
    """An image or video generation (GET /v1/images/{id}); ``media_type`` tells them apart.

    ``request_id`` and ``idempotent_replayed`` come from the response headers of the call that
    returned this object; ``creation_request_id`` is the request that created the row.
    """

    id: str
    status: str
    media_type: str | None
    prompt: str | None
    created_at: datetime | None
    completed_at: datetime | None
    output_urls: tuple[str, ...]
    output_video_url: str | None
    cost: Cost | None
    negative_prompt: str | None = None
    reference_image_urls: tuple[str, ...] = ()
    error_message: str | None = None
    duration_ms: int | None = None
    width: int | None = None
    height: int | None = None
    image_count: int | None = None
    size_preset: str | None = None
    inference_type: str | None = None
    seed: int | None = None
    steps: int | None = None
    guidance_scale: float | None = None
    cfg_rescale: float | None = None
    denoise_strength: float | None = None
    video_duration: float | None = None
    video_resolution: str | None = None
    video_ratio: str | None = None
    video_camera_fixed: bool | None = None
    character_id: str | None = None
    loras: tuple[GenerationLora, ...] = ()
    aurous_version: str | None = None
    creation_request_id: str | None = None
    request_id: str | None = None
    idempotent_replayed: bool = False
    raw: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)
    #: Local copies of the outputs, by index, when ``generate(download_dir=...)`` saved them.
    files: tuple[Path, ...] = field(default=(), repr=False, compare=False)

    def __repr__(self) -> str:  # short, and free of signed output URLs
        cost = f", cost={self.cost.amount:g}" if self.cost is not None else ""
        outs = len(self.output_urls) + (1 if self.output_video_url else 0)
        return (
            f"Generation(id={self.id!r}, status={self.status!r}, media_type={self.media_type!r}"
            f"{cost}, outputs={outs})"
        )

    @property
    def is_terminal(self) -> bool:
        return self.status in TERMINAL_STATUSES

    @property
    def succeeded(self) -> bool:
        return self.status == "succeeded"

    @property
    def is_video(self) -> bool:
        return self.media_type == "video" or self.id.startswith("vid_")

    @classmethod
    def from_json(
        cls,
        d: dict[str, Any],
        *,
        request_id: str | None = None,
        replayed: bool = False,
    ) -> Generation:
        loras = d.get("loras")
        return cls(
            id=_req_str(d, "id"),
            status=_req_str(d, "status"),
            media_type=_str(d, "media_type"),
            prompt=_str(d, "prompt"),
            created_at=parse_datetime(d.get("created_at")),
            completed_at=parse_datetime(d.get("completed_at")),
            output_urls=_strs(d, "output_urls"),
            output_video_url=_str(d, "output_video_url"),
            cost=Cost.from_json(d.get("cost")),
            negative_prompt=_str(d, "negative_prompt"),
            reference_image_urls=_strs(d, "reference_image_urls"),
            error_message=_str(d, "error_message"),
            duration_ms=_int(d, "duration_ms"),
            width=_int(d, "width"),
            height=_int(d, "height"),
            image_count=_int(d, "image_count"),
            size_preset=_str(d, "size_preset"),
            inference_type=_str(d, "inference_type"),
            seed=_int(d, "seed"),
            steps=_int(d, "steps"),
            guidance_scale=_num(d, "guidance_scale"),
            cfg_rescale=_num(d, "cfg_rescale"),
            denoise_strength=_num(d, "denoise_strength"),
            video_duration=_num(d, "video_duration"),
            video_resolution=_str(d, "video_resolution"),
            video_ratio=_str(d, "video_ratio"),
            video_camera_fixed=_bool(d, "video_camera_fixed"),
            character_id=_str(d, "character_id"),
            loras=tuple(
                GenerationLora(id=_req_str(x, "id"), name=_str(x, "name"))
                for x in (loras if isinstance(loras, list) else [])
                if isinstance(x, dict)
            ),
            aurous_version=_str(d, "aurous_version"),
            creation_request_id=_str(d, "creation_request_id"),
            request_id=request_id,
            idempotent_replayed=replayed,
            raw=d,
        )


@dataclass(frozen=True, slots=True)
class Page(Generic[T]):
    """One page of a cursor-paginated list; pass ``next_cursor`` as ``starting_after``."""

    data: tuple[T, ...]
    has_more: bool
    next_cursor: str | None
    raw: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)

    def __iter__(self) -> Iterator[T]:
        return iter(self.data)

    def __len__(self) -> int:
        return len(self.data)


@dataclass(frozen=True, slots=True)
class File:
    """An uploaded reference file (POST/GET /v1/files); ``url`` is signed for about an hour."""

    id: str
    purpose: str | None
    mime_type: str | None
    size_bytes: int | None
    width_px: int | None
    height_px: int | None
    url: str | None
    expires_at: datetime | None
    created_at: datetime | None
    metadata: dict[str, Any]
    raw: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)

    def __repr__(self) -> str:  # the signed url stays out of reprs
        return (
            f"File(id={self.id!r}, purpose={self.purpose!r}, mime_type={self.mime_type!r}, "
            f"size_bytes={self.size_bytes!r})"
        )

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> File:
        return cls(
            id=_req_str(d, "id"),
            purpose=_str(d, "purpose"),
            mime_type=_str(d, "mime_type"),
            size_bytes=_int(d, "size_bytes"),
            width_px=_int(d, "width_px"),
            height_px=_int(d, "height_px"),
            url=_str(d, "url"),
            expires_at=parse_datetime(d.get("expires_at")),
            created_at=parse_datetime(d.get("created_at")),
            metadata=_dict(d, "metadata"),
            raw=d,
        )


@dataclass(frozen=True, slots=True)
class Deleted:
    """The answer of an idempotent DELETE: ``deleted`` says whether anything was removed."""

    id: str
    object: str | None
    deleted: bool
    raw: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> Deleted:
        return cls(
            id=_req_str(d, "id"),
            object=_str(d, "object"),
            deleted=bool(d.get("deleted", True)),
            raw=d,
        )


@dataclass(frozen=True, slots=True)
class WebhookEndpoint:
    """A registered webhook endpoint; ``secret`` is set only by create and rotate_secret."""

    id: str
    url: str
    events: tuple[str, ...]
    secret_preview: str | None
    secret: str | None = field(repr=False)
    is_active: bool
    consecutive_failures: int
    last_success_at: datetime | None
    last_failure_at: datetime | None
    metadata: dict[str, Any]
    description: str | None
    created_at: datetime | None
    updated_at: datetime | None
    raw: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> WebhookEndpoint:
        return cls(
            id=_req_str(d, "id"),
            url=_req_str(d, "url"),
            events=_strs(d, "events"),
            secret_preview=_str(d, "secret_preview"),
            secret=_str(d, "secret"),
            is_active=bool(d.get("is_active", True)),
            consecutive_failures=_int(d, "consecutive_failures") or 0,
            last_success_at=parse_datetime(d.get("last_success_at")),
            last_failure_at=parse_datetime(d.get("last_failure_at")),
            metadata=_dict(d, "metadata"),
            description=_str(d, "description"),
            created_at=parse_datetime(d.get("created_at")),
            updated_at=parse_datetime(d.get("updated_at")),
            raw=d,
        )


@dataclass(frozen=True, slots=True)
class WebhookTestFire:
    """POST /v1/webhook_endpoints/{id}/test: a synthetic delivery was enqueued."""

    endpoint_id: str
    event_id: str
    enqueued: bool
    raw: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> WebhookTestFire:
        return cls(
            endpoint_id=_req_str(d, "endpoint_id"),
            event_id=_req_str(d, "event_id"),
            enqueued=bool(d.get("enqueued")),
            raw=d,
        )


@dataclass(frozen=True, slots=True)
class Event:
    """A verified webhook delivery: the endpoint envelope or a per-request ``{event, data}``.

    ``generation`` parses ``data`` when it is a generation row.
    """

    type: str
    data: dict[str, Any]
    id: str | None
    created_at: datetime | None
    api_version: str | None
    synthetic: bool
    raw: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)

    @property
    def generation(self) -> Generation | None:
        if self.type.startswith(("image.", "video.", "generation.")) and "id" in self.data:
            return Generation.from_json(self.data)
        return None

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> Event:
        return cls(
            type=_str(d, "type") or _str(d, "event") or "",
            data=_dict(d, "data"),
            id=_str(d, "id"),
            created_at=parse_datetime(d.get("created_at") or d.get("created")),
            api_version=_str(d, "api_version"),
            synthetic=bool(d.get("synthetic", False)),
            raw=d,
        )

"""Typed, frozen views of every response.

Each model keeps the decoded JSON in ``raw`` (fields the contract adds later stay reachable) and
parses timestamps into aware UTC datetimes. Unknown or missing optional fields read as None, so a
newer server never breaks an older client. One reader (``_reader.read``) builds them all from
their field lists; ``wire(...)`` marks the few fields named or defaulted differently.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, Generic, TypeVar

from aurous_nb.client._reader import LOCAL, Model, obj, read, text, wire
from aurous_nb.client.errors import InvalidResponseError, json_kind
from aurous_nb.statuses import CHARACTER_SETTLED, READY, SUCCEEDED
from aurous_nb.statuses import SERVER_TERMINAL as TERMINAL_STATUSES
from aurous_nb.timestamps import parse_datetime

__all__ = [
    "GENERATION_ID",
    "TERMINAL_STATUSES",
    "Balance",
    "Character",
    "CharacterRef",
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


@dataclass(frozen=True, slots=True)
class Balance(Model):
    """GET /v1/balance. ``available_credits`` is what a create is checked against."""

    credits: float
    held_credits: float
    available_credits: float
    currency: str = field(metadata=wire(fallback="credit"))
    billing_mode: str | None
    raw: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)


@dataclass(frozen=True, slots=True)
class Team(Model):
    """GET /v1/team."""

    id: str
    name: str
    credits: float | None
    created_at: datetime | None
    billing_email: str | None
    billing_mode: str | None
    raw: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)


@dataclass(frozen=True, slots=True)
class ImagePricing:
    base: float
    enhance_prompt_multiplier: float = field(metadata=wire(fallback=1.0))
    reference_image_per_image: float


@dataclass(frozen=True, slots=True)
class VideoPricing:
    base_per_second: float
    resolution_factor: dict[str, float]


@dataclass(frozen=True, slots=True)
class Pricing(Model):
    """GET /v1/pricing: the rate card frozen for ``version`` (the applied Aurous-Version)."""

    version: str
    currency: str = field(metadata=wire(fallback="credit"))
    description: str | None
    image: ImagePricing
    video: VideoPricing
    raw: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)


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
class UsageBucket(Model):
    """One time bucket of GET /v1/usage (newest first)."""

    bucket_start: datetime | None
    bucket_end: datetime | None
    groups: tuple[UsageGroup, ...]
    raw: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)


@dataclass(frozen=True, slots=True)
class Lora(Model):
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


@dataclass(frozen=True, slots=True)
class VideoLora(Model):
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


@dataclass(frozen=True, slots=True)
class Cost(Model):
    """A hold while a generation runs, the charge once it is terminal."""

    amount: float
    currency: str = field(metadata=wire(fallback="credit"))
    breakdown: dict[str, float]


def _estimate_currency(d: dict[str, Any]) -> str:
    est = obj(d.get("estimated_cost"))
    return text(d.get("currency")) or text(est.get("currency")) or "credit"


@dataclass(frozen=True, slots=True)
class Estimate(Model):
    """POST /v1/{images,videos}/estimate: the exact pre-charge amount, nothing created."""

    amount: float = field(metadata=wire("estimated_cost", "amount"))
    breakdown: dict[str, float] = field(metadata=wire("estimated_cost", "breakdown"))
    currency: str = field(metadata=wire(parse=_estimate_currency))
    raw: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)


@dataclass(frozen=True, slots=True)
class GenerationLora:
    id: str
    name: str | None


@dataclass(frozen=True, slots=True)
class Generation(Model):
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
    request_id: str | None = field(default=None, metadata=LOCAL)
    idempotent_replayed: bool = field(default=False, metadata=LOCAL)
    raw: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)
    #: Local copies of the outputs, by index, when ``generate(download_dir=...)`` saved them.
    files: tuple[Path, ...] = field(default=(), repr=False, compare=False, metadata=LOCAL)

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
        return self.status == SUCCEEDED

    @property
    def is_video(self) -> bool:
        return self.media_type == "video" or self.id.startswith("vid_")

    @classmethod
    def from_json(
        cls, d: dict[str, Any], *, request_id: str | None = None, replayed: bool = False
    ) -> Generation:
        return read(cls, d, request_id=request_id, idempotent_replayed=replayed)


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
class File(Model):
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


@dataclass(frozen=True, slots=True)
class Deleted(Model):
    """The answer of an idempotent DELETE: ``deleted`` says whether anything was removed."""

    id: str
    object: str | None
    deleted: bool = field(metadata=wire(fallback=True))
    raw: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)


@dataclass(frozen=True, slots=True)
class WebhookEndpoint(Model):
    """A registered webhook endpoint; ``secret`` is set only by create and rotate_secret."""

    id: str
    url: str
    events: tuple[str, ...]
    secret_preview: str | None
    secret: str | None = field(repr=False)
    is_active: bool = field(metadata=wire(fallback=True))
    consecutive_failures: int
    last_success_at: datetime | None
    last_failure_at: datetime | None
    metadata: dict[str, Any]
    description: str | None
    created_at: datetime | None
    updated_at: datetime | None
    raw: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)


@dataclass(frozen=True, slots=True)
class WebhookTestFire(Model):
    """POST /v1/webhook_endpoints/{id}/test: a synthetic delivery was enqueued."""

    endpoint_id: str
    event_id: str
    enqueued: bool
    raw: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)


def _event_type(d: dict[str, Any]) -> str:
    return text(d.get("type")) or text(d.get("event")) or ""  # endpoint envelope or per-request


def _event_time(d: dict[str, Any]) -> datetime | None:
    return parse_datetime(d.get("created_at") or d.get("created"))


@dataclass(frozen=True, slots=True)
class Event(Model):
    """A verified webhook delivery: the endpoint envelope or a per-request ``{event, data}``.

    ``generation`` parses ``data`` when it is a generation row.
    """

    type: str = field(metadata=wire(parse=_event_type))
    data: dict[str, Any]
    id: str | None
    created_at: datetime | None = field(metadata=wire(parse=_event_time))
    api_version: str | None
    synthetic: bool
    raw: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)

    @property
    def generation(self) -> Generation | None:
        if self.type.startswith(("image.", "video.", "generation.")) and "id" in self.data:
            return Generation.from_json(self.data)
        return None


@dataclass(frozen=True, slots=True)
class CharacterRef:
    """One reference image of a character; ``url`` is a signed proxy URL (about 24 h)."""

    pose: str
    url: str = field(repr=False)


@dataclass(frozen=True, slots=True)
class Character(Model):
    """A character (GET /v1/characters/{id}): ``synthesizing -> reviewing -> ready``, or
    ``failed``; pass its ``id`` as ``character_id`` once it is ready.

    ``request_id`` and ``idempotent_replayed`` come from the response that returned it.
    """

    id: str
    name: str
    status: str
    refs: tuple[CharacterRef, ...]
    attributes: dict[str, Any]
    error_message: str | None
    client_reference_id: str | None
    created_at: datetime | None
    updated_at: datetime | None
    aurous_version: str | None
    request_id: str | None = field(default=None, metadata=LOCAL)
    idempotent_replayed: bool = field(default=False, metadata=LOCAL)
    raw: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)

    def __repr__(self) -> str:  # short, and free of signed ref URLs
        poses = ", ".join(r.pose for r in self.refs)
        return (
            f"Character(id={self.id!r}, name={self.name!r}, status={self.status!r}, refs=[{poses}])"
        )

    @property
    def is_ready(self) -> bool:
        """Usable as ``character_id`` on an image create."""
        return self.status == READY

    @property
    def is_settled(self) -> bool:
        """No synthesis running: ``reviewing``, ``ready`` or ``failed``."""
        return self.status in CHARACTER_SETTLED

    @classmethod
    def from_json(
        cls, d: dict[str, Any], *, request_id: str | None = None, replayed: bool = False
    ) -> Character:
        return read(cls, d, request_id=request_id, idempotent_replayed=replayed)

"""Request parameters, named and typed once, and validated before anything is sent.

``ImageParams`` / ``VideoParams`` are the keyword arguments of the create and estimate methods on
both clients (``**params: Unpack[ImageParams]``). The ``*_body`` functions check every documented
range and exclusion (contract §2.5, §2.11 and "Project decisions") and raise
:class:`ValidationError` naming the field.
"""

from __future__ import annotations

import difflib
import math
import re
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, TypedDict, cast
from urllib.parse import urlsplit

from aurous_nb.canonical import canonical_json
from aurous_nb.client.errors import ValidationError

if TYPE_CHECKING:
    from aurous_nb.client.references import ReferenceSource

__all__ = [
    "DEFAULT_IMAGE_SIZE",
    "IMAGE_SIZES",
    "IMAGE_SIZE_PRESETS",
    "VIDEO_RATIOS",
    "VIDEO_RESOLUTIONS",
    "ImageParams",
    "LoraSpec",
    "UsageParams",
    "VideoParams",
    "check_encodable",
    "check_float",
    "image_body",
    "number_problem",
    "video_body",
]

_RATIOS = ("1_1", "3_2", "2_3", "4_3", "3_4", "16_9", "9_16", "21_9")
#: Every image size preset, in the order a menu offers them: the contract's canonical 2k and 4k
#: presets, then the legacy names it still accepts.
IMAGE_SIZE_PRESETS: tuple[str, ...] = (
    *(f"{tier}_{r}" for tier in ("2k", "4k") for r in _RATIOS),
    *("square", "landscape", "portrait", "hd_square", "hd_landscape", "hd_portrait"),
)
IMAGE_SIZES = frozenset(IMAGE_SIZE_PRESETS)
#: The size the magics, the panel and the grid send when none is given (the client sends none).
DEFAULT_IMAGE_SIZE = "2k_1_1"
_NAMED_SIZES = IMAGE_SIZE_PRESETS[16:]
#: How the size presets read in an error, instead of all 22 of them.
SIZES_IN_SHORT = (
    f"2k_<ratio> or 4k_<ratio> with ratio {', '.join(_RATIOS)}; or {', '.join(_NAMED_SIZES)}"
)
_RATIO_TEXT = re.compile(r"^(?:([24])k)?[ _:x-]*(\d+)[ _:x/-]+(\d+)$")
VIDEO_RESOLUTIONS = ("480p", "720p", "1080p")
VIDEO_RATIOS = ("16:9", "4:3", "1:1", "3:4", "9:16", "21:9")
FILE_PURPOSES = ("reference", "first_frame", "last_frame")
USAGE_BUCKET_WIDTHS = ("1m", "5m", "15m", "1h", "1d", "7d")
USAGE_GROUP_BY = ("status", "api_key_id", "user_id", "type", "model")

#: One entry of ``loras=``: ``("lora_x", 0.8)`` or ``{"lora": "lora_x", "weight": 0.8}``.
LoraSpec = tuple[str, float] | Mapping[str, Any]


class ImageParams(TypedDict, total=False):
    """Optional fields of POST /v1/images and /v1/images/estimate (``prompt`` is positional)."""

    negative_prompt: str
    lora_id: str
    loras: Sequence[LoraSpec]
    size: str
    width: int
    height: int
    count: int
    seed: int
    steps: int
    guidance_scale: float
    cfg_rescale: float
    denoise_strength: float
    enhance_prompt: bool
    reference_image_urls: Sequence[str]
    #: paths, PIL images, bytes, generations, file_ ids or https URLs (client.references)
    reference_images: Sequence[ReferenceSource]
    character_id: str
    webhook_url: str


class VideoParams(TypedDict, total=False):
    """Optional fields of POST /v1/videos and /v1/videos/estimate."""

    prompt: str
    first_frame_url: str
    last_frame_url: str
    #: any reference (client.references): uploaded when local, sent as first_frame_url
    first_frame: ReferenceSource
    last_frame: ReferenceSource
    resolution: str
    ratio: str
    duration: int
    seed: int
    camera_fixed: bool
    watermark: bool
    enhance_prompt: bool
    webhook_url: str


class UsageParams(TypedDict, total=False):
    """Filters of GET /v1/usage (besides start_time / end_time / bucket_width / group_by)."""

    status: Sequence[str]
    type: Sequence[str]
    api_key_id: Sequence[str]
    user_id: Sequence[str]
    lora_id: str
    character_id: str
    limit: int


# ---------------------------------------------------------------- field checks


def _fail(param: str, message: str) -> ValidationError:
    return ValidationError(param, f"{param}: {message}")


def check_encodable(param: str, value: object) -> None:
    """Refuse text that has no UTF-8 form: a lone surrogate (``"\\ud800"``, or the
    ``"\\udce9"`` that ``errors="surrogateescape"`` leaves for an undecodable byte, or an emoji
    split into its UTF-16 halves). JSON would carry it as an escape the server must refuse, and
    the ledger could not store it; so it never leaves. Walks dicts and lists, naming the field."""
    if isinstance(value, str):
        try:
            value.encode("utf-8")
        except UnicodeEncodeError as exc:
            bad = value[exc.start]
            raise _fail(
                param or "body",
                f"contains {bad!r} at position {exc.start}, a lone surrogate with no UTF-8 form "
                "(left by decoding with errors='surrogateescape', or a split UTF-16 pair)",
            ) from None
    elif isinstance(value, Mapping):
        for key, item in value.items():
            check_encodable(param or "body", key)
            name = key.encode("utf-8", "backslashreplace").decode() if isinstance(key, str) else key
            check_encodable(f"{param}.{name}" if param else str(name), item)
    elif isinstance(value, (list, tuple)):
        for i, item in enumerate(value):
            check_encodable(f"{param}[{i}]", item)


def check_text(param: str, value: object, max_len: int = 4000) -> str:
    if not isinstance(value, str):
        raise _fail(param, f"must be a string, got {type(value).__name__}")
    check_encodable(param, value)
    if not value.strip():
        raise _fail(param, "must not be empty or whitespace only")
    if len(value) > max_len:
        raise _fail(param, f"must be at most {max_len} characters (got {len(value)})")
    return value


def check_int(param: str, value: object, lo: int | None = None, hi: int | None = None) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise _fail(param, f"must be an integer, got {type(value).__name__}")
    if (lo is not None and value < lo) or (hi is not None and value > hi):
        raise _fail(param, f"must be between {lo} and {hi} (got {value})")
    return value


def number_problem(
    value: object, lo: float | None = None, hi: float | None = None, *, above: bool = False
) -> str | None:
    """What is wrong with ``value`` as a number (None: nothing), the one rule for every number
    the toolkit takes (budgets, timeouts, intervals, request fields). NaN and the infinities
    are never numbers here: every comparison with NaN is False, so a NaN budget caps nothing
    and a NaN deadline never passes; ``above`` makes ``lo`` itself refused (a timeout of 0)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return f"must be a number, got {type(value).__name__}"
    if not math.isfinite(value):
        return f"must be a finite number, not {value!r}"
    if lo is not None and hi is not None and not lo <= value <= hi:
        return f"must be between {lo:g} and {hi:g} (got {value!r})"
    if lo is not None and (value <= lo if above else value < lo):
        return f"must be {'more than' if above else 'at least'} {lo:g} (got {value!r})"
    return None


def check_float(
    param: str,
    value: object,
    lo: float | None = None,
    hi: float | None = None,
    *,
    above: bool = False,
) -> float:
    """``value`` as a float, or a :class:`ValidationError` naming ``param`` (see number_problem)."""
    problem = number_problem(value, lo, hi, above=above)
    if problem:
        raise _fail(param, problem)
    return cast(float, value)  # number_problem checked it; an int stays an int on the wire


def check_bool(param: str, value: object) -> bool:
    if not isinstance(value, bool):
        raise _fail(param, f"must be True or False, got {type(value).__name__}")
    return value


def closest_sizes(value: str) -> list[str]:
    """The presets nearest a wrong size: by aspect ratio for ``2k_16_10`` / ``16:10`` (in the
    tier asked for), by spelling for words (``squre``); at most three."""
    text = value.strip().lower()
    ratio = _RATIO_TEXT.match(text)
    if ratio and int(ratio.group(3)):
        want = int(ratio.group(2)) / int(ratio.group(3))
        tiers = [f"{ratio.group(1)}k"] if ratio.group(1) else ["2k", "4k"]
        ranked = sorted(
            (abs(int(w) / int(h) - want), f"{tier}_{w}_{h}")
            for tier in tiers
            for w, h in (r.split("_") for r in _RATIOS)
        )
        best = ranked[0][0]
        return [name for gap, name in ranked if gap <= best + 0.2][:3]
    return difflib.get_close_matches(text.replace("-", "_"), sorted(IMAGE_SIZES), n=3, cutoff=0.6)


def check_choice(param: str, value: object, choices: Sequence[str] | frozenset[str]) -> str:
    if isinstance(value, str) and value in choices:
        return value
    if choices is IMAGE_SIZES and isinstance(value, str):
        near = closest_sizes(value)
        pixels = " (for an exact pixel size, pass width and height)"
        if near:
            raise _fail(param, f"{value!r} is not a size; closest: {', '.join(near)}{pixels}")
        raise _fail(param, f"{value!r} is not a size; sizes are {SIZES_IN_SHORT}{pixels}")
    shown = ", ".join(sorted(choices))
    near = difflib.get_close_matches(str(value), sorted(choices), n=1, cutoff=0.6)
    maybe = f"; did you mean {near[0]}?" if near else ""
    raise _fail(param, f"{value!r} is not one of {shown}{maybe}")


def check_id(param: str, value: object) -> str:
    if not isinstance(value, str) or not value.strip() or len(value) > 256:
        raise _fail(param, "must be a non-empty id or slug")
    check_encodable(param, value)
    return value


def check_header_value(param: str, value: object, max_len: int = 256) -> str:
    """A value sent as an HTTP header (an Idempotency-Key): 1 to ``max_len`` printable ASCII
    characters, no space at either end. Anything else cannot be sent: refused here, not retried."""
    if not isinstance(value, str) or not 1 <= len(value) <= max_len:
        raise _fail(param, f"must be 1 to {max_len} characters")
    bad = next((i for i, c in enumerate(value) if not " " <= c <= "~"), None)
    if bad is not None:
        raise _fail(
            param,
            f"must be printable ASCII (a header cannot carry {value[bad]!r}, at position {bad})",
        )
    if value != value.strip(" "):
        raise _fail(param, "must not start or end with a space")
    return value


_HEADER_NAME = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+")


def check_headers(param: str, headers: Mapping[str, str] | None) -> dict[str, str] | None:
    """Extra headers a caller passes: RFC 9110 token names and printable-ASCII values, so a bad
    one is refused here, with its name, instead of failing in httpx and being retried."""
    if not headers:
        return None
    for name, value in headers.items():
        if not isinstance(name, str) or not _HEADER_NAME.fullmatch(name):
            raise _fail(param, f"{name!r} is not a header name (letters, digits, '-', no spaces)")
        check_header_value(f"{param}[{name!r}]", value, max_len=8192)
    return dict(headers)


def check_url(param: str, value: object, *, allow_file_id: bool, local_http: bool) -> str:
    """https URL (max 2048), a ``file_`` id where allowed, http only for loopback when allowed."""
    if not isinstance(value, str) or not value:
        raise _fail(param, "must be a URL string")
    if len(value) > 2048:
        raise _fail(param, f"must be at most 2048 characters (got {len(value)})")
    check_encodable(param, value)
    if allow_file_id and value.startswith("file_"):
        return value
    parts = urlsplit(value)
    if parts.scheme == "https" and parts.netloc:
        return value
    if local_http and parts.scheme == "http" and parts.hostname in ("127.0.0.1", "localhost"):
        return value
    hint = "an https:// URL" + (" or a file_ id" if allow_file_id else "")
    raise _fail(param, f"must be {hint}")


def check_seed(param: str, value: object, lo: int) -> int:
    return check_int(param, value, lo, 2**63 - 1)


def _lora_entries(value: object) -> list[dict[str, Any]]:
    if isinstance(value, (str, bytes)) or not isinstance(value, Sequence):
        raise _fail("loras", "must be a list of (lora, weight) pairs or {lora, weight} dicts")
    if not 1 <= len(value) <= 4:
        raise _fail("loras", f"must have 1 to 4 entries (got {len(value)})")
    out: list[dict[str, Any]] = []
    for i, entry in enumerate(value):
        param = f"loras[{i}]"
        if isinstance(entry, Mapping):
            unknown = set(entry) - {"lora", "weight"}
            if unknown:
                raise _fail(param, f"unknown key(s) {', '.join(sorted(map(str, unknown)))}")
            lora, weight = entry.get("lora"), entry.get("weight", 1.0)
        elif isinstance(entry, (tuple, list)) and len(entry) == 2:  # JSON makes pairs lists
            lora, weight = entry
        else:
            raise _fail(param, "must be a (lora, weight) pair or a {lora, weight} dict")
        out.append(
            {
                "lora": check_id(f"{param}.lora", lora),
                "weight": check_float(f"{param}.weight", weight, 0.0, 2.0),
            }
        )
    return out


# Names other APIs use for a field of ours: what a keyword people reach for most likely meant.
_ALIASES = {
    "lora": "lora_id",
    "style": "lora_id",
    "style_id": "lora_id",
    "lora_ids": "loras",
    "negative": "negative_prompt",
    "n": "count",
    "num_images": "count",
    "num_outputs": "count",
    "guidance": "guidance_scale",
    "cfg_scale": "guidance_scale",
    "num_inference_steps": "steps",
    "image_size": "size",
    "aspect_ratio": "size",
    "references": "reference_image_urls",
    "image_urls": "reference_image_urls",
    "webhook": "webhook_url",
    "first_frame": "first_frame_url",
    "last_frame": "last_frame_url",
}


def closest_name(name: str, names: Sequence[str]) -> str | None:
    """The known name ``name`` most likely meant (a common alias, else the nearest spelling)."""
    alias = _ALIASES.get(name.lower())
    if alias in names:
        return alias
    match = difflib.get_close_matches(name.lower(), list(names), n=1, cutoff=0.6)
    return match[0] if match else None


def _reject_unknown(params: Mapping[str, Any], known: type) -> None:
    names: Mapping[str, Any] = known.__annotations__
    for key in params:
        if key not in names:
            guess = closest_name(key, list(names))
            hint = f"did you mean {guess}?" if guess else f"known: {', '.join(names)}"
            raise ValidationError(key, f"{key}: unknown parameter; {hint}")


# ---------------------------------------------------------------- bodies

_RESOLVE_FIRST = (
    "local images are uploaded by the client's create / estimate / generate; a request "
    "written down first (a ledger job, a Batch) takes {} (file_ ids from client.files.resolve)"
)


def image_body(prompt: object, params: Mapping[str, Any]) -> dict[str, Any]:
    """Validate an image request and return its JSON body (None values are dropped)."""
    params = {k: v for k, v in params.items() if v is not None}
    _reject_unknown(params, ImageParams)
    body: dict[str, Any] = {"prompt": check_text("prompt", prompt)}
    p = params
    if "negative_prompt" in p:
        body["negative_prompt"] = check_text("negative_prompt", p["negative_prompt"])
    if "lora_id" in p and "loras" in p:
        raise ValidationError("loras", "loras: mutually exclusive with lora_id; pass one")
    if "lora_id" in p:
        body["lora_id"] = check_id("lora_id", p["lora_id"])
    if "loras" in p:
        body["loras"] = _lora_entries(p["loras"])
    has_w, has_h = "width" in p, "height" in p
    if "size" in p and (has_w or has_h):
        raise ValidationError("size", "size: cannot be combined with width/height; pass one")
    if "size" in p:
        body["size"] = check_choice("size", p["size"], IMAGE_SIZES)
    if has_w != has_h:
        missing = "height" if has_w else "width"
        raise ValidationError(missing, f"{missing}: width and height must be given together")
    if has_w:
        body["width"] = check_int("width", p["width"], 1024, 4096)
        body["height"] = check_int("height", p["height"], 1024, 4096)
    if "count" in p:
        body["count"] = check_int("count", p["count"], 1, 4)
    if "seed" in p:
        body["seed"] = check_seed("seed", p["seed"], 0)
    if "steps" in p:
        body["steps"] = check_int("steps", p["steps"], 1, 100)
    if "guidance_scale" in p:
        body["guidance_scale"] = check_float("guidance_scale", p["guidance_scale"], 0.1, 30.0)
    if "cfg_rescale" in p:
        body["cfg_rescale"] = check_float("cfg_rescale", p["cfg_rescale"], 0.0, 1.0)
    if "denoise_strength" in p:
        body["denoise_strength"] = check_float("denoise_strength", p["denoise_strength"], 0, 1)
    if "enhance_prompt" in p:
        body["enhance_prompt"] = check_bool("enhance_prompt", p["enhance_prompt"])
    if "reference_images" in p:
        raise _fail("reference_images", _RESOLVE_FIRST.format("reference_image_urls"))
    if "reference_image_urls" in p and "character_id" in p:
        raise ValidationError(
            "reference_image_urls",
            "reference_image_urls: mutually exclusive with character_id; pass one",
        )
    if "reference_image_urls" in p:
        refs = p["reference_image_urls"]
        if isinstance(refs, (str, bytes)) or not isinstance(refs, Sequence) or not refs:
            raise _fail("reference_image_urls", "must be a non-empty list of URLs or file ids")
        body["reference_image_urls"] = [
            check_url(f"reference_image_urls[{i}]", u, allow_file_id=True, local_http=False)
            for i, u in enumerate(refs)
        ]
    if "character_id" in p:
        body["character_id"] = check_id("character_id", p["character_id"])
    if "webhook_url" in p:
        body["webhook_url"] = check_url(
            "webhook_url", p["webhook_url"], allow_file_id=False, local_http=True
        )
    return body


def video_body(video_lora_id: object, params: Mapping[str, Any]) -> dict[str, Any]:
    """Validate a video request and return its JSON body (None values are dropped)."""
    p = {k: v for k, v in params.items() if v is not None}
    _reject_unknown(p, VideoParams)
    body: dict[str, Any] = {"video_lora_id": check_id("video_lora_id", video_lora_id)}
    for name in ("first_frame", "last_frame"):
        if name in p:
            raise _fail(name, _RESOLVE_FIRST.format(f"{name}_url"))
    if "prompt" in p:
        body["prompt"] = check_text("prompt", p["prompt"])
    for name in ("first_frame_url", "last_frame_url"):
        if name in p:
            body[name] = check_url(name, p[name], allow_file_id=True, local_http=False)
    if "last_frame_url" in p and "first_frame_url" not in p:
        raise ValidationError("last_frame_url", "last_frame_url: requires first_frame_url")
    if "resolution" in p:
        body["resolution"] = check_choice("resolution", p["resolution"], VIDEO_RESOLUTIONS)
    if "ratio" in p:
        body["ratio"] = check_choice("ratio", p["ratio"], VIDEO_RATIOS)
    if "duration" in p:
        body["duration"] = check_int("duration", p["duration"], 2, 12)
    if "seed" in p:
        body["seed"] = check_seed("seed", p["seed"], -1)
    for name in ("camera_fixed", "watermark", "enhance_prompt"):
        if name in p:
            body[name] = check_bool(name, p[name])
    if "webhook_url" in p:
        body["webhook_url"] = check_url(
            "webhook_url", p["webhook_url"], allow_file_id=False, local_http=True
        )
    return body


def file_fields(purpose: object, metadata: object) -> dict[str, str]:
    """Form fields of POST /v1/files."""
    fields = {"purpose": check_choice("purpose", purpose, FILE_PURPOSES)}
    if metadata is not None:
        if not isinstance(metadata, Mapping):
            raise _fail("metadata", "must be a dict")
        check_encodable("metadata", metadata)
        fields["metadata"] = canonical_json(dict(metadata), ascii_only=True)
    return fields


def webhook_fields(
    url: object = None,
    events: object = None,
    description: object = None,
    metadata: object = None,
    is_active: object = None,
) -> dict[str, Any]:
    """Body of webhook endpoint create/update (only the fields given)."""
    body: dict[str, Any] = {}
    if url is not None:
        body["url"] = check_url("url", url, allow_file_id=False, local_http=True)
    if events is not None:
        if isinstance(events, str) or not isinstance(events, Sequence) or not events:
            raise _fail("events", 'must be a non-empty list of event types (or ["*"])')
        body["events"] = [check_text(f"events[{i}]", e, 100) for i, e in enumerate(events)]
    if description is not None:
        body["description"] = check_text("description", description, 4000)
    if metadata is not None:
        if not isinstance(metadata, Mapping):
            raise _fail("metadata", "must be a dict")
        if len(metadata) > 50:
            raise _fail("metadata", f"must have at most 50 keys (got {len(metadata)})")
        check_encodable("metadata", metadata)
        for k, v in metadata.items():
            if isinstance(v, str) and len(v) > 500:
                raise _fail(f"metadata.{k}", "values must be at most 500 characters")
        body["metadata"] = dict(metadata)
    if is_active is not None:
        body["is_active"] = check_bool("is_active", is_active)
    return body


def check_limit(value: object, param: str = "limit") -> int:
    return check_int(param, value, 1, 100)

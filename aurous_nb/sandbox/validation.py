"""Validation of the generation bodies (``POST /v1/images``, ``/v1/videos`` and their estimates).

Hand-written rather than schema-driven, to keep per-request work small. Each failure names the
field in ``param``. Codes: a missing field -> ``missing_field``; a wrong JSON type, an unknown enum
value or a malformed URL -> ``invalid_format``; a number or length outside its range ->
``value_out_of_range``.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from aurous_nb.sandbox import catalog
from aurous_nb.sandbox.errors import bad_request, not_found

RATIOS = ("1_1", "3_2", "2_3", "4_3", "3_4", "16_9", "9_16", "21_9")
LEGACY_SIZES: dict[str, tuple[int, int]] = {
    "square": (1024, 1024),
    "landscape": (1536, 1024),
    "portrait": (1024, 1536),
    "hd_square": (2048, 2048),
    "hd_landscape": (2048, 1152),
    "hd_portrait": (1152, 2048),
}
VIDEO_RESOLUTIONS = ("480p", "720p", "1080p")
VIDEO_RATIOS = ("16:9", "4:3", "1:1", "3:4", "9:16", "21:9")
MAX_REFERENCES = 8
SEED_MAX = 2**32 - 1
PROMPT_MAX = 4000
URL_MAX = 2048
LOOPBACK_HOSTS = ("127.0.0.1", "localhost", "[::1]")

FileExists = Callable[[str], bool]
#: the status of the team's visible character with this id, None when there is none for it
CharacterStatus = Callable[[str], "str | None"]


def snap32(value: float) -> int:
    """The nearest multiple of 32 (halves round up)."""
    return int(value / 32 + 0.5) * 32


def _preset_size(tier: str, ratio: str) -> tuple[int, int]:
    long_side = 2048 if tier == "2k" else 4096
    w, h = (int(x) for x in ratio.split("_"))
    if w >= h:
        return long_side, snap32(long_side * h / w)
    return snap32(long_side * w / h), long_side


SIZE_PRESETS: dict[str, tuple[int, int]] = {
    **{f"{t}_{r}": _preset_size(t, r) for t in ("2k", "4k") for r in RATIOS},
    **LEGACY_SIZES,
}


def _reject_constant(name: str) -> Any:
    """``NaN`` and ``Infinity`` are not JSON; Python's parser would accept them."""
    raise ValueError(f"{name} is not valid JSON")


def parse_json_object(raw: str | bytes) -> dict[str, Any]:
    """The body as a JSON object; anything else is 400 ``invalid_format`` (never a 500)."""
    if not raw.strip():
        raise bad_request("invalid_format", "The request body must be a JSON object.")
    try:
        value = json.loads(raw, parse_constant=_reject_constant)
    except (ValueError, UnicodeDecodeError, RecursionError):
        raise bad_request("invalid_format", "The request body is not valid JSON.") from None
    if not isinstance(value, dict):
        raise bad_request("invalid_format", "The request body must be a JSON object.")
    check_unicode(value)
    return value


def check_unicode(value: Any, param: str = "") -> None:
    """Refuse a string holding a lone surrogate (JSON's ``"\\ud800"``): it is no Unicode text,
    has no UTF-8 form, and once stored it would break every later answer that includes it."""
    if isinstance(value, str):
        try:
            value.encode("utf-8")
        except UnicodeEncodeError as exc:
            raise bad_request(
                "invalid_format",
                f"'{param or 'body'}' holds a lone surrogate (\\u{ord(value[exc.start]):04x} at "
                f"position {exc.start}); text must be valid Unicode that UTF-8 can encode.",
                param or None,
            ) from None
    elif isinstance(value, dict):
        for key, item in value.items():
            name = key.encode("utf-8", "backslashreplace").decode()
            check_unicode(key, f"{param}.{name}" if param else name)
            check_unicode(item, f"{param}.{name}" if param else name)
    elif isinstance(value, list):
        for i, item in enumerate(value):
            check_unicode(item, f"{param}[{i}]")


# -- field readers -------------------------------------------------------------------------------


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def get_str(body: dict[str, Any], name: str, *, required: bool = False) -> str | None:
    value = body.get(name)
    if value is None:
        if required:
            raise bad_request("missing_field", f"'{name}' is required.", name)
        return None
    if not isinstance(value, str):
        raise bad_request("invalid_format", f"'{name}' must be a string.", name)
    return value


def get_text(body: dict[str, Any], name: str, *, required: bool = False) -> str | None:
    """A prompt-like string: 1..4000 characters and not only whitespace."""
    value = get_str(body, name, required=required)
    if value is None:
        return None
    if not 1 <= len(value) <= PROMPT_MAX:
        raise bad_request(
            "value_out_of_range", f"'{name}' must be 1 to {PROMPT_MAX} characters.", name
        )
    if not value.strip():
        raise bad_request("invalid_format", f"'{name}' must not be blank.", name)
    return value


def get_int(
    body: dict[str, Any], name: str, lo: int, hi: int, *, param: str | None = None
) -> int | None:
    value = body.get(name)
    param = param or name
    if value is None:
        return None
    if not _is_int(value):
        raise bad_request("invalid_format", f"'{param}' must be an integer.", param)
    if not lo <= value <= hi:
        raise bad_request("value_out_of_range", f"'{param}' must be between {lo} and {hi}.", param)
    return int(value)


def get_number(
    body: dict[str, Any], name: str, lo: float, hi: float, *, param: str | None = None
) -> float | None:
    value = body.get(name)
    param = param or name
    if value is None:
        return None
    if not _is_number(value):
        raise bad_request("invalid_format", f"'{param}' must be a number.", param)
    if not lo <= value <= hi:
        raise bad_request("value_out_of_range", f"'{param}' must be between {lo} and {hi}.", param)
    return float(value)


def get_bool(body: dict[str, Any], name: str) -> bool | None:
    value = body.get(name)
    if value is None:
        return None
    if not isinstance(value, bool):
        raise bad_request("invalid_format", f"'{name}' must be a boolean.", name)
    return value


def get_seed(body: dict[str, Any]) -> int | None:
    """``seed``: 0..2**32-1; ``-1`` (or omitted) means "pick one"."""
    value = body.get("seed")
    if value == -1 and _is_int(value):
        return None
    return get_int(body, "seed", 0, SEED_MAX)


def check_url(value: str, param: str, *, allow_loopback_http: bool = False) -> str:
    """An ``https://`` URL of at most 2048 characters (loopback http where the sandbox allows)."""
    if len(value) > URL_MAX:
        raise bad_request(
            "value_out_of_range", f"'{param}' must be at most {URL_MAX} chars.", param
        )
    if value.startswith("https://") and len(value) > len("https://"):
        return value
    if allow_loopback_http and value.startswith("http://"):
        host = value[len("http://") :].split("/", 1)[0]
        host = host.rsplit(":", 1)[0] if not host.endswith("]") else host
        if host in LOOPBACK_HOSTS:
            return value
    raise bad_request("invalid_format", f"'{param}' must be an https:// URL.", param)


def check_media_ref(value: Any, param: str, file_exists: FileExists) -> str:
    """A ``file_`` id that exists, or an https URL."""
    if not isinstance(value, str):
        raise bad_request("invalid_format", f"'{param}' must be a string.", param)
    if value.startswith("file_"):
        if not file_exists(value):
            raise not_found("File", param)
        return value
    return check_url(value, param)


# -- images --------------------------------------------------------------------------------------


@dataclass
class LoraPick:
    """One resolved LoRA of a request, with its stacking weight."""

    lora: catalog.ImageLora
    weight: float = 1.0


@dataclass
class ImageRequest:
    """A validated ``POST /v1/images`` body with platform and style defaults filled in."""

    prompt: str
    negative_prompt: str | None
    loras: list[LoraPick]
    reference_image_urls: list[str]
    size_preset: str | None
    width: int
    height: int
    steps: int
    guidance_scale: float
    cfg_rescale: float
    denoise_strength: float
    seed: int | None
    count: int
    enhance_prompt: bool
    webhook_url: str | None
    raw: dict[str, Any] = field(default_factory=dict)
    character_id: str | None = None

    @property
    def style(self) -> str | None:
        """The slug the renderer draws with: the heaviest LoRA of the stack."""
        if not self.loras:
            return None
        return max(self.loras, key=lambda pick: pick.weight).lora.slug

    @property
    def inference_type(self) -> str:
        return "i2i" if self.reference_image_urls or self.character_id else "t2i"


def _image_lora(ref: Any, param: str) -> catalog.ImageLora:
    if not isinstance(ref, str) or not ref:
        raise bad_request("invalid_format", f"'{param}' must be a LoRA id or slug.", param)
    lora = catalog.find_image_lora(ref)
    if lora is None:
        if catalog.find_video_lora(ref) is not None:
            raise bad_request(
                "unsupported_lora_for_mode",
                f"'{param}' is a video LoRA; image generations need an image LoRA.",
                param,
            )
        raise not_found("LoRA", param)
    return lora


def _loras(body: dict[str, Any]) -> list[LoraPick]:
    has_single = body.get("lora_id") is not None
    stack = body.get("loras")
    if has_single and stack is not None:
        raise bad_request(
            "mutually_exclusive_input", "Send either 'lora_id' or 'loras', not both.", "loras"
        )
    if has_single:
        return [LoraPick(_image_lora(body["lora_id"], "lora_id"))]
    if stack is None:
        return []
    if not isinstance(stack, list):
        raise bad_request("invalid_format", "'loras' must be an array.", "loras")
    if not 1 <= len(stack) <= 4:
        raise bad_request("value_out_of_range", "'loras' takes 1 to 4 entries.", "loras")
    picks = []
    for i, entry in enumerate(stack):
        param = f"loras[{i}]"
        if not isinstance(entry, dict):
            raise bad_request("invalid_format", f"'{param}' must be an object.", param)
        if entry.get("lora") is None:
            raise bad_request("missing_field", f"'{param}.lora' is required.", f"{param}.lora")
        weight = get_number(entry, "weight", 0.0, 2.0, param=f"{param}.weight")
        lora = _image_lora(entry["lora"], f"{param}.lora")
        picks.append(LoraPick(lora, 1.0 if weight is None else weight))
    return picks


def _size(body: dict[str, Any]) -> tuple[str | None, int, int]:
    size = get_str(body, "size")
    has_w, has_h = body.get("width") is not None, body.get("height") is not None
    if size is not None and (has_w or has_h):
        raise bad_request(
            "parameter_invalid_combination",
            "Send either 'size' or 'width'/'height', not both.",
            "size",
        )
    if size is not None:
        if size not in SIZE_PRESETS:
            raise bad_request("invalid_format", f"Unknown size preset {size!r}.", "size")
        w, h = SIZE_PRESETS[size]
        return size, w, h
    if has_w != has_h:
        missing = "height" if has_w else "width"
        raise bad_request("missing_field", "'width' and 'height' go together.", missing)
    if not has_w:
        return None, 1024, 1024
    width = get_int(body, "width", 1024, 4096)
    height = get_int(body, "height", 1024, 4096)
    assert width is not None and height is not None
    return None, snap32(width), snap32(height)


def _references(body: dict[str, Any], file_exists: FileExists) -> list[str]:
    refs = body.get("reference_image_urls")
    if refs is None:
        return []
    if not isinstance(refs, list):
        raise bad_request(
            "invalid_format", "'reference_image_urls' must be an array.", "reference_image_urls"
        )
    if len(refs) > MAX_REFERENCES:
        raise bad_request(
            "value_out_of_range",
            f"At most {MAX_REFERENCES} reference images.",
            "reference_image_urls",
        )
    return [
        check_media_ref(ref, f"reference_image_urls[{i}]", file_exists)
        for i, ref in enumerate(refs)
    ]


def _character(body: dict[str, Any], status_of: CharacterStatus | None) -> str | None:
    """``character_id``: the team's character, ``ready`` (404 for unknown, deleted or another
    team's; 400 ``character_not_ready`` while it synthesizes, awaits review or has failed)."""
    if body.get("character_id") is None:
        return None
    char_id = get_str(body, "character_id")
    assert char_id is not None
    if body.get("reference_image_urls") is not None:
        raise bad_request(
            "mutually_exclusive_input",
            "Send either 'character_id' or 'reference_image_urls', not both.",
            "character_id",
        )
    status = status_of(char_id) if status_of is not None else None
    if status is None:
        raise not_found("Character", "character_id")
    if status != "ready":
        raise bad_request(
            "character_not_ready",
            f"The character is '{status}'; only a 'ready' character can be used.",
            "character_id",
        )
    return char_id


def _webhook_url(body: dict[str, Any]) -> str | None:
    url = get_str(body, "webhook_url")
    return None if url is None else check_url(url, "webhook_url", allow_loopback_http=True)


def image_request(
    body: dict[str, Any], file_exists: FileExists, character_status: CharacterStatus | None = None
) -> ImageRequest:
    """Validate an image body (create and estimate share it)."""
    prompt = get_text(body, "prompt", required=True)
    assert prompt is not None
    negative = get_text(body, "negative_prompt")
    size_preset, width, height = _size(body)
    steps = get_int(body, "steps", 1, 100)
    guidance = get_number(body, "guidance_scale", 0.1, 30.0)
    cfg_rescale = get_number(body, "cfg_rescale", 0.0, 1.0)
    denoise = get_number(body, "denoise_strength", 0.0, 1.0)
    count = get_int(body, "count", 1, 4)
    seed = get_seed(body)
    enhance = get_bool(body, "enhance_prompt")
    webhook_url = _webhook_url(body)
    loras = _loras(body)
    character_id = _character(body, character_status)
    refs = _references(body, file_exists)
    style = loras[0].lora if loras else None
    return ImageRequest(
        prompt=prompt,
        negative_prompt=negative,
        loras=loras,
        reference_image_urls=refs,
        size_preset=size_preset,
        width=width,
        height=height,
        steps=steps if steps is not None else (style.default_steps if style else 30),
        guidance_scale=guidance
        if guidance is not None
        else (style.default_guidance_scale if style else 7.5),
        cfg_rescale=cfg_rescale if cfg_rescale is not None else 0.0,
        denoise_strength=denoise
        if denoise is not None
        else (style.default_denoise_strength if style else 0.8),
        seed=seed,
        count=count if count is not None else 1,
        enhance_prompt=bool(enhance),
        webhook_url=webhook_url,
        raw=body,
        character_id=character_id,
    )


# -- videos --------------------------------------------------------------------------------------


@dataclass
class VideoRequest:
    """A validated ``POST /v1/videos`` body with the video LoRA's defaults filled in."""

    lora: catalog.VideoLora
    prompt: str | None
    first_frame_url: str | None
    last_frame_url: str | None
    resolution: str
    ratio: str
    duration: int
    seed: int | None
    camera_fixed: bool | None
    watermark: bool
    enhance_prompt: bool
    webhook_url: str | None
    raw: dict[str, Any] = field(default_factory=dict)

    @property
    def inference_type(self) -> str:
        return "i2v" if self.first_frame_url else "t2v"


def _video_lora(body: dict[str, Any]) -> catalog.VideoLora:
    ref = get_str(body, "video_lora_id", required=True)
    assert ref is not None
    lora = catalog.find_video_lora(ref)
    if lora is not None:
        return lora
    if catalog.find_image_lora(ref) is not None:
        raise bad_request(
            "unsupported_lora_for_mode",
            "'video_lora_id' names an image LoRA; videos need a video LoRA.",
            "video_lora_id",
        )
    raise not_found("Video LoRA", "video_lora_id")


def _enum(body: dict[str, Any], name: str, allowed: tuple[str, ...], default: str) -> str:
    value = get_str(body, name)
    if value is None:
        return default
    if value not in allowed:
        raise bad_request("invalid_format", f"'{name}' must be one of {', '.join(allowed)}.", name)
    return value


def video_request(body: dict[str, Any], file_exists: FileExists) -> VideoRequest:
    """Validate a video body (create and estimate share it)."""
    lora = _video_lora(body)
    prompt = get_text(body, "prompt")
    first = body.get("first_frame_url")
    last = body.get("last_frame_url")
    if last is not None and first is None:
        raise bad_request(
            "missing_field", "'last_frame_url' needs a 'first_frame_url'.", "first_frame_url"
        )
    first_url = None if first is None else check_media_ref(first, "first_frame_url", file_exists)
    last_url = None if last is None else check_media_ref(last, "last_frame_url", file_exists)
    duration = get_int(body, "duration", 2, 12)
    seed = get_seed(body)
    camera_fixed = get_bool(body, "camera_fixed")
    watermark = get_bool(body, "watermark")
    enhance = get_bool(body, "enhance_prompt")
    return VideoRequest(
        lora=lora,
        prompt=prompt,
        first_frame_url=first_url,
        last_frame_url=last_url,
        resolution=_enum(body, "resolution", VIDEO_RESOLUTIONS, lora.default_resolution),
        ratio=_enum(body, "ratio", VIDEO_RATIOS, lora.default_ratio),
        duration=duration if duration is not None else lora.default_duration,
        seed=seed,
        camera_fixed=camera_fixed,
        watermark=bool(watermark),
        enhance_prompt=bool(enhance),
        webhook_url=_webhook_url(body),
        raw=body,
    )


def screen(request: ImageRequest | VideoRequest, word: str | None) -> None:
    """400 ``prompt_blocked`` / ``reference_blocked`` when the prompt or a reference URL contains
    the sandbox's ``blocked_word`` (any case); create and estimate both run it."""
    if not word:
        return
    needle = word.casefold()
    if request.prompt and needle in request.prompt.casefold():
        raise bad_request(
            "prompt_blocked", "The prompt was blocked by the content filter.", "prompt"
        )
    refs: list[tuple[str, str | None]]
    if isinstance(request, ImageRequest):
        refs = [
            (f"reference_image_urls[{i}]", u) for i, u in enumerate(request.reference_image_urls)
        ]
    else:
        refs = [
            ("first_frame_url", request.first_frame_url),
            ("last_frame_url", request.last_frame_url),
        ]
    for param, url in refs:
        if url and needle in url.casefold():
            raise bad_request(
                "reference_blocked", "A reference image was blocked by the content filter.", param
            )

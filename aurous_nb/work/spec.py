"""What a batch is made of: job specs (one create each) and the grid expansion.

A spec is the create call's keyword arguments plus the media type, and a *stable key*: the same
request (or the same grid cell) gets the same key every time the cell runs, so the batch engine
can derive idempotency keys from it and a re-run or a restarted kernel finds its jobs again in
the ledger instead of buying them twice.
"""

from __future__ import annotations

import hashlib
import itertools
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from aurous_nb.canonical import canonical_json

__all__ = ["JobSpec", "grid", "image", "specs_from", "video"]


def _canonical(value: Any) -> str:
    # ``None`` kept and ``str`` for the rest: the keys batches already wrote were made so.
    return canonical_json(value, default=str)


def _digest(value: Any, size: int = 16) -> str:
    return hashlib.sha256(_canonical(value).encode()).hexdigest()[:size]


@dataclass(frozen=True)
class JobSpec:
    """One create: ``media_type`` ("image" or "video") and the create call's keyword arguments.

    ``request`` is what ``client.images.create(**request)`` (or ``client.videos.create``) takes:
    ``prompt`` first for images, ``video_lora_id`` for videos. ``cell`` names a grid cell
    (prompt, lora, size, seed, count) and ``key`` is the spec's stable identity.
    """

    media_type: str
    request: Mapping[str, Any]
    cell: tuple[Any, ...] | None = None
    key: str = field(default="")

    def __post_init__(self) -> None:
        if self.media_type not in ("image", "video"):
            raise ValueError(f"media_type must be 'image' or 'video', not {self.media_type!r}")
        need = "prompt" if self.media_type == "image" else "video_lora_id"
        if not self.request.get(need):
            raise ValueError(f"an {self.media_type} job needs {need!r}")
        clean = {k: v for k, v in self.request.items() if v is not None}
        from aurous_nb.client._params import check_encodable

        check_encodable("", clean)  # before the key is hashed from it
        object.__setattr__(self, "request", clean)
        if not self.key:
            ident = {"m": self.media_type, "r": clean, "c": self.cell}
            object.__setattr__(self, "key", _digest(ident))

    @property
    def prompt(self) -> str | None:
        value = self.request.get("prompt")
        return str(value) if value is not None else None

    def price_shape(self) -> str:
        """What decides the price (prompt text, seed and style do not): for estimate reuse."""
        ignore = {"prompt", "negative_prompt", "seed", "webhook_url", "lora_id", "loras"}
        keep = {k: v for k, v in self.request.items() if k not in ignore}
        if "reference_image_urls" in keep:
            keep["reference_image_urls"] = len(keep["reference_image_urls"])
        if self.media_type == "video":
            keep["video_lora_id"] = self.request.get("video_lora_id")
        return _canonical({"m": self.media_type, "r": keep})


def image(prompt: str, **params: Any) -> JobSpec:
    """An image job: ``image("a fox", lora_id="golden-hour", size="2k_1_1", count=2)``."""
    return JobSpec("image", {"prompt": prompt, **params})


def video(video_lora_id: str, **params: Any) -> JobSpec:
    """A video job: ``video("seedance-1-lite", prompt="waves", resolution="480p")``."""
    return JobSpec("video", {"video_lora_id": video_lora_id, **params})


def specs_from(items: Iterable[JobSpec | Mapping[str, Any]]) -> list[JobSpec]:
    """Specs from specs or plain dicts (a dict with ``video_lora_id`` is a video job).

    Identical requests are told apart by their occurrence, so two equal dicts stay two jobs.
    """
    out: list[JobSpec] = []
    seen: dict[str, int] = {}
    for item in items:
        if isinstance(item, JobSpec):
            spec = item
        elif isinstance(item, Mapping):
            data = dict(item)
            kind = data.pop("media_type", None) or ("video" if "video_lora_id" in data else "image")
            spec = JobSpec(str(kind), data)
        else:
            raise TypeError(f"a batch takes JobSpec objects or dicts, not {type(item).__name__}")
        n = seen.get(spec.key, 0)
        seen[spec.key] = n + 1
        if n:
            spec = JobSpec(spec.media_type, spec.request, spec.cell, f"{spec.key}.{n}")
        out.append(spec)
    return out


def _axis(values: Sequence[Any] | Any | None) -> list[Any]:
    if values is None:
        return [None]
    if isinstance(values, (str, bytes, int, float)) or not isinstance(values, Iterable):
        return [values]
    return list(values) or [None]


def grid(
    prompts: Sequence[str] | str,
    loras: Sequence[str | None] | str | None = None,
    sizes: Sequence[str | None] | str | None = None,
    seeds: Sequence[int | None] | int | None = None,
    counts: Sequence[int | None] | int | None = None,
    **common: Any,
) -> list[JobSpec]:
    """Every combination of prompts x LoRAs x sizes x seeds x counts, one image job per cell.

    ``None`` on an axis (or in it) leaves that field to the platform (a LoRA of ``None`` lets
    the dispatcher choose). ``common`` goes into every request (``negative_prompt``, ``steps``).
    Each spec's ``cell`` is ``(prompt, lora, size, seed, count)``; its key depends on the cell's
    values, not its position, so reordering an axis keeps every cell's identity.
    """
    out = []
    for prompt, lora, size, seed, count in itertools.product(
        _axis(prompts), _axis(loras), _axis(sizes), _axis(seeds), _axis(counts)
    ):
        request = {
            "prompt": prompt,
            **common,
            "lora_id": lora,
            "size": size,
            "seed": seed,
            "count": count,
        }
        out.append(JobSpec("image", request, cell=(prompt, lora, size, seed, count)))
    return specs_from(out)

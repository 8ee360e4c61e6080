"""What a batch is made of: job specs (one create each) and the grid expansion.

The grid's axes live here, and only here: the five it always had (prompt, LoRA, size, seed,
count) and any other field ``images.create`` takes (``cfg_rescale``, ``negative_prompt``,
``enhance_prompt``, ``character``...), plus ``prompt_sr`` (A1111's prompt search/replace: the
first value is searched in every prompt and each value replaces it), ``lora_weight`` (the
cell's LoRA at that weight) and ``loras`` (whole stacks, ``"a:0.8,b:0.5"``). The widget, the
magic and :class:`~aurous_nb.batch.Batch` all expand grids through :func:`grid`.

A spec is the create call's keyword arguments plus the media type, and a *stable key*: the same
request (or the same grid cell) gets the same key every time the cell runs, so the batch engine
can derive idempotency keys from it and a re-run or a restarted kernel finds its jobs again in
the ledger instead of buying them twice.
"""

from __future__ import annotations

import dataclasses
import difflib
import hashlib
import itertools
import os
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from aurous_nb.canonical import canonical_json

__all__ = [
    "BASE_AXES",
    "JobSpec",
    "References",
    "grid",
    "grid_axes",
    "grid_name",
    "image",
    "parse_stack",
    "specs_from",
    "video",
]

#: The axes every grid has, in the order of a cell (its key depends on that order).
BASE_AXES = ("prompt", "lora", "size", "seed", "count")
#: Axis names that are not the request field's own name.
_FIELDS = {"lora": "lora_id", "character": "character_id", "negative": "negative_prompt"}
_SPECIAL = ("prompt_sr", "lora_weight", "loras")
_PLURAL = {
    "prompt": "prompts",
    "lora": "loras",
    "size": "sizes",
    "seed": "seeds",
    "count": "counts",
}


def _canonical(value: Any) -> str:
    # ``None`` kept and ``str`` for the rest: the keys batches already wrote were made so.
    return canonical_json(value, default=str)


def _digest(value: Any, size: int = 16) -> str:
    return hashlib.sha256(_canonical(value).encode()).hexdigest()[:size]


@dataclass(frozen=True, eq=False)
class References:
    """``reference_images`` read and checked once: a job's key is made from ``keys`` (a
    picture's content hash, a generation's output, a ``file_`` id or an https URL), so the same
    picture under another path, or uploaded again under a new file id, is the same job; the
    data waits in ``sources`` until the create, when it is uploaded (once per content)."""

    keys: tuple[str, ...]
    sources: Mapping[str, Any] = field(repr=False)
    names: tuple[str, ...] = ()

    def __eq__(self, other: object) -> bool:
        return isinstance(other, References) and other.keys == self.keys

    def __hash__(self) -> int:
        return hash(self.keys)

    def __str__(self) -> str:  # what canonical JSON (and so the key) reads
        return ",".join(self.keys)

    @property
    def label(self) -> str:
        return " + ".join(self.names or self.keys)

    def wire_sources(self) -> list[Any]:
        """What ``client.files.resolve_many`` takes: the bytes, the generation, or the
        wire string itself."""
        out: list[Any] = []
        for key in self.keys:
            source = self.sources.get(key)
            if source is None:
                out.append(key)
            elif hasattr(source, "data"):
                out.append(source.data)
            else:
                out.append(source.generation or source.generation_id)
        return out


def references(value: Any, param: str = "reference_images") -> References:
    """``value`` (one reference or a list: paths, PIL images, bytes, Generations or ids,
    ``file_`` ids, https URLs) read and checked now, before anything is priced or uploaded."""
    if isinstance(value, References):
        return value
    from aurous_nb.client.errors import ValidationError
    from aurous_nb.client.models import Generation
    from aurous_nb.client.references import MAX_REFERENCES, _is_pil, prepare

    if isinstance(value, (str, bytes, bytearray, memoryview, os.PathLike, Generation)) or _is_pil(
        value
    ):
        value = [value]
    if not isinstance(value, Sequence) or not value:
        raise ValidationError(param, f"{param}: must be a non-empty list of references")
    if len(value) > MAX_REFERENCES:
        raise ValidationError(
            param, f"{param}: at most {MAX_REFERENCES} references (got {len(value)})"
        )
    keys: list[str] = []
    names: list[str] = []
    sources: dict[str, Any] = {}
    for i, item in enumerate(value):
        ready = prepare(item, f"{param}[{i}]")
        if isinstance(ready, str):
            keys.append(ready)
        else:
            keys.append(ready.key)
            sources[ready.key] = ready
        names.append(_ref_name(item, keys[-1]))
    return References(tuple(keys), sources, tuple(names))


def _ref_name(item: Any, key: str) -> str:
    if isinstance(item, os.PathLike):
        return str(os.fspath(item)).rsplit("/", 1)[-1]
    if isinstance(item, str):
        return item.rsplit("/", 1)[-1] if "/" in item and "://" not in item else item
    if isinstance(item, (bytes, bytearray, memoryview)):
        return f"bytes {key[7:15]}"
    if getattr(item, "id", None):
        return str(item.id)
    return f"image {key[7:15]}"


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
    axes: tuple[str, ...] = ()  # the names of ``cell``'s values (not part of the key)
    #: ``reference_images`` read and checked; ``request`` holds their keys (see References)
    refs: References | None = field(default=None, compare=False, repr=False)

    def __post_init__(self) -> None:
        if self.media_type not in ("image", "video"):
            raise ValueError(f"media_type must be 'image' or 'video', not {self.media_type!r}")
        need = "prompt" if self.media_type == "image" else "video_lora_id"
        if not self.request.get(need):
            raise ValueError(f"an {self.media_type} job needs {need!r}")
        clean = {k: v for k, v in self.request.items() if v is not None}
        given = clean.get("reference_images")
        if given is not None:
            if isinstance(given, References):
                refs = given
            elif (
                self.refs is not None and isinstance(given, list) and given == list(self.refs.keys)
            ):
                refs = self.refs  # a copy of a spec (dataclasses.replace): already read
            else:
                refs = references(given)
            clean["reference_images"] = list(refs.keys)
            object.__setattr__(self, "refs", refs)
        from aurous_nb.client._params import check_encodable

        check_encodable("", clean)  # before the key is hashed from it
        object.__setattr__(self, "request", clean)
        if not self.key:
            ident = {"m": self.media_type, "r": clean, "c": self.cell}
            object.__setattr__(self, "key", _digest(ident))

    @property
    def values(self) -> dict[str, Any]:
        """The grid cell as ``{axis: value}`` (empty for a spec that is no grid cell)."""
        names = self.axes or (BASE_AXES if self.cell and len(self.cell) == 5 else ())
        return dict(zip(names, self.cell or (), strict=False))

    @property
    def prompt(self) -> str | None:
        value = self.request.get("prompt")
        return str(value) if value is not None else None

    def price_shape(self) -> str:
        """What decides the price (prompt text, seed and style do not): for estimate reuse."""
        ignore = {"prompt", "negative_prompt", "seed", "webhook_url", "lora_id", "loras"}
        keep = {k: v for k, v in self.request.items() if k not in ignore}
        for name in ("reference_image_urls", "reference_images"):
            if name in keep:
                keep[name] = len(keep[name])
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
            spec = dataclasses.replace(spec, key=f"{spec.key}.{n}")
        out.append(spec)
    return out


def _axis(values: Sequence[Any] | Any | None) -> list[Any]:
    if values is None:
        return [None]
    if isinstance(values, (str, bytes, int, float)) or not isinstance(values, Iterable):
        return [values]
    return list(values) or [None]


def grid_axes(
    prompts: Sequence[str] | str | None = None,
    loras: Sequence[str | None] | str | None = None,
    sizes: Sequence[str | None] | str | None = None,
    seeds: Sequence[int | None] | int | None = None,
    counts: Sequence[int | None] | int | None = None,
    axes: Mapping[str, Any] | None = None,
) -> list[tuple[str, list[Any]]]:
    """Every axis of a grid as ``(name, values)``: the five base ones first, then ``axes``.

    Raises ``ValueError`` naming the axis for an unknown field, an axis given twice, a
    ``prompt_sr`` whose first value is in no prompt, or a ``lora_weight`` without a LoRA.
    """
    from aurous_nb.client._params import ImageParams

    base: dict[str, Any] = {
        "prompt": prompts,
        "lora": loras,
        "size": sizes,
        "seed": seeds,
        "count": counts,
    }
    extra: list[tuple[str, list[Any]]] = []
    known = set(ImageParams.__annotations__) | set(_FIELDS) | set(_SPECIAL) | set(BASE_AXES)
    for name, values in (axes or {}).items():
        if name in base:
            if base[name] is not None:
                raise ValueError(f"give {_PLURAL[name]} once: as an argument or as an axis")
            base[name] = values
        elif name in ("lora_id", "prompt"):
            raise ValueError(f"axis {name!r}: call it {'lora' if name == 'lora_id' else name}")
        elif name not in known or name == "webhook_url":
            guess = difflib.get_close_matches(name, sorted(known), n=1)
            hint = f"; did you mean {guess[0]}?" if guess else ""
            raise ValueError(f"axis {name!r} is no field of images.create{hint}")
        else:
            extra.append((name, _axis(values)))
    out = [(name, _axis(base[name])) for name in BASE_AXES] + extra
    if out[0][1] == [None]:
        raise ValueError("a grid needs at least one prompt")
    for name, values in extra:
        if name == "prompt_sr":
            needle = str(values[0])
            if not any(needle in str(p) for p in out[0][1]):
                raise ValueError(
                    f"prompt_sr: {needle!r} is in no prompt (its first value is searched)"
                )
        if name == "lora_weight" and None in out[1][1] and None not in values:
            raise ValueError("lora_weight needs a lora in every cell (add a lora axis)")
        if name == "loras":
            for value in values:
                parse_stack(value)
    for i, (name, values) in enumerate(out):
        if name == "reference_images":  # each value read and checked once, keyed by content
            out[i] = (name, [None if v is None else references(v, name) for v in values])
    return out


def parse_stack(value: Any) -> list[tuple[Any, Any]] | None:
    """A LoRA stack as ``[(lora, weight), ...]``: from ``"a:0.8,b:0.5"`` (weight 1 when left
    out), a list of pairs or ``{lora, weight}`` dicts; ``None`` for no stack."""
    if value is None:
        return None
    items: list[Any] = value.split(",") if isinstance(value, str) else list(value)
    out: list[tuple[Any, Any]] = []
    for item in items:
        if isinstance(item, str):
            name, sep, weight = item.strip().rpartition(":")
            try:
                out.append((name, float(weight)) if sep else (item.strip(), 1.0))
            except ValueError:
                raise ValueError(f"loras: {item!r} is not NAME or NAME:WEIGHT") from None
        elif isinstance(item, Mapping):
            out.append((item.get("lora"), item.get("weight", 1.0)))
        else:
            lora, weight = item
            out.append((lora, weight))
    return out


def _cell_request(
    values: Mapping[str, Any], common: Mapping[str, Any], needle: str | None
) -> dict[str, Any]:
    """The create arguments of one cell (``needle``: what ``prompt_sr`` replaces)."""
    request: dict[str, Any] = {
        "prompt": values["prompt"],
        **common,
        "lora_id": values["lora"],
        "size": values["size"],
        "seed": values["seed"],
        "count": values["count"],
    }
    for name, value in values.items():
        if name in BASE_AXES or name == "lora_weight":
            continue
        if name == "prompt_sr" and needle is not None:
            request["prompt"] = str(request["prompt"]).replace(needle, str(value))
        elif name == "loras":
            request["loras"] = parse_stack(value)
        else:
            request[_FIELDS.get(name, name)] = value
    weight = values.get("lora_weight")
    if weight is not None and values["lora"] is not None:
        request["loras"] = [(values["lora"], weight)]
        request["lora_id"] = None
    return request


def grid(
    prompts: Sequence[str] | str | None = None,
    loras: Sequence[str | None] | str | None = None,
    sizes: Sequence[str | None] | str | None = None,
    seeds: Sequence[int | None] | int | None = None,
    counts: Sequence[int | None] | int | None = None,
    *,
    axes: Mapping[str, Any] | None = None,
    **common: Any,
) -> list[JobSpec]:
    """Every combination of the grid's axes, one image job per cell.

    ``prompts x loras x sizes x seeds x counts`` as ever, times each of ``axes``
    (``{"cfg_rescale": [0.2, 0.8], "prompt_sr": ["fox", "owl"]}``: see the module's doc).
    ``None`` on an axis (or in it) leaves that field to the platform (a LoRA of ``None`` lets
    the dispatcher choose). ``common`` goes into every request (``negative_prompt``, ``steps``).
    Each spec's ``cell`` holds its values in axis order and ``values`` names them; its key
    depends on the cell's values, not its position, so reordering an axis keeps every cell's
    identity (and a grid without extra axes keeps the keys it always had).
    """
    named = grid_axes(prompts, loras, sizes, seeds, counts, axes)
    if common.get("reference_images") is not None:  # read once for every cell
        common = {**common, "reference_images": references(common["reference_images"])}
    names = tuple(n for n, _ in named)
    needle = next((str(v[0]) for n, v in named if n == "prompt_sr"), None)
    out = []
    for cell in itertools.product(*(v for _, v in named)):
        values = dict(zip(names, cell, strict=True))
        request = _cell_request(values, common, needle)
        out.append(JobSpec("image", request, cell=tuple(cell), axes=names))
    return specs_from(out)


def grid_name(
    prompts: Sequence[str],
    loras: Sequence[Any],
    sizes: Sequence[Any],
    seeds: Sequence[Any],
    count: Any,
    params: Mapping[str, Any],
    axes: Sequence[tuple[str, Sequence[Any]]] = (),
) -> str:
    """A grid's stable name, so the same grid finds its jobs again after a restart.

    Spaced ASCII JSON of ``[prompts, columns, count, params]`` (the form names were first
    written in), with the extra axes appended only when there are some.
    """
    columns = [[lo, si, se] for lo in loras for si in sizes for se in seeds]
    params = dict(params)
    if params.get("reference_images") is not None:  # named by their content, not their paths
        params["reference_images"] = references(params["reference_images"])
    ident: list[Any] = [list(prompts), columns, count, params]
    if axes:
        ident.append([[n, list(v)] for n, v in axes])
    text = canonical_json(ident, spaced=True, ascii_only=True, default=str)
    return "grid-" + hashlib.sha256(text.encode()).hexdigest()[:16]

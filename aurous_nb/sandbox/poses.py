"""Deterministic reference poses of a synthesized character (the sandbox's stand-in renders).

One person in four poses: the skin, hair and eye colours and the build come from the
attributes (and the name), so the four refs of a character visibly belong together and two
characters visibly differ; ``round`` (bumped by resynthesize / regenerate) moves the background
and the small details. The pose name is kept in a PNG text chunk, which ``uploads/classify``
reads back when such a render is uploaded again.
"""

from __future__ import annotations

import io
from typing import Any

from PIL import Image, ImageDraw
from PIL.PngImagePlugin import PngInfo

from aurous_nb.sandbox.render import draw_caption, seeded_rng
from aurous_nb.sandbox.scenes import RGB, gradient, mix, shade

SIZE = 384
POSE_CHUNK = "aurous-pose"

_HAIR: dict[str, RGB] = {
    "black": (28, 24, 26),
    "brown": (98, 62, 36),
    "blonde": (222, 190, 110),
    "blond": (222, 190, 110),
    "red": (168, 58, 30),
    "auburn": (130, 50, 30),
    "grey": (160, 160, 165),
    "gray": (160, 160, 165),
    "white": (235, 235, 235),
}
_EYES: dict[str, RGB] = {
    "brown": (92, 56, 30),
    "blue": (60, 110, 190),
    "green": (60, 140, 80),
    "hazel": (130, 100, 50),
    "grey": (120, 130, 140),
    "gray": (120, 130, 140),
}
_SKINS: tuple[RGB, ...] = (
    (250, 222, 200),
    (236, 196, 160),
    (210, 160, 120),
    (176, 124, 86),
    (128, 86, 58),
    (92, 62, 44),
)


def _pick(table: dict[str, RGB], value: Any, fallback: RGB) -> RGB:
    text = str(value or "").lower()
    for word, colour in table.items():
        if word in text:
            return colour
    return fallback


def looks(name: str, attributes: dict[str, Any]) -> dict[str, Any]:
    """The fixed features of one person (the same for every pose and round)."""
    rng = seeded_rng("person", name, sorted((k, str(v)) for k, v in attributes.items()))
    skin_rng = seeded_rng("skin", str(attributes.get("ethnicity") or name))
    body = str(attributes.get("body_type") or "").lower()
    width = 1.25 if "broad" in body or "heavy" in body else 0.85 if "slim" in body else 1.0
    age = attributes.get("age")
    grey = isinstance(age, (int, float)) and not isinstance(age, bool) and age >= 60
    hair = _pick(_HAIR, attributes.get("hair_color"), (60, 42, 30))
    style = str(attributes.get("hair_style") or "").lower()
    return {
        "skin": _SKINS[skin_rng.randrange(len(_SKINS))],
        "hair": mix(hair, (200, 200, 205), 0.6) if grey else hair,
        "eyes": _pick(_EYES, attributes.get("eye_color"), (70, 60, 50)),
        "long_hair": any(w in style for w in ("long", "shoulder", "braid", "pony")),
        "width": width,
        "shirt": (rng.randrange(40, 220), rng.randrange(40, 220), rng.randrange(40, 220)),
    }


def looks_of_refs(refs: list[bytes], name: str) -> dict[str, Any]:
    """The features of an uploaded person, read off the first ref that decodes: hair from its top,
    skin from its middle, shirt from its bottom (a flat-colour upload draws a flat-colour figure);
    none decodes: the name's look."""
    for data in refs:
        try:
            with Image.open(io.BytesIO(data)) as img:
                img.draft("RGB", (64, 64))
                grid = img.convert("RGB").resize((3, 3), Image.Resampling.BOX)
        except (OSError, ValueError, Image.DecompressionBombError):
            continue
        skin: RGB = grid.getpixel((1, 1))  # type: ignore[assignment]
        return {
            "skin": skin,
            "hair": grid.getpixel((1, 0)),
            "eyes": shade(skin, 0.45),
            "long_hair": False,
            "width": 1.0,
            "shirt": grid.getpixel((1, 2)),
        }
    return looks(name, {})


def draw_figure(img: Image.Image, box: tuple[int, int, int], features: dict[str, Any]) -> None:
    """Draw the person of ``features`` facing front in the square ``(x, y, side)`` of ``img``
    (what an image made with ``character_id`` shows: the same figure as the refs)."""
    x, y, side = box
    layer = Image.new("RGBA", (side, side), (0, 0, 0, 0))
    _draw(layer, "front", features)
    img.paste(layer, (x, y), layer)


def _draw(img: Image.Image, pose: str, f: dict[str, Any]) -> None:
    d = ImageDraw.Draw(img)
    w, h = img.size
    close = pose == "portrait"
    head = w * (0.2 if close else 0.1)
    cx, cy = w / 2, h * (0.42 if close else 0.24)
    body_w = head * 1.6 * f["width"]
    top = cy + head * 0.9
    if close:
        d.rounded_rectangle(
            (cx - body_w * 1.2, top, cx + body_w * 1.2, h + head), radius=head, fill=f["shirt"]
        )
    else:
        d.rounded_rectangle(
            (cx - body_w, top, cx + body_w, h * 0.66), radius=head // 2, fill=f["shirt"]
        )
        legs = shade(f["shirt"], 0.5)
        d.rectangle((cx - body_w * 0.8, h * 0.66, cx - body_w * 0.1, h * 0.92), fill=legs)
        d.rectangle((cx + body_w * 0.1, h * 0.66, cx + body_w * 0.8, h * 0.92), fill=legs)
    hair, skin = f["hair"], f["skin"]
    if f["long_hair"]:
        d.rounded_rectangle(
            (cx - head * 1.1, cy - head, cx + head * 1.1, cy + head * 1.6),
            radius=head // 2,
            fill=hair,
        )
    if pose == "back":
        d.ellipse((cx - head, cy - head, cx + head, cy + head), fill=hair)
        return
    if pose == "side":
        d.ellipse((cx - head * 0.9, cy - head, cx + head * 0.9, cy + head), fill=skin)
        d.polygon(
            [
                (cx + head * 0.8, cy - head * 0.1),
                (cx + head * 1.15, cy + head * 0.2),
                (cx + head * 0.8, cy + head * 0.3),
            ],
            fill=skin,
        )
        d.pieslice(
            (cx - head, cy - head * 1.1, cx + head * 0.9, cy + head * 0.9), 150, 330, fill=hair
        )
        e = head * 0.14
        d.ellipse((cx + head * 0.4 - e, cy - e, cx + head * 0.4 + e, cy + e), fill=f["eyes"])
        return
    d.ellipse((cx - head, cy - head, cx + head, cy + head), fill=skin)
    d.pieslice(
        (cx - head * 1.05, cy - head * 1.1, cx + head * 1.05, cy + head * 0.7), 180, 360, fill=hair
    )
    e = head * 0.15
    for side in (-1, 1):
        ex = cx + side * head * 0.4
        d.ellipse((ex - e, cy + head * 0.05 - e, ex + e, cy + head * 0.05 + e), fill="white")
        d.ellipse(
            (ex - e * 0.6, cy + head * 0.05 - e * 0.6, ex + e * 0.6, cy + head * 0.05 + e * 0.6),
            fill=f["eyes"],
        )
    d.arc(
        (cx - head * 0.35, cy + head * 0.2, cx + head * 0.35, cy + head * 0.65),
        20,
        160,
        fill=shade(skin, 0.6),
        width=max(1, round(head / 14)),
    )


def render_pose(name: str, attributes: dict[str, Any], pose: str, *, round: int = 1) -> bytes:
    """A PNG of ``name`` in ``pose``; the same arguments give the same bytes."""
    features = looks(name, attributes)
    bg = seeded_rng("backdrop", name, round, pose)
    top = (bg.randrange(150, 235), bg.randrange(150, 235), bg.randrange(150, 235))
    img = gradient(SIZE, SIZE, [top, shade(top, 0.7)])
    _draw(img, pose, features)
    draw_caption(img, name, f"character · {pose} · round {round}")
    info = PngInfo()
    info.add_text(POSE_CHUNK, pose)
    buf = io.BytesIO()
    img.save(buf, format="PNG", pnginfo=info, compress_level=1)
    return buf.getvalue()


def classify(data: bytes) -> tuple[str, float]:
    """(pose, confidence) of an uploaded image: our own renders say; others go by shape."""
    with Image.open(io.BytesIO(data)) as img:
        said = img.info.get(POSE_CHUNK) if isinstance(img.info, dict) else None
        width, height = img.size
    if isinstance(said, str) and said in ("portrait", "front", "side", "back", "other"):
        return said, 0.98
    if height >= width * 1.3:
        return "front", 0.62
    if abs(width - height) <= max(width, height) * 0.15:
        return "portrait", 0.71
    return "other", 0.4

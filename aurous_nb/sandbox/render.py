"""Deterministic synthetic image outputs for the sandbox.

Outputs must be real (a PNG of exactly the requested size), repeatable (the same request and seed
give the same bytes) and distinguishable (a style, a prompt or a seed visibly changes the picture),
and a 4096x4096 render must not stall the server. So a scene is drawn small (long side at most
512) from a ``random.Random`` seeded by a hash of every argument, stretched to the requested size,
and only the caption (the prompt's words, plus a "SANDBOX" mark so no one mistakes it for a real
output) is drawn at full size, where text stays sharp.
"""

from __future__ import annotations

import functools
import hashlib
import io
import textwrap
import threading
from random import Random
from typing import Any

from PIL import Image, ImageDraw, ImageFont

from aurous_nb.sandbox.catalog import find_image_lora, find_video_lora
from aurous_nb.sandbox.scenes import NEUTRAL, SCENES, Palette

__all__ = [
    "draw_caption",
    "draw_scene",
    "render_image",
    "render_preview",
    "resolve_style",
    "seeded_rng",
]

INTERNAL_LONG_SIDE = 512
MARK = "SANDBOX · synthetic"
# One FreeType face is shared per size (cached below) and FreeType faces are not thread-safe;
# the server may render in several threads, so text is drawn under this lock (about 1 ms).
_TEXT_LOCK = threading.Lock()


def seeded_rng(*parts: object) -> Random:
    """A private random source fixed by ``parts`` (never the global one, never the clock)."""
    digest = hashlib.sha256(repr(parts).encode()).digest()
    return Random(int.from_bytes(digest[:16], "big"))


def resolve_style(style: str | None) -> tuple[str, str, Palette]:
    """Map a LoRA reference (image or video; id, slug or legacy UUID) to (slug, motif, palette).

    ``None`` is the neutral look. A video LoRA borrows the look of its image style. An unknown
    reference raises ``ValueError``: the routes resolve references first, so this is a bug.
    """
    if style is None:
        return "none", "neutral", NEUTRAL
    lora = find_image_lora(style)
    if lora is None:
        video = find_video_lora(style)
        lora = find_image_lora(video.look) if video is not None else None
    if lora is None:
        raise ValueError(f"unknown style {style!r}")
    return lora.slug, lora.motif, lora.palette


def draw_scene(
    prompt: str,
    *,
    seed: int,
    style: str | None,
    width: int,
    height: int,
    index: int = 0,
    figure: dict[str, Any] | None = None,
) -> Image.Image:
    """The style's scene at ``width`` x ``height`` (drawn small, then stretched), with the
    character of ``figure`` (see :func:`poses.looks`) standing in it where the prompt puts it."""
    slug, motif, palette = resolve_style(style)
    scale = min(1.0, INTERNAL_LONG_SIDE / max(width, height))
    w, h = max(16, round(width * scale)), max(16, round(height * scale))
    layout = seeded_rng("layout", prompt, seed, slug, width, height)
    detail = seeded_rng("detail", prompt, seed, slug, width, height, index)
    img = SCENES[motif](w, h, palette, layout, detail)
    if figure is not None:
        from aurous_nb.sandbox.poses import draw_figure

        side = max(8, min(round(h * 0.72), round(w * 0.9)))
        place = seeded_rng("figure", prompt, seed, slug, width, height, index)
        x = place.randint(0, max(0, w - side))
        draw_figure(img, (x, round(h * 0.1), side), figure)
    if (w, h) != (width, height):
        img = img.resize((width, height), Image.Resampling.BILINEAR)
    return img


@functools.lru_cache(maxsize=64)
def _font(size: int) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    return ImageFont.load_default(size=size)


def _fit_lines(
    text: str, font: ImageFont.FreeTypeFont | ImageFont.ImageFont, width: float
) -> list[str]:
    """Wrap ``text`` into at most two lines that fit ``width`` pixels, ending in "…" if cut."""
    text = " ".join(text.split()) or "(no prompt)"
    avg = max(1.0, font.getlength("abcdefghij klmnopqrst") / 21)
    lines = textwrap.wrap(text, max(4, int(width / avg)), break_long_words=True)
    out = lines[:2]
    if len(lines) > 2:
        out[1] = out[1] + "…"
    for i, line in enumerate(out):
        while font.getlength(line) > width and len(line) > 2:
            line = line[:-2] + "…"
        out[i] = line
    return out


def _darken(img: Image.Image, box: tuple[int, int, int, int], alpha: float) -> None:
    """Blend a region towards black in place (only that region is touched: cheap at 4096)."""
    region = img.crop(box)
    img.paste(Image.blend(region, Image.new("RGB", region.size), alpha), box[:2])


def draw_caption(img: Image.Image, prompt: str, meta: str) -> None:
    """Draw the prompt (and a small ``meta`` line) in a band at the bottom, and the mark at top."""
    with _TEXT_LOCK:
        _draw_caption(img, prompt, meta)


def _draw_caption(img: Image.Image, prompt: str, meta: str) -> None:
    w, h = img.size
    size = max(11, round(min(w, h) * 0.042))
    msize = max(9, round(size * 0.62))
    font, small = _font(size), _font(msize)
    pad = max(4, size // 2)
    lines = _fit_lines(prompt, font, w - 2 * pad)
    band = pad * 2 + len(lines) * round(size * 1.2) + round(size * 0.8)
    band = min(band, h // 2)
    _darken(img, (0, h - band, w, h), 0.6)
    d = ImageDraw.Draw(img)
    y = h - band + pad
    for line in lines:
        d.text((pad, y), line, font=font, fill=(255, 255, 255))
        y += round(size * 1.2)
    d.text((pad, y), meta, font=small, fill=(205, 205, 205))
    mw = round(small.getlength(MARK))
    _darken(img, (0, 0, mw + 2 * pad, msize + pad + pad // 2), 0.55)
    d.text((pad, pad // 2), MARK, font=small, fill=(255, 226, 120))


def render_image(
    prompt: str,
    *,
    seed: int,
    style: str | None,
    width: int,
    height: int,
    index: int = 0,
    figure: dict[str, Any] | None = None,
) -> bytes:
    """PNG bytes of exactly ``width`` x ``height``; the same arguments give the same bytes."""
    img = draw_scene(
        prompt, seed=seed, style=style, width=width, height=height, index=index, figure=figure
    )
    slug = resolve_style(style)[0]
    draw_caption(img, prompt, f"{slug} · seed {seed} · #{index + 1} · {width}x{height}")
    buf = io.BytesIO()
    img.save(buf, format="PNG", compress_level=1)
    return buf.getvalue()


@functools.lru_cache(maxsize=32)
def render_preview(slug: str) -> bytes:
    """A 256x256 PNG thumbnail of an image style (cached: previews are fetched often)."""
    lora = find_image_lora(slug)
    if lora is None:
        raise KeyError(slug)
    return render_image(lora.name, seed=0, style=lora.slug, width=256, height=256)

"""Procedural scenes, one per style motif, drawn small and fast for :mod:`.render` to upscale.

Each scene takes two random sources: ``rng`` decides the layout (prompt, seed, style, size) and
``detail`` the small things (stars, windows, rain), so that the ``count`` images of one request
share a composition and differ in their details. Nothing here reads global state or the clock.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from random import Random

from PIL import Image, ImageChops, ImageDraw, ImageFilter

RGB = tuple[int, int, int]
Palette = Sequence[RGB]
Scene = Callable[[int, int, Palette, Random, Random], Image.Image]

NEUTRAL: tuple[RGB, ...] = (
    (222, 226, 232),
    (120, 132, 150),
    (168, 178, 192),
    (90, 100, 118),
    (240, 242, 245),
)


def mix(a: RGB, b: RGB, t: float) -> RGB:
    """Linear blend of two colours (``t`` = 0 gives ``a``)."""
    return (
        round(a[0] + (b[0] - a[0]) * t),
        round(a[1] + (b[1] - a[1]) * t),
        round(a[2] + (b[2] - a[2]) * t),
    )


def shade(c: RGB, f: float) -> RGB:
    """Darken (``f`` < 1) or lighten (``f`` > 1, towards white) a colour."""
    if f <= 1:
        return (round(c[0] * f), round(c[1] * f), round(c[2] * f))
    return mix(c, (255, 255, 255), min(1.0, f - 1))


def gradient(w: int, h: int, stops: Sequence[RGB], *, horizontal: bool = False) -> Image.Image:
    """A smooth multi-stop gradient, made by stretching a one-pixel strip (fast at any size)."""
    strip = Image.new("RGB", (len(stops), 1) if horizontal else (1, len(stops)))
    strip.putdata(list(stops))
    return strip.resize((w, h), Image.Resampling.BILINEAR)


def _ridge(
    w: int, base: float, amp: float, rng: Random, steps: int = 48
) -> list[tuple[float, float]]:
    """A hill line: a sum of a few random sines."""
    waves = [(rng.uniform(0.5, 3.5), rng.uniform(0, 6.3), rng.uniform(0.3, 1.0)) for _ in range(3)]
    pts = []
    for i in range(steps + 1):
        x = w * i / steps
        y = base + amp * sum(a * math.sin(f * x / w * 6.283 + p) for f, p, a in waves) / 2
        pts.append((x, y))
    return pts


def golden_hour(w: int, h: int, pal: Palette, rng: Random, detail: Random) -> Image.Image:
    """Sky gradient, a glowing low sun, a sea with its reflection, and layered hills."""
    hz = h * rng.uniform(0.52, 0.68)
    img = gradient(w, h, [pal[3], pal[2], pal[1], pal[0], pal[0], shade(pal[2], 0.5)])
    d = ImageDraw.Draw(img, "RGBA")
    sx, r = w * rng.uniform(0.2, 0.8), min(w, h) * rng.uniform(0.08, 0.14)
    sy = hz - h * 0.06 - r * rng.uniform(0.3, 2.2)
    for k in range(10, 0, -1):
        rr = r * (1 + k * 0.35)
        d.ellipse((sx - rr, sy - rr, sx + rr, sy + rr), fill=(*pal[4], 14))
    d.ellipse((sx - r, sy - r, sx + r, sy + r), fill=pal[4])
    d.rectangle((0, hz, w, h), fill=shade(pal[2], 0.55))
    for i in range(14):
        y = hz + (h - hz) * (i / 14) ** 1.4
        half = r * (1.1 - i / 16) * detail.uniform(0.6, 1.2)
        d.line((sx - half, y, sx + half, y), fill=(*pal[0], 170), width=max(1, h // 160))
    for layer in range(rng.randint(2, 3)):
        base = hz - h * (0.02 + 0.05 * (2 - layer))
        pts = _ridge(w, base, h * 0.06, rng)
        d.polygon([*pts, (w, hz + 1), (0, hz + 1)], fill=shade(pal[3], 0.9 - layer * 0.25))
    for _ in range(detail.randint(3, 7)):
        bx, by, s = detail.uniform(0, w), detail.uniform(h * 0.08, hz * 0.7), w * 0.012
        d.line((bx - s, by - s * 0.5, bx, by, bx + s, by - s * 0.5), fill=pal[3], width=2)
    return img


def neon_noir(w: int, h: int, pal: Palette, rng: Random, detail: Random) -> Image.Image:
    """A dark skyline with lit windows over a glowing perspective grid, in rain."""
    hz = h * rng.uniform(0.5, 0.62)
    img = gradient(w, h, [pal[0], pal[4], shade(pal[3], 0.45), pal[0], pal[0]])
    d = ImageDraw.Draw(img)
    x = 0.0
    while x < w:
        bw, bh = w * rng.uniform(0.05, 0.13), h * rng.uniform(0.12, 0.42)
        d.rectangle((x, hz - bh, x + bw, hz), fill=shade(pal[4], rng.uniform(0.5, 0.9)))
        for wy in range(int(hz - bh + 6), int(hz - 4), 7):
            for wx in range(int(x + 4), int(x + bw - 4), 6):
                if detail.random() < 0.18:
                    d.rectangle((wx, wy, wx + 2, wy + 3), fill=detail.choice(pal[1:4]))
        x += bw + w * rng.uniform(0.0, 0.02)
    glow = Image.new("RGB", (w, h))
    g = ImageDraw.Draw(glow)
    vx = w * rng.uniform(0.3, 0.7)
    for i in range(-14, 15):
        g.line((vx + i * w * 0.02, hz, vx + i * w * 0.22, h), fill=pal[1], width=2)
    for i in range(1, 12):
        y = hz + (h - hz) * (i / 11) ** 2.2
        g.line((0, y, w, y), fill=pal[2], width=2)
    sx, sy = w * rng.uniform(0.1, 0.6), h * rng.uniform(0.08, 0.3)
    g.rounded_rectangle((sx, sy, sx + w * 0.3, sy + h * 0.1), radius=8, outline=pal[2], width=3)
    g.line((sx + w * 0.04, sy + h * 0.05, sx + w * 0.26, sy + h * 0.05), fill=pal[1], width=3)
    img = ImageChops.add(img, glow.filter(ImageFilter.GaussianBlur(4)))
    img = ImageChops.add(img, glow)
    d = ImageDraw.Draw(img, "RGBA")
    for _ in range(int(w * h / 900)):
        rx, ry = detail.uniform(0, w), detail.uniform(0, h)
        d.line((rx, ry, rx - 3, ry + 14), fill=(*pal[2], 40), width=1)
    return img


def watercolor(w: int, h: int, pal: Palette, rng: Random, detail: Random) -> Image.Image:
    """Pigment washes that multiply where they overlap, with darker rims, on grained paper."""
    img = Image.new("RGB", (w, h), pal[0])
    blur = ImageFilter.GaussianBlur(min(w, h) / 220 + 0.8)
    for _ in range(rng.randint(10, 16)):
        c = rng.choice(pal[1:])
        cx, cy = rng.uniform(0, w), rng.uniform(0, h * 0.9)
        rx, ry = min(w, h) * rng.uniform(0.08, 0.26), min(w, h) * rng.uniform(0.06, 0.2)
        mask = Image.new("L", (w, h))
        d = ImageDraw.Draw(mask)
        for k in range(3):
            j = detail.uniform(-0.1, 0.1)
            box = (cx - rx * (1 + j), cy - ry * (1 - j), cx + rx * (1 - j), cy + ry * (1 + j))
            d.ellipse(box, fill=170 - k * 25, outline=235, width=2)
        tinted = ImageChops.multiply(img, Image.new("RGB", (w, h), shade(c, 1.05)))
        img = Image.composite(tinted, img, mask.filter(blur))
    # Paper grain from our own random source: Image.effect_noise uses C rand(), not repeatable.
    noise = Image.frombytes("L", (w, h), detail.randbytes(w * h))
    grain = noise.filter(ImageFilter.GaussianBlur(1)).convert("RGB")
    return ImageChops.multiply(img, Image.blend(Image.new("RGB", (w, h), "white"), grain, 0.08))


def ink_sketch(w: int, h: int, pal: Palette, rng: Random, detail: Random) -> Image.Image:
    """Sketchy outlines, cross-hatched shapes and loose pen strokes, in monochrome."""
    img = Image.new("RGB", (w, h), pal[0])
    d = ImageDraw.Draw(img)
    for _ in range(rng.randint(2, 4)):
        cx, cy = rng.uniform(0.15, 0.85) * w, rng.uniform(0.15, 0.7) * h
        r = min(w, h) * rng.uniform(0.1, 0.25)
        mask = Image.new("L", (w, h))
        ImageDraw.Draw(mask).ellipse((cx - r, cy - r, cx + r, cy + r), fill=255)
        hatch = Image.new("RGB", (w, h), pal[0])
        hd = ImageDraw.Draw(hatch)
        step = rng.randint(4, 7)
        for o in range(-h, w, step):
            hd.line((o, 0, o + h, h), fill=pal[2], width=1)
            if rng.random() < 0.5:
                hd.line((o + h, 0, o, h), fill=pal[3], width=1)
        img.paste(hatch, (0, 0), mask)
        for _ in range(3):
            j = [detail.uniform(-r * 0.06, r * 0.06) for _ in range(4)]
            box = (cx - r + j[0], cy - r + j[1], cx + r + j[2], cy + r + j[3])
            d.ellipse(box, outline=pal[1], width=2)
    for _ in range(rng.randint(14, 24)):
        x0, y0 = rng.uniform(0, w), rng.uniform(0, h)
        ang, ln = rng.uniform(0, 6.283), rng.uniform(0.1, 0.4) * min(w, h)
        bend = rng.uniform(-1.5, 1.5)
        pts = [
            (
                x0 + math.cos(ang + bend * t) * ln * t + detail.uniform(-1, 1),
                y0 + math.sin(ang + bend * t) * ln * t + detail.uniform(-1, 1),
            )
            for t in (i / 12 for i in range(13))
        ]
        d.line(pts, fill=pal[1], width=rng.choice((1, 1, 2, 3)), joint="curve")
    d.line((w * 0.05, h * 0.78, w * 0.95, h * 0.78), fill=pal[2], width=1)
    return img


def pastel_anime(w: int, h: int, pal: Palette, rng: Random, detail: Random) -> Image.Image:
    """A cel-shaded pastel sky with puffy two-tone clouds, a hill and sparkles."""
    img = gradient(w, h, [shade(pal[0], 0.85), pal[0], pal[0], pal[1]])
    d = ImageDraw.Draw(img)
    for _ in range(rng.randint(3, 5)):
        cx, cy, s = rng.uniform(0, w), rng.uniform(0.1, 0.6) * h, min(w, h) * rng.uniform(0.05, 0.1)
        puffs = [(cx + rng.uniform(-3, 3) * s, cy + rng.uniform(-0.8, 0.6) * s) for _ in range(7)]
        radii = [s * rng.uniform(0.7, 1.3) for _ in puffs]
        for (px, py), r in zip(puffs, radii, strict=True):
            d.ellipse((px - r, py - r + s * 0.25, px + r, py + r + s * 0.25), fill=pal[3])
        for (px, py), r in zip(puffs, radii, strict=True):
            d.ellipse((px - r, py - r, px + r, py + r), fill=pal[2])
    hill = _ridge(w, h * rng.uniform(0.72, 0.82), h * 0.08, rng, steps=32)
    d.polygon([*hill, (w, h), (0, h)], fill=pal[4], outline=shade(pal[4], 0.7))
    d.line(hill, fill=shade(pal[4], 0.7), width=3)
    for _ in range(detail.randint(6, 12)):
        x, y, s = detail.uniform(0, w), detail.uniform(0, h * 0.6), detail.uniform(3, 8)
        d.polygon(
            [(x, y - s), (x + s * 0.25, y), (x, y + s), (x - s * 0.25, y)], fill=(255, 255, 255)
        )
        d.polygon(
            [(x - s, y), (x, y - s * 0.25), (x + s, y), (x, y + s * 0.25)], fill=(255, 255, 255)
        )
    return img


def brutalist_poster(w: int, h: int, pal: Palette, rng: Random, detail: Random) -> Image.Image:
    """Flat primary blocks, a big circle and heavy black rules on cream."""
    img = Image.new("RGB", (w, h), pal[0])
    d = ImageDraw.Draw(img)
    cols = rng.randint(2, 4)
    for _ in range(rng.randint(4, 7)):
        c0, c1 = sorted(rng.sample(range(cols + 1), 2))
        y0, y1 = sorted((rng.uniform(0, h * 0.85), rng.uniform(0, h * 0.85)))
        box = (c0 * w / cols, y0, c1 * w / cols, max(y1, y0 + h * 0.08))
        d.rectangle(box, fill=rng.choice((pal[1], pal[3], pal[4], pal[4])))
    r = min(w, h) * rng.uniform(0.15, 0.3)
    cx, cy = rng.uniform(r, w - r), rng.uniform(r, h * 0.8)
    d.ellipse((cx - r, cy - r, cx + r, cy + r), fill=rng.choice((pal[1], pal[3], pal[4])))
    for _ in range(rng.randint(2, 4)):
        y = rng.uniform(0.05, 0.85) * h
        d.rectangle((0, y, w, y + h * rng.uniform(0.012, 0.03)), fill=pal[2])
    x = rng.uniform(0.1, 0.9) * w
    d.rectangle((x, 0, x + w * 0.015, h), fill=pal[2])
    for _ in range(detail.randint(3, 6)):
        s, px, py = min(w, h) * 0.035, detail.uniform(0, w), detail.uniform(0, h * 0.85)
        d.rectangle((px, py, px + s, py + s), fill=detail.choice(pal[1:]))
    return img


def botanical_plate(w: int, h: int, pal: Palette, rng: Random, detail: Random) -> Image.Image:
    """A herbarium plate: curved stems with veined leaves and berries inside a ruled frame."""
    img = gradient(w, h, [shade(pal[0], 0.93), pal[0], pal[0], shade(pal[0], 0.9)], horizontal=True)
    d = ImageDraw.Draw(img)
    m = min(w, h) * 0.04
    d.rectangle((m, m, w - m, h - m), outline=pal[4], width=2)
    d.rectangle((m * 1.4, m * 1.4, w - m * 1.4, h - m * 1.4), outline=pal[4], width=1)
    for _ in range(rng.randint(1, 3)):
        x0 = rng.uniform(0.25, 0.75) * w
        lean = rng.uniform(max(-0.35, 0.15 - x0 / w), min(0.35, 0.85 - x0 / w)) * w
        top = rng.uniform(0.1, 0.3) * h
        stem = [
            (x0 + lean * t**2, h * 0.8 - (h * 0.8 - top) * t) for t in (i / 20 for i in range(21))
        ]
        d.line(stem, fill=pal[4], width=3, joint="curve")
        for i in range(2, 21, 2):
            sx, sy = stem[i]
            side = 1 if (i // 2) % 2 else -1
            ang = -math.pi / 2 + side * rng.uniform(0.6, 1.2)
            ln = min(w, h) * rng.uniform(0.07, 0.13) * (1.2 - i / 30)
            tipx, tipy = sx + math.cos(ang) * ln, sy + math.sin(ang) * ln
            nx, ny = -math.sin(ang) * ln * 0.3, math.cos(ang) * ln * 0.3
            mx, my = (sx + tipx) / 2, (sy + tipy) / 2
            leaf = [(sx, sy), (mx + nx, my + ny), (tipx, tipy), (mx - nx, my - ny)]
            d.polygon(leaf, fill=rng.choice((pal[1], pal[2])), outline=shade(pal[1], 0.6))
            d.line((sx, sy, tipx, tipy), fill=shade(pal[1], 0.55), width=1)
        for _ in range(detail.randint(2, 5)):
            bx, by = stem[-1][0] + detail.uniform(-20, 20), stem[-1][1] + detail.uniform(-20, 10)
            d.ellipse((bx - 5, by - 5, bx + 5, by + 5), fill=pal[3], outline=shade(pal[3], 0.6))
    return img


def vaporwave(w: int, h: int, pal: Palette, rng: Random, detail: Random) -> Image.Image:
    """A striped retro sun over a teal perspective grid under a purple-to-pink sky."""
    hz = h * rng.uniform(0.55, 0.65)
    img = gradient(w, h, [pal[0], pal[4], pal[1], pal[0]])
    d = ImageDraw.Draw(img)
    for _ in range(detail.randint(20, 40)):
        x, y = detail.uniform(0, w), detail.uniform(0, hz * 0.6)
        d.point((x, y), fill=(255, 255, 255))
    r = min(w, h) * rng.uniform(0.2, 0.3)
    cx = w * rng.uniform(0.3, 0.7)
    sun = gradient(int(2 * r), int(2 * r), [pal[2], pal[1]])
    mask = Image.new("L", sun.size)
    md = ImageDraw.Draw(mask)
    md.ellipse((0, 0, sun.width - 1, sun.height - 1), fill=255)
    for i in range(6):
        y = sun.height * (0.5 + i * 0.085)
        md.rectangle((0, y, sun.width, y + 2 + i * 1.5), fill=0)
    img.paste(sun, (int(cx - r), int(hz - 1.6 * r)), mask)
    peaks = [(0.0, hz)]
    for i in range(1, 8):
        peaks.append((w * i / 8, hz - h * rng.uniform(0.02, 0.14) * (i % 2)))
    peaks.append((float(w), hz))
    d.polygon(peaks, fill=shade(pal[4], 0.6), outline=pal[3])
    d.rectangle((0, hz, w, h), fill=pal[0])
    vx = w / 2 + w * rng.uniform(-0.1, 0.1)
    for i in range(-12, 13):
        d.line((vx + i * w * 0.03, hz, vx + i * w * 0.25, h), fill=pal[3], width=2)
    for i in range(1, 10):
        y = hz + (h - hz) * (i / 9) ** 2
        d.line((0, y, w, y), fill=pal[3], width=2)
    return img


def low_poly(w: int, h: int, pal: Palette, rng: Random, detail: Random) -> Image.Image:
    """A jittered triangle mesh shaded along a random light direction."""
    img = Image.new("RGB", (w, h))
    d = ImageDraw.Draw(img)
    cols = rng.randint(7, 12)
    rows = max(3, round(cols * h / w))
    cw, ch = w / cols, h / rows
    pts = [
        [
            (
                c * cw + (rng.uniform(-0.35, 0.35) * cw if 0 < c < cols else 0),
                r * ch + (rng.uniform(-0.35, 0.35) * ch if 0 < r < rows else 0),
            )
            for c in range(cols + 1)
        ]
        for r in range(rows + 1)
    ]
    ang = rng.uniform(0, 6.283)
    lx, ly = math.cos(ang), math.sin(ang)
    stops = list(pal)
    for r in range(rows):
        for c in range(cols):
            a, b, cc, dd = pts[r][c], pts[r][c + 1], pts[r + 1][c + 1], pts[r + 1][c]
            tris = [(a, b, cc), (a, cc, dd)] if (r + c) % 2 else [(a, b, dd), (b, cc, dd)]
            for tri in tris:
                mx = sum(p[0] for p in tri) / 3 / w
                my = sum(p[1] for p in tri) / 3 / h
                t = min(0.999, max(0.0, 0.5 + ((mx - 0.5) * lx + (my - 0.5) * ly)))
                t = min(0.999, max(0.0, t + detail.uniform(-0.08, 0.08)))
                pos = t * (len(stops) - 1)
                col = mix(stops[int(pos)], stops[int(pos) + 1], pos - int(pos))
                d.polygon(tri, fill=col, outline=col)
    return img


def neutral(w: int, h: int, pal: Palette, rng: Random, detail: Random) -> Image.Image:
    """The look without a style: a soft studio backdrop with a few muted translucent shapes."""
    img = gradient(w, h, [pal[4], pal[0], pal[2]])
    layer = Image.new("RGBA", (w, h), (0, 0, 0, 0))
    d = ImageDraw.Draw(layer)
    for _ in range(rng.randint(4, 7)):
        cx, cy, r = rng.uniform(0, w), rng.uniform(0, h), min(w, h) * rng.uniform(0.08, 0.25)
        c = rng.choice(pal[1:4])
        if rng.random() < 0.5:
            d.ellipse((cx - r, cy - r, cx + r, cy + r), fill=(*c, 110))
        else:
            d.rounded_rectangle(
                (cx - r, cy - r * 0.7, cx + r, cy + r * 0.7), r * 0.2, fill=(*c, 110)
            )
    for _ in range(detail.randint(2, 4)):
        cx, cy, r = detail.uniform(0, w), detail.uniform(0, h), min(w, h) * 0.03
        d.ellipse((cx - r, cy - r, cx + r, cy + r), fill=(*pal[3], 160))
    img.paste(layer, (0, 0), layer)
    return img


SCENES: dict[str, Scene] = {
    "sun": golden_hour,
    "grid": neon_noir,
    "blobs": watercolor,
    "strokes": ink_sketch,
    "clouds": pastel_anime,
    "blocks": brutalist_poster,
    "leaves": botanical_plate,
    "retro_sun": vaporwave,
    "triangles": low_poly,
    "neutral": neutral,
}

"""Short, real H.264 MP4 outputs for sandbox video generations.

PyAV (FFmpeg bundled, about 100 MB) is the optional ``video`` extra, so it is imported only when a
video is rendered, and its absence becomes one clear :class:`VideoEncoderMissing`. A video is the
style's still (see :mod:`.render`) slowly zooming or panning at a low frame rate, with the
prompt's caption and a progress bar, encoded single-threaded with fixed settings so the same
arguments give the same bytes.
"""

from __future__ import annotations

import functools
import os
import tempfile
from fractions import Fraction
from typing import Any

from PIL import Image, ImageDraw

from aurous_nb.sandbox.catalog import find_video_lora
from aurous_nb.sandbox.render import draw_caption, draw_scene, resolve_style, seeded_rng

__all__ = [
    "FPS",
    "VideoEncoderMissing",
    "render_video",
    "render_video_preview",
    "video_size",
]

FPS = 8
SHORT_SIDE = {"480p": 480, "720p": 720, "1080p": 1080}
RATIOS = {
    "16:9": (16, 9),
    "4:3": (4, 3),
    "1:1": (1, 1),
    "3:4": (3, 4),
    "9:16": (9, 16),
    "21:9": (21, 9),
}
_STILL_LONG_SIDE = 640
_ZOOM = 0.22  # how far in (or across, for a pan) the camera travels over the whole clip


class VideoEncoderMissing(RuntimeError):
    """PyAV, the optional video encoder, is not installed."""

    def __init__(self) -> None:
        super().__init__(
            "The sandbox needs PyAV to render videos. "
            "Install the video extra: pip install 'aurous-nb[video]'"
        )


def video_size(resolution: str, ratio: str) -> tuple[int, int]:
    """Frame size for a resolution (the short side) and ratio; both sides even, as H.264 needs.

    Raises ``KeyError`` for a resolution or ratio the contract does not list.
    """
    short = SHORT_SIDE[resolution]
    a, b = RATIOS[ratio]
    long_side = round(short * max(a, b) / min(a, b) / 2) * 2
    return (long_side, short) if a >= b else (short, long_side)


def _import_av() -> Any:
    try:
        import av
    except ImportError as exc:
        raise VideoEncoderMissing() from exc
    return av


def _frames(
    prompt: str, seed: int, style: str | None, width: int, height: int, duration: int
) -> list[Image.Image]:
    """The clip's frames: a crop window moving over one still, then the caption on top."""
    slug = resolve_style(style)[0]
    video = find_video_lora(style) if style is not None else None
    motion = (
        video.motion if video else seeded_rng("motion", prompt, seed, style).choice(("zoom", "pan"))
    )
    scale = min(1.0, _STILL_LONG_SIDE / max(width, height))
    sw, sh = max(16, round(width * scale)), max(16, round(height * scale))
    still = draw_scene(prompt, seed=seed, style=style, width=sw, height=sh)
    n = duration * FPS
    frames = []
    label = video.slug if video else slug
    for i in range(n):
        t = i / max(1, n - 1)
        if motion == "zoom":
            inset = _ZOOM / 2 * t
            box = (sw * inset, sh * inset, sw * (1 - inset), sh * (1 - inset))
        else:
            x0 = sw * _ZOOM * t
            box = (x0, sh * _ZOOM / 2, x0 + sw * (1 - _ZOOM), sh * (1 - _ZOOM / 2))
        frame = still.resize((width, height), Image.Resampling.BILINEAR, box=box)
        draw_caption(frame, prompt, f"{label} · seed {seed} · {i / FPS:.1f}s / {duration}s")
        bar = max(2, height // 120)
        ImageDraw.Draw(frame).rectangle(
            (0, height - bar, round(width * (i + 1) / n), height), fill=(255, 200, 60)
        )
        frames.append(frame)
    return frames


def render_video(
    prompt: str, *, seed: int, style: str | None, width: int, height: int, duration: int
) -> bytes:
    """MP4 bytes (H.264, yuv420p, faststart): ``duration`` seconds at :data:`FPS` frames/s.

    ``width`` and ``height`` must be even (see :func:`video_size`). Raises
    :class:`VideoEncoderMissing` when PyAV is not installed.
    """
    av = _import_av()
    if width % 2 or height % 2 or width < 16 or height < 16:
        raise ValueError(f"video frame size must be even and at least 16: {width}x{height}")
    if duration < 1:
        raise ValueError(f"duration must be at least 1 second: {duration}")
    # faststart (the index before the data, so browsers play while downloading) needs FFmpeg to
    # reopen the file for its second pass, which an in-memory buffer cannot do: use a temp file.
    with tempfile.TemporaryDirectory(prefix="aurous-video-") as tmp:
        path = os.path.join(tmp, "out.mp4")
        _encode(av, path, prompt, seed, style, width, height, duration)
        with open(path, "rb") as fh:
            return fh.read()


def _encode(
    av: Any,
    path: str,
    prompt: str,
    seed: int,
    style: str | None,
    width: int,
    height: int,
    duration: int,
) -> None:
    with av.open(path, "w", format="mp4", options={"movflags": "faststart"}) as container:
        stream = container.add_stream(
            "libx264",
            rate=FPS,
            options={"preset": "ultrafast", "crf": "26", "threads": "1"},
        )
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        for i, image in enumerate(_frames(prompt, seed, style, width, height, duration)):
            frame = av.VideoFrame.from_image(image)
            frame.pts, frame.time_base = i, Fraction(1, FPS)
            container.mux(stream.encode(frame))
        container.mux(stream.encode(None))


@functools.lru_cache(maxsize=8)
def render_video_preview(slug: str) -> bytes:
    """A 2-second 320x180 MP4 preview of a video LoRA (cached: previews are fetched often)."""
    lora = find_video_lora(slug)
    if lora is None:
        raise KeyError(slug)
    return render_video(lora.name, seed=0, style=lora.slug, width=320, height=180, duration=2)

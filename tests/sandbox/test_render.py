"""The sandbox's synthetic outputs: real files, exact sizes, repeatable, and visibly distinct."""

from __future__ import annotations

import io
import itertools
import re
import sys

import pytest
from PIL import Image, ImageChops, ImageStat

from aurous_nb.sandbox.catalog import (
    IMAGE_LORAS,
    VIDEO_LORAS,
    ImageLora,
    VideoLora,
    find_image_lora,
    find_video_lora,
)
from aurous_nb.sandbox.render import draw_caption, render_image, render_preview
from aurous_nb.sandbox.video import (
    FPS,
    VideoEncoderMissing,
    render_video,
    render_video_preview,
    video_size,
)

STYLES: list[str | None] = [lora.slug for lora in IMAGE_LORAS] + [None]
ULID_ID = re.compile(r"lora_[0-7][0-9A-HJKMNP-TV-Z]{25}")


def image(
    prompt: str = "a red fox in snow",
    *,
    seed: int = 1,
    style: str | None = None,
    size: tuple[int, int] = (256, 256),
    index: int = 0,
) -> Image.Image:
    data = render_image(prompt, seed=seed, style=style, width=size[0], height=size[1], index=index)
    img = Image.open(io.BytesIO(data))
    assert img.format == "PNG"
    return img.convert("RGB")


def scene(img: Image.Image) -> Image.Image:
    """The picture between the top mark and the caption band, shrunk for cheap comparisons."""
    w, h = img.size
    return img.crop((0, int(h * 0.1), w, int(h * 0.7))).resize((64, 40))


def pixel_diff(a: Image.Image, b: Image.Image) -> float:
    """Mean absolute per-channel difference of the two scenes, 0..255."""
    return sum(ImageStat.Stat(ImageChops.difference(scene(a), scene(b))).mean) / 3


def colour_distance(a: Image.Image, b: Image.Image) -> float:
    ma, mb = ImageStat.Stat(scene(a)).mean, ImageStat.Stat(scene(b)).mean
    return float(sum((x - y) ** 2 for x, y in zip(ma, mb, strict=True)) ** 0.5)


# --- catalogue -------------------------------------------------------------------------------


def test_catalogue_ids_are_stable_ulids_and_unique() -> None:
    loras: list[ImageLora | VideoLora] = [*IMAGE_LORAS, *VIDEO_LORAS]
    assert len(IMAGE_LORAS) >= 8 and 2 <= len(VIDEO_LORAS) <= 3
    assert all(ULID_ID.fullmatch(lora.id) for lora in loras)
    for attr in ("id", "slug", "legacy_uuid"):
        assert len({getattr(lora, attr) for lora in loras}) == len(loras)
    assert all(lora.is_public and lora.created_at.endswith("Z") for lora in loras)


def test_catalogue_json_has_exactly_the_contract_fields() -> None:
    img = IMAGE_LORAS[0].to_json("http://127.0.0.1:1")
    assert set(img) == {
        "id", "name", "is_public", "created_at", "slug", "description", "preview_image_url",
        "default_denoise_strength", "default_guidance_scale", "default_steps", "has_template",
    }  # fmt: skip
    assert img["preview_image_url"] == f"http://127.0.0.1:1/_sandbox/previews/{img['slug']}.png"
    vid = VIDEO_LORAS[0].to_json("http://h")
    assert set(vid) == {
        "id", "name", "is_public", "default_resolution", "default_ratio", "default_duration",
        "created_at", "slug", "description", "preview_video_url",
    }  # fmt: skip
    assert vid["preview_video_url"] == f"http://h/_sandbox/previews/{vid['slug']}.mp4"


def test_find_by_id_slug_or_legacy_uuid() -> None:
    lora = IMAGE_LORAS[2]
    for ref in (lora.id, lora.slug, lora.legacy_uuid, lora.legacy_uuid.upper()):
        assert find_image_lora(ref) is lora
    video = VIDEO_LORAS[0]
    assert find_video_lora(video.legacy_uuid) is video and find_video_lora(video.id) is video
    assert find_image_lora(video.slug) is None and find_video_lora(lora.id) is None
    assert find_image_lora("lora_00000000000000000000000000") is None


# --- images ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("width", "height", "style"),
    [(1024, 1024, "golden-hour"), (2048, 1152, "neon-noir"), (1152, 2048, "low-poly"),
     (4096, 4096, "watercolor"), (1536, 1024, None), (300, 17, "vaporwave")],
)  # fmt: skip
def test_exact_dimensions(width: int, height: int, style: str | None) -> None:
    assert image(style=style, size=(width, height)).size == (width, height)


@pytest.mark.parametrize("style", STYLES)
def test_same_arguments_give_the_same_bytes(style: str | None) -> None:
    args = {"seed": 42, "style": style, "width": 160, "height": 120, "index": 1}
    assert render_image("same", **args) == render_image("same", **args)  # type: ignore[arg-type]


def test_a_style_may_be_named_by_id_or_uuid() -> None:
    lora = IMAGE_LORAS[4]
    by_slug = render_image("x", seed=3, style=lora.slug, width=256, height=256)
    assert render_image("x", seed=3, style=lora.id, width=256, height=256) == by_slug
    assert render_image("x", seed=3, style=lora.legacy_uuid, width=256, height=256) == by_slug


def test_unknown_style_is_an_error() -> None:
    with pytest.raises(ValueError, match="no-such-style"):
        render_image("x", seed=0, style="no-such-style", width=64, height=64)


def test_every_pair_of_styles_looks_different() -> None:
    images = {style: image(style=style) for style in STYLES}
    for a, b in itertools.combinations(STYLES, 2):
        assert pixel_diff(images[a], images[b]) > 25, (a, b)
        assert colour_distance(images[a], images[b]) > 15, (a, b)


@pytest.mark.parametrize("style", STYLES)
def test_prompt_and_seed_change_the_composition(style: str | None) -> None:
    base = image(style=style)
    assert pixel_diff(base, image(style=style, seed=2)) > 10
    assert pixel_diff(base, image("a lighthouse at night", style=style)) > 10
    sibling = image(style=style, index=1)
    assert sibling.tobytes() != base.tobytes()
    assert pixel_diff(base, sibling) < 15  # the count images of a request are variations


def test_caption_shows_the_prompt_as_light_text_on_a_dark_band() -> None:
    img = Image.new("RGB", (800, 600), (200, 200, 200))
    draw_caption(img, "hello caption", "meta")
    band = img.crop((0, 520, 800, 600)).convert("L")
    assert ImageStat.Stat(band).stddev[0] > 20
    assert sum(band.histogram()[240:]) > 200  # white text pixels
    assert sum(band.histogram()[:100]) > 0.5 * 800 * 80  # darkened background


def test_caption_band_varies_with_the_prompt() -> None:
    a = image("first prompt words", style="ink-sketch", size=(512, 512))
    b = image("other text entirely", style="ink-sketch", size=(512, 512))
    band_a, band_b = a.crop((0, 470, 512, 500)), b.crop((0, 470, 512, 500))
    assert ImageStat.Stat(band_a.convert("L")).stddev[0] > 20
    assert band_a.tobytes() != band_b.tobytes()


def test_long_prompts_are_truncated_not_overflowing() -> None:
    img = image("word " * 400, size=(512, 512))
    top = img.crop((0, 0, 512, 200)).convert("L")
    assert sum(top.histogram()[250:]) < 0.05 * 512 * 200  # no wall of white text above the band


def test_preview_is_a_cached_256_png() -> None:
    data = render_preview("golden-hour")
    assert render_preview("golden-hour") is data
    assert Image.open(io.BytesIO(data)).size == (256, 256)
    with pytest.raises(KeyError):
        render_preview("nope")


# --- videos ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("resolution", "ratio", "size"),
    [("480p", "16:9", (854, 480)), ("720p", "4:3", (960, 720)), ("1080p", "1:1", (1080, 1080)),
     ("480p", "3:4", (480, 640)), ("1080p", "9:16", (1080, 1920)), ("720p", "21:9", (1680, 720))],
)  # fmt: skip
def test_video_size(resolution: str, ratio: str, size: tuple[int, int]) -> None:
    assert video_size(resolution, ratio) == size


def test_video_size_rejects_unknown_values() -> None:
    with pytest.raises(KeyError):
        video_size("4k", "16:9")
    with pytest.raises(KeyError):
        video_size("720p", "2:1")


@pytest.mark.parametrize(
    ("style", "size", "duration"),
    [("seedance-1-lite", (854, 480), 2), ("seedance-1-pro", (480, 854), 3), (None, (480, 480), 2)],
)
def test_video_is_a_real_deterministic_mp4(
    style: str | None, size: tuple[int, int], duration: int
) -> None:
    av = pytest.importorskip("av")
    args = {"seed": 5, "style": style, "width": size[0], "height": size[1], "duration": duration}
    data = render_video("a koi pond in the rain", **args)  # type: ignore[arg-type]
    assert data[4:8] == b"ftyp"
    assert data.index(b"moov") < data.index(b"mdat")  # faststart: playable while downloading
    with av.open(io.BytesIO(data)) as container:
        stream = container.streams.video[0]
        assert stream.codec_context.name == "h264"
        frames = list(container.decode(video=0))
    assert (frames[0].width, frames[0].height) == size
    assert frames[0].format.name == "yuv420p"
    assert len(frames) == duration * FPS
    first, last = frames[0].to_image(), frames[-1].to_image()
    assert pixel_diff(first, last) > 2  # it moves
    assert render_video("a koi pond in the rain", **args) == data  # type: ignore[arg-type]


def test_video_rejects_odd_sizes() -> None:
    pytest.importorskip("av")
    with pytest.raises(ValueError, match="even"):
        render_video("x", seed=0, style=None, width=853, height=480, duration=2)


def test_video_preview_is_cached() -> None:
    pytest.importorskip("av")
    data = render_video_preview("seedance-1-pro")
    assert render_video_preview("seedance-1-pro") is data and data[4:8] == b"ftyp"


def test_missing_encoder_says_how_to_install_it(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "av", None)  # what `import av` sees when PyAV is absent
    with pytest.raises(VideoEncoderMissing, match=re.escape("pip install 'aurous-nb[video]'")):
        render_video("x", seed=0, style=None, width=320, height=180, duration=2)
    assert issubclass(VideoEncoderMissing, RuntimeError)

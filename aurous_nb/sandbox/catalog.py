"""The sandbox's fixed catalogue of image and video LoRA styles.

Ids, legacy UUIDs and timestamps are literals, so a LoRA keeps the same id across sandbox runs and
notebooks or tests may hard-code them. Each entry also carries the few render hints
(``palette``, ``motif``) that :mod:`aurous_nb.sandbox.render` uses to make the style look like
itself.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

RGB = tuple[int, int, int]


@dataclass(frozen=True)
class ImageLora:
    """One image style, as ``GET /v1/loras`` lists it, plus how the sandbox draws it."""

    id: str
    slug: str
    name: str
    description: str
    is_public: bool
    created_at: str
    default_denoise_strength: float
    default_guidance_scale: float
    default_steps: int
    has_template: bool
    legacy_uuid: str
    palette: tuple[RGB, ...]
    motif: str

    def to_json(self, base_url: str) -> dict[str, Any]:
        """The contract's ``LoraResponse`` (section 2.1); previews are served by the sandbox."""
        return {
            "id": self.id,
            "name": self.name,
            "is_public": self.is_public,
            "created_at": self.created_at,
            "slug": self.slug,
            "description": self.description,
            "preview_image_url": f"{base_url}/_sandbox/previews/{self.slug}.png",
            "default_denoise_strength": self.default_denoise_strength,
            "default_guidance_scale": self.default_guidance_scale,
            "default_steps": self.default_steps,
            "has_template": self.has_template,
        }


@dataclass(frozen=True)
class VideoLora:
    """One video model ("video LoRA"), as ``GET /v1/video_loras`` lists it (section 2.4)."""

    id: str
    slug: str
    name: str
    description: str
    is_public: bool
    created_at: str
    default_resolution: str
    default_ratio: str
    default_duration: int
    legacy_uuid: str
    look: str
    """Slug of the image style whose still the video animates."""
    motion: str
    """``"pan"`` or ``"zoom"``: how the still moves."""

    def to_json(self, base_url: str) -> dict[str, Any]:
        """The contract's video-LoRA object (section 2.4)."""
        return {
            "id": self.id,
            "name": self.name,
            "is_public": self.is_public,
            "default_resolution": self.default_resolution,
            "default_ratio": self.default_ratio,
            "default_duration": self.default_duration,
            "created_at": self.created_at,
            "slug": self.slug,
            "description": self.description,
            "preview_video_url": f"{base_url}/_sandbox/previews/{self.slug}.mp4",
        }


def _image(
    id: str,
    slug: str,
    name: str,
    description: str,
    created_at: str,
    legacy_uuid: str,
    palette: tuple[RGB, ...],
    motif: str,
    *,
    denoise: float = 0.8,
    guidance: float = 7.5,
    steps: int = 30,
    has_template: bool = False,
) -> ImageLora:
    return ImageLora(
        id=id,
        slug=slug,
        name=name,
        description=description,
        is_public=True,
        created_at=created_at,
        default_denoise_strength=denoise,
        default_guidance_scale=guidance,
        default_steps=steps,
        has_template=has_template,
        legacy_uuid=legacy_uuid,
        palette=palette,
        motif=motif,
    )


IMAGE_LORAS: tuple[ImageLora, ...] = (
    _image(
        "lora_01JAEM2JJXSAKRTNT69QB3DEFN",
        "golden-hour",
        "Golden Hour",
        "Warm low sun, long shadows and a glowing horizon.",
        "2026-01-12T09:00:00Z",
        "ff3d5a0a-9f93-443e-8692-20ed7413a1a8",
        ((255, 196, 92), (247, 129, 62), (196, 72, 66), (92, 45, 72), (255, 236, 170)),
        "sun",
        has_template=True,
    ),
    _image(
        "lora_01JR5GZRAP71NWPW11BPNSBZZ3",
        "neon-noir",
        "Neon Noir",
        "Rain-slick night streets under magenta and cyan neon.",
        "2026-01-19T09:00:00Z",
        "bef9f90d-865e-4248-b5a3-89d71781ead4",
        ((10, 8, 24), (255, 46, 196), (0, 234, 255), (124, 60, 255), (30, 22, 60)),
        "grid",
        guidance=8.0,
    ),
    _image(
        "lora_01JPXGPSSKWVKQ3WKV3D42F0J2",
        "watercolor",
        "Watercolor",
        "Soft washes of pigment bleeding into textured paper.",
        "2026-02-02T09:00:00Z",
        "fdd90f93-9b77-4bd5-a50a-b79be16296c8",
        ((246, 241, 228), (70, 130, 200), (225, 100, 130), (90, 170, 110), (240, 170, 60)),
        "blobs",
        denoise=0.7,
        guidance=6.5,
    ),
    _image(
        "lora_01JRAZD7XJME9PM3ME0RY1Y3GE",
        "ink-sketch",
        "Ink Sketch",
        "Monochrome pen strokes and cross-hatching on off-white paper.",
        "2026-02-16T09:00:00Z",
        "20d01bf7-bf27-4e2a-a91f-f0ca3f63f37f",
        ((244, 240, 230), (25, 25, 30), (80, 80, 90), (150, 150, 155), (210, 205, 195)),
        "strokes",
        steps=25,
    ),
    _image(
        "lora_01JKRHSK5MATTVM4KKTKQNG0DT",
        "pastel-anime",
        "Pastel Anime",
        "Bright cel-shaded skies, puffy clouds and candy pastels.",
        "2026-03-02T09:00:00Z",
        "ff58b525-c967-47e5-a745-5596befc4255",
        ((182, 220, 255), (255, 190, 220), (255, 255, 255), (200, 170, 255), (160, 230, 200)),
        "clouds",
        has_template=True,
    ),
    _image(
        "lora_01JSFWQ3CX2F9A0SMBSWDEPXEA",
        "brutalist-poster",
        "Brutalist Poster",
        "Hard-edged blocks, primary colours and heavy rules.",
        "2026-03-16T09:00:00Z",
        "eb5c6d2e-69b1-4e44-af96-1540e872971f",
        ((236, 232, 220), (222, 40, 30), (20, 20, 20), (250, 200, 0), (30, 70, 170)),
        "blocks",
        guidance=9.0,
        steps=35,
    ),
    _image(
        "lora_01JH8CY4YCFKBA06M34SGX2545",
        "botanical-plate",
        "Botanical Plate",
        "Victorian herbarium plate: leaves and stems on aged cream paper.",
        "2026-04-06T09:00:00Z",
        "55538a93-fd14-4f37-8d31-5c09c69fe4fc",
        ((238, 228, 200), (58, 110, 60), (110, 150, 70), (160, 80, 60), (90, 70, 50)),
        "leaves",
        denoise=0.75,
    ),
    _image(
        "lora_01JF4GGB70056H7G4528NPPMKW",
        "vaporwave",
        "Vaporwave",
        "A striped retro sun over a chrome grid, in teal and hot pink.",
        "2026-04-20T09:00:00Z",
        "7f90a428-ecab-444c-abd1-c126d4a735f9",
        ((40, 10, 70), (255, 110, 199), (255, 210, 90), (0, 210, 200), (110, 40, 160)),
        "retro_sun",
    ),
    _image(
        "lora_01J4GQA9S94F77HDVY230S0VH3",
        "low-poly",
        "Low Poly",
        "Faceted triangles in cool gradients, like an early 3D render.",
        "2026-05-04T09:00:00Z",
        "46cdb253-837f-43ee-b0df-004043cee991",
        ((30, 60, 110), (50, 120, 170), (90, 180, 190), (170, 220, 200), (240, 240, 220)),
        "triangles",
        steps=28,
    ),
)


VIDEO_LORAS: tuple[VideoLora, ...] = (
    VideoLora(
        id="lora_01JBJR7XBMJHABPZATTPM35495",
        slug="seedance-1-pro",
        name="Seedance 1.0 Pro",
        description="BytePlus Seedance, full quality: cinematic camera moves up to 1080p.",
        is_public=True,
        created_at="2026-02-09T09:00:00Z",
        default_resolution="1080p",
        default_ratio="16:9",
        default_duration=5,
        legacy_uuid="f89c8bfe-6116-4ecc-81f0-b23253a1cdc1",
        look="golden-hour",
        motion="zoom",
    ),
    VideoLora(
        id="lora_01JHA8VD1S5967FNDZDYRY6MTZ",
        slug="seedance-1-lite",
        name="Seedance 1.0 Lite",
        description="BytePlus Seedance, faster and cheaper: steady pans, best at 480p-720p.",
        is_public=True,
        created_at="2026-03-09T09:00:00Z",
        default_resolution="720p",
        default_ratio="16:9",
        default_duration=5,
        legacy_uuid="93746a67-903e-4336-bf3f-ef6a4d04958a",
        look="neon-noir",
        motion="pan",
    ),
)


_IMAGE_INDEX: dict[str, ImageLora] = {
    key: lora for lora in IMAGE_LORAS for key in (lora.id, lora.slug, lora.legacy_uuid)
}
_VIDEO_INDEX: dict[str, VideoLora] = {
    key: lora for lora in VIDEO_LORAS for key in (lora.id, lora.slug, lora.legacy_uuid)
}


def find_image_lora(ref: str) -> ImageLora | None:
    """Resolve an image LoRA by ``lora_`` id, slug or legacy UUID (UUIDs case-insensitively)."""
    return _IMAGE_INDEX.get(ref) or _IMAGE_INDEX.get(ref.lower())


def find_video_lora(ref: str) -> VideoLora | None:
    """Resolve a video LoRA by ``lora_`` id, slug or legacy UUID (UUIDs case-insensitively)."""
    return _VIDEO_INDEX.get(ref) or _VIDEO_INDEX.get(ref.lower())

"""One generation (image or video): its timeline, its money and its ``GenerationResponse`` JSON."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from aurous_nb.sandbox.outputs import Signer
from aurous_nb.sandbox.pricing import Cost, num
from aurous_nb.sandbox.timefmt import iso
from aurous_nb.sandbox.validation import ImageRequest, VideoRequest

NON_TERMINAL = ("pending", "processing")
TERMINAL = ("succeeded", "failed", "cancelled", "expired", "moderation_rejected")


@dataclass
class Generation:
    """A generation as the sandbox keeps it; status moves by time (see ``SandboxState.settle``)."""

    id: str
    seq: int
    request: ImageRequest | VideoRequest
    cost: Cost
    held: float
    """The amount held (the echo while running); debited from the team only when ``gated``."""
    gated: bool
    seed: int
    aurous_version: str
    creation_request_id: str
    idempotency_key: str | None
    base_url: str
    created_at: float
    processing_at: float
    done_at: float
    outcome: str
    outcome_message: str | None
    status: str = "pending"
    completed_at: float | None = None
    charged: float = 0.0
    error_message: str | None = None
    outputs: dict[int, bytes] = field(default_factory=dict)
    #: the look of the request's character, fixed at create (``poses.looks``), drawn in each output
    figure: dict[str, Any] | None = None

    @property
    def media_type(self) -> str:
        return "video" if isinstance(self.request, VideoRequest) else "image"

    @property
    def terminal(self) -> bool:
        return self.status in TERMINAL

    @property
    def output_count(self) -> int:
        if self.status != "succeeded":
            return 0
        return self.request.count if isinstance(self.request, ImageRequest) else 1

    def output_expiry(self, ttl: float) -> float | None:
        """When the outputs stop being served (None while there are none)."""
        if self.status != "succeeded" or self.completed_at is None:
            return None
        return self.completed_at + ttl

    @property
    def debited(self) -> float:
        """What the team actually paid (nothing for exempt billing)."""
        return self.charged if self.gated else 0.0

    def cost_json(self) -> dict[str, Any]:
        """Held amount while running, the charge once succeeded, 0 for any other end."""
        if not self.terminal:
            return self.cost.to_json(self.held)
        if self.status == "succeeded":
            return self.cost.to_json(self.charged)
        return Cost(0.0, None if self.cost.enhance is None else 0.0).to_json()

    def to_json(self, signer: Signer, base_url: str, now: float, ttl: float) -> dict[str, Any]:
        req = self.request
        expiry = self.output_expiry(ttl)
        live = expiry is not None and now < expiry
        output_urls: list[str] = []
        video_url = None
        if live and expiry is not None:
            if isinstance(req, ImageRequest):
                output_urls = [
                    f"{base_url}/v1/images/{self.id}/output/{n}"
                    f"?token={signer.mint('image', self.id, str(n), expiry)}"
                    for n in range(req.count)
                ]
            else:
                token = signer.mint("video", self.id, "video", expiry)
                video_url = f"{base_url}/v1/videos/{self.id}/output?token={token}"
        duration_ms = None
        if self.completed_at is not None and self.status in ("succeeded", "failed"):
            duration_ms = round((self.completed_at - self.created_at) * 1000)
        out: dict[str, Any] = {
            "object": "inference",
            "id": self.id,
            "status": self.status,
            "media_type": self.media_type,
            "prompt": req.prompt,
            "created_at": iso(self.created_at),
            "completed_at": iso(self.completed_at) if self.completed_at is not None else None,
            "output_urls": output_urls,
            "output_video_url": video_url,
            "error_message": self.error_message,
            "duration_ms": duration_ms,
            "cost": self.cost_json(),
            "seed": self.seed,
            "character_id": getattr(req, "character_id", None),
            "aurous_version": self.aurous_version,
            "creation_request_id": self.creation_request_id,
            "inference_type": req.inference_type,
        }
        if isinstance(req, ImageRequest):
            out.update(
                negative_prompt=req.negative_prompt,
                reference_image_urls=req.reference_image_urls,
                width=req.width,
                height=req.height,
                image_count=req.count,
                size_preset=req.size_preset,
                steps=req.steps,
                guidance_scale=num(req.guidance_scale),
                cfg_rescale=num(req.cfg_rescale),
                denoise_strength=num(req.denoise_strength),
                enhance_prompt=req.enhance_prompt,
                loras=[{"id": p.lora.id, "name": p.lora.name} for p in req.loras] or None,
                video_duration=None,
                video_resolution=None,
                video_ratio=None,
                video_camera_fixed=None,
            )
        else:
            from aurous_nb.sandbox.video import video_size

            width, height = video_size(req.resolution, req.ratio)
            out.update(
                negative_prompt=None,
                reference_image_urls=[u for u in (req.first_frame_url, req.last_frame_url) if u],
                width=width,
                height=height,
                image_count=None,
                size_preset=None,
                enhance_prompt=req.enhance_prompt,
                loras=[{"id": req.lora.id, "name": req.lora.name}],
                video_duration=req.duration,
                video_resolution=req.resolution,
                video_ratio=req.ratio,
                video_camera_fixed=req.camera_fixed,
                first_frame_url=req.first_frame_url,
                last_frame_url=req.last_frame_url,
            )
        return out

    def ledger_json(self) -> dict[str, Any]:
        """What ``/_sandbox/ledger`` shows: enough to prove nothing was bought twice."""
        return {
            "id": self.id,
            "media_type": self.media_type,
            "status": self.status,
            "request": self.request.raw,
            "prompt": self.request.prompt,
            "idempotency_key": self.idempotency_key,
            "credits_held": num(self.held),
            "credits_charged": num(self.debited),
            "billed": self.gated,
            "estimated_cost": num(self.cost.amount),
            "aurous_version": self.aurous_version,
            "creation_request_id": self.creation_request_id,
            "created_at": iso(self.created_at),
            "completed_at": iso(self.completed_at) if self.completed_at is not None else None,
        }

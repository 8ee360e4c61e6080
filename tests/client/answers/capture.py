"""Re-capture ``answers.json``: real answers of a seeded sandbox, one or more per model.

    .venv/bin/python tests/client/answers/capture.py

The file pins what the models are parsed from (``test_client_models.py``); re-run it when the
sandbox's answers change shape. Webhook secrets and URL tokens are shortened (:func:`scrub`).
"""

from __future__ import annotations

import json
import re
import sys
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

HERE = Path(__file__).parent
sys.path.insert(0, str(HERE.parent))

from client_support import FAST, Receiver  # noqa: E402

from aurous_nb.client import Client  # noqa: E402
from aurous_nb.sandbox import Sandbox  # noqa: E402

PNG = bytes.fromhex(
    "89504e470d0a1a0a0000000d4948445200000001000000010806000000"
    "1f15c4890000000d49444154789c6360000002000154a24f5d0000000049454e44ae426082"
)


def capture() -> dict[str, list[dict[str, Any]]]:
    out: dict[str, list[dict[str, Any]]] = {}

    def keep(model: str, value: Any) -> None:
        out.setdefault(model, []).append(value.raw)

    receiver = Receiver()
    with Sandbox(seed=7, **FAST) as sb, Client(api_key=sb.api_key, base_url=sb.base_url) as c:
        keep("Balance", c.balance())
        keep("Team", c.team())
        keep("Pricing", c.pricing())
        loras = c.loras.list()
        for lora in loras[:2]:
            keep("Lora", lora)
        vloras = c.video_loras.list()
        for vl in vloras[:2]:
            keep("VideoLora", vl)
        keep("Estimate", c.images.estimate("a fox", count=2, enhance_prompt=True))
        keep("Estimate", c.videos.estimate(vloras[0].id, prompt="waves", duration=5))
        pending = c.images.create("a lighthouse", lora_id=loras[0].id, seed=3)
        keep("Generation", pending)
        keep("Generation", c.images.wait(pending, poll_interval=0.05))
        stacked = c.images.create(
            "a stack", loras=[{"lora": loras[0].id, "weight": 0.5}], size="2k_1_1", count=2
        )
        keep("Generation", c.images.wait(stacked, poll_interval=0.05))
        cancelled = c.images.create("cancel me", width=1024, height=1536)
        keep("Generation", c.images.cancel(cancelled))
        video = c.videos.create(vloras[0].id, prompt="a wave", resolution="720p", duration=5)
        keep("Generation", video)
        keep("Generation", c.images.wait(video, poll_interval=0.05))
        since = datetime.now(timezone.utc) - timedelta(days=2)
        for bucket in c.usage(since, bucket_width="1h", group_by=["type", "status"]):
            keep("UsageBucket", bucket)
        f = c.files.upload(PNG, filename="dot.png", metadata={"k": "v"})
        keep("File", f)
        keep("File", c.files.get(f.id))
        keep("Deleted", c.files.delete(f.id))
        ep = c.webhook_endpoints.create(receiver.url, ["image.completed"], description="pin")
        keep("WebhookEndpoint", ep)
        keep("WebhookEndpoint", c.webhook_endpoints.get(ep.id))
        keep("WebhookTestFire", c.webhook_endpoints.test(ep.id, "image.completed"))
        hooked = c.images.create("hooked", webhook_url=receiver.url)
        c.images.wait(hooked, poll_interval=0.05)
        receiver.wait(2)
        time.sleep(0.2)
        keep("WebhookEndpoint", c.webhook_endpoints.rotate_secret(ep.id))
        keep("Deleted", c.webhook_endpoints.delete(ep.id))
        keep("Deleted", c.webhook_endpoints.delete(ep.id))
    receiver.close()
    for body, _headers in receiver.deliveries:
        out.setdefault("Event", []).append(json.loads(body))
    return out


def scrub(text: str) -> str:
    """Secrets and signed URLs shortened so that no scanner mistakes the pin for a leak."""
    text = re.sub(r"whsec_[A-Za-z0-9_-]{16,}", "whsec_pinned", text)
    return re.sub(r"\?token=[^\"]+", "?t=pinned", text)


if __name__ == "__main__":
    answers = capture()
    buckets = answers["UsageBucket"]
    answers["UsageBucket"] = [b for b in buckets if b["groups"]] + [buckets[0]]
    text = json.dumps(answers, indent=1, sort_keys=True) + "\n"
    (HERE / "answers.json").write_text(scrub(text))
    print({k: len(v) for k, v in answers.items()})

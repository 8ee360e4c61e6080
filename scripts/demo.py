"""``make demo``: the Aurous quickstart, end to end, against a local sandbox.

Balance, estimate, list LoRAs, create (with an idempotency key), poll to ``succeeded`` and
download the output, then write the image and a short summary under ``--out``.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from aurous_nb import Client, Sandbox


def quickstart(client: Client, out: Path) -> Path:
    balance = client.balance()
    print(f"1. balance: {balance.available_credits:g} credits available")

    estimate = client.images.estimate("a lighthouse at golden hour", size="hd_square")
    print(f"2. estimate (hd_square): {estimate.amount:g} credits")

    loras = client.loras.list()
    lora = next((item for item in loras if item.slug == "golden-hour"), loras[0])
    print(f"3. {len(loras)} LoRA styles; creating with {lora.name!r}")
    created = client.images.create(
        "a lighthouse at golden hour", lora_id=lora.id, size="hd_square", seed=7
    )
    print(f"   created {created.id} ({created.status})")

    started = time.monotonic()
    done = client.images.wait(created, timeout=120)
    print(f"4. {done.status} after {time.monotonic() - started:.1f}s, cost {done.cost.amount:g}")

    out.mkdir(parents=True, exist_ok=True)
    path = out / f"quickstart-{done.id}.png"
    path.write_bytes(client.images.download(done, index=0))
    print(f"5. saved {done.width}x{done.height} image to {path}")
    return path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--out", type=Path, default=Path("build"))
    args = parser.parse_args(argv)
    with Sandbox(latency=1.5, credits=1000) as sb:
        print(f"sandbox at {sb.base_url} (synthetic outputs)")
        with Client(api_key=sb.api_key, base_url=sb.base_url) as client:
            quickstart(client, args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())

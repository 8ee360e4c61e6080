"""Small readable DataFrames of API objects (balance, rate card, styles) for the magics.

Plain frames (no ``Styler``: its HTML carries random ids) with clear column names and units, so
a saved notebook reads well on GitHub and compares equal when re-run. pandas loads on first call.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["balance", "loras", "pricing", "video_loras"]


def balance(bal: Any, *, synthetic: bool = False) -> pd.DataFrame:
    """One row: credits, held by running jobs, available, billing mode."""
    import pandas as pd

    frame = pd.DataFrame(
        [
            {
                "credits": _whole(bal.credits),
                "held": _whole(bal.held_credits),
                "available": _whole(bal.available_credits),
                "billing": bal.billing_mode or "",
            }
        ],
        index=["sandbox (not real)" if synthetic else "balance"],
    )
    return frame


def _whole(amount: Any) -> Any:
    """A whole amount as an int, so ``0`` held reads ``0`` (not ``0.0``) beside ``1000``."""
    if isinstance(amount, float) and amount.is_integer():
        return int(amount)
    return amount


def pricing(card: Any) -> pd.DataFrame:
    """The rate card as (item, credits) rows; the version is in ``frame.attrs``."""
    import pandas as pd

    rows: list[tuple[str, str, float]] = [
        ("image", "base, per image", card.image.base),
        ("image", "enhance_prompt multiplier", card.image.enhance_prompt_multiplier),
        ("image", "reference image, per image", card.image.reference_image_per_image),
        ("video", "base, per second", card.video.base_per_second),
    ]
    rows += [
        ("video", f"{res} factor", factor)
        for res, factor in sorted(card.video.resolution_factor.items(), key=lambda kv: kv[1])
    ]
    frame = pd.DataFrame(rows, columns=["media", "item", "value"]).set_index(["media", "item"])
    frame.attrs["version"] = card.version
    frame.columns = [f"credits (Aurous-Version {card.version})"]
    return frame


def _matches(text: str | None, *fields: str | None) -> bool:
    if not text:
        return True
    needle = text.lower()
    return any(needle in (f or "").lower() for f in fields)


def loras(items: Iterable[Any], text: str | None = None) -> pd.DataFrame:
    """Image styles (filtered by ``text`` in slug, name or description)."""
    import pandas as pd

    rows = [
        {
            "slug": lo.slug or "",
            "name": lo.name,
            "description": lo.description or "",
            "steps": lo.default_steps,
            "guidance": lo.default_guidance_scale,
            "id": lo.id,
        }
        for lo in items
        if _matches(text, lo.slug, lo.name, lo.description)
    ]
    columns = ["slug", "name", "description", "steps", "guidance", "id"]
    return pd.DataFrame(rows, columns=columns).set_index("slug")


def video_loras(items: Iterable[Any]) -> pd.DataFrame:
    """Video models with their default resolution, ratio and duration."""
    import pandas as pd

    rows = [
        {
            "slug": v.slug or "",
            "name": v.name,
            "resolution": v.default_resolution or "",
            "ratio": v.default_ratio or "",
            "duration_s": v.default_duration,
            "description": v.description or "",
            "id": v.id,
        }
        for v in items
    ]
    columns = ["slug", "name", "resolution", "ratio", "duration_s", "description", "id"]
    return pd.DataFrame(rows, columns=columns).set_index("slug")

"""What past generations would have cost at another rate card.

Rate cards are frozen per ``Aurous-Version`` and price changes are never retroactive, so the
question "what would moving our pin to 2026-09-01 do to this month's spend?" is answered here:
each generation's request (the ledger keeps it) priced by the other card's formula. Only cards the
ledger has seen are used (with a client, the one asked for is fetched and kept first). Pandas is
imported only when a function runs; :func:`aurous_nb.frames.reprice` is the public name.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from aurous_nb.store.ledger import Ledger, ledger_or_default

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["card_for", "impact", "known_versions", "reprice"]


def known_versions(ledger: Ledger | None = None, env: str | None = None) -> list[str]:
    """The rate-card versions the ledger has seen (in ``env``), oldest first."""
    return sorted({s.version for s in ledger_or_default(ledger).pricing_snapshots(env)})


def card_for(
    version: str, *, ledger: Ledger | None = None, env: str | None = None, client: Any = None
) -> Any:
    """The newest card the ledger kept for ``version`` (fetched and kept first, with a client,
    when it has none); ``ValueError`` naming the known versions otherwise."""
    from aurous_nb.client.models import Pricing
    from aurous_nb.store import snapshots

    kept = ledger_or_default(ledger)
    found = [s for s in kept.pricing_snapshots(env) if s.version == version]
    if not found and client is not None:
        return snapshots.pricing(client, kept, version=version)
    if not found:
        known = ", ".join(known_versions(kept, env)) or "none"
        raise ValueError(
            f"the ledger has no rate card for {version} (it has: {known}); pass client= to fetch it"
        )
    return Pricing.from_json(dict(max(found, key=lambda s: s.last_seen).card))


def _requests(ledger: Ledger, env: str | None) -> dict[str, dict[str, Any]]:
    sql = "SELECT generation_id, request FROM generations WHERE generation_id IS NOT NULL"
    params: list[Any] = []
    if env is not None:
        sql, params = sql + " AND env = ?", [env]
    _, rows = ledger.query(sql + " AND request IS NOT NULL", params)
    return {str(gid): json.loads(text) for gid, text in rows}


def _fallback_request(row: Mapping[str, Any]) -> dict[str, Any] | None:
    """A request rebuilt from a frame row (a generation only the server knew)."""
    if row.get("media_type") == "image":
        count = row.get("image_count")
        return {"count": int(count) if isinstance(count, (int, float)) and _number(count) else 1}
    size = str(row.get("size") or "")
    resolution = size.split(" ")[0] if size else None
    duration = row.get("video_duration")
    if not resolution or not isinstance(duration, (int, float)) or not _number(duration):
        return None
    return {"resolution": resolution, "duration": int(duration)}


def _number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not (isinstance(value, float) and math.isnan(value))


def reprice(
    history: pd.DataFrame,
    version: str,
    *,
    ledger: Ledger | None = None,
    client: Any = None,
) -> pd.DataFrame:
    """``history`` (from :func:`aurous_nb.frames.history`) with ``cost_at_version`` (what each
    generation would have cost at ``version``'s card) and ``cost_difference`` (that minus what
    was charged). Generations that did not succeed keep their charge; a price the card's
    formula cannot give (a video at the model's default resolution) is NaN."""
    from aurous_nb.work.quote import card_price
    from aurous_nb.work.spec import JobSpec

    kept = ledger_or_default(ledger)
    env = history.attrs.get("env")
    card = card_for(version, ledger=kept, env=env, client=client)
    requests = _requests(kept, env)
    prices: list[float] = []
    for row in history.to_dict("records"):
        cost = row.get("cost")
        charged = float(cost) if _number(cost) else math.nan
        if row.get("status") != "succeeded":
            prices.append(charged)
            continue
        request = requests.get(str(row.get("generation_id"))) or _fallback_request(row)
        price = None
        if request is not None:
            kind = str(row.get("media_type"))
            need = "prompt" if kind == "image" else "video_lora_id"
            try:
                price = card_price(JobSpec(kind, {need: "x", **request}), card)
            except ValueError:
                price = None
        prices.append(math.nan if price is None else float(price))
    out = history.copy()
    out["cost_at_version"] = prices
    out["cost_at_version"] = out["cost_at_version"].astype("float64")
    out["cost_difference"] = out["cost_at_version"] - out["cost"].astype("float64")
    out.attrs.update(history.attrs, version=version)
    return out


def impact(
    history: pd.DataFrame, *, ledger: Ledger | None = None, versions: list[str] | None = None
) -> dict[str, float]:
    """What the succeeded generations of ``history`` cost at each known version's card
    (credits by version); what was charged is under ``"charged"``."""
    kept = ledger_or_default(ledger)
    env = history.attrs.get("env")
    out = {"charged": float(history["cost"].fillna(0).sum()) if len(history) else 0.0}
    for version in versions or known_versions(kept, env):
        priced = reprice(history, version, ledger=kept)
        out[version] = float(priced["cost_at_version"].fillna(0).sum())
    return out

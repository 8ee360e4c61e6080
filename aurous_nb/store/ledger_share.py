"""Sharing a ledger's records: export them to one JSON file, import a colleague's.

So a colleague's :func:`aurous_nb.reproduce.quote` knows what already exists, and a reprice knows
the rate cards someone else saw. Shared: each generation's canonical request, status, credits,
times and ids, and the rate cards. Never shared: an API key (every text passes the one redaction
rule), a signed URL (outputs' URLs are not in the records, other URLs lose their tokens), the
idempotency keys (an imported row must never be re-sent, so it has none) or local paths.

Imported rows are ``origin = 'imported'``: they are not this home's spending (the caps of
:mod:`aurous_nb.caps` count only ``local`` rows) and a row already known is left as it is.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from aurous_nb.statuses import ACTIVE, ALL
from aurous_nb.store.ledger import Ledger, ledger_or_default
from aurous_nb.store.payloads import contains_api_key, sanitize

__all__ = ["FORMAT", "export", "import_"]

FORMAT = "aurous_nb.ledger-export"
VERSION = 1

#: The columns a record carries, in the file (never idempotency_key, response, paths).
FIELDS = (
    "env",
    "media_type",
    "generation_id",
    "status",
    "request",
    "request_hash",
    "notebook",
    "estimate",
    "charged",
    "prompt",
    "lora",
    "lora_id",
    "size",
    "width",
    "height",
    "seed",
    "image_count",
    "video_duration",
    "submitted_at",
    "created_at",
    "completed_at",
    "duration_ms",
    "error_code",
    "aurous_version",
)


def export(
    path: str | os.PathLike[str],
    *,
    since: Any = None,
    ledger: Ledger | None = None,
    env: str | None = None,
) -> int:
    """Write the ledger's answered generations (since ``since``: an age like ``"7d"``, a date,
    epoch seconds; in ``env`` when given) and its rate cards to ``path``; returns how many
    generations. Jobs never answered are left out: nothing is known to exist for them."""
    from aurous_nb.timestamps import epoch

    kept = ledger_or_default(ledger)
    start = epoch(since)
    sql = f"SELECT {', '.join(FIELDS)} FROM generations WHERE generation_id IS NOT NULL"
    params: list[Any] = []
    if start is not None:
        sql += " AND COALESCE(created_at, submitted_at) >= ?"
        params.append(start)
    if env is not None:
        sql += " AND env = ?"
        params.append(env)
    _, rows = kept.query(sql + " ORDER BY row_id", params)
    records = []
    for row in rows:
        record = dict(zip(FIELDS, row, strict=True))
        record["request"] = json.loads(record["request"]) if record["request"] else None
        records.append(sanitize(record))
    cards = [
        sanitize({"env": s.env, "version": s.version, "card": s.card, "first_seen": s.first_seen})
        for s in kept.pricing_snapshots(env)
    ]
    body = {
        "format": FORMAT,
        "version": VERSION,
        "exported_at": time.time(),
        "generations": records,
        "pricing": cards,
    }
    text = json.dumps(body, ensure_ascii=False, indent=1)  # columns in ledger order
    if contains_api_key(text):  # the redaction above makes this unreachable; keep it so
        raise ValueError("the export would contain something shaped like an API key; refusing")
    target = Path(path)
    partial = target.with_name(target.name + ".part")
    partial.write_text(text, encoding="utf-8")
    partial.replace(target)
    return len(records)


def import_(path: str | os.PathLike[str], *, ledger: Ledger | None = None) -> int:
    """Add the records of an export to the ledger (rate cards too); returns how many
    generations were new. Known generations are left as they are; nothing is ever re-sent."""
    from aurous_nb.canonical import canonical_json
    from aurous_nb.store.payloads import request_hash

    body = json.loads(Path(path).read_text(encoding="utf-8"))
    if not isinstance(body, Mapping) or body.get("format") != FORMAT:
        raise ValueError(f"{path} is not an aurous_nb ledger export")
    if int(body.get("version") or 0) > VERSION:
        raise ValueError(f"{path} was written by a newer aurous_nb; upgrade to read it")
    kept = ledger_or_default(ledger)
    added = 0
    now = time.time()
    names = [f for f in FIELDS if f != "request_hash"]
    with kept._write() as conn:
        for raw in body.get("generations") or ():
            if not isinstance(raw, Mapping) or not raw.get("generation_id"):
                continue
            record = sanitize({f: raw.get(f) for f in names})
            if record["status"] not in ALL or record["media_type"] not in ("image", "video"):
                continue
            if record["status"] in ACTIVE:  # another home's live job: not ours to watch
                continue
            request = record.pop("request")
            if contains_api_key(record) or contains_api_key(request):
                continue
            values = {
                **record,
                "request": canonical_json(request, drop_none=True) if request else None,
                "request_hash": request_hash(record["media_type"], request) if request else None,
                "origin": "imported",
                "updated_at": now,
            }
            cursor = conn.execute(
                f"INSERT OR IGNORE INTO generations ({', '.join(values)}) "
                f"VALUES ({', '.join('?' for _ in values)})",
                tuple(values.values()),
            )
            added += cursor.rowcount
    for card in body.get("pricing") or ():
        if isinstance(card, Mapping) and isinstance(card.get("card"), Mapping):
            kept.record_pricing(
                str(card.get("env") or "unknown"),
                sanitize(card["card"]),
                version=str(card.get("version") or "unknown"),
                at=float(card.get("first_seen") or now),
            )
    return added

"""Copy one ledger into another (a person's local file into the team's database): every job,
output record, rate card and balance reading, once. Running it again adds nothing.

Rows are matched on what makes them unique in the schema (the idempotency key, the environment
and generation id, an output's index, a rate card's digest, a balance reading's time), so a row
already there is left as it is. Rows written before schema 4 get the copying person's name and
host, so the team's history says whose they are. Output files stay where they are: the rows say
which host has them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from aurous_nb.store.ledger import Ledger

__all__ = ["copy_ledger"]

_GENERATION_COLUMNS = (
    "env", "idempotency_key", "origin", "media_type", "request", "request_hash", "notebook",
    "cell", "estimate", "submitted_at", "generation_id", "status", "prompt", "lora", "lora_id",
    "size", "width", "height", "seed", "image_count", "video_duration", "held", "charged",
    "created_at", "completed_at", "updated_at", "duration_ms", "error_code", "error_message",
    "aurous_version", "response", "user_name", "host", "team",
)  # fmt: skip
_OUTPUT_COLUMNS = (
    "env", "generation_id", "idx", "path", "bytes", "sha256", "content_type", "downloaded_at",
    "host",
)  # fmt: skip
_TABLES = ("generations", "outputs", "pricing", "balances")


def copy_ledger(src: Ledger, dst: Ledger) -> dict[str, int]:
    """Copy ``src`` into ``dst``; returns how many rows each table gained."""
    before = _counts(dst)
    names = ", ".join(_GENERATION_COLUMNS)
    _, rows = src.query(
        f"SELECT {', '.join(_GENERATION_COLUMNS[:-3])}, COALESCE(user_name, ?), "
        "COALESCE(host, ?), team FROM generations ORDER BY row_id",
        (src.user, src.host),
    )
    _insert(dst, f"INSERT INTO generations ({names}) VALUES ({_marks(_GENERATION_COLUMNS)}) "
                 "ON CONFLICT DO NOTHING", rows)  # fmt: skip
    _, rows = src.query(
        f"SELECT {', '.join(_OUTPUT_COLUMNS[:-1])}, CASE WHEN host = '' THEN ? ELSE host END "
        "FROM outputs",
        (src.host,),
    )
    _insert(dst, f"INSERT INTO outputs ({', '.join(_OUTPUT_COLUMNS)}) VALUES "
                 f"({_marks(_OUTPUT_COLUMNS)}) ON CONFLICT DO NOTHING", rows)  # fmt: skip
    _, rows = src.query(
        "SELECT env, version, card_sha256, card, first_seen, last_seen, times_seen FROM pricing"
    )
    greatest, least = dst._db.greatest, dst._db.least
    _insert(
        dst,
        "INSERT INTO pricing VALUES (?, ?, ?, ?, ?, ?, ?) "
        "ON CONFLICT (env, version, card_sha256) DO UPDATE SET "
        f"first_seen = {least}(pricing.first_seen, excluded.first_seen), "
        f"last_seen = {greatest}(pricing.last_seen, excluded.last_seen), "
        f"times_seen = {greatest}(pricing.times_seen, excluded.times_seen)",
        rows,
    )
    _, rows = src.query(
        "SELECT env, at, credits, held_credits, available_credits, billing_mode FROM balances"
    )
    _insert(
        dst,
        "INSERT INTO balances (env, at, credits, held_credits, available_credits, billing_mode) "
        "SELECT ?, ?, ?, ?, ?, ? WHERE NOT EXISTS "
        "(SELECT 1 FROM balances WHERE env = ? AND at = ?)",
        [(*r, r[0], r[1]) for r in rows],
    )
    after = _counts(dst)
    return {table: after[table] - before[table] for table in _TABLES}


def _marks(columns: tuple[str, ...]) -> str:
    return ", ".join("?" for _ in columns)


def _insert(dst: Ledger, sql: str, rows: list[tuple[Any, ...]]) -> None:
    """All of ``rows`` in one write transaction (none when it fails), in chunks."""
    if not rows:
        return
    with dst._write() as conn:
        for start in range(0, len(rows), 1000):
            conn.executemany(sql, rows[start : start + 1000])


def _counts(ledger: Ledger) -> dict[str, int]:
    out = {}
    for table in _TABLES:
        _, [(count,)] = ledger.query(f"SELECT count(*) FROM {table}")
        out[table] = int(count)
    return out

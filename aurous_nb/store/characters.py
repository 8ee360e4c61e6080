"""Characters in the ledger: one ``character_jobs`` row per create, synthesis, resynthesis or
one-pose regeneration, written *before* a paid request is sent (as a generation's row is).

A row's status reads like a generation's, so history, spend and the cost report count it the
same way: ``submitting`` (written; the request may or may not have reached the server),
``processing`` (answered: the poses are being drawn, credits held), then ``succeeded`` (the
poses rendered: the estimate is charged; the API echoes no cost on a character), ``failed`` or
``cancelled`` (deleted in flight; nothing charged), or ``rejected`` (refused: nothing exists).
Only the standard library and the ledger are used here.
"""

from __future__ import annotations

import hashlib
import time
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from aurous_nb.canonical import canonical_json
from aurous_nb.statuses import (
    CANCELLED,
    FAILED,
    PROCESSING,
    READY,
    REJECTED,
    REVIEWING,
    SUBMITTING,
    SUCCEEDED,
)
from aurous_nb.store.ledger import Ledger
from aurous_nb.store.payloads import contains_api_key, redact_keys

if TYPE_CHECKING:
    import pandas as pd

__all__ = [
    "ACTIONS",
    "CharacterJob",
    "answered",
    "deleted",
    "history_frame",
    "jobs",
    "observe",
    "prepare",
    "rejected",
    "reusable",
]

ACTIONS = ("create", "synthesize", "resynthesize", "regenerate")
_COLUMNS = (
    "idempotency_key",
    "env",
    "action",
    "character_id",
    "name",
    "request",
    "poses",
    "estimate",
    "charged",
    "status",
    "submitted_at",
    "completed_at",
    "error_code",
    "error_message",
    "notebook",
    "cell",
)
_SELECT = f"SELECT {', '.join(_COLUMNS)} FROM character_jobs"


@dataclass(frozen=True)
class CharacterJob:
    """One row: what was asked, of which character, at what price, and how it ended."""

    key: str
    env: str
    action: str
    character_id: str | None
    name: str | None
    request: str | None
    poses: int | None
    estimate: float | None
    charged: float | None
    status: str
    submitted_at: float
    completed_at: float | None
    error_code: str | None
    error_message: str | None
    notebook: str | None
    cell: str | None

    @property
    def answered(self) -> bool:
        return self.status != SUBMITTING


def request_digest(action: str, request: Mapping[str, Any], character_id: str | None) -> str:
    text = canonical_json({"action": action, "character_id": character_id, **request})
    return hashlib.sha256(text.encode()).hexdigest()


def prepare(
    ledger: Ledger,
    env: str,
    action: str,
    request: Mapping[str, Any],
    *,
    character_id: str | None = None,
    estimate: float | None,
    poses: int | None = None,
    key: str | None = None,
    notebook: str | None = None,
    cell: str | None = None,
    guard: Callable[[Any, str], None] | None = None,
) -> CharacterJob:
    """Write the row before the request is sent; its key is the request's Idempotency-Key.
    ``guard(connection, key)`` runs in the same transaction first (the spending caps): what it
    raises writes nothing."""
    if action not in ACTIONS:
        raise ValueError(f"action must be one of {', '.join(ACTIONS)}, not {action!r}")
    if contains_api_key(request):
        raise ValueError("the request contains something shaped like an API key; refusing")
    key = key or str(uuid.uuid4())
    now = time.time()
    with ledger._write() as conn:
        if guard is not None:
            guard(conn, key)
        conn.execute(
            """INSERT INTO character_jobs (env, idempotency_key, action, character_id, name,
                   request, request_hash, notebook, cell, poses, estimate, status,
                   submitted_at, updated_at)
               VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)""",
            (
                env,
                key,
                action,
                character_id,
                request.get("name"),
                canonical_json(request, drop_none=True),
                request_digest(action, request, character_id),
                notebook,
                cell,
                poses,
                estimate,
                SUBMITTING,
                now,
                now,
            ),
        )
    job = _job(ledger, key)
    assert job is not None
    return job


def answered(ledger: Ledger, key: str, character: Any) -> CharacterJob:
    """The create's answer: the character's id, and (when already settled) the outcome."""
    with ledger._write() as conn:
        conn.execute(
            "UPDATE character_jobs SET character_id = ?, name = COALESCE(?, name), status = ?, "
            "updated_at = ? WHERE idempotency_key = ?",
            (character.id, character.name or None, PROCESSING, time.time(), key),
        )
    observe(ledger, _env_of(ledger, key), character)
    job = _job(ledger, key)
    assert job is not None
    return job


def observe(ledger: Ledger, env: str, character: Any) -> None:
    """Settle this character's rows that were still drawing, from a state just read."""
    status = character.status
    if status in (REVIEWING, READY):
        outcome, charged, message = SUCCEEDED, None, None
    elif status == FAILED:
        outcome, charged, message = FAILED, 0.0, character.error_message
    else:
        return
    now = time.time()
    with ledger._write() as conn:
        conn.execute(
            "UPDATE character_jobs SET status = ?, charged = COALESCE(?, estimate, 0), "
            "completed_at = ?, updated_at = ?, error_message = ?, name = COALESCE(?, name) "
            "WHERE env = ? AND character_id = ? AND status = ?",
            (
                outcome,
                charged,
                now,
                now,
                redact_keys(message) if message else None,
                character.name or None,
                env,
                character.id,
                PROCESSING,
            ),
        )


def rejected(ledger: Ledger, key: str, error: Any) -> None:
    """A refused request: nothing exists server-side, nothing is charged."""
    message = str(getattr(error, "message", "") or error)
    with ledger._write() as conn:
        conn.execute(
            "UPDATE character_jobs SET status = ?, charged = 0, error_code = ?, "
            "error_message = ?, updated_at = ? WHERE idempotency_key = ?",
            (REJECTED, getattr(error, "code", None), redact_keys(message), time.time(), key),
        )


def deleted(ledger: Ledger, env: str, character_id: str) -> None:
    """A delete: a synthesis still drawing ends ``cancelled`` (its hold released)."""
    now = time.time()
    with ledger._write() as conn:
        conn.execute(
            "UPDATE character_jobs SET status = ?, charged = 0, completed_at = ?, updated_at = ? "
            "WHERE env = ? AND character_id = ? AND status = ?",
            (CANCELLED, now, now, env, character_id, PROCESSING),
        )


def reusable(
    ledger: Ledger, env: str, action: str, request: Mapping[str, Any], character_id: str | None
) -> CharacterJob | None:
    """The newest row of the same request that bought (or may have bought) something: an
    unchanged cell run again shows it instead of paying again."""
    digest = request_digest(action, request, character_id)
    rows = (
        ledger._connection()
        .execute(
            f"{_SELECT} WHERE env = ? AND request_hash = ? AND status IN (?, ?, ?) "
            "ORDER BY row_id DESC LIMIT 1",
            (env, digest, SUBMITTING, PROCESSING, SUCCEEDED),
        )
        .fetchall()
    )
    return CharacterJob(*rows[0]) if rows else None


def jobs(ledger: Ledger, env: str | None = None) -> list[CharacterJob]:
    """Every row, newest first (in ``env`` when given)."""
    sql, params = _SELECT, []
    if env is not None:
        sql, params = sql + " WHERE env = ?", [env]
    rows = ledger._connection().execute(sql + " ORDER BY row_id DESC", params).fetchall()
    return [CharacterJob(*r) for r in rows]


def _job(ledger: Ledger, key: str) -> CharacterJob | None:
    rows = ledger._connection().execute(f"{_SELECT} WHERE idempotency_key = ?", (key,)).fetchall()
    return CharacterJob(*rows[0]) if rows else None


def _env_of(ledger: Ledger, key: str) -> str:
    job = _job(ledger, key)
    return job.env if job is not None else ""


# -- history -----------------------------------------------------------------------------------


def named(
    ledger: Ledger, env: str | None, row_ids: Any, where: str, params: Sequence[Any]
) -> pd.Categorical:
    """The character of each ``generations`` row in ``row_ids`` (its name as this ledger knows
    it, else its ``char_`` id; missing for a generation without one). Only the rows whose
    request names a character are parsed: a ledger without characters pays one text scan (no
    measurable change in bench/history.py over 100k rows)."""
    import json

    import numpy as np
    import pandas as pd

    _, rows = ledger.query(
        f"SELECT g.row_id, g.request FROM generations g WHERE {where} AND g.request LIKE ?",
        [*params, '%"character_id"%'],
    )
    ids = {row: json.loads(text).get("character_id") for row, text in rows if text}
    _, known = ledger.query(
        "SELECT character_id, name FROM character_jobs WHERE env = ? AND character_id IS NOT "
        "NULL AND name IS NOT NULL ORDER BY row_id",
        [env],
    )
    names = {char: name for char, name in known}  # the newest name wins
    values = np.full(len(row_ids), None, dtype=object)
    for i, row in enumerate(row_ids.tolist()):
        char = ids.get(row)
        if isinstance(char, str):
            values[i] = names.get(char, char)
    return pd.Categorical(values)


def history_frame(
    ledger: Ledger, env: str | None, since: float | None, until: float | None
) -> pd.DataFrame | None:
    """The paid rows (synthesis, resynthesis, regeneration) as history rows (``media_type``
    ``character``), or None when there are none; refused ones are left out, as for
    generations."""
    import pandas as pd

    clauses = ["env = ?", "action != 'create'", "status != ?"]
    params: list[Any] = [env, REJECTED]
    if since is not None:
        clauses.append("submitted_at >= ?")
        params.append(since)
    if until is not None:
        clauses.append("submitted_at < ?")
        params.append(until)
    names, rows = ledger.query(
        "SELECT character_id, submitted_at, completed_at, status, action, name, poses, "
        "estimate, charged, notebook, cell, idempotency_key, error_code, error_message "
        f"FROM character_jobs WHERE {' AND '.join(clauses)}",
        params,
    )
    if not rows:
        return None
    data = pd.DataFrame(rows, columns=names)
    times = pd.to_datetime(data["submitted_at"], unit="s", utc=True)
    active = data["status"].isin([SUBMITTING, PROCESSING])
    return pd.DataFrame(
        {
            "generation_id": data["character_id"],
            "created_at": times,
            "completed_at": pd.to_datetime(data["completed_at"], unit="s", utc=True),
            "status": data["status"],
            "media_type": "character",
            "prompt": data["action"] + " " + data["name"].fillna(""),
            "character": data["name"].fillna(data["character_id"]),
            "image_count": data["poses"].astype("Int64"),
            "estimate": data["estimate"].astype(float),
            "held": data["estimate"].where(active).astype(float),
            "cost": data["charged"].astype(float),
            "notebook": data["notebook"],
            "cell": data["cell"],
            "origin": "local",
            "idempotency_key": data["idempotency_key"],
            "submitted_at": times,
            "error_code": data["error_code"],
            "error_message": data["error_message"],
            "cached": 0,
            "env": env,
        }
    )


def with_characters(
    frame: pd.DataFrame, extra: pd.DataFrame | None, columns: tuple[str, ...]
) -> pd.DataFrame:
    """``frame`` (generations) with the character rows, newest first, the column types kept."""
    import pandas as pd

    if extra is None or extra.empty:
        return frame
    extra = extra.reindex(columns=list(columns))
    for name in columns:
        kind = frame[name].dtype
        if isinstance(kind, pd.CategoricalDtype):
            values = pd.Index(extra[name].dropna().unique()).difference(kind.categories)
            both = pd.CategoricalDtype(list(kind.categories) + list(values))
            frame[name] = frame[name].astype(both)
            extra[name] = extra[name].astype(both)
        else:
            extra[name] = extra[name].astype(kind)
    merged = pd.concat([frame, extra], ignore_index=True)
    merged = merged.sort_values("created_at", ascending=False, kind="stable", ignore_index=True)
    merged.attrs = dict(frame.attrs)
    return merged

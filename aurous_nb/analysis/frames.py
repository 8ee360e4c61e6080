"""Cost and usage history as pandas DataFrames (pandas is imported only when a function runs).

Every frame covers one environment (a sandbox or a live host, see :mod:`aurous_nb.config`): the
client's when a client is given, else the one the ledger used last, never a mix, so synthetic
sandbox credits never leak into a live cost report.

``history`` is built straight from the ledger, after folding the server's ``GET /v1/images`` list
into it when a client is given, so it works offline. The rows are read column by column in bulk
(:mod:`aurous_nb.store.columnar`: SQLite joins each column into one text, numpy and ``json``
parse it,
no Python object per value), which keeps 100,000 rows near half a second, faster than
``pandas.read_sql`` of the same rows untyped (``bench/history.py``).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any

from aurous_nb.config import env_for
from aurous_nb.statuses import ACTIVE, CANCELLED, REJECTED, SERVER_ACTIVE, SUCCEEDED, TERMINAL
from aurous_nb.store import characters as character_ledger
from aurous_nb.store.ledger import Ledger, ledger_or_default, status_in, status_list
from aurous_nb.store.payloads import parse_time
from aurous_nb.timestamps import TimeLike, epoch

if TYPE_CHECKING:
    import pandas as pd

    from aurous_nb.store.columnar import Column

__all__ = [
    "HISTORY_COLUMNS",
    "current_env",
    "history",
    "pricing_history",
    "refused_count",
    "reprice",
    "spend",
    "sync_history",
    "usage",
]


HISTORY_COLUMNS = (
    "generation_id",
    "created_at",
    "completed_at",
    "status",
    "media_type",
    "prompt",
    "lora",
    "lora_id",
    "character",
    "size",
    "width",
    "height",
    "image_count",
    "seed",
    "video_duration",
    "estimate",
    "held",
    "cost",
    "rating",
    "duration_s",
    "cached",
    "cache_dir",
    "notebook",
    "cell",
    "origin",
    "idempotency_key",
    "submitted_at",
    "error_code",
    "error_message",
    "env",
    "user",
    "host",
)


def _history_columns() -> tuple[Column, ...]:
    """What history() reads from ``generations``, in HISTORY_COLUMNS order (the rest are made)."""
    from aurous_nb.store.columnar import Column

    return (
        Column("generation_id", "g.generation_id", "text"),
        Column("created_at", "COALESCE(g.created_at, g.submitted_at)", "time"),
        Column("completed_at", "g.completed_at", "time"),
        Column("status", "g.status", "category"),
        Column("media_type", "g.media_type", "category"),
        Column("prompt", "g.prompt", "text"),
        Column("lora", "g.lora", "category"),
        Column("lora_id", "g.lora_id", "text"),
        Column(
            "size",
            "COALESCE(g.size, CASE WHEN g.width > 0 AND g.height > 0 "
            "THEN g.width || 'x' || g.height END)",
            "category",
        ),
        Column("width", "g.width", "integer"),
        Column("height", "g.height", "integer"),
        Column("image_count", "g.image_count", "integer"),
        Column("seed", "g.seed", "integer"),
        Column("video_duration", "g.video_duration", "real"),
        Column("estimate", "g.estimate", "real"),
        Column("held", "g.held", "real"),
        Column("cost", "g.charged", "real"),
        Column("rating", RATING_SQL, "integer"),
        Column("duration_s", "g.duration_ms", "real"),  # milliseconds until divided below
        Column("notebook", "g.notebook", "text"),
        Column("cell", "g.cell", "text"),
        Column("origin", "g.origin", "category"),
        Column("idempotency_key", "g.idempotency_key", "text"),
        Column("submitted_at", "g.submitted_at", "time"),
        Column("error_code", "g.error_code", "text"),
        Column("error_message", "g.error_message", "text"),
        Column("user", "g.user_name", "category"),
        Column("host", "g.host", "category"),
        Column("row_id", "g.row_id", "integer"),
    )


#: A generation's rating (1-5, 0 for rejected, NULL when unrated), over ``generations g``.
RATING_SQL = (
    "(SELECT r.stars FROM ratings r WHERE r.env = g.env AND r.generation_id = g.generation_id)"
)


def current_env(client: Any = None, ledger: Ledger | None = None) -> str | None:
    """The client's environment, else the one the ledger touched last (``None`` if empty)."""
    if client is not None:
        return env_for(str(client.base_url))
    _, rows = ledger_or_default(ledger).query(
        "SELECT env FROM generations ORDER BY updated_at DESC LIMIT 1"
    )
    if rows:
        return str(rows[0][0])
    _, rows = ledger_or_default(ledger).query(
        "SELECT env FROM pricing UNION ALL SELECT env FROM balances LIMIT 1"
    )
    return str(rows[0][0]) if rows else None


#: The text forms ``since`` / ``until`` (and ``--since``) accept, for error messages; Python
#: callers may also pass a datetime, date, timedelta or epoch seconds.
def sync_history(
    client: Any,
    ledger: Ledger | None = None,
    *,
    since: TimeLike = None,
    max_pages: int = 1000,
    page_size: int = 100,
) -> int:
    """Fold the server's generation list (newest first, back to ``since``) into the ledger.

    Statuses, charges and generations created elsewhere (the dashboard, another machine) become
    known locally. Incremental: once a pass has walked the whole list, the next one stops at the
    first page that is entirely known and terminal below that pass's high-water mark (terminal
    rows never change), then refreshes the few older rows still active one by one. Returns how
    many rows were seen.
    """
    import time

    ledger = ledger_or_default(ledger)
    env = env_for(str(client.base_url))
    floor = epoch(since)
    mark_key = f"history_synced_through:{env}"
    stored = ledger.get_meta(mark_key)
    mark = float(stored) if stored is not None else None
    started = time.time()
    cursor: str | None = None
    seen = 0
    listed: set[str] = set()
    newest: float | None = None
    complete = False
    for _ in range(max_pages):
        page = client.images.list_page(limit=page_size, starting_after=cursor)
        rows = [getattr(g, "raw", g) for g in page.data]
        if not rows:
            complete = True
            _refresh_stragglers(client, ledger, env, before=started, skip=listed)
            break
        listed.update(str(r.get("id")) for r in rows)
        known = ledger.statuses(env, [str(r.get("id")) for r in rows])
        settled = all(
            known.get(str(r.get("id"))) in TERMINAL
            and known.get(str(r.get("id"))) == r.get("status")
            for r in rows
        )
        ledger.record_generations(env, rows)
        seen += len(rows)
        times = [t for t in (parse_time(r.get("created_at")) for r in rows) if t is not None]
        if times and newest is None:
            newest = max(times)
        oldest = min(times) if times else None
        if not page.has_more or not page.next_cursor:
            # The whole list was read: a row the ledger still has active but the list lacks is
            # one the server forgot (a restarted sandbox) or a job of a moment ago; ask each.
            complete = True
            _refresh_stragglers(client, ledger, env, before=started, skip=listed)
            break
        if mark is not None and settled and oldest is not None and oldest <= mark:
            complete = True
            _refresh_stragglers(client, ledger, env, before=oldest)
            break
        if floor is not None and oldest is not None and oldest < floor:
            break
        cursor = page.next_cursor
    if complete and newest is not None:
        ledger.set_meta(mark_key, repr(max(newest, mark or newest)))
    return seen


def _refresh_stragglers(
    client: Any, ledger: Ledger, env: str, *, before: float, skip: set[str] | None = None
) -> None:
    """Re-read the (few) generations older than ``before`` that the ledger still has active
    (except the ``skip`` ids, just read); one the server no longer knows is marked lost."""
    among, active = status_in(SERVER_ACTIVE)
    _, rows = ledger.query(
        "SELECT generation_id FROM generations WHERE env = ? AND generation_id IS NOT NULL "
        f"AND {among} AND created_at < ?",
        (env, *active, before),
    )
    from aurous_nb.client import NotFoundError
    from aurous_nb.work import jobs

    fresh = []
    for gen_id in [r[0] for r in rows if not skip or r[0] not in skip][:100]:
        try:
            fresh.append(client.images.get(gen_id))
        except NotFoundError:  # a restarted sandbox, or a purged row: stop asking
            record = ledger.find(gen_id, env)
            if record is not None:
                jobs.forgotten(ledger, record)
    if fresh:
        ledger.record_generations(env, fresh)


def history(
    client: Any = None,
    ledger: Ledger | None = None,
    since: TimeLike = None,
    until: TimeLike = None,
    status: str | Iterable[str] | None = None,
    lora: str | None = None,
    env: str | None = None,
    *,
    media_type: str | None = None,
    refresh: bool = True,
    refused: bool = False,
    scope: str = "me",
    rating: int | str | None = None,
) -> pd.DataFrame:
    """One row per generation of one environment, newest first, with typed columns.

    On a team's ledger (PostgreSQL) ``scope="me"`` (the default) is the caller's own rows and
    ``scope="team"`` everyone's; ``user`` and ``host`` say who bought each and which machine
    caches its files (``cached`` and ``cache_dir`` count this machine's cache only).

    Requests that created nothing (refused by the API, status ``rejected``, or cancelled before
    they were sent) are not generations: they are left out, so they never count as failed jobs
    in spend, reports or the dashboard. ``refused=True`` (or ``status="rejected"``) lists them.

    With a ``client`` (and ``refresh``) the server's list is folded into the ledger first, so
    the frame merges what the server says (status, charge) with what only the ledger knows
    (cache paths, notebook and cell, the estimate before the charge). Filters: ``since`` /
    ``until`` (datetimes, ISO text or ages like ``"7d"``), ``status`` (one or several; ``"active"``
    means not yet terminal), ``lora`` (a name or id, matched within stacks), ``media_type``,
    ``rating`` (``4``: four stars or more; ``"rejected"``, ``"rated"``, ``"unrated"``).

    Columns: ``cost`` is the credits charged (NaN while a job is active), ``estimate`` the
    expected cost before the charge, ``held`` the current hold, ``rating`` the stars given
    (:func:`aurous_nb.rate`; 0 for rejected, missing when unrated); times are UTC datetimes;
    ``status``, ``media_type``, ``lora``, ``size`` and ``origin`` are categories. ``size`` is the
    size as it was asked for: the image preset when one was sent (``2k_1_1``), else the pixel
    size ``"WxH"`` (custom width/height, or the server's default when nothing was sent), and
    ``"<resolution> <ratio>"`` for videos; ``width`` and ``height`` (Int64) are always the
    pixel size, as the server answered it (snapped to multiples of 32) once it has. Times are
    exact to the microsecond and credits to 15 significant digits (how SQLite prints a real).
    """
    import numpy as np
    import pandas as pd

    from aurous_nb.store.columnar import read_columns

    ledger = ledger_or_default(ledger)
    if client is not None and refresh:
        sync_history(client, ledger, since=since)
    env = env or current_env(client, ledger)
    # A full scan beats an index walk when most rows match (SQLite's unary + skips the index).
    clauses = ["+g.env = ?" if not ledger.shared else "g.env = ?"]
    params: list[Any] = [env]
    mine, who = ledger.mine(scope, "g.user_name")
    clauses += mine
    params += who
    if not refused and not (status is not None and REJECTED in _statuses(status)):
        clauses.append(NOT_REFUSED)
    low, high = epoch(since), epoch(until)
    if low is not None:
        clauses.append("COALESCE(g.created_at, g.submitted_at) >= ?")
        params.append(low)
    if high is not None:
        clauses.append("COALESCE(g.created_at, g.submitted_at) < ?")
        params.append(high)
    if status is not None:
        wanted = _statuses(status)
        clauses.append(f"g.status IN ({', '.join('?' for _ in wanted)})")
        params.extend(wanted)
    if media_type is not None:
        clauses.append("g.media_type = ?")
        params.append(media_type)
    if rating is not None:
        clauses.append(_rating_clause(rating))
    if lora is not None:
        clauses.append(
            "(g.lora = ? OR ',' || g.lora_id || ',' LIKE ? OR ' + ' || g.lora || ' + ' LIKE ?)"
        )
        params.extend([lora, f"%,{lora},%", f"% + {lora} + %"])
    where = " AND ".join(clauses)
    if ledger.shared:
        cached_ids, cached_counts, columns = _read_team(ledger, env, where, params)
    else:
        _, [(cached_ids, cached_counts)] = ledger.query(  # two texts: no tuple per output
            "SELECT json_group_array(generation_id), group_concat(n, ',') FROM (SELECT "
            "generation_id, count(*) AS n FROM outputs WHERE env = ? GROUP BY generation_id)",
            (env,),
        )
        columns = read_columns(
            ledger.reader, "generations g", "g.row_id", _history_columns(), where, params
        )
    row_ids = columns.pop("row_id").to_numpy("int64")
    order = np.lexsort((row_ids, columns["created_at"].asi8))[::-1]  # newest first, then last row
    data: dict[str, Any] = {}
    for name, values in columns.items():
        data[name] = values.take(order)
    data["character"] = character_ledger.named(ledger, env, row_ids.take(order), where, params)
    data["duration_s"] = data["duration_s"] / 1000.0
    ids = data["generation_id"]
    data["cached"] = _cached_counts(ids, json.loads(cached_ids), cached_counts or "")
    cache_dir = np.full(len(ids), None, dtype=object)
    cached = data["cached"].to_numpy("int64") > 0
    if cached.any():
        cache_dir[cached] = f"{ledger.outputs_root}/{env}/" + ids[cached].astype(str)
    data["cache_dir"] = cache_dir
    envs = [env] if env is not None else []  # None: an empty ledger, so no rows
    data["env"] = pd.Categorical.from_codes(np.zeros(len(ids), dtype="int8"), categories=envs)
    frame = pd.DataFrame(data, columns=list(HISTORY_COLUMNS), copy=False)
    frame.attrs["env"] = env
    if lora is None and media_type in (None, "character"):
        extra = character_ledger.history_frame(ledger, env, low, high)
        if extra is not None and status is not None:
            extra = extra[extra["status"].isin(_statuses(status))]
        frame = character_ledger.with_characters(frame, extra, HISTORY_COLUMNS)
    return frame


def _read_team(
    ledger: Ledger, env: str | None, where: str, params: list[Any]
) -> tuple[str, str | None, dict[str, Any]]:
    """:func:`history`'s reads from a team's database: this host's cached outputs, then the
    rows as plain tuples (times in microseconds, computed by the server), typed by
    :func:`aurous_nb.store.columnar.columns_from_rows`."""
    from aurous_nb.store.columnar import columns_from_bulk, columns_from_rows

    _, [(cached_ids, cached_counts)] = ledger.query(
        "SELECT COALESCE(json_agg(generation_id)::text, '[]'), string_agg(n::text, ',') FROM "
        "(SELECT generation_id, count(*) AS n FROM outputs WHERE env = ? "
        "AND host IN (?, '') GROUP BY generation_id) AS cached",
        (env, ledger.host),
    )
    wanted = _history_columns()
    _, [row] = ledger.query(team_bulk_select(where), params)
    try:
        return cached_ids, cached_counts, columns_from_bulk(wanted, row)
    except ValueError:  # not exactly representable in bulk (an integer beyond 2**53): rows
        _, rows = ledger.query(f"{team_select()} WHERE {where}", params)
        return cached_ids, cached_counts, columns_from_rows(wanted, rows)


def team_bulk_select(where: str) -> str:
    """:func:`team_select` as one row: the count, then one text per column (a JSON array for
    text, comma-joined numbers with ``nan`` for missing), as the SQLite reader's bulk path."""
    joined = ", ".join(
        f"COALESCE(json_agg(c{i})::text, '[]')"
        if c.kind in ("text", "category")
        else f"COALESCE(string_agg(COALESCE(c{i}::text, 'nan'), ','), '')"
        for i, c in enumerate(_history_columns())
    )
    return f"SELECT count(*), {joined} FROM ({team_select()} WHERE {where}) AS s"


def team_select() -> str:
    """The SELECT of :func:`history`'s columns from PostgreSQL (``c0``, ``c1``...), times in
    whole microseconds rounded half up as SQLite's ``round`` does (PostgreSQL's rounds half to
    even; the ledger's times are never negative)."""
    select = ", ".join(
        (f"floor(({c.sql}) * 1000000 + 0.5)" if c.kind == "time" else c.sql) + f" AS c{i}"
        for i, c in enumerate(_history_columns())
    )
    return f"SELECT {select} FROM generations g"


def _rating_clause(rating: int | str) -> str:
    if isinstance(rating, str):
        named = {"rejected": "= 0", "rated": "IS NOT NULL", "unrated": "IS NULL"}
        if rating not in named:
            raise ValueError(f"rating: {rating!r}; give 1-5 (at least), rejected, rated or unrated")
        return f"{RATING_SQL} {named[rating]}"
    if isinstance(rating, bool) or not isinstance(rating, int) or not 1 <= rating <= 5:
        raise ValueError(f"rating: {rating!r} is not 1 to 5 (the fewest stars to keep)")
    return f"{RATING_SQL} >= {int(rating)}"


#: SQL (over ``generations g``) for rows that are generations: not a refused create, and not a
#: job cancelled before it was sent (neither left anything on the server).
NOT_REFUSED = (
    f"NOT (g.status IN {status_list([REJECTED])} "
    f"OR (g.status IN {status_list([CANCELLED])} AND g.generation_id IS NULL))"
)


def refused_count(
    ledger: Ledger | None = None, env: str | None = None, since: TimeLike = None
) -> int:
    """How many requests of ``env`` created nothing (see :func:`history`), since ``since``."""
    ledger = ledger_or_default(ledger)
    sql = f"SELECT count(*) FROM generations g WHERE g.env = ? AND NOT ({NOT_REFUSED})"
    params: list[Any] = [env or current_env(None, ledger)]
    low = epoch(since)
    if low is not None:
        sql += " AND COALESCE(g.created_at, g.submitted_at) >= ?"
        params.append(low)
    _, [(count,)] = ledger.query(sql, params)
    return int(count)


def _cached_counts(ids: Any, known_ids: list[str], counts: str) -> Any:
    """How many outputs each generation has in the cache (0 when none)."""
    import numpy as np
    import pandas as pd

    where = pd.Index(known_ids, dtype=object).get_indexer(ids)
    tally = np.append(np.fromstring(counts, dtype="int64", sep=",") if counts else [], 0)
    return pd.arrays.IntegerArray(tally[where].astype("int64"), np.zeros(len(ids), dtype=bool))


def _statuses(status: str | Iterable[str]) -> list[str]:
    wanted = [status] if isinstance(status, str) else list(status)
    out: list[str] = []
    for item in wanted:
        out.extend(sorted(ACTIVE) if item == "active" else [item])
    return out


def _flatten(prefix: str, value: Any, out: dict[str, float]) -> None:
    if isinstance(value, Mapping):
        for key, inner in value.items():
            _flatten(f"{prefix}.{key}" if prefix else str(key), inner, out)
    elif isinstance(value, (int, float)) and not isinstance(value, bool):
        out[prefix] = float(value)


def pricing_history(
    client: Any = None,
    ledger: Ledger | None = None,
    env: str | None = None,
    *,
    versions: Sequence[str] = (),
) -> pd.DataFrame:
    """Every rate card seen, one row per (version, item), so a price change shows.

    With a ``client``, the current card (and each of ``versions``) is fetched and stored first.
    Columns: ``version``, ``item`` (``image.base``, ``video.resolution_factor.720p``...),
    ``value`` (credits or factor), ``previous`` (the same item in the previous version),
    ``changed``, ``first_seen`` / ``last_seen`` (UTC) and ``env``.
    """
    import pandas as pd

    from aurous_nb.store import snapshots

    ledger = ledger_or_default(ledger)
    if client is not None:
        snapshots.pricing(client, ledger)
        for version in versions:
            snapshots.pricing(client, ledger, version=version)
    env = env or current_env(client, ledger)
    records: list[dict[str, Any]] = []
    last_value: dict[str, float] = {}
    for snap in ledger.pricing_snapshots(env):
        items: dict[str, float] = {}
        for section in ("image", "video"):
            _flatten(section, snap.card.get(section), items)
        for item, value in items.items():
            previous = last_value.get(item)
            records.append(
                {
                    "version": snap.version,
                    "item": item,
                    "value": value,
                    "previous": previous,
                    "changed": previous is not None and previous != value,
                    "first_seen": snap.first_seen,
                    "last_seen": snap.last_seen,
                    "env": snap.env,
                }
            )
        last_value.update(items)
    frame = pd.DataFrame.from_records(
        records,
        columns=[
            "version",
            "item",
            "value",
            "previous",
            "changed",
            "first_seen",
            "last_seen",
            "env",
        ],
    )
    frame["value"] = frame["value"].astype("float64")
    frame["previous"] = frame["previous"].astype("float64")
    frame["changed"] = frame["changed"].astype(bool)
    for name in ("first_seen", "last_seen"):
        frame[name] = pd.to_datetime(frame[name].astype("float64"), unit="s", utc=True)
    frame["version"] = frame["version"].astype("category")
    frame.attrs["env"] = env
    return frame


def usage(
    client: Any,
    since: TimeLike = "30d",
    until: TimeLike = None,
    *,
    bucket_width: str = "1d",
    group_by: str | Sequence[str] | None = None,
    **filters: Any,
) -> pd.DataFrame:
    """``GET /v1/usage`` buckets as a tidy frame: one row per (bucket, group), oldest first.

    Columns: ``bucket_start``, ``bucket_end`` (UTC), one column per ``group_by`` key, then every
    metric (``request_count``, ``credits_used``, ``duration_ms_p50``...).
    """
    import pandas as pd

    start = datetime.fromtimestamp(epoch(since) or 0.0, tz=timezone.utc)
    stop = epoch(until)
    buckets = client.usage(
        start_time=start,
        end_time=None if stop is None else datetime.fromtimestamp(stop, tz=timezone.utc),
        bucket_width=bucket_width,
        group_by=group_by,
        **filters,
    )
    records: list[dict[str, Any]] = []
    for bucket in buckets:
        raw = getattr(bucket, "raw", bucket)
        for group in raw.get("groups") or [{}]:
            row: dict[str, Any] = {
                "bucket_start": raw.get("bucket_start"),
                "bucket_end": raw.get("bucket_end"),
            }
            row.update({str(k): v for k, v in (group.get("key") or {}).items()})
            row.update(group.get("metrics") or {})
            records.append(row)
    frame = pd.DataFrame.from_records(records)
    if frame.empty:
        return pd.DataFrame(columns=["bucket_start", "bucket_end"])
    for name in ("bucket_start", "bucket_end"):
        frame[name] = pd.to_datetime(frame[name], utc=True, format="ISO8601")
    keys = [c for c in ("status", "type", "api_key_id", "user_id", "model") if c in frame]
    for name in keys:
        frame[name] = frame[name].astype("category")
    metrics = [c for c in frame.columns if c not in ("bucket_start", "bucket_end", *keys)]
    for name in metrics:
        frame[name] = pd.to_numeric(frame[name], errors="coerce").astype("float64")
    frame = frame.sort_values(["bucket_start", *keys], ignore_index=True)
    frame.attrs["env"] = env_for(str(client.base_url))
    return frame


_SPEND_KEYS = {
    "day", "week", "month", "lora", "size", "media_type", "status", "notebook", "user", "host"
}  # fmt: skip


def spend(
    by: str | Sequence[str] = "day",
    client: Any = None,
    ledger: Ledger | None = None,
    *,
    frame: pd.DataFrame | None = None,
    **history_filters: Any,
) -> pd.DataFrame:
    """Credits grouped by ``day`` / ``week`` / ``month`` / ``lora`` / ``size`` / ``media_type`` /
    ``status`` / ``notebook`` / ``user`` / ``host`` (one or several), with estimate versus
    charge; ``scope="team"`` (a history filter) covers everyone on a team's ledger.

    Columns: ``jobs``, ``succeeded``, ``failed`` (any unsuccessful end), ``estimate`` (expected
    credits of the terminal jobs whose estimate is known; NaN when none is), ``cost`` (charged),
    ``difference`` (cost - estimate over the jobs with an estimate; negative when failures were
    refunded) and ``share`` (of the total cost). Active jobs count in ``jobs``
    only. Pass ``frame=`` to reuse a :func:`history` frame.
    """
    import pandas as pd

    keys = [by] if isinstance(by, str) else list(by)
    unknown = set(keys) - _SPEND_KEYS
    if unknown:
        raise ValueError(f"cannot group spend by {sorted(unknown)}; use {sorted(_SPEND_KEYS)}")
    data = frame if frame is not None else history(client, ledger, **history_filters)
    data = data.copy()
    columns: list[str] = []
    for key in keys:
        if key == "day":
            data[key] = data["created_at"].dt.floor("D")
        elif key in ("week", "month"):
            naive = data["created_at"].dt.tz_localize(None)  # periods are tz-free; times are UTC
            period = naive.dt.to_period("W" if key == "week" else "M")
            data[key] = period.dt.start_time.dt.tz_localize("UTC")
        columns.append(key)
    status = data["status"].astype(str)
    terminal = ~status.isin(list(ACTIVE))
    data["jobs"] = 1
    data["succeeded"] = (status == SUCCEEDED).astype(int)
    data["failed"] = (terminal & (status != SUCCEEDED)).astype(int)
    known = terminal & data["estimate"].notna()
    data["estimate_done"] = data["estimate"].where(known)
    data["cost_done"] = data["cost"].where(terminal, 0.0).fillna(0.0)
    data["difference"] = (data["cost_done"] - data["estimate_done"]).where(known)
    grouped = data.groupby(columns, observed=True, dropna=False, sort=True).agg(
        jobs=("jobs", "sum"),
        succeeded=("succeeded", "sum"),
        failed=("failed", "sum"),
        estimate=("estimate_done", lambda x: x.sum(min_count=1)),
        cost=("cost_done", "sum"),
        difference=("difference", lambda x: x.sum(min_count=1)),
    )
    total = float(grouped["cost"].sum())
    grouped["share"] = grouped["cost"] / total if total else 0.0
    result = grouped.reset_index()
    result.attrs["env"] = data.attrs.get("env")
    return pd.DataFrame(result)


def reprice(
    history: pd.DataFrame, version: str, *, ledger: Ledger | None = None, client: Any = None
) -> pd.DataFrame:
    """``history`` with ``cost_at_version`` (each generation priced by ``version``'s rate card,
    one the ledger has seen or, with a ``client``, fetches) and ``cost_difference`` (that minus
    the charge): what a price change would have done. See :mod:`aurous_nb.analysis.repricing`."""
    from aurous_nb.analysis import repricing

    return repricing.reprice(history, version, ledger=ledger, client=client)

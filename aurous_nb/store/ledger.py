"""The ledger: every job, credit, output and rate card, in a local SQLite file (the default)
or a team's PostgreSQL database (``AUROUS_NB_LEDGER=postgresql://...``; the engines differ only
in :mod:`aurous_nb.store.backend`).

Signed output URLs die after a day and the platform keeps no long-term history, so the toolkit
keeps its own. The ledger is written *before* a create is sent (so a kernel killed mid-request can
find the job again) and after every answer and status change.

Safe for several threads, kernels and processes at once: WAL journaling, a generous busy timeout,
one connection per thread (reopened after a fork), and short ``BEGIN IMMEDIATE`` write
transactions. The schema is versioned with ``PRAGMA user_version`` and upgraded by an ordered
list of migrations, each applied exactly once, under the write lock. The file itself (built
whole, checked, a damaged one moved aside, errors as :class:`LedgerError`) is
:mod:`aurous_nb.store.ledger_file`'s.

On a team's database every row also says who wrote it (``user_name``, from
``$AUROUS_NB_USER`` or the login), on which host its outputs are cached (``host``) and for which
team; listings, resume and reuse cover only the caller's own rows unless asked for the team's.
Writes that find the database gone (a restart) wait and write again, for up to
``$AUROUS_NB_LEDGER_WAIT`` seconds (300), so a batch pauses instead of losing a row.

What is never stored: the API key, or any signed output URL (output URLs are dropped from stored
responses; other URLs lose their query string when it carries a token). Only the standard library
is imported here.
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
import sqlite3
import threading
import time
import uuid
import warnings
import weakref
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from aurous_nb.canonical import canonical_json
from aurous_nb.config import aurous_home, host_name, ledger_url, team_name, user_name
from aurous_nb.statuses import ACTIVE, ALL, LOCAL_ENDS, REUSABLE, SUBMITTING, SUCCEEDED, TERMINAL
from aurous_nb.store import ledger_file
from aurous_nb.store.backend import SQLITE, Backend, backend_for
from aurous_nb.store.ledger_file import LedgerError, LedgerWarning
from aurous_nb.store.payloads import (
    as_float,
    as_payload,
    contains_api_key,
    generation_fields,
    lora_ids_from_request,
    redact_keys,
    request_hash,
    sanitize,
    size_fields,
)

__all__ = [
    "BalanceSnapshot",
    "JobRecord",
    "Ledger",
    "LedgerError",
    "LedgerWarning",
    "OutputFile",
    "PricingSnapshot",
    "default_ledger",
    "export",
    "import_",
    "migrate",
    "request_hash",
    "sanitize",
    "status_in",
    "status_list",
]

_BUSY_TIMEOUT_S = 30.0
_WAIT_DEFAULT_S = 300.0

_T = TypeVar("_T")


def _wait_s() -> float:
    """How long a team ledger's calls wait for a database that went away (a restart)."""
    try:
        return max(0.0, float(os.environ.get("AUROUS_NB_LEDGER_WAIT", _WAIT_DEFAULT_S)))
    except ValueError:
        return _WAIT_DEFAULT_S


def _patient(method: Callable[..., _T]) -> Callable[..., _T]:
    """Run a ledger call again, on a new connection, while the database is away (a PostgreSQL
    restart cuts every connection). Every call so wrapped is safe to repeat: a write either
    committed whole or not at all, and writing it twice changes nothing that matters (the
    row of a prepared job is keyed by its idempotency key)."""

    @functools.wraps(method)
    def patient(self: Ledger, *args: Any, **kwargs: Any) -> _T:
        if not self.shared:
            return method(self, *args, **kwargs)
        deadline, delay = None, 0.05
        while True:
            try:
                return method(self, *args, **kwargs)
            except Exception as exc:
                if not self._db.transient(exc):
                    raise
                self._drop_connection()
                now = time.monotonic()
                deadline = deadline if deadline is not None else now + _wait_s()
                if now >= deadline:
                    raise self._db.error(exc) from None
                if not self._waited:
                    self._waited = True
                    warnings.warn(
                        LedgerWarning(
                            f"The ledger {self.where} is unreachable; waiting for it (up to "
                            f"{_wait_s():g} s, AUROUS_NB_LEDGER_WAIT) before writing again."
                        ),
                        stacklevel=3,
                    )
                time.sleep(delay)
                delay = min(delay * 2, 1.0)

    return patient


# --------------------------------------------------------------------------------------------
# schema

# Each entry upgrades the schema by one version; never edit a released entry, append a new one.
MIGRATIONS: tuple[tuple[str, ...], ...] = (
    (
        """CREATE TABLE generations (
            row_id          INTEGER PRIMARY KEY,
            env             TEXT NOT NULL,
            idempotency_key TEXT UNIQUE,
            origin          TEXT NOT NULL,
            media_type      TEXT NOT NULL,
            request         TEXT,
            request_hash    TEXT,
            notebook        TEXT,
            cell            TEXT,
            estimate        REAL,
            submitted_at    REAL,
            generation_id   TEXT,
            status          TEXT NOT NULL,
            prompt          TEXT,
            lora            TEXT,
            lora_id         TEXT,
            size            TEXT,
            width           INTEGER,
            height          INTEGER,
            seed            INTEGER,
            image_count     INTEGER,
            video_duration  REAL,
            held            REAL,
            charged         REAL,
            created_at      REAL,
            completed_at    REAL,
            updated_at      REAL NOT NULL,
            duration_ms     REAL,
            error_code      TEXT,
            error_message   TEXT,
            aurous_version  TEXT,
            response        TEXT,
            UNIQUE (env, generation_id)
        )""",
        "CREATE INDEX generations_env_status ON generations (env, status)",
        "CREATE INDEX generations_env_created ON generations (env, created_at)",
        "CREATE INDEX generations_env_request ON generations (env, request_hash)",
        """CREATE TABLE outputs (
            env           TEXT NOT NULL,
            generation_id TEXT NOT NULL,
            idx           INTEGER NOT NULL,
            path          TEXT NOT NULL,
            bytes         INTEGER NOT NULL,
            sha256        TEXT NOT NULL,
            content_type  TEXT,
            downloaded_at REAL NOT NULL,
            PRIMARY KEY (env, generation_id, idx)
        )""",
        """CREATE TABLE pricing (
            env         TEXT NOT NULL,
            version     TEXT NOT NULL,
            card_sha256 TEXT NOT NULL,
            card        TEXT NOT NULL,
            first_seen  REAL NOT NULL,
            last_seen   REAL NOT NULL,
            times_seen  INTEGER NOT NULL DEFAULT 1,
            PRIMARY KEY (env, version, card_sha256)
        )""",
        """CREATE TABLE balances (
            row_id            INTEGER PRIMARY KEY,
            env               TEXT NOT NULL,
            at                REAL NOT NULL,
            credits           REAL,
            held_credits      REAL,
            available_credits REAL,
            billing_mode      TEXT
        )""",
        "CREATE INDEX balances_env_at ON balances (env, at)",
    ),
    # 2: small facts about the ledger itself, e.g. how far the server's history was synced.
    ("CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)",),
    # 3: every loopback sandbox is one environment, ``sandbox`` (it was ``sandbox-<port>``, and
    # the port changes at every kernel restart). Generation ids are random, so rows never collide;
    # rate cards seen under several ports merge; the old history-sync marks are dropped (the next
    # sync walks the list once). Output paths are stored relative to home and stay valid.
    (
        "UPDATE{or_ignore} generations SET env = 'sandbox' WHERE substr(env, 1, 8) = 'sandbox-'",
        "UPDATE{or_ignore} outputs SET env = 'sandbox' WHERE substr(env, 1, 8) = 'sandbox-'",
        """INSERT INTO pricing
           SELECT 'sandbox', version, card_sha256, max(card), min(first_seen), max(last_seen),
                  sum(times_seen)
           FROM pricing WHERE substr(env, 1, 8) = 'sandbox-' GROUP BY version, card_sha256
           ON CONFLICT (env, version, card_sha256) DO UPDATE SET
               first_seen = {least}(pricing.first_seen, excluded.first_seen),
               last_seen = {greatest}(pricing.last_seen, excluded.last_seen),
               times_seen = pricing.times_seen + excluded.times_seen""",
        "DELETE FROM pricing WHERE substr(env, 1, 8) = 'sandbox-'",
        "UPDATE balances SET env = 'sandbox' WHERE substr(env, 1, 8) = 'sandbox-'",
        "DELETE FROM meta WHERE key LIKE 'history_synced_through:sandbox%'",
    ),
    # 4: characters and what making them cost, one row per create, synthesis, resynthesis or
    # one-pose regeneration (read and written by aurous_nb.store.characters).
    (
        """CREATE TABLE character_jobs (
            row_id          INTEGER PRIMARY KEY,
            env             TEXT NOT NULL,
            idempotency_key TEXT UNIQUE,
            action          TEXT NOT NULL,
            character_id    TEXT,
            name            TEXT,
            request         TEXT,
            request_hash    TEXT,
            notebook        TEXT,
            cell            TEXT,
            poses           INTEGER,
            estimate        REAL,
            charged         REAL,
            status          TEXT NOT NULL,
            submitted_at    REAL NOT NULL,
            completed_at    REAL,
            updated_at      REAL NOT NULL,
            error_code      TEXT,
            error_message   TEXT
        )""",
        "CREATE INDEX character_jobs_env_character ON character_jobs (env, character_id)",
    ),
    # 5: reference files uploaded (aurous_nb.store.uploads): content or output -> file_ id, expiry.
    (
        """CREATE TABLE uploads (
            env        TEXT NOT NULL,
            key        TEXT NOT NULL,
            purpose    TEXT NOT NULL,
            file_id    TEXT NOT NULL,
            expires_at REAL NOT NULL,
            created_at REAL NOT NULL,
            PRIMARY KEY (env, key, purpose)
        )""",
        "CREATE INDEX uploads_file ON uploads (file_id)",
    ),
    # 6: who and where (a team's ledger holds many people's rows): the writer, the host of the
    # machine that wrote the row, the team (older rows stay NULL: the ledger's one owner); and
    # which host caches each output file, part of its key, since two machines may each cache
    # one generation ('' is "this machine", in a local ledger).
    (
        "ALTER TABLE generations ADD COLUMN user_name TEXT",
        "ALTER TABLE generations ADD COLUMN host TEXT",
        "ALTER TABLE generations ADD COLUMN team TEXT",
        "CREATE INDEX generations_env_user ON generations (env, user_name)",
        """CREATE TABLE outputs_by_host (
            env           TEXT NOT NULL,
            generation_id TEXT NOT NULL,
            idx           INTEGER NOT NULL,
            path          TEXT NOT NULL,
            bytes         INTEGER NOT NULL,
            sha256        TEXT NOT NULL,
            content_type  TEXT,
            downloaded_at REAL NOT NULL,
            host          TEXT NOT NULL DEFAULT '',
            PRIMARY KEY (env, generation_id, idx, host)
        )""",
        """INSERT INTO outputs_by_host SELECT env, generation_id, idx, path, bytes, sha256,
               content_type, downloaded_at, '' FROM outputs""",
        "DROP TABLE outputs",
        "ALTER TABLE outputs_by_host RENAME TO outputs",
    ),
    # 7: a person's rating of a generation (aurous_nb.store.ratings): 1-5 stars, 0 for rejected.
    (
        """CREATE TABLE ratings (
            env           TEXT NOT NULL,
            generation_id TEXT NOT NULL,
            stars         INTEGER NOT NULL CHECK (stars BETWEEN 0 AND 5),
            rated_at      REAL NOT NULL,
            PRIMARY KEY (env, generation_id)
        )""",
    ),
)
#: The statements of the schema text that differ between engines are written with
#: ``{least}``, ``{greatest}`` and ``{or_ignore}``, rendered by :meth:`Backend.ddl`.
SCHEMA_VERSION = len(MIGRATIONS)

# Columns a JobRecord is built from, in SELECT order.
_JOB_COLUMNS = (
    "idempotency_key",
    "env",
    "origin",
    "media_type",
    "status",
    "generation_id",
    "request",
    "request_hash",
    "estimate",
    "held",
    "charged",
    "notebook",
    "cell",
    "submitted_at",
    "created_at",
    "completed_at",
    "updated_at",
    "error_code",
    "error_message",
    "prompt",
    "lora",
    "lora_id",
    "size",
    "width",
    "height",
    "seed",
    "image_count",
    "response",
    "user_name",
    "host",
)
_JOB_SELECT = f"SELECT {', '.join(_JOB_COLUMNS)} FROM generations"


# --------------------------------------------------------------------------------------------
# records


@dataclass(frozen=True)
class JobRecord:
    """One generation as the ledger knows it (a local job, or one only seen on the server).

    ``key`` is the idempotency key (``None`` for generations this toolkit did not create).
    ``estimate`` is what was expected before the charge (the caller's estimate, else the first
    hold the server reported); ``held`` is the current hold while active; ``charged`` is what the
    server says was charged once terminal.
    """

    key: str | None
    env: str
    origin: str
    media_type: str
    status: str
    generation_id: str | None
    request: dict[str, Any] | None
    request_hash: str | None
    estimate: float | None
    held: float | None
    charged: float | None
    notebook: str | None
    cell: str | None
    submitted_at: float | None
    created_at: float | None
    completed_at: float | None
    updated_at: float
    error_code: str | None
    error_message: str | None
    prompt: str | None
    lora: str | None
    lora_id: str | None
    size: str | None
    width: int | None
    height: int | None
    seed: int | None
    image_count: int | None
    generation: dict[str, Any] | None
    user_name: str | None = None
    host: str | None = None

    @property
    def terminal(self) -> bool:
        return self.status in TERMINAL

    @property
    def answered(self) -> bool:
        """Whether the server's answer to the create is known (the generation id is)."""
        return self.generation_id is not None

    @property
    def cost(self) -> float | None:
        """Credits charged once terminal, the hold while active."""
        return self.charged if self.terminal else self.held

    @property
    def output_count(self) -> int:
        """How many output files the generation has (0 unless it succeeded)."""
        if self.status != SUCCEEDED:
            return 0
        if self.media_type == "video":
            return 1
        return int(self.image_count or 1)

    def __repr__(self) -> str:
        ident = self.generation_id or f"key={self.key}"
        cost = "" if self.cost is None else f" cost={self.cost:g}"
        return f"<JobRecord {self.media_type} {ident} {self.status}{cost} env={self.env}>"


@dataclass(frozen=True)
class OutputFile:
    """A downloaded output in the local cache (``path`` is absolute)."""

    env: str
    generation_id: str
    index: int
    path: Path
    bytes: int
    sha256: str
    content_type: str | None
    downloaded_at: float

    def is_intact(self) -> bool:
        """The file is there with the recorded size (a cheap check; no re-hash)."""
        try:
            return self.path.stat().st_size == self.bytes
        except OSError:
            return False


@dataclass(frozen=True)
class PricingSnapshot:
    """One distinct rate card seen for ``version`` in ``env``, and when."""

    env: str
    version: str
    card: dict[str, Any]
    first_seen: float
    last_seen: float
    times_seen: int


@dataclass(frozen=True)
class BalanceSnapshot:
    env: str
    at: float
    credits: float | None
    held_credits: float | None
    available_credits: float | None
    billing_mode: str | None


# --------------------------------------------------------------------------------------------
# the ledger


class Ledger:
    """The ledger at ``path`` (a SQLite file) or ``url`` (a team's PostgreSQL database); by
    default ``$AUROUS_NB_LEDGER``, else ``$AUROUS_NB_HOME/ledger.sqlite3``.

    Cheap to create; connections open lazily, one per thread. The outputs cache is always local:
    beside the file, or in ``$AUROUS_NB_HOME/outputs`` for a team's database (each row says which
    ``host`` has its files). ``user`` and ``host`` name who writes and where (see
    :func:`aurous_nb.config.user_name`).
    """

    def __init__(
        self,
        path: str | os.PathLike[str] | None = None,
        *,
        url: str | None = None,
        user: str | None = None,
        host: str | None = None,
    ) -> None:
        target: str | os.PathLike[str] = (
            path if path is not None else url or ledger_url() or aurous_home() / "ledger.sqlite3"
        )
        self._db: Backend = backend_for(target, _BUSY_TIMEOUT_S)
        self.user = user or user_name()
        self.host = host or host_name()
        self.team = team_name()
        #: The SQLite file (``None`` for a database server).
        self.path: Path | None = None if self._db.shared else self._db.path
        self._home = self._db.path.parent if self.path is not None else aurous_home()
        if self.path is not None:
            ledger_file.prepare(self.path, _build)
        self._local = threading.local()
        self._lock = threading.Lock()
        # Every open connection with the thread that owns it, so close() reaches them all and
        # connections of finished threads are closed instead of piling up.
        self._connections: list[tuple[weakref.ref[threading.Thread], Any]] = []
        self._waited = False
        self._migrate()

    # -- plumbing ----------------------------------------------------------------------------

    @property
    def shared(self) -> bool:
        """A team's database: rows of several people, so listings, resume and reuse are scoped."""
        return self._db.shared

    @property
    def where(self) -> str:
        """Where the rows are, as a person may see it (a database URL without its password)."""
        return self._db.where

    @property
    def files_host(self) -> str:
        """The ``host`` of the output files this machine caches: its name on a team's ledger,
        ``''`` (this machine) in a local one."""
        return self.host if self.shared else ""

    @property
    def home(self) -> Path:
        """The directory that holds the outputs cache (and the SQLite file, when local)."""
        return self._home

    @property
    def outputs_root(self) -> Path:
        return self.home / "outputs"

    def _connection(self) -> Any:
        conn: Any = getattr(self._local, "conn", None)
        if (
            conn is not None
            and getattr(self._local, "pid", None) == os.getpid()
            and self._db.usable(conn)
        ):
            return conn
        conn = self._db.connect()
        self._local.conn, self._local.pid = conn, os.getpid()
        with self._lock:
            alive = []
            for owner, other in self._connections:
                thread = owner()
                if thread is not None and thread.is_alive() and other is not conn:
                    alive.append((owner, other))
                else:
                    self._db.close(other)
            alive.append((weakref.ref(threading.current_thread()), conn))
            self._connections = alive
        return conn

    def _drop_connection(self) -> None:
        """Forget this thread's connection (the server cut it); the next call opens another."""
        conn = getattr(self._local, "conn", None)
        self._local.conn = None
        if conn is not None:
            self._db.close(conn)

    @contextmanager
    def _write(self) -> Iterator[Any]:
        """A short write transaction that takes the write lock up front (no upgrade deadlock)."""
        with self._db.write(self._connection()) as conn:
            yield conn

    def _migrate(self) -> None:
        """Bring an older schema up to date. A current one needs no write (so a read-only
        ledger still reads); a newer one, or another program's database, is left untouched."""
        if self.path is not None:  # no WAL switch before the check
            first = ledger_file.connect(self.path, _BUSY_TIMEOUT_S)
            try:
                current = self._check_version(first) == SCHEMA_VERSION
            finally:
                first.close()
        else:
            current = self._check_version(self._connection()) == SCHEMA_VERSION
        if current:
            return
        with self._write() as conn:
            _upgrade(self._db, conn, self._check_version(conn))

    def _check_version(self, conn: Any) -> int:
        version = self._db.version(conn)
        if version > SCHEMA_VERSION:
            raise LedgerError(
                self.path or self.where,
                f"was written by a newer aurous_nb (schema {version}; this one reads up to "
                f"{SCHEMA_VERSION})",
                "Upgrade aurous_nb (pip install -U aurous_nb), or set AUROUS_NB_HOME to another "
                "folder. The file was left untouched.",
            )
        found = set(self._db.tables(conn))
        if self.shared:  # a team's database may hold other tables: only ours must be absent
            found &= {"generations", "outputs", "pricing", "balances", "meta"}
        if version == 0 and found:
            raise LedgerError(
                self.path or self.where,
                f"is not an aurous_nb ledger (it holds the tables {', '.join(sorted(found))})",
                "Set AUROUS_NB_HOME to another folder, or move that file away. It was left "
                "untouched.",
            )
        return version

    @property
    def schema_version(self) -> int:
        return self._db.version(self._connection())

    @contextmanager
    def reader(self) -> Iterator[Any]:
        """A short-lived read-only connection of its own, closed on exit (for worker threads)."""
        if self.path is None:
            conn = self._db.connect()
            try:
                yield conn
            finally:
                self._db.close(conn)
            return
        conn = sqlite3.connect(self.path, timeout=_BUSY_TIMEOUT_S, check_same_thread=False)
        try:
            conn.execute("PRAGMA query_only = ON")
            yield conn
        finally:
            conn.close()

    def close(self) -> None:
        """Close every connection this object opened (in any thread)."""
        with self._lock:
            connections, self._connections = self._connections, []
        for _, conn in connections:
            self._db.close(conn)
        self._local = threading.local()

    def __enter__(self) -> Ledger:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"<Ledger {self.where}>"

    def mine(self, scope: str, column: str = "user_name") -> tuple[list[str], list[Any]]:
        """The clause that keeps a team ledger's rows to the caller's own (``scope="me"``)."""
        if scope not in ("me", "team"):
            raise ValueError(f"scope must be 'me' or 'team', not {scope!r}")
        if scope == "team" or not self.shared:
            return [], []
        return [f"{column} = ?"], [self.user]

    @_patient
    def query(
        self, sql: str, params: Sequence[Any] = ()
    ) -> tuple[list[str], list[tuple[Any, ...]]]:
        """Run a read-only query: ``(column names, rows)``, for frames and reports."""
        cursor = self._connection().execute(sql, params)
        names = [d[0] for d in cursor.description or ()]
        return names, cursor.fetchall()

    # -- jobs --------------------------------------------------------------------------------

    def prepare(
        self,
        env: str,
        media_type: str,
        request: Mapping[str, Any],
        *,
        key: str | None = None,
        estimate: float | None = None,
        notebook: str | None = None,
        cell: str | None = None,
        guard: Callable[[Any, str], None] | None = None,
    ) -> JobRecord:
        """Write a job *before* it is sent: a fresh idempotency key and the canonical request.

        The row starts ``submitting``; :meth:`record_generation` with the same key fills in the
        server's answer. Refuses a request that contains anything shaped like an API key.
        ``guard(connection, key)`` runs in the same write transaction, before the row is written
        (the spending caps of :mod:`aurous_nb.caps`): what it raises writes nothing.
        """
        if media_type not in ("image", "video"):
            raise ValueError(f"media_type must be 'image' or 'video', not {media_type!r}")
        if contains_api_key(request):
            raise ValueError("the request contains something shaped like an API key; refusing")
        key = key or str(uuid.uuid4())  # chosen once: a repeated write finds its own row
        now = time.time()
        canonical = canonical_json(request, drop_none=True)  # the text request_hash digests
        self._insert_job(
            (
                env,
                key,
                media_type,
                canonical,
                self._request_hash(env, media_type, request),
                notebook,
                cell,
                as_float(estimate),
                now,
                SUBMITTING,
                request.get("prompt"),
                ",".join(lora_ids_from_request(request)) or None,
                *size_fields(media_type, request),
                now,
                self.user,
                self.host,
                self.team,
            ),
            guard,
        )
        record = self.job(key)
        assert record is not None
        return record

    @_patient
    def _insert_job(
        self, values: tuple[Any, ...], guard: Callable[[Any, str], None] | None = None
    ) -> None:
        with self._write() as conn:
            if guard is not None:  # e.g. the spending caps, in the transaction that writes
                guard(conn, values[1])
            conn.execute(
                """INSERT INTO generations (env, idempotency_key, origin, media_type, request,
                       request_hash, notebook, cell, estimate, submitted_at, status, prompt,
                       lora_id, size, width, height, updated_at, user_name, host, team)
                   VALUES (?, ?, 'local', ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                   ON CONFLICT (idempotency_key) DO NOTHING""",
                values,
            )

    def record_generation(self, env: str, generation: Any, *, key: str | None = None) -> JobRecord:
        """Store an answer or a status change; returns the updated record.

        With ``key`` the row written by :meth:`prepare` is updated (the create's answer);
        without, the row is found by generation id, or added as one seen only on the server.
        A stale non-terminal status never overwrites a terminal one.
        """
        [record] = self.record_generations(env, [generation], key=key)
        return record

    @_patient
    def record_generations(
        self, env: str, generations: Iterable[Any], *, key: str | None = None
    ) -> list[JobRecord]:
        """:meth:`record_generation` for many at once, in one transaction (bulk polls, lists)."""
        payloads = [as_payload(g) for g in generations]
        if key is not None and len(payloads) != 1:
            raise ValueError("key= applies to exactly one generation")
        row_ids: list[int] = []
        with self._write() as conn:
            for payload in payloads:
                row_ids.append(self._upsert(conn, env, payload, key))
        return self._jobs_by_row_ids(row_ids)

    def _upsert(self, conn: Any, env: str, payload: dict[str, Any], key: str | None) -> int:
        gen_id = payload.get("id")
        row = None
        if key is not None:
            row = conn.execute(
                "SELECT row_id, status, request, env FROM generations WHERE idempotency_key = ?",
                (key,),
            ).fetchone()
            if row is not None and gen_id:
                env = row[3]
                # A history fetch may have seen this generation before its create was answered.
                conn.execute(
                    "DELETE FROM generations WHERE env = ? AND generation_id = ? "
                    "AND idempotency_key IS NULL",
                    (env, gen_id),
                )
        if row is None and gen_id:
            row = conn.execute(
                "SELECT row_id, status, request, env FROM generations "
                "WHERE env = ? AND generation_id = ?",
                (env, gen_id),
            ).fetchone()
        request = json.loads(row[2]) if row is not None and row[2] else None
        fields = generation_fields(payload, request)
        now = time.time()
        if row is None:
            fields.update(
                env=env,
                idempotency_key=key,
                origin="local" if key else "server",
                updated_at=now,
                estimate=fields["held"],
            )
            names = ", ".join(fields)
            marks = ", ".join("?" for _ in fields)
            cursor = conn.execute(
                f"INSERT INTO generations ({names}) VALUES ({marks}) RETURNING row_id",
                tuple(fields.values()),
            )
            return int(cursor.fetchone()[0])
        row_id, old_status = int(row[0]), str(row[1])
        if old_status in TERMINAL and fields["status"] in ACTIVE:
            return row_id  # a stale poll: keep what we know
        if fields["prompt"] is None:
            del fields["prompt"]
        fields["updated_at"] = now
        assignments = ", ".join(f"{name} = ?" for name in fields)
        conn.execute(
            f"UPDATE generations SET {assignments}, estimate = COALESCE(estimate, ?), "
            "error_code = NULL WHERE row_id = ?",
            (*fields.values(), fields["held"], row_id),
        )
        return row_id

    @_patient
    def mark(
        self,
        job: str | JobRecord,
        status: str,
        *,
        error_code: str | None = None,
        error_message: str | None = None,
    ) -> JobRecord:
        """Set a local status and its reason: ``rejected`` (a refused create), ``lost`` (never
        answered, too old to re-send), or ``cancelled`` for a job cancelled before it was sent.
        Terminal local statuses charge nothing. ``job`` is an idempotency key or a record (one
        seen only on the server is found by environment and generation id)."""
        if status not in ACTIVE | LOCAL_ENDS:
            raise ValueError(f"not a local status: {status!r}")
        message = redact_keys(error_message) if error_message else None
        ends = status in LOCAL_ENDS  # these charge nothing and release the hold
        where, params = "idempotency_key = ?", [str(job)]
        if isinstance(job, JobRecord):
            if job.key is not None:
                params = [job.key]
            elif job.generation_id is not None:
                where, params = "env = ? AND generation_id = ?", [job.env, job.generation_id]
            else:
                raise ValueError("this record has neither a key nor a generation id")
        with self._write() as conn:
            conn.execute(
                "UPDATE generations SET status = ?, error_code = ?, error_message = ?, "
                "charged = CASE WHEN ? THEN COALESCE(charged, 0) ELSE charged END, "
                "held = CASE WHEN ? THEN NULL ELSE held END, updated_at = ? "
                f"WHERE {where}",
                (status, error_code, message, ends, ends, time.time(), *params),
            )
        record = self.job(params[0]) if len(params) == 1 else self.find(params[1], params[0])
        if record is None:
            raise KeyError(job)
        return record

    @_patient
    def job(self, key: str) -> JobRecord | None:
        """The job written with idempotency key ``key``."""
        rows = (
            self._connection()
            .execute(f"{_JOB_SELECT} WHERE idempotency_key = ?", (key,))
            .fetchall()
        )
        return _to_record(rows[0]) if rows else None

    @_patient
    def find(self, generation_id: str, env: str | None = None) -> JobRecord | None:
        """The row for a generation id (in ``env`` when given)."""
        sql, params = f"{_JOB_SELECT} WHERE generation_id = ?", [generation_id]
        if env is not None:
            sql, params = sql + " AND env = ?", [*params, env]
        rows = self._connection().execute(sql + " ORDER BY row_id DESC LIMIT 1", params).fetchall()
        return _to_record(rows[0]) if rows else None

    @_patient
    def jobs(
        self,
        env: str | None = None,
        *,
        status: str | Iterable[str] | None = None,
        origin: str | None = None,
        limit: int | None = None,
        scope: str = "me",
    ) -> list[JobRecord]:
        """Rows newest first, filtered by environment, status(es) and origin; on a team's
        ledger only the caller's own unless ``scope="team"``."""
        where, params = _filters(env=env, status=status, origin=origin, mine=self.mine(scope))
        sql = f"{_JOB_SELECT}{where} ORDER BY COALESCE(submitted_at, created_at) DESC, row_id DESC"
        if limit is not None:
            sql += f" LIMIT {int(limit)}"
        return [_to_record(r) for r in self._connection().execute(sql, params).fetchall()]

    def pending(self, env: str | None = None, *, scope: str = "me") -> list[JobRecord]:
        """Jobs not yet terminal (including ones sent but never answered), oldest first: on a
        team's ledger the caller's own (what resume may re-send), unless ``scope="team"``."""
        return list(reversed(self.jobs(env, status=ACTIVE, scope=scope)))

    @_patient
    def reusable(
        self,
        env: str,
        media_type: str,
        request: Mapping[str, Any],
        *,
        notebook: str | None = None,
        cell: str | None = None,
        statuses: Iterable[str] = REUSABLE,
        scope: str = "me",
    ) -> JobRecord | None:
        """The newest earlier job with the same canonical request that is active or succeeded
        (or in one of ``statuses``).

        This is how re-running an unchanged cell buys nothing: the magics ask here first.
        ``notebook``/``cell`` narrow the match when known. On a team's ledger only the caller's
        own purchases are reused, unless ``scope="team"`` (anyone's in the team).
        """
        among, wanted = status_in(statuses)
        sql = f"{_JOB_SELECT} WHERE env = ? AND request_hash = ? AND {among}"
        params: list[Any] = [env, self._request_hash(env, media_type, request), *wanted]
        mine, who = self.mine(scope)
        sql += "".join(f" AND {clause}" for clause in mine)
        params += who
        if scope == "team" and self.shared:  # a teammate's unanswered create is theirs to re-send
            sql += " AND (user_name = ? OR generation_id IS NOT NULL)"
            params.append(self.user)
        for column, value in (("notebook", notebook), ("cell", cell)):
            if value is not None:
                sql += f" AND {column} = ?"
                params.append(value)
        rows = self._connection().execute(sql + " ORDER BY row_id DESC LIMIT 1", params).fetchall()
        return _to_record(rows[0]) if rows else None

    def _request_hash(self, env: str, media_type: str, request: Mapping[str, Any]) -> str:
        """``request_hash``, with each uploaded reference read as its content: a picture
        uploaded again after its file expired gets a new ``file_`` id, and the same request
        must still find the earlier job (re-running the cell buys nothing)."""
        refs = {
            name: request[name]
            for name in ("reference_image_urls", "first_frame_url", "last_frame_url")
            if request.get(name)
        }
        ids = [r for v in refs.values() for r in ([v] if isinstance(v, str) else v)]
        ids = [r for r in ids if isinstance(r, str) and r.startswith("file_")]
        if not ids:
            return request_hash(media_type, request)
        marks = ",".join("?" * len(ids))
        content = dict(
            self._connection().execute(
                f"SELECT file_id, min(key) FROM uploads WHERE env = ? AND file_id IN ({marks}) "
                "AND key LIKE 'sha256:%' GROUP BY file_id",
                [env, *ids],
            )
        )

        def read(ref: Any) -> Any:
            return content.get(ref, ref) if isinstance(ref, str) else ref

        seen = {k: read(v) if isinstance(v, str) else [read(r) for r in v] for k, v in refs.items()}
        return request_hash(media_type, {**request, **seen})

    @_patient
    def statuses(self, env: str, generation_ids: Iterable[str]) -> dict[str, str]:
        """The known status of each of ``generation_ids`` (missing ids are left out)."""
        ids = list(generation_ids)
        out: dict[str, str] = {}
        conn = self._connection()
        for start in range(0, len(ids), 500):
            chunk = ids[start : start + 500]
            marks = ", ".join("?" for _ in chunk)
            rows = conn.execute(
                f"SELECT generation_id, status FROM generations "
                f"WHERE env = ? AND generation_id IN ({marks})",
                [env, *chunk],
            )
            out.update({r[0]: r[1] for r in rows})
        return out

    @_patient
    def get_meta(self, key: str) -> str | None:
        """A small fact the ledger keeps about itself (see :meth:`set_meta`)."""
        row = self._connection().execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return None if row is None else str(row[0])

    @_patient
    def set_meta(self, key: str, value: str) -> None:
        with self._write() as conn:
            conn.execute(
                "INSERT INTO meta (key, value) VALUES (?, ?) "
                "ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                (key, value),
            )

    def upload(self, env: str, key: str, purpose: str) -> tuple[str, float, float] | None:
        """``(file_id, expires_at, created_at)`` of a reference file (see store/uploads.py)."""
        row = (
            self._connection()
            .execute(
                "SELECT file_id, expires_at, created_at FROM uploads "
                "WHERE env = ? AND key = ? AND purpose = ?",
                (env, key, purpose),
            )
            .fetchone()
        )
        return None if row is None else (str(row[0]), float(row[1]), float(row[2]))

    def record_upload(
        self, env: str, keys: Iterable[str], purpose: str, file_id: str, expires: float, at: float
    ) -> None:
        with self._write() as conn:
            conn.executemany(
                "INSERT INTO uploads VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (env, key, purpose) "
                "DO UPDATE SET file_id = excluded.file_id, expires_at = excluded.expires_at, "
                "created_at = excluded.created_at",
                [(env, key, purpose, file_id, expires, at) for key in keys],
            )

    def forget_upload(self, env: str, file_id: str) -> None:
        with self._write() as conn:
            conn.execute("DELETE FROM uploads WHERE env = ? AND file_id = ?", (env, file_id))

    def set_rating(self, env: str, generation_id: str, stars: int | None) -> None:
        """Keep (or, with ``None``, forget) a rating: 1-5 stars, 0 for rejected."""
        with self._write() as conn:
            if stars is None:
                conn.execute(
                    "DELETE FROM ratings WHERE env = ? AND generation_id = ?", (env, generation_id)
                )
            else:
                conn.execute(
                    "INSERT INTO ratings VALUES (?, ?, ?, ?) ON CONFLICT (env, generation_id) "
                    "DO UPDATE SET stars = excluded.stars, rated_at = excluded.rated_at",
                    (env, generation_id, int(stars), time.time()),
                )

    def ratings(self, env: str, generation_ids: Iterable[str]) -> dict[str, int]:
        """The ratings of these generations (unrated ones are left out)."""
        ids = list(generation_ids)
        out: dict[str, int] = {}
        for start in range(0, len(ids), 500):
            chunk = ids[start : start + 500]
            rows = self._connection().execute(
                "SELECT generation_id, stars FROM ratings WHERE env = ? AND generation_id IN "
                f"({', '.join('?' for _ in chunk)})",
                (env, *chunk),
            )
            out.update({r[0]: int(r[1]) for r in rows})
        return out

    @_patient
    def envs(self) -> list[str]:
        """Every environment label the ledger has rows for."""
        rows = self._connection().execute(
            "SELECT env FROM generations UNION SELECT env FROM pricing "
            "UNION SELECT env FROM balances ORDER BY env"
        )
        return [r[0] for r in rows]

    @_patient
    def _jobs_by_row_ids(self, row_ids: list[int]) -> list[JobRecord]:
        if not row_ids:
            return []
        conn = self._connection()
        by_id: dict[int, JobRecord] = {}
        for start in range(0, len(row_ids), 500):
            chunk = row_ids[start : start + 500]
            marks = ", ".join("?" for _ in chunk)
            for row in conn.execute(
                f"SELECT row_id, {', '.join(_JOB_COLUMNS)} FROM generations "
                f"WHERE row_id IN ({marks})",
                chunk,
            ):
                by_id[row[0]] = _to_record(row[1:])
        return [by_id[i] for i in row_ids]

    # -- outputs -----------------------------------------------------------------------------

    @_patient
    def record_output(
        self,
        env: str,
        generation_id: str,
        index: int,
        path: Path,
        *,
        size: int,
        sha256: str,
        content_type: str | None = None,
    ) -> OutputFile:
        """Record a complete, renamed-into-place output file (paths kept relative to home)."""
        try:
            stored = str(Path(path).resolve().relative_to(self.home.resolve()))
        except ValueError:
            stored = str(Path(path).resolve())
        now = time.time()
        with self._write() as conn:
            conn.execute(
                "INSERT INTO outputs (env, generation_id, idx, path, bytes, sha256, content_type, "
                "downloaded_at, host) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) "
                "ON CONFLICT (env, generation_id, idx, host) DO UPDATE SET path = excluded.path, "
                "bytes = excluded.bytes, sha256 = excluded.sha256, "
                "content_type = excluded.content_type, downloaded_at = excluded.downloaded_at",
                (
                    env,
                    generation_id,
                    index,
                    stored,
                    size,
                    sha256,
                    content_type,
                    now,
                    self.files_host,
                ),
            )
        return OutputFile(env, generation_id, index, self._abs(stored), size, sha256,
                          content_type, now)  # fmt: skip

    @_patient
    def outputs(self, generation_id: str, env: str | None = None) -> list[OutputFile]:
        """Recorded output files of a generation, by index (on a team's ledger, those cached on
        this host: another machine's paths mean nothing here)."""
        sql = "SELECT * FROM outputs WHERE generation_id = ?"
        params: list[Any] = [generation_id]
        if env is not None:
            sql, params = sql + " AND env = ?", [*params, env]
        if self.shared:
            sql, params = sql + " AND host IN (?, '')", [*params, self.host]
        rows = self._connection().execute(sql + " ORDER BY idx", params).fetchall()
        return [OutputFile(r[0], r[1], r[2], self._abs(r[3]), r[4], r[5], r[6], r[7]) for r in rows]

    @_patient
    def forget_output(self, env: str, generation_id: str, index: int) -> None:
        """Drop an output's record (its file went missing or is damaged); on a team's ledger
        only this host's (another machine may still have it)."""
        sql, params = (
            "DELETE FROM outputs WHERE env = ? AND generation_id = ? AND idx = ?",
            [
                env,
                generation_id,
                index,
            ],
        )
        if self.shared:
            sql, params = sql + " AND host IN (?, '')", [*params, self.host]
        with self._write() as conn:
            conn.execute(sql, params)

    def _abs(self, stored: str) -> Path:
        path = Path(stored)
        return path if path.is_absolute() else self.home / path

    # -- pricing and balance -----------------------------------------------------------------

    @_patient
    def record_pricing(
        self, env: str, card: Any, *, version: str | None = None, at: float | None = None
    ) -> PricingSnapshot:
        """Keep a rate card: one row per distinct card per version, with first/last seen."""
        body = as_payload(card)
        version = str(version or body.get("version") or "unknown")
        text = canonical_json(sanitize(body), drop_none=True)
        digest = hashlib.sha256(text.encode()).hexdigest()
        now = time.time() if at is None else at
        with self._write() as conn:
            conn.execute(
                f"""INSERT INTO pricing VALUES (?, ?, ?, ?, ?, ?, 1)
                   ON CONFLICT (env, version, card_sha256) DO UPDATE SET
                   last_seen = {self._db.greatest}(pricing.last_seen, excluded.last_seen),
                   first_seen = {self._db.least}(pricing.first_seen, excluded.first_seen),
                   times_seen = pricing.times_seen + 1""",
                (env, version, digest, text, now, now),
            )
            row = conn.execute(
                "SELECT env, version, card, first_seen, last_seen, times_seen FROM pricing "
                "WHERE env = ? AND version = ? AND card_sha256 = ?",
                (env, version, digest),
            ).fetchone()
        return PricingSnapshot(row[0], row[1], json.loads(row[2]), row[3], row[4], row[5])

    @_patient
    def pricing_snapshots(self, env: str | None = None) -> list[PricingSnapshot]:
        """Every distinct rate card seen, oldest version first."""
        sql = "SELECT env, version, card, first_seen, last_seen, times_seen FROM pricing"
        params: list[Any] = []
        if env is not None:
            sql, params = sql + " WHERE env = ?", [env]
        rows = self._connection().execute(sql + " ORDER BY version, first_seen", params)
        return [PricingSnapshot(r[0], r[1], json.loads(r[2]), r[3], r[4], r[5]) for r in rows]

    @_patient
    def record_balance(self, env: str, balance: Any, *, at: float | None = None) -> BalanceSnapshot:
        """Keep a ``GET /v1/balance`` reading."""
        body = as_payload(balance)
        snapshot = BalanceSnapshot(
            env,
            time.time() if at is None else at,
            as_float(body.get("credits")),
            as_float(body.get("held_credits")),
            as_float(body.get("available_credits")),
            None if body.get("billing_mode") is None else str(body.get("billing_mode")),
        )
        with self._write() as conn:
            conn.execute(
                "INSERT INTO balances (env, at, credits, held_credits, available_credits, "
                "billing_mode) VALUES (?, ?, ?, ?, ?, ?)",
                (
                    snapshot.env,
                    snapshot.at,
                    snapshot.credits,
                    snapshot.held_credits,
                    snapshot.available_credits,
                    snapshot.billing_mode,
                ),
            )
        return snapshot

    @_patient
    def balances(self, env: str | None = None) -> list[BalanceSnapshot]:
        """Balance readings, oldest first."""
        sql = "SELECT env, at, credits, held_credits, available_credits, billing_mode FROM balances"
        params: list[Any] = []
        if env is not None:
            sql, params = sql + " WHERE env = ?", [env]
        rows = self._connection().execute(sql + " ORDER BY at", params)
        return [BalanceSnapshot(*r) for r in rows]


def _upgrade(db: Backend, conn: Any, version: int) -> None:
    for number in range(version, SCHEMA_VERSION):
        for statement in MIGRATIONS[number]:
            conn.execute(db.ddl(statement))
    if version != SCHEMA_VERSION:
        db.set_version(conn, SCHEMA_VERSION)


def _build(conn: sqlite3.Connection) -> None:
    """A new ledger, whole: every migration, then WAL (kept in the file's header)."""
    conn.execute("BEGIN")
    _upgrade(SQLITE, conn, 0)
    conn.execute("COMMIT")
    conn.execute("PRAGMA journal_mode = WAL")


def status_in(statuses: str | Iterable[str], column: str = "status") -> tuple[str, list[str]]:
    """``column IN (?, ...)`` and its parameters, for a status or a group of them."""
    wanted = [statuses] if isinstance(statuses, str) else sorted(statuses)
    return f"{column} IN ({', '.join('?' for _ in wanted)})", wanted


def status_list(statuses: Iterable[str]) -> str:
    """A group as SQL text, ``('a', 'b')``, for a clause kept as a constant (names only from
    :mod:`aurous_nb.statuses`, so nothing is quoted from outside)."""
    wanted = sorted(statuses)
    if not set(wanted) <= ALL:
        raise ValueError(f"not statuses: {sorted(set(wanted) - ALL)}")
    return "(" + ", ".join(f"'{name}'" for name in wanted) + ")"


def _filters(
    *,
    env: str | None,
    status: str | Iterable[str] | None,
    origin: str | None,
    mine: tuple[list[str], list[Any]] = ([], []),
) -> tuple[str, list[Any]]:
    clauses: list[str] = list(mine[0])
    params: list[Any] = list(mine[1])
    if env is not None:
        clauses.append("env = ?")
        params.append(env)
    if status is not None:
        among, wanted = status_in(status)
        clauses.append(among)
        params.extend(wanted)
    if origin is not None:
        clauses.append("origin = ?")
        params.append(origin)
    return (" WHERE " + " AND ".join(clauses) if clauses else ""), params


def _to_record(row: Sequence[Any]) -> JobRecord:
    values = dict(zip(_JOB_COLUMNS, row, strict=True))
    request = values.pop("request")
    response = values.pop("response")
    return JobRecord(
        key=values.pop("idempotency_key"),
        request=json.loads(request) if request else None,
        generation=json.loads(response) if response else None,
        **values,
    )


_DEFAULTS: dict[str, Ledger] = {}
_DEFAULTS_LOCK = threading.Lock()


def default_ledger() -> Ledger:
    """The ledger of ``$AUROUS_NB_LEDGER``, else of the current ``$AUROUS_NB_HOME`` (one object
    per place)."""
    url = ledger_url()
    path = (aurous_home() / "ledger.sqlite3").expanduser().resolve()
    where = f"{url}\x00{aurous_home()}" if url else str(path)
    with _DEFAULTS_LOCK:
        ledger = _DEFAULTS.get(where)
        if ledger is None or (not url and not path.exists()):
            ledger = _DEFAULTS[where] = Ledger(url=url) if url else Ledger(path)
        return ledger


def migrate(
    src: Ledger | str | os.PathLike[str], dst: Ledger | str | os.PathLike[str]
) -> dict[str, int]:
    """Copy the ledger ``src`` into ``dst`` (a ledger, a SQLite path or a ``postgresql://``
    URL), e.g. a person's local file into the team's database. Idempotent: a second run adds
    nothing. Returns how many rows each table gained (see :mod:`aurous_nb.store.ledger_copy`)."""
    from aurous_nb.store.ledger_copy import copy_ledger

    opened = [_open(x) for x in (src, dst)]
    try:
        return copy_ledger(opened[0][0], opened[1][0])
    finally:
        for ledger, mine in opened:
            if mine:
                ledger.close()


def _open(target: Ledger | str | os.PathLike[str]) -> tuple[Ledger, bool]:
    if isinstance(target, Ledger):
        return target, False
    text = str(target)
    return (Ledger(url=text) if "://" in text else Ledger(text)), True


def ledger_or_default(ledger: Ledger | None) -> Ledger:
    return ledger if ledger is not None else default_ledger()


def export(path: str | os.PathLike[str], *, since: Any = None, ledger: Ledger | None = None,
           env: str | None = None) -> int:  # fmt: skip
    """Share this ledger's records in one JSON file (never a key or a signed URL): see
    :mod:`aurous_nb.store.ledger_share`. Returns how many generations were written."""
    from aurous_nb.store import ledger_share

    return ledger_share.export(path, since=since, ledger=ledger, env=env)


def import_(path: str | os.PathLike[str], *, ledger: Ledger | None = None) -> int:
    """Add an export's records to the ledger (as ``imported`` rows, never re-sent): see
    :mod:`aurous_nb.store.ledger_share`. Returns how many generations were new."""
    from aurous_nb.store import ledger_share

    return ledger_share.import_(path, ledger=ledger)

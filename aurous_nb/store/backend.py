"""Where the ledger's rows live: a SQLite file (the default), or a team's PostgreSQL database.

The ledger (:mod:`aurous_nb.ledger`) is written once, in SQL both engines read: ``?``
placeholders, ``INSERT ... ON CONFLICT``, ``RETURNING``. What differs is here and only here:

* connecting, and the write lock (SQLite's ``BEGIN IMMEDIATE``; on PostgreSQL one advisory
  lock per transaction, so two writers anywhere in the team queue as two kernels on one file do);
* the schema version (``PRAGMA user_version``; a one-row table on PostgreSQL);
* the types and the two-argument ``max``/``min`` of the schema text (:meth:`Backend.ddl`);
* which errors mean "the server went away" (:meth:`Backend.transient`): a PostgreSQL restart
  cuts every connection, and the ledger then waits and writes again instead of losing the row.

psycopg (3) is imported only when a PostgreSQL ledger is opened. Credentials come from the URL,
the environment (``PGPASSWORD``) or ``~/.pgpass``, as libpq reads them; the URL is shown only
through :func:`aurous_nb.secret.mask_url`.
"""

from __future__ import annotations

import os
import re
import sqlite3
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Any

from aurous_nb.secret import mask_url, redact
from aurous_nb.store import ledger_file
from aurous_nb.store.ledger_file import LedgerError

__all__ = [
    "SQLITE",
    "Backend",
    "PostgresBackend",
    "SQLiteBackend",
    "backend_for",
    "is_postgres_url",
]

#: The advisory lock every PostgreSQL ledger write takes (one number: "aurous").
_WRITE_LOCK = 0x617572_6F7573


def is_postgres_url(text: str | None) -> bool:
    return bool(text) and str(text).startswith(("postgresql://", "postgres://"))


class Backend:
    """What the ledger asks of its database (the SQLite file unless told otherwise)."""

    name = "sqlite"
    #: Rows of several people: scope filters, user-scoped reuse and batch keys apply.
    shared = False
    greatest, least = "max", "min"

    def __init__(self, path: Path, timeout: float) -> None:
        self.path, self.timeout = path, timeout

    @property
    def where(self) -> str:
        """The ledger's address as a person may see it."""
        return str(self.path)

    def connect(self) -> Any:
        conn = ledger_file.connect(self.path, self.timeout)
        conn.execute(f"PRAGMA busy_timeout = {int(self.timeout * 1000)}")
        _enable_wal(conn, self.timeout)
        conn.execute("PRAGMA synchronous = NORMAL")
        return conn

    def usable(self, conn: Any) -> bool:
        return True

    @contextmanager
    def write(self, conn: Any) -> Iterator[Any]:
        """A short write transaction that takes the write lock up front (no upgrade deadlock)."""
        conn.execute("BEGIN IMMEDIATE")
        try:
            yield conn
        except BaseException:
            with suppress(sqlite3.Error, LedgerError):  # a broken file keeps the first error
                conn.execute("ROLLBACK")
            raise
        conn.execute("COMMIT")

    def version(self, conn: Any) -> int:
        return int(conn.execute("PRAGMA user_version").fetchone()[0])

    def set_version(self, conn: Any, version: int) -> None:
        conn.execute(f"PRAGMA user_version = {int(version)}")

    def tables(self, conn: Any) -> list[str]:
        return list(ledger_file.tables(conn))

    def ddl(self, statement: str) -> str:
        """A schema or migration statement in this engine's words."""
        return statement.format(greatest=self.greatest, least=self.least, or_ignore=" OR IGNORE")

    def transient(self, exc: BaseException) -> bool:
        """Whether ``exc`` means the database went away for a while (write again later)."""
        return False

    def error(self, exc: BaseException) -> LedgerError:
        return ledger_file.error(self.path, exc)

    def close(self, conn: Any) -> None:
        with suppress(sqlite3.Error):  # closing is best effort
            conn.close()


class SQLiteBackend(Backend):
    """The local file (see :mod:`aurous_nb.store.ledger_file` for how it is kept intact)."""


#: The SQLite dialect, for building a new file (no path needed).
SQLITE = SQLiteBackend(Path("ledger.sqlite3"), 0.0)


def _enable_wal(conn: Any, timeout: float) -> None:
    """Switch to WAL. On a brand-new file another process may hold the lock while it does the
    same, and SQLite answers that switch with "locked" at once (no busy handler), so retry."""
    deadline = time.monotonic() + timeout
    delay = 0.005
    while True:
        try:
            conn.execute("PRAGMA journal_mode = WAL")
            return
        except LedgerError as exc:
            cause = str(exc.__cause__)
            if "locked" not in cause and "busy" not in cause:
                raise
            if time.monotonic() > deadline:
                raise
            time.sleep(delay)
            delay = min(delay * 2, 0.1)


_TYPES = (
    (re.compile(r"\bINTEGER PRIMARY KEY\b"), "BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY"),
    (re.compile(r"\bINTEGER\b"), "BIGINT"),
    (re.compile(r"\bREAL\b"), "DOUBLE PRECISION"),
)


class _PgConnection:
    """A psycopg connection that takes the ledger's ``?`` placeholders."""

    def __init__(self, conn: Any) -> None:
        self.raw = conn
        self._sql: dict[str, str] = {}

    def execute(self, sql: str, params: Any = ()) -> Any:
        text = self._sql.get(sql)
        if text is None:
            text = self._sql[sql] = sql.replace("%", "%%").replace("?", "%s")
        return self.raw.execute(text, tuple(params))

    def executemany(self, sql: str, rows: Any) -> None:
        self.raw.cursor().executemany(sql.replace("%", "%%").replace("?", "%s"), rows)

    def close(self) -> None:
        self.raw.close()

    def __del__(self) -> None:
        # A ledger dropped without close() (as a SQLite one may be) closes its connections
        # quietly, instead of psycopg's ResourceWarning at some later collection.
        with suppress(Exception):
            self.raw.close()


class PostgresBackend(Backend):
    """A team's ledger in PostgreSQL at ``url`` (``postgresql://user@host:port/db``)."""

    name = "postgresql"
    shared = True
    greatest, least = "GREATEST", "LEAST"

    def __init__(self, url: str, timeout: float) -> None:
        super().__init__(Path("."), timeout)
        self.url = url

    @property
    def where(self) -> str:
        return mask_url(self.url)

    def connect(self) -> Any:
        import psycopg

        try:
            raw = psycopg.connect(
                self.url, autocommit=True, connect_timeout=max(1, int(self.timeout))
            )
        except psycopg.Error as exc:  # libpq's messages name host and user, never a password
            raise self.error(exc) from exc
        return _PgConnection(raw)

    def usable(self, conn: Any) -> bool:
        return not (conn.raw.closed or conn.raw.broken)

    @contextmanager
    def write(self, conn: Any) -> Iterator[Any]:
        conn.execute("BEGIN")
        try:
            conn.execute("SELECT pg_advisory_xact_lock(?)", (_WRITE_LOCK,))
            yield conn
        except BaseException:
            with suppress(Exception):
                conn.execute("ROLLBACK")
            raise
        conn.execute("COMMIT")

    def version(self, conn: Any) -> int:
        if "ledger_schema" not in self.tables(conn):
            return 0
        row = conn.execute("SELECT version FROM ledger_schema").fetchone()
        return 0 if row is None else int(row[0])

    def set_version(self, conn: Any, version: int) -> None:
        conn.execute("CREATE TABLE IF NOT EXISTS ledger_schema (version INTEGER NOT NULL)")
        conn.execute("DELETE FROM ledger_schema")
        conn.execute("INSERT INTO ledger_schema VALUES (?)", (int(version),))

    def tables(self, conn: Any) -> list[str]:
        rows = conn.execute(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = "
            "current_schema() AND table_type = 'BASE TABLE'"
        ).fetchall()
        return [str(r[0]) for r in rows]

    def ddl(self, statement: str) -> str:
        text = statement.format(greatest=self.greatest, least=self.least, or_ignore="")
        for pattern, replacement in _TYPES:
            text = pattern.sub(replacement, text)
        return text

    def transient(self, exc: BaseException) -> bool:
        import psycopg

        if isinstance(exc, LedgerError):
            exc = exc.__cause__ or exc
        if not isinstance(exc, (psycopg.OperationalError, psycopg.InterfaceError)):
            return False
        text = str(exc).lower()
        refused = ("authentication", "password", "does not exist", "permission denied")
        return not any(word in text for word in refused)

    def error(self, exc: BaseException) -> LedgerError:
        """``exc`` as a :class:`LedgerError` that names the masked URL, never a password."""
        problem = redact(mask_url(str(exc).strip().splitlines()[0] if str(exc) else repr(exc)))
        return LedgerError(
            self.where,
            f"cannot be used ({problem})",
            "Check AUROUS_NB_LEDGER (credentials come from the URL, PGPASSWORD or ~/.pgpass), "
            "or unset it to use the local SQLite file.",
        )

    def close(self, conn: Any) -> None:
        with suppress(Exception):
            conn.close()


def backend_for(target: str | os.PathLike[str], timeout: float) -> Backend:
    """The backend of a ledger URL or a SQLite path."""
    text = str(target)
    if is_postgres_url(text):
        return PostgresBackend(text, timeout)
    if text.startswith("sqlite:///"):
        text = text[len("sqlite://") :]
    return SQLiteBackend(Path(text).expanduser(), timeout)

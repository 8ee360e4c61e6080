"""The ledger's file: created whole, checked before use, moved aside when damaged, never
overwritten.

The ledger is the only record of what was spent, so a file that cannot be read as one is never
repaired in place or silently replaced: it is renamed ``<name>.damaged-<UTC time>`` (its ``-wal``
beside it) with a :class:`LedgerWarning`, and a fresh ledger starts. A zero-byte file counts as
damaged (SQLite would take it for an empty ledger and history would restart unnoticed), which is
safe because a new ledger is built in a temporary file and linked into place whole. A file this
version must not touch (a newer schema, another program's database) and a file that cannot be
written are refused with a :class:`LedgerError` that says what is wrong and what to do.
Connections opened here turn SQLite's errors into that same :class:`LedgerError`.
Only the standard library is imported here.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
import threading
import uuid
import warnings
from collections.abc import Callable, Iterable, Iterator
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

__all__ = ["Connection", "LedgerError", "LedgerWarning", "connect", "error", "prepare", "tables"]

_HEADER = b"SQLite format 3\x00"
_COMPANIONS = ("-wal", "-shm", "-journal")
_ADVICE_ELSEWHERE = "or set AUROUS_NB_HOME to another folder"


class LedgerError(RuntimeError):
    """The ledger cannot be used: ``message`` says what is wrong, ``advice`` what to do."""

    def __init__(self, path: Path | str, problem: str, advice: str) -> None:
        self.path = path
        self.message = f"The ledger {path} {problem}"
        self.advice = advice
        super().__init__(f"{self.message}. {advice}")


class LedgerWarning(UserWarning):
    """Something about the ledger a person should know: a damaged file moved aside, a reading
    that could not be recorded."""


# ------------------------------------------------------------------------------ errors


def error(path: Path, exc: BaseException) -> LedgerError:
    """What ``exc`` (from SQLite or the file system) means for the ledger at ``path``."""
    text = str(exc)
    lowered = text.lower()
    readings = "Readings (balance, pricing, estimates) still work; generating needs the ledger."
    if "readonly" in lowered or "read-only" in lowered or isinstance(exc, PermissionError):
        return LedgerError(
            path,
            "is read-only",
            f"Make the file and its folder writable, {_ADVICE_ELSEWHERE}. {readings}",
        )
    if "unable to open" in lowered:
        return LedgerError(
            path,
            "cannot be opened or created",
            f"Check that its folder exists and is writable, {_ADVICE_ELSEWHERE}. {readings}",
        )
    if "locked" in lowered or "busy" in lowered:
        return LedgerError(
            path,
            "is locked by another process",
            "Wait for the other kernel or script to finish its write, then run the cell again.",
        )
    if "malformed" in lowered or "not a database" in lowered or "corrupt" in lowered:
        return LedgerError(
            path,
            f"is damaged ({text})",
            "Restart the kernel: the damaged file is then moved aside and a fresh ledger starts.",
        )
    if "disk" in lowered or "full" in lowered or isinstance(exc, OSError):
        return LedgerError(
            path, f"could not be written ({text})", "Free some disk space, then run it again."
        )
    return LedgerError(path, f"cannot be used ({text})", f"Check the file, {_ADVICE_ELSEWHERE}.")


def _translated(exc: sqlite3.Error) -> bool:
    """SQLite errors about the file, not about our SQL (those stay bugs, raised as they are)."""
    return type(exc) in (sqlite3.DatabaseError, sqlite3.OperationalError, sqlite3.InternalError)


@contextlib.contextmanager
def _file_errors(path: Path) -> Iterator[None]:
    """Raise SQLite's file errors inside the block as :class:`LedgerError` about ``path``."""
    try:
        yield
    except sqlite3.Error as exc:
        if _translated(exc):
            raise error(path, exc) from exc
        raise


class Cursor(sqlite3.Cursor):
    """A cursor whose file errors are :class:`LedgerError`."""

    path: Path

    def execute(self, sql: str, parameters: Any = (), /) -> Cursor:
        with _file_errors(self.path):
            return super().execute(sql, parameters)

    def fetchone(self) -> Any:
        with _file_errors(self.path):
            return super().fetchone()

    def fetchall(self) -> list[Any]:
        with _file_errors(self.path):
            return super().fetchall()

    def __next__(self) -> Any:
        with _file_errors(self.path):
            return super().__next__()


class Connection(sqlite3.Connection):
    """A connection to the ledger at ``path``: every statement runs on a :class:`Cursor`."""

    path: Path

    def execute(self, sql: str, parameters: Any = (), /) -> Cursor:
        cursor = self.cursor(Cursor)
        cursor.path = self.path
        return cursor.execute(sql, parameters)


def connect(path: Path, timeout: float) -> Connection:
    """An autocommit connection to the ledger file (which :func:`prepare` made sure of)."""
    try:
        conn = sqlite3.connect(
            path, timeout=timeout, isolation_level=None, check_same_thread=False, factory=Connection
        )
    except sqlite3.Error as exc:
        raise error(path, exc) from exc
    conn.path = path
    return conn


# ------------------------------------------------------------------------------ the file

_CHECKED: set[tuple[str, int]] = set()
_CHECKED_LOCK = threading.Lock()


def prepare(path: Path, build: Callable[[sqlite3.Connection], None]) -> None:
    """Make sure ``path`` holds an intact SQLite file: build it whole (``build`` runs on a
    temporary file, linked into place only when done) when there is none, and move a damaged
    one aside first. Raises :class:`LedgerError` when the folder or file cannot be used."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise LedgerError(
            path, f"cannot be created ({exc.strerror})", "Set AUROUS_NB_HOME to a writable folder."
        ) from exc
    try:
        stat = path.stat()
    except FileNotFoundError:
        _create(path, build)
        return
    identity = (str(path), stat.st_ino)
    with _CHECKED_LOCK:
        if identity in _CHECKED:
            return
    problem = damage(path)
    if problem is None:
        with _CHECKED_LOCK:
            _CHECKED.add(identity)
        return
    moved = move_aside(path, problem)
    _create(path, build)
    warnings.warn(
        LedgerWarning(
            f"The ledger {path} {problem}: it was moved aside to {moved.name} (nothing in it was "
            "changed) and a fresh ledger started. The earlier history is in that file."
        ),
        stacklevel=4,
    )


def damage(path: Path) -> str | None:
    """What is wrong with the SQLite file at ``path``, or None when it reads as intact.

    A cheap look at the header first (empty, not SQLite), then SQLite's own ``quick_check``
    (about 0.15 s for a 200 MB ledger, once per file and process), which also finds truncation.
    It reads a consistent snapshot, so another process writing or checkpointing meanwhile is
    never taken for damage (none in 800 checks against a busy writer). A file that cannot be
    opened at all (a read-only folder, a lock) is not judged here.
    """
    try:
        with path.open("rb") as fh:
            header = fh.read(100)
        size = path.stat().st_size
    except OSError:
        return None
    if size == 0:
        return "is empty (0 bytes): an interrupted copy or a full disk, not a ledger"
    if not header.startswith(_HEADER) or len(header) < 100:
        return "is not a SQLite database"
    try:
        conn = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True)
        try:
            rows = conn.execute("PRAGMA quick_check").fetchall()
        finally:
            conn.close()
    except sqlite3.OperationalError as exc:
        if "malformed" not in str(exc) and "not a database" not in str(exc):
            return None  # cannot open it here (read-only folder, locked): not for us to judge
        return f"is damaged ({exc})"
    except sqlite3.DatabaseError as exc:
        return f"is damaged ({exc})"
    verdict = [str(row[0]) for row in rows]
    if verdict != ["ok"]:
        return f"is damaged (SQLite's check: {verdict[0]})"
    return None


def move_aside(path: Path, problem: str) -> Path:
    """Rename ``path`` (and its ``-wal``) to ``<name>.damaged-<UTC time>``; never deletes."""
    stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    target = path.with_name(f"{path.name}.damaged-{stamp}")
    n = 1
    while any(Path(f"{target}{s}").exists() for s in ("", *_COMPANIONS)):
        n += 1
        target = path.with_name(f"{path.name}.damaged-{stamp}-{n}")
    try:
        os.rename(path, target)
    except FileNotFoundError:
        return target  # another process moved it first
    except OSError as exc:
        raise LedgerError(
            path,
            f"{problem}, and could not be moved aside ({exc.strerror})",
            f"Move it away yourself (it may hold your history), {_ADVICE_ELSEWHERE}.",
        ) from exc
    for suffix in _COMPANIONS:
        companion = Path(f"{path}{suffix}")
        if companion.exists():
            try:
                os.rename(companion, f"{target}{suffix}")
            except OSError:
                companion.unlink(missing_ok=True)
    return target


def _create(path: Path, build: Callable[[sqlite3.Connection], None]) -> None:
    """Build a new ledger in a temporary file and link it into place (no one ever sees it
    half made, or empty); when another process got there first, theirs is kept."""
    temp = path.with_name(f".{path.name}.{uuid.uuid4().hex[:8]}.new")
    try:
        conn = sqlite3.connect(temp, isolation_level=None)
        try:
            build(conn)
        finally:
            conn.close()
        try:
            os.link(temp, path)
        except FileExistsError:
            pass
        except OSError:  # a file system without hard links
            if not path.exists():
                os.replace(temp, path)
    except (sqlite3.Error, OSError) as exc:
        raise error(path, exc) from exc
    finally:
        _remove(temp, *(Path(f"{temp}{s}") for s in _COMPANIONS))


def _remove(*paths: Path) -> None:
    for p in paths:
        with contextlib.suppress(OSError):
            p.unlink(missing_ok=True)


def tables(conn: sqlite3.Connection) -> Iterable[str]:
    """The names of the tables in a database."""
    rows = conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'").fetchall()
    return [str(r[0]) for r in rows]

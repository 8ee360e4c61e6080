"""Find the API key or a signed output token in anything a run leaves behind.

``run_leak_scenario`` does what a user does (a notebook with magics and the client, a batch that
caches outputs, errors of every kind, chaos) while capturing every log record, then scans the
executed notebook's outputs, the captured log lines, the exception texts, every ledger row and
every file under ``$AUROUS_NB_HOME`` and ``build/``.
"""

from __future__ import annotations

import logging
import re
import sqlite3
import traceback
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
BUILD = ROOT / "build"

#: Any key in the hosted API's format (each sandbox has its own; all are secrets).
KEY_RE = re.compile(rb"\bal_(?:live|test)_[0-9a-f]{64}\b")
#: A signed output token (``<expiry>.<nonce>.<hmac>``) or any ``token=`` query parameter.
TOKEN_RE = re.compile(
    rb"\b\d{9,11}\.[0-9a-f]{8,32}\.[0-9a-f]{64}\b"
    rb"|[?&]token=(?!\[redacted\]|%5Bredacted%5D)[^\s\"'&<>]+"
)


@dataclass
class Scan:
    """What was scanned and what was found (``hits``: ``where: what``)."""

    items: int = 0
    size: int = 0
    hits: list[str] = field(default_factory=list)

    def check(self, where: str, data: bytes | str, key: str) -> None:
        raw = data.encode("utf-8", "replace") if isinstance(data, str) else data
        self.items += 1
        self.size += len(raw)
        secret = key.encode()
        if secret in raw or secret[8:] in raw:  # the key, or its 64 random hex characters
            self.hits.append(f"{where}: the API key")
        elif KEY_RE.search(raw):
            self.hits.append(f"{where}: an API key (another sandbox's?)")
        match = TOKEN_RE.search(raw)
        if match:
            self.hits.append(f"{where}: signed token {match.group(0)[:24]!r}…")


class Capture(logging.Handler):
    """Every record any logger emits, formatted with its traceback, at DEBUG and up."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.lines: list[str] = []
        self.setFormatter(logging.Formatter("%(name)s %(levelname)s %(message)s"))

    def emit(self, record: logging.LogRecord) -> None:
        try:
            self.lines.append(self.format(record))
        except Exception as exc:  # a record that cannot format is itself worth seeing
            self.lines.append(f"unformattable record {record.name}: {exc!r}")


@contextmanager
def captured_logs() -> Iterator[Capture]:
    """Capture at DEBUG on the root logger (and keep loggers that do not propagate)."""
    handler = Capture()
    root = logging.getLogger()
    old = root.level
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    quiet = [lg for lg in _loggers() if not lg.propagate]
    for lg in quiet:
        lg.addHandler(handler)
    try:
        yield handler
    finally:
        root.removeHandler(handler)
        root.setLevel(old)
        for lg in quiet:
            lg.removeHandler(handler)


def _loggers() -> list[logging.Logger]:
    manager = logging.Logger.manager
    return [lg for lg in manager.loggerDict.values() if isinstance(lg, logging.Logger)]


def exception_texts(exc: BaseException) -> list[str]:
    """str, repr, the formatted traceback and the args of an exception."""
    return [str(exc), repr(exc), "".join(traceback.format_exception(exc)), repr(exc.args)]


def ledger_rows(path: Path | str) -> Iterable[tuple[str, str]]:
    """``(table, row text)`` for every row of every table of a SQLite file, or of a team's
    PostgreSQL database (a ``postgresql://`` URL)."""
    if str(path).startswith("postgresql://"):
        yield from _postgres_rows(str(path))
        return
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        tables = [r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")]
        for table in tables:
            for row in conn.execute(f'SELECT * FROM "{table}"'):
                yield table, repr(row)
    finally:
        conn.close()


def _postgres_rows(url: str) -> Iterable[tuple[str, str]]:
    import psycopg

    with psycopg.connect(url) as conn:
        tables = conn.execute(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = current_schema()"
        ).fetchall()
        for (table,) in tables:
            for row in conn.execute(f'SELECT * FROM "{table}"'):
                yield table, repr(row)


def files_under(*roots: Path) -> list[Path]:
    return sorted(p for root in roots if root.is_dir() for p in root.rglob("*") if p.is_file())

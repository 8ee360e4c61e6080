"""columnar.read_columns: the bulk path and the plain-rows path give the same, exact answer.

The table below has untyped columns, so SQLite keeps every value's own storage class (an integer
in a "real" column, text in a "time" column, a BLOB): the shapes a hand-edited or very old ledger
could hold.
"""

from __future__ import annotations

import _thread
import math
import re
import sqlite3
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from aurous_nb.store.columnar import Column, read_columns

COLUMNS = (
    Column("r", "t.r", "real"),
    Column("i", "t.i", "integer"),
    Column("at", "t.at", "time"),
    Column("s", "t.s", "text"),
    Column("c", "t.s", "category"),
)


#: The rowid range of a chunk query, as SQLite ran it (the trace shows bound values).
CHUNK = re.compile(r"t\.id >= (-?\d+) AND t\.id < (-?\d+)")


class Table:
    """A WAL SQLite file with an untyped table ``t``, watched through SQLite's own hooks.

    Every connection ``connect()`` hands the reader traces what it runs into ``queries``;
    ``on_query`` sees each statement as it starts. With ``bulk = False`` the connections may
    not call SQLite's aggregates, so every chunk must be read as plain rows.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self.queries: list[str] = []
        self.on_query: Callable[[str], None] = lambda sql: None
        self.bulk = True
        with sqlite3.connect(path) as conn:
            conn.execute("PRAGMA journal_mode = WAL")
            conn.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, r, i, at, s)")

    def insert(self, rows: list[tuple[Any, ...]]) -> None:
        with sqlite3.connect(self.path) as conn:
            conn.executemany("INSERT INTO t (r, i, at, s) VALUES (?, ?, ?, ?)", rows)

    @contextmanager
    def connect(self) -> Iterator[sqlite3.Connection]:
        conn = sqlite3.connect(self.path, check_same_thread=False)
        conn.set_trace_callback(self._trace)
        if not self.bulk:
            conn.set_authorizer(_no_aggregates)
        try:
            yield conn
        finally:
            conn.close()

    def _trace(self, sql: str) -> None:
        self.queries.append(sql)
        self.on_query(sql)

    def read(self, chunk_rows: int = 3, where: str = "1", params: tuple[Any, ...] = ()) -> Any:
        return read_columns(
            self.connect, "t t", "t.id", COLUMNS, where, params, chunk_rows=chunk_rows
        )

    def chunks(self, *, bulk: bool) -> list[tuple[int, int]]:
        """The rowid ranges read in bulk (one aggregate per column) or as plain rows."""
        return [
            (int(m[1]), int(m[2]))
            for sql in self.queries
            if (m := CHUNK.search(sql)) and is_bulk(sql) == bulk
        ]


def is_bulk(sql: str) -> bool:
    return "group_concat(" in sql or "json_group_array(" in sql


def _no_aggregates(action: int, arg1: str | None, arg2: str | None, *_: Any) -> int:
    if action == sqlite3.SQLITE_FUNCTION and arg2 in ("group_concat", "json_group_array"):
        return sqlite3.SQLITE_DENY
    return sqlite3.SQLITE_OK


@pytest.fixture
def table(tmp_path: Path) -> Table:
    return Table(tmp_path / "t.sqlite3")


def assert_same(left: dict[str, Any], right: dict[str, Any]) -> None:
    assert list(left) == list(right)
    for name in left:
        a, b = pd.Series(left[name]), pd.Series(right[name])
        assert a.dtype == b.dtype, name
        pd.testing.assert_series_equal(a, b, check_exact=True, obj=name)


def test_clean_rows_are_read_in_bulk_exactly(table: Table) -> None:
    rows = [
        (1.25, 7, 1_764_400_000.123456, "a red fox"),
        (None, None, None, None),
        (0.1, -3, 1_764_400_001, 'commas, "quotes", \\ and\nnewlines ✨'),
        (1e-7, 2**53 - 1, 1_764_400_002.5, ""),
        (123456789.125, 0, 0.000001, "  spaced  "),
    ]
    table.insert(rows)
    out = table.read(chunk_rows=2)
    assert table.chunks(bulk=False) == []  # every chunk went the bulk way
    assert table.chunks(bulk=True) == [(1, 3), (3, 5), (5, 6)]
    assert list(out["r"][:3]) == [1.25, pytest.approx(math.nan, nan_ok=True), 0.1]
    assert out["r"][3] == 1e-7 and out["r"][4] == 123456789.125
    assert out["i"].tolist() == [7, pd.NA, -3, 2**53 - 1, 0]
    assert str(out["at"].dtype) == "datetime64[ns, UTC]"
    assert out["at"][0] == pd.Timestamp("2025-11-29 07:06:40.123456", tz="UTC")
    assert pd.isna(out["at"][1]) and out["at"][4] == pd.Timestamp(1, unit="us", tz="UTC")
    assert out["s"].tolist() == [r[3] for r in rows]
    assert list(out["c"].categories) == sorted(r[3] for r in rows if r[3] is not None)
    assert list(out["c"].codes) == [2, -1, 3, 0, 1]  # one code per row, -1 when missing


def test_odd_values_fall_back_to_plain_rows_for_their_chunk_only(table: Table) -> None:
    clean = [(1.5, 1, 1_764_400_000.0, "fine")] * 3
    table.insert(clean)  # chunk 1: bulk
    table.insert([(2.0, 2**62 + 1, 1.0, "big"), *clean[:2]])  # chunk 2: an int beyond 2**53
    table.insert([("abc", "12", "2026-01-01", "text"), *clean[:2]])  # chunk 3: non-numbers
    table.insert([(b"\x00\xff", 2.7, 5, b"\x01blob"), *clean[:2]])  # chunk 4: BLOBs
    table.insert(clean)  # chunk 5: bulk
    out = table.read(chunk_rows=3)
    assert sorted(table.chunks(bulk=False)) == [(4, 7), (7, 10), (10, 13)]  # chunks 2 to 4 only
    assert out["i"][3] == 2**62 + 1 and str(out["i"].dtype) == "Int64"  # exact, not 2**62
    assert math.isnan(out["r"][6]) and out["i"][6] == 12  # "abc" is missing, "12" is 12
    assert pd.isna(out["at"][6])  # a date string is not epoch seconds
    assert math.isnan(out["r"][9]) and out["i"][9] == 2  # a BLOB is missing; 2.7 truncates
    assert out["s"][9] == b"\x01blob" and out["at"][9] == pd.Timestamp(5, unit="s", tz="UTC")
    assert len(out["s"]) == 15


numbers = st.one_of(
    st.none(),
    st.integers(-(2**63), 2**63 - 1),
    st.floats(allow_nan=False, width=64),
    st.integers(-(10**12), 10**12).map(lambda n: n / 1000),
)
cells = st.one_of(numbers, st.text(max_size=8), st.binary(max_size=4))
text_cells = st.one_of(st.none(), st.text(max_size=20))


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    rows=st.lists(st.tuples(cells, cells, cells, text_cells), max_size=25),
    chunk_rows=st.integers(1, 8),
)
def test_bulk_and_plain_rows_agree_on_anything_sqlite_stores(
    tmp_path_factory: pytest.TempPathFactory, rows: list[tuple[Any, ...]], chunk_rows: int
) -> None:
    table = Table(tmp_path_factory.mktemp("prop") / "t.sqlite3")
    table.insert(rows)
    mixed = table.read(chunk_rows=chunk_rows)
    table.bulk, table.queries = False, []
    plain = table.read(chunk_rows=chunk_rows)
    assert table.chunks(bulk=True) == [] and table.chunks(bulk=False)  # plain rows only
    assert_same(mixed, plain)
    assert len(mixed["s"]) == len(rows)
    for got, row in zip(mixed["i"], rows, strict=True):  # integers are exact
        if isinstance(row[1], int):
            assert got == row[1]
    for got, row in zip(mixed["r"], rows, strict=True):  # reals to 15 significant digits
        if isinstance(row[0], float) and abs(row[0]) < 1e300:  # 15 digits of DBL_MAX round up
            assert got == pytest.approx(row[0], rel=1e-14, abs=0.0)
    assert [s for s in mixed["s"]] == [row[3] for row in rows]
    assert [None if pd.isna(c) else c for c in mixed["c"]] == [row[3] for row in rows]


def test_filters_apply_and_an_empty_read_is_typed(table: Table) -> None:
    table.insert([(float(n), n, 1_764_400_000 + n, f"row {n}") for n in range(50)])
    out = table.read(chunk_rows=7, where="t.i % 10 = ?", params=(3,))
    assert out["s"].tolist() == [f"row {n}" for n in range(3, 50, 10)]
    none = table.read(where="t.i < 0")
    assert len(none["s"]) == 0 and str(none["i"].dtype) == "Int64"
    assert str(none["at"].dtype) == "datetime64[ns, UTC]" and none["r"].dtype == np.float64


def test_an_empty_table_gives_empty_typed_columns(table: Table) -> None:
    out = table.read()
    assert [len(v) for v in out.values()] == [0, 0, 0, 0, 0]


def test_every_chunk_sees_the_snapshot_the_read_started_with(table: Table) -> None:
    table.insert([(1.0, n, 1_764_400_000, "before") for n in range(100)])

    def write_meanwhile(sql: str) -> None:
        if is_bulk(sql) and len(table.chunks(bulk=True)) == 2:  # far from the end
            # Another connection rewrites every row; this and later chunks must not see it.
            with sqlite3.connect(table.path) as other:
                other.execute("UPDATE t SET s = 'after'")

    table.on_query = write_meanwhile
    out = table.read(chunk_rows=4)
    assert len(table.chunks(bulk=True)) == 25 and set(out["s"]) == {"before"}
    table.on_query = lambda sql: None
    assert set(table.read()["s"]) == {"after"}


def test_errors_reach_the_caller_and_leave_no_thread_behind(table: Table) -> None:
    table.insert([(1.0, n, 1_764_400_000, "x") for n in range(40)])
    with pytest.raises(sqlite3.OperationalError, match="no such column"):
        read_columns(table.connect, "t t", "t.id", [Column("x", "t.nope", "real")])

    def ctrl_c(sql: str) -> None:  # as the reader starts its third chunk, Ctrl-C
        if is_bulk(sql) and len(table.chunks(bulk=True)) == 3:
            _thread.interrupt_main()

    table.on_query = ctrl_c
    with pytest.raises(KeyboardInterrupt):
        table.read(chunk_rows=2)  # 20 chunks: the reader is blocked on a full queue
    assert len(table.chunks(bulk=True)) < 20  # it stopped early
    assert not [t for t in threading.enumerate() if t.name == "aurous-columnar"]
    conn = sqlite3.connect(table.path, isolation_level=None)
    try:  # and its read transaction is over: a full checkpoint is not blocked by a reader
        conn.execute("UPDATE t SET s = 'y'")
        assert conn.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()[0] == 0
    finally:
        conn.close()


def test_an_interrupt_as_the_reader_starts_leaves_no_thread_behind(
    table: Table, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Ctrl-C landing just after the reader thread started, before the read is under way."""
    table.insert([(1.0, n, 1_764_400_000, "x") for n in range(40)])
    start = threading.Thread.start

    def start_then_interrupt(thread: threading.Thread) -> None:
        start(thread)
        if thread.name == "aurous-columnar":
            raise KeyboardInterrupt

    monkeypatch.setattr(threading.Thread, "start", start_then_interrupt)
    with pytest.raises(KeyboardInterrupt):
        table.read(chunk_rows=2)  # 20 chunks: a reader nobody stops spins on a full queue
    monkeypatch.undo()
    readers = [t for t in threading.enumerate() if t.name == "aurous-columnar"]
    for reader in readers:
        reader.join(timeout=10)  # a stopped reader ends at its next chunk
    assert not [t for t in readers if t.is_alive()]


def test_sparse_rowids_make_few_chunks(table: Table) -> None:
    """Ids with huge gaps (rows deleted, ids given by hand) still read in a handful of chunks."""
    with sqlite3.connect(table.path) as conn:
        conn.executemany(
            "INSERT INTO t (id, r, i, at, s) VALUES (?, 1.0, ?, 0, 'x')",
            [(n * 10**12, n) for n in range(1, 31)],
        )
    out = table.read(chunk_rows=10)
    assert out["i"].tolist() == list(range(1, 31))
    assert len(table.chunks(bulk=True)) == 3 and table.chunks(bulk=False) == []

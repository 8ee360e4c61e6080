"""Read many SQLite rows as typed columns without a Python object per value.

``cursor.fetchall()`` makes a tuple per row and an object per value: about 2.7 million objects
for 100,000 ledger rows, which was most of ``frames.history()``'s time. Here SQLite joins each
column of a chunk of rows into one text value in C (``group_concat`` for numbers,
``json_group_array`` for text); numpy parses the numbers without making objects and
``json.loads`` the text.

Rows are read in rowid ranges (chunks) by one reader thread, inside one read transaction (so
every chunk sees the same snapshot and no text value nears SQLite's size limit), while the
calling thread parses the chunk before: SQLite releases the GIL while it scans, so the two
overlap. (Scanning chunks on parallel threads was measured too: SQLite's allocator serialises
them, no gain.)

What comes back does not depend on which path read a chunk. A chunk the bulk path cannot carry
exactly (an integer beyond 2**53, a non-number where a number belongs, a BLOB) is read again as
plain rows and converted by the same rules:

* integers are exact; times (epoch seconds) are exact to the microsecond;
* real numbers are read as SQLite prints them, to 15 significant digits: every value written from
  a decimal of 15 digits or fewer (prices, credits, durations) comes back unchanged;
* text where a number belongs is read as a number when numpy parses it as one, else missing (as
  ``pandas.to_numeric(errors="coerce")`` would).
"""

from __future__ import annotations

import json
import math
import queue
import sqlite3
import threading
from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager, suppress
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

if TYPE_CHECKING:
    import numpy as np

__all__ = ["Column", "Kind", "columns_from_bulk", "columns_from_rows", "read_columns"]

Kind = Literal["real", "integer", "time", "text", "category"]
_TEXTS = ("text", "category")
Connect = Callable[[], AbstractContextManager[sqlite3.Connection]]

_EXACT_INT = 2**53  # float64 holds every integer below this exactly
_INT64 = 2**63
_CHUNK_ROWS = 10_000  # small enough to overlap well, large enough to amortise each query


@dataclass(frozen=True)
class Column:
    """One output column: its ``name``, an SQL expression over the source, and its ``kind``.

    ``real`` gives float64 (NaN when missing), ``integer`` pandas' nullable Int64, ``time``
    (epoch seconds in SQLite) UTC datetimes, ``text`` an object array of ``str`` / ``None``, and
    ``category`` the same text as a ``pandas.Categorical`` (sorted categories), factorised chunk
    by chunk while the reader scans.
    """

    name: str
    sql: str
    kind: Kind


def read_columns(
    connect: Connect,
    source: str,
    rowid: str,
    columns: Sequence[Column],
    where: str = "1",
    params: Sequence[Any] = (),
    *,
    chunk_rows: int = _CHUNK_ROWS,
) -> dict[str, Any]:
    """The rows of ``SELECT ... FROM source WHERE where`` as typed columns, in rowid order.

    ``source`` is a table with an alias (``"generations g"``) and ``rowid`` its integer
    primary key (``"g.row_id"``). ``connect()`` opens the reader thread's own connection.
    """
    if not columns:
        raise ValueError("read_columns needs at least one column")
    statement = _Statement(source, rowid, tuple(columns), where, tuple(params))
    reader = _Reader(connect, statement, max(1, chunk_rows))
    try:  # started inside the try: a Ctrl-C right after the start still stops the thread
        reader.start()
        return reader.result()
    finally:
        reader.close()


def columns_from_rows(columns: Sequence[Column], rows: list[tuple[Any, ...]]) -> dict[str, Any]:
    """Plain rows read elsewhere (a PostgreSQL cursor), one value per column in ``columns``
    order and times already in microseconds, as the typed columns :func:`read_columns` gives
    (the same conversion rules as its plain-rows path)."""
    statement = _Statement("", "", tuple(columns), "", ())
    return _finished(columns, statement.convert(rows))


def columns_from_bulk(columns: Sequence[Column], row: tuple[Any, ...]) -> dict[str, Any]:
    """One bulk row read elsewhere (a PostgreSQL aggregate: the row count, then per column a
    JSON array for text or comma-joined numbers, ``nan`` for missing, times in microseconds)
    as typed columns. ``ValueError`` when a value would not come back exactly (read rows then).
    """
    statement = _Statement("", "", tuple(columns), "", ())
    return _finished(columns, statement.parse(row))


def _finished(columns: Sequence[Column], chunk: _Chunk) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for column in columns:
        part = chunk.columns[column.name]
        if column.kind == "category":
            out[column.name] = _categorical([part])
        else:
            out[column.name] = part if column.kind == "text" else _finish(column.kind, part)
    return out


# --------------------------------------------------------------------------------------------
# the reader thread


class _Reader:
    """A thread that runs the chunk queries in one transaction while the caller parses.

    It sends ``("bulk", i, low, high, row)`` per chunk (or ``("rows", i, rows, False)`` when
    SQLite refuses to aggregate it), then ``("done",)``, then serves the re-reads the caller
    asks for as ``("rows", i, rows, True)`` until told to stop. An exception is sent as
    ``("error", exc)`` and raised by the caller.
    """

    def __init__(self, connect: Connect, statement: _Statement, chunk_rows: int) -> None:
        self._connect, self._statement, self._size = connect, statement, chunk_rows
        self._results: queue.Queue[tuple[Any, ...]] = queue.Queue(maxsize=4)
        self._redo: queue.Queue[tuple[int, int, int] | None] = queue.Queue()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="aurous-columnar", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def result(self) -> dict[str, Any]:
        """Every column, typed and in rowid order (parsed here, as the chunks arrive)."""
        import numpy as np

        chunks = self._chunks()
        out: dict[str, Any] = {}
        for column in self._statement.columns:
            parts = [chunk.columns[column.name] for chunk in chunks]
            if column.kind == "category":
                out[column.name] = _categorical(parts)
                continue
            joined = np.concatenate(parts)
            out[column.name] = joined if column.kind == "text" else _finish(column.kind, joined)
        return out

    def close(self) -> None:
        """Stop the thread (also when the caller was interrupted: it must not linger)."""
        self._stop.set()
        self._redo.put(None)
        # RuntimeError: interrupted inside start(); the thread sees the stop and ends alone.
        with suppress(RuntimeError):
            self._thread.join()

    def _chunks(self) -> list[_Chunk]:
        parsed: dict[int, _Chunk] = {}
        waiting, done = 0, False
        while not done or waiting:
            kind, *payload = self._results.get()
            if kind == "error":
                raise payload[0]
            if kind == "done":
                done = True
            elif kind == "bulk":
                index, low, high, row = payload
                try:
                    parsed[index] = self._statement.parse(row)
                except ValueError:  # not exactly representable: read it again as rows
                    self._redo.put((index, low, high))
                    waiting += 1
            else:
                index, rows, requested = payload
                parsed[index] = self._statement.convert(rows)
                waiting -= requested
        return [parsed[index] for index in sorted(parsed)]

    def _send(self, item: tuple[Any, ...]) -> None:
        while not self._stop.is_set():
            try:
                self._results.put(item, timeout=0.05)
                return
            except queue.Full:
                continue

    def _run(self) -> None:
        statement = self._statement
        try:
            with self._connect() as conn:
                conn.execute("BEGIN")  # one snapshot for every chunk and every re-read
                try:
                    ranges = _rowid_ranges(conn, statement.source, statement.rowid, self._size)
                    for index, (low, high) in enumerate(ranges):
                        if self._stop.is_set():
                            return
                        try:
                            row = statement.bulk(conn, low, high)
                        except sqlite3.Error:  # e.g. a BLOB, which json_group_array refuses
                            self._send(("rows", index, statement.rows(conn, low, high), False))
                        else:
                            self._send(("bulk", index, low, high, row))
                    self._send(("done",))
                    while (job := self._redo.get()) is not None:
                        index, low, high = job
                        self._send(("rows", index, statement.rows(conn, low, high), True))
                finally:
                    conn.execute("COMMIT")
        except BaseException as exc:  # handed to the caller, which raises it
            self._send(("error", exc))


def _rowid_ranges(
    conn: sqlite3.Connection, source: str, rowid: str, size: int
) -> list[tuple[int, int]]:
    """Rowid ranges of about ``size`` rows each, even when ids have gaps (deleted rows)."""
    low, high, count = conn.execute(
        f"SELECT (SELECT min({rowid}) FROM {source}), (SELECT max({rowid}) FROM {source}), "
        f"(SELECT count(*) FROM {source})"
    ).fetchone()
    if low is None:
        return [(0, 0)]  # empty table: one empty chunk still yields typed, empty columns
    chunks = -(-count // size)
    span = -(-(high - low + 1) // chunks)
    return [(start, min(start + span, high + 1)) for start in range(low, high + 1, span)]


# --------------------------------------------------------------------------------------------
# one chunk: the bulk path and the plain-rows path, converted by the same rules


@dataclass(frozen=True)
class _Chunk:
    """One chunk's columns: float64 arrays for numbers (times in microseconds), object arrays
    for text, and for an integer column that holds values beyond 2**53 (exact Python ints)."""

    columns: dict[str, Any]


@dataclass(frozen=True)
class _Statement:
    source: str
    rowid: str
    columns: tuple[Column, ...]
    where: str
    params: tuple[Any, ...]

    def bulk(self, conn: sqlite3.Connection, low: int, high: int) -> tuple[Any, ...]:
        """One row for the chunk ``low <= rowid < high``: its count, then a text per column."""
        select = ["count(*)"] + [_joined(column) for column in self.columns]
        return tuple(self._run(conn, select, low, high).fetchone())

    def rows(self, conn: sqlite3.Connection, low: int, high: int) -> list[tuple[Any, ...]]:
        """The chunk as plain rows: the slow path, for what :meth:`parse` refuses."""
        select = [_plain(column) for column in self.columns]
        return self._run(conn, select, low, high).fetchall()

    def _run(
        self, conn: sqlite3.Connection, select: Sequence[str], low: int, high: int
    ) -> sqlite3.Cursor:
        sql = (
            f"SELECT {', '.join(select)} FROM {self.source} "
            f"WHERE {self.rowid} >= ? AND {self.rowid} < ? AND ({self.where})"
        )
        return conn.execute(sql, (low, high, *self.params))

    def parse(self, row: tuple[Any, ...]) -> _Chunk:
        """A bulk row as arrays; ``ValueError`` when a value would not come back exactly."""
        import numpy as np

        count, *joined = row
        out: dict[str, Any] = {}
        for column, text in zip(self.columns, joined, strict=True):
            if column.kind in _TEXTS:
                values = json.loads(text)
                if not isinstance(values, list) or len(values) != count:
                    raise ValueError(f"{column.name}: text did not survive JSON")
                out[column.name] = _as_text(column.kind, values)
                continue
            parsed = np.fromstring(text or "", sep=",") if count else np.empty(0)
            if len(parsed) != count:
                raise ValueError(f"{column.name}: {len(parsed)} numbers for {count} rows")
            if column.kind == "integer" and not _exact(parsed):
                raise ValueError(f"{column.name}: integers beyond float64's exact range")
            out[column.name] = parsed
        return _Chunk(out)

    def convert(self, rows: list[tuple[Any, ...]]) -> _Chunk:
        """Plain rows as arrays, one value at a time, by the same rules as :meth:`parse`."""
        import numpy as np

        out: dict[str, Any] = {}
        columns = zip(*rows, strict=True) if rows else iter([()] * len(self.columns))
        for column, values in zip(self.columns, columns, strict=True):
            if column.kind in _TEXTS:
                out[column.name] = _as_text(column.kind, values)
            elif column.kind == "integer":
                ints = [_as_int(value) for value in values]
                if any(value is not None and abs(value) >= _EXACT_INT for value in ints):
                    out[column.name] = _objects(ints)
                else:
                    floats = [np.nan if value is None else value for value in ints]
                    out[column.name] = np.array(floats, dtype="float64")
            else:
                floats = [_as_float(value) for value in values]
                if column.kind == "time":  # SQLite gave microseconds, text is seconds
                    floats = [
                        _half_away(f * 1e6) if isinstance(v, (str, bytes)) else f
                        for v, f in zip(values, floats, strict=True)
                    ]
                out[column.name] = np.array(floats, dtype="float64")
        return _Chunk(out)


def _joined(column: Column) -> str:
    """SQL that joins one column of a chunk into a single text value, in rowid order."""
    value = column.sql
    if column.kind in _TEXTS:
        return f"json_group_array({value})"
    if column.kind == "time":  # text must not reach SQLite's arithmetic: 'x' sends it to rows
        return "group_concat(" + _microseconds(value, otherwise="'x'") + ", ',')"
    # Numbers print as SQLite prints them; text that is not a number fails to parse (then rows).
    return f"group_concat(COALESCE({value}, 'nan'), ',')"


def _plain(column: Column) -> str:
    """The same column for the plain-rows path, with SQLite doing the same number printing."""
    value = column.sql
    if column.kind in _TEXTS:
        return value
    if column.kind == "time":
        return _microseconds(value, otherwise=value)
    return f"CASE typeof({value}) WHEN 'real' THEN CAST({value} AS TEXT) ELSE {value} END"


def _microseconds(value: str, *, otherwise: str) -> str:
    return (
        f"CASE typeof({value}) WHEN 'integer' THEN ({value}) * 1000000 "
        f"WHEN 'real' THEN CAST(round(({value}) * 1e6) AS INTEGER) "
        f"WHEN 'null' THEN 'nan' ELSE {otherwise} END"
    )


# --------------------------------------------------------------------------------------------
# values


def _as_text(kind: Kind, values: Sequence[Any]) -> Any:
    """A chunk's text column: an object array, or ``(codes, uniques)`` for a category."""
    import pandas as pd

    objects = _objects(values)
    return pd.factorize(objects) if kind == "category" else objects


def _categorical(parts: list[tuple[np.ndarray, Any]]) -> Any:
    """Per-chunk ``(codes, uniques)`` as one Categorical: recode onto the sorted union."""
    import numpy as np
    import pandas as pd

    union = pd.Index(np.concatenate([uniques for _, uniques in parts])).unique()  # infers str
    with suppress(TypeError):  # mixed kinds of value (text and numbers): first-seen order
        union = union.sort_values()
    recoded = []
    for codes, uniques in parts:
        where = np.append(union.get_indexer(uniques), -1)  # code -1 (missing) stays -1
        recoded.append(where[codes])
    codes = np.concatenate(recoded) if recoded else np.empty(0, dtype="int64")
    return pd.Categorical.from_codes(codes, categories=union)


def _objects(values: Sequence[Any]) -> np.ndarray:
    """An object array of exactly these values (numpy would nest a list of tuples)."""
    import numpy as np

    array = np.empty(len(values), dtype=object)
    array[:] = values
    return array


def _exact(values: np.ndarray) -> bool:
    import numpy as np

    return bool(np.abs(values[~np.isnan(values)]).max(initial=0.0) < float(_EXACT_INT))


def _as_float(value: Any) -> float:
    """One stored value as a float, parsed exactly as the bulk path's numpy parser would."""
    import numpy as np

    if isinstance(value, (int, float)):
        return float(value)
    if isinstance(value, bytes):  # a BLOB: group_concat would have read it as UTF-8 text
        try:
            value = value.decode()
        except UnicodeDecodeError:
            return float("nan")
    if isinstance(value, str) and "," not in value:
        try:
            parsed = np.fromstring(value, sep=",")
        except ValueError:
            return float("nan")
        return float(parsed[0]) if len(parsed) == 1 else float("nan")
    return float("nan")  # text that would not parse as one number


def _half_away(number: float) -> float:
    """Round to a whole number, halves away from zero: SQLite's ``round()``."""
    if number != number or abs(number) == float("inf"):
        return number
    return math.copysign(math.floor(abs(number) + 0.5), number)


def _as_int(value: Any) -> int | None:
    """An integer column's value: exact for integers, truncated for reals, else missing."""
    if isinstance(value, int):
        return value
    number = _as_float(value)
    if number != number or abs(number) >= _INT64:
        return None
    return int(number)


def _finish(kind: Kind, values: np.ndarray) -> Any:
    """Joined chunk arrays (times in microseconds) as the column's final type."""
    import numpy as np
    import pandas as pd

    if kind == "real":
        return values
    if kind == "time":  # nanoseconds, pandas' usual unit; beyond about 2255: missing
        known = ~np.isnan(values) & (np.abs(values) < float(_EXACT_INT))
        nanoseconds = np.where(known, values, 0.0).astype("int64") * 1000
        nanoseconds[~known] = np.iinfo("int64").min  # NaT
        return pd.DatetimeIndex(nanoseconds.view("datetime64[ns]")).tz_localize("UTC")
    if values.dtype == object:  # a chunk held integers beyond 2**53: exact Python ints
        return pd.array([_as_int(value) for value in values], dtype="Int64")
    missing = np.isnan(values)
    return pd.arrays.IntegerArray(np.where(missing, 0, values).astype("int64"), missing)

"""How fast is ``frames.history(scope="team")`` from a team's PostgreSQL ledger, next to the same
rows from the local SQLite file, in one run?

Fills a SQLite ledger with N generations (default 100,000, as ``bench/history.py`` does), names
them after 4 people, copies it into a throwaway PostgreSQL cluster (``aurous_nb.ledger.migrate``)
and times, best of ``--repeat`` runs each:

* ``history()`` from SQLite (the columnar reader) and ``history(scope="team")`` from PostgreSQL
  (psycopg rows typed by :func:`aurous_nb.store.columnar.columns_from_rows`), checked equal;
* the raw fetches alone: the one-text-per-column row ``history()`` reads, and the same SELECT
  as psycopg tuples and, when installed, with ADBC (``adbc-driver-postgresql``, an Arrow
  table), to see what another driver would buy.

The last line is machine-readable: ``team_history: rows=100000 sqlite_s=... postgres_s=...
ratio=... bulk_fetch_s=... psycopg_fetch_s=... adbc_fetch_s=...``
"""

from __future__ import annotations

import argparse
import os
import sqlite3
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from history import ENV, best_of, fill  # noqa: E402

from tests.team import pgcluster  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    if not pgcluster.available():
        sys.exit("team_history: PostgreSQL is not installed (make pg-deps)")

    import pandas as pd

    from aurous_nb.analysis import frames
    from aurous_nb.store.ledger import Ledger, migrate

    with tempfile.TemporaryDirectory() as tmp, pgcluster.cluster() as pg:
        os.environ["AUROUS_NB_HOME"] = tmp  # both ledgers' outputs cache: the same folder
        path = Path(tmp) / "ledger.sqlite3"
        start = time.perf_counter()
        fill(path, args.rows)
        conn = sqlite3.connect(path)
        with conn:
            conn.execute("UPDATE generations SET user_name = 'person' || (row_id % 4), host = 'h'")
        conn.close()
        fill_s = time.perf_counter() - start
        url = pg.new_database()
        start = time.perf_counter()
        local, team = Ledger(path, host="h"), Ledger(url=url, user="lead", host="h")
        copied = migrate(local, team)
        copy_s = time.perf_counter() - start
        assert copied["generations"] == args.rows, copied

        def from_sqlite() -> pd.DataFrame:
            return frames.history(ledger=local, env=ENV)

        def from_postgres() -> pd.DataFrame:
            return frames.history(ledger=team, env=ENV, scope="team")

        one, two = from_sqlite(), from_postgres()  # warm: imports, caches
        pd.testing.assert_frame_equal(one, two)
        sqlite_s, _ = best_of(args.repeat, from_sqlite)
        postgres_s, _ = best_of(args.repeat, from_postgres)
        sql = f"{frames.team_select()} WHERE g.env = 'sandbox'"
        psycopg_s, _ = best_of(args.repeat, lambda: team.query(sql))
        bulk = frames.team_bulk_select("g.env = 'sandbox'")
        bulk_s, _ = best_of(args.repeat, lambda: team.query(bulk))
        adbc_s = _adbc(url, sql, args.repeat)
        local.close()
        team.close()
    print(f"filled {args.rows} rows in {fill_s:.2f} s, copied to PostgreSQL in {copy_s:.2f} s")
    print(f"history() from SQLite:              {sqlite_s:.3f} s")
    print(f"history(scope='team') from Postgres: {postgres_s:.3f} s ({postgres_s / sqlite_s:.2f}x)")
    print(f"raw fetch, psycopg, one text per column (what history() reads): {bulk_s:.3f} s")
    print(f"raw fetch, psycopg tuples:          {psycopg_s:.3f} s")
    shown = "not installed" if adbc_s is None else f"{adbc_s:.3f} s"
    print(f"raw fetch, ADBC Arrow table:        {shown}")
    adbc = "nan" if adbc_s is None else f"{adbc_s:.3f}"
    print(
        f"team_history: rows={args.rows} sqlite_s={sqlite_s:.3f} postgres_s={postgres_s:.3f} "
        f"ratio={postgres_s / sqlite_s:.2f} bulk_fetch_s={bulk_s:.3f} "
        f"psycopg_fetch_s={psycopg_s:.3f} adbc_fetch_s={adbc}"
    )


def _adbc(url: str, sql: str, repeat: int) -> float | None:
    try:
        import adbc_driver_postgresql.dbapi as adbc
    except ImportError:
        return None
    with adbc.connect(url) as conn:

        def fetch() -> object:
            with conn.cursor() as cursor:
                cursor.execute(sql)
                return cursor.fetch_arrow_table()

        fetch()
        return best_of(repeat, fetch)[0]


if __name__ == "__main__":
    main()

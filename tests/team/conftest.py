"""A throwaway PostgreSQL cluster for the team-ledger tests: one per test session, a fresh
database per test.

The cluster is Debian's PostgreSQL (``make pg-deps`` installs it): ``initdb`` and ``pg_ctl``
under a temporary folder, run as the ``postgres`` user when the tests run as root (the server
refuses root), listening on a free loopback port only, trusted (no password), and stopped at the
end. ``pg.restart()`` stops it hard (as a crash would) and starts it again on the same port.
"""

from __future__ import annotations

import glob
import os
import shutil
import socket
import subprocess
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest


def _bin(name: str) -> str | None:
    found = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"))
    return found[-1] if found else shutil.which(name)


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Cluster:
    """A PostgreSQL cluster in ``folder`` on ``127.0.0.1:port``."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.data = folder / "data"
        self.port = _free_port()
        self._as_postgres = os.geteuid() == 0

    def _run(self, *argv: str) -> None:
        command = list(argv)
        if self._as_postgres:
            import shlex

            command = ["su", "postgres", "-s", "/bin/sh", "-c", shlex.join(command)]
        subprocess.run(command, check=True, capture_output=True, timeout=120)

    def init(self) -> None:
        if self._as_postgres:
            shutil.chown(self.folder, "postgres", "postgres")
        initdb = _bin("initdb")
        assert initdb is not None
        self._run(initdb, "-D", str(self.data), "-A", "trust", "-U", "postgres", "-E", "UTF8")

    def start(self) -> None:
        pg_ctl = _bin("pg_ctl")
        assert pg_ctl is not None
        options = f"-p {self.port} -k {self.folder} -c listen_addresses=127.0.0.1 -c fsync=off"
        self._run(pg_ctl, "-D", str(self.data), "-o", options, "-l", str(self.folder / "log"),
                  "start", "-w")  # fmt: skip

    def stop(self) -> None:
        pg_ctl = _bin("pg_ctl")
        assert pg_ctl is not None
        self._run(pg_ctl, "-D", str(self.data), "stop", "-m", "immediate", "-w")

    def restart(self) -> None:
        """A crash and a recovery: every connection is cut, committed rows survive."""
        self.stop()
        self.start()

    def url(self, database: str = "postgres") -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/{database}"

    def new_database(self) -> str:
        import psycopg

        name = f"t_{uuid.uuid4().hex[:12]}"
        with psycopg.connect(self.url(), autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        return self.url(name)


@pytest.fixture(scope="session")
def pg() -> Iterator[Cluster]:
    if _bin("initdb") is None or _bin("pg_ctl") is None:
        pytest.skip("PostgreSQL is not installed (make pg-deps installs Debian's postgresql)")
    folder = Path(tempfile.mkdtemp(prefix="aurous-pg-"))
    os.chmod(folder, 0o755)
    cluster = Cluster(folder)
    cluster.init()
    cluster.start()
    try:
        yield cluster
    finally:
        try:
            cluster.stop()
        finally:
            shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture
def pg_url(pg: Cluster) -> str:
    """A fresh, empty database on the session's cluster."""
    return pg.new_database()

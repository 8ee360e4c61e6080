"""A throwaway PostgreSQL cluster for the team-ledger tests (:mod:`tests.team.pgcluster`): one
per test session, a fresh database per test, stopped at the end. ``pg.restart()`` stops it hard
(as a crash would) and starts it again on the same port.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.team.pgcluster import Cluster, available, cluster


@pytest.fixture(scope="session")
def pg() -> Iterator[Cluster]:
    if not available():
        pytest.skip("PostgreSQL is not installed (make pg-deps installs Debian's postgresql)")
    with cluster() as made:
        yield made


@pytest.fixture
def pg_url(pg: Cluster) -> str:
    """A fresh, empty database on the session's cluster."""
    return pg.new_database()

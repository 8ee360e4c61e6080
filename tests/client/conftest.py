"""Fixtures: a loopback sandbox, sync and async clients on it, and a sync/async switch.

``api`` runs the same test body against both clients: ``await api(lambda c: c.balance())``
awaits when the client is async; ``await api.collect(lambda c: c.images.list())`` drains a
sync or async iterator. Helpers live in ``client_support``.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import pytest
from client_support import FAST, Api

from aurous_nb.client import AsyncClient, Client
from aurous_nb.sandbox import Sandbox


@pytest.fixture(scope="session")
def sandbox() -> Iterator[Sandbox]:
    with Sandbox(seed=1, **FAST) as sb:
        yield sb


@pytest.fixture(scope="session")
def slow_sandbox() -> Iterator[Sandbox]:
    """Generations stay pending for ~30 s: room to cancel, time out, conflict."""
    with Sandbox(seed=2, latency=30.0, latency_spread=0.0, time_factor=50.0, credits=1000.0) as sb:
        yield sb


@pytest.fixture
def client(sandbox: Sandbox) -> Iterator[Client]:
    with Client(api_key=sandbox.api_key, base_url=sandbox.base_url, timeout=10) as c:
        yield c


@pytest.fixture
async def aclient(sandbox: Sandbox) -> AsyncIterator[AsyncClient]:
    async with AsyncClient(api_key=sandbox.api_key, base_url=sandbox.base_url, timeout=10) as c:
        yield c


@pytest.fixture(params=["sync", "async"])
def api(request: pytest.FixtureRequest, client: Client, aclient: AsyncClient) -> Api:
    return Api(request.param, client if request.param == "sync" else aclient)

"""Fixtures shared by the notebook-layer tests: a private AUROUS_NB_HOME, and a fresh sandbox on
loopback (one per test) with a client on it; and for every test the one webhook ``receiver``.

The names differ from the session-scoped ``sandbox`` and ``client`` of ``tests/client/conftest.py``
(and the ``sb`` of ``tests/sandbox/conftest.py``), so nothing here shadows or is shadowed by them.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import pytest

from aurous_nb.client import Client
from aurous_nb.sandbox import Sandbox
from tests.webhook_receiver import Receiver


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A fresh ``$AUROUS_NB_HOME`` (ledger and outputs cache) for the test."""
    monkeypatch.setenv("AUROUS_NB_HOME", str(tmp_path))
    return tmp_path


@pytest.fixture
def fresh_sandbox() -> Iterator[Sandbox]:
    with Sandbox(latency=0.1, credits=1000, time_factor=20) as sb:
        yield sb


@pytest.fixture
def fresh_client(fresh_sandbox: Sandbox) -> Iterator[Client]:
    with Client(api_key=fresh_sandbox.api_key, base_url=fresh_sandbox.base_url) as c:
        yield c


def _current_loop() -> asyncio.AbstractEventLoop | None:
    """The loop set as this thread's current one (without making one, as get_event_loop would)."""
    local = getattr(asyncio.get_event_loop_policy(), "_local", None)
    return getattr(local, "_loop", None)


@pytest.fixture(autouse=True)
def no_loop_left_open(request: pytest.FixtureRequest) -> Iterator[None]:
    """A plain test that leaves a new, open event loop as the thread's current one fails.

    Nothing closes such a loop: once a later ``asyncio.run`` unsets it, it is garbage in a cycle,
    and whichever test the collector happens to run in (one under ``simplefilter("error")``, say)
    fails on its unclosed self-pipe sockets. Async tests are left to pytest-asyncio's own loop.
    """
    if request.node.get_closest_marker("asyncio") is not None:
        yield
        return
    before = _current_loop()
    yield
    after = _current_loop()
    if after is not None and after is not before and not after.is_closed():
        if not after.is_running():
            asyncio.set_event_loop(before)
            after.close()
        pytest.fail(f"{request.node.nodeid} left an open event loop as the current one")


@pytest.fixture(scope="session")
def receiver() -> Iterator[Receiver]:
    """Records webhook deliveries and answers by path (see ``tests/webhook_receiver.py``)."""
    r = Receiver()
    yield r
    r.close()

"""Shared fixtures: real sandboxes on loopback and an httpx client (the webhook ``receiver`` is
in tests/conftest.py)."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
from sandbox_testkit import make_client

from aurous_nb.sandbox import Sandbox


@pytest.fixture(scope="session")
def sb() -> Iterator[Sandbox]:
    """A fast, roomy sandbox shared by most tests (nothing here depends on exact balances)."""
    with Sandbox(latency=0.15, credits=100_000, time_factor=50, seed=1) as sandbox:
        yield sandbox


@pytest.fixture(scope="session")
def api(sb: Sandbox) -> Iterator[httpx.Client]:
    with make_client(sb) as client:
        yield client


@pytest.fixture(scope="session")
def slow_api() -> Iterator[httpx.Client]:
    """Generations that take a minute, for tests that must catch them still running."""
    with Sandbox(latency=60, credits=100_000, seed=2) as sandbox, make_client(sandbox) as client:
        yield client

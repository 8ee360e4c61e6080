"""Widgets driven against a real sandbox on loopback, with a private AUROUS_NB_HOME."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest

from aurous_nb.client import Client
from aurous_nb.notebook import session as sessions
from aurous_nb.notebook.session import Session
from aurous_nb.sandbox import Sandbox


def make_session(home: Path, **options: Any) -> Iterator[Session]:
    settings = {"latency": 0.15, "latency_spread": 0.0, "credits": 100.0, "time_factor": 20}
    with Sandbox(**{**settings, **options}) as sb:
        client = Client(api_key=sb.api_key, base_url=sb.base_url)
        session = Session(client, sandbox=sb, key_source="sandbox")
        sessions._set_current(session)
        try:
            yield session
        finally:
            sessions._set_current(None)
            client.close()


@pytest.fixture
async def session(home: Path) -> AsyncIterator[Session]:
    for s in make_session(home):
        yield s
        if s._aclient is not None:
            await s._aclient.close()

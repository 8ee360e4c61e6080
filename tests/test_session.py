"""The session: connecting from the environment, the sandbox, and keeping the key hidden."""

from __future__ import annotations

import asyncio
import pickle

import pytest

from aurous_nb.notebook import session
from aurous_nb.sandbox import Sandbox


@pytest.fixture(autouse=True)
def isolated(tmp_path, monkeypatch):
    monkeypatch.setenv("AUROUS_NB_HOME", str(tmp_path / "home"))
    for name in ("AUROUS_API_KEY", "AUROUS_BASE_URL", "AUROUS_VERSION"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path)
    session.disconnect()
    yield
    session.disconnect()


@pytest.fixture(scope="module")
def server():
    with Sandbox(latency=0.05) as sb:
        yield sb


def test_no_key_says_how_to_get_one_and_offers_the_sandbox():
    with pytest.raises(session.NotConnected) as info:
        session.current()
    text = str(info.value)
    assert "AUROUS_API_KEY" in text
    assert "--sandbox" in text
    assert not session.is_connected()


def test_key_from_the_environment(server, monkeypatch):
    monkeypatch.setenv("AUROUS_API_KEY", server.api_key)
    monkeypatch.setenv("AUROUS_BASE_URL", server.base_url)
    s = session.current()  # auto-connects
    assert s.key_source == "environment"
    assert s.client.balance().credits == 1000
    assert session.current() is s
    assert s.synthetic  # loopback is a sandbox environment
    assert s.env == "sandbox"


def test_key_from_a_dotenv_file_in_a_parent_folder(server, tmp_path, monkeypatch):
    (tmp_path / ".env").write_text(
        f"# local settings\nexport AUROUS_API_KEY='{server.api_key}'\n"
        f"AUROUS_BASE_URL={server.base_url}  # the sandbox\n"
    )
    sub = tmp_path / "notebooks"
    sub.mkdir()
    monkeypatch.chdir(sub)
    s = session.connect()
    assert s.key_source.startswith(".env")
    assert s.base_url == server.base_url
    assert s.client.balance().available_credits > 0


def test_key_never_printable(server):
    s = session.connect(api_key=server.api_key, base_url=server.base_url)
    for text in (repr(s), str(s), s.banner(), repr(s.client), s.key_preview):
        assert server.api_key not in text
    assert not any(server.api_key in str(v) for v in vars(s).values())
    with pytest.raises(TypeError):
        pickle.dumps(s)


def test_sandbox_connect_is_synthetic_and_idempotent():
    s = session.connect(sandbox=True, latency=0.05)
    assert s.synthetic and s.sandbox is not None and s.sandbox.running
    assert "synthetic" in s.banner()
    assert s.key_source == "sandbox"
    # the same settings again (a notebook re-run): the same world
    assert session.connect(sandbox=True, latency=0.05) is s
    # other settings: a new sandbox; the old one is stopped
    other = session.connect(sandbox=True, latency=0.06)
    assert other is not s and not s.sandbox.running and other.sandbox.running
    session.disconnect()
    assert not other.sandbox.running
    assert not session.is_connected()


def test_sandbox_options_need_sandbox():
    with pytest.raises(TypeError):
        session.connect(latency=1.0)


def test_async_client_per_loop_and_ledger_home(tmp_path):
    s = session.connect(sandbox=True, latency=0.05)

    async def balance():
        return s.aclient, (await s.aclient.balance()).credits

    first, credits = asyncio.run(balance())
    second, _ = asyncio.run(balance())
    assert credits == 1000
    assert first is not second  # a new loop gets its own AsyncClient
    assert s.ledger.path.parent == tmp_path / "home"


def test_the_nearest_dotenv_wins_and_is_read_literally(tmp_path, monkeypatch, caplog):
    """The working folder's ``.env`` beats a parent's; quotes go, ``${...}`` stays as written,
    and a line that is not ``KEY=value`` is skipped without showing the key anywhere."""
    key = "al_live_" + "cd34" * 16
    (tmp_path / ".env").write_text("AUROUS_API_KEY=al_live_parent\n")
    near = tmp_path / "project"
    near.mkdir()
    (near / ".env").write_text(
        f'not a setting\nexport AUROUS_API_KEY="{key}"\n'
        "AUROUS_VERSION='2026-01-01'\nAUROUS_BASE_URL=${HOST}/v1 # where\n"
    )
    monkeypatch.chdir(near)
    found, source, extra = session.find_key()
    assert found == key and source == f".env ({near / '.env'})"
    assert extra == {"AUROUS_BASE_URL": "${HOST}/v1", "AUROUS_VERSION": "2026-01-01"}
    monkeypatch.setenv("AUROUS_VERSION", "2025-12-01")  # the environment wins
    assert session.find_key()[2] == {"AUROUS_BASE_URL": "${HOST}/v1"}
    monkeypatch.chdir(tmp_path)
    assert session.find_key()[0] == "al_live_parent"
    (near / "deeper").mkdir()
    monkeypatch.chdir(near / "deeper")
    assert session.find_key()[0] == key
    assert key not in caplog.text

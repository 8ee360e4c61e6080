"""Characters and their spend in the ledger: the paid row is written before the request is sent,
settled when the poses render, and counted by history, spend and the cost report."""

from __future__ import annotations

import io
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from PIL import Image

from aurous_nb.analysis import frames
from aurous_nb.client import Client
from aurous_nb.notebook.session import Session
from aurous_nb.sandbox import Sandbox
from aurous_nb.store import characters as character_ledger
from aurous_nb.store.backend import SQLITE
from aurous_nb.store.ledger import MIGRATIONS, SCHEMA_VERSION, Ledger
from aurous_nb.work import characters as character_jobs

ATTRS = {"gender": "female", "age": 30, "hair_color": "red"}


def png() -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (32, 32), (90, 90, 30)).save(buf, format="PNG")
    return buf.getvalue()


@pytest.fixture
def s(tmp_path: Path) -> Iterator[Session]:
    with Sandbox(latency=0.1, credits=100, time_factor=20, rate_limits=False) as sb:
        client = Client(api_key=sb.api_key, base_url=sb.base_url)
        session = Session(client, key_source="sandbox", ledger=Ledger(tmp_path / "l.sqlite3"))
        session.sandbox_url = sb.base_url  # type: ignore[attr-defined]
        yield session
        session.close()


def book(s: Session) -> dict[str, object]:
    url = f"{s.sandbox_url}/_sandbox/ledger"  # type: ignore[attr-defined]
    return httpx.get(url, timeout=30).json()  # type: ignore[no-any-return]


def test_the_row_is_written_before_the_request_is_sent(s: Session, monkeypatch) -> None:
    from aurous_nb.client.characters import Characters

    seen: list[list[character_ledger.CharacterJob]] = []
    real = Characters.synthesize

    def spy(self: Characters, **kwargs: object) -> object:
        seen.append(character_ledger.jobs(s.ledger, s.env))  # what the ledger holds as it sends
        return real(self, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(Characters, "synthesize", spy)
    out = character_jobs.synthesize(s, "Ivy", ATTRS)
    [[row]] = seen
    assert (row.status, row.action, row.estimate, row.character_id) == (
        "submitting",
        "synthesize",
        4,
        None,
    )
    assert out.how == "new" and str(out.price).startswith("4 credits (4 generations at 1")
    [after] = character_ledger.jobs(s.ledger, s.env)
    assert (after.key, after.status, after.character_id) == (
        row.key,
        "processing",
        out.character.id,
    )
    ready = character_jobs.wait(s, out.character, save=True)
    [done] = character_ledger.jobs(s.ledger, s.env)
    assert ready.is_ready and (done.status, done.charged) == ("succeeded", 4)


def test_an_unchanged_synthesis_is_reused_for_nothing(s: Session) -> None:
    first = character_jobs.synthesize(s, "Ivy", ATTRS)
    character_jobs.wait(s, first.character)
    again = character_jobs.synthesize(s, "Ivy", dict(reversed(list(ATTRS.items()))))
    assert again.how == "reused" and again.character.id == first.character.id
    fresh = character_jobs.synthesize(s, "Ivy", ATTRS, fresh=True)
    assert fresh.how == "new" and fresh.character.id != first.character.id
    assert len(book(s)["characters"]) == 2  # type: ignore[arg-type]


def test_price_first_refuses_past_budget_or_balance(s: Session) -> None:
    with pytest.raises(ValueError, match="over the budget of 3"):
        character_jobs.synthesize(s, "Ivy", ATTRS, budget=3)
    assert character_ledger.jobs(s.ledger) == [] and book(s)["characters"] == []
    low = Sandbox(latency=0.05, credits=3, rate_limits=False).start()
    try:
        poor = Session(Client(api_key=low.api_key, base_url=low.base_url), ledger=s.ledger)
        with pytest.raises(ValueError, match="more than the 3 available"):
            character_jobs.synthesize(poor, "Ivy", ATTRS)
    finally:
        low.stop()
    assert character_ledger.jobs(s.ledger) == []


def test_history_spend_and_report_count_synthesis(s: Session) -> None:
    made = character_jobs.create(s, "Up", [png()])
    assert made.character.is_ready
    synth = character_jobs.synthesize(s, "Syn", ATTRS)
    character_jobs.wait(s, synth.character, save=True)
    character_jobs.regenerate(s, synth.character, "side")
    character_jobs.wait(s, synth.character)
    gen = s.client.images.create("a portrait", character_id=made.character.id)
    s.client.images.wait(gen, poll_interval=0.05)
    frame = frames.history(s.client, s.ledger)
    chars = frame[frame["media_type"] == "character"]
    assert list(chars["cost"]) == [1.0, 4.0] and list(chars["status"]) == ["succeeded"] * 2
    assert list(chars["prompt"]) == ["regenerate Syn", "synthesize Syn"]
    assert str(frame["media_type"].dtype) == "category" and len(frame) == 3
    by_kind = frames.spend("media_type", frame=frame).set_index("media_type")["cost"]
    assert by_kind.to_dict() == {"character": 5.0, "image": 1.0}
    assert float(frame["cost"].sum()) == 6.0 == 100 - s.client.balance().credits
    from aurous_nb.analysis.reports import cost_report

    report = cost_report(ledger=s.ledger, history=frame)
    assert "spend_over_time" in report
    images_only = frames.history(s.client, s.ledger, media_type="image")
    assert set(images_only["media_type"]) == {"image"}


def test_a_deleted_synthesis_is_cancelled_and_free(s: Session) -> None:
    out = character_jobs.synthesize(s, "Brief", ATTRS)
    assert character_jobs.delete(s, out.character) is True
    [row] = character_ledger.jobs(s.ledger)
    assert (row.status, row.charged) == ("cancelled", 0)
    assert s.client.balance().credits == 100


def test_a_refused_synthesis_is_rejected_not_pending(s: Session, monkeypatch) -> None:
    from aurous_nb.client import InsufficientBalanceError

    monkeypatch.setattr(
        character_jobs, "price", lambda *a, **k: character_jobs.Price(4, 4, 1, None)
    )
    s.client.request("POST", "/v1/images", json={"prompt": "x", "count": 4})  # uses 4 of 100
    poorer = Sandbox(latency=0.05, credits=2, rate_limits=False).start()
    try:
        poor = Session(Client(api_key=poorer.api_key, base_url=poorer.base_url), ledger=s.ledger)
        with pytest.raises(InsufficientBalanceError):
            character_jobs.synthesize(poor, "Ivy", ATTRS)
    finally:
        poorer.stop()
    [row] = character_ledger.jobs(s.ledger)
    assert (row.status, row.charged, row.error_code) == ("rejected", 0, "insufficient_credits")
    assert frames.history(None, s.ledger, env=row.env).empty


def test_an_older_ledger_gains_the_table(tmp_path: Path) -> None:
    path = tmp_path / "old.sqlite3"
    conn = sqlite3.connect(path)
    for migration in MIGRATIONS[:3]:
        for statement in migration:
            conn.execute(SQLITE.ddl(statement))
    conn.execute("PRAGMA user_version = 3")
    conn.commit()
    conn.close()
    ledger = Ledger(path)
    assert ledger.schema_version == SCHEMA_VERSION >= 4
    assert character_ledger.jobs(ledger) == []

"""A character create or synthesis whose answer is lost after the sandbox did the work is
retried under its own Idempotency-Key: one character, one charge (the sandbox's ledger counts)."""

from __future__ import annotations

import io

import pytest
from PIL import Image
from proxy import Lossy

ATTRS = {"gender": "female", "age": 33}


def png() -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (48, 48), (10, 200, 90)).save(buf, format="PNG")
    return buf.getvalue()


def characters(lossy: Lossy) -> list[dict[str, object]]:
    return lossy.book()["characters"]  # type: ignore[no-any-return]


@pytest.mark.parametrize("fault", ["drop", "503"])
def test_a_lost_synthesis_answer_buys_once(lossy: Lossy, fault: str) -> None:
    lossy.proxy.arm(fault, "POST", "/v1/characters$", times=1)
    client = lossy.session.client
    char = client.characters.synthesize(name="Once", attributes=ATTRS)
    assert lossy.proxy.count("POST", "/v1/characters") == 2  # the create and its one retry
    assert char.idempotent_replayed  # the retry collected the first answer
    client.characters.wait(char, poll_interval=0.05)
    rows = characters(lossy)
    assert len(rows) == 1 and rows[0]["credits_charged"] == 4  # before: 2 characters, 8 credits
    assert lossy.book()["totals"]["credits_charged"] == 4


@pytest.mark.parametrize("fault", ["drop", "503"])
def test_a_lost_resynthesize_or_regenerate_answer_pays_once(lossy: Lossy, fault: str) -> None:
    client = lossy.session.client
    char = client.characters.wait(
        client.characters.synthesize(name="Again", attributes=ATTRS), poll_interval=0.05
    )
    lossy.proxy.arm(fault, "POST", f"/v1/characters/{char.id}/resynthesize", times=1)
    client.characters.wait(client.characters.resynthesize(char), poll_interval=0.05)
    lossy.proxy.arm(fault, "POST", f"/v1/characters/{char.id}/refs/regenerate", times=1)
    client.characters.wait(client.characters.regenerate_ref(char, pose="back"), poll_interval=0.05)
    [row] = characters(lossy)
    assert row["rounds"] == 3 and row["credits_charged"] == 4 + 4 + 1


def test_a_lost_create_answer_makes_one_character(lossy: Lossy) -> None:
    lossy.proxy.arm("drop", "POST", "/v1/characters$", times=1)
    client = lossy.session.client
    char = client.characters.create(name="Uploaded", images=[png(), png()])
    assert char.is_ready and len(char.refs) == 2
    assert (
        lossy.proxy.count("PUT") == 2
        and lossy.proxy.count("POST", "/v1/characters/uploads/init") == 2
    )
    assert len(characters(lossy)) == 1  # the retry replayed; the consumed tickets were not reused


def test_every_answer_lost_then_the_same_request_again_buys_once(lossy: Lossy) -> None:
    from aurous_nb.client import APIConnectionError
    from aurous_nb.store import characters as character_ledger
    from aurous_nb.work import characters as character_jobs

    s = lossy.session
    lossy.proxy.arm("drop", "POST", "/v1/characters$")  # the create and all its retries
    with pytest.raises(APIConnectionError):
        character_jobs.synthesize(s, "Lost", ATTRS)
    [row] = character_ledger.jobs(s.ledger, s.env)
    assert row.status == "submitting" and row.character_id is None  # written before it was sent
    assert len(characters(lossy)) == 1  # the server made it; only the answers were lost
    lossy.proxy.disarm()
    again = character_jobs.synthesize(s, "Lost", ATTRS)
    assert again.how == "resent" and again.character.idempotent_replayed
    character_jobs.wait(s, again.character)
    [row] = character_ledger.jobs(s.ledger, s.env)
    assert (row.status, row.charged, row.character_id) == ("succeeded", 4, again.character.id)
    rows = characters(lossy)
    assert len(rows) == 1 and rows[0]["credits_charged"] == 4  # before: 2 characters, 8 credits

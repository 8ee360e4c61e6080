"""``client.characters`` against the real sandbox: made from local images (init, keyless PUT,
classify, create) or synthesized, waited for, saved, changed, deleted, and used as
``images.create(character_id=...)``; sync and async run the same flows."""

from __future__ import annotations

import asyncio
import io
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from PIL import Image

from aurous_nb.client import (
    AsyncClient,
    Character,
    Client,
    InsufficientBalanceError,
    InvalidRequestError,
    NotFoundError,
    ValidationError,
)
from aurous_nb.sandbox import Sandbox

ATTRS = {"gender": "male", "age": 41, "hair_color": "brown", "body_type": "athletic"}


def png(size: tuple[int, int] = (64, 64), colour: tuple[int, int, int] = (20, 90, 200)) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", size, colour).save(buf, format="PNG")
    return buf.getvalue()


@pytest.fixture
def counted() -> Iterator[tuple[Sandbox, Client, list[httpx.Request]]]:
    """A client on a fresh sandbox that records every request it sends (an httpx event hook)."""
    sent: list[httpx.Request] = []
    with Sandbox(latency=0.1, credits=1000, time_factor=20, rate_limits=False) as sb:
        http = httpx.Client(event_hooks={"request": [sent.append]}, timeout=30)
        with Client(api_key=sb.api_key, base_url=sb.base_url, http_client=http) as client:
            yield sb, client, sent
        http.close()


def charged(sb: Sandbox) -> float:
    """What the sandbox charged for characters (its own ledger)."""
    book = httpx.get(f"{sb.base_url}/_sandbox/ledger", timeout=30).json()
    return sum(row["credits_charged"] for row in book["characters"])


def test_create_from_local_images(counted, tmp_path: Path) -> None:
    _, client, sent = counted
    front = tmp_path / "front.png"
    front.write_bytes(png((40, 80)))
    char = client.characters.create(name="Theo", images=[front, png()])
    assert isinstance(char, Character) and char.is_ready
    assert char.id.startswith("char_") and char.name == "Theo"
    assert [r.pose for r in char.refs] == ["front", "portrait"]  # classified
    assert "token=" not in repr(char)
    routes = [
        (r.method, r.url.path.rsplit("/", 1)[0] if r.method == "PUT" else r.url.path) for r in sent
    ]
    assert routes == [
        ("POST", "/v1/characters/uploads/init"),
        ("PUT", "/_sandbox/uploads"),
        ("POST", "/v1/characters/uploads/classify"),
        ("POST", "/v1/characters/uploads/init"),
        ("PUT", "/_sandbox/uploads"),
        ("POST", "/v1/characters/uploads/classify"),
        ("POST", "/v1/characters"),
    ]
    puts = [r for r in sent if r.method == "PUT"]
    assert all("x-api-key" not in r.headers for r in puts)  # the signed URL gets no key
    assert [r.headers["content-type"] for r in puts] == ["image/png", "image/png"]
    assert [len(r.content) for r in puts] == [len(front.read_bytes()), len(png())]
    gen = client.images.create("on a boat", character_id=char.id)
    assert gen.character_id == char.id and gen.inference_type == "i2i"
    assert client.balance().credits == 1000  # uploads and character_id are free


def test_no_classify_and_refusals_before_anything_is_sent(counted) -> None:
    _, client, sent = counted
    char = client.characters.create(name="Una", images=[png()], classify=False)
    assert [r.pose for r in char.refs] == ["other"]
    sent.clear()
    with pytest.raises(ValidationError, match=r"images\[1\]"):
        client.characters.create(name="x", images=[png(), b"GIF89a not ours"])
    with pytest.raises(ValidationError, match="images"):
        client.characters.create(name="x", images=[png()] * 7)
    with pytest.raises(ValidationError, match=r"attributes\.wings"):
        client.characters.synthesize(name="x", attributes={"wings": "2"})
    with pytest.raises(ValidationError, match="pose"):
        client.characters.regenerate_ref(char.id, pose="upside")
    assert sent == []


def test_synthesize_wait_save_and_use(counted) -> None:
    sb, client, _ = counted
    char = client.characters.synthesize(name="Mara", attributes=ATTRS, client_reference_id="c-1")
    assert char.status == "synthesizing" and char.refs == ()
    assert client.balance().held_credits == 4
    reviewed = client.characters.wait(char, poll_interval=0.05)
    assert reviewed.status == "reviewing" and [r.pose for r in reviewed.refs] == [
        "portrait",
        "front",
        "side",
        "back",
    ]
    with pytest.raises(InvalidRequestError) as not_ready:
        client.images.create("p", character_id=char.id)
    assert not_ready.value.code == "character_not_ready"
    ready = client.characters.save(reviewed)
    assert ready.is_ready and client.balance().credits == 996
    gen = client.images.create("p", character_id=ready.id)
    assert gen.character_id == ready.id
    again = client.characters.regenerate_ref(ready, pose="side")
    assert again.status == "synthesizing"
    done = client.characters.wait(again, save=True, poll_interval=0.05)
    assert done.is_ready and charged(sb) == 5
    client.characters.resynthesize(done)
    assert client.characters.wait(done.id, poll_interval=0.05).status == "reviewing"
    assert charged(sb) == 4 + 1 + 4


def test_list_get_update_delete(counted) -> None:
    _, client, _ = counted
    made = [client.characters.create(name=f"c{i}", images=[png()]) for i in range(3)]
    assert [c.id for c in client.characters.list(limit=2)] == [c.id for c in made[::-1]]
    assert [c.id for c in client.characters.list(status="ready")] == [c.id for c in made[::-1]]
    page = client.characters.list_page(2)
    assert page.has_more and page.next_cursor == made[1].id
    renamed = client.characters.update(made[0], name="Renamed", attributes={"age": 30})
    assert (renamed.name, renamed.attributes) == ("Renamed", {"age": 30})
    replaced = client.characters.update(made[0], attributes={"hair_color": "red"})
    assert replaced.attributes == {"hair_color": "red"}  # replaced whole
    assert client.characters.get(made[0].id).name == "Renamed"
    assert client.characters.delete(made[0]) is True
    with pytest.raises(NotFoundError):
        client.characters.get(made[0])
    with pytest.raises(NotFoundError):
        client.characters.delete(made[0])
    with pytest.raises(NotFoundError) as gone:
        client.images.create("p", character_id=made[0].id)
    assert gone.value.param == "character_id"
    with pytest.raises(NotFoundError):
        client.images.create("p", character_id="char_unknown")
    assert [c.id for c in client.characters.list()] == [made[2].id, made[1].id]


def test_patch_with_a_bad_key_names_it(counted) -> None:
    _, client, _ = counted
    char = client.characters.create(name="P", images=[png()])
    with pytest.raises(InvalidRequestError) as bad:
        client.request("PATCH", f"/v1/characters/{char.id}", json={"refs": [], "name": "x"})
    assert (bad.value.status, bad.value.code, bad.value.param) == (400, "invalid_request", "refs")


def test_too_few_credits_is_insufficient_balance() -> None:
    with (
        Sandbox(latency=0.05, credits=2) as sb,
        Client(api_key=sb.api_key, base_url=sb.base_url) as client,
        pytest.raises(InsufficientBalanceError) as low,
    ):
        client.characters.synthesize(name="x", attributes=ATTRS)
    assert low.value.code == "insufficient_credits"


def test_async_client_runs_the_same_flows(fresh_sandbox: Sandbox) -> None:
    async def main() -> tuple[Character, Character, list[str]]:
        async with AsyncClient(
            api_key=fresh_sandbox.api_key, base_url=fresh_sandbox.base_url
        ) as client:
            made = await client.characters.create(name="Async", images=[png()])
            synth = await client.characters.synthesize(name="Async S", attributes=ATTRS)
            ready = await client.characters.wait(synth, save=True, poll_interval=0.05)
            ids = [c.id async for c in client.characters.list()]
            return made, ready, ids

    made, ready, ids = asyncio.run(main())
    assert made.is_ready and ready.is_ready and ids == [ready.id, made.id]


def test_the_model_reads_odd_answers_leniently() -> None:
    char = Character.from_json({"id": "char_1", "refs": [{"pose": "front"}, 3], "attributes": 5})
    assert (char.name, char.status, char.attributes, char.created_at) == ("", "", {}, None)
    assert [r.pose for r in char.refs] == ["front"] and char.refs[0].url == ""
    assert not char.is_ready and not char.is_settled

"""CharacterStudio through its own controls against the sandbox: typed fields are what is sent,
a second click buys nothing, Stop then a new studio resumes from the ledger, one pose redrawn for
1 credit, Save, uploads for free, and the character handed to a panel."""

from __future__ import annotations

import asyncio
import io
import json
import re
import threading
from collections.abc import AsyncIterator
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import httpx
import pytest
from PIL import Image

from aurous_nb.notebook.session import Session
from aurous_nb.notebook.widgets import CharacterStudio, GenerationPanel, PromptGrid
from aurous_nb.store import characters as character_ledger
from tests.widgets.conftest import make_session

POSES = ("portrait", "front", "side", "back")
IMAGE = (b"\x89PNG", b"\xff\xd8")  # thumbnails are PNG or JPEG


def book(session: Session) -> dict[str, Any]:
    body: dict[str, Any] = httpx.get(f"{session.base_url}/_sandbox/ledger", timeout=30).json()
    return body


def sandbox_characters(session: Session) -> list[dict[str, Any]]:
    return list(book(session)["characters"])


def charged(session: Session) -> float:
    return sum(float(c["credits_charged"]) for c in sandbox_characters(session))


def png(colour: tuple[int, int, int]) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (48, 48), colour).save(buf, format="PNG")
    return buf.getvalue()


def describe(studio: CharacterStudio, name: str = "Ivy", **fields: str) -> None:
    """Type into the Describe fields, as a person would."""
    studio.tabs.selected_index = 1
    studio.name.value = name
    for key, value in {"gender": "female", "age": "30", "hair_color": "red", **fields}.items():
        studio.fields[key].value = value


def slot_bytes(studio: CharacterStudio, pose: str) -> bytes:
    image = studio.slots[pose][0]
    return bytes(image.value) if image.layout.display != "none" else b""


@pytest.fixture
async def slow(home: Path) -> AsyncIterator[Session]:
    """A sandbox whose syntheses take about 2 s, so Stop lands while one is drawing."""
    for s in make_session(home, latency=2.0):
        yield s
        if s._aclient is not None:
            await s._aclient.close()


async def test_prices_first_and_a_typed_description_is_what_is_bought(session: Session) -> None:
    studio = await CharacterStudio(session).ready()
    assert studio.synth_button.description == "Synthesize · 4 credits"
    assert not studio.synth_button.disabled
    assert all(b.disabled for _, _, b in studio.slots.values())  # nothing to redraw yet
    assert studio.save_button.disabled and studio.use_panel_button.disabled
    assert studio.use_grid_button.disabled and "grid=" in studio.use_grid_button.tooltip

    describe(studio, hair_style="short bob")
    studio.synth_button.click()  # typed, then clicked at once: no debounce to wait for
    studio.synth_button.click()  # a double click joins the first
    assert studio.synth_button.disabled and not studio.stop_button.disabled
    char = await studio.wait()

    assert char.name == "Ivy" and char.status == "reviewing"
    assert char.attributes == {
        "gender": "female",
        "age": 30,
        "hair_color": "red",
        "hair_style": "short bob",
    }
    [row] = sandbox_characters(session)
    assert row["rounds"] == 1 and row["credits_charged"] == 4
    [job] = character_ledger.jobs(session.ledger, session.env)
    assert (job.action, job.status, job.charged) == ("synthesize", "succeeded", 4)
    assert session.client.balance().available_credits == 96
    for pose in POSES:
        assert slot_bytes(studio, pose).startswith(IMAGE), pose
    assert "reviewing" in studio.status.value
    assert not studio.save_button.disabled
    assert all(not b.disabled for _, _, b in studio.slots.values())
    assert studio.slots["side"][2].description == "Regenerate · 1 credit"

    # clicked again once it is done: the same description shows the same character for 0
    studio.synth_button.click()
    again = await studio.wait()
    assert again.id == char.id and studio.outcome.how == "reused"
    assert "0 credits" in studio.status.value
    assert len(sandbox_characters(session)) == 1 and charged(session) == 4
    assert len(character_ledger.jobs(session.ledger, session.env)) == 1

    # another name: another character, and none of the first one's pictures stay
    first = {pose: slot_bytes(studio, pose) for pose in POSES}
    studio.name.value = "Juno"
    studio.synth_button.click()
    juno = await studio.wait()
    assert juno.id != char.id and studio.outcome.how == "new" and charged(session) == 8
    assert all(slot_bytes(studio, p) and slot_bytes(studio, p) != first[p] for p in POSES)
    assert len(studio.previews) == 4


async def test_stop_while_drawing_then_a_new_studio_resumes_without_buying(
    slow: Session,
) -> None:
    studio = await CharacterStudio(slow).ready()
    describe(studio, name="Rook")
    studio.synth_button.click()
    while studio.character is None:  # the synthesis was bought; its poses are being drawn
        await asyncio.sleep(0.02)
    assert studio.character.status == "synthesizing"
    assert "drawing" in studio.slots["front"][1].value
    studio.stop_button.click()
    with pytest.raises(asyncio.CancelledError):
        await studio._run.task  # type: ignore[misc]
    assert "Stopped" in studio.status.value and not studio.synth_button.disabled
    first = studio.character

    fresh = await CharacterStudio(slow).ready()
    describe(fresh, name="Rook")
    fresh.synth_button.click()
    char = await fresh.wait()
    assert char.id == first.id and fresh.outcome.how == "reused"
    assert char.status == "reviewing" and all(slot_bytes(fresh, p) for p in POSES)
    [row] = sandbox_characters(slow)
    assert row["rounds"] == 1 and row["credits_charged"] == 4
    assert slow.client.balance().available_credits == 96

    # opened by name, it shows the same character, nothing bought
    opened = await CharacterStudio(slow, character="Rook").ready()
    await opened.wait()
    assert opened.character.id == char.id and opened.name.value == "Rook"
    assert all(slot_bytes(opened, p) for p in POSES)
    assert len(sandbox_characters(slow)) == 1 and charged(slow) == 4


async def test_regenerate_one_pose_for_one_credit_then_save(session: Session) -> None:
    studio = await CharacterStudio(session).ready()
    describe(studio)
    await studio.synthesize()
    before = {pose: slot_bytes(studio, pose) for pose in POSES}

    studio.slots["side"][2].click()
    studio.slots["side"][2].click()  # twice: one redraw
    await studio.wait()
    assert studio.character.status == "reviewing"
    assert slot_bytes(studio, "side").startswith(IMAGE)
    assert slot_bytes(studio, "side") != before["side"]
    assert all(slot_bytes(studio, p) == before[p] for p in ("portrait", "front", "back"))
    [row] = sandbox_characters(session)
    assert row["rounds"] == 2 and charged(session) == 5
    jobs = character_ledger.jobs(session.ledger, session.env)
    assert sorted((j.action, j.charged) for j in jobs) == [("regenerate", 1), ("synthesize", 4)]
    assert studio.spent == 5

    studio.save_button.click()
    char = await studio.wait()
    assert char.status == "ready" and "ready" in studio.status.value
    assert studio.save_button.disabled and not studio.use_panel_button.disabled
    assert not studio.slots["front"][2].disabled  # a ready character may still be redrawn


async def test_upload_two_pngs_makes_a_ready_character_for_nothing(session: Session) -> None:
    studio = await CharacterStudio(session).ready()
    studio.name.value = "Pip"
    studio.upload.value = tuple(
        {
            "name": f"pip{i}.png",
            "type": "image/png",
            "size": len(data),
            "content": memoryview(data),
            "last_modified": datetime.now(timezone.utc),
        }
        for i, data in enumerate([png((200, 40, 40)), png((40, 40, 200))])
    )
    assert "2 images picked" in studio.upload_note.value
    studio.create_button.click()
    studio.create_button.click()  # a double click makes one character
    char = await studio.wait()
    assert char.status == "ready" and len(char.refs) == 2
    assert len(studio.previews) == 2
    shown = [slot_bytes(studio, p) for p in POSES if slot_bytes(studio, p)]
    assert len(shown) + len(studio.extra.children) == 2
    assert session.client.balance().available_credits == 100 and charged(session) == 0
    [job] = character_ledger.jobs(session.ledger, session.env)
    assert job.action == "create" and not job.charged
    assert studio.upload.value == ()  # a second Create needs new pictures
    studio.create_button.click()
    assert "pick 1 to 6 images" in studio.errors.value
    assert len(sandbox_characters(session)) == 1


async def test_use_in_panel_sends_the_character_id(session: Session) -> None:
    panel = await GenerationPanel(session, prompt="a portrait in a garden").ready()
    studio = await CharacterStudio(session, panel=panel).ready()
    describe(studio)
    await studio.synthesize()
    studio.use_panel_button.click()  # still reviewing: refused, said so
    assert panel.character is None and "save the character first" in studio.errors.value
    await studio.save()
    studio.use_panel_button.click()
    char = studio.character
    assert panel.request()["character_id"] == char.id and "in the panel" in studio.status.value
    assert "Character: <b>Ivy</b>" in panel.character_name.value
    assert panel.character_chip.layout.display == ""
    await panel._pricer.flush()
    assert panel.quote is not None and panel.quote.amount == 1  # the price is unchanged
    record = await panel.generate()
    record = await panel.wait()
    assert record.status == "succeeded" and record.request["character_id"] == char.id
    assert "Ivy" in panel.static_html()

    panel.character_remove.click()
    assert "character_id" not in panel.request() and panel.character_chip.layout.display == "none"

    alone = await CharacterStudio(session, character=char.id).ready()
    await alone.wait()
    alone.use_panel_button.click()
    [opened] = alone.below.children
    assert isinstance(opened, GenerationPanel) and opened.request()["character_id"] == char.id


@pytest.mark.parametrize(
    ("fields", "said"),
    [
        ({"name": ""}, "name"),
        ({"name": "   "}, "name"),
        ({"age": "NaN"}, "age"),
        ({"age": "-3"}, "age"),
        ({"age": "inf"}, "age"),
        ({"age": "1e309"}, "age"),
        ({"age": "ten"}, "age"),
        ({"age": "200"}, "age"),
        ({"name": "x" * 121}, "at most 120"),
        ({"hair_color": "red\ud800"}, "lone surrogate"),
        ({"name": "Iv\udce9"}, "lone surrogate"),
        ({"hair_color": "x" * 201}, "at most 200"),
        ({"gender": "", "age": "", "hair_color": ""}, "at least one"),
    ],
)
async def test_bad_input_is_said_and_nothing_is_sent(
    session: Session, fields: dict[str, str], said: str
) -> None:
    studio = await CharacterStudio(session).ready()
    name = fields.pop("name", "Ivy")
    describe(studio, name=name, **fields)
    studio.synth_button.click()
    assert said in studio.errors.value and "nothing was sent" in studio.errors.value
    assert studio.error is not None and not studio._run.running
    with pytest.raises(ValueError):
        studio.synthesize()
    assert sandbox_characters(session) == []
    assert character_ledger.jobs(session.ledger, session.env) == []
    assert session.client.balance().available_credits == 100


async def test_synthesize_past_the_budget_is_disabled_with_the_reason(session: Session) -> None:
    studio = await CharacterStudio(session, budget=3).ready()
    assert studio.synth_button.disabled
    assert "budget" in studio.synth_button.tooltip and "budget" in studio.cost.value
    describe(studio)
    studio.synth_button.click()  # click() runs even on a disabled button: still refused
    assert "budget" in studio.errors.value and sandbox_characters(session) == []
    studio.budget = 10  # raised: Synthesize may run again
    assert not studio.synth_button.disabled and studio.synth_button.tooltip.startswith("Spend")
    studio.synth_button.click()
    await studio.wait()
    assert charged(session) == 4 and studio.spent == 4
    studio.budget = 5  # 1 left: a regeneration fits, a second synthesis would not
    assert not studio.slots["side"][2].disabled
    assert studio._blocked(4) is not None and "1 credit of 5 credits left" in studio._blocked(4)
    with pytest.raises(ValueError):
        CharacterStudio(session, budget=float("nan"))


async def test_past_a_spending_cap_synthesize_says_which_and_how_to_raise_it(
    session: Session,
) -> None:
    """The same words as the panel's and the grid's Generate and Run: the cap and the %config
    line a notebook raises it with."""
    from aurous_nb.work import caps

    caps.configure(session=3)
    try:
        studio = await CharacterStudio(session).ready()
        assert studio.synth_button.disabled
        assert "session budget of 3 credits" in studio.synth_button.tooltip
        assert "%config Aurous.session_budget = 4" in studio.synth_button.tooltip
    finally:
        caps.configure(session=None)


async def test_past_the_balance_is_disabled_with_the_reason(home: Path) -> None:
    for s in make_session(home, credits=3.0):
        studio = await CharacterStudio(s).ready()
        assert studio.synth_button.disabled and "available" in studio.synth_button.tooltip
        assert studio.synth_button.description == "Synthesize"
        if s._aclient is not None:
            await s._aclient.close()


async def test_a_failed_synthesis_shows_its_message(session: Session) -> None:
    studio = await CharacterStudio(session).ready()
    describe(studio, additional_details="forbidden")  # the sandbox's moderation word
    studio.synth_button.click()
    char = await studio.wait()
    assert char.status == "failed" and char.error_message
    assert "failed" in studio.status.value and char.error_message in studio.errors.value
    assert studio.save_button.disabled and charged(session) == 0


async def test_static_copy_embeds_the_poses_and_no_secret(session: Session) -> None:
    studio = await CharacterStudio(session).ready()
    assert "No character yet" in studio.static_html()
    describe(studio)
    await studio.synthesize()
    bundle = studio._repr_mimebundle_()
    html = bundle["text/html"]
    assert "application/vnd.jupyter.widget-view+json" in bundle
    assert html.count("data:image/") == 4 and "Ivy" in html and "reviewing" in html
    assert "token=" not in html and "http://" not in html and "https://" not in html
    assert session.sandbox is not None
    for text in (html, repr(studio), studio.status.value):
        assert session.sandbox.api_key not in text
    assert "Ivy" in repr(studio) and "reviewing" in repr(studio)


async def test_use_in_grid_adds_the_character_to_the_grid(session: Session) -> None:
    grid = await PromptGrid(["on a boat", "in the rain"], session=session).ready()
    studio = await CharacterStudio(session, grid=grid).ready()
    assert studio.use_grid_button.disabled  # nothing ready yet
    describe(studio, name="Ana")
    await studio.synthesize()
    await studio.save()
    assert not studio.use_grid_button.disabled
    studio.use_grid_button.click()
    char = studio.character
    assert "added to the grid" in studio.status.value and studio.error is None
    await grid.ready()
    assert grid.character_names == {char.id: "Ana"}
    assert grid.quote.total == 2 and charged(session) == 4  # priced; nothing more bought


class OneByOne(httpx.AsyncBaseTransport):
    """The sandbox draws the four poses at once; this shows a finished synthesis one ref more
    per read (still ``synthesizing`` until the last), as an API that reveals them one by one
    would. ``events`` is what the studio asked for, in order."""

    def __init__(self) -> None:
        self.inner = httpx.AsyncHTTPTransport()
        self.shown: dict[str, int] = {}
        self.events: list[str] = []

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        response = await self.inner.handle_async_request(request)
        path = request.url.path
        if "/character_refs/" in path:
            self.events.append(f"download {path.rsplit('/', 1)[-1]}")
        if request.method != "GET" or not re.fullmatch(r"/v1/characters/char_\w+", path):
            return response
        await response.aread()
        body = json.loads(response.content)
        refs = body.get("refs") or []
        if body.get("status") != "reviewing" or self.shown.get(body["id"], 0) >= len(refs):
            return response
        n = self.shown[body["id"]] = self.shown.get(body["id"], 0) + 1
        if n < len(refs):
            body["refs"], body["status"] = refs[:n], "synthesizing"
        self.events.append(f"read {len(body['refs'])}")
        skip = {"content-length", "content-encoding", "transfer-encoding"}
        headers = [(k, v) for k, v in response.headers.items() if k.lower() not in skip]
        return httpx.Response(response.status_code, headers=headers, json=body)


async def test_poses_fill_one_by_one_as_their_refs_arrive(session: Session) -> None:
    from aurous_nb.client import AsyncClient

    assert session.sandbox is not None
    staggered = OneByOne()
    session._aclient = AsyncClient(
        api_key=session.sandbox.api_key,
        base_url=session.base_url,
        http_client=httpx.AsyncClient(transport=staggered),
    )
    session._aclient_loop = asyncio.get_running_loop()
    studio = await CharacterStudio(session).ready()
    describe(studio)
    seen: list[int] = []
    studio.slots["back"][0].observe(lambda _: seen.append(len(studio.previews)), names="value")
    studio.synth_button.click()
    char = await studio.wait()
    assert char.status == "reviewing" and len(studio.previews) == 4
    assert staggered.events == [
        "read 1", "download 0.bin", "read 2", "download 1.bin",
        "read 3", "download 2.bin", "read 4", "download 3.bin",
    ]  # fmt: skip
    assert seen == [4]  # the back pose (the last ref) came last; the others were shown before
    assert all(slot_bytes(studio, p) for p in POSES) and charged(session) == 4
    await session._aclient.close()


async def test_opening_an_unknown_name_says_so_and_buys_nothing(session: Session) -> None:
    studio = CharacterStudio(session, character="Nobody")
    with pytest.raises(Exception, match="Nobody"):
        await studio.ready()
    assert "Nobody" in studio.errors.value and studio.character is None
    assert sandbox_characters(session) == [] and not studio.synth_button.disabled


async def test_the_repr_says_what_it_is_opening_until_it_is_open(session: Session) -> None:
    """In terminal IPython nothing draws the widget: its repr is all a person sees."""
    studio = CharacterStudio(session, character="Nobody")
    assert "opening Nobody (await studio.ready())" in repr(studio)
    with pytest.raises(Exception, match="Nobody"):
        await studio.ready()
    assert "empty" in repr(studio) and "opening" not in repr(studio)


class HeldAnswer(httpx.BaseTransport):
    """Holds the answer to ``POST /v1/characters`` until ``release`` is set: a slow network,
    which the sandbox (it answers at once) cannot be."""

    def __init__(self) -> None:
        self.inner = httpx.HTTPTransport()
        self.waiting = threading.Event()
        self.release = threading.Event()

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        response = self.inner.handle_request(request)
        if request.method == "POST" and request.url.path == "/v1/characters":
            self.waiting.set()
            self.release.wait(60)
        return response


async def test_stop_while_the_purchase_is_in_flight_buys_it_once(home: Path) -> None:
    from aurous_nb.client import Client

    held = HeldAnswer()
    for s in make_session(home):
        assert s.sandbox is not None
        s.client = Client(
            api_key=s.sandbox.api_key,
            base_url=s.base_url,
            http_client=httpx.Client(transport=held),
        )
        studio = await CharacterStudio(s).ready()
        describe(studio)
        studio.synth_button.click()
        while not held.waiting.is_set():  # the create is sent; its answer has not come back
            await asyncio.sleep(0.01)
        [row] = character_ledger.jobs(s.ledger, s.env)
        assert row.status == "submitting"  # written before it was sent
        studio.stop_button.click()
        with pytest.raises(asyncio.CancelledError):
            await studio._run.task  # type: ignore[misc]
        assert "Stopped" in studio.status.value and studio.character is None
        held.release.set()
        while character_ledger.jobs(s.ledger, s.env)[0].status == "submitting":
            await asyncio.sleep(0.01)  # the answer lands in the ledger all the same

        again = await CharacterStudio(s).ready()
        describe(again)
        again.synth_button.click()
        char = await again.wait()
        assert again.outcome.how == "reused" and char.status == "reviewing"
        assert len(sandbox_characters(s)) == 1 and charged(s) == 4
        assert len(character_ledger.jobs(s.ledger, s.env)) == 1
        if s._aclient is not None:
            await s._aclient.close()
        s.client.close()
        held.inner.close()

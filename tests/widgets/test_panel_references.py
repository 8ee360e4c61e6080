"""The panel's reference images (issue 16): the upload control and "Use as reference", driven
as a browser would (the upload's state set from the front end, buttons clicked)."""

from __future__ import annotations

import io

import httpx
from PIL import Image

from aurous_nb.notebook.session import Session
from aurous_nb.notebook.widgets import GenerationPanel


def png(color: tuple[int, int, int]) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (48, 32), color).save(buf, format="PNG")
    return buf.getvalue()


def pick(panel: GenerationPanel, *files: tuple[str, bytes]) -> None:
    """What the browser sends when files are chosen in the upload control."""
    panel.references.upload.set_state(
        {
            "value": [
                {"name": n, "type": "image/png", "size": len(b), "content": b, "last_modified": 0}
                for n, b in files
            ]
        }
    )


def totals(session: Session) -> dict:
    return httpx.get(f"{session.base_url}/_sandbox/ledger").json()["totals"]


async def test_uploaded_pictures_are_sent_once_as_references(session: Session) -> None:
    panel = await GenerationPanel(session, prompt="a teapot", seed=1).ready()
    pick(panel, ("a.png", png((200, 0, 0))), ("b.png", png((0, 0, 200))))
    assert [p.label for p in panel.references.picked] == ["a.png", "b.png"]
    assert panel.references.upload.value == ()  # ready for the next pick
    assert len(panel.references.row.children) == 2 and not panel.references.clear_button.disabled
    await panel.generate()
    record = panel.record
    assert record.status == "succeeded", panel.error
    refs = record.request["reference_image_urls"]
    assert len(refs) == 2 and all(r.startswith("file_") for r in refs)
    assert totals(session)["files_uploaded"] == 2

    panel.seed.value = "2"  # another generation with the same pictures: no new upload
    await panel.generate()
    again = panel.record
    assert again.request["reference_image_urls"] == refs
    assert totals(session)["files_uploaded"] == 2
    assert "a.png, b.png" in panel.static_html()

    panel.references.row.children[0].children[1].children[1].click()  # × on the first
    assert [p.label for p in panel.references.picked] == ["b.png"]
    panel.references.clear_button.click()
    assert panel.references.picked == [] and panel.references.clear_button.disabled


async def test_use_as_reference_on_a_result(session: Session) -> None:
    panel = await GenerationPanel(session, prompt="a kite", count=2, seed=3).ready()
    await panel.generate()
    first = panel.record
    assert first.status == "succeeded" and len(panel.gallery.children) == 2
    use = panel.gallery.children[1].children[2]
    assert use.description == "Use as reference"
    use.click()
    [picked] = panel.references.picked
    assert picked.label == f"{first.generation_id} #2"
    panel.prompt.value = "a kite, at night"
    await panel.generate()
    second = panel.record
    assert second.status == "succeeded", panel.error
    [ref] = second.request["reference_image_urls"]
    assert ref.startswith("file_") and totals(session)["files_uploaded"] == 1


async def test_a_bad_file_is_refused_when_picked(session: Session) -> None:
    panel = await GenerationPanel(session, prompt="a cat").ready()
    pick(panel, ("notes.txt", b"not a picture"), ("ok.png", png((1, 2, 3))))
    assert [p.label for p in panel.references.picked] == ["ok.png"]
    pick(panel, ("notes.txt", b"not a picture"))
    assert "not a PNG, JPEG or WebP image" in panel.references.note.value
    assert "notes.txt" in panel.references.note.value
    assert totals(session)["files_uploaded"] == 0


async def test_references_given_to_the_constructor(session: Session, tmp_path) -> None:
    path = tmp_path / "seed.png"
    path.write_bytes(png((9, 90, 9)))
    panel = await GenerationPanel(session, prompt="a boat", references=[path]).ready()
    assert [p.label for p in panel.references.picked] == ["seed.png"]
    await panel.generate()
    record = panel.record
    assert record.status == "succeeded", panel.error
    assert totals(session)["files_uploaded"] == 1


async def test_a_generation_given_is_read_from_the_outputs_cache(session: Session) -> None:
    panel = await GenerationPanel(session, prompt="a lamp", seed=8).ready()
    await panel.generate()
    gen = panel.generation
    sent: list[str] = []
    session.aclient._http.event_hooks["request"].append(lambda r: _note(sent, r))
    other = await GenerationPanel(session, prompt="a lamp, lit", references=[gen]).ready()
    await other.generate()
    assert other.record.status == "succeeded", other.error
    assert not any(f"{gen.id}/output" in p for p in sent)  # the cached copy was uploaded
    assert totals(session)["files_uploaded"] == 1


async def _note(sent: list[str], request) -> None:
    sent.append(request.url.path)

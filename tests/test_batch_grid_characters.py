"""The characters axis in ``Batch.grid(characters=...)`` and ``%aurous grid --character A,B``
(or ``--vary character=A,B``), against the real sandbox: names resolve to ids before anything
is priced, each create carries its ``character_id``, rows name the character, re-runs buy 0."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import httpx
import pytest
from PIL import Image

from aurous_nb.client import Client, NotFoundError
from aurous_nb.sandbox import Sandbox
from aurous_nb.store.ledger import Ledger
from aurous_nb.work.batch import Batch
from tests.magic_cells import aurous_shell, run

PROMPTS = ["on a boat", "in the rain"]


def png(colour: tuple[int, int, int]) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (48, 64), colour).save(buf, format="PNG")
    return buf.getvalue()


@pytest.fixture
def sandbox(fresh_sandbox: Sandbox) -> Sandbox:
    return fresh_sandbox


@pytest.fixture
def client(fresh_client: Client) -> Client:
    return fresh_client


@pytest.fixture
def cast(client: Client) -> tuple[Any, Any]:
    ana = client.characters.create(name="Ana", images=[png((200, 40, 40))])
    bo = client.characters.create(name="Bo", images=[png((40, 40, 200))])
    return ana, bo


def generations(sb: Sandbox) -> list[dict[str, Any]]:
    """What the sandbox itself recorded."""
    return list(httpx.get(f"{sb.base_url}/_sandbox/ledger", timeout=30).json()["generations"])


def batch(client: Client, home: Path, **options: Any) -> Batch:
    return Batch.grid(
        PROMPTS, client=client, ledger=Ledger(home / "ledger.sqlite"), name="cast", **options
    )


async def test_batch_grid_by_two_characters(client, sandbox, cast, home) -> None:
    ana, bo = cast
    b = batch(client, home, characters=["Ana", bo])
    quote = await b.price()
    assert quote.total == 4 and generations(sandbox) == []
    await b.run_async()
    sent = generations(sandbox)
    assert sorted(g["request"]["character_id"] for g in sent) == sorted([ana.id] * 2 + [bo.id] * 2)
    rows = b.rows()
    assert sorted(r["character"] for r in rows) == ["Ana", "Ana", "Bo", "Bo"]
    assert {r["character_id"] for r in rows} == {ana.id, bo.id}  # the request's own field
    for row in rows:
        server = next(g for g in sent if g["id"] == row["generation_id"])
        assert server["request"]["character_id"] == row["character_id"]

    again = batch(client, home, axes={"character": [ana.id, "Bo"]})
    assert (await again.price()).total == 0
    await again.run_async()
    assert len(generations(sandbox)) == 4  # bought nothing


async def test_batch_grid_with_an_async_client_looks_the_names_up_too(
    client, sandbox, cast, home
) -> None:
    """The notebook's own client is an AsyncClient (a session's, a kernel loop's): refusing it
    left Batch.grid(characters=) to blocking clients only."""
    from aurous_nb.client import AsyncClient

    ana, bo = cast
    async with AsyncClient(api_key=sandbox.api_key, base_url=sandbox.base_url) as aclient:
        b = Batch.grid(
            PROMPTS, characters=["Ana", "Bo"], client=aclient, ledger=Ledger(home / "a.sqlite")
        )
        assert (await b.price()).total == 4
        await b.run_async()
    assert sorted(g["request"]["character_id"] for g in generations(sandbox)) == sorted(
        [ana.id, ana.id, bo.id, bo.id]
    )


def test_batch_grid_refuses_unknown_or_not_ready(client, sandbox, cast, home) -> None:
    with pytest.raises(NotFoundError, match="'Zed'"):
        batch(client, home, characters=["Ana", "Zed"])
    attrs = {"gender": "male", "age": 50, "hair_color": "grey", "body_type": "average"}
    client.characters.synthesize(name="Cy", attributes=attrs)
    with pytest.raises(ValueError, match=r"'Cy'.*not ready"):
        batch(client, home, characters=["Cy"])
    with pytest.raises(ValueError, match="give characters once"):
        batch(client, home, characters=["Ana"], axes={"character": ["Bo"]})
    assert generations(sandbox) == []


async def test_magic_grid_character_option_and_vary(client, sandbox, cast, home, capsys) -> None:
    ana, bo = cast
    with aurous_shell(client) as ip:
        result, out = run(ip, capsys, '%aurous grid "on a boat" "in the rain" --character Ana,Bo')
        assert result.success, out
        grid = await result.result.ready()
        assert grid.quote.total == 4 and generations(sandbox) == []
        await grid.run()
        assert sorted(g["request"]["character_id"] for g in generations(sandbox)) == sorted(
            [ana.id, ana.id, bo.id, bo.id]
        )
        assert sorted(grid.to_dataframe()["character"]) == ["Ana", "Ana", "Bo", "Bo"]

        result, out = run(
            ip, capsys, '%aurous grid "on a boat" "in the rain" --vary character=Ana,Bo'
        )
        assert result.success, out
        same = await result.result.ready()
        assert same.quote.total == 0  # the same cells: nothing to buy

        result, out = run(ip, capsys, '%aurous grid "on a boat" --character Ana,Zed')
        assert not result.success and "'Zed'" in out and "Traceback" not in out
        result, out = run(ip, capsys, '%aurous grid "on a boat" --vary character=Zed')
        assert not result.success and "'Zed'" in out
    assert len(generations(sandbox)) == 4


# ------------------------------------------------------------------ local reference images


def totals(sb: Sandbox) -> dict[str, Any]:
    return dict(httpx.get(f"{sb.base_url}/_sandbox/ledger", timeout=30).json()["totals"])


def picture(colour: tuple[int, int, int]) -> Image.Image:
    return Image.new("RGB", (32, 32), colour)


def saved(img: Image.Image, path: Path) -> Path:
    buf = io.BytesIO()
    img.save(buf, format="PNG")  # what a PIL image is uploaded as: the same bytes
    path.write_bytes(buf.getvalue())
    return path


async def test_batch_specs_take_local_references_uploaded_once(client, sandbox, home) -> None:
    from aurous_nb.work.spec import image

    violet = saved(picture((90, 10, 160)), home / "violet.png")
    specs = [
        image("a fox", reference_images=[str(violet)], seed=1),
        image("an owl", reference_images=picture((90, 10, 160)), seed=2),  # the same picture
        image("a moth", reference_images=[violet.read_bytes(), picture((10, 160, 90))], seed=3),
    ]
    b = Batch(specs, client=client, ledger=Ledger(home / "ledger.sqlite"), name="refs")
    assert (await b.price()).total == 3 and totals(sandbox)["files_uploaded"] == 0
    await b.run_async()
    assert [j.status for j in b.jobs] == ["succeeded"] * 3
    assert totals(sandbox)["files_uploaded"] == 2  # violet once (path, PIL, bytes), green once
    sent = {
        g["request"]["prompt"]: g["request"]["reference_image_urls"] for g in generations(sandbox)
    }
    assert sent["a fox"] == sent["an owl"] == sent["a moth"][:1]
    assert all(u.startswith("file_") for u in sent["a moth"])

    moved = violet.rename(home / "renamed.png")  # the same content under another path
    specs[0] = image("a fox", reference_images=[moved], seed=1)
    again = Batch(specs, client=client, ledger=Ledger(home / "ledger.sqlite"), name="refs")
    assert (await again.price()).total == 0
    await again.run_async()
    assert totals(sandbox)["files_uploaded"] == 2 and len(generations(sandbox)) == 3


async def test_grid_references_as_params_and_as_an_axis(client, sandbox, cast, home) -> None:
    first = saved(picture((200, 200, 10)), home / "first.png")
    second = picture((10, 200, 200))
    b = batch(client, home, params={"reference_images": [first]})
    assert (await b.price()).total == 2
    await b.run_async()
    assert totals(sandbox)["files_uploaded"] == 1  # one upload for both cells
    by_axis = batch(client, home, axes={"reference_images": [[first], [second]]})
    assert len(by_axis.jobs) == 4 and (await by_axis.price()).total == 4
    await by_axis.run_async()
    assert totals(sandbox)["files_uploaded"] == 2  # first was known already
    refs = sorted(tuple(g["request"]["reference_image_urls"]) for g in generations(sandbox))
    assert len(refs) == 6 and len(set(refs)) == 2
    labels = {str(r["reference_images"]) for r in by_axis.rows()}
    assert len(labels) == 2
    rerun = batch(client, home, axes={"reference_images": [[first], [second]]})
    assert (await rerun.price()).total == 0
    await rerun.run_async()
    assert totals(sandbox)["files_uploaded"] == 2 and len(generations(sandbox)) == 6


async def test_a_generation_and_its_id_as_references(client, sandbox, home) -> None:
    from aurous_nb.work.spec import image

    b = Batch([image("a fox", seed=4)], client=client, ledger=Ledger(home / "l.sqlite"))
    [job] = await b.run_async()
    gen = job.generation
    specs = [image("its twin", reference_images=[gen]), image("again", reference_images=gen.id)]
    more = Batch(specs, client=client, ledger=Ledger(home / "l.sqlite"), name="twins")
    await more.run_async()
    assert [j.status for j in more.jobs] == ["succeeded"] * 2
    assert totals(sandbox)["files_uploaded"] == 1  # its output, uploaded once
    assert more.jobs[0].key != b.jobs[0].key


def test_bad_references_are_refused_before_pricing(client, sandbox, cast, home) -> None:
    from aurous_nb.client import ValidationError
    from aurous_nb.work.spec import image

    ledger = Ledger(home / "ledger.sqlite")
    with pytest.raises(ValidationError, match=r"reference_images\[1\].*no such file"):
        Batch([image("a", reference_images=[png((1, 2, 3)), home / "nope.png"])], client=client)
    with pytest.raises(ValidationError, match="no such file"):  # a lone surrogate prints too
        Batch([image("a", reference_images=["ph\udce9oto.png"])], client=client, ledger=ledger)
    with pytest.raises(ValidationError, match="http:// URLs are refused"):
        batch(client, home, params={"reference_images": ["http://example.com/a.png"]})
    with pytest.raises(ValidationError, match="not a PNG, JPEG or WebP"):
        batch(client, home, axes={"reference_images": [[b"not an image"]]})
    with pytest.raises(ValidationError, match="at most 8"):
        batch(client, home, params={"reference_images": [png((1, 1, 1))] * 9})
    with pytest.raises(ValidationError, match="cannot be used with character_id"):
        batch(client, home, characters=["Ana"], params={"reference_images": [png((1, 2, 3))]})
    assert totals(sandbox)["files_uploaded"] == 0 and generations(sandbox) == []


async def test_magic_grid_ref_option(client, sandbox, home, capsys, monkeypatch) -> None:
    monkeypatch.chdir(home)
    saved(picture((5, 90, 200)), home / "photo.png")
    with aurous_shell(client) as ip:
        ip.user_ns["pic"] = picture((5, 90, 200))  # the same picture, named by {{pic}}
        cell = '%aurous grid "on a boat" "in the rain" --ref photo.png'
        result, out = run(ip, capsys, cell)
        assert result.success, out
        grid = await result.result.ready()
        assert grid.quote.total == 2 and totals(sandbox)["files_uploaded"] == 0
        await grid.run()
        assert totals(sandbox)["files_uploaded"] == 1 and len(generations(sandbox)) == 2
        result, out = run(ip, capsys, '%aurous grid "on a boat" "in the rain" --ref {{pic}}')
        assert result.success, out
        assert (await result.result.ready()).quote.total == 0  # the same content: bought
        result, out = run(ip, capsys, '%aurous grid "a" --ref photo.png --ref missing.png')
        assert not result.success and "--ref 2: no such file" in out, out
    assert totals(sandbox)["files_uploaded"] == 1 and len(generations(sandbox)) == 2

"""The characters axis in ``Batch.grid(characters=...)`` and ``%aurous grid --character A,B``
(or ``--vary character=A,B``), against the real sandbox: names resolve to ids before anything
is priced, each create carries its ``character_id``, rows name the character, re-runs buy 0."""

from __future__ import annotations

import io
from collections.abc import Iterator
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
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("AUROUS_NB_HOME", str(tmp_path))
    return tmp_path


@pytest.fixture
def sandbox() -> Iterator[Sandbox]:
    with Sandbox(latency=0.1, credits=100, time_factor=20) as sb:
        yield sb


@pytest.fixture
def client(sandbox: Sandbox) -> Iterator[Client]:
    with Client(api_key=sandbox.api_key, base_url=sandbox.base_url) as c:
        yield c


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

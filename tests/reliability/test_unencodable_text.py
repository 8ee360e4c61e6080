"""Text that cannot be sent as UTF-8 (a lone surrogate such as ``"\\ud800"``, what
``errors="surrogateescape"`` or a sliced UTF-16 pair leaves behind) is refused before anything is
sent or recorded, with a typed ``ValidationError`` naming the field; the sandbox answers such a
body 400 without charging and stays healthy.

Before the fix: the client sent it and retried (5 requests, ~4.5 s), the sandbox answered 500,
charged 4.75 credits for a keyless create and from then on answered 500 to ``GET /v1/images`` and
``/_sandbox/ledger``; ``jobs.submit``, ``Batch``, ``PromptGrid``, the panel and the magic raised a
raw ``UnicodeEncodeError``. The property-based strategies of ``test_bad_input.py`` and
``tests/sandbox/test_fuzz.py`` now include such text too.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from IPython.core.interactiveshell import InteractiveShell

from aurous_nb.client import Client, ValidationError
from aurous_nb.notebook import session as sessions
from aurous_nb.notebook.session import Session
from aurous_nb.sandbox import Sandbox
from aurous_nb.store.ledger import Ledger
from aurous_nb.work import jobs
from aurous_nb.work.batch import Batch
from tests.magic_cells import aurous_shell

LONE = "a \ud800 cat"  # a high surrogate with no partner
ESCAPED = "caf\udce9.png"  # a byte that did not decode, kept by errors="surrogateescape"
PAIR = "a \ud83d\ude00"  # an emoji as two UTF-16 halves: still not UTF-8 text in Python
BAD = [LONE, ESCAPED, PAIR]


@pytest.fixture(scope="module")
def sandbox() -> Iterator[Sandbox]:
    with Sandbox(latency=0.05, credits=1000, time_factor=20) as sb:
        yield sb


@pytest.fixture
def sent() -> list[httpx.Request]:
    return []


@pytest.fixture
def client(sandbox: Sandbox, sent: list[httpx.Request]) -> Iterator[Client]:
    http = httpx.Client(timeout=10, event_hooks={"request": [sent.append]})
    with Client(api_key=sandbox.api_key, base_url=sandbox.base_url, http_client=http) as c:
        yield c
    http.close()


def totals(sb: Sandbox) -> tuple[int, float]:
    """The sandbox's own accounting: (generations created, credits charged)."""
    r = httpx.get(f"{sb.base_url}/_sandbox/ledger", timeout=10)
    assert r.status_code == 200, r.text
    t = r.json()["totals"]
    return t["generation_count"], t["credits_charged"]


def refused(exc: ValidationError, field: str) -> None:
    assert exc.param == field, (exc.param, str(exc))
    assert "UTF-8" in str(exc) and field in str(exc)


# -- the client ---------------------------------------------------------------------------------

CLIENT_CALLS: list[tuple[str, str, Any]] = [
    ("images.create prompt", "prompt", lambda c, t: c.images.create(t)),
    ("images.estimate prompt", "prompt", lambda c, t: c.images.estimate(t)),
    ("negative_prompt", "negative_prompt", lambda c, t: c.images.create("a", negative_prompt=t)),
    ("lora_id", "lora_id", lambda c, t: c.images.create("a", lora_id=t)),
    ("loras[0].lora", "loras[0].lora", lambda c, t: c.images.create("a", loras=[(t, 1.0)])),
    ("character_id", "character_id", lambda c, t: c.images.create("a", character_id=t)),
    ("video prompt", "prompt", lambda c, t: c.videos.create("seedance-1-lite", prompt=t)),
    ("video_lora_id", "video_lora_id", lambda c, t: c.videos.create(t)),
    ("images.get id", "id", lambda c, t: c.images.get(t)),
    ("list cursor", "starting_after", lambda c, t: c.images.list_page(starting_after=t)),
    ("raw request path", "path", lambda c, t: c.request("GET", f"/v1/images/{t}")),
    (
        "raw request params",
        "params.q",
        lambda c, t: c.request("GET", "/v1/images", params={"q": t}),
    ),
    (
        "raw request body",
        "prompt",
        lambda c, t: c.request("POST", "/v1/images", json={"prompt": t}),
    ),
    (
        "webhook description",
        "description",
        lambda c, t: c.webhook_endpoints.create("https://a.example/h", ["*"], description=t),
    ),
    (
        "webhook metadata",
        "metadata.note",
        lambda c, t: c.webhook_endpoints.create("https://a.example/h", ["*"], metadata={"note": t}),
    ),
]


@pytest.mark.parametrize("text", BAD, ids=["lone", "surrogateescape", "pair"])
@pytest.mark.parametrize("call", CLIENT_CALLS, ids=[c[0] for c in CLIENT_CALLS])
def test_client_refuses_before_sending(
    client: Client, sent: list[httpx.Request], call: tuple[str, str, Any], text: str
) -> None:
    _, field, fn = call
    with pytest.raises(ValidationError) as info:
        fn(client, text)
    refused(info.value, field)
    assert sent == []  # before: 5 requests (the 500 was retried)


def test_a_joined_pair_is_fine(client: Client, sent: list[httpx.Request]) -> None:
    est = client.images.estimate("a \U0001f600")
    assert est.amount > 0 and len(sent) == 1


# -- the notebook layer: jobs, Batch, grid, panel, magic -----------------------------------------


def test_jobs_submit_refuses_and_records_nothing(
    home: Path, client: Client, sandbox: Sandbox, sent: list[httpx.Request]
) -> None:
    before = totals(sandbox)
    ledger = Ledger(home / "ledger.sqlite3")
    with pytest.raises(ValidationError) as info:
        jobs.submit(client, ledger, "image", {"prompt": LONE})
    refused(info.value, "prompt")
    with pytest.raises(ValidationError) as info:
        jobs.submit(client, ledger, "image", {"prompt": "a", "negative_prompt": ESCAPED})
    refused(info.value, "negative_prompt")
    assert sent == [] and ledger.jobs() == [] and totals(sandbox) == before


@pytest.mark.parametrize("how", ["Batch", "Batch.grid"])
def test_batch_refuses_before_pricing(
    home: Path, client: Client, sandbox: Sandbox, sent: list[httpx.Request], how: str
) -> None:
    before = totals(sandbox)
    with pytest.raises(ValidationError) as info:
        if how == "Batch":
            Batch([{"prompt": "fine"}, {"prompt": LONE}], client=client).run()
        else:
            Batch.grid(["fine", PAIR], client=client).run()
    refused(info.value, "prompt")
    assert sent == [] and totals(sandbox) == before


@pytest.fixture
def widget_session(home: Path, sandbox: Sandbox, client: Client) -> Iterator[Session]:
    s = Session(client, sandbox=None, key_source="sandbox")
    sessions._set_current(s)
    yield s
    sessions._set_current(None)


def test_prompt_grid_refuses(
    widget_session: Session, sandbox: Sandbox, sent: list[httpx.Request]
) -> None:
    from aurous_nb.notebook.widgets import PromptGrid

    before = totals(sandbox)
    with pytest.raises(ValidationError) as info:
        PromptGrid(["fine", LONE], session=widget_session)
    refused(info.value, "prompt")
    assert sent == [] and totals(sandbox) == before


async def test_panel_refuses(
    widget_session: Session, sandbox: Sandbox, sent: list[httpx.Request]
) -> None:
    from aurous_nb.notebook.widgets import GenerationPanel

    before = totals(sandbox)
    panel = await GenerationPanel(widget_session, prompt="fine").ready()
    posts: list[httpx.Request] = []

    async def seen(request: httpx.Request) -> None:
        if request.method == "POST":
            posts.append(request)

    widget_session.aclient._http.event_hooks["request"].append(seen)
    panel.prompt.value = ESCAPED
    with pytest.raises(ValidationError) as info:
        await panel.generate()
    refused(info.value, "prompt")
    assert "prompt" in (panel.error or "")
    await panel._pricer.flush()  # the estimate of the new prompt is refused unsent too
    assert posts == [] and totals(sandbox) == before and widget_session.ledger.jobs() == []
    await asyncio.sleep(0.1)  # let the panel's own background reads finish
    await widget_session.aclient.close()


@pytest.fixture
def ip(home: Path, sandbox: Sandbox, client: Client) -> Iterator[InteractiveShell]:
    with aurous_shell(client) as shell:
        yield shell


@pytest.mark.parametrize(
    ("line", "field"),
    [
        ("%aurous generate {{text}}", "prompt"),
        ("%aurous generate a cat --negative {{text}}", "negative_prompt"),
        ("%aurous estimate {{text}}", "prompt"),
        ("%aurous generate a cat --budget 100 --lora {{text}}", "lora_id"),
    ],
)
def test_magic_refuses_before_sending(
    ip: InteractiveShell,
    sandbox: Sandbox,
    sent: list[httpx.Request],
    line: str,
    field: str,
) -> None:
    before = totals(sandbox)
    ip.user_ns["text"] = ESCAPED
    result = ip.run_cell(line, store_history=False)
    exc = result.error_in_exec
    assert isinstance(exc, ValidationError), repr(exc)
    refused(exc, field)
    assert sent == [] and totals(sandbox) == before
    assert sessions.current().ledger.jobs() == []


# -- the sandbox ---------------------------------------------------------------------------------

SANDBOX_BODIES = [
    ("/v1/images", b'{"prompt": "a \\ud800 cat"}', "prompt"),
    ("/v1/images", b'{"prompt": "a", "negative_prompt": "\\udfff"}', "negative_prompt"),
    ("/v1/images/estimate", b'{"prompt": "a \\ud800 cat"}', "prompt"),
    ("/v1/videos", b'{"video_lora_id": "seedance-1-lite", "prompt": "\\ud800"}', "prompt"),
    ("/v1/images", b'{"prompt": "a", "loras": [{"lora": "\\ud800"}]}', "loras[0].lora"),
    ("/v1/webhook_endpoints", b'{"url": "https://a.example/h", "\\ud800": 1}', "\\ud800"),
]


@pytest.mark.parametrize("keyed", [False, True], ids=["no-key", "idempotency-key"])
@pytest.mark.parametrize(("path", "body", "field"), SANDBOX_BODIES)
def test_sandbox_answers_400_charges_nothing_and_stays_healthy(
    sandbox: Sandbox, path: str, body: bytes, field: str, keyed: bool
) -> None:
    headers = {"X-Api-Key": sandbox.api_key, "Content-Type": "application/json"}
    if keyed:
        headers["Idempotency-Key"] = f"k-{path}-{body.hex()[:40]}"
    with httpx.Client(base_url=sandbox.base_url, headers=headers, timeout=10) as raw:
        before = raw.get("/v1/balance").json()["available_credits"], totals(sandbox)
        r = raw.post(path, content=body)
        assert r.status_code == 400, r.text  # before: 500, and 4.75 credits charged
        error = r.json()["error"]
        assert error["code"] == "invalid_format" and error["param"] == field
        assert "UTF-8" in error["message"]
        assert (raw.get("/v1/balance").json()["available_credits"], totals(sandbox)) == before
        assert raw.get("/v1/images").status_code == 200  # before: 500 from then on
        assert raw.get("/v1/webhook_endpoints").status_code == 200


def test_sandbox_refuses_unencodable_file_metadata(sandbox: Sandbox) -> None:
    import io

    from PIL import Image

    png = io.BytesIO()
    Image.new("RGB", (64, 64)).save(png, "PNG")
    headers = {"X-Api-Key": sandbox.api_key}
    with httpx.Client(base_url=sandbox.base_url, headers=headers, timeout=10) as raw:
        r = raw.post(
            "/v1/files",
            files={"file": ("x.png", png.getvalue(), "image/png")},
            data={"purpose": "reference", "metadata": '{"note": "\\ud800"}'},
        )
        assert r.status_code == 400, r.text  # before: 500
        assert r.json()["error"]["param"] == "metadata.note"

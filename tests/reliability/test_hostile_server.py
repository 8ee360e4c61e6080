"""Never trust what a server sends (issue 13, items 4 and 5).

A hostile, buggy or man-in-the-middle server answers through a real loopback socket
(``hostile.Hostile``): ids that are paths, bodies that are not objects, endless or slow bodies,
broken gzip, silly rate-limit headers, unusable output URLs. Every answer ends in a typed
:class:`AurousError`, within the request's timeout and the size caps, and the outputs cache never
writes or deletes a file outside ``$AUROUS_NB_HOME``. Figures are counts (requests, bytes,
files), never seconds.
"""

from __future__ import annotations

import asyncio
import tracemalloc
import warnings
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import hostile
import pytest
from IPython.core.interactiveshell import InteractiveShell

from aurous_nb.client import (
    APITimeoutError,
    AsyncClient,
    AurousError,
    Client,
    InsecureURLWarning,
    InvalidResponseError,
    RateLimitError,
)
from aurous_nb.store import outputs
from aurous_nb.store.ledger import Ledger
from tests.magic_cells import aurous_shell

KEY = "al_live_" + "h0st1le" * 6
MiB = 1 << 20


def call(kind: str, base_url: str, op: Callable[[Any], Any], **options: Any) -> Any:
    """``op(client)`` on a fresh Client (``kind="sync"``) or AsyncClient (awaited)."""
    if kind == "sync":
        with Client(api_key=KEY, base_url=base_url, **options) as client:
            return op(client)

    async def go() -> Any:
        async with AsyncClient(api_key=KEY, base_url=base_url, **options) as client:
            return await op(client)

    return asyncio.run(go())


@pytest.fixture(params=["sync", "async"])
def kind(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def server() -> Iterator[hostile.Hostile]:
    with hostile.Hostile() as srv:
        yield srv


def files_under(root: Path) -> dict[Path, bytes]:
    return {p: p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


# ------------------------------------------------------------------ item 4: ids are not paths

#: Ids a server might send that would name a path outside the cache, or nothing at all.
HOSTILE_IDS = [
    "../../../outside/x",
    "img_../../../outside/x",
    "/tmp/abs",
    "img_a/../../../../outside/x",
    "..",
    "",
    "img_",
    "img_" + "a" * 65,
    "img_ok\x00",
    "img_\u0661\u0662",  # Arabic-Indic digits: alphanumeric to str.isalnum, not an API id
    "vid_a b",
    "lora_01ABC",
]


@pytest.fixture
def shell(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[InteractiveShell]:
    monkeypatch.setenv("AUROUS_NB_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("AUROUS_API_KEY", KEY)
    monkeypatch.setenv("AUROUS_NB_AUTO_DOWNLOAD", "1")
    monkeypatch.delenv("AUROUS_BASE_URL", raising=False)
    monkeypatch.chdir(tmp_path)
    with aurous_shell() as ip:
        yield ip


def test_a_traversal_id_through_the_magic_touches_nothing_outside_home(
    shell: InteractiveShell, server: hostile.Hostile, tmp_path: Path
) -> None:
    # home/outputs/sandbox/<id>/0.png with id ../../../outside/x is tmp_path/outside/x/0.png
    witness = tmp_path / "outside" / "x" / "0.jpg"
    witness.parent.mkdir(parents=True)
    witness.write_bytes(b"precious")
    hostile.fake_api(server, "../../../outside/x")
    assert shell.run_cell(f"%aurous connect --base-url {server.base_url}").success
    result = shell.run_cell('%aurous generate "a fox"')
    # before: success, outside/x/0.png written and outside/x/0.jpg deleted
    assert isinstance(result.error_in_exec, InvalidResponseError)
    assert files_under(tmp_path / "outside") == {witness: b"precious"}
    assert server.requests["GET /out/"] == 0


@pytest.mark.parametrize("bad_id", HOSTILE_IDS)
def test_the_client_refuses_an_id_that_is_not_an_api_id(
    kind: str, server: hostile.Hostile, bad_id: str
) -> None:
    server.on(
        "GET", "/v1/images/", lambda ex: hostile.json_reply(hostile.generation(server, bad_id))
    )
    server.on(
        "GET",
        "/v1/images",
        lambda ex: hostile.json_reply({"data": [hostile.generation(server, bad_id)]}),
    )
    server.on(
        "POST", "/v1/images", lambda ex: hostile.json_reply(hostile.generation(server, bad_id))
    )
    for op in (
        lambda c: c.images.get("img_1"),
        lambda c: c.images.list_page(),
        lambda c: c.images.create("a fox"),
    ):
        with pytest.raises(InvalidResponseError) as info:
            call(kind, server.base_url, op, max_retries=0)
        assert info.value.param == "id"
    assert server.total_requests == 3


def test_ids_shaped_like_the_sandbox_s_are_accepted(kind: str, server: hostile.Hostile) -> None:
    from aurous_nb.sandbox.ids import new_id

    ids = [new_id("img"), new_id("vid"), "img_a", "vid_" + "Z9" * 32]
    server.on(
        "GET",
        "/v1/images",
        lambda ex: hostile.json_reply({"data": [hostile.generation(server, i) for i in ids]}),
    )
    page = call(kind, server.base_url, lambda c: c.images.list_page())
    assert [g.id for g in page] == ids


@pytest.mark.parametrize("bad_id", HOSTILE_IDS)
def test_the_outputs_cache_never_leaves_home(
    server: hostile.Hostile, tmp_path: Path, bad_id: str
) -> None:
    """Ids that reach the cache without the client's parser (a dict, an old ledger row)."""
    home = tmp_path / "a" / "b" / "home"
    witness = tmp_path / "outside" / "x" / "0.jpg"
    witness.parent.mkdir(parents=True)
    witness.write_bytes(b"precious")
    hostile.fake_api(server, "img_1")
    ledger = Ledger(home / "ledger.sqlite3")
    payload = hostile.generation(server, bad_id)
    with (
        Client(api_key=KEY, base_url=server.base_url, max_retries=0) as client,
        pytest.raises((AurousError, ValueError)),
    ):
        outputs.download_outputs(client, ledger, payload, retries=0)
    ledger.close()
    assert files_under(tmp_path / "outside") == {witness: b"precious"}
    assert [p for p in files_under(tmp_path) if home not in p.parents and p != witness] == []


def test_plain_http_to_another_host_warns_once() -> None:
    with warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter("always")
        for _ in range(3):
            Client(api_key=KEY, base_url="http://api.example.invalid").close()
        Client(api_key=KEY, base_url="http://127.0.0.1:9").close()
        Client(api_key=KEY, base_url="http://localhost:9").close()
        Client(api_key=KEY, base_url="https://api.example.invalid").close()
    insecure = [w for w in seen if issubclass(w.category, InsecureURLWarning)]
    assert len(insecure) == 1
    assert "api.example.invalid" in str(insecure[0].message)
    assert KEY not in str(insecure[0].message)


# ------------------------------------------------------------ item 5: typed, bounded answers

MALFORMED = [
    b"{",
    b"[]",
    b"null",
    b"5",
    b'"text"',
    b"\xff\xfe{}",
    b'{"data": 5}',
    b"[{}]",
    b"[" * 100_000,  # RecursionError in json.loads
]


def _reads() -> list[Callable[[Any], Any]]:
    return [
        lambda c: c.balance(),
        lambda c: c.team(),
        lambda c: c.pricing(),
        lambda c: c.images.get("img_1"),
        lambda c: c.images.list_page(),
        lambda c: c.images.create("a fox"),
        lambda c: c.images.estimate("a fox"),
        lambda c: c.loras.list(),
        lambda c: c.webhook_endpoints.list(),
        lambda c: c.files.get("file_1"),
        lambda c: c.usage("2026-01-01T00:00:00Z"),
    ]


@pytest.mark.parametrize("body", MALFORMED)
def test_a_malformed_200_gives_a_typed_error_or_an_empty_model(
    kind: str, server: hostile.Hostile, body: bytes
) -> None:
    server.on("GET", "/", lambda ex: hostile.reply(body))
    server.on("POST", "/", lambda ex: hostile.reply(body, 201))
    raw = []
    for op in _reads():
        try:
            call(kind, server.base_url, op, max_retries=0)
        except AurousError:
            pass
        except Exception as exc:  # before: JSONDecodeError, AttributeError, TypeError
            raw.append(f"{type(exc).__name__}: {exc}")
    assert raw == []
    assert server.total_requests == len(_reads())


def test_a_broken_gzip_body_is_a_typed_error(kind: str, server: hostile.Hostile) -> None:
    server.on("GET", "/", lambda ex: hostile.broken_gzip({"credits": 1}))
    with pytest.raises(InvalidResponseError):  # before: httpx.DecodingError
        call(kind, server.base_url, lambda c: c.balance(), max_retries=0)


def test_retry_after_nan_backs_off(kind: str, server: hostile.Hostile) -> None:
    server.on(
        "GET",
        "/",
        lambda ex: hostile.json_reply(
            {"error": {"code": "rate_limit_exceeded"}}, 429, {"Retry-After": "nan"}
        ),
    )
    with pytest.raises(RateLimitError) as info:
        call(kind, server.base_url, lambda c: c.balance(), retry_budget=5)
    assert info.value.retry_after is None
    assert server.total_requests <= 8  # before: 92 requests in the 5 s budget


@pytest.mark.parametrize("value", ["inf", "-inf", "nan", "1e400", "-5", "x"])
def test_rate_limit_headers_that_are_not_numbers_are_ignored(
    kind: str, server: hostile.Hostile, value: str
) -> None:
    headers = {
        "X-RateLimit-Limit": value,
        "X-RateLimit-Remaining": value,
        "X-RateLimit-Reset": value,
    }
    server.on("GET", "/", lambda ex: hostile.json_reply({"credits": 3}, headers=headers))

    async def twice(c: Any) -> Any:  # the second call is paced by what the first one learned
        await c.balance()
        return await c.balance()

    op = (lambda c: (c.balance(), c.balance())[1]) if kind == "sync" else twice
    assert call(kind, server.base_url, op).credits == 3  # before: OverflowError on inf
    assert server.total_requests == 2


@pytest.mark.parametrize(
    "url", ["ftp://x/y", "not a url", "http://[::1", "http://", "file:///etc/passwd", ""]
)
def test_a_bad_output_url_is_a_typed_error(
    kind: str, server: hostile.Hostile, tmp_path: Path, url: str
) -> None:
    gen = {**hostile.generation(server, "img_1"), "output_urls": [url]}
    server.on("GET", "/", lambda ex: hostile.json_reply(gen))
    with pytest.raises(InvalidResponseError):  # before: httpx.InvalidURL for http://[::1
        call(kind, server.base_url, lambda c: c.images.download("img_1"), max_retries=0)
    with pytest.raises(InvalidResponseError):
        call(
            kind,
            server.base_url,
            lambda c: c.images.download_to("img_1", 0, tmp_path / "x.png"),
            max_retries=0,
        )
    assert list(tmp_path.iterdir()) == []
    assert server.total_requests == 2  # only the two GETs of the generation


def test_a_slow_loris_is_cut_at_the_timeout(kind: str, server: hostile.Hostile) -> None:
    # 40 bytes, one every 0.5 s: 20 s in all, each byte well inside the 2 s read timeout
    body = b'{"credits": 1, "pad": "' + b"a" * 15 + b'"}'
    server.on("GET", "/", lambda ex: hostile.drip(body, 0.5))
    with pytest.raises(APITimeoutError):  # before: the whole body, 22 s, a Balance
        call(kind, server.base_url, lambda c: c.balance(), timeout=2, max_retries=0)
    server.settle()
    assert server.requests["GET /"] == 1
    assert server.unsent > 0  # the client hung up with bytes still to come
    assert server.finished == 0


@pytest.mark.parametrize("length", [True, False], ids=["content-length", "read-to-close"])
def test_a_300_mb_answer_is_refused_in_bounded_memory(
    kind: str, server: hostile.Hostile, length: bool
) -> None:
    server.on("GET", "/", lambda ex: hostile.flood(300_000_000, length=length))
    tracemalloc.start()
    try:
        with pytest.raises(InvalidResponseError):  # before: read whole, +900 MB traced
            call(kind, server.base_url, lambda c: c.balance(), max_retries=0)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    server.settle()
    assert peak < 64 * MiB
    assert server.unsent > 200_000_000  # most of it was never even sent
    assert server.requests["GET /"] == 1


def test_an_output_over_one_gib_is_refused_before_it_is_read(
    kind: str, server: hostile.Hostile, tmp_path: Path
) -> None:
    server.on(
        "GET", "/v1/images/", lambda ex: hostile.json_reply(hostile.generation(server, "img_1"))
    )
    server.on("GET", "/out/", lambda ex: hostile.flood(3 << 30, length=True))
    with pytest.raises(InvalidResponseError):
        call(
            kind,
            server.base_url,
            lambda c: c.images.download_to("img_1", 0, tmp_path / "big.png"),
            max_retries=0,
        )
    assert list(tmp_path.iterdir()) == []  # no file, no part-file
    server.settle()
    assert server.unsent > (3 << 30) - 64 * MiB


def test_an_endless_output_without_length_stops_at_the_cap(
    kind: str, server: hostile.Hostile, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from aurous_nb.client import _limits

    monkeypatch.setattr(_limits, "MAX_OUTPUT_BYTES", 32 * MiB)  # 1 GiB in the product
    server.on(
        "GET", "/v1/images/", lambda ex: hostile.json_reply(hostile.generation(server, "img_1"))
    )
    server.on("GET", "/out/", lambda ex: hostile.flood(3 << 30, length=False))
    with pytest.raises(InvalidResponseError):
        call(
            kind,
            server.base_url,
            lambda c: c.images.download_to("img_1", 0, tmp_path / "big.png"),
            max_retries=0,
        )
    assert list(tmp_path.iterdir()) == []
    server.settle()
    assert server.sent < 64 * MiB + 1 * MiB  # the cap plus what sat in socket buffers


def test_the_hostile_id_scenario_of_the_soak(tmp_path: Path) -> None:
    import scenarios

    out = scenarios.run_hostile_ids(30, tmp_path)
    assert out.problems == []
    assert out.extra == {"tried": 90, "refused": 90, "untyped": 0, "escaped": 0, "deleted": 0}

"""Retry, idempotency and pacing decisions, with exact sequences (MockTransport)."""

from __future__ import annotations

from collections.abc import Callable

import httpx
import pytest
from client_support import GEN_JSON, Api, aclose, error_body, mock_api

from aurous_nb.client import (
    APIConnectionError,
    APITimeoutError,
    AsyncClient,
    Client,
    IdempotencyConflictError,
    RateLimitError,
    ServerError,
)
from aurous_nb.client._core import RateLimiter

KINDS = ["sync", "async"]
T0 = 1_800_000_000
Handler = Callable[[httpx.Request], httpx.Response]


async def run(c: Client | AsyncClient, fn: object) -> object:
    return await Api("x", c)(fn)  # type: ignore[arg-type]


def sequence(*steps: object) -> tuple[Handler, list[httpx.Request]]:
    """A handler answering with ``steps`` in order (an exception instance is raised)."""
    seen: list[httpx.Request] = []
    queue = list(steps)

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        step = queue.pop(0)
        if isinstance(step, Exception):
            raise step
        assert isinstance(step, httpx.Response)
        return step

    return handler, seen


def created() -> httpx.Response:
    return httpx.Response(201, json=GEN_JSON)


def in_flight() -> httpx.Response:
    return error_body(409, "idempotency_key_in_use", param="Idempotency-Key")


@pytest.mark.parametrize("kind", KINDS)
async def test_409_in_flight_then_success(kind: str) -> None:
    handler, seen = sequence(in_flight(), in_flight(), in_flight(), created())
    sleeps: list[float] = []
    c = mock_api(kind, handler, sleeps)
    try:
        gen = await run(c, lambda c: c.images.create("p"))
    finally:
        await aclose(c)
    assert gen.id == "img_01TEST"
    assert sleeps == [0.5, 1.0, 2.0]
    keys = {r.headers["idempotency-key"] for r in seen}
    assert len(seen) == 4 and len(keys) == 1
    assert len(keys.pop()) == 36  # a uuid4


@pytest.mark.parametrize("kind", KINDS)
async def test_409_gives_up_after_conflict_retries(kind: str) -> None:
    handler, seen = sequence(*[in_flight() for _ in range(7)])
    sleeps: list[float] = []
    c = mock_api(kind, handler, sleeps)
    try:
        with pytest.raises(IdempotencyConflictError):
            await run(c, lambda c: c.images.create("p", idempotency_key="k1"))
    finally:
        await aclose(c)
    assert sleeps == [0.5, 1.0, 2.0, 4.0, 8.0, 8.0]
    assert [r.headers["idempotency-key"] for r in seen] == ["k1"] * 7


@pytest.mark.parametrize("kind", KINDS)
async def test_retry_after_is_honoured_and_capped(kind: str) -> None:
    limited = error_body(429, "too_many_requests", "rate_limit", headers={"Retry-After": "3"})
    huge = error_body(429, "too_many_requests", "rate_limit", headers={"Retry-After": "100"})
    handler, seen = sequence(limited, huge, httpx.Response(200, json={"credits": 5}))
    sleeps: list[float] = []
    c = mock_api(kind, handler, sleeps)
    try:
        bal = await run(c, lambda c: c.balance())
    finally:
        await aclose(c)
    assert bal.credits == 5
    assert sleeps == [3.0, 30.0]
    assert len(seen) == 3


@pytest.mark.parametrize("kind", KINDS)
async def test_5xx_backoff_with_jitter_for_gets(kind: str) -> None:
    handler, seen = sequence(
        error_body(503, "provider_unavailable", "server_error"),
        error_body(500, "internal_error", "server_error"),
        httpx.ConnectError("refused"),
        httpx.Response(200, json={"credits": 1}),
    )
    sleeps: list[float] = []
    c = mock_api(kind, handler, sleeps)
    try:
        await run(c, lambda c: c.balance())
    finally:
        await aclose(c)
    assert len(seen) == 4 and len(sleeps) == 3
    for attempt, s in enumerate(sleeps):
        base = 0.5 * 2**attempt
        assert base / 2 <= s <= base


@pytest.mark.parametrize("kind", KINDS)
async def test_retry_budget_bounds_total_time(kind: str) -> None:
    handler, seen = sequence(*[error_body(500, "internal_error", "server_error")] * 50)
    sleeps: list[float] = []
    c = mock_api(kind, handler, sleeps, max_retries=40, retry_budget=5.0)
    try:
        with pytest.raises(ServerError):
            await run(c, lambda c: c.balance())
    finally:
        await aclose(c)
    assert sum(sleeps) <= 5.0
    assert len(seen) == len(sleeps) + 1 >= 3


@pytest.mark.parametrize("kind", KINDS)
async def test_max_retries_zero_disables_retries(kind: str) -> None:
    limited = error_body(429, "too_many_requests", "rate_limit", headers={"Retry-After": "1"})
    handler, seen = sequence(limited)
    sleeps: list[float] = []
    c = mock_api(kind, handler, sleeps, max_retries=0)
    try:
        with pytest.raises(RateLimitError):
            await run(c, lambda c: c.balance())
    finally:
        await aclose(c)
    assert sleeps == [] and len(seen) == 1


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize(
    ("fault", "error"),
    [
        (lambda: error_body(500, "internal_error", "server_error"), ServerError),
        (lambda: httpx.ReadTimeout("slow"), APITimeoutError),
        (lambda: httpx.RemoteProtocolError("dropped"), APIConnectionError),
    ],
)
async def test_non_idempotent_post_is_not_retried_once_delivered(
    kind: str, fault: Callable[[], object], error: type[Exception]
) -> None:
    handler, seen = sequence(fault(), httpx.Response(201, json={"id": "we_1"}))
    c = mock_api(kind, handler)
    try:
        with pytest.raises(error):
            await run(c, lambda c: c.webhook_endpoints.create("https://x.test/h", ["*"]))
    finally:
        await aclose(c)
    assert len(seen) == 1  # a second endpoint (and secret) must not be created


@pytest.mark.parametrize("kind", KINDS)
async def test_non_idempotent_post_retried_when_never_sent(kind: str) -> None:
    handler, seen = sequence(
        httpx.ConnectError("refused"), httpx.Response(201, json={"id": "we_1"})
    )
    c = mock_api(kind, handler)
    try:
        ep = await run(c, lambda c: c.webhook_endpoints.create("https://x.test/h", ["*"]))
    finally:
        await aclose(c)
    assert ep.id == "we_1" and len(seen) == 2


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize(
    "fault", [httpx.ReadTimeout("slow"), httpx.RemoteProtocolError("dropped"), "500"]
)
async def test_create_retried_with_same_key_after_lost_response(kind: str, fault: object) -> None:
    first = error_body(500, "internal_error", "server_error") if fault == "500" else fault
    handler, seen = sequence(first, httpx.Response(201, json=GEN_JSON))
    c = mock_api(kind, handler)
    try:
        gen = await run(c, lambda c: c.images.create("p", count=2))
    finally:
        await aclose(c)
    assert gen.id == "img_01TEST"
    assert len(seen) == 2
    assert seen[0].headers["idempotency-key"] == seen[1].headers["idempotency-key"]
    assert seen[0].content == seen[1].content == b'{"count":2,"prompt":"p"}'


@pytest.mark.parametrize("kind", KINDS)
async def test_cancel_is_retried(kind: str) -> None:
    handler, seen = sequence(httpx.ReadTimeout("slow"), httpx.Response(200, json=GEN_JSON))
    c = mock_api(kind, handler)
    try:
        await run(c, lambda c: c.images.cancel("img_01TEST"))
    finally:
        await aclose(c)
    assert [r.url.path for r in seen] == ["/v1/images/img_01TEST/cancel"] * 2


@pytest.mark.parametrize("kind", KINDS)
async def test_headers_version_and_download_without_key(kind: str) -> None:
    seen: list[httpx.Request] = []
    done = {
        **GEN_JSON,
        "status": "succeeded",
        "output_urls": ["https://cdn.test/v1/images/img_01TEST/output/0?token=SECRET"],
    }

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        if request.url.host == "cdn.test":
            return httpx.Response(200, content=b"\x89PNGdata")
        return httpx.Response(200, json=done)

    c = mock_api(kind, handler, version="2026-05-15")
    try:
        gen = await run(c, lambda c: c.images.get("img_01TEST", version="2026-06-01"))
        data = await run(c, lambda c: c.images.download(gen))
    finally:
        await aclose(c)
    assert data == b"\x89PNGdata"
    api_req, dl = seen
    assert api_req.headers["x-api-key"].startswith("al_live_")
    assert api_req.headers["aurous-version"] == "2026-06-01"
    assert "x-api-key" not in dl.headers and "authorization" not in dl.headers
    assert "aurous-version" not in dl.headers
    assert dl.url.params["token"] == "SECRET"


def test_limiter_paces_from_headers() -> None:
    now = [T0]
    lim = RateLimiter(clock=lambda: now[0])
    assert lim.acquire("images_post") == 0.0  # unknown bucket: go
    lim.update(
        "images_post",
        {
            "x-ratelimit-limit": "10",
            "x-ratelimit-remaining": "0",
            "x-ratelimit-reset": str(T0 + 10),
        },
        200,
    )
    assert lim.acquire("images_post") == pytest.approx(1.0)  # 10 tokens in 10 s
    assert lim.acquire("images_post") == pytest.approx(2.0)  # the next waiter queues behind
    now[0] += 3.0
    assert lim.acquire("images_post") == pytest.approx(0.0)  # 3 tokens back, 2 reserved
    snap = lim.snapshot()["images_post"]
    assert (snap.limit, snap.remaining, snap.reset) == (10, 0, T0 + 10)
    # unprefixed IETF names, reset as delta seconds
    lim.update(
        "read", {"ratelimit-limit": "5", "ratelimit-remaining": "4", "ratelimit-reset": "2"}, 200
    )
    assert lim.snapshot()["read"].reset == pytest.approx(T0 + 5)
    assert lim.acquire("read") == 0.0


def test_limiter_after_429() -> None:
    now = [T0]
    lim = RateLimiter(clock=lambda: now[0])
    lim.update(
        "files",
        {
            "x-ratelimit-limit": "60",
            "x-ratelimit-remaining": "0",
            "x-ratelimit-reset": str(T0 + 120),
            "retry-after": "2",
        },
        429,
    )
    assert lim.acquire("files") == pytest.approx(2.0)


def test_policy_precedence() -> None:
    from client_support import KEY

    from aurous_nb.client import RetryPolicy

    mine = RetryPolicy(max_retries=9, budget=7.0, backoff_initial=0.1)
    with Client(api_key=KEY, retry=mine) as c:
        assert c._core.retry == mine and c.max_retries == 9
        assert c.with_options(max_retries=2)._core.retry.max_retries == 2
        assert c.with_options(max_retries=2)._core.retry.backoff_initial == 0.1
    with Client(api_key=KEY, retry=mine, max_retries=1) as c:
        assert c._core.retry.max_retries == 1 and c._core.retry.budget == 7.0
    with Client(api_key=KEY, max_retries=0, retry_budget=3.0) as c:
        assert (c._core.retry.max_retries, c._core.retry.budget) == (0, 3.0)


@pytest.mark.parametrize("kind", KINDS)
async def test_key_reused_for_another_body_fails_fast(kind: str) -> None:
    handler, seen = sequence(created(), created())
    c = mock_api(kind, handler)
    try:
        await run(c, lambda c: c.images.create("one", idempotency_key="dup"))
        await run(c, lambda c: c.images.create("one", idempotency_key="dup"))  # same: fine
        with pytest.raises(IdempotencyConflictError, match="different request"):
            await run(
                c, lambda c: c.with_options(timeout=5).images.create("two", idempotency_key="dup")
            )
    finally:
        await aclose(c)
    assert len(seen) == 2


def _output_server(fresh_works: bool) -> tuple[Handler, list[str]]:
    """GET row -> URLs with token N; token 1 has expired (410); later tokens work if asked."""
    log: list[str] = []
    minted = [0]

    def handler(request: httpx.Request) -> httpx.Response:
        path = request.url.path
        log.append(f"{path}?{request.url.query.decode()}")
        if path == "/v1/images/img_01TEST":
            minted[0] += 1
            url = f"https://api.test/v1/images/img_01TEST/output/0?token=T{minted[0]}"
            return httpx.Response(
                200, json={**GEN_JSON, "status": "succeeded", "output_urls": [url]}
            )
        if request.url.params["token"] == "T1" or not fresh_works:
            return error_body(410, "output_expired", "not_found")
        return httpx.Response(200, content=b"\x89PNG fresh")

    return handler, log


@pytest.mark.parametrize("kind", KINDS)
async def test_410_refetches_fresh_urls_once(kind: str) -> None:
    handler, log = _output_server(fresh_works=True)
    c = mock_api(kind, handler)
    try:
        data = await run(c, lambda c: c.images.download("img_01TEST"))
    finally:
        await aclose(c)
    assert data == b"\x89PNG fresh"
    assert log == [
        "/v1/images/img_01TEST?",
        "/v1/images/img_01TEST/output/0?token=T1",
        "/v1/images/img_01TEST?",
        "/v1/images/img_01TEST/output/0?token=T2",
    ]


@pytest.mark.parametrize("kind", KINDS)
async def test_410_after_refresh_raises_output_expired(kind: str) -> None:
    from aurous_nb.client import OutputExpiredError

    handler, log = _output_server(fresh_works=False)
    c = mock_api(kind, handler)
    try:
        with pytest.raises(OutputExpiredError) as info:
            await run(c, lambda c: c.images.download("img_01TEST"))
    finally:
        await aclose(c)
    assert len(log) == 4  # one refresh, not a loop
    text = str(info.value)
    assert "img_01TEST" in text and "expired" in text and "T2" not in text
    assert info.value.status == 410


class _Broken(httpx.SyncByteStream, httpx.AsyncByteStream):
    """A body that breaks after its first chunk (a connection lost mid-download)."""

    def __iter__(self):  # type: ignore[no-untyped-def]
        yield b"\x89PNG partial"
        raise httpx.ReadError("connection lost")

    async def __aiter__(self):  # type: ignore[no-untyped-def]
        yield b"\x89PNG partial"
        raise httpx.ReadError("connection lost")


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("retries", [0, 2])
async def test_download_to_never_leaves_a_partial_file(
    kind: str, retries: int, tmp_path: object
) -> None:
    from pathlib import Path

    target = Path(str(tmp_path)) / "out.png"
    done = {
        **GEN_JSON,
        "status": "succeeded",
        "output_urls": ["https://api.test/v1/images/img_01TEST/output/0?token=T"],
    }
    calls = [0]

    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("/output/0"):
            calls[0] += 1
            if calls[0] == 1:
                return httpx.Response(200, stream=_Broken())
            return httpx.Response(200, content=b"\x89PNG complete")
        return httpx.Response(200, json=done)

    c = mock_api(kind, handler, max_retries=retries)
    try:
        if retries == 0:
            with pytest.raises(APIConnectionError):
                await run(c, lambda c: c.images.download_to("img_01TEST", 0, target))
            assert list(target.parent.iterdir()) == []
        else:
            path = await run(c, lambda c: c.images.download_to("img_01TEST", 0, target))
            assert path == target and target.read_bytes() == b"\x89PNG complete"
            assert list(target.parent.iterdir()) == [target]
    finally:
        await aclose(c)


@pytest.mark.parametrize("kind", KINDS)
async def test_wait_returns_a_row_that_finished_while_cancelling(kind: str) -> None:
    rows = iter(["pending", "processing", "processing", "succeeded"])
    paths: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        paths.append(request.url.path)
        if request.url.path.endswith("/cancel"):
            return error_body(400, "generation_not_cancellable", param="id")
        return httpx.Response(200, json={**GEN_JSON, "status": next(rows)})

    sleeps: list[float] = []
    c = mock_api(kind, handler, sleeps)
    try:
        gen = await run(
            c,
            lambda c: c.images.wait(
                "img_01TEST", timeout=2.5, poll_interval=2.0, cancel_on_timeout=True
            ),
        )
    finally:
        await aclose(c)
    assert gen.status == "succeeded"
    assert sleeps == [2.0, 0.5]  # the second sleep is cut to the time left
    assert [p.rsplit("/", 1)[-1] for p in paths] == [
        "img_01TEST",
        "img_01TEST",
        "img_01TEST",
        "cancel",
        "img_01TEST",
    ]


@pytest.mark.parametrize("kind", KINDS)
async def test_download_index_is_checked_against_the_row(kind: str) -> None:
    from aurous_nb.client import OutputNotAvailableError, ValidationError

    done = {**GEN_JSON, "status": "succeeded", "output_urls": ["https://api.test/o/0?token=T"]}
    pending = {**GEN_JSON, "id": "img_02", "status": "pending"}

    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json=pending if "img_02" in request.url.path else done)

    c = mock_api(kind, handler)
    try:
        with pytest.raises(ValidationError, match="has 1 output"):
            await run(c, lambda c: c.images.download("img_01TEST", 1))
        with pytest.raises(OutputNotAvailableError, match="wait"):
            await run(c, lambda c: c.images.download("img_02"))
    finally:
        await aclose(c)

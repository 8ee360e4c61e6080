"""Every error type: from the sandbox where it can produce it, MockTransport otherwise."""

from __future__ import annotations

import time

import httpx
import pytest
from client_support import KEY, Api, aclose, error_body, ledger, make_api, mock_api

from aurous_nb.client import (
    APIConnectionError,
    APITimeoutError,
    AsyncClient,
    AurousError,
    AuthenticationError,
    Client,
    IdempotencyConflictError,
    InsufficientBalanceError,
    InvalidRequestError,
    NotFoundError,
    OutputExpiredError,
    OutputNotAvailableError,
    PermissionDeniedError,
    RateLimitError,
    RetryPolicy,
    ServerError,
    ValidationError,
)
from aurous_nb.sandbox import Sandbox

KINDS = ["sync", "async"]


async def run(c: Client | AsyncClient, fn: object) -> object:
    return await Api("x", c)(fn)  # type: ignore[arg-type]


@pytest.mark.parametrize("kind", KINDS)
async def test_invalid_key(kind: str, sandbox: Sandbox) -> None:
    bad = "al_live_" + "0" * 64
    c = (Client if kind == "sync" else AsyncClient)(api_key=bad, base_url=sandbox.base_url)
    try:
        with pytest.raises(AuthenticationError) as info:
            await run(c, lambda c: c.balance())
        err = info.value
        assert (err.status, err.type, err.code) == (401, "authentication", "invalid_api_key")
        assert err.doc_url == "https://docs.aurous-labs.com/errors#invalid_api_key"
        assert err.request_id and err.request_id.startswith("req_")
        assert bad not in str(err) and bad not in repr(err)
        assert str(err).startswith("401 invalid_api_key: ")
    finally:
        await aclose(c)


def test_missing_key_at_construction(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("AUROUS_API_KEY", raising=False)
    for cls in (Client, AsyncClient):
        with pytest.raises(AuthenticationError, match="AUROUS_API_KEY") as info:
            cls()
        assert info.value.code == "missing_api_key"


def test_env_defaults(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AUROUS_API_KEY", KEY)
    monkeypatch.setenv("AUROUS_BASE_URL", "http://127.0.0.1:9/")
    monkeypatch.setenv("AUROUS_VERSION", "2026-05-15")
    with Client() as c:
        assert c.base_url == "http://127.0.0.1:9"
        assert c.version == "2026-05-15"
    monkeypatch.delenv("AUROUS_BASE_URL")
    with Client() as c:
        assert c.base_url == "https://api.aurous-labs.com"
    with pytest.raises(ValidationError, match="version"):
        Client(version="May 2026")


@pytest.mark.parametrize("kind", KINDS)
async def test_server_side_invalid_request(kind: str, sandbox: Sandbox) -> None:
    c = make_api(kind, sandbox)
    try:
        with pytest.raises(InvalidRequestError) as info:  # bypasses client-side validation
            await run(
                c, lambda c: c.request("POST", "/v1/images", json={"prompt": "x", "count": 9})
            )
        assert info.value.status == 400
        assert info.value.param == "count"
        assert info.value.code == "value_out_of_range"
    finally:
        await aclose(c)


@pytest.mark.parametrize("kind", KINDS)
async def test_insufficient_balance(kind: str) -> None:
    with Sandbox(credits=1.0, latency=0.05, time_factor=50.0) as sb:
        c = make_api(kind, sb)
        try:
            with pytest.raises(InsufficientBalanceError) as info:
                await run(c, lambda c: c.images.create("too dear", count=4))
            assert (info.value.status, info.value.code) == (402, "balance_too_low")
            assert isinstance(info.value, InvalidRequestError)
            assert ledger(sb)["generations"] == []
        finally:
            await aclose(c)


@pytest.mark.parametrize("kind", KINDS)
async def test_idempotency_conflict_other_body(kind: str, sandbox: Sandbox) -> None:
    c = make_api(kind, sandbox, retry=RetryPolicy(conflict_initial=0.01, conflict_retries=2))
    other = make_api(kind, sandbox)  # another process, as far as the server can tell
    try:
        key = f"conflict-{kind}"
        await run(other, lambda c: c.images.create("first body", idempotency_key=key))
        with pytest.raises(IdempotencyConflictError) as info:
            await run(c, lambda c: c.images.create("second body", idempotency_key=key))
        assert (info.value.status, info.value.code) == (409, "idempotency_key_in_use")
        keys = [g["idempotency_key"] for g in ledger(sandbox)["generations"]]
        assert keys.count(key) == 1
        with pytest.raises(IdempotencyConflictError) as local:  # known locally: no request
            await run(other, lambda c: c.images.create("second body", idempotency_key=key))
        assert local.value.status is None
    finally:
        await aclose(c)
        await aclose(other)


@pytest.mark.parametrize("kind", KINDS)
async def test_in_flight_409_is_waited_out(kind: str, sandbox: Sandbox) -> None:
    """A create still in flight (X-Sandbox-Delay) answers 409 to the same key; the client
    waits and then receives the replay of the one generation."""
    import asyncio
    import threading

    key = f"in-flight-{kind}"
    first: dict[str, object] = {}
    with Client(api_key=sandbox.api_key, base_url=sandbox.base_url) as raw:

        def slow_create() -> None:
            first["body"] = raw.request(
                "POST",
                "/v1/images",
                json={"prompt": "slow"},
                idempotency_key=key,
                headers={"X-Sandbox-Delay": "1.5"},
            )

        t = threading.Thread(target=slow_create)
        t.start()
        await asyncio.sleep(0.5)
        c = make_api(kind, sandbox, retry=RetryPolicy(conflict_initial=0.2))
        try:
            gen = await run(c, lambda c: c.images.create("slow", idempotency_key=key))
        finally:
            await aclose(c)
        t.join()
    assert gen.id == first["body"]["id"]  # type: ignore[index]
    assert gen.idempotent_replayed is True
    keys = [g["idempotency_key"] for g in ledger(sandbox)["generations"]]
    assert keys.count(key) == 1


@pytest.mark.parametrize("kind", KINDS)
async def test_output_expired_and_not_available(kind: str) -> None:
    with Sandbox(latency=0.05, latency_spread=0.0, time_factor=50.0, output_ttl=0.3) as sb:
        c = make_api(kind, sb)
        try:
            gen = await run(c, lambda c: c.images.create("short lived"))
            done = await run(c, lambda c: c.images.wait(gen, poll_interval=0.05))
            time.sleep(0.5)
            with pytest.raises(OutputExpiredError) as info:
                await run(c, lambda c: c.images.download(done))
            assert info.value.code == "output_expired"
            assert "expired" in str(info.value) and "token" not in str(info.value)
            assert isinstance(info.value, NotFoundError)
            with pytest.raises(OutputExpiredError) as raw:
                await run(c, lambda c: c.request("GET", done.output_urls[0]))
            assert raw.value.status == 410
            assert "token=" not in str(raw.value)
            # 422: a moderated generation has no output (known locally, and from the server)
            bad = await run(c, lambda c: c.images.create("a forbidden thing"))
            bad = await run(c, lambda c: c.images.wait(bad, poll_interval=0.05))
            assert bad.status == "moderation_rejected"
            with pytest.raises(OutputNotAvailableError) as local:
                await run(c, lambda c: c.images.download(bad))
            assert local.value.status is None and "moderation_rejected" in str(local.value)
            with pytest.raises(OutputNotAvailableError) as info2:
                await run(c, lambda c: c.request("GET", f"/v1/images/{bad.id}/output/0"))
            assert info2.value.status == 422
        finally:
            await aclose(c)


@pytest.mark.parametrize("kind", KINDS)
async def test_stale_url_is_refreshed(kind: str, sandbox: Sandbox) -> None:
    """A 410 on a signed URL whose output still exists: refetch the row, retry once."""
    c = make_api(kind, sandbox)
    try:
        gen = await run(c, lambda c: c.images.create("refresh me"))
        done = await run(c, lambda c: c.images.wait(gen, poll_interval=0.05))
        from dataclasses import replace

        stale_url = done.output_urls[0].split("?")[0] + "?token=1.bad.bad"
        stale = replace(done, output_urls=(stale_url,))
        data = await run(c, lambda c: c.images.download(stale))
        assert data.startswith(b"\x89PNG")
    finally:
        await aclose(c)


@pytest.mark.parametrize("kind", KINDS)
async def test_rate_limited_without_retries(kind: str) -> None:
    with Sandbox(time_factor=1.0) as sb:
        c = make_api(kind, sb, max_retries=0)
        try:
            body = {"url": "https://example.com/hook", "events": ["image.completed"]}
            for _ in range(10):
                await run(c, lambda c: c.request("POST", "/v1/webhook_endpoints", json=body))
            with pytest.raises(RateLimitError) as info:
                await run(c, lambda c: c.request("POST", "/v1/webhook_endpoints", json=body))
            assert info.value.status == 429 and info.value.code == "too_many_requests"
            assert info.value.retry_after is not None and info.value.retry_after >= 1
        finally:
            await aclose(c)


@pytest.mark.parametrize("kind", KINDS)
async def test_connection_and_timeout_errors(kind: str, sandbox: Sandbox) -> None:
    c = (Client if kind == "sync" else AsyncClient)(
        api_key=KEY,
        base_url="http://127.0.0.1:9",
        max_retries=1,
        retry=RetryPolicy(backoff_initial=0.01),
    )
    try:
        with pytest.raises(APIConnectionError) as info:
            await run(c, lambda c: c.balance())
        assert info.value.status is None
        assert "/v1/balance" in str(info.value)
    finally:
        await aclose(c)
    t = make_api(kind, sandbox, timeout=0.2, max_retries=0)
    try:
        with pytest.raises(APITimeoutError):
            await run(
                t,
                lambda c: c.request(
                    "POST", "/v1/images", json={"prompt": "x"}, headers={"X-Sandbox-Delay": "1"}
                ),
            )
    finally:
        await aclose(t)


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize(
    ("status", "code", "type_", "cls"),
    [
        (403, "missing_scope", "authentication", PermissionDeniedError),
        (500, "internal_error", "server_error", ServerError),
        (502, "provider_unavailable", "server_error", ServerError),
        (404, "resource_not_found", "not_found", NotFoundError),
        (422, "output_not_available", "invalid_request", OutputNotAvailableError),
    ],
)
async def test_status_mapping(
    kind: str, status: int, code: str, type_: str, cls: type[AurousError]
) -> None:
    calls = []

    def handler(request: httpx.Request) -> httpx.Response:
        calls.append(request)
        return error_body(status, code, type_, param="id")

    c = mock_api(kind, handler, max_retries=0)
    try:
        with pytest.raises(cls) as info:
            await run(c, lambda c: c.webhook_endpoints.rotate_secret("we_1"))
        err = info.value
        assert type(err) is cls
        assert (err.status, err.code, err.type, err.param) == (status, code, type_, "id")
        assert err.message == f"{code} happened"
        assert err.request_id == "req_01TESTTESTTESTTESTTESTTEST"
        assert len(calls) == 1
    finally:
        await aclose(c)


def test_error_rendering() -> None:
    err = NotFoundError(
        "LoRA not found.",
        status=404,
        code="resource_not_found",
        param="id",
        request_id="req_1",
        doc_url="https://docs.aurous-labs.com/errors#resource_not_found",
    )
    assert str(err) == "404 resource_not_found: LoRA not found. (param: id) [req_1]"
    assert "NotFoundError" in err._render_traceback_()[0]
    assert len(err._render_traceback_()) == 2
    assert "<b>NotFoundError</b>" in err._repr_html_()
    import pickle

    back = pickle.loads(pickle.dumps(err))
    assert type(back) is NotFoundError and back.code == "resource_not_found"
    v = ValidationError("count", "count: must be between 1 and 4 (got 9)")
    assert isinstance(v, ValueError) and isinstance(v, AurousError) and v.param == "count"

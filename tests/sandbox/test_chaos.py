"""Fault injection: 500, 503, 429, dropped-after-work and delayed responses, never on /_sandbox."""

from __future__ import annotations

import time

import httpx
from sandbox_testkit import NOKEY, make_client

from aurous_nb.sandbox import Sandbox

DELAY = 0.1


def _classify(client: httpx.Client, method: str, path: str, **kw: object) -> str:
    start = time.monotonic()
    try:
        r = client.request(method, path, **kw)  # type: ignore[arg-type]
    except httpx.RemoteProtocolError:
        return "drop"
    if r.status_code in (500, 503, 429):
        assert r.headers["Aurous-Request-Id"] == r.json()["error"]["request_id"]
        assert "X-RateLimit-Limit" in r.headers
        if r.status_code == 429:
            assert r.headers["Retry-After"] == "1"
            assert r.json()["error"]["type"] == "rate_limit"
        return str(r.json()["error"]["code"])
    assert r.status_code < 300
    # With chaos=1.0 every answer that arrives whole was held back on purpose.
    assert time.monotonic() - start >= DELAY
    return "delay"


def _ledger(sb: Sandbox) -> dict[str, object]:
    return NOKEY.get(sb.base_url + "/_sandbox/ledger").json()  # type: ignore[no-any-return]


def test_every_fault_kind_and_the_counters() -> None:
    with Sandbox(latency=0.05, chaos=1.0, chaos_delay=DELAY, seed=4) as sb, make_client(sb) as c:
        kinds = [_classify(c, "GET", "/v1/balance") for _ in range(25)]
        assert set(kinds) == {
            "internal_error",
            "provider_unavailable",
            "too_many_requests",
            "drop",
            "delay",
        }
        chaos = _ledger(sb)["chaos"]
        assert isinstance(chaos, dict)
        assert chaos["injected_total"] == 25
        assert chaos["injected"]["drop"] == kinds.count("drop")
        assert chaos["injected"]["internal_error"] == kinds.count("internal_error")
        # /_sandbox routes never misbehave.
        for _ in range(10):
            assert NOKEY.get(sb.base_url + "/_sandbox/ledger").status_code == 200
    # The same seed gives the same faults in the same order.
    with Sandbox(latency=0.05, chaos=1.0, chaos_delay=DELAY, seed=4) as sb2, make_client(sb2) as c2:
        again = [_classify(c2, "GET", "/v1/balance") for _ in range(25)]
    assert again == kinds


def test_drop_happens_after_the_work_and_early_faults_before() -> None:
    with Sandbox(latency=0.05, chaos=1.0, chaos_delay=DELAY, seed=8) as sb, make_client(sb) as c:
        seen: dict[str, int] = {}
        for i in range(20):
            before = _ledger(sb)["totals"]["generation_count"]  # type: ignore[index]
            kind = _classify(c, "POST", "/v1/images", json={"prompt": f"chaos {i}"})
            after = _ledger(sb)["totals"]["generation_count"]  # type: ignore[index]
            seen[kind] = seen.get(kind, 0) + 1
            made = after - before
            assert made == (1 if kind in ("drop", "delay") else 0), kind
        assert seen.get("drop", 0) >= 1


def test_delay_outlasts_a_short_client_timeout() -> None:
    with Sandbox(latency=0.05, chaos=1.0, chaos_delay=1.0, seed=4) as sb:
        with make_client(sb) as c:
            kinds = []
            for _ in range(10):
                try:
                    kinds.append(_classify(c, "GET", "/v1/team", timeout=0.5))
                except httpx.ReadTimeout:
                    kinds.append("timeout")
        assert "timeout" in kinds
        assert "delay" not in kinds


def test_no_chaos_by_default(api: httpx.Client) -> None:
    assert all(api.get("/v1/balance").status_code == 200 for _ in range(20))

"""Credit holds, 402 balance_too_low, exempt billing and the concurrency limit."""

from __future__ import annotations

from sandbox_testkit import NOKEY, assert_error, make_client, wait_for

from aurous_nb.sandbox import Sandbox


def test_hold_commit_and_402() -> None:
    with Sandbox(latency=0.6, credits=3, seed=2) as sb, make_client(sb) as client:
        gen = client.post("/v1/images", json={"prompt": "a", "count": 2}).json()
        bal = client.get("/v1/balance").json()
        assert bal == {
            "object": "balance",
            "credits": 3,
            "held_credits": 2,
            "available_credits": 1,
            "currency": "credit",
            "billing_mode": "metered",
        }
        assert gen["cost"]["amount"] == 2
        r = client.post("/v1/images", json={"prompt": "b", "count": 2})
        err = assert_error(r, 402, "balance_too_low")
        assert err["type"] == "invalid_request"
        assert "1" in err["message"] and "2" in err["message"]
        # A 402 is not an idempotent answer and no generation was made.
        ledger = NOKEY.get(sb.base_url + "/_sandbox/ledger").json()
        assert ledger["totals"]["generation_count"] == 1
        done = wait_for(client, gen["id"])
        assert done["cost"]["amount"] == 2
        bal = client.get("/v1/balance").json()
        assert (bal["credits"], bal["held_credits"], bal["available_credits"]) == (1, 0, 1)
        ledger = NOKEY.get(sb.base_url + "/_sandbox/ledger").json()
        assert ledger["generations"][0]["credits_charged"] == 2
        assert ledger["totals"]["credits_charged"] == 2
        one = client.post("/v1/images", json={"prompt": "c"})
        assert one.status_code == 201


def test_exempt_is_never_blocked_or_charged() -> None:
    with Sandbox(latency=0.05, credits=0, billing_mode="exempt") as sb, make_client(sb) as c:
        assert c.get("/v1/balance").json()["billing_mode"] == "exempt"
        gen = c.post("/v1/images", json={"prompt": "free", "count": 4})
        assert gen.status_code == 201
        assert gen.json()["cost"]["amount"] == 4  # the echo stays real
        assert c.get("/v1/balance").json()["held_credits"] == 0
        done = wait_for(c, gen.json()["id"])
        assert done["cost"]["amount"] == 4
        bal = c.get("/v1/balance").json()
        assert (bal["credits"], bal["held_credits"]) == (0, 0)
        ledger = NOKEY.get(sb.base_url + "/_sandbox/ledger").json()
        assert ledger["generations"][0]["credits_charged"] == 0
        assert ledger["generations"][0]["billed"] is False
        assert c.get("/v1/team").json()["billing_mode"] == "exempt"


def test_concurrency_limit() -> None:
    with Sandbox(latency=20, credits=100, concurrency_limit=2) as sb, make_client(sb) as c:
        ids = [c.post("/v1/images", json={"prompt": f"c{i}"}).json()["id"] for i in range(2)]
        r = c.post("/v1/images", json={"prompt": "third"})
        err = assert_error(r, 429, "concurrency_limit_exceeded")
        assert err["type"] == "rate_limit"
        assert int(r.headers["Retry-After"]) >= 1
        assert r.headers["X-RateLimit-Limit"] == "120"
        c.post(f"/v1/images/{ids[0]}/cancel")
        assert c.post("/v1/images", json={"prompt": "fits now"}).status_code == 201

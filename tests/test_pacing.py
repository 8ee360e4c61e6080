"""The bucket model against a simulated server bucket (the sandbox's rounding), on a fake clock:
it learns the refill rate from the headers alone and never sends into an empty bucket."""

from __future__ import annotations

import math

from aurous_nb.work.pacing import BucketModel, LatencyModel, SlotCap


class ServerBucket:
    """The sandbox's arithmetic: remaining rounded down, reset an epoch second rounded up."""

    def __init__(self, capacity: int, per_second: float, now: float) -> None:
        self.capacity, self.per_second = capacity, per_second
        self.tokens, self.stamp = float(capacity), now

    def draw(self, now: float) -> tuple[bool, dict[str, str]]:
        self.tokens = min(self.capacity, self.tokens + (now - self.stamp) * self.per_second)
        self.stamp = now
        ok = self.tokens >= 1.0
        if ok:
            self.tokens -= 1.0
        reset = math.ceil(now + (self.capacity - self.tokens) / self.per_second)
        headers = {
            "x-ratelimit-limit": str(self.capacity),
            "x-ratelimit-remaining": str(int(self.tokens)),
            "x-ratelimit-reset": str(reset),
        }
        return ok, headers


def test_learns_the_refill_rate_and_never_overdraws() -> None:
    clock = [1_800_000_000.123]
    model = BucketModel(clock=lambda: clock[0])
    server = ServerBucket(120, 20.0, clock[0])
    rtt, refused, sent = 0.002, 0, 0
    while sent < 400:
        wait = model.wait_time()
        assert wait != math.inf
        clock[0] += wait
        ticket = model.reserve()
        sent_at = clock[0]
        ok, headers = server.draw(clock[0] + rtt / 2)
        refused += not ok
        clock[0] += rtt
        model.observe(ticket, headers, sent_at, clock[0], throttled=not ok)
        sent += 1
    assert refused == 0
    assert model.per_token is not None and abs(model.per_token - 0.05) / 0.05 < 0.01
    # 400 sends: 120 from the burst, 280 at 20/s = 14 s; the model costs at most ~2 % more.
    assert clock[0] - 1_800_000_000.123 < 14.0 * 1.02 + 0.5


def test_waits_for_the_first_answer_and_falls_back_to_the_contract() -> None:
    model = BucketModel(clock=lambda: 0.0)
    assert model.wait_time() == 0.0
    ticket = model.reserve()
    assert model.wait_time() == math.inf  # capacity unknown: one request at a time
    model.release(ticket)
    model.assume(120, 1.0)
    assert model.known and model.wait_time() == 0.0 and model.per_token == 1.0


def test_latency_quantiles() -> None:
    lat = LatencyModel()
    assert lat.quantile(0.5) is None
    for x in (3.0, 1.0, 2.0, 5.0, 4.0):
        lat.add(x)
    assert lat.quantile(0.0) == 1.0 and lat.quantile(0.5) == 3.0 and lat.quantile(1.0) == 5.0


def test_slot_cap_learns_the_team_cap_and_stops_probing_once_confirmed() -> None:
    slots = SlotCap(50)
    for others in (14, 9, 6, 4):  # refusals from one burst: the lowest count wins
        slots.refused(others)
    assert slots.value == 4
    for _ in range(8):
        slots.accepted()
    assert slots.value == 5  # a probe, one slot higher
    slots.refused(4)  # refused right at the probe: 4 it is, for good
    assert slots.value == 4
    for _ in range(100):
        slots.accepted()
    assert slots.value == 4


def test_a_first_answer_that_is_a_429_does_not_stall_the_model() -> None:
    """A 429 (e.g. an injected fault) as the very first answer says the bucket is empty but not
    how fast it refills: after Retry-After, one probe goes out instead of waiting forever."""
    clock = [1_800_000_000.0]
    model = BucketModel(clock=lambda: clock[0])
    ticket = model.reserve()
    headers = {
        "x-ratelimit-limit": "120",
        "x-ratelimit-remaining": "0",
        "x-ratelimit-reset": str(int(clock[0]) + 120),
        "retry-after": "1",
    }
    model.observe(ticket, headers, clock[0], clock[0], throttled=True)
    assert model.wait_time() == 1.0
    clock[0] += 1.0
    assert model.wait_time() == 0.0
    model.reserve()
    assert model.wait_time() == math.inf  # the probe's answer comes first

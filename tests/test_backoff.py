"""The one poll schedule, and that no waiter keeps a schedule of its own."""

from __future__ import annotations

import re
from pathlib import Path

from aurous_nb.client.backoff import Backoff

PACKAGE = Path(__file__).resolve().parents[1] / "aurous_nb"


def test_gaps_grow_by_half_to_the_cap() -> None:
    gaps = Backoff()
    assert [gaps.next() for _ in range(7)] == [
        0.25,
        0.375,
        0.5625,
        0.84375,
        1.265625,
        1.8984375,
        2.0,
    ]
    client = Backoff.for_client(4.0)
    assert [client.next() for _ in range(4)] == [4.0, 6.0, 9.0, 10.0]
    assert Backoff.for_client(30.0).next() == Backoff.for_client(30.0).next() == 30.0


def test_no_other_poll_loop_grows_its_own_gap() -> None:
    growing = re.compile(r"\*\s*1\.5\b|\b1\.5\s*\*")
    found = [
        p.relative_to(PACKAGE).as_posix()
        for p in PACKAGE.rglob("*.py")
        if growing.search(p.read_text()) and "sandbox" not in p.parts
    ]
    assert found == []

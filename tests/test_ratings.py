"""Ratings: star (1-5) or reject a generation; kept in the ledger; history shows and filters."""

from __future__ import annotations

from pathlib import Path

import pytest

import aurous_nb
from aurous_nb.analysis import frames
from aurous_nb.client import Client
from aurous_nb.store.ledger import Ledger, default_ledger
from aurous_nb.work.batch import Batch
from aurous_nb.work.spec import grid


def test_rate_history_filter_and_restart(fresh_client: Client, home: Path) -> None:
    jobs = Batch(grid(["a fox", "an owl", "a lake"], seeds=[1]), client=fresh_client).run()
    a, b, c = (j.generation_id for j in jobs)
    assert aurous_nb.rate(a, 5) == 5
    assert aurous_nb.rate(jobs[1], "reject") == 0  # a Job works as well as its id
    aurous_nb.rate(c, 2)
    aurous_nb.rate(c, 3)  # a second rating replaces the first
    frame = frames.history(ledger=default_ledger())
    by_id = dict(zip(frame["generation_id"], frame["rating"], strict=True))
    assert by_id == {a: 5, b: 0, c: 3}
    assert list(frames.history(rating=4)["generation_id"]) == [a]
    assert list(frames.history(rating="rejected")["generation_id"]) == [b]
    assert sorted(frames.history(rating=3)["generation_id"]) == sorted([a, c])
    aurous_nb.rate(c, None)
    assert list(frames.history(rating="unrated")["generation_id"]) == [c]
    # a restarted kernel opens the ledger again: the ratings are still there
    again = Ledger(home / "ledger.sqlite3")
    frame = frames.history(ledger=again, rating="rated")
    assert sorted(frame["generation_id"]) == sorted([a, b])


def test_bad_ratings_are_refused(fresh_client: Client, home: Path) -> None:
    [job] = Batch(grid(["a fox"], seeds=[1]), client=fresh_client).run()
    with pytest.raises(ValueError, match="1 to 5"):
        aurous_nb.rate(job.generation_id, 6)
    with pytest.raises(LookupError, match="not in the ledger"):
        aurous_nb.rate("gen_01HZZZZZZZZZZZZZZZZZZZZZZZ", 3)
    with pytest.raises(ValueError, match="rating"):
        frames.history(rating=9)
    assert frames.history()["rating"].isna().all()

"""One ledger schema on PostgreSQL: the same calls as on the SQLite file, with who and where."""

from __future__ import annotations

from pathlib import Path

import pytest

from aurous_nb.store.ledger import SCHEMA_VERSION, Ledger


def test_a_team_ledger_keeps_what_a_file_keeps(pg_url: str, home: Path) -> None:
    ledger = Ledger(url=pg_url, user="ana", host="laptop-a")
    assert ledger.shared and ledger.schema_version == SCHEMA_VERSION
    job = ledger.prepare("sandbox", "image", {"prompt": "a fox"}, estimate=2.0, notebook="n.ipynb")
    assert (job.status, job.user_name, job.host) == ("submitting", "ana", "laptop-a")
    done = ledger.record_generation(
        "sandbox",
        {"id": "gen_1", "status": "succeeded", "cost": {"amount": 2.0}, "prompt": "a fox"},
        key=job.key,
    )
    assert (done.generation_id, done.status, done.charged) == ("gen_1", "succeeded", 2.0)
    out = home / "outputs" / "sandbox" / "gen_1" / "0.png"
    out.parent.mkdir(parents=True)
    out.write_bytes(b"png")
    ledger.record_output("sandbox", "gen_1", 0, out, size=3, sha256="x", content_type="image/png")
    ledger.record_output("sandbox", "gen_1", 0, out, size=3, sha256="y", content_type="image/png")
    assert [f.sha256 for f in ledger.outputs("gen_1")] == ["y"]
    ledger.record_pricing("sandbox", {"version": "v1", "image": {"base": 1}})
    snap = ledger.record_pricing("sandbox", {"version": "v1", "image": {"base": 1}})
    assert snap.times_seen == 2
    ledger.record_balance("sandbox", {"credits": 10})
    ledger.set_meta("k", "1")
    ledger.set_meta("k", "2")
    assert ledger.get_meta("k") == "2"
    # a second person, elsewhere, sees the same rows; their listing is their own
    other = Ledger(url=pg_url, user="bo", host="laptop-b")
    assert other.find("gen_1") == done
    assert other.jobs() == [] and len(other.jobs(scope="team")) == 1
    assert other.reusable("sandbox", "image", {"prompt": "a fox"}) is None
    assert other.reusable("sandbox", "image", {"prompt": "a fox"}, scope="team") == done
    assert ledger.reusable("sandbox", "image", {"prompt": "a fox"}) == done
    assert "postgresql://postgres@" in repr(ledger)
    ledger.close()
    other.close()


def test_opening_twice_migrates_once(pg_url: str, home: Path) -> None:
    Ledger(url=pg_url).close()
    again = Ledger(url=pg_url)
    assert again.schema_version == SCHEMA_VERSION
    again.close()


def test_a_database_of_another_program_is_left_alone(pg_url: str, home: Path) -> None:
    import psycopg

    from aurous_nb.store.ledger import LedgerError

    with psycopg.connect(pg_url, autocommit=True) as conn:
        conn.execute("CREATE TABLE generations (x int)")
    with pytest.raises(LedgerError, match="not an aurous_nb ledger"):
        Ledger(url=pg_url)


def _fill(ledger: Ledger, n: int, who: str) -> None:
    for i in range(n):
        job = ledger.prepare(
            "sandbox",
            "image",
            {"prompt": f"{who} {i}", "size": "1k_1_1", "seed": 2**40 + i},
            estimate=1.5,
            key=f"{who}-{i}",
            notebook=f"{who}.ipynb",
        )
        ledger.record_generation(
            "sandbox",
            {
                "id": f"gen_{who}_{i}",
                "status": "succeeded" if i % 3 else "failed",
                "cost": {"amount": 1.25 if i % 3 else 0.0},
                "created_at": 1_780_000_000.123457 + i,
                "prompt": f"{who} {i}",
                "width": 1024,
                "height": 1024,
            },
            key=job.key,
        )


def test_history_reads_the_same_from_either_engine(pg_url: str, home: Path) -> None:
    import pandas as pd

    from aurous_nb.analysis import frames

    local = Ledger(home / "ledger.sqlite3", user="ana", host="a")
    team = Ledger(url=pg_url, user="ana", host="a")
    for ledger in (local, team):
        _fill(ledger, 7, "ana")
    mine = frames.history(ledger=team, env="sandbox")
    written = ["submitted_at"]  # the clock when each was written
    pd.testing.assert_frame_equal(
        frames.history(ledger=local, env="sandbox").drop(columns=written),
        mine.drop(columns=written),
    )
    _fill(Ledger(url=pg_url, user="bo", host="b"), 5, "bo")
    assert len(frames.history(ledger=team, env="sandbox")) == 7
    everyone = frames.history(ledger=team, env="sandbox", scope="team")
    assert len(everyone) == 12 and set(everyone["user"]) == {"ana", "bo"}
    by_user = frames.spend("user", ledger=team, env="sandbox", scope="team")
    assert dict(zip(by_user["user"], by_user["cost"], strict=True)) == {"ana": 5.0, "bo": 3.75}
    by_notebook = frames.spend("notebook", ledger=team, env="sandbox", scope="team")
    assert list(by_notebook["notebook"]) == ["ana.ipynb", "bo.ipynb"]


def test_migrate_copies_a_local_ledger_into_the_team_one_once(
    pg_url: str, home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from aurous_nb.analysis import frames
    from aurous_nb.store.ledger import migrate

    local = Ledger(home / "ledger.sqlite3", user="ana", host="a")
    _fill(local, 6, "ana")
    out = home / "outputs" / "sandbox" / "gen_ana_1" / "0.png"
    out.parent.mkdir(parents=True)
    out.write_bytes(b"png")
    local.record_output("sandbox", "gen_ana_1", 0, out, size=3, sha256="x")
    local.record_pricing("sandbox", {"version": "v1", "image": {"base": 1}})
    local.record_balance("sandbox", {"credits": 10}, at=5.0)
    team = Ledger(url=pg_url, user="bo", host="b")
    _fill(team, 2, "bo")
    first = migrate(local, pg_url)
    assert first == {"generations": 6, "outputs": 1, "pricing": 1, "balances": 1}
    monkeypatch.setenv("AUROUS_NB_HOST", "a")  # the same machine, opened by path this time
    assert migrate(local.path, pg_url) == dict.fromkeys(first, 0)  # nothing twice
    everyone = frames.history(ledger=team, env="sandbox", scope="team")
    assert len(everyone) == 8 and everyone["cost"].sum() == 5.0 + 1.25
    assert dict(zip(everyone["generation_id"], everyone["user"], strict=True))["gen_ana_1"] == "ana"
    assert Ledger(url=pg_url, user="ana", host="a").outputs("gen_ana_1")[0].path == out


def test_outputs_cached_on_another_host_are_not_this_hosts(pg_url: str, home: Path) -> None:
    from aurous_nb.analysis import frames
    from aurous_nb.store import outputs

    ana, bo = Ledger(url=pg_url, user="ana", host="a"), Ledger(url=pg_url, user="bo", host="b")
    _fill(ana, 2, "ana")
    out = home / "outputs" / "sandbox" / "gen_ana_1" / "0.png"
    out.parent.mkdir(parents=True)
    out.write_bytes(b"png")
    ana.record_output("sandbox", "gen_ana_1", 0, out, size=3, sha256="x")
    assert len(ana.outputs("gen_ana_1")) == 1 and bo.outputs("gen_ana_1") == []
    team = frames.history(ledger=bo, env="sandbox", scope="team")
    assert team["cached"].sum() == 0 and team["cache_dir"].isna().all()
    assert frames.history(ledger=ana, env="sandbox")["cached"].sum() == 1
    # bo's machine never fetches ana's outputs on its own; ana's has nothing missing
    assert outputs.missing_outputs(bo, "sandbox") == []
    assert outputs.missing_outputs(ana, "sandbox") == []


def test_integers_beyond_float_range_come_back_exact(pg_url: str, home: Path) -> None:
    from aurous_nb.analysis import frames

    team = Ledger(url=pg_url)
    _fill(team, 3, "ana")
    for n, seed in enumerate((7, 2**60 + 1)):  # the second one sends history to plain rows
        team.record_generation("sandbox", {"id": f"gen_{n}", "status": "succeeded", "seed": seed})
        seeds = frames.history(ledger=team, env="sandbox", scope="team")["seed"]
        assert seed in set(seeds.dropna()) and len(seeds) == 4 + n


def test_two_hosts_each_cache_one_generation(pg_url: str, home: Path, tmp_path: Path) -> None:
    ana, bo = Ledger(url=pg_url, user="ana", host="a"), Ledger(url=pg_url, user="bo", host="b")
    _fill(ana, 2, "ana")
    for ledger in (ana, bo):  # bo collected ana's purchase (reuse="team") into his own cache
        out = ledger.home / "outputs" / "sandbox" / "gen_ana_1" / f"{ledger.host}.png"
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_bytes(b"png")
        ledger.record_output("sandbox", "gen_ana_1", 0, out, size=3, sha256=ledger.host)
    assert [f.sha256 for f in ana.outputs("gen_ana_1")] == ["a"]
    assert [f.sha256 for f in bo.outputs("gen_ana_1")] == ["b"]
    bo.forget_output("sandbox", "gen_ana_1", 0)
    assert bo.outputs("gen_ana_1") == [] and len(ana.outputs("gen_ana_1")) == 1


def test_two_writers_at_once_lose_nothing(pg_url: str, home: Path) -> None:
    import threading

    from aurous_nb.analysis import frames

    opened: list[Ledger] = []  # first opens at once, as two kernels starting: one schema
    starts = [threading.Thread(target=lambda u=u: opened.append(Ledger(url=pg_url, user=u, host=u)))
              for u in ("ana", "bo", "cy")]  # fmt: skip
    for t in starts:
        t.start()
    for t in starts:
        t.join()
    assert len(opened) == 3
    writers = [ledger for ledger in opened if ledger.user != "cy"]

    def write(ledger: Ledger) -> None:
        _fill(ledger, 60, ledger.user)
        ledger.record_pricing("sandbox", {"version": "v1", "image": {"base": 1}})
        ledger.close()

    threads = [threading.Thread(target=write, args=(w,)) for w in writers]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    team = frames.history(ledger=Ledger(url=pg_url, user="lead"), env="sandbox", scope="team")
    assert len(team) == 120 and set(team["status"]) == {"succeeded", "failed"}
    assert team["cost"].sum() == 2 * 40 * 1.25
    assert Ledger(url=pg_url).pricing_snapshots()[0].times_seen == 2

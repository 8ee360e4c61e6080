"""The ledger: schema, write-before-send rows, merges, secrets, and concurrent writers."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
import textwrap
import threading
from pathlib import Path

import pytest

from aurous_nb.config import env_for, is_sandbox_env
from aurous_nb.store.ledger import MIGRATIONS, SCHEMA_VERSION, Ledger, LedgerError, default_ledger

KEY = "al_live_" + "ab" * 32


def _gen(gen_id: str, status: str, amount: float = 2.0, **extra: object) -> dict[str, object]:
    return {
        "object": "inference",
        "id": gen_id,
        "status": status,
        "media_type": "image",
        "prompt": "a red fox",
        "created_at": "2026-11-29T07:00:00.000Z",
        "cost": {"amount": amount, "currency": "credit", "breakdown": {"base": amount}},
        "size_preset": "2k_1_1",
        "width": 2048,
        "height": 2048,
        "image_count": 2,
        "seed": 7,
        "loras": [{"id": "lora_01ABC", "name": "Watercolor"}],
        **extra,
    }


def test_env_labels() -> None:
    # Every loopback sandbox is one environment: the port changes at each kernel restart.
    assert env_for("http://127.0.0.1:8765") == "sandbox"
    assert env_for("http://localhost:9000/") == "sandbox"
    assert env_for("http://[::1]:81") == "sandbox"
    assert env_for("https://api.aurous-labs.com") == "api.aurous-labs.com"
    assert env_for("https://api.aurous-labs.com/") == "api.aurous-labs.com"
    assert env_for("https://api.preprod.aurous-labs.com:8443") == "api.preprod.aurous-labs.com-8443"
    assert env_for("https://gateway.example.com/aurous/") == "gateway.example.com_aurous"
    assert is_sandbox_env("sandbox") and not is_sandbox_env("api.aurous-labs.com")
    assert is_sandbox_env("sandbox-8765")  # the label older ledgers used


def test_home_and_schema(home: Path) -> None:
    ledger = default_ledger()
    assert ledger.path == (home / "ledger.sqlite3").resolve()
    assert ledger.schema_version == SCHEMA_VERSION
    # Opening again migrates nothing and keeps the version.
    assert Ledger(ledger.path).schema_version == SCHEMA_VERSION
    conn = sqlite3.connect(ledger.path)
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    conn.close()
    with pytest.raises(LedgerError, match="newer"):
        Ledger(ledger.path)


def test_write_before_send_then_answer_then_terminal(home: Path) -> None:
    ledger = Ledger()
    request = {"prompt": "a red fox", "size": "2k_1_1", "count": 2, "lora_id": "watercolor"}
    job = ledger.prepare("sandbox-1", "image", request, notebook="nb.ipynb", cell="c1")
    assert job.status == "submitting" and job.key and not job.answered
    assert [j.key for j in ledger.pending("sandbox-1")] == [job.key]
    assert job.request == request and job.lora_id == "watercolor" and job.size == "2k_1_1"

    answered = ledger.record_generation("sandbox-1", _gen("img_1", "pending"), key=job.key)
    assert answered.generation_id == "img_1" and answered.held == 2.0
    assert answered.estimate == 2.0 and answered.charged is None
    done = ledger.record_generation("sandbox-1", _gen("img_1", "succeeded"))
    assert done.key == job.key and done.charged == 2.0 and done.terminal
    # A stale poll never moves a terminal row back.
    stale = ledger.record_generation("sandbox-1", _gen("img_1", "processing"))
    assert stale.status == "succeeded"
    assert ledger.pending("sandbox-1") == []
    assert done.lora == "Watercolor" and done.lora_id == "lora_01ABC"
    assert ledger.reusable("sandbox-1", "image", dict(reversed(request.items()))) == done
    assert ledger.reusable("sandbox-1", "image", {**request, "seed": 1}) is None


def test_server_rows_and_merge(home: Path) -> None:
    ledger = Ledger()
    job = ledger.prepare("sandbox-1", "image", {"prompt": "x"})
    # A history fetch sees the generation before the create's answer is recorded.
    seen = ledger.record_generations(
        "sandbox-1", [_gen("img_9", "pending"), _gen("img_8", "failed", amount=0)]
    )
    assert [r.origin for r in seen] == ["server", "server"]
    assert seen[1].charged == 0.0 and seen[1].key is None
    merged = ledger.record_generation("sandbox-1", _gen("img_9", "succeeded"), key=job.key)
    assert merged.origin == "local" and merged.key == job.key
    assert len(ledger.jobs("sandbox-1")) == 2
    # Environments never mix.
    ledger.record_generation("api.aurous-labs.com", _gen("img_9", "succeeded"))
    assert len(ledger.jobs("sandbox-1")) == 2 and len(ledger.jobs()) == 3
    assert ledger.envs() == ["api.aurous-labs.com", "sandbox-1"]


def test_no_secret_is_stored(home: Path) -> None:
    ledger = Ledger()
    with pytest.raises(ValueError, match="API key"):
        ledger.prepare("sandbox-1", "image", {"prompt": f"use {KEY}"})
    job = ledger.prepare("sandbox-1", "image", {"prompt": "fine"})
    signed = "http://127.0.0.1:1/v1/images/img_1/output/0?token=SIGNEDSECRET"
    ledger.record_generation(
        "sandbox-1",
        _gen(
            "img_1",
            "succeeded",
            output_urls=[signed],
            output_video_url=signed,
            reference_image_urls=["https://cdn.example/ref.png?X-Amz-Signature=SIGNEDSECRET&w=2"],
            error_message=f"key {KEY} leaked",
        ),
        key=job.key,
    )
    ledger.mark(job.key, "rejected", error_message=f"also {KEY}")
    ledger.close()
    blob = b"".join(p.read_bytes() for p in home.iterdir() if p.name.startswith("ledger"))
    assert b"SIGNEDSECRET" not in blob and KEY.encode() not in blob
    record = Ledger().job(job.key)
    assert record is not None and record.generation is not None
    assert "output_urls" not in record.generation
    assert record.generation["reference_image_urls"] == ["https://cdn.example/ref.png?w=2"]
    assert KEY not in repr(record)


def test_pricing_and_balance_snapshots(home: Path) -> None:
    ledger = Ledger()
    card = {"object": "pricing", "version": "2026-05-15", "image": {"base": 1}}
    ledger.record_pricing("sandbox-1", card, at=100.0)
    snap = ledger.record_pricing("sandbox-1", card, at=200.0)
    assert (snap.first_seen, snap.last_seen, snap.times_seen) == (100.0, 200.0, 2)
    ledger.record_pricing("sandbox-1", {**card, "version": "2026-09-01", "image": {"base": 0.8}})
    assert [s.version for s in ledger.pricing_snapshots("sandbox-1")] == [
        "2026-05-15",
        "2026-09-01",
    ]
    ledger.record_balance("sandbox-1", {"credits": 10, "held_credits": 2, "available_credits": 8})
    [bal] = ledger.balances("sandbox-1")
    assert (bal.credits, bal.held_credits, bal.available_credits) == (10.0, 2.0, 8.0)


def test_threads_write_at_once(home: Path) -> None:
    ledger = Ledger()

    def write(n: int) -> None:
        for i in range(40):
            job = ledger.prepare("sandbox-1", "image", {"prompt": f"t{n}-{i}"})
            ledger.record_generation("sandbox-1", _gen(f"img_t{n}_{i}", "pending"), key=job.key)

    threads = [threading.Thread(target=write, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(ledger.jobs("sandbox-1")) == 160
    assert all(j.answered for j in ledger.jobs("sandbox-1"))
    # Connections of finished threads are closed when the next one opens, not kept forever.
    late = threading.Thread(target=ledger.pending)
    late.start()
    late.join()
    assert len(ledger._connections) == 2  # this thread's and the late one's


WRITER = textwrap.dedent(
    """
    import sys
    from aurous_nb.store.ledger import Ledger
    name, count = sys.argv[1], int(sys.argv[2])
    ledger = Ledger()
    for i in range(count):
        job = ledger.prepare("sandbox-1", "image", {"prompt": f"{name}-{i}"})
        ledger.record_generation(
            "sandbox-1", {"id": f"img_{name}_{i}", "status": "pending",
                          "cost": {"amount": 1}}, key=job.key)
        if i % 10 == 0:
            ledger.record_balance("sandbox-1", {"credits": i})
    """
)


def test_two_processes_write_at_once_and_lose_nothing(home: Path) -> None:
    Ledger()  # create the schema first so both writers race on rows, not on the migration
    count = 150
    procs = [
        subprocess.Popen([sys.executable, "-c", WRITER, name, str(count)]) for name in ("a", "b")
    ]
    assert [p.wait(timeout=60) for p in procs] == [0, 0]
    ledger = Ledger()
    rows = ledger.jobs("sandbox-1")
    assert len(rows) == 2 * count
    assert len({r.generation_id for r in rows}) == 2 * count
    assert all(r.status == "pending" for r in rows)
    assert len(ledger.balances("sandbox-1")) == 2 * (count // 10)


def test_two_processes_migrate_a_fresh_file_at_once(home: Path) -> None:
    procs = [subprocess.Popen([sys.executable, "-c", WRITER, name, "5"]) for name in ("c", "d")]
    assert [p.wait(timeout=60) for p in procs] == [0, 0]
    assert len(Ledger().jobs()) == 10


def test_an_older_schema_is_migrated_in_place(tmp_path: Path) -> None:
    path = tmp_path / "old.sqlite3"
    conn = sqlite3.connect(path)
    for statement in MIGRATIONS[0]:
        conn.execute(statement)
    conn.execute(
        "INSERT INTO generations (env, origin, media_type, status, generation_id, updated_at) "
        "VALUES ('sandbox-1', 'server', 'image', 'succeeded', 'img_old', 0)"
    )
    conn.execute("PRAGMA user_version = 1")
    conn.commit()
    conn.close()
    ledger = Ledger(path)
    assert ledger.schema_version == SCHEMA_VERSION >= 2
    assert ledger.find("img_old") is not None
    ledger.set_meta("k", "v")
    assert ledger.get_meta("k") == "v"


def test_old_sandbox_port_labels_become_one_sandbox_environment(tmp_path: Path) -> None:
    """A schema-2 ledger with rows under ``sandbox-<port>`` (one label per kernel restart) reads
    as one ``sandbox`` environment: history, outputs, rate cards and balances all move."""
    from aurous_nb.analysis import frames

    path = tmp_path / "v2.sqlite3"
    conn = sqlite3.connect(path)
    for statement in (*MIGRATIONS[0], *MIGRATIONS[1]):
        conn.execute(statement)
    card = '{"version":"2026-05-15"}'
    for n, port in enumerate((40001, 40002)):
        env = f"sandbox-{port}"
        conn.execute(
            "INSERT INTO generations (env, idempotency_key, origin, media_type, status, "
            "generation_id, prompt, created_at, charged, updated_at) "
            "VALUES (?, ?, 'local', 'image', 'succeeded', ?, ?, ?, 1, 0)",
            (env, f"k{n}", f"img_{n}", f"run {n}", 1_764_400_000.0 + n),
        )
        conn.execute(
            "INSERT INTO outputs VALUES (?, ?, 0, ?, 3, 'abc', 'image/png', 0)",
            (env, f"img_{n}", f"outputs/{env}/img_{n}/0.png"),
        )
        conn.execute("INSERT INTO pricing VALUES (?, '2026-05-15', 'sha', ?, ?, ?, 1)",
                     (env, card, 100.0 + n, 100.0 + n))  # fmt: skip
        conn.execute("INSERT INTO balances (env, at, credits) VALUES (?, ?, 1000)", (env, n))
        conn.execute("INSERT INTO meta VALUES (?, '1')", (f"history_synced_through:{env}",))
    conn.execute("INSERT INTO generations (env, origin, media_type, status, generation_id, "
                 "updated_at) VALUES ('api.aurous-labs.com', 'server', 'image', 'succeeded', "
                 "'img_live', 0)")  # fmt: skip
    conn.execute("PRAGMA user_version = 2")
    conn.commit()
    conn.close()

    ledger = Ledger(path)
    assert ledger.schema_version == SCHEMA_VERSION >= 3
    assert ledger.envs() == ["api.aurous-labs.com", "sandbox"]
    history = frames.history(ledger=ledger, env="sandbox")
    assert list(history["prompt"]) == ["run 1", "run 0"]
    assert [f.path for f in ledger.outputs("img_0", "sandbox")] == [
        tmp_path / "outputs/sandbox-40001/img_0/0.png"  # files stay where they are
    ]
    [snap] = ledger.pricing_snapshots("sandbox")
    assert (snap.first_seen, snap.last_seen, snap.times_seen) == (100.0, 101.0, 2)
    assert len(ledger.balances("sandbox")) == 2
    assert ledger.get_meta("history_synced_through:sandbox-40001") is None

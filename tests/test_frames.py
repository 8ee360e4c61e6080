"""history / pricing_history / usage / spend against the sandbox: typed, merged, one env each."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import pandas as pd
import pytest

from aurous_nb.analysis import frames
from aurous_nb.client import Client
from aurous_nb.sandbox import Sandbox
from aurous_nb.store import snapshots
from aurous_nb.store.ledger import Ledger
from aurous_nb.work import jobs


def sandbox_totals(sb: Sandbox) -> dict[str, Any]:
    return httpx.get(f"{sb.base_url}/_sandbox/ledger").json()["totals"]  # type: ignore[no-any-return]


def run_mix(client: Client, ledger: Ledger) -> None:
    """Images, a video, an enhanced prompt, a moderation rejection, a cancel, one made elsewhere."""
    for request in (
        {"prompt": "a red fox", "lora_id": "watercolor", "size": "2k_1_1", "count": 2},
        {"prompt": "a blue fox", "lora_id": "watercolor", "size": "2k_16_9"},
        {"prompt": "a green fox", "size": "2k_16_9", "enhance_prompt": True},
        {"prompt": "a forbidden fox", "size": "2k_1_1"},
    ):
        jobs.submit(client, ledger, "image", request, notebook="demo.ipynb")
    jobs.submit(client, ledger, "video", {"video_lora_id": "seedance-1-lite", "duration": 2})
    doomed = jobs.submit(client, ledger, "image", {"prompt": "cancel me", "count": 3})
    client.images.cancel(doomed.generation_id or "")
    outside = client.images.create("made outside the ledger")  # only the server's list knows it
    client.images.wait(outside, poll_interval=0.05)
    jobs.resume(client, ledger, download=False)


def test_history_costs_equal_the_sandbox_charges(
    home: Path, fresh_sandbox: Sandbox, fresh_client: Client
) -> None:
    ledger = Ledger()
    run_mix(fresh_client, ledger)
    frame = frames.history(fresh_client, ledger)
    assert len(frame) == 7
    totals = sandbox_totals(fresh_sandbox)
    assert frame["cost"].sum() == pytest.approx(totals["credits_charged"])
    balance = snapshots.balance(fresh_client, ledger)
    assert frame["cost"].sum() == pytest.approx(totals["starting_credits"] - balance.credits)
    assert set(frame["status"].astype(str)) == {"succeeded", "moderation_rejected", "cancelled"}
    outside = frame[frame["origin"] == "server"]
    assert list(outside["prompt"]) == ["made outside the ledger"]
    local = frame[frame["origin"] == "local"]
    assert local["idempotency_key"].notna().all()
    assert (frame.loc[frame["status"] != "succeeded", "cost"] == 0).all()


def test_history_columns_are_typed(home: Path, fresh_client: Client) -> None:
    ledger = Ledger()
    run_mix(fresh_client, ledger)
    jobs.resume(fresh_client, ledger)  # caches outputs this time
    frame = frames.history(fresh_client, ledger)
    assert list(frame.columns) == list(frames.HISTORY_COLUMNS)
    for name in ("created_at", "completed_at", "submitted_at"):
        assert str(frame[name].dtype) == "datetime64[ns, UTC]" or str(frame[name].dtype).endswith(
            ", UTC]"
        )
    for name in ("status", "media_type", "lora", "size", "origin"):
        assert isinstance(frame[name].dtype, pd.CategoricalDtype), name
    for name in ("cost", "estimate", "held", "duration_s"):
        assert frame[name].dtype == "float64", name
    assert str(frame["seed"].dtype) == "Int64"
    fox = frame[frame["prompt"] == "a red fox"].iloc[0]
    assert fox["lora"] == "Watercolor" and fox["size"] == "2k_1_1" and fox["cached"] == 2
    assert fox["notebook"] == "demo.ipynb" and Path(fox["cache_dir"]).is_dir()
    video = frame[frame["media_type"] == "video"].iloc[0]
    assert video["size"] and video["cost"] == 1.5 and video["cached"] == 1
    assert frame.attrs["env"] == "sandbox"


def test_history_filters_and_env_isolation(home: Path, fresh_client: Client) -> None:
    ledger = Ledger()
    run_mix(fresh_client, ledger)
    assert len(frames.history(fresh_client, ledger, status="succeeded")) == 5
    assert (
        len(frames.history(fresh_client, ledger, status=["cancelled", "moderation_rejected"])) == 2
    )
    assert len(frames.history(fresh_client, ledger, lora="Watercolor")) == 2
    assert len(frames.history(fresh_client, ledger, media_type="video")) == 1
    assert len(frames.history(fresh_client, ledger, since="1h")) == 7
    assert len(frames.history(fresh_client, ledger, until="2020-01-01")) == 0
    # A second sandbox (a restarted kernel's, on another port) is the same environment.
    with (
        Sandbox(latency=0.05, credits=50) as other,
        Client(api_key=other.api_key, base_url=other.base_url) as second,
    ):
        jobs.submit(second, ledger, "image", {"prompt": "elsewhere"})
        assert len(frames.history(second, ledger)) == 8
    # A live environment never mixes in; offline, the default env is the one used last.
    job = ledger.prepare("api.aurous-labs.com", "image", {"prompt": "live"})
    ledger.record_generation(
        "api.aurous-labs.com", {"id": "img_live", "status": "pending"}, key=job.key
    )
    assert list(frames.history(ledger=ledger)["prompt"]) == ["live"]
    assert len(frames.history(ledger=ledger, env=frames.current_env(fresh_client))) == 8


def test_pricing_history_shows_versions_and_changes(home: Path, fresh_client: Client) -> None:
    ledger = Ledger()
    frame = frames.pricing_history(fresh_client, ledger, versions=["2026-01-15", "2026-09-01"])
    assert list(frame["version"].cat.categories) == ["2026-01-15", "2026-05-15", "2026-09-01"]
    base = frame[frame["item"] == "image.base"].set_index("version")["value"]
    assert base.to_dict() == {"2026-01-15": 1.5, "2026-05-15": 1.0, "2026-09-01": 0.8}
    changed = frame[frame["changed"]]
    assert ("2026-05-15", "image.base") in set(
        zip(changed["version"], changed["item"], strict=True)
    )
    assert str(frame["first_seen"].dtype).endswith("UTC]")
    # Reading the same card again adds no row, it only moves last_seen.
    again = frames.pricing_history(fresh_client, ledger)
    assert len(again) == len(frame)


def test_spend_groups_with_estimate_versus_charge(home: Path, fresh_client: Client) -> None:
    ledger = Ledger()
    run_mix(fresh_client, ledger)
    by_status = frames.spend("status", fresh_client, ledger).set_index("status")
    assert by_status.loc["cancelled", "cost"] == 0
    assert (
        by_status.loc["cancelled", "estimate"] == 3
        and by_status.loc["cancelled", "difference"] == -3
    )
    by_day = frames.spend("day", fresh_client, ledger)
    assert len(by_day) == 1 and by_day["jobs"].sum() == 7
    assert by_day["cost"].sum() == pytest.approx(frames.history(fresh_client, ledger)["cost"].sum())
    two = frames.spend(["lora", "size"], frame=frames.history(fresh_client, ledger))
    assert {"lora", "size", "jobs", "cost", "estimate", "difference", "share"} <= set(two.columns)
    assert two["share"].sum() == pytest.approx(1.0)
    with pytest.raises(ValueError, match="cannot group"):
        frames.spend("colour", fresh_client, ledger)


def test_usage_is_a_tidy_frame(home: Path, fresh_client: Client) -> None:
    ledger = Ledger()
    run_mix(fresh_client, ledger)
    frame = frames.usage(fresh_client, since="2d", bucket_width="1h", group_by="status")
    assert {"bucket_start", "bucket_end", "status", "request_count", "credits_used"} <= set(
        frame.columns
    )
    assert frame["credits_used"].sum() == pytest.approx(sandbox_totals_from(fresh_client))
    assert str(frame["bucket_start"].dtype).endswith("UTC]")


def sandbox_totals_from(client: Client) -> float:
    return float(
        httpx.get(f"{client.base_url}/_sandbox/ledger").json()["totals"]["credits_charged"]
    )


def test_history_sync_is_incremental(home: Path, fresh_sandbox: Sandbox) -> None:
    calls: list[str] = []
    http = httpx.Client(
        event_hooks={"request": [lambda r: calls.append(f"{r.method} {r.url.path}")]}
    )
    client = Client(
        api_key=fresh_sandbox.api_key, base_url=fresh_sandbox.base_url, http_client=http
    )
    ledger = Ledger()

    def make(n: int) -> None:
        made = [client.images.create(f"row {i}") for i in range(n)]
        for gen in made:
            client.images.wait(gen, poll_interval=0.05)

    make(12)
    calls.clear()
    assert frames.sync_history(client, ledger, page_size=5) == 12
    assert calls.count("GET /v1/images") == 3
    make(2)
    calls.clear()
    # Page 1 has the two new rows; page 2 is all known and terminal below the mark: stop there.
    assert frames.sync_history(client, ledger, page_size=5) == 10
    assert calls == ["GET /v1/images"] * 2
    assert len(frames.history(ledger=ledger)) == 14
    http.close()


def test_size_is_the_preset_sent_else_width_x_height(home: Path, fresh_client: Client) -> None:
    """``size`` = the preset when one was sent, else "WxH"; ``width``/``height`` are ints."""
    ledger = Ledger()
    answered = [
        {"prompt": "preset", "size": "2k_16_9"},
        {"prompt": "nothing sent"},  # the server's default: 1024x1024
        {"prompt": "custom", "width": 1500, "height": 1024},  # snapped to 1504 by the server
    ]
    for request in answered:
        jobs.submit(fresh_client, ledger, "image", request)
    # written, never sent: the request is all there is to go on
    ledger.prepare(
        ledger_env(fresh_client), "image", {"prompt": "unsent", "width": 2048, "height": 1536}
    )
    ledger.record_generation(  # an older row: width/height known, no size kept
        ledger_env(fresh_client),
        {"id": "img_old", "prompt": "old", "status": "succeeded", "width": 1536, "height": 1024},
    )
    with ledger._write() as conn:
        conn.execute("UPDATE generations SET size = NULL WHERE generation_id = 'img_old'")
    frame = frames.history(fresh_client, ledger, refresh=False).set_index("prompt", drop=False)
    assert str(frame["width"].dtype) == "Int64" and str(frame["height"].dtype) == "Int64"
    size = dict(zip(frame["prompt"], frame["size"].astype(str), strict=True))
    assert size == {
        "preset": "2k_16_9",
        "nothing sent": "1024x1024",
        "custom": "1504x1024",
        "unsent": "2048x1536",
        "old": "1536x1024",
    }
    assert frame.loc["preset", "width"] == 2048 and frame.loc["preset", "height"] == 1152
    assert frame.loc["unsent", "width"] == 2048 and frame.loc["unsent", "height"] == 1536


def ledger_env(client: Client) -> str:
    return str(frames.current_env(client))


def test_history_of_a_big_ledger_matches_its_rows(tmp_path: Path) -> None:
    """25,000 rows (three chunks and a bit, read while the next is scanned) against plain SQL."""
    import math
    import random
    import sqlite3

    ledger = Ledger(tmp_path / "ledger.sqlite3")
    rng = random.Random(4)
    env, base = "sandbox-9", 1_764_400_000.0
    rows = []
    for i in range(25_000):
        status = rng.choice(["succeeded", "succeeded", "failed", "processing"])
        rows.append(
            (env, f"key-{i}", rng.choice(["local", "server"]), "image", "x",
             base + rng.random() * 86400 * 30, f"img_{i}", status, f"prompt {i}, ✨ \"{i}\"",
             rng.choice([None, "Noir", "Watercolor"]), rng.choice([None, 2**60 + i, -1, i]),
             rng.choice([None, 0.1, 1.25, 7.5]) if status != "processing" else None,
             rng.choice([None, 12_345.0]), base)
        )  # fmt: skip
    rows.append((env, "key-t", "local", "image", "x", base, None, "pending", "unsent", None,
                 None, None, None, base))  # fmt: skip
    with sqlite3.connect(ledger.path) as conn:
        conn.executemany(
            "INSERT INTO generations (env, idempotency_key, origin, media_type, request_hash, "
            "submitted_at, generation_id, status, prompt, lora, seed, charged, duration_ms, "
            "updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            rows,
        )
        conn.execute("INSERT INTO generations (env, origin, media_type, status, updated_at) "
                     "VALUES ('other-env', 'local', 'image', 'pending', 0)")  # fmt: skip
        conn.executemany(
            "INSERT INTO outputs VALUES (?, ?, ?, ?, 1, '0', 'image/png', 0, '')",
            [(env, f"img_{i}", k, f"p{i}-{k}") for i in range(0, 25_000, 7) for k in range(2)],
        )
    frame = frames.history(ledger=ledger, env=env)
    assert len(frame) == len(rows)
    expected = sorted(rows, key=lambda r: r[5], reverse=True)  # newest first
    assert frame["prompt"].tolist() == [r[8] for r in expected]
    assert frame["seed"].tolist() == [pd.NA if r[10] is None else r[10] for r in expected]
    assert frame["cost"].fillna(-1).tolist() == [-1 if r[11] is None else r[11] for r in expected]
    assert frame["duration_s"].fillna(-1).tolist() == [
        -1 if r[12] is None else r[12] / 1000 for r in expected
    ]
    micros = [math.floor(r[5] * 1e6 + 0.5) for r in expected]  # halves round up, as SQLite does
    assert (frame["created_at"].astype("int64") // 1000).tolist() == micros
    assert [None if pd.isna(v) else v for v in frame["lora"]] == [r[9] for r in expected]
    cached = frame.set_index("generation_id")["cached"]
    assert cached["img_7"] == 2 and cached["img_8"] == 0 and int(cached.sum()) == 2 * 3572
    assert frame.loc[frame["prompt"] == "unsent", "cached"].tolist() == [0]
    assert set(frame["env"]) == {env}

"""The Characters API (contract §2.28-2.37, §3): upload tickets, classify, create by uploads or
synthesis, list, get, PATCH, DELETE, save, resynthesize, refs/regenerate, money, idempotency,
buckets, webhooks and ``character_id`` on image creates."""

from __future__ import annotations

import io
import time
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from PIL import Image
from sandbox_testkit import NOKEY, assert_error, make_client, wait_until

from aurous_nb.sandbox import Sandbox
from tests.webhook_receiver import Receiver

ATTRS = {"gender": "female", "age": 28, "hair_color": "black", "eye_color": "brown"}


def png(size: tuple[int, int] = (64, 64), colour: tuple[int, int, int] = (200, 30, 30)) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", size, colour).save(buf, format="PNG")
    return buf.getvalue()


@pytest.fixture(scope="module")
def chars() -> Iterator[tuple[Sandbox, httpx.Client]]:
    with (
        Sandbox(latency=0.1, credits=10_000, time_factor=50, seed=3, rate_limits=False) as sb,
        make_client(sb) as client,
    ):
        yield sb, client


def ticket(api: httpx.Client, data: bytes | None = None, **body: str) -> dict[str, Any]:
    """An upload ticket, with ``data`` PUT to its URL when given."""
    fields = {"filename": "me.png", "extension": "png", "content_type": "image/png", **body}
    r = api.post("/v1/characters/uploads/init", json=fields)
    assert r.status_code == 200, r.text
    t: dict[str, Any] = r.json()
    if data is not None:
        put = NOKEY.put(t["upload_url"], content=data, headers=t["upload_headers"])
        assert put.status_code == 200, put.text
    return t


def synth(api: httpx.Client, name: str = "Mira", **extra: Any) -> dict[str, Any]:
    r = api.post(
        "/v1/characters", json={"name": name, "generate": True, "attributes": ATTRS, **extra}
    )
    assert r.status_code == 201, r.text
    body: dict[str, Any] = r.json()
    return body


def until(api: httpx.Client, char_id: str, status: str) -> dict[str, Any]:
    out: dict[str, Any] = {}

    def reached() -> bool:
        out.update(api.get(f"/v1/characters/{char_id}").json())
        return out["status"] == status

    wait_until(reached)
    return out


def balance(api: httpx.Client) -> dict[str, Any]:
    body: dict[str, Any] = api.get("/v1/balance").json()
    return body


def quiet(api: httpx.Client) -> dict[str, Any]:
    """The balance once nothing holds credits (syntheses of earlier tests have ended)."""
    wait_until(lambda: balance(api)["held_credits"] == 0)
    return balance(api)


# -- upload tickets ------------------------------------------------------------------------------


def test_upload_flow_is_ready_at_once_and_consumes_its_tickets(chars: Any) -> None:
    _, api = chars
    a, b = ticket(api, png((64, 64))), ticket(api, png((40, 80)))
    assert a["upload_id"].startswith("upl_") and a["upload_headers"] == {
        "Content-Type": "image/png"
    }
    assert "token=" in a["upload_url"] and a["expires_at"].endswith("Z")
    NOKEY.put(b["upload_url"], content=png((40, 80)), headers=b["upload_headers"])
    classified = api.post("/v1/characters/uploads/classify", json={"upload_id": b["upload_id"]})
    assert classified.status_code == 200
    assert classified.json() | {"confidence": 0} == {
        "upload_id": b["upload_id"],
        "pose": "front",
        "confidence": 0,
    }
    assert 0 <= classified.json()["confidence"] <= 1
    before = balance(api)
    r = api.post(
        "/v1/characters", json={"name": "Ana", "upload_ids": [a["upload_id"], b["upload_id"]]}
    )
    assert r.status_code == 201, r.text
    char = r.json()
    assert char["id"].startswith("char_") and char["object"] == "character"
    assert char["status"] == "ready"
    assert [ref["pose"] for ref in char["refs"]] == ["other", "front"]  # unlabelled -> other
    assert NOKEY.get(char["refs"][0]["url"]).content == png((64, 64))
    assert balance(api) == before  # uploads are free
    again = api.post("/v1/characters", json={"name": "Ana 2", "upload_ids": [a["upload_id"]]})
    assert_error(again, 400, "upload_invalid", "upload_ids[0]")
    assert_error(
        api.post("/v1/characters/uploads/classify", json={"upload_id": a["upload_id"]}),
        400,
        "upload_invalid",
        "upload_id",
    )


def test_upload_url_is_keyless_and_typed(chars: Any) -> None:
    _, api = chars
    t = ticket(api)
    keyed = NOKEY.put(
        t["upload_url"], content=png(), headers={**t["upload_headers"], "X-Api-Key": "x"}
    )
    assert_error(keyed, 400, "invalid_request", "X-Api-Key")
    wrong = NOKEY.put(t["upload_url"], content=b"not an image", headers=t["upload_headers"])
    assert_error(wrong, 400, "invalid_format")
    forged = NOKEY.put(t["upload_url"][:-4] + "0000", content=png(), headers=t["upload_headers"])
    assert forged.status_code == 401
    nothing = api.post("/v1/characters", json={"name": "x", "upload_ids": [t["upload_id"]]})
    assert_error(nothing, 400, "upload_invalid", "upload_ids[0]")
    mismatch = {"filename": "a.png", "extension": "png", "content_type": "image/jpeg"}
    r = api.post("/v1/characters/uploads/init", json=mismatch)
    assert_error(r, 400, "parameter_invalid_combination", "content_type")
    r = api.post("/v1/characters/uploads/init", json={**mismatch, "extension": "gif"})
    assert_error(r, 400, "invalid_format", "extension")


def test_upload_url_lives_15_min_and_the_ticket_24_h() -> None:
    with (
        Sandbox(latency=0.05, upload_url_ttl=0.2, upload_ticket_ttl=0.6, rate_limits=False) as sb,
        make_client(sb) as api,
    ):
        late = ticket(api)
        time.sleep(0.3)
        r = NOKEY.put(late["upload_url"], content=png(), headers=late["upload_headers"])
        assert_error(r, 403, "upload_url_expired")
        early = ticket(api, png())
        time.sleep(0.7)
        r = api.post("/v1/characters", json={"name": "x", "upload_ids": [early["upload_id"]]})
        assert_error(r, 400, "upload_invalid", "upload_ids[0]")
    assert sb.config.upload_url_ttl == 0.2
    from aurous_nb.sandbox.config import SandboxConfig

    defaults = SandboxConfig()
    assert (defaults.upload_url_ttl, defaults.upload_ticket_ttl) == (900.0, 86400.0)


# -- synthesis -----------------------------------------------------------------------------------


def test_synthesis_holds_then_charges_four_generations(chars: Any) -> None:
    _, api = chars
    before = quiet(api)
    char = synth(api, client_reference_id="crm-42")
    assert char["status"] == "synthesizing" and char["refs"] == []
    assert char["client_reference_id"] == "crm-42"
    held = balance(api)
    assert held["held_credits"] - before["held_credits"] == 4
    assert held["credits"] == before["credits"]
    done = until(api, char["id"], "reviewing")
    assert [ref["pose"] for ref in done["refs"]] == ["portrait", "front", "side", "back"]
    after = balance(api)
    assert (
        before["credits"] - after["credits"] == 4
        and after["held_credits"] == before["held_credits"]
    )
    pictures = [NOKEY.get(ref["url"]).content for ref in done["refs"]]
    assert len(set(pictures)) == 4 and all(p.startswith(b"\x89PNG") for p in pictures)
    saved = api.post(f"/v1/characters/{char['id']}/save")
    assert saved.status_code == 200 and saved.json()["status"] == "ready"
    assert api.post(f"/v1/characters/{char['id']}/save").json()["status"] == "ready"
    assert before["credits"] - balance(api)["credits"] == 4  # save is free


def test_renders_are_deterministic_per_person() -> None:
    from aurous_nb.sandbox.poses import classify, render_pose

    one = render_pose("Mira", ATTRS, "front")
    assert one == render_pose("Mira", ATTRS, "front")
    assert one != render_pose("Mira", ATTRS, "front", round=2)
    assert one != render_pose("Olek", {**ATTRS, "hair_color": "blonde"}, "front")
    assert classify(render_pose("Mira", ATTRS, "side")) == ("side", 0.98)


def test_failed_synthesis_releases_its_hold(chars: Any) -> None:
    _, api = chars
    before = quiet(api)
    char = synth(api, name="forbidden look")  # the sandbox's moderation word
    failed = until(api, char["id"], "failed")
    assert failed["error_message"] == "moderation_rejected"
    assert balance(api) == before
    assert_error(api.post(f"/v1/characters/{char['id']}/save"), 400, "invalid_request_error")
    assert_error(
        api.post(f"/v1/characters/{char['id']}/refs/regenerate", json={"pose": "side"}),
        400,
        "invalid_request_error",
    )


def test_exactly_one_flow(chars: Any) -> None:
    _, api = chars
    t = ticket(api, png())
    both = {"name": "x", "generate": True, "attributes": ATTRS, "upload_ids": [t["upload_id"]]}
    assert_error(api.post("/v1/characters", json=both), 400, "parameter_invalid_combination")
    assert_error(
        api.post("/v1/characters", json={"name": "x"}), 400, "parameter_invalid_combination"
    )
    assert_error(
        api.post("/v1/characters", json={"name": "x", "generate": True}),
        400,
        "missing_field",
        "attributes",
    )
    assert_error(
        api.post("/v1/characters", json={"generate": True, "attributes": ATTRS}),
        400,
        "missing_field",
        "name",
    )


def test_insufficient_credits_is_402_and_holds_nothing() -> None:
    with Sandbox(latency=0.05, credits=3, rate_limits=False) as sb, make_client(sb) as api:
        r = api.post("/v1/characters", json={"name": "x", "generate": True, "attributes": ATTRS})
        assert_error(r, 402, "insufficient_credits")
        assert r.json()["error"]["type"] == "invalid_request"
        assert balance(api)["held_credits"] == 0
        assert api.get("/v1/characters").json()["data"] == []


def test_resynthesize_and_regenerate_cost_four_and_one(chars: Any) -> None:
    _, api = chars
    char = synth(api, name="Rey")
    first = until(api, char["id"], "reviewing")
    old_cover = NOKEY.get(first["refs"][0]["url"]).content
    api.post(f"/v1/characters/{char['id']}/save")
    before = quiet(api)
    r = api.post(f"/v1/characters/{char['id']}/resynthesize", json={"force_all": True})
    assert r.status_code == 200 and r.json()["status"] == "synthesizing"
    assert_error(
        api.post(f"/v1/characters/{char['id']}/resynthesize"), 400, "invalid_request_error"
    )
    second = until(api, char["id"], "reviewing")
    assert before["credits"] - balance(api)["credits"] == 4
    assert [r["pose"] for r in second["refs"]] == ["portrait", "front", "side", "back"]
    assert NOKEY.get(second["refs"][0]["url"]).content != old_cover
    before = quiet(api)
    r = api.post(f"/v1/characters/{char['id']}/refs/regenerate", json={"pose": "side"})
    assert r.status_code == 200 and r.json()["status"] == "synthesizing"
    until(api, char["id"], "reviewing")
    assert before["credits"] - balance(api)["credits"] == 1
    bad = api.post(f"/v1/characters/{char['id']}/refs/regenerate", json={"pose": "upside-down"})
    assert_error(bad, 400, "invalid_request_error", "pose")


def test_paid_routes_replay_under_one_key(chars: Any) -> None:
    sb, api = chars
    key = str(uuid.uuid4())
    body = {"name": "Once", "generate": True, "attributes": ATTRS}
    before = quiet(api)
    first = api.post("/v1/characters", json=body, headers={"Idempotency-Key": key})
    again = api.post("/v1/characters", json=body, headers={"Idempotency-Key": key})
    assert first.status_code == again.status_code == 201
    assert again.headers["Aurous-Idempotent-Replayed"] == "true"
    assert again.json()["id"] == first.json()["id"]
    other = api.post(
        "/v1/characters", json={**body, "name": "Twice"}, headers={"Idempotency-Key": key}
    )
    assert_error(other, 409, "idempotency_key_in_use")
    char_id = first.json()["id"]
    until(api, char_id, "reviewing")
    regen_key = str(uuid.uuid4())
    for _ in range(2):
        r = api.post(
            f"/v1/characters/{char_id}/refs/regenerate",
            json={"pose": "front"},
            headers={"Idempotency-Key": regen_key},
        )
        assert r.status_code == 200
    until(api, char_id, "reviewing")
    assert before["credits"] - balance(api)["credits"] == 4 + 1
    ledger = NOKEY.get(f"{sb.base_url}/_sandbox/ledger").json()
    row = next(c for c in ledger["characters"] if c["id"] == char_id)
    assert row["rounds"] == 2 and row["credits_charged"] == 5


# -- list, get, patch, delete --------------------------------------------------------------------


def test_list_pages_filters_and_hides_deleted() -> None:
    with Sandbox(latency=0.05, rate_limits=False) as sb, make_client(sb) as api:
        ids = [synth(api, name=f"c{i}")["id"] for i in range(5)]
        for char_id in ids:
            until(api, char_id, "reviewing")
        api.post(f"/v1/characters/{ids[0]}/save")
        api.delete(f"/v1/characters/{ids[4]}")  # reviewing: hard delete
        page = api.get("/v1/characters", params={"limit": 2}).json()
        assert page["object"] == "list" and page["has_more"] is True
        assert [c["id"] for c in page["data"]] == [ids[3], ids[2]]
        assert page["next_cursor"] == ids[2]
        rest = api.get("/v1/characters", params={"starting_after": ids[2]}).json()
        assert [c["id"] for c in rest["data"]] == [ids[1], ids[0]] and rest["has_more"] is False
        assert rest["next_cursor"] is None
        ready = api.get("/v1/characters", params={"status": "ready"}).json()["data"]
        assert [c["id"] for c in ready] == [ids[0]]
        for bad in ("cancelled", "deleted", "nope"):
            r = api.get("/v1/characters", params={"status": bad})
            assert_error(r, 400, "invalid_request", "status")
        assert r.headers["X-RateLimit-Limit"] == "240"


def test_patch_replaces_attributes_whole_and_names_a_bad_key(chars: Any) -> None:
    _, api = chars
    char = synth(api, name="Patchy")
    r = api.patch(f"/v1/characters/{char['id']}", json={"attributes": {"hair_color": "red"}})
    assert r.status_code == 200 and r.json()["attributes"] == {"hair_color": "red"}
    r = api.patch(f"/v1/characters/{char['id']}", json={"name": "Patched"})
    assert r.json()["name"] == "Patched" and r.json()["attributes"] == {"hair_color": "red"}
    bad = api.patch(
        f"/v1/characters/{char['id']}", json={"name": "x", "status": "ready", "refs": []}
    )
    err = assert_error(bad, 400, "invalid_request", "status")
    assert "'status'" in err["message"] and "'refs'" in err["message"]
    too_long = api.patch(f"/v1/characters/{char['id']}", json={"name": "x" * 121})
    assert_error(too_long, 400, "invalid_request", "name")
    unknown_attr = api.patch(f"/v1/characters/{char['id']}", json={"attributes": {"wings": "2"}})
    assert_error(unknown_attr, 400, "invalid_request", "attributes.wings")
    missing = api.patch("/v1/characters/char_00000000000000000000000000", json={"name": "x"})
    assert_error(missing, 404, "resource_not_found", "character_id")


def test_delete_hard_in_review_soft_otherwise(chars: Any, receiver: Receiver) -> None:
    _, api = chars
    ep = api.post(
        "/v1/webhook_endpoints",
        json={"url": receiver.url + "/chars", "events": ["character.cancelled"]},
    ).json()
    # synthesizing: soft, cancelled, hold released, no charge
    before = quiet(api)
    flying = synth(api, name="Gone early")
    r = api.delete(f"/v1/characters/{flying['id']}")
    assert r.status_code == 200
    assert r.json() == {"id": flying["id"], "object": "character", "deleted": True}
    assert balance(api) == before
    assert_error(api.get(f"/v1/characters/{flying['id']}"), 404, "resource_not_found")
    assert_error(api.delete(f"/v1/characters/{flying['id']}"), 404, "resource_not_found")
    hits = receiver.wait("/chars")
    assert hits[0].json()["type"] == "character.cancelled"
    assert hits[0].json()["data"]["id"] == flying["id"]
    # ready: soft; refused by POST /v1/images
    t = ticket(api, png())
    ready = api.post("/v1/characters", json={"name": "Soft", "upload_ids": [t["upload_id"]]}).json()
    assert api.delete(f"/v1/characters/{ready['id']}").status_code == 200
    listed = [c["id"] for c in api.get("/v1/characters", params={"limit": 100}).json()["data"]]
    assert ready["id"] not in listed
    r = api.post("/v1/images", json={"prompt": "p", "character_id": ready["id"]})
    assert_error(r, 404, "resource_not_found", "character_id")
    api.delete(f"/v1/webhook_endpoints/{ep['id']}")


# -- character_id on images, other teams, buckets, webhooks --------------------------------------


def test_character_id_on_image_creates(chars: Any) -> None:
    _, api = chars
    t = ticket(api, png())
    ready = api.post("/v1/characters", json={"name": "Lead", "upload_ids": [t["upload_id"]]}).json()
    gen = api.post("/v1/images", json={"prompt": "at the beach", "character_id": ready["id"]})
    assert gen.status_code == 201, gen.text
    assert gen.json()["character_id"] == ready["id"] and gen.json()["inference_type"] == "i2i"
    est = api.post("/v1/images/estimate", json={"prompt": "p", "character_id": ready["id"]})
    assert est.json()["estimated_cost"]["amount"] == 1  # characters are free
    flying = synth(api, name="Not yet")
    r = api.post("/v1/images", json={"prompt": "p", "character_id": flying["id"]})
    assert_error(r, 400, "character_not_ready", "character_id")
    until(api, flying["id"], "reviewing")
    r = api.post("/v1/images", json={"prompt": "p", "character_id": flying["id"]})
    assert_error(r, 400, "character_not_ready", "character_id")
    unknown = api.post("/v1/images", json={"prompt": "p", "character_id": "char_nope"})
    assert_error(unknown, 404, "resource_not_found", "character_id")
    both = {"prompt": "p", "character_id": ready["id"], "reference_image_urls": ["https://x.y/z"]}
    assert_error(api.post("/v1/images", json=both), 400, "mutually_exclusive_input")


def test_another_teams_character_and_upload_are_404(chars: Any) -> None:
    sb, api = chars
    foreign = NOKEY.post(f"{sb.base_url}/_sandbox/characters/foreign").json()
    char_id, upload_id = foreign["character_id"], foreign["upload_id"]
    assert_error(api.get(f"/v1/characters/{char_id}"), 404, "resource_not_found")
    assert_error(
        api.patch(f"/v1/characters/{char_id}", json={"name": "x"}), 404, "resource_not_found"
    )
    assert_error(api.delete(f"/v1/characters/{char_id}"), 404, "resource_not_found")
    r = api.post("/v1/images", json={"prompt": "p", "character_id": char_id})
    assert_error(r, 404, "resource_not_found", "character_id")
    r = api.post("/v1/characters/uploads/classify", json={"upload_id": upload_id})
    assert_error(r, 404, "resource_not_found", "upload_id")
    r = api.post("/v1/characters", json={"name": "x", "upload_ids": [upload_id]})
    assert_error(r, 404, "resource_not_found", "upload_ids[0]")
    listed = api.get("/v1/characters", params={"limit": 100}).json()["data"]
    assert char_id not in [c["id"] for c in listed]


def test_buckets_and_their_headers() -> None:
    with Sandbox(latency=0.05, credits=10_000) as sb, make_client(sb) as api:
        assert api.get("/v1/characters").headers["X-RateLimit-Limit"] == "240"
        init = api.post(
            "/v1/characters/uploads/init",
            json={"filename": "a.png", "extension": "png", "content_type": "image/png"},
        )
        assert init.headers["X-RateLimit-Limit"] == "60"
        statuses = []
        for i in range(13):
            r = api.post(
                "/v1/characters", json={"name": f"n{i}", "generate": True, "attributes": ATTRS}
            )
            statuses.append(r.status_code)
            assert r.headers["X-RateLimit-Limit"] == "12"
        assert statuses == [201] * 12 + [429]
        assert_error(r, 429, "too_many_requests")
        assert "characters_synthesize" in r.json()["error"]["message"] and r.headers["Retry-After"]
        assert r.headers["X-RateLimit-Remaining"] == "0"
        char_id = api.get("/v1/characters").json()["data"][0]["id"]
        until(api, char_id, "reviewing")
        resynth = api.post(f"/v1/characters/{char_id}/resynthesize")
        assert_error(resynth, 429, "too_many_requests")
        # the upload flow draws from characters_post, untouched by the synthesis bucket
        t = ticket(api, png())
        made = api.post("/v1/characters", json={"name": "u", "upload_ids": [t["upload_id"]]})
        assert made.status_code == 201 and made.headers["X-RateLimit-Limit"] == "60"
        assert made.headers.get_list("X-RateLimit-Limit") == ["60"]


def test_character_webhooks(chars: Any, receiver: Receiver) -> None:
    _, api = chars
    ep = api.post(
        "/v1/webhook_endpoints",
        json={
            "url": receiver.url + "/lifecycle",
            "events": ["character.completed", "character.failed"],
        },
    ).json()
    ok = synth(api, name="Hooked", client_reference_id="ref-1")
    until(api, ok["id"], "reviewing")
    api.post(f"/v1/characters/{ok['id']}/save")
    bad = synth(api, name="forbidden hook")
    until(api, bad["id"], "failed")
    hits = receiver.wait("/lifecycle", 2)
    seen = {(h.json()["type"], h.json()["data"]["id"]) for h in hits}
    assert seen == {("character.completed", ok["id"]), ("character.failed", bad["id"])}
    done = next(h.json()["data"] for h in hits if h.json()["type"] == "character.completed")
    assert done["status"] == "ready" and len(done["refs"]) == 4
    assert done["client_reference_id"] == "ref-1"
    test_fire = api.post(
        f"/v1/webhook_endpoints/{ep['id']}/test", json={"event_type": "character.failed"}
    )
    assert test_fire.status_code == 200
    api.delete(f"/v1/webhook_endpoints/{ep['id']}")


# -- refs as they arrive ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def slow() -> Iterator[tuple[Sandbox, httpx.Client]]:
    """Syntheses of about 2 s, so a poll sees the poses arrive one by one."""
    with (
        Sandbox(latency=2.0, credits=10_000, seed=5, rate_limits=False) as sb,
        make_client(sb) as client,
    ):
        yield sb, client


def watch(api: httpx.Client, char_id: str) -> list[tuple[str, list[str], float]]:
    """(status, poses listed, credits) at each poll, until the synthesis has ended."""
    seen: list[tuple[str, list[str], float]] = []

    def ended() -> bool:
        body = api.get(f"/v1/characters/{char_id}").json()
        seen.append((body["status"], [r["pose"] for r in body["refs"]], balance(api)["credits"]))
        return bool(body["status"] != "synthesizing")

    wait_until(ended, timeout=60)
    return seen


def test_synthesis_lists_each_pose_when_it_renders_and_charges_at_the_end(slow: Any) -> None:
    _, api = slow
    before = quiet(api)
    char = synth(api, name="Staggered")
    assert char["status"] == "synthesizing" and char["refs"] == []
    seen = watch(api, char["id"])
    order = ["portrait", "front", "side", "back"]
    counts = [len(poses) for _, poses, _ in seen]
    assert counts == sorted(counts), counts  # a pose once listed stays listed
    assert all(poses == order[: len(poses)] for _, poses, _ in seen), seen
    during = [(len(poses), credits) for status, poses, credits in seen if status == "synthesizing"]
    assert {n for n, _ in during} & {1, 2, 3}, counts  # some poses listed before the last
    assert all(credits == before["credits"] for _, credits in during)  # nothing charged yet
    assert seen[-1][:2] == ("reviewing", order)
    assert before["credits"] - seen[-1][2] == 4


def test_regenerating_one_pose_keeps_the_others_listed(slow: Any) -> None:
    _, api = slow
    char = synth(api, name="Keeper")
    first = until(api, char["id"], "reviewing")
    old = {ref["pose"]: NOKEY.get(ref["url"]).content for ref in first["refs"]}
    r = api.post(f"/v1/characters/{char['id']}/refs/regenerate", json={"pose": "side"})
    assert r.status_code == 200 and r.json()["status"] == "synthesizing"
    assert [ref["pose"] for ref in r.json()["refs"]] == list(old)
    assert NOKEY.get(r.json()["refs"][2]["url"]).content == old["side"]  # the old one until done
    seen = watch(api, char["id"])
    assert all(poses == list(old) for _, poses, _ in seen), seen
    done = api.get(f"/v1/characters/{char['id']}").json()
    new = {ref["pose"]: NOKEY.get(ref["url"]).content for ref in done["refs"]}
    assert [p for p in old if new[p] != old[p]] == ["side"]


def test_arrivals_are_staggered_within_the_synthesis_and_repeatable() -> None:
    from aurous_nb.sandbox.characters import arrivals

    one = arrivals(seed=5, char_id="char_x", round=1, start=100.0, end=102.0, poses=4)
    assert one == arrivals(seed=5, char_id="char_x", round=1, start=100.0, end=102.0, poses=4)
    assert 100.0 < one[0] < one[1] < one[2] < one[3] == 102.0
    assert one != arrivals(seed=5, char_id="char_x", round=2, start=100.0, end=102.0, poses=4)
    assert arrivals(seed=5, char_id="char_x", round=1, start=7.0, end=7.0, poses=4) == [7.0] * 4

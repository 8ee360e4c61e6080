"""Webhook verification (unit) and endpoint management against the sandbox's real deliveries."""

from __future__ import annotations

import json

import pytest
from client_support import Api

from aurous_nb import webhooks
from aurous_nb.client import Deleted, Generation, WebhookEndpoint, WebhookTestFire
from aurous_nb.webhooks import (
    InvalidSignatureError,
    MalformedSignatureHeaderError,
    TimestampOutOfToleranceError,
    WebhookVerificationError,
)
from tests.webhook_receiver import Receiver

SECRET = "whsec_" + "k" * 32
BODY = json.dumps(
    {
        "id": "evt_1",
        "object": "event",
        "type": "image.completed",
        "created_at": "2026-05-15T10:00:00Z",
        "api_version": "2026-05-15",
        "synthetic": False,
        "data": {"id": "img_1", "status": "succeeded", "object": "inference"},
    }
).encode()
T = 1_800_000_000


def test_sign_matches_the_documented_scheme() -> None:
    import hashlib
    import hmac

    expected = hmac.new(SECRET.encode(), f"{T}.".encode() + BODY, hashlib.sha256).hexdigest()
    assert webhooks.sign(BODY, SECRET, timestamp=T) == f"t={T},v1={expected}"


def test_verify_roundtrip() -> None:
    header = webhooks.sign(BODY, SECRET, timestamp=T)
    event = webhooks.verify(BODY, header, SECRET, now=T + 10)
    assert event.type == "image.completed" and event.id == "evt_1"
    assert event.created_at is not None and event.created_at.tzinfo is not None
    assert isinstance(event.generation, Generation) and event.generation.id == "img_1"
    assert webhooks.verify(BODY.decode(), header, SECRET, now=T).id == "evt_1"  # str body


def test_rotation_any_v1_and_any_secret() -> None:
    old, new = SECRET, "whsec_" + "n" * 32
    header = webhooks.sign(BODY, [new, old], timestamp=T)
    assert header.count("v1=") == 2
    assert webhooks.verify(BODY, header, old, now=T).id == "evt_1"
    assert webhooks.verify(BODY, header, new, now=T).id == "evt_1"
    single = webhooks.sign(BODY, old, timestamp=T)
    assert webhooks.verify(BODY, single, [new, old], now=T).id == "evt_1"


@pytest.mark.parametrize(
    ("body", "secret"),
    [(BODY + b" ", SECRET), (BODY, "whsec_other"), (BODY.replace(b"img_1", b"img_2"), SECRET)],
)
def test_bad_signature(body: bytes, secret: str) -> None:
    header = webhooks.sign(BODY, SECRET, timestamp=T)
    with pytest.raises(InvalidSignatureError) as info:
        webhooks.verify(body, header, secret, now=T)
    assert info.value.code == "invalid_signature"
    assert SECRET not in str(info.value)


@pytest.mark.parametrize(("offset", "word"), [(301, "old"), (-301, "future")])
def test_timestamp_tolerance(offset: int, word: str) -> None:
    header = webhooks.sign(BODY, SECRET, timestamp=T)
    with pytest.raises(TimestampOutOfToleranceError, match=word) as info:
        webhooks.verify(BODY, header, SECRET, now=T + offset)
    assert info.value.age == offset
    assert webhooks.verify(BODY, header, SECRET, now=T + 300).id == "evt_1"
    assert webhooks.verify(BODY, header, SECRET, now=T + offset, tolerance=400).id == "evt_1"


@pytest.mark.parametrize(
    "header",
    ["", "garbage", f"v1={'a' * 64}", f"t={T}", f"t=abc,v1={'a' * 64}", f"t={T},v0=abc"],
)
def test_malformed_header(header: str) -> None:
    with pytest.raises(MalformedSignatureHeaderError):
        webhooks.verify(BODY, header, SECRET, now=T)


def test_errors_are_one_family() -> None:
    for cls in (InvalidSignatureError, TimestampOutOfToleranceError, MalformedSignatureHeaderError):
        assert issubclass(cls, WebhookVerificationError)
        assert issubclass(cls, ValueError)
    with pytest.raises(WebhookVerificationError, match="JSON"):
        webhooks.verify(b"[not json", webhooks.sign(b"[not json", SECRET, T), SECRET, now=T)


async def test_endpoints_against_sandbox(api: Api, receiver: Receiver) -> None:
    path = f"/endpoints-{api.kind}"  # the receiver is shared: this test reads its own path
    url = receiver.url + path
    ep = await api(
        lambda c: c.webhook_endpoints.create(
            url,
            ["image.completed", "image.failed"],
            description="tests",
            metadata={"suite": api.kind},
        )
    )
    assert isinstance(ep, WebhookEndpoint)
    assert ep.id.startswith("we_") and ep.secret and ep.secret.startswith("whsec_")
    assert ep.secret not in repr(ep)
    assert ep.events == ("image.completed", "image.failed")
    got = await api(lambda c: c.webhook_endpoints.get(ep.id))
    assert got.secret is None and got.secret_preview and got.metadata == {"suite": api.kind}
    listed = await api(lambda c: c.webhook_endpoints.list())
    assert ep.id in [e.id for e in listed]
    upd = await api(lambda c: c.webhook_endpoints.update(ep.id, description="renamed"))
    assert upd.description == "renamed" and upd.url == url

    fire = await api(lambda c: c.webhook_endpoints.test(ep.id, "image.completed"))
    assert isinstance(fire, WebhookTestFire) and fire.enqueued and fire.endpoint_id == ep.id
    hit, *_ = receiver.wait(path)
    event = webhooks.verify(hit.body, hit.headers["aurous-webhook-signature"], ep.secret)
    assert event.synthetic is True and event.type == "image.completed"
    assert event.id == fire.event_id

    rotated = await api(lambda c: c.webhook_endpoints.rotate_secret(ep.id))
    assert rotated.secret and rotated.secret != ep.secret
    await api(lambda c: c.webhook_endpoints.test(ep.id, "image.failed"))
    hit2 = receiver.wait(path, 2)[1]
    body2, sig = hit2.body, hit2.headers["aurous-webhook-signature"]
    assert webhooks.verify(body2, sig, rotated.secret).type == "image.failed"
    assert webhooks.verify(body2, sig, ep.secret).type == "image.failed"  # 24 h overlap

    gone = await api(lambda c: c.webhook_endpoints.delete(ep.id))
    assert isinstance(gone, Deleted) and gone.deleted is True
    again = await api(lambda c: c.webhook_endpoints.delete(ep.id))
    assert again.deleted is False


async def test_per_request_webhook_url(api: Api, receiver: Receiver) -> None:
    path = f"/per-request-{api.kind}"
    gen = await api(lambda c: c.images.create("hooked", webhook_url=receiver.url + path))
    hit, *_ = receiver.wait(path)
    payload = hit.json()
    assert payload["event"] == "image.completed"
    assert payload["data"]["id"] == gen.id
    if "aurous-webhook-signature" in hit.headers:  # signed only when the team has an endpoint
        with pytest.raises(WebhookVerificationError):
            webhooks.verify(hit.body, hit.headers["aurous-webhook-signature"], "whsec_wrong")

"""The webhook receiver over loopback: signed deliveries reach listeners, forgeries do not."""

from __future__ import annotations

import json
from typing import Any

import httpx

from aurous_nb.webhooks import sign
from aurous_nb.work.receiver import WebhookReceiver

SECRET = "whsec_receiver_test_secret"


async def test_signed_deliveries_reach_listeners_and_forgeries_are_refused() -> None:
    got: list[dict[str, Any]] = []
    async with WebhookReceiver(secret=SECRET) as receiver:
        receiver.subscribe(got.append)
        body = json.dumps({"event": "image.completed", "data": {"id": "img_1"}}).encode()
        async with httpx.AsyncClient() as http:
            ok = await http.post(
                receiver.url,
                content=body,
                headers={"Aurous-Webhook-Signature": sign(body, SECRET)},
            )
            forged = await http.post(
                receiver.url,
                content=body,
                headers={"Aurous-Webhook-Signature": sign(body, "whsec_someone_else")},
            )
            unsigned = await http.post(receiver.url, content=body)
            wrong_method = await http.get(receiver.url)
    assert ok.status_code == 204 and got == [{"event": "image.completed", "data": {"id": "img_1"}}]
    assert forged.status_code == unsigned.status_code == 400
    assert wrong_method.status_code == 405
    assert receiver.received == 1 and receiver.refused == 2
    assert not receiver.started


async def test_without_a_secret_any_json_object_is_accepted() -> None:
    got: list[dict[str, Any]] = []
    receiver = await WebhookReceiver().start()
    try:
        receiver.subscribe(got.append)
        async with httpx.AsyncClient() as http:
            assert (await http.post(receiver.url, json={"a": 1})).status_code == 204
            assert (await http.post(receiver.url, content=b"[1]")).status_code == 400
            assert (await http.post(receiver.url, content=b"not json")).status_code == 400
        receiver.unsubscribe(got.append)
    finally:
        await receiver.close()
    assert got == [{"a": 1}]

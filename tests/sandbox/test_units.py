"""Small pure pieces: ids, presets, prices, ranges, signing."""

from __future__ import annotations

import hashlib
import hmac
import re

import pytest

from aurous_nb.sandbox import ids, outputs, pricing, validation, webhooks
from aurous_nb.sandbox.errors import ApiError


def test_ids_are_prefixed_crockford_ulids() -> None:
    a, b = ids.new_id("img"), ids.new_id("img")
    assert re.fullmatch(r"img_[0-9A-HJKMNP-TV-Z]{26}", a)
    assert a != b
    assert ids.ulid(0).startswith("0000000000")
    assert ids.ulid(1.0)[:10] < ids.ulid(2.0)[:10]


def test_all_sixteen_canonical_presets() -> None:
    canonical = {k: v for k, v in validation.SIZE_PRESETS.items() if k[:2] in ("2k", "4k")}
    assert len(canonical) == 16
    for name, (w, h) in canonical.items():
        assert max(w, h) == (2048 if name.startswith("2k") else 4096)
        assert w % 32 == 0 and h % 32 == 0
    assert validation.SIZE_PRESETS["4k_21_9"] == (4096, 1760)
    assert validation.SIZE_PRESETS["2k_3_4"] == (1536, 2048)


@pytest.mark.parametrize(
    ("raw", "snapped"), [(1024, 1024), (1039, 1024), (1040, 1056), (4096, 4096)]
)
def test_snap32(raw: int, snapped: int) -> None:
    assert validation.snap32(raw) == snapped


def test_pricing_math() -> None:
    card = pricing.CARDS["2026-05-15"]
    assert pricing.image_cost(card, count=4, enhance=False).amount == 4
    assert pricing.image_cost(card, count=2, enhance=True).breakdown() == {"base": 2, "enhance": 2}
    assert pricing.video_cost(card, resolution="720p", duration=5, enhance=False).amount == 3.75
    assert pricing.num(2.0) == 2 and isinstance(pricing.num(2.0), int)
    assert pricing.DEFAULT_VERSION in pricing.KNOWN_VERSIONS
    assert len(pricing.KNOWN_VERSIONS) >= 3


def test_range_parsing() -> None:
    assert outputs.parse_range("bytes=0-9", 100) == (0, 9)
    assert outputs.parse_range("bytes=90-", 100) == (90, 99)
    assert outputs.parse_range("bytes=-10", 100) == (90, 99)
    assert outputs.parse_range("bytes=50-500", 100) == (50, 99)
    assert outputs.parse_range("items=0-1", 100) is None
    assert outputs.parse_range("bytes=0-1,5-6", 100) is None
    with pytest.raises(ApiError) as info:
        outputs.parse_range("bytes=100-", 100)
    assert info.value.status == 416


def test_output_tokens() -> None:
    signer = outputs.Signer()
    token = signer.mint("image", "img_1", "0", 2e9)
    assert signer.check(token, "image", "img_1", "0") == 2_000_000_000
    for kind, gid, idx in (
        ("image", "img_2", "0"),
        ("image", "img_1", "1"),
        ("video", "img_1", "0"),
    ):
        with pytest.raises(ApiError):
            signer.check(token, kind, gid, idx)
    with pytest.raises(ApiError):
        signer.check("garbage", "image", "img_1", "0")
    assert signer.mint("image", "img_1", "0", 2e9) != token


def test_webhook_signature_matches_an_independent_hmac() -> None:
    body = b'{"a":1}'
    secret = "whsec_test"
    expected = hmac.new(secret.encode(), b"1700000000." + body, hashlib.sha256).hexdigest()
    assert webhooks.sign(secret, 1_700_000_000, body) == expected
    header = webhooks.signature_header([secret, "whsec_old"], 1_700_000_000, body)
    assert header.startswith(f"t=1700000000,v1={expected},v1=")


def test_idempotency_window_is_24_hours() -> None:
    from aurous_nb.sandbox.idempotency import WINDOW_S, IdempotencyStore

    store = IdempotencyStore()
    assert store.begin("k", "POST /v1/images", {"a": 1}) is None
    store.finish("k", 201, b"{}", "application/json")
    record = store.begin("k", "POST /v1/images", {"a": 1})
    assert record is not None and record.status == 201
    record.created -= WINDOW_S + 1
    # Past the window the key starts fresh, even with another body.
    assert store.begin("k", "POST /v1/images", {"a": 2}) is None

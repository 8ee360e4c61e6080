"""Arbitrary JSON never makes the sandbox answer 5xx: every rejection is the error envelope."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sandbox_testkit import make_client

from aurous_nb.sandbox import Sandbox

FIELDS = [
    "prompt",
    "negative_prompt",
    "lora_id",
    "loras",
    "size",
    "width",
    "height",
    "steps",
    "guidance_scale",
    "cfg_rescale",
    "denoise_strength",
    "seed",
    "count",
    "enhance_prompt",
    "reference_image_urls",
    "character_id",
    "webhook_url",
    "video_lora_id",
    "first_frame_url",
    "last_frame_url",
    "resolution",
    "ratio",
    "duration",
    "camera_fixed",
    "url",
    "events",
    "metadata",
]
#: Text with a lone surrogate (JSON's "\\ud800"): no UTF-8 form, so always a 400.
unencodable = st.builds(
    lambda head, bad, tail: head + bad + tail,
    st.text(max_size=8),
    st.characters(categories=["Cs"]),
    st.text(max_size=8),
)
scalars = (
    st.none()
    | st.booleans()
    | st.integers(-(2**40), 2**40)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=30)
    | unencodable
    | st.sampled_from(
        ["golden-hour", "seedance-1-lite", "2k_16_9", "720p", "16:9", "*", "https://a.b/c"]
    )
)
values = st.recursive(
    scalars,
    lambda inner: (
        st.lists(inner, max_size=4)
        | st.dictionaries(st.text(max_size=8) | unencodable, inner, max_size=4)
    ),
    max_leaves=8,
)
bodies = st.dictionaries(st.sampled_from(FIELDS), values, max_size=8)


@pytest.fixture(scope="module")
def fuzz_client() -> Iterator[httpx.Client]:
    options = {"latency": 30, "credits": 10**9, "rate_limits": False, "concurrency_limit": 10**6}
    with Sandbox(**options) as sb, make_client(sb) as client:
        yield client


@settings(
    max_examples=75, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    route=st.sampled_from(
        [
            "/v1/images",
            "/v1/images/estimate",
            "/v1/videos",
            "/v1/videos/estimate",
            "/v1/webhook_endpoints",
        ]
    ),
    body=bodies,
)
def test_random_bodies_never_500(
    fuzz_client: httpx.Client, route: str, body: dict[str, Any]
) -> None:
    # json.dumps escapes surrogates as JSON allows ("\\ud800"); httpx's json= would not encode them
    headers = {"Content-Type": "application/json"}
    r = fuzz_client.post(route, content=json.dumps(body).encode(), headers=headers)
    assert r.status_code < 500, r.text
    if r.status_code >= 400:
        error = r.json()["error"]
        assert error["request_id"] == r.headers["Aurous-Request-Id"]
        assert error["code"] and error["type"]

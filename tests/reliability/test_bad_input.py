"""Arbitrary input to the client, the magics' parser and the sandbox's routes: always a typed
error that names the field, never an internal traceback, a 500 or a hang.

Complements tests/sandbox/test_fuzz.py (random JSON bodies on five create routes) with wrong
types through the client, raw junk bytes, every route with a body, query strings, path ids,
oversized uploads and magic lines. ``AUROUS_BAD_INPUT_EXAMPLES`` scales the examples (the soak
run raises it); ``AUROUS_BAD_INPUT_COUNT_FILE`` receives how many inputs were tried.
"""

from __future__ import annotations

import contextlib
import json
import os
from collections.abc import Iterator
from typing import Any
from urllib.parse import quote

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from IPython.core.error import UsageError
from tally import count

from aurous_nb.client import AurousError, Client, ValidationError
from aurous_nb.client._params import ImageParams, VideoParams
from aurous_nb.notebook.magics.args import COMMANDS, HelpRequested, parse
from aurous_nb.sandbox import Sandbox

EXAMPLES = int(os.environ.get("AUROUS_BAD_INPUT_EXAMPLES", "150"))
TIMEOUT = 10.0  # a hang shows up as a ReadTimeout, which fails the test

FUZZ = settings(
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)

#: Text with no UTF-8 form: a lone surrogate inside (what errors="surrogateescape" or a split
#: UTF-16 pair leaves). JSON carries it as a "\\ud800" escape; the client refuses it unsent.
unencodable = st.builds(
    lambda head, bad, tail: head + bad + tail,
    st.text(max_size=8),
    st.characters(categories=["Cs"]),
    st.text(max_size=8),
)
junk_scalars = (
    st.none()
    | st.booleans()
    | st.integers(-(2**70), 2**70)
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(max_size=40)
    | st.text(min_size=4001, max_size=5000)
    | st.binary(max_size=20)
    | unencodable
    | st.sampled_from(["", " ", "\x00", "🦄" * 50, "-1", "1e309", "file_", "https://", "٣"])
    | st.sampled_from(["\ud800", "caf\udce9", "\ud83d\ude00", "\udfff\ud800"])
)
junk = st.recursive(
    junk_scalars,
    lambda inner: (
        st.lists(inner, max_size=3)
        | st.dictionaries(st.text(max_size=6) | unencodable, inner, max_size=3)
    ),
    max_leaves=6,
)


@pytest.fixture(scope="module")
def sandbox() -> Iterator[Sandbox]:
    options: dict[str, Any] = {
        "latency": 30,
        "credits": 1e12,
        "rate_limits": False,
        "concurrency_limit": 10**9,
    }
    with Sandbox(**options) as sb:
        yield sb


@pytest.fixture(scope="module")
def sent() -> list[httpx.Request]:
    return []


@pytest.fixture(scope="module")
def client(sandbox: Sandbox, sent: list[httpx.Request]) -> Iterator[Client]:
    http = httpx.Client(timeout=TIMEOUT, event_hooks={"request": [sent.append]})
    with Client(
        api_key=sandbox.api_key, base_url=sandbox.base_url, max_retries=0, http_client=http
    ) as c:
        yield c
    http.close()


def _unencodable(value: Any) -> bool:
    """Whether some text in ``value`` (keys included) has no UTF-8 form."""
    try:
        json.dumps(value, ensure_ascii=False, default=repr).encode()
    except UnicodeEncodeError:
        return True
    return False


def _assert_typed(exc: AurousError, names: set[str]) -> None:
    assert exc.param, f"no field named: {exc!r}"
    root = exc.param.split("[")[0].split(".")[0]
    assert root in names, f"{exc.param!r} is not a field of the request: {sorted(names)}"
    assert "Traceback" not in str(exc)


# -- the client ---------------------------------------------------------------------------------

image_fields = sorted(ImageParams.__annotations__)
video_fields = sorted(VideoParams.__annotations__)


@FUZZ
@given(
    prompt=junk,
    params=st.dictionaries(st.sampled_from([*image_fields, "bogus", "Prompt"]), junk, max_size=5),
)
def test_client_image_params(
    client: Client, sent: list[httpx.Request], prompt: Any, params: dict[str, Any]
) -> None:
    count("client")
    before = len(sent)
    try:
        client.images.estimate(prompt, **params)
    except ValidationError as exc:
        assert len(sent) == before, "a request left despite a validation error"
        _assert_typed(exc, {"prompt", *params, *image_fields})
    except AurousError as exc:  # the sandbox refused what the client let through
        assert exc.status is not None and 400 <= exc.status < 500, repr(exc)
        _assert_typed(exc, {"prompt", *params, *image_fields})
        assert not _unencodable([prompt, params]), "text with no UTF-8 form was sent"
    else:
        assert not _unencodable([prompt, params]), "text with no UTF-8 form was sent"


@FUZZ
@given(
    lora=junk | st.sampled_from(["seedance-1-lite", "nope"]),
    params=st.dictionaries(st.sampled_from([*video_fields, "bogus"]), junk, max_size=5),
)
def test_client_video_params(
    client: Client, sent: list[httpx.Request], lora: Any, params: dict[str, Any]
) -> None:
    count("client")
    before = len(sent)
    try:
        client.videos.estimate(lora, **params)
    except ValidationError as exc:
        assert len(sent) == before
        _assert_typed(exc, {"video_lora_id", *params, *video_fields})
    except AurousError as exc:
        assert exc.status is not None and 400 <= exc.status < 500, repr(exc)
        _assert_typed(exc, {"video_lora_id", *params, *video_fields})
        assert not _unencodable([lora, params]), "text with no UTF-8 form was sent"
    else:
        assert not _unencodable([lora, params]), "text with no UTF-8 form was sent"


# -- the magics' parser ---------------------------------------------------------------------------

words = st.text(alphabet=st.characters(codec=None), max_size=60) | st.lists(
    st.sampled_from(
        ["--seed", "--count", "--budget", "--size", "-h", '"', "'", "{{x}}", "--", "=", "al_live_"]
    )
    | st.text(max_size=8)
    | unencodable,
    max_size=8,
).map(" ".join)


@FUZZ
@given(name=st.sampled_from(sorted(COMMANDS)), line=words, body=st.none() | st.text(max_size=40))
def test_magic_parser_only_raises_usage_errors(name: str, line: str, body: str | None) -> None:
    count("magic")
    with contextlib.suppress(UsageError, HelpRequested):
        parse(name, line, body=body)


@FUZZ
@given(
    option=st.sampled_from(["--seed", "--count", "--width", "--steps", "--guidance", "--budget"]),
    value=st.text(min_size=1, max_size=12).filter(lambda v: not _numberish(v)),
)
def test_magic_bad_option_value_names_the_option(option: str, value: str) -> None:
    count("magic")
    with pytest.raises(UsageError) as info:
        parse("generate", f"a cat {option} {json.dumps(value)}")
    assert option in str(info.value)


def _numberish(text: str) -> bool:
    try:
        float(text.strip().strip('"').replace("credits", ""))
    except ValueError:
        return text.strip().startswith("-") or not text.strip()
    return True


# -- the sandbox's routes ------------------------------------------------------------------------

BODY_ROUTES = [
    ("POST", "/v1/images"),
    ("POST", "/v1/images/estimate"),
    ("POST", "/v1/videos"),
    ("POST", "/v1/videos/estimate"),
    ("POST", "/v1/webhook_endpoints"),
    ("PATCH", "/v1/webhook_endpoints/{endpoint}"),
    ("POST", "/v1/webhook_endpoints/{endpoint}/test"),
    ("POST", "/v1/files"),
]
GET_ROUTES = [
    "/v1/images",
    "/v1/usage",
    "/v1/webhook_endpoints",
    "/v1/images/{id}",
    "/v1/images/{id}/output/{id}",
    "/v1/videos/{id}/output",
    "/v1/loras/{id}",
    "/v1/files/{id}",
    "/_sandbox/previews/{id}",
    "/_sandbox/files/{id}",
]


@pytest.fixture(scope="module")
def raw(sandbox: Sandbox) -> Iterator[httpx.Client]:
    headers = {"X-Api-Key": sandbox.api_key}
    with httpx.Client(base_url=sandbox.base_url, headers=headers, timeout=TIMEOUT) as c:
        yield c


@pytest.fixture(scope="module")
def endpoint(raw: httpx.Client) -> str:
    r = raw.post("/v1/webhook_endpoints", json={"url": "https://a.example/h", "events": ["*"]})
    assert r.status_code == 201
    return str(r.json()["id"])


def _assert_envelope(r: httpx.Response) -> None:
    assert r.status_code < 500, r.text
    if r.status_code >= 400:
        assert r.headers["content-type"].startswith("application/json")
        error = r.json()["error"]
        assert error["code"] and error["type"] and error["request_id"]
        assert "Traceback" not in r.text
        if error["code"] in ("missing_field", "value_out_of_range"):
            assert error["param"], r.text


raw_bodies = (
    st.binary(max_size=200)
    | st.text(max_size=200).map(str.encode)
    | unencodable.map(lambda s: s.encode("utf-8", "surrogatepass"))  # not UTF-8 at all
    | unencodable.map(lambda s: json.dumps({"prompt": s, "url": s, s: s}).encode())
    | junk.map(lambda v: json.dumps(v, default=repr).encode())
    | st.sampled_from(
        [b"", b"{", b"[]", b"null", b"NaN", b'{"prompt": NaN}', b"[" * 5000, b'{"a":' * 3000]
    )
)


@FUZZ
@given(
    route=st.sampled_from(BODY_ROUTES),
    body=raw_bodies,
    content_type=st.sampled_from(
        ["application/json", "text/plain", "multipart/form-data; boundary=x", "", "\u00e9"]
    ),
)
def test_sandbox_routes_take_junk_bodies(
    raw: httpx.Client, endpoint: str, route: tuple[str, str], body: bytes, content_type: str
) -> None:
    count("sandbox")
    method, path = route
    headers = {b"Content-Type": content_type.encode("utf-8")}
    r = raw.request(method, path.format(endpoint=endpoint), content=body, headers=headers)
    _assert_envelope(r)


@FUZZ
@given(
    path=st.sampled_from(GET_ROUTES),
    ident=st.text(min_size=1, max_size=40).filter(lambda s: "/" not in s and s not in (".", "..")),
    query=st.dictionaries(
        st.sampled_from(
            [
                "limit",
                "starting_after",
                "ending_before",
                "token",
                "start_time",
                "end_time",
                "bucket_width",
                "group_by",
                "page_token",
                "x",
            ]
        ),
        st.text(max_size=30) | st.integers(-(2**70), 2**70).map(str),
        max_size=4,
    ),
)
def test_sandbox_routes_take_junk_ids_and_queries(
    raw: httpx.Client, path: str, ident: str, query: dict[str, str]
) -> None:
    count("sandbox")
    r = raw.get(path.replace("{id}", quote(ident, safe="")), params=query)
    _assert_envelope(r)


def test_oversized_upload_names_the_file_field(raw: httpx.Client) -> None:
    count("sandbox")
    big = b"\x89PNG\r\n\x1a\n" + b"\0" * (12 * 1024 * 1024)
    r = raw.post(
        "/v1/files", files={"file": ("big.png", big, "image/png")}, data={"purpose": "reference"}
    )
    assert r.status_code == 400 and r.json()["error"]["param"] == "file", r.text
    r = raw.post(
        "/v1/files",
        files={"file": ("x.png", b"not an image", "image/png")},
        data={"purpose": "reference"},
    )
    _assert_envelope(r)
    assert r.status_code == 400 and r.json()["error"]["param"], r.text


def test_the_checks_can_fail() -> None:
    """The helpers reject an untyped error and a 500."""
    with pytest.raises(AssertionError):
        _assert_typed(ValidationError("", "no field"), {"prompt"})
    with pytest.raises(AssertionError):
        _assert_typed(ValidationError("seed", "seed: bad"), {"prompt"})
    response = httpx.Response(500, json={"error": {"code": "internal_error"}})
    with pytest.raises(AssertionError):
        _assert_envelope(response)

"""The key never leaves its host, and never shows.

It is sent only to the configured base URL's origin (scheme, host, port), whatever the path, the
redirect or the output URL; and no repr, str, ``vars``, exception or log line shows it, for keys
of every shape, across Client, AsyncClient, Session and the sandbox's config.

"Another host" is a small loopback server that records the headers it receives (and forwards to
the sandbox when it plays a CDN): the sandbox cannot report what another origin was sent.
"""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
import pytest

from aurous_nb.client import AsyncClient, AuthenticationError, Client
from aurous_nb.sandbox import Sandbox


class Recorder:
    """A loopback HTTP server that records each request's headers.

    It answers ``{}``; or a redirect to ``redirect_to``; or, with ``forward_to``, the answer
    of that server (headers forwarded except ``X-Api-Key``, so forwarding never lends it).
    """

    def __init__(self) -> None:
        self.seen: list[dict[str, str]] = []
        self.redirect_to: str | None = None
        self.forward_to: str | None = None
        recorder = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                recorder.answer(self)

            do_POST = do_GET

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def answer(self, h: BaseHTTPRequestHandler) -> None:
        self.seen.append({k.lower(): v for k, v in h.headers.items()})
        length = int(h.headers.get("content-length") or 0)
        if length:
            h.rfile.read(length)
        status, headers, body = 200, {"Content-Type": "application/json"}, b"{}"
        if self.redirect_to:
            status, headers, body = 307, {"Location": self.redirect_to + h.path}, b""
        elif self.forward_to:
            r = httpx.get(self.forward_to + h.path, timeout=10)
            status, body = r.status_code, r.content
            headers = {"Content-Type": r.headers.get("content-type", "application/octet-stream")}
        h.send_response(status)
        for name, value in {**headers, "Content-Length": str(len(body))}.items():
            h.send_header(name, value)
        h.end_headers()
        h.wfile.write(body)

    @property
    def keyed(self) -> int:
        """How many requests carried an API key (in either header the API reads)."""
        return sum(1 for hs in self.seen if "x-api-key" in hs or "authorization" in hs)

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def elsewhere() -> Iterator[Recorder]:
    rec = Recorder()
    yield rec
    rec.close()


@pytest.fixture(scope="module")
def sandbox() -> Iterator[Sandbox]:
    with Sandbox(latency=0.05, latency_spread=0.0) as sb:
        yield sb


# ------------------------------------------------------------------ where the key goes


def test_an_absolute_url_on_another_host_gets_no_key(sandbox: Sandbox, elsewhere: Recorder) -> None:
    """Before: the key went to the other origin on 2 of 2 requests. After: 0 of 2."""
    with Client(api_key=sandbox.api_key, base_url=sandbox.base_url, max_retries=0) as c:
        c.request("GET", elsewhere.url + "/v1/team")
        c.request("POST", elsewhere.url + "/v1/images/estimate", json={"prompt": "x"})
        assert len(elsewhere.seen) == 2
        assert elsewhere.keyed == 0
        # The configured origin still gets it, whether the path is relative or absolute.
        assert c.request("GET", "/v1/team")["id"]
        assert c.request("GET", sandbox.base_url + "/v1/team")["id"]


def test_same_port_other_host_name_is_another_origin(sandbox: Sandbox) -> None:
    """``localhost`` is not ``127.0.0.1``: the sandbox behind it sees no key and says so."""
    other = sandbox.base_url.replace("127.0.0.1", "localhost")
    c = Client(api_key=sandbox.api_key, base_url=sandbox.base_url, max_retries=0)
    with c, pytest.raises(AuthenticationError) as info:
        c.request("GET", other + "/v1/team")
    assert info.value.code == "missing_api_key"


def test_async_client_keeps_the_key_home(sandbox: Sandbox, elsewhere: Recorder) -> None:
    async def go() -> None:
        async with AsyncClient(api_key=sandbox.api_key, base_url=sandbox.base_url) as c:
            await c.request("GET", elsewhere.url + "/v1/team")
            assert (await c.request("GET", "/v1/team"))["id"]

    asyncio.run(go())
    assert len(elsewhere.seen) == 1 and elsewhere.keyed == 0


def test_a_redirect_to_another_host_gets_no_key(elsewhere: Recorder) -> None:
    """Ours or httpx's: a caller's http_client that follows redirects must not carry the key."""
    home = Recorder()
    home.redirect_to = elsewhere.url
    try:
        for http in (None, httpx.Client(follow_redirects=True)):
            with Client(api_key="al_live_" + "a" * 64, base_url=home.url, http_client=http) as c:
                c.request("GET", "/v1/team")
            if http is not None:
                http.close()
        assert home.keyed == len(home.seen) == 2  # the home origin did get it
        assert len(elsewhere.seen) == 2
        assert elsewhere.keyed == 0
    finally:
        home.close()


def test_outputs_on_a_cdn_host_are_fetched_without_the_key(
    elsewhere: Recorder, tmp_path: Path
) -> None:
    with Sandbox(latency=0.05, latency_spread=0.0, public_base_url=elsewhere.url) as sb:
        elsewhere.forward_to = sb.base_url
        with Client(api_key=sb.api_key, base_url=sb.base_url) as c:
            gen = c.images.wait(c.images.create("a lighthouse", seed=1), poll_interval=0.05)
            assert gen.output_urls[0].startswith(elsewhere.url)
            png = c.images.download(gen)
            path = c.images.download_to(gen, 0, tmp_path / "out.png")
    assert png[:4] == b"\x89PNG" and path.read_bytes() == png
    assert len(elsewhere.seen) == 2 and elsewhere.keyed == 0
    assert json.dumps(elsewhere.seen).count(sb.api_key) == 0

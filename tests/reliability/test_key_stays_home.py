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
import subprocess
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest
from IPython.core.interactiveshell import InteractiveShell
from leaks import captured_logs, exception_texts, ledger_rows

from aurous_nb.client import AsyncClient, AurousError, AuthenticationError, Client, NotFoundError
from aurous_nb.notebook import session
from aurous_nb.sandbox import Sandbox
from tests.magic_cells import aurous_shell


class Recorder:
    """A loopback HTTP server that records each request's headers.

    It answers ``{}``; or an error quoting the key it got (``echo_key``); or a redirect to
    ``redirect_to``; or, with ``forward_to``, the answer of that server to a bare GET of
    the same path (no header forwarded: a CDN answers on the URL's token alone).
    """

    def __init__(self) -> None:
        self.seen: list[dict[str, str]] = []
        self.redirect_to: str | None = None
        self.forward_to: str | None = None
        self.echo_key = False
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
        if self.echo_key:  # a buggy server quoting the key it was sent, in every field
            got = h.headers.get("x-api-key", "")
            error = {"type": "authentication_error", "code": "invalid_api_key"}
            error |= {"message": f"The API key {got} is not valid.", "param": got}
            status, body = 401, json.dumps({"error": error}).encode()
        elif self.redirect_to:
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


# ------------------------------------------------------------------ what shows of the key

#: Keys of every shape: the hosted format, test keys, legacy ``og_`` keys (with ``_`` in the
#: secret part too), shapes the toolkit does not know, a key shorter than any prefix.
KEYS = {
    "live": "al_live_" + "3f9a" * 16,
    "test": "al_test_" + "b7c1" * 16,
    "legacy": "og_" + "Zx9" * 10,
    "legacy_underscores": "og_legacy_key_123",
    "odd": "sk-Odd.Shape/Key+42=",
    "bare_hex": "9e1d" * 12,
    "short": "Zq9Xw",
    "short_prefixed": "al_live_x1",
}
PREFIXES = ("al_live_", "al_test_", "og_")


def shows(text: str, key: str) -> bool:
    """Whether ``text`` shows any of the key's secret part: only a known public prefix (then
    ``…``) may show."""
    prefix = next((p for p in PREFIXES if key.startswith(p) and len(key) > len(p)), "")
    secret = key[len(prefix) :]
    if key in text or secret[:8] in text or secret[-8:] in text:
        return True
    return (prefix + secret[0]) in text if prefix else secret[:4] in text


def leaks(texts: dict[str, str], key: str) -> list[str]:
    return [where for where, text in texts.items() if shows(text, key)]


def client_texts(c: Any) -> dict[str, str]:
    variant = c.with_options(timeout=5)
    return {
        "repr": repr(c),
        "str": str(c),
        "format": f"{c}",
        "vars": repr(vars(c)),
        "vars values": " ".join(repr(v) + str(v) for v in vars(c).values()),
        "key holder": repr(c._key) + str(c._key) + f"{c._key}",
        "preview": c.api_key_preview,
        "with_options": repr(variant) + repr(vars(variant)),
    }


@pytest.mark.parametrize("name", KEYS)
def test_clients_show_no_secret_part(name: str) -> None:
    """Before: vars() showed every key whole (``_auth_headers``); og_ previews showed 5
    secret characters; odd and short keys showed whole in every repr."""
    key = KEYS[name]
    with Sandbox(api_key=key, latency=0.05) as sb, captured_logs() as logs:
        with Client(api_key=key, base_url=sb.base_url) as c:
            assert c.team().id
            texts = client_texts(c)
            with pytest.raises(NotFoundError) as info:
                c.images.get("img_missing")
            texts["not found"] = "".join(exception_texts(info.value))

        async def go() -> dict[str, str]:
            async with AsyncClient(api_key=key, base_url=sb.base_url) as a:
                await a.team()
                return {"async " + k: v for k, v in client_texts(a).items()}

        texts |= asyncio.run(go())
        texts["sandbox"] = repr(sb) + repr(vars(sb))
        texts["sandbox config"] = repr(sb.config) + str(sb.config)
    texts["logs"] = "\n".join(logs.lines)
    assert leaks(texts, key) == []


@pytest.mark.parametrize("name", KEYS)
def test_a_server_quoting_the_key_never_puts_it_in_an_error(name: str) -> None:
    key = KEYS[name]
    echo = Recorder()
    echo.echo_key = True
    texts: dict[str, str] = {}
    try:
        with captured_logs() as logs:
            with Client(api_key=key, base_url=echo.url) as c, pytest.raises(AurousError) as info:
                c.team()
            err = info.value
            texts["error"] = "".join(exception_texts(err)) + f"{err.param} {vars(err)}"

            async def go() -> AurousError:
                async with AsyncClient(api_key=key, base_url=echo.url) as a:
                    try:
                        await a.team()
                    except AurousError as exc:
                        return exc
                raise AssertionError("no error")

            texts["async error"] = "".join(exception_texts(asyncio.run(go())))
        texts["logs"] = "\n".join(logs.lines)
    finally:
        echo.close()
    assert echo.keyed == 2  # the key did reach its own (buggy) server
    assert leaks(texts, key) == []


@pytest.fixture(scope="module")
def ip(tmp_path_factory: pytest.TempPathFactory) -> Iterator[InteractiveShell]:
    with pytest.MonkeyPatch.context() as mp:
        home = tmp_path_factory.mktemp("aurous_home")
        mp.setenv("AUROUS_NB_HOME", str(home))
        mp.chdir(home)
        with aurous_shell() as shell:
            yield shell


CELLS = (
    "%aurous connect",
    "%aurous config",
    "%aurous balance",
    "%aurous generate a lighthouse --seed 3",
    "%aurous get img_x",
    "%aurous history --offline",
)


@pytest.mark.parametrize("name", KEYS)
def test_magics_and_session_show_no_secret_part(
    name: str,
    ip: InteractiveShell,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    key = KEYS[name]
    with Sandbox(api_key=key, latency=0.05) as sb, captured_logs() as logs:
        monkeypatch.setenv("AUROUS_API_KEY", key)
        # Not loopback for the session's eyes, so the banner names the key (a live connection).
        monkeypatch.setenv("AUROUS_BASE_URL", sb.base_url.replace("127.0.0.1", "localhost"))
        texts: dict[str, str] = {}
        for cell in CELLS:
            ip.run_cell(cell)
            texts[cell] = "".join(capsys.readouterr())
        s = session.current()
        texts["session"] = repr(s) + str(s) + repr(vars(s)) + s.banner() + s.key_preview
        texts["session aclient"] = repr(s.aclient) + repr(vars(s.aclient))
        ledger = s.ledger.path
        session.disconnect()
    texts["logs"] = "\n".join(logs.lines)
    texts["ledger"] = "\n".join(row for _, row in ledger_rows(ledger))
    assert "img_" in texts["ledger"]
    assert "al_live_…" in texts["%aurous config"] or not KEYS[name].startswith("al_live_")
    assert leaks(texts, key) == []


@pytest.mark.parametrize("name", ["live", "legacy_underscores", "odd"])
def test_the_sandbox_cli_prints_no_secret_part_of_a_given_key(name: str) -> None:
    """Before: the ready line showed 14 characters (6 of an al_live_ key's secret, most of
    shorter ones)."""
    key = KEYS[name]
    proc = subprocess.Popen(
        [sys.executable, "-m", "aurous_nb.sandbox", "--port", "0", "--api-key", key],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
    finally:
        proc.terminate()
        proc.wait(timeout=30)
    assert "Aurous sandbox ready" in line
    assert not shows(line, key), line


GC_CHURN = """
import gc
from aurous_nb.secret import Secret
gc.set_threshold(1, 1, 1)  # a collection at almost every allocation, as in a busy kernel
class Cycle:
    def __init__(self):
        self.me = self  # freed only by the collector, which runs Secret's finalizer
        self.key = Secret("al_live_" + "k" * 40)
for _ in range(2000):
    Cycle()
print("held", flush=True)
"""


def test_keys_freed_by_the_collector_never_deadlock_a_new_client() -> None:
    """Found under xdist: a key freed by the garbage collector while a new one was being held
    re-entered the registry's lock from its finalizer, and the test process hung for ever."""
    try:
        done = subprocess.run(
            [sys.executable, "-c", GC_CHURN], capture_output=True, text=True, timeout=60
        )
    except subprocess.TimeoutExpired:
        pytest.fail("creating keys while the collector frees others hung (a deadlock)")
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "held"

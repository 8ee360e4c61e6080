"""Bad names get a clear error, and nothing else: ``--out`` names that would break the kernel,
``--since`` text that is not a time, idempotency keys that cannot go in a header.

Each is refused before anything is sent or bought: the sandbox's own ledger counts the
generations, an httpx request hook counts the requests the client tried to send.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import httpx
import pytest
from IPython.core.interactiveshell import InteractiveShell

from aurous_nb.analysis import frames
from aurous_nb.client import AsyncClient, Client, ValidationError
from aurous_nb.sandbox import Sandbox
from tests.magic_cells import aurous_shell, run


@pytest.fixture(scope="module")
def sandbox() -> Iterator[Sandbox]:
    with Sandbox(latency=0.05, latency_spread=0.0) as sb:
        yield sb


def generations(sb: Sandbox) -> int:
    """What the sandbox bought, by its own accounting."""
    return int(httpx.get(f"{sb.base_url}/_sandbox/ledger").json()["totals"]["generation_count"])


@pytest.fixture(scope="module")
def ip(tmp_path_factory: pytest.TempPathFactory, sandbox: Sandbox) -> Iterator[InteractiveShell]:
    """A shell connected (through the environment) to the module's sandbox."""
    with pytest.MonkeyPatch.context() as mp:
        home = tmp_path_factory.mktemp("aurous_home")
        mp.setenv("AUROUS_NB_HOME", str(home))
        mp.setenv("AUROUS_NB_AUTO_DOWNLOAD", "0")
        mp.setenv("AUROUS_API_KEY", sandbox.api_key)
        mp.setenv("AUROUS_BASE_URL", sandbox.base_url)
        mp.chdir(home)
        with aurous_shell(connect="%aurous connect") as shell:
            yield shell


# ------------------------------------------------------------------------------ --out


BAD_OUT = {
    "__builtins__": "starts with _",
    "_": "starts with _",
    "_x": "starts with _",
    "__name__": "starts with _",
    "class": "keyword",
    "None": "keyword",
    "print": "builtin",
    "list": "builtin",
    "In": "IPython",
    "get_ipython": "IPython",
    "1st": "not a Python name",
    "my-gen": "not a Python name",
    "a.b": "not a Python name",
}


@pytest.mark.parametrize("name", BAD_OUT)
def test_out_names_that_would_break_the_kernel_are_refused_before_buying(
    name: str, ip: InteractiveShell, sandbox: Sandbox, capsys: pytest.CaptureFixture[str]
) -> None:
    """Before: every name here was accepted once the generation was bought (1 each; the
    invalid ones bought one and then failed); ``__builtins__``, ``print``, ``In`` or
    ``get_ipython`` then broke later cells."""
    seed = 100 + list(BAD_OUT).index(name)  # a new request each time: a purchase would show
    bought = generations(sandbox)
    missing = object()
    before = ip.user_ns.get(name, missing)
    try:
        _, out = run(ip, capsys, f"%aurous generate a red fox --seed {seed} --out {name}")
        after = generations(sandbox)
        later, shown = run(
            ip, capsys, "print(list(range(3)), len(In) > 0, get_ipython() is not None)"
        )
    finally:  # undo any damage, so one case cannot fail the next
        if before is missing:
            ip.user_ns.pop(name, None)
        else:
            ip.user_ns[name] = before
    assert after == bought, f"bought {after - bought}"
    assert "UsageError" in out and "--out" in out, out
    assert BAD_OUT[name] in out, out
    assert "Traceback" not in out
    # The kernel still works: builtins, history, the shell itself.
    assert later.success and "[0, 1, 2] True True" in shown, shown


def test_a_plain_out_name_still_receives_the_result(
    ip: InteractiveShell, sandbox: Sandbox, capsys: pytest.CaptureFixture[str]
) -> None:
    bought = generations(sandbox)
    result, out = run(ip, capsys, "%aurous generate a blue heron --seed 12 --out heron")
    assert result.success, out
    assert ip.user_ns["heron"].id.startswith("img_")
    assert generations(sandbox) == bought + 1


# ------------------------------------------------------------------------------ --since


@pytest.mark.parametrize("command", ["history", "report"])
@pytest.mark.parametrize("since", ["garbage", "7x", "-3d", "1e309d", "99999999999999d"])
def test_since_that_is_not_a_time_is_a_usage_error_naming_the_forms(
    command: str, since: str, ip: InteractiveShell, capsys: pytest.CaptureFixture[str]
) -> None:
    """Before: a raw ValueError traceback (``not a time or an age like '7d'``)."""
    result, out = run(ip, capsys, f"%aurous {command} --since {since}")
    assert not result.success
    assert "UsageError" in out and "--since" in out, out
    assert "Traceback" not in out and "ValueError" not in out, out
    for form in ("7d", "2026-11-01"):
        assert form in out, out


def test_since_forms_that_are_accepted(
    ip: InteractiveShell, capsys: pytest.CaptureFixture[str]
) -> None:
    for since in ("30s", "15m", "1h", "7d", "2w", "1.5d", "2026-11-01", "2026-11-01T09:30:00Z"):
        result, out = run(ip, capsys, f"%aurous history --offline --since {since}")
        assert result.success, (since, out)


def test_frames_names_the_forms_too() -> None:
    with pytest.raises(ValueError, match="2026-11-01"):
        frames.history(since="garbage")


# ------------------------------------------------------------------------------ idempotency keys


BAD_KEYS = ["a\nb", "line\r\n", "tab\there", "nul\x00", "caf\u00e9", "\u2603", " padded", "del\x7f"]


class Counted:
    """An httpx client whose request hook counts every request the client tries to send."""

    def __init__(self) -> None:
        self.tried = 0

    def hook(self, request: httpx.Request) -> None:
        self.tried += 1

    async def ahook(self, request: httpx.Request) -> None:
        self.tried += 1


@pytest.mark.parametrize("key", BAD_KEYS)
def test_an_idempotency_key_that_cannot_be_a_header_is_refused_locally(
    key: str, sandbox: Sandbox
) -> None:
    """Before: a newline was sent, failed in httpx, and retried 4 times (about 5 s)."""
    counted = Counted()
    bought = generations(sandbox)
    http = httpx.Client(event_hooks={"request": [counted.hook]})
    with Client(api_key=sandbox.api_key, base_url=sandbox.base_url, http_client=http) as c:
        calls = [
            lambda: c.images.create("a fox", idempotency_key=key),
            lambda: c.images.generate("a fox", idempotency_key=key),
            lambda: c.videos.create("seedance", prompt="a fox", idempotency_key=key),
            lambda: c.files.upload(b"\x89PNG\r\n\x1a\n" + bytes(64), idempotency_key=key),
            lambda: c.request("POST", "/v1/images", json={"prompt": "x"}, idempotency_key=key),
        ]
        for call in calls:
            with pytest.raises(ValidationError) as info:
                call()
            assert info.value.param == "idempotency_key"
            assert "idempotency_key" in str(info.value)
    http.close()
    assert counted.tried == 0
    assert generations(sandbox) == bought


def test_async_client_refuses_it_too(sandbox: Sandbox) -> None:
    counted = Counted()

    async def go() -> None:
        http = httpx.AsyncClient(event_hooks={"request": [counted.ahook]})
        async with AsyncClient(
            api_key=sandbox.api_key, base_url=sandbox.base_url, http_client=http
        ) as c:
            with pytest.raises(ValidationError) as info:
                await c.images.create("a fox", idempotency_key="a\nb")
        await http.aclose()
        assert info.value.param == "idempotency_key"

    asyncio.run(go())
    assert counted.tried == 0


def test_printable_keys_still_work(sandbox: Sandbox) -> None:
    with Client(api_key=sandbox.api_key, base_url=sandbox.base_url) as c:
        key = "job-42:retry_1/" + "~" * 10
        first = c.images.create("a fox", idempotency_key=key)
        again = c.images.create("a fox", idempotency_key=key)
    assert first.id == again.id


@pytest.mark.parametrize(
    "headers", [{"X-Note": "a\nb"}, {"X-Note": "caf\u00e9"}, {"X Bad": "x"}, {"X-Note:": "x"}]
)
def test_a_caller_header_that_cannot_be_sent_is_refused_locally(
    headers: dict[str, str], sandbox: Sandbox
) -> None:
    """Before: ``request(headers=...)`` with a newline was tried 5 times, as a lost connection."""
    counted = Counted()
    http = httpx.Client(event_hooks={"request": [counted.hook]})
    with Client(api_key=sandbox.api_key, base_url=sandbox.base_url, http_client=http) as c:
        with pytest.raises(ValidationError) as info:
            c.request("GET", "/v1/team", headers=headers)
        assert info.value.param is not None and info.value.param.startswith("headers")
        assert c.request("GET", "/v1/team", headers={"X-Note": "fine"})["id"]  # a good one goes
    http.close()
    assert counted.tried == 1  # only the good one

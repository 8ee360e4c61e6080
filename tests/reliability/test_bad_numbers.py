"""NaN, infinities and meaningless negatives are refused wherever a number is taken, before
anything is bought: budgets (magic option, ``%config``, ``Batch``, the grid and the panel),
timeouts and poll intervals (magic, ``Client``, ``wait``, ``generate``, ``jobs``), the
sandbox's own settings (``Sandbox``, its CLI, ``%aurous connect --sandbox``, ``X-Sandbox-Delay``).

Before the fix: ``--budget nan`` bought 4 credits, ``%config Aurous.budget = float('nan')``
dropped a cap of 1 (4 credits bought), ``Batch(budget=nan)`` bought 6 jobs / 24 credits,
``--timeout -1`` bought first and gave up after, ``wait(timeout=nan)`` never returned (here: the
request guard tripped at 8 polls), ``Client(timeout=nan)`` was accepted, ``--latency nan`` /
``-3`` started a sandbox.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from IPython.core.error import UsageError
from IPython.core.interactiveshell import InteractiveShell
from tally import count
from traitlets import TraitError
from traitlets.config import Config

from aurous_nb.client import AsyncClient, Client, ValidationError
from aurous_nb.notebook import session as sessions
from aurous_nb.notebook.session import Session
from aurous_nb.sandbox import Sandbox, SandboxConfig
from aurous_nb.work import jobs
from aurous_nb.work.batch import Batch
from tests.magic_cells import aurous_shell

NAN, INF = math.nan, math.inf
GUARD = 30  # requests: past this a wait is taken to hang
POLLS = 8  # polls of one wait that never ends (0.01 s growing 1.5x: about half a second)


@pytest.fixture(scope="module")
def sandbox() -> Iterator[Sandbox]:
    with Sandbox(latency=0.05, latency_spread=0.0, credits=10_000, time_factor=20) as sb:
        yield sb


@pytest.fixture
def sent() -> list[httpx.Request]:
    return []


def guard(sent: list[httpx.Request], limit: int = GUARD) -> Any:
    def hook(request: httpx.Request) -> None:
        sent.append(request)
        if len(sent) > limit:
            raise RuntimeError(f"{len(sent)} requests: this wait would never end")

    return hook


@pytest.fixture
def client(sandbox: Sandbox, sent: list[httpx.Request]) -> Iterator[Client]:
    http = httpx.Client(timeout=10, event_hooks={"request": [guard(sent)]})
    with Client(api_key=sandbox.api_key, base_url=sandbox.base_url, http_client=http) as c:
        yield c
    http.close()


def totals(sb: Sandbox) -> tuple[int, float]:
    """The sandbox's own accounting: (generations created, credits charged)."""
    t = httpx.get(f"{sb.base_url}/_sandbox/ledger", timeout=10).json()["totals"]
    return t["generation_count"], t["credits_charged"]


def creates(sent: list[httpx.Request]) -> int:
    return sum(1 for r in sent if r.method == "POST" and r.url.path in ("/v1/images", "/v1/videos"))


# -- the magic ----------------------------------------------------------------------------------


@pytest.fixture
def ip(home: Path, client: Client) -> Iterator[InteractiveShell]:
    with aurous_shell(client) as shell:
        shell._aurous_magics.show_progress = False  # type: ignore[attr-defined]
        yield shell


def cell(ip: InteractiveShell, source: str) -> BaseException | None:
    result = ip.run_cell(source, store_history=False)
    return result.error_in_exec or result.error_before_exec


@pytest.mark.parametrize(
    ("options", "option"),
    [
        ("--budget nan", "--budget"),
        ("--budget inf", "--budget"),
        ("--budget -inf", "--budget"),
        ("--budget -1", "--budget"),
        ("--timeout -1", "--timeout"),
        ("--timeout nan", "--timeout"),
        ("--timeout inf", "--timeout"),
        ("--guidance nan", "guidance_scale"),
    ],
)
def test_magic_refuses_bad_numbers_before_buying(
    ip: InteractiveShell, sandbox: Sandbox, sent: list[httpx.Request], options: str, option: str
) -> None:
    before = totals(sandbox)
    exc = cell(ip, f"%aurous generate a lighthouse --count 4 --fresh {options}")
    assert isinstance(exc, (UsageError, ValidationError)), repr(exc)
    assert option in str(exc)
    assert creates(sent) == 0 and totals(sandbox) == before  # before: 4 credits for nan


def test_magic_wait_refuses_a_nan_timeout(ip: InteractiveShell, sent: list[httpx.Request]) -> None:
    exc = cell(ip, "%aurous wait img_0123456789ABCDEFGHJKMNPQRS --timeout nan")
    assert isinstance(exc, UsageError) and "--timeout" in str(exc), repr(exc)
    assert sent == []


def config(ip: InteractiveShell, caplog: pytest.LogCaptureFixture, line: str) -> str:
    """Run a ``%config`` line; what it refused (IPython logs a refused value, raising nothing)."""
    caplog.clear()
    with caplog.at_level(logging.ERROR):
        assert cell(ip, f"%config {line}") is None
    return caplog.text


@pytest.mark.parametrize("bad", ["float('nan')", "float('inf')", "-1"])
def test_config_budget_keeps_the_cap(
    ip: InteractiveShell,
    sandbox: Sandbox,
    sent: list[httpx.Request],
    caplog: pytest.LogCaptureFixture,
    bad: str,
) -> None:
    magics = ip._aurous_magics  # type: ignore[attr-defined]
    assert config(ip, caplog, "Aurous.budget = 1") == ""
    assert "Aurous.budget must be" in config(ip, caplog, f"Aurous.budget = {bad}")
    assert magics.budget == 1  # the cap is still there
    before = totals(sandbox)
    exc = cell(ip, "%aurous generate a cat at sea --count 4 --fresh")
    assert exc is not None and "over the budget" in str(exc), repr(exc)
    assert creates(sent) == 0 and totals(sandbox) == before  # before: 4 credits bought


@pytest.mark.parametrize("bad", ["float('nan')", "float('inf')", "-1", "0"])
def test_config_wait_timeout_refuses_bad_numbers(
    ip: InteractiveShell, caplog: pytest.LogCaptureFixture, bad: str
) -> None:
    magics = ip._aurous_magics  # type: ignore[attr-defined]
    before = magics.wait_timeout
    assert "Aurous.wait_timeout must be" in config(ip, caplog, f"Aurous.wait_timeout = {bad}")
    assert magics.wait_timeout == before


def test_a_refused_setting_does_not_break_the_next_load(
    ip: InteractiveShell, caplog: pytest.LogCaptureFixture, capsys: pytest.CaptureFixture[str]
) -> None:
    """IPython keeps the refused value in the shell's config, where it met every later load."""
    config(ip, caplog, "Aurous.budget = float('nan')")
    config(ip, caplog, "Aurous.wait_timeout = 30")
    assert cell(ip, "%reload_ext aurous_nb") is None
    magics = ip._aurous_magics  # type: ignore[attr-defined]
    assert magics.budget is None and magics.wait_timeout == 30
    assert "ignored a refused setting: Aurous.budget" in capsys.readouterr().out


@pytest.mark.parametrize("options", ["--latency nan", "--latency -3", "--credits nan"])
def test_connect_sandbox_refuses_bad_numbers(ip: InteractiveShell, options: str) -> None:
    current = sessions.current()
    exc = cell(ip, f"%aurous connect --sandbox {options}")
    assert isinstance(exc, UsageError), repr(exc)
    assert options.split()[0] in str(exc)
    assert sessions.current() is current  # nothing was started or replaced


# -- Batch ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("budget", [NAN, INF, -1.0])
def test_batch_budget(home: Path, client: Client, sandbox: Sandbox, budget: float) -> None:
    before = totals(sandbox)
    specs = [{"prompt": f"tile {i}", "count": 4} for i in range(6)]
    with pytest.raises(ValidationError) as info:
        Batch(specs, client=client, budget=budget).run()
    assert info.value.param == "budget"
    assert totals(sandbox) == before  # before (nan): 6 jobs, 24 credits


def test_batch_budget_set_later(home: Path, client: Client) -> None:
    batch = Batch([{"prompt": "a"}], client=client, budget=2)
    with pytest.raises(ValidationError):
        batch.budget = NAN
    assert batch.budget == 2


@pytest.mark.parametrize(
    "options",
    [
        {"min_poll_interval": NAN},
        {"min_poll_interval": -1.0},
        {"max_poll_interval": INF},
        {"min_poll_interval": 3.0, "max_poll_interval": 1.0},
    ],
)
def test_batch_poll_intervals(home: Path, client: Client, options: dict[str, float]) -> None:
    with pytest.raises(ValidationError) as info:
        Batch([{"prompt": "a"}], client=client, **options)
    assert info.value.param in options


# -- Client, wait, generate, jobs ----------------------------------------------------------------


@pytest.mark.parametrize("timeout", [NAN, INF, -1.0, 0.0])
@pytest.mark.parametrize("cls", [Client, AsyncClient])
def test_client_timeout(sandbox: Sandbox, cls: Any, timeout: float) -> None:
    with pytest.raises(ValidationError) as info:
        cls(api_key=sandbox.api_key, base_url=sandbox.base_url, timeout=timeout)
    assert info.value.param == "timeout"


@pytest.mark.parametrize("budget", [NAN, INF, -1.0])
def test_client_retry_budget(sandbox: Sandbox, budget: float) -> None:
    with pytest.raises(ValidationError) as info:
        Client(api_key=sandbox.api_key, base_url=sandbox.base_url, retry_budget=budget)
    assert info.value.param == "retry_budget"


def test_with_options_timeout(client: Client) -> None:
    for bad in (NAN, INF, -1.0):
        with pytest.raises(ValidationError):
            client.with_options(timeout=bad)
        with pytest.raises(ValidationError):
            client.with_options(retry_budget=bad)


@pytest.mark.parametrize(
    ("options", "param"),
    [
        ({"timeout": NAN, "poll_interval": 0.01}, "timeout"),
        ({"timeout": INF, "poll_interval": 0.01}, "timeout"),
        ({"timeout": -1.0}, "timeout"),
        ({"poll_interval": NAN}, "poll_interval"),
        ({"poll_interval": 0.0}, "poll_interval"),
        ({"poll_interval": INF, "timeout": 0.5}, "poll_interval"),
    ],
)
def test_wait_refuses_before_polling(
    home: Path, sandbox: Sandbox, sent: list[httpx.Request], options: dict[str, float], param: str
) -> None:
    # A job that will not end while the test runs: a NaN deadline would poll it forever.
    with Sandbox(latency=3600, credits=100) as slow:
        http = httpx.Client(timeout=10, event_hooks={"request": [guard(sent, POLLS)]})
        with Client(api_key=slow.api_key, base_url=slow.base_url, http_client=http) as c:
            gen = c.images.create("a slow dawn")
            sent.clear()
            with pytest.raises(ValidationError) as info:
                c.images.wait(gen, **options)  # before (nan): the guard tripped at 8 polls
            assert info.value.param == param
            assert sent == []
        http.close()


@pytest.mark.parametrize("what", ["images.generate", "videos.generate", "jobs.generate"])
def test_generate_refuses_before_buying(
    home: Path, client: Client, sandbox: Sandbox, sent: list[httpx.Request], what: str
) -> None:
    before = totals(sandbox)
    with pytest.raises(ValidationError) as info:
        if what == "images.generate":
            client.images.generate("a", timeout=-1)
        elif what == "videos.generate":
            client.videos.generate("seedance-1-lite", prompt="waves", timeout=NAN)
        else:
            jobs.generate(client, None, "image", {"prompt": "a"}, timeout=NAN)
    assert info.value.param == "timeout"
    assert creates(sent) == 0 and totals(sandbox) == before  # before: bought, then gave up


# -- widgets --------------------------------------------------------------------------------------


@pytest.fixture
def widget_session(home: Path, client: Client) -> Iterator[Session]:
    s = Session(client, sandbox=None, key_source="sandbox")
    sessions._set_current(s)
    yield s
    sessions._set_current(None)


@pytest.mark.parametrize("budget", [NAN, INF, -1.0])
def test_grid_budget(widget_session: Session, budget: float) -> None:
    from aurous_nb.notebook.widgets import PromptGrid

    with pytest.raises(ValidationError) as info:
        PromptGrid(["a"], budget=budget, session=widget_session)
    assert info.value.param == "budget"
    grid = PromptGrid(["a"], budget=5, session=widget_session)
    with pytest.raises(ValidationError):
        grid.budget = budget
    assert grid.budget == 5 and grid.batch.budget == 5
    grid.budget_field.value = str(budget)  # typed into the Budget field: refused, cap kept
    assert grid.budget == 5 and grid.batch.budget == 5


@pytest.mark.parametrize("budget", [NAN, INF, -1.0])
async def test_panel_budget(
    widget_session: Session, sandbox: Sandbox, sent: list[httpx.Request], budget: float
) -> None:
    from aurous_nb.notebook.widgets import GenerationPanel

    with pytest.raises(ValidationError) as info:
        GenerationPanel(widget_session, prompt="a", budget=budget)
    assert info.value.param == "budget"  # before (nan): the panel bought with no cap
    panel = GenerationPanel(widget_session, prompt="a", budget=3)
    with pytest.raises(ValidationError):
        panel.budget = budget
    assert panel.budget == 3


# -- the sandbox ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "options",
    [
        {"latency": NAN},
        {"latency": -3.0},
        {"latency": INF},
        {"credits": NAN},
        {"credits": -1.0},
        {"latency_spread": NAN},
        {"failure_rate": 1.5},
        {"chaos": NAN},
        {"time_factor": 0.0},
        {"output_ttl": NAN},
        {"chaos_delay": -1.0},
    ],
)
def test_sandbox_settings(options: dict[str, float]) -> None:
    with pytest.raises(ValueError, match=next(iter(options))):
        SandboxConfig(**options)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match=next(iter(options))):
        Sandbox(**options)


@pytest.mark.parametrize("argv", [["--latency", "nan"], ["--latency", "-3"], ["--credits", "inf"]])
def test_sandbox_cli(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], argv: list[str]
) -> None:
    from aurous_nb.sandbox import __main__ as cli

    served: list[Any] = []
    monkeypatch.setattr(cli, "serve_forever", lambda config, **kw: served.append(config))
    with pytest.raises(SystemExit) as info:
        cli.main(["--port", "0", *argv])
    assert info.value.code == 2 and served == []  # before: a sandbox served with latency nan
    assert argv[0] in capsys.readouterr().err


@pytest.mark.parametrize("delay", ["nan", "inf", "-inf"])
def test_sandbox_delay_header(sandbox: Sandbox, delay: str) -> None:
    headers = {"X-Api-Key": sandbox.api_key, "X-Sandbox-Delay": delay}
    before = totals(sandbox)
    r = httpx.post(
        f"{sandbox.base_url}/v1/images", json={"prompt": "a"}, headers=headers, timeout=10
    )
    assert r.status_code == 400 and r.json()["error"]["param"] == "x-sandbox-delay", r.text
    assert totals(sandbox) == before


# -- one rule everywhere ---------------------------------------------------------------------------


@settings(max_examples=300, deadline=None)
@given(value=st.floats() | st.integers(-(10**6), 10**6) | st.sampled_from([-0.0, 0, 1e308]))
def test_one_rule_for_every_budget_and_setting(value: float) -> None:
    """Each place that takes a budget or a sandbox setting accepts exactly the finite numbers
    from 0 up, whatever the float (hypothesis draws NaN, the infinities, -0.0, subnormals)."""
    from aurous_nb.client._params import check_float
    from aurous_nb.notebook.magics.args import parse
    from aurous_nb.notebook.magics.extension import Aurous
    from aurous_nb.notebook.widgets._base import budget_value

    count("numbers")
    good = math.isfinite(value) and value >= 0
    checks: list[Any] = [
        lambda: check_float("budget", value, 0),
        lambda: budget_value(value),
        lambda: budget_value(repr(value)),  # typed into the grid's Budget field
        lambda: parse("generate", f"a cat --budget {value!r}"),
        lambda: parse("generate", f"a cat --timeout {value!r}"),
        lambda: parse("connect", f"--sandbox --latency {value!r} --credits {value!r}"),
        lambda: Aurous(config=Config({"Aurous": {"budget": value}})),
        lambda: SandboxConfig(latency=value, credits=value),
    ]
    for check in checks:
        try:
            check()
        except (ValueError, UsageError, TraitError) as exc:
            assert not good, f"{value!r} refused: {exc}"
        else:
            assert good, f"{value!r} accepted"

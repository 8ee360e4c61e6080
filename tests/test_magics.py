"""``%aurous`` through a real IPython shell, against the in-process sandbox over loopback.

The sandbox's own ledger (``/_sandbox/ledger``) is the witness for "nothing bought twice".
"""

from __future__ import annotations

import asyncio
import subprocess
import sys
import textwrap

import httpx
import pandas as pd
import pytest

from aurous_nb.analysis.frames import HISTORY_COLUMNS
from aurous_nb.client import Generation
from aurous_nb.notebook import loops, session
from tests.magic_cells import aurous_shell, run

LATENCY = 0.2


@pytest.fixture(scope="module")
def home(tmp_path_factory):
    with pytest.MonkeyPatch.context() as mp:
        path = tmp_path_factory.mktemp("aurous_home")
        mp.setenv("AUROUS_NB_HOME", str(path))
        mp.delenv("AUROUS_API_KEY", raising=False)
        mp.delenv("AUROUS_BASE_URL", raising=False)
        mp.chdir(path)
        yield path


@pytest.fixture(scope="module")
def ip(home):
    with aurous_shell() as shell:
        yield shell


@pytest.fixture(scope="module")
def sandbox_session(ip):
    result = ip.run_cell(f"%aurous connect --sandbox --latency {LATENCY}")
    assert result.success
    yield session.current()


def ledger(s):
    """The sandbox's own accounting: (generations created, credits charged)."""
    totals = httpx.get(f"{s.base_url}/_sandbox/ledger").json()["totals"]
    return totals["generation_count"], totals["credits_charged"]


# ------------------------------------------------------------------------------ loading


def test_loading_is_light_and_twice_is_silent():
    code = textwrap.dedent(
        """
        import sys
        from IPython.core.interactiveshell import InteractiveShell
        ip = InteractiveShell.instance()
        ip.run_cell("%load_ext aurous_nb")
        ip.run_cell("%load_ext aurous_nb")
        heavy = [m for m in ("pandas", "matplotlib", "ipywidgets", "PIL", "starlette",
                             "uvicorn", "httpx") if m in sys.modules]
        print("HEAVY", heavy)
        print("MAGIC", "aurous" in ip.magics_manager.magics["line"])
        """
    )
    proc = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True
    )
    assert "HEAVY []" in proc.stdout
    assert "MAGIC True" in proc.stdout
    assert "already loaded" not in proc.stdout + proc.stderr


def test_second_load_is_silent_and_unload_still_works():
    code = textwrap.dedent(
        """
        from IPython.core.interactiveshell import InteractiveShell
        ip = InteractiveShell.instance()
        has = "'aurous' in get_ipython().magics_manager.magics['line']"
        for cell in ["%load_ext aurous_nb", "%load_ext aurous_nb", "A",
                     "%unload_ext aurous_nb", "B", "%load_ext aurous_nb", "C",
                     "%reload_ext aurous_nb", "D", "%load_ext aurous_nb",
                     "%unload_ext aurous_nb", "E"]:
            ip.run_cell(cell if cell.startswith("%") else f"print({cell!r}, {has})")
        """
    )
    proc = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True
    )
    out = proc.stdout + proc.stderr
    assert "A True\nB False\nC True\nD True\nE False\n" in out, out
    assert "already loaded" not in out and "not loaded" not in out, out


def test_help_and_command_help(ip, capsys):
    _, out = run(ip, capsys, "%aurous help")
    for name in ("generate", "estimate", "jobs", "history", "grid", "panel", "config"):
        assert name in out
    _, out = run(ip, capsys, "%aurous generate --help")
    assert "--no-wait" in out and "--fresh" in out and "{{name}}" in out
    _, out = run(ip, capsys, "%aurous")
    assert "generate" in out


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ("%aurous genrate a cat", "did you mean generate"),
        ("%aurous generate a cat --sed 3", "unknown option --sed; did you mean --seed?"),
        ("%aurous generate a cat --seed many", "--seed: invalid int value"),
        ("%aurous generate --seed 3", "PROMPT is required"),
        ("%aurous generate a --negative blurry dark", "split by options"),
        ("%aurous balance now", "unexpected argument"),
        ("%aurous generate a cat --api-key sk", "AUROUS_API_KEY"),
        ("%aurous connect --api-key=abc", "never an argument"),
    ],
)
def test_bad_input_is_a_one_line_usage_error(ip, capsys, line, expected):
    result, out = run(ip, capsys, line)
    assert not result.success
    assert "UsageError" in out and expected in out
    assert "Traceback" not in out
    assert len(out.strip().splitlines()) == 1


def test_a_key_shaped_argument_is_refused(ip, capsys):
    _, out = run(ip, capsys, "%aurous generate al_live_0123456789abcdef a cat")
    assert "looks like an API key" in out
    assert "0123456789abcdef" not in out


def test_not_connected_says_what_to_do(ip, capsys, home):
    session.disconnect()
    result, out = run(ip, capsys, "%aurous balance")
    assert not result.success
    assert "AUROUS_API_KEY" in out and "%aurous connect --sandbox" in out
    assert "Traceback" not in out


# ------------------------------------------------------------------------------ catalog


def test_connect_says_synthetic(ip, capsys, sandbox_session):
    _, out = run(ip, capsys, f"%aurous connect --sandbox --latency {LATENCY}")
    assert "synthetic" in out
    assert session.current() is sandbox_session  # same settings: same sandbox


def test_tables(ip, capsys, sandbox_session):
    result, out = run(ip, capsys, "%aurous balance")
    bal = result.result
    assert isinstance(bal, pd.DataFrame) and bal["available"].iloc[0] > 0
    assert bal["held"].iloc[0] == 0 and "0.0" not in out, out  # held reads 0, like 1000
    card = ip.run_cell("%aurous pricing").result
    assert isinstance(card, pd.DataFrame) and card.attrs["version"]
    loras = ip.run_cell("%aurous loras").result
    assert "watercolor" in loras.index
    only = ip.run_cell("%aurous loras neon").result
    assert list(only.index) == ["neon-noir"]
    videos = ip.run_cell("%aurous video-loras").result
    assert len(videos) >= 1
    snaps = sandbox_session.ledger.pricing_snapshots(sandbox_session.env)
    assert snaps, "the rate card is kept in the ledger"


def test_estimate_spends_nothing(ip, capsys, sandbox_session):
    before = ledger(sandbox_session)
    _, out = run(ip, capsys, "%aurous estimate a red fox --count 3 --enhance")
    assert "Estimate:" in out and "nothing was spent" in out
    assert ledger(sandbox_session) == before


# ------------------------------------------------------------------------------ generate


def test_generate_reuse_fresh_and_changed(ip, capsys, sandbox_session):
    s = sandbox_session
    count0, charged0 = ledger(s)
    cell = "%aurous generate a lighthouse at dusk --seed 7 --lora watercolor"
    result, out = run(ip, capsys, cell)
    assert result.success, out
    gen = result.result
    assert isinstance(gen, Generation) and gen.succeeded
    assert "New generation" in out
    count1, charged1 = ledger(s)
    assert count1 == count0 + 1 and charged1 > charged0
    assert s.ledger.outputs(gen.id, s.env), "outputs are cached"

    # re-executing the unchanged cell: reused, nothing spent
    result, out = run(ip, capsys, cell)
    assert result.result.id == gen.id
    assert "Reused, 0 credits" in out
    assert ledger(s) == (count1, charged1)

    # --fresh buys a new one, and says so
    result, out = run(ip, capsys, cell + " --fresh")
    assert result.result.id != gen.id and "--fresh" in out
    assert ledger(s)[0] == count1 + 1

    # changed parameters buy a new one
    result, out = run(ip, capsys, cell.replace("--seed 7", "--seed 8"))
    assert "New generation (new request)" in out
    assert ledger(s)[0] == count1 + 2


def test_prompts_with_braces_quotes_code_and_emoji(ip, capsys, sandbox_session):
    ip.user_ns["json"] = "EXPANDED"
    ip.user_ns["HOME"] = "EXPANDED"
    prompt = """a cat's "best" hat, {json} {json: [1, 2]} $HOME print('hi') # 🐱"""
    result, out = run(ip, capsys, f"%aurous generate {prompt} --seed 1")
    assert result.success, out
    assert result.result.prompt == prompt
    quoted = ip.run_cell('%aurous generate "a fox -- in snow" --seed 1').result
    assert quoted.prompt == "a fox -- in snow"


def test_interpolation_from_the_namespace_only(ip, capsys, sandbox_session):
    ip.user_ns["style"] = "ink"
    ip.user_ns["n"] = 2
    gen = ip.run_cell(r"%aurous generate a {{style}} heron \{{literal}} --count {{n}}").result
    assert gen.prompt == "a ink heron {{literal}}"
    assert gen.image_count == 2
    result, out = run(ip, capsys, "%aurous generate a {{nope}} heron")
    assert not result.success and "no variable named 'nope'" in out
    assert len(out.strip().splitlines()) == 1


def test_cell_magic_takes_the_prompt_from_the_body(ip, capsys, sandbox_session):
    body = 'a "quoted" poem\n{ not: interpolation }\n'
    result, out = run(ip, capsys, f"%%aurous generate --seed 5 --out poem\n{body}")
    assert result.success, out
    assert ip.user_ns["poem"].prompt == body.strip()
    result, out = run(ip, capsys, "%%aurous balance\nbody")
    assert "takes no cell body" in out


def test_config_defaults_apply(ip, capsys, sandbox_session):
    ip.run_cell("%config Aurous.default_size = '2k_16_9'")
    try:
        gen = ip.run_cell("%aurous generate a wide valley --seed 2").result
        assert gen.size_preset == "2k_16_9"
        _, out = run(ip, capsys, "%aurous config")
        assert "Aurous.default_size" in out and "'2k_16_9'" in out
        assert "al_live_…" in out
        assert sandbox_session.sandbox.api_key not in out
    finally:
        ip.run_cell("%config Aurous.default_size = '2k_1_1'")


def test_with_no_size_the_magic_sends_the_panels_default(ip, capsys, sandbox_session):
    from aurous_nb.client._params import DEFAULT_IMAGE_SIZE

    gen = ip.run_cell("%aurous generate a plain hill at noon --seed 3").result
    assert gen.size_preset == DEFAULT_IMAGE_SIZE == "2k_1_1"  # the panel's default too
    _, out = run(ip, capsys, "%aurous config")
    assert "Aurous.default_size" in out and "'2k_1_1'" in out


def test_first_no_wait_result_renders_as_a_card(ip, capsys, sandbox_session):
    # A kernel's first result: no Generation renderer installed yet (earlier tests install it).
    ip.display_formatter.formatters["text/html"].type_printers.pop(Generation, None)
    result, out = run(ip, capsys, "%aurous generate a first light --seed 5 --no-wait")
    assert result.success, out
    data, _ = ip.display_formatter.format(result.result)
    assert "text/html" in data and result.result.id in data["text/html"]
    assert "<table" in data["text/html"] or "<div" in data["text/html"]
    ip.run_cell(f"%aurous wait {result.result.id}")


def test_no_wait_then_jobs_then_wait(ip, capsys, sandbox_session):
    result, out = run(ip, capsys, "%aurous generate a slow tide --seed 11 --no-wait")
    gen = result.result
    assert not gen.is_terminal and "%aurous wait" in out
    jobs = ip.run_cell("%aurous jobs").result
    assert gen.id in set(jobs["generation_id"])
    done = ip.run_cell(f"%aurous wait {gen.id}").result
    assert done.id == gen.id and done.succeeded
    again = ip.run_cell(f"%aurous get {gen.id}").result
    assert again.succeeded
    _, out = run(ip, capsys, "%aurous jobs")
    assert "No unfinished jobs" in out


def test_jobs_resume_finishes_an_unanswered_create_once(ip, capsys, sandbox_session):
    s = sandbox_session
    record = s.ledger.prepare(s.env, "image", {"prompt": "a kernel that died", "seed": 3})
    before = ledger(s)[0]
    jobs = ip.run_cell("%aurous jobs").result
    assert "(not answered yet)" in set(jobs["generation_id"])
    assert "unknown: the server may have it" in set(jobs["status"])
    _, out = run(ip, capsys, "%aurous jobs --resume")
    assert "Resumed 1 job" in out
    assert ledger(s)[0] == before + 1
    assert s.ledger.job(record.key).status == "succeeded"
    run(ip, capsys, "%aurous jobs --resume")
    assert ledger(s)[0] == before + 1


def test_budget_refuses_before_spending(ip, capsys, sandbox_session):
    before = ledger(sandbox_session)
    result, out = run(ip, capsys, "%aurous generate four owls --count 4 --budget 1")
    assert not result.success and "over the budget" in out and "nothing was spent" in out
    assert ledger(sandbox_session) == before


def test_validation_error_is_a_short_block_and_sends_nothing(ip, capsys, sandbox_session):
    before = ledger(sandbox_session)
    result, out = run(ip, capsys, "%aurous generate a cat --size enormous")
    assert not result.success
    assert "ValidationError" in out and "param size" in out and "Nothing was sent" in out
    assert "Traceback" not in out
    assert ledger(sandbox_session) == before
    assert not sandbox_session.ledger.jobs(sandbox_session.env, status="rejected")


def test_failed_generation_renders_what_to_do(ip, capsys, sandbox_session):
    result, out = run(ip, capsys, "%aurous generate something forbidden --seed 1")
    assert not result.success
    assert "GenerationFailed" in out and "moderation_rejected" in out and "Rephrase" in out
    assert "Traceback" not in out


def test_api_error_block_has_code_request_id_and_advice(ip, capsys, sandbox_session):
    previous = session.current()
    session._set_current(None)
    try:
        run(ip, capsys, "%aurous connect --sandbox --credits 1 --latency 0.05")
        result, out = run(ip, capsys, "%aurous generate four owls --count 4")
        assert not result.success
        assert "InsufficientBalanceError" in out
        assert "code insufficient_balance" in out or "status 402" in out
        assert "request id req_" in out
        assert "Top up" in out
        assert isinstance(result.error_in_exec, Exception)
    finally:
        session.disconnect()
        session._set_current(previous)


def test_cancel(ip, capsys, sandbox_session):
    previous = session.current()
    session._set_current(None)
    try:
        run(ip, capsys, "%aurous connect --sandbox --latency 30")
        gen = ip.run_cell("%aurous generate a very slow moon --no-wait").result
        result, out = run(ip, capsys, f"%aurous cancel {gen.id}")
        assert result.success and "cancelled" in out
        s = session.current()
        assert s.ledger.find(gen.id, s.env).status == "cancelled"
        assert ledger(s)[1] == 0
    finally:
        session.disconnect()
        session._set_current(previous)


def test_video(ip, capsys, sandbox_session):
    slug = ip.run_cell("%aurous video-loras").result.index[0]
    _, out = run(ip, capsys, f'%aurous video "a wave" --video-lora {slug} --duration 2 --estimate')
    assert "Estimate:" in out
    _, out = run(ip, capsys, "%aurous video a wave")
    assert "--video-lora is required" in out
    before = ledger(sandbox_session)
    cell = f"%aurous video a wave --video-lora {slug} --duration 2 --resolution 480p"
    gen = ip.run_cell(cell).result
    assert gen.is_video and gen.succeeded
    assert ledger(sandbox_session)[0] == before[0] + 1
    _, out = run(ip, capsys, cell)
    assert "Reused, 0 credits" in out
    assert ledger(sandbox_session)[0] == before[0] + 1


def test_history_and_report(ip, capsys, sandbox_session):
    frame = ip.run_cell("%aurous history --since 1d").result
    assert isinstance(frame, pd.DataFrame) and len(frame) >= 3
    assert set(frame["env"]) == {sandbox_session.env}
    offline = ip.run_cell("%aurous history --offline").result
    assert len(offline) == len(frame)
    result, out = run(ip, capsys, "%aurous report --since 1d")
    assert result.success, out


def test_widgets_open_or_say_why(ip, capsys, sandbox_session):
    # Between cells a terminal shell runs no loop: the widgets' start-up work goes to IPython's
    # own loop (loops.home), which this test then runs. It makes no loop of its own: one left
    # open here was collected, unclosed, inside a later test (its self-pipe's ResourceWarning).
    result, out = run(ip, capsys, "%aurous panel")
    assert result.success, out
    assert result.result is not None or "unavailable" in out
    result, out = run(ip, capsys, '%aurous grid "a cat" "a dog" --loras watercolor --seeds 1,2')
    assert result.success, out
    assert result.result is not None or "unavailable" in out
    # Let the widgets' start-up tasks finish here.
    loop = loops.home()
    assert loop is not None
    pending = asyncio.all_tasks(loop)
    if pending:
        loop.run_until_complete(asyncio.wait(pending, timeout=10))


def test_the_key_never_appears_in_output(ip, capsys, sandbox_session):
    key = sandbox_session.sandbox.api_key
    for cell in ("%aurous config", "%aurous balance", "%aurous jobs", "print(repr(_))"):
        _, out = run(ip, capsys, cell)
        assert key not in out
    raw = (sandbox_session.ledger.path).read_bytes()
    assert key.encode() not in raw


def test_a_mistyped_lora_gets_the_closest_style_before_anything_is_sent(
    ip, capsys, sandbox_session
):
    before = ledger(sandbox_session)
    for cell, said in [
        (
            "%aurous generate a cat --lora watercolour",
            "lora_id: unknown LoRA 'watercolour'; did you mean watercolor? (%aurous loras)",
        ),
        (
            "%aurous estimate a cat --loras watercolor:0.5,neon-nior",
            "loras[1].lora: unknown LoRA 'neon-nior'; did you mean neon-noir?",
        ),
        (
            "%aurous generate a cat --lora 'Golden Hour'",
            "'Golden Hour' is a style's name; use its slug golden-hour",
        ),
        (
            "%aurous video a wave --video-lora seedance-pro",
            "did you mean seedance-1-pro? (%aurous video-loras)",
        ),
        ('%aurous grid "a cat" --loras watercolr', "did you mean watercolor?"),
    ]:
        result, out = run(ip, capsys, cell)
        assert not result.success and said in out, out
        assert "Traceback" not in out and "history lists your generations" not in out
    assert ledger(sandbox_session) == before


def test_a_bad_size_names_the_closest_sizes_once(ip, capsys, sandbox_session):
    before = ledger(sandbox_session)
    result, out = run(ip, capsys, "%aurous generate a cat --size 2k_16_10")
    assert not result.success and "Traceback" not in out
    assert "size: '2k_16_10' is not a size; closest: 2k_3_2, 2k_16_9" in out, out
    assert out.count("2k_21_9") == 0 and out.count("hd_portrait") == 0, out  # not all 22, twice
    _, out = run(ip, capsys, "%aurous estimate a cat --size huge")
    assert out.count("hd_portrait") == 1 and "must be one of" not in out, out
    assert ledger(sandbox_session) == before


def test_a_terminal_shows_where_the_output_was_saved(ip, capsys, sandbox_session):
    """Terminal IPython shows only text/plain: it names the saved file, not just the id."""
    result, out = run(ip, capsys, "%aurous generate a harbour at noon --seed 11")
    assert result.success, out
    [saved] = sandbox_session.ledger.outputs(result.result.id, sandbox_session.env)
    assert saved.path.is_file()
    assert f"saved: {saved.path}" in out, out
    assert "succeeded" in out.split("saved:")[0]


def test_history_in_a_terminal_leads_with_prompt_status_and_cost(ip, capsys, sandbox_session):
    result, out = run(ip, capsys, "%aurous history --since 1d")
    assert result.success, out
    frame = result.result
    assert isinstance(frame, pd.DataFrame) and len(frame.columns) == len(HISTORY_COLUMNS) == 32
    assert list(frame.columns[:4]) == ["created_at", "prompt", "status", "cost"]
    shown = out.split("Out[", 1)[-1]
    head = next(line for line in shown.splitlines() if "created" in line)
    assert head.split()[:4] == ["created", "prompt", "status", "cost"], shown
    assert "a lighthouse at dusk" in shown and "succeeded" in shown
    assert "..." not in head, repr(head)
    assert "all 32 columns: .columns" in shown
    assert " UTC " in shown  # times read 2026-11-29 14:54:21 UTC
    assert type(frame.head(2)) is pd.DataFrame

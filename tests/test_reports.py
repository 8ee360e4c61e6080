"""cost_report: figures (not pyplot side effects), labelled in credits, one environment each."""

from __future__ import annotations

import io
import random
import re
import subprocess
import sys
import textwrap
import time
import warnings
from datetime import datetime, timedelta, timezone
from pathlib import Path

import httpx
import pytest
from matplotlib.figure import Figure

from aurous_nb.analysis import reports
from aurous_nb.client import Client
from aurous_nb.sandbox import Sandbox
from aurous_nb.store.ledger import Ledger
from aurous_nb.text import number
from aurous_nb.work import jobs

LIVE = "api.aurous-labs.com"
NAMES = [
    "spend_over_time",
    "spend_by_lora_size",
    "outcomes",
    "balance_trend",
    "price_changes",
    "price_change_impact",
]  # fmt: skip  (the last: two rate cards are known here)


def fill_live(ledger: Ledger, days: int = 30, rows: int = 300) -> float:
    """A month of history, balances and two rate cards in the live env; returns total charged."""
    rng = random.Random(1)
    now = time.time()
    loras = [("lora_1", "Watercolor"), ("lora_2", "Noir Film"), ("lora_3", "Neon Nights")]
    gens = []
    for i in range(rows):
        status = rng.choice(["succeeded"] * 8 + ["failed", "moderation_rejected", "cancelled"])
        count = rng.randint(1, 4)
        lora_id, name = rng.choice(loras)
        created = time.strftime(
            "%Y-%m-%dT%H:%M:%SZ", time.gmtime(now - rng.random() * days * 86400)
        )
        gens.append(
            {
                "id": f"img_{i:05d}",
                "status": status,
                "media_type": "image",
                "prompt": f"prompt {i}",
                "created_at": created,
                "cost": {"amount": count if status == "succeeded" else 0},
                "size_preset": rng.choice(["2k_1_1", "2k_16_9", "4k_1_1"]),
                "image_count": count,
                "loras": [{"id": lora_id, "name": name}],
            }
        )
    ledger.record_generations(LIVE, gens)
    balance = 5000.0
    for day in range(days, -1, -3):
        balance -= rng.random() * 80
        reading = {"credits": balance, "held_credits": 4, "available_credits": balance - 4}
        ledger.record_balance(LIVE, reading, at=now - day * 86400)
    for version, base in (("2026-01-15", 1.5), ("2026-05-15", 1.0)):
        card = {"version": version, "image": {"base": base}, "video": {"base_per_second": 0.5}}
        ledger.record_pricing(LIVE, card)
    return float(sum(g["cost"]["amount"] for g in gens))  # type: ignore[index]


def test_report_figures_are_labelled_and_render(home: Path, tmp_path: Path) -> None:
    ledger = Ledger()
    total = fill_live(ledger)
    ledger.record_generation(
        "sandbox-1", {"id": "img_x", "status": "succeeded", "cost": {"amount": 99}}
    )
    report = reports.cost_report(ledger=ledger, env=LIVE)
    assert list(report) == NAMES and report.env == LIVE
    for name, figure in report.items():
        assert isinstance(figure, Figure)
        text = " ".join(
            [figure.get_suptitle()]
            + [a.get_title() + a.get_xlabel() + a.get_ylabel() for a in figure.axes]
        )
        assert LIVE in text, name
        if name != "outcomes":
            assert "credits" in text or "multiplier" in text, name
    spend_title = report["spend_over_time"].axes[0].get_title()
    assert f"{number(total)} charged" in spend_title  # the sandbox row's 99 credits never mix in
    assert "per day" in spend_title
    paths = report.save(tmp_path / "png")
    assert [p.name for p in paths] == [f"{n}.png" for n in NAMES]
    assert all(p.stat().st_size > 10_000 for p in paths)
    html = report._repr_html_()
    assert html.count("data:image/png;base64,") == len(NAMES)


def test_report_against_the_sandbox(home: Path, tmp_path: Path) -> None:
    ledger = Ledger()
    with (
        Sandbox(latency=0.1, credits=500, time_factor=20) as sb,
        Client(api_key=sb.api_key, base_url=sb.base_url) as client,
    ):
        empty = reports.cost_report(client, ledger)
        assert "No finished generations" in empty["spend_over_time"].axes[0].texts[0].get_text()
        for prompt in ("a fox", "a forbidden fox", "an owl"):
            jobs.submit(client, ledger, "image", {"prompt": prompt, "count": 2})
        jobs.resume(client, ledger, download=False)
        report = reports.cost_report(client, ledger)
        charged = httpx.get(f"{sb.base_url}/_sandbox/ledger").json()["totals"]["credits_charged"]
    title = report["spend_over_time"].axes[0].get_title()
    assert f"{number(charged)} charged" in title and "per hour" in title
    assert "67% of finished jobs succeeded" in report["outcomes"].get_suptitle()
    assert "2 readings" in report["balance_trend"].axes[0].get_title()
    report.save(tmp_path)


def test_reports_never_touch_pyplot(tmp_path: Path) -> None:
    code = textwrap.dedent(
        f"""
        import sys
        from aurous_nb.work import jobs
        from aurous_nb.analysis import reports
        from aurous_nb.store.ledger import Ledger
        ledger = Ledger({str(tmp_path / "l.sqlite3")!r})
        ledger.record_generation("e", {{"id": "img_1", "status": "succeeded",
                                        "created_at": "2026-11-01T00:00:00Z",
                                        "cost": {{"amount": 2}}}})
        reports.cost_report(ledger=ledger, env="e").save({str(tmp_path)!r})
        print("matplotlib.pyplot" in sys.modules)
        """
    )
    out = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        timeout=60,
        env={"PATH": "/usr/bin:/bin", "HOME": str(tmp_path)},  # no DISPLAY, no MPLBACKEND
    )
    assert out.stdout.strip() == "False", out.stderr


def fill_span(ledger: Ledger, span_s: float, readings: int = 6) -> None:
    """Generations and balance readings spread evenly over the last ``span_s`` seconds."""
    now = time.time() - 5
    at = [now - span_s + span_s * k / max(readings - 1, 1) for k in range(readings)]
    ledger.record_generations(
        LIVE,
        [
            {
                "id": f"img_{k}",
                "status": "succeeded",
                "created_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(t)),
                "cost": {"amount": 2},
                "size_preset": "2k_1_1",
            }
            for k, t in enumerate(at)
        ],
    )
    for k, t in enumerate(at):
        reading = {"credits": 100.0 - 2 * k, "held_credits": 1, "available_credits": 99.0 - 2 * k}
        ledger.record_balance(LIVE, reading, at=t)


def tick_labels(figure: Figure) -> list[str]:
    figure.savefig(io.BytesIO(), format="png", dpi=40)  # lays the ticks out
    return [t.get_text() for t in figure.axes[0].get_xticklabels() if t.get_text()]


CLOCK = re.compile(r"\d\d:\d\d(:\d\d(\.\d+)?)?")
DAY = re.compile(r"[A-Z][a-z]{2}( \d\d| \d{4})?|\d{4}")


@pytest.mark.parametrize(
    ("span_s", "readings"),
    [(25.0, 6), (86_400.0, 12), (30 * 86_400.0, 12), (2 * 3600.0, 6), (0.0, 1)],
    ids=["a minute", "a day", "a month", "two hours", "one reading"],
)
def test_time_axes_read_as_times_and_never_warn(home: Path, span_s: float, readings: int) -> None:
    ledger = Ledger()
    fill_span(ledger, span_s, readings)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # AutoDateLocator's "unable to pick an interval" included
        report = reports.cost_report(ledger=ledger, env=LIVE, since="60d")
        balance = tick_labels(report["balance_trend"])
        spend = tick_labels(report["spend_over_time"])
    for label in balance + spend:
        assert CLOCK.fullmatch(label) or DAY.fullmatch(label), label
    if 0 < span_s < 60:  # within a minute: full clock times, never bare seconds like "33.5"
        assert len(balance) >= 3 and all(label.count(":") == 2 for label in balance), balance
    if readings == 1:  # one instant: a few minutes around it, not matplotlib's +-2 years
        assert "over 1 reading" in report["balance_trend"].axes[0].get_title()
        assert all(CLOCK.fullmatch(label) for label in balance), balance


@pytest.mark.parametrize(
    "span_s",
    [0.4, 2.5, 10, 59, 179, 600, 3599, 3 * 3600 - 1, 5 * 3600, 86_400, 2 * 86_400, 4 * 86_400,
     30 * 86_400, 90 * 86_400, 365 * 86_400, 3 * 365 * 86_400 - 86_400, 6 * 365 * 86_400],
)  # fmt: skip
def test_date_axis_finds_ticks_for_any_span(span_s: float) -> None:
    from matplotlib.dates import date2num

    start = datetime(2026, 11, 29, 7, 55, 33, tzinfo=timezone.utc)
    figure = Figure()
    axes = figure.subplots()
    axes.plot([start, start + timedelta(seconds=span_s)], [1, 2])
    reports._date_axis(axes)
    axes.set_xlim(date2num(start), date2num(start + timedelta(seconds=span_s)))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        ticks = axes.xaxis.get_major_locator()()
        labels = axes.xaxis.get_major_formatter().format_ticks(ticks)
    assert 2 <= len(ticks) <= 9, (span_s, labels)
    assert all(labels), labels
    if span_s < 86_400:  # within a day every tick reads as a distinct clock time
        assert len(set(labels)) == len(labels) and all(CLOCK.fullmatch(x) for x in labels), labels


def test_big_totals_read_as_plain_numbers(home: Path) -> None:
    ledger = Ledger()
    stamp = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() - 60))
    gen = {"id": "img_1", "status": "succeeded", "created_at": stamp, "cost": {"amount": 12500.5}}
    ledger.record_generation(LIVE, {**gen, "size_preset": "4k_1_1"})
    report = reports.cost_report(ledger=ledger, env=LIVE)
    assert "12500.5 charged" in report["spend_over_time"].axes[0].get_title()  # not 1.25e+04
    report["spend_by_lora_size"].savefig(io.BytesIO(), format="png", dpi=40)
    bar_labels = [t.get_text() for t in report["spend_by_lora_size"].axes[1].texts]
    assert bar_labels == ["12500.5"]


def test_a_figure_shows_as_a_png_and_says_what_it_is_in_a_terminal(home: Path) -> None:
    """What IPython's display formatter makes of a report figure with no ``%matplotlib``: a PNG
    (which Jupyter shows) and, for terminal IPython, a sentence instead of ``<Figure size ...>``."""
    from IPython.core.interactiveshell import InteractiveShell

    ledger = Ledger()
    fill_live(ledger, rows=20)
    report = reports.cost_report(ledger=ledger, env=LIVE)
    data, _ = InteractiveShell.instance().display_formatter.format(report["spend_over_time"])
    assert data["image/png"].startswith(b"\x89PNG\r\n\x1a\n")
    text = data["text/plain"]
    assert text.startswith("<Figure 'spend_over_time' 900x420 px: Credits spent per day"), text
    assert ".save('folder')" in text and "Figure size" not in text

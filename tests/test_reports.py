"""cost_report: figures (not pyplot side effects), labelled in credits, one environment each."""

from __future__ import annotations

import random
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import httpx
import pytest
from matplotlib.figure import Figure

from aurous_nb import jobs, reports
from aurous_nb.client import Client
from aurous_nb.ledger import Ledger
from aurous_nb.sandbox import Sandbox

LIVE = "api.aurous-labs.com"
NAMES = ["spend_over_time", "spend_by_lora_size", "outcomes", "balance_trend", "price_changes"]


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("AUROUS_NB_HOME", str(tmp_path))
    return tmp_path


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
    assert f"{total:,.4g} charged" in spend_title  # the sandbox row's 99 credits never mix in
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
    assert f"{charged:,.4g} charged" in title and "per hour" in title
    assert "67% of finished jobs succeeded" in report["outcomes"].get_suptitle()
    assert "2 readings" in report["balance_trend"].axes[0].get_title()
    report.save(tmp_path)


def test_reports_never_touch_pyplot(tmp_path: Path) -> None:
    code = textwrap.dedent(
        f"""
        import sys
        from aurous_nb import jobs, reports
        from aurous_nb.ledger import Ledger
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

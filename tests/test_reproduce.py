"""Quoting and reproducing a notebook run here: its magic spends found in the saved JSON, matched
against the ledger, the rest priced; ``%aurous reproduce`` buys only what is not owned. Also the
ledger's export / import, scanned for keys and signed URLs.

Every image costs 1 credit on the sandbox's default card, so a ``--count 2`` cell is 2 credits.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from IPython.core.interactiveshell import InteractiveShell

from aurous_nb import BudgetExceededError
from aurous_nb.notebook import reproduce, session
from aurous_nb.sandbox import Sandbox
from aurous_nb.store import ledger
from aurous_nb.store.ledger import Ledger
from aurous_nb.work import caps
from tests.magic_cells import run
from tests.reliability.leaks import Scan

CELLS = [
    ("markdown", "# A study"),
    ("code", 'animal = "a fox"'),
    ("code", '%config Aurous.default_size = "hd_square"'),
    ("code", "%aurous generate {{animal}} in the snow --count 2 --seed 1"),
    ("code", "%%aurous generate --seed 2\na lighthouse at dusk"),
    (
        "code",
        "from aurous_nb import jobs, session\n"
        'made = jobs.generate(session.current().client, None, "image", {"prompt": "code"})',
    ),
    ("code", 'mood = "calm".upper()'),
    ("code", "%aurous generate a {{mood}} sea --seed 3"),
]


def notebook(path: Path, cells: list[tuple[str, str]]) -> Path:
    body = {
        "nbformat": 4,
        "nbformat_minor": 5,
        "metadata": {},
        "cells": [
            {"cell_type": kind, "id": f"c{i}", "metadata": {}, "source": text.splitlines(True)}
            | ({"outputs": [], "execution_count": None} if kind == "code" else {})
            for i, (kind, text) in enumerate(cells)
        ],
    }
    path.write_text(json.dumps(body))
    return path


def created(sb: Sandbox) -> tuple[int, float]:
    totals = httpx.get(f"{sb.base_url}/_sandbox/ledger").json()["totals"]
    return totals["generation_count"], totals["credits_charged"]


@pytest.fixture
def sb(home: Path) -> Iterator[Sandbox]:
    with Sandbox(latency=0.05, credits=1000, time_factor=20) as sandbox:
        yield sandbox


@pytest.fixture
def ip(home: Path, sb: Sandbox, monkeypatch: pytest.MonkeyPatch) -> Iterator[InteractiveShell]:
    monkeypatch.delenv("AUROUS_API_KEY", raising=False)
    monkeypatch.chdir(home)
    shell = InteractiveShell.instance()
    session.disconnect()
    shell.run_cell("%load_ext aurous_nb", store_history=False)
    shell.run_cell(
        f"from aurous_nb import session as _s\n_s.connect(api_key={sb.api_key!r}, "
        f"base_url={sb.base_url!r})",
        store_history=False,
    )
    yield shell
    shell.run_cell("%config Aurous.default_size = '2k_1_1'", store_history=False)
    caps.configure(session=None, daily=None, notebook=None)
    from aurous_nb.notebook.magics.extension import unload_ipython_extension

    unload_ipython_extension(shell)
    session.disconnect()


def run_notebook(ip: InteractiveShell, cells: list[tuple[str, str]]) -> None:
    for kind, text in cells:
        if kind == "code":
            assert ip.run_cell(text).success, text


def test_find_reads_options_presets_and_literal_variables(tmp_path: Path) -> None:
    spends, unknown = reproduce.find(notebook(tmp_path / "study.ipynb", CELLS))
    assert [(s.cell, s.request) for s in spends] == [
        (3, {"prompt": "a fox in the snow", "size": "hd_square", "count": 2, "seed": 1}),
        (4, {"prompt": "a lighthouse at dusk", "size": "hd_square", "seed": 2}),
    ]
    assert [(u.cell, u.reason) for u in unknown] == [
        (5, "Python code that may spend"),
        (7, "a {{var}} set by code"),
    ]


def test_after_a_run_everything_is_owned_and_one_changed_cell_costs_exactly_its_price(
    ip: InteractiveShell, capsys: pytest.CaptureFixture[str], sb: Sandbox, home: Path
) -> None:
    path = notebook(home / "study.ipynb", CELLS)
    run_notebook(ip, CELLS)
    ran = created(sb)
    assert ran == (4, 5)  # the two magic spends, the code one and the {{mood}} one

    q = reproduce.quote(path, client=session.current().client)
    assert (q.owned, q.to_buy) == (3, 0) and [u.cell for u in q.unknown] == [5, 7]
    assert q.card_version == "2026-05-15"
    result, out = run(ip, capsys, f"%aurous reproduce {path} --quote --max-spend 0")
    assert result.success and "3 credits owned" in out and "0 credits to buy" in out, out

    changed = list(CELLS)
    changed[3] = ("code", "%aurous generate {{animal}} in the snow --count 3 --seed 1")
    path = notebook(home / "study.ipynb", changed)
    q = reproduce.quote(path, client=session.current().client)
    price = session.current().client.images.estimate(
        "a fox in the snow", size="hd_square", count=3, seed=1
    )
    assert q.to_buy == price.amount == 3 and q.owned == 1
    assert [i.state for i in q.items] == ["to_buy", "owned"]

    result, out = run(ip, capsys, f"%aurous reproduce {path} --max-spend 0")
    assert not result.success and isinstance(result.error_in_exec, BudgetExceededError), out
    assert "would buy 3 credits" in out and "nothing was sent" in out, out
    assert created(sb) == ran

    result, out = run(ip, capsys, f"%aurous reproduce {path}")
    assert result.success and "1 reused" in out and "1 bought" in out, out
    assert "not run (unknown): cells 5, 7" in out, out
    assert created(sb) == (ran[0] + 1, ran[1] + 3)  # only the changed cell was bought
    result, out = run(ip, capsys, f"%aurous reproduce {path} --max-spend 0")
    assert result.success and created(sb) == (ran[0] + 1, ran[1] + 3), out


def test_a_colleagues_export_makes_their_results_owned(
    ip: InteractiveShell, sb: Sandbox, home: Path, tmp_path: Path
) -> None:
    path = notebook(home / "study.ipynb", CELLS[:5])
    run_notebook(ip, CELLS[:5])
    shared = tmp_path / "shared.json"
    assert ledger.export(shared, since="1d") == 2
    mine = Ledger(tmp_path / "elsewhere" / "ledger.sqlite3")
    client = session.current().client
    alone = reproduce.quote(path, client=client, ledger=mine)
    assert (alone.owned, alone.to_buy) == (0, 3)
    q = reproduce.quote(path, client=client, ledger=mine, from_ledger=shared)
    assert (q.owned, q.to_buy) == (3, 0)


def test_export_holds_records_only_and_import_adds_them_once(
    ip: InteractiveShell, sb: Sandbox, home: Path, tmp_path: Path
) -> None:
    run_notebook(ip, [*CELLS[:5], ("code", "%aurous pricing")])  # a rate card is kept too
    shared = tmp_path / "shared.json"
    ledger.export(shared)
    text = shared.read_text()
    scan = Scan()
    scan.check("export", text, sb.api_key)
    assert scan.hits == [] and scan.size > 0
    assert "idempotency_key" not in text and "output_urls" not in text and "https://" not in text
    other = Ledger(tmp_path / "b" / "ledger.sqlite3")
    assert ledger.import_(shared, ledger=other) == 2
    assert ledger.import_(shared, ledger=other) == 0  # known rows are left as they are
    rows = other.jobs()
    assert {r.origin for r in rows} == {"imported"} and all(r.key is None for r in rows)
    assert other.pending() == [] and len(other.pricing_snapshots()) == 1
    assert sorted(r.charged for r in rows) == [1, 2]
    with pytest.raises(ValueError, match="not an aurous_nb ledger export"):
        ledger.import_(notebook(tmp_path / "x.ipynb", CELLS), ledger=other)

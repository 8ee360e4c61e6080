"""Neither the API key nor a signed output token appears in anything a run leaves behind.

A real notebook (magics, the client, a batch, errors) runs in a kernel against the sandbox; in
this process a batch caches outputs under chaos and every kind of error is raised, with every
log record captured at DEBUG. Then the notebook's outputs, the log lines, the exception texts,
every ledger row and every file under ``$AUROUS_NB_HOME`` and ``build/`` are scanned.
(tests/test_build_secrets.py scans the committed notebooks and ``make demo``'s build/.)
"""

from __future__ import annotations

import asyncio
import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import nbformat
import pytest
from leaks import BUILD, Scan, captured_logs, exception_texts, files_under, ledger_rows
from nbclient import NotebookClient

from aurous_nb.client import AsyncClient, AurousError, Client
from aurous_nb.notebook.display import view
from aurous_nb.sandbox import Sandbox
from aurous_nb.store.ledger import Ledger
from aurous_nb.work.batch import Batch
from aurous_nb.work.spec import grid

CELLS = [
    "%load_ext aurous_nb",
    "%aurous connect",
    "%aurous balance",
    "%aurous generate a lighthouse at dusk --seed 7",
    "%aurous generate forbidden fruit --seed 8",
    "from aurous_nb import Client\nc = Client()\n"
    "g = c.images.wait(c.images.create('a fox', seed=3))\ng",
    "print(repr(g)); print(g)",
    "from aurous_nb.notebook.display import view\nview(g)",
    "from aurous_nb import Batch\nb = Batch.grid(['a', 'b'], seeds=[1, 2], name='leak')\n"
    "b.run()\nb",
    "b.rows()",
    "%aurous get img_does_not_exist",
    "c.images.create('x', seed=-5)",
    "Client(api_key='al_live_' + 'e' * 64).balance()",
    "c.images.download(c.images.create('forbidden again'))",
    "%aurous history",
    "%aurous jobs",
    "import logging; logging.getLogger('aurous_nb').warning('key in env: %s', bool(c))",
]


def run_notebook(sb: Sandbox, home: Path) -> Any:
    """The notebook above, executed in a real kernel with the key only in its environment."""
    cells = [nbformat.v4.new_code_cell(src) for src in CELLS]  # type: ignore[no-untyped-call]
    nb = nbformat.v4.new_notebook(cells=cells)  # type: ignore[no-untyped-call]
    env = {
        "AUROUS_API_KEY": sb.api_key,
        "AUROUS_BASE_URL": sb.base_url,
        "AUROUS_NB_HOME": str(home),
        "AUROUS_NB_AUTO_DOWNLOAD": "1",
    }
    old = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    try:
        NotebookClient(nb, timeout=120, allow_errors=True, kernel_name="python3").execute()
    finally:
        for k, v in old.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
    nbformat.write(nb, home / "executed.ipynb")  # type: ignore[no-untyped-call]
    return nb


def in_process(sb: Sandbox, home: Path, errors: list[BaseException]) -> list[str]:
    """A batch with downloads under chaos, then one of each error; returns rendered outputs."""
    ledger = Ledger(home / "ledger.sqlite3")

    async def drive() -> Batch:
        async with AsyncClient(api_key=sb.api_key, base_url=sb.base_url, timeout=2.0) as c:
            batch = Batch(
                grid(["leak a", "leak b", "forbidden c"], seeds=range(3)),
                client=c,
                ledger=ledger,
                name="leaks",
                download=True,
            )
            await batch.run_async()
            return batch

    batch = asyncio.run(drive())
    rendered = [batch._repr_html_(), repr(batch), json.dumps(batch.rows(), default=str)]
    attempts: list[Callable[[Client], Any]] = [
        lambda c: c.images.get("img_nope"),
        lambda c: c.images.create("", seed=-1),
        lambda c: c.images.create("x", lora_id="no-such-lora"),
        lambda c: c.images.download(c.images.create("forbidden thing")),
        lambda c: c.images.cancel(batch.jobs[0].generation_id or "x"),
        lambda c: c.webhook_endpoints.create("ftp://nope", events=["*"]),
    ]
    with Client(api_key=sb.api_key, base_url=sb.base_url, max_retries=1) as c:
        for attempt in attempts:
            try:
                attempt(c)
            except (AurousError, ValueError) as exc:
                errors.append(exc)
        for job in batch.jobs:
            if job.generation is not None:
                gen_view = view(job.generation, ledger=ledger)
                rendered += [repr(job.generation), repr(gen_view), gen_view._repr_html_()]
                rendered += [str(b) for b in gen_view._repr_mimebundle_()]
        rendered.append(repr(c))
    with Client(api_key="al_live_" + "f" * 64, base_url=sb.base_url, max_retries=0) as bad:
        try:
            bad.balance()
        except AurousError as exc:
            errors.append(exc)
    ledger.close()
    return rendered


def scan_everything(
    key: str, home: Path, nb: Any, logs: list[str], errors: list[BaseException], rendered: list[str]
) -> Scan:
    scan = Scan()
    for i, cell in enumerate(nb.cells):
        scan.check(f"notebook cell {i} outputs", json.dumps(cell.get("outputs", [])), key)
    for i, line in enumerate(logs):
        scan.check(f"log line {i}", line, key)
    for exc in errors:
        for text in exception_texts(exc):
            scan.check(f"exception {type(exc).__name__}", text, key)
    for i, text in enumerate(rendered):
        scan.check(f"rendered output {i}", text, key)
    for path in files_under(home, BUILD):
        if path.suffix in (".sqlite3", ".sqlite") and path.stat().st_size:
            for table, row in ledger_rows(path):
                scan.check(f"ledger row in {path.name}:{table}", row, key)
        scan.check(f"file {path}", path.read_bytes(), key)
    return scan


def test_no_key_and_no_signed_token_anywhere(home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AUROUS_NB_AUTO_DOWNLOAD", "1")
    errors: list[BaseException] = []
    with (
        Sandbox(latency=0.1, time_factor=50, failure_rate=0.2, chaos=0.1, chaos_delay=3.0) as sb,
        captured_logs() as logs,
    ):
        rendered = in_process(sb, home, errors)
        nb = run_notebook(sb, home)
        key = sb.api_key
    scan = scan_everything(key, home, nb, logs.lines, errors, rendered)
    assert scan.hits == [], scan.hits[:20]
    # The scan saw what it should have: outputs were cached, errors raised, logs written.
    assert any(p.suffix == ".png" for p in files_under(home)), "no output was cached"
    assert len(errors) >= 5 and logs.lines
    texts = json.dumps([c.get("outputs", []) for c in nb.cells])
    assert "resource_not_found" in texts and "ValidationError" in texts and "Batch leak" in texts
    assert scan.items > 100


def test_the_scan_can_fail(tmp_path: Path) -> None:
    key = "al_live_" + "ab" * 32
    (tmp_path / "x.log").write_text(f"oops {key}")
    (tmp_path / "y.html").write_text("<img src='http://h/v1/images/i/output/0?token=1.ab.cd'>")
    (tmp_path / "z.txt").write_text("sig 1796025445.e152b5b97653." + "b" * 64)
    (tmp_path / "k.txt").write_text("another key al_live_" + "c" * 64)
    scan = Scan()
    for path in files_under(tmp_path):
        scan.check(path.name, path.read_bytes(), key)
    assert len(scan.hits) == 4, scan.hits
    assert Scan().hits == []

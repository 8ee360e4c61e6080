"""``make demo``: run every notebook against the sandbox and render it to HTML.

Each ``notebooks/NN-*.ipynb`` is executed top to bottom (nbclient, a fresh kernel each) against
an in-process sandbox: ``AUROUS_API_KEY`` is removed from the kernels' environment, so the
notebooks' connect cells pick the sandbox and nothing real is spent. The toolkit's home
(ledger, outputs cache, exports) is ``<out>/demo/home``, emptied first, so the user's own
ledger in ``~/.aurous_nb`` is never touched.

Writes ``<out>/demo/NN-name.ipynb`` (executed, with outputs) and ``<out>/demo/NN-name.html``.
The HTML shows the widgets' static copies (embedded images, tables) instead of live widget
views, so it reads the same offline and in any browser. Prints one line per notebook and a
total: generations, credits, time, where the files are.

    python scripts/demo.py --out build [--only 01 02]
"""

from __future__ import annotations

import argparse
import copy
import os
import shutil
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = ROOT / "notebooks"
WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"


@dataclass
class Result:
    name: str
    seconds: float
    generations: int
    characters: int
    credits: float
    error: str | None = None


def notebooks(only: list[str] | None) -> list[Path]:
    found = sorted(NOTEBOOKS.glob("[0-9][0-9]-*.ipynb"))
    if only:
        found = [p for p in found if any(p.name.startswith(prefix) for prefix in only)]
    return found


def static_copy(nb: Any) -> Any:
    """The notebook as the HTML render should show it: each widget output keeps only its
    static ``text/html`` twin, and the saved widget state is dropped (nothing to load from a
    CDN, nothing that renders blank offline)."""
    nb = copy.deepcopy(nb)
    nb.metadata.pop("widgets", None)
    for cell in nb.cells:
        for output in cell.get("outputs", []):
            data = output.get("data", {})
            if WIDGET_VIEW in data and "text/html" in data:
                del data[WIDGET_VIEW]
    return nb


def ledger_totals(home: Path, seen: set[tuple[str, str]]) -> tuple[int, int, float]:
    """Generations, paid character syntheses and the credits of both, of the ledger's rows not
    in ``seen`` (env, key), which it adds.

    Every notebook writes the one ``sandbox`` environment of the shared home, so a notebook's
    purchases are the rows that were not there before it ran.
    """
    from aurous_nb.store import characters
    from aurous_nb.store.ledger import Ledger

    ledger = Ledger(home / "ledger.sqlite3")
    try:
        rows = [(env, j) for env in ledger.envs() for j in ledger.jobs(env)]
        paid = [(c.env, c) for c in characters.jobs(ledger) if c.action != "create"]
    finally:
        ledger.close()
    new = [j for env, j in rows if (env, str(j.key)) not in seen]
    new_paid = [c for env, c in paid if (env, c.key) not in seen]
    seen.update((env, str(j.key)) for env, j in rows)
    seen.update((env, c.key) for env, c in paid)
    spent = sum(float(j.charged or 0.0) for j in new) + sum(float(c.charged or 0) for c in new_paid)
    return len(new), len(new_paid), spent


def run_one(path: Path, out: Path, home: Path, seen: set[tuple[str, str]]) -> Result:
    import nbformat
    from nbclient import NotebookClient
    from nbclient.exceptions import CellExecutionError
    from nbconvert import HTMLExporter

    nb = nbformat.read(path, as_version=4)
    client = NotebookClient(
        nb,
        timeout=180,
        kernel_name="python3",
        # ipykernel warns about its unencrypted loopback TCP on every start; nothing to act on.
        extra_arguments=["--IPKernelApp.log_level=ERROR"],
        resources={"metadata": {"path": str(NOTEBOOKS)}},
    )
    started = time.monotonic()
    error = None
    try:
        client.execute()
    except CellExecutionError as exc:
        error = str(exc).strip().splitlines()[-1][:200]
    seconds = time.monotonic() - started
    nbformat.write(nb, out / path.name)
    exporter: Any = HTMLExporter(template_name="lab")
    body, _ = exporter.from_notebook_node(static_copy(nb))
    (out / path.with_suffix(".html").name).write_text(body, encoding="utf-8")
    generations, characters, credits = ledger_totals(home, seen)
    return Result(path.stem, seconds, generations, characters, credits, error)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=Path("build"), help="build folder")
    parser.add_argument("--only", nargs="*", help="notebook number prefixes, e.g. 01 03")
    args = parser.parse_args(argv)

    out = (args.out / "demo").resolve()
    home = out / "home"
    if out.exists():
        shutil.rmtree(out)
    home.mkdir(parents=True)
    os.environ["AUROUS_NB_HOME"] = str(home)  # inherited by every kernel
    os.environ.pop("AUROUS_API_KEY", None)  # the notebooks' connect cells pick the sandbox

    paths = notebooks(args.only)
    if not paths:
        print("no notebooks found", file=sys.stderr)
        return 1
    print(f"Running {len(paths)} notebooks against the sandbox (synthetic outputs, no key)…")
    seen: set[tuple[str, str]] = set()
    results = []
    for path in paths:
        result = run_one(path, out, home, seen)
        results.append(result)
        state = f"FAILED: {result.error}" if result.error else "ok"
        made = f" + {result.characters} synthesis" if result.characters else ""
        print(
            f"  {result.name:<24} {result.seconds:5.1f} s  {result.generations:3d} generations"
            f"{made:<14} {result.credits:6g} credits  {state}"
        )
    total_gens = sum(r.generations for r in results)
    total_chars = sum(r.characters for r in results)
    total_credits = sum(r.credits for r in results)
    total_s = sum(r.seconds for r in results)
    syntheses = f", {total_chars} character synthesis" if total_chars else ""
    print(
        f"Total: {total_gens} generations{syntheses}, {total_credits:g} sandbox credits (not "
        f"real), {total_s:.0f} s."
    )
    rel = out.relative_to(Path.cwd()) if out.is_relative_to(Path.cwd()) else out
    print(f"Executed notebooks and HTML renders: {rel}/NN-*.ipynb, {rel}/NN-*.html")
    print(f"Ledger, cached outputs and exports of this run: {rel}/home")
    failed = [r.name for r in results if r.error]
    if failed:
        print(f"{len(failed)} notebook(s) failed: {', '.join(failed)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())

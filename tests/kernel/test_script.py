"""A grid in a plain Python script: built outside any loop, run with ``asyncio.run(grid.run())``
(or built inside ``async def main()``), a refusal raised where the script can catch it."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from tests.kernel.kernelkit import ROOT, isolated_env

SCRIPT = """
import asyncio, json
import httpx
from aurous_nb.notebook import session
from aurous_nb.work.batch import BudgetExceededError
from aurous_nb.notebook.widgets import PromptGrid

s = session.connect(sandbox=True, latency=0.05, time_factor=20)
grid = PromptGrid(["a lighthouse at dusk", "a fox in the snow"], seeds=[1])
asyncio.run(grid.run())
again = asyncio.run(grid.run())  # a second loop: nothing left to buy, nothing raised

async def main():
    inner = PromptGrid(["a paper boat"], seeds=[4])
    await inner.run()
    return [j.status for j in inner.batch.jobs]

inner = asyncio.run(main())
over = PromptGrid(["a castle", "a moat"], seeds=[1, 2], budget=3)
try:
    asyncio.run(over.run())
    refused = None
except BudgetExceededError as exc:
    refused = str(exc)
print(json.dumps({
    "statuses": [j.status for j in grid.batch.jobs],
    "inner": inner,
    "images": len(grid.thumbs),
    "error": grid.error,
    "refused": refused,
    "server": len(httpx.get(s.base_url + "/_sandbox/ledger").json()["generations"]),
}))
"""


def test_asyncio_run_of_a_grid_built_outside_the_loop(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-c", SCRIPT],
        env=isolated_env(tmp_path),
        cwd=str(ROOT),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    out = json.loads(done.stdout.strip().splitlines()[-1])
    assert out["statuses"] == ["succeeded"] * 2 and out["images"] == 2 and out["error"] is None
    assert out["inner"] == ["succeeded"]
    assert out["refused"] and "budget" in out["refused"]
    assert out["server"] == 3

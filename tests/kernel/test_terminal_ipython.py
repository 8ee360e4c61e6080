"""``await grid.run()`` in real terminal IPython (autoawait), under a pty, as the README says.

A grid built in one cell and awaited in the next runs on IPython's own loop; a grid that cannot
run says why in the terminal, as a short block and not a traceback (issue 14, item 2).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pexpect

from tests.kernel.kernelkit import ROOT, isolated_env

IPYTHON = Path(sys.executable).with_name("ipython")


class Terminal:
    def __init__(self, tmp: Path) -> None:
        env = isolated_env(tmp)
        env["TERM"] = "dumb"
        self.child = pexpect.spawn(
            str(IPYTHON),
            ["--simple-prompt", "--colors=nocolor", "--no-banner", "--no-confirm-exit"],
            env=env,
            cwd=str(ROOT),
            encoding="utf-8",
            timeout=90,
            dimensions=(50, 200),
        )
        self.count = 1
        self.child.expect(r"In \[1\]: ")

    def cell(self, line: str) -> str:
        """Type one line, press Enter; what IPython printed before the next prompt."""
        self.child.sendline(line)
        self.count += 1
        self.child.expect(rf"In \[{self.count}\]: ")
        out = str(self.child.before)
        return out.split("\n", 1)[1] if "\n" in out else ""  # drop the echoed line

    def close(self) -> None:
        self.child.sendline("exit")
        self.child.expect(pexpect.EOF)


def test_await_grid_run_runs_the_grid_and_shows_what_stops_one(tmp_path: Path) -> None:
    term = Terminal(tmp_path)
    try:
        term.cell(
            "from aurous_nb import session; from aurous_nb.widgets import PromptGrid; import httpx"
        )
        term.cell("s = session.connect(sandbox=True, latency=0.05, time_factor=20)")
        term.cell("grid = PromptGrid(['a lighthouse at dusk', 'a fox in the snow'], seeds=[1, 2])")
        term.cell("await grid.run()")
        report = term.cell(
            "import json; print(json.dumps({'error': grid.error, "
            "'statuses': [j.status for j in grid.batch.jobs], "
            "'images': len(grid.thumbs), "
            "'server': len(httpx.get(s.base_url + '/_sandbox/ledger').json()['generations'])}))"
        )
        ran = json.loads(report.strip().splitlines()[-1])
        term.cell("over = PromptGrid(['a castle', 'a moat'], seeds=[1, 2, 3], budget=4)")
        refused = term.cell("await over.run()")
    finally:
        term.close()
    assert ran["error"] is None, ran
    assert ran["statuses"] == ["succeeded"] * 4 and ran["images"] == 4 and ran["server"] == 4
    assert "BudgetExceededError" in refused and "budget" in refused, refused
    assert "Traceback" not in refused

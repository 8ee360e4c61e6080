"""Statuses have one home (issue 15): ``aurous_nb.statuses`` names them and their groups, and
every module (client, ledger SQL, frames, batch, widgets) uses those, so they cannot drift."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

from aurous_nb import statuses

PACKAGE = Path(statuses.__file__).parent
NAMES = "|".join(sorted(statuses.ALL))


def test_the_groups_keep_their_members() -> None:
    def names(group: frozenset[str]) -> str:
        return " ".join(sorted(group))

    ends = "cancelled expired failed moderation_rejected succeeded"
    assert names(statuses.SERVER_TERMINAL) == ends
    assert names(statuses.ACTIVE) == "pending processing queued submitting"
    assert names(statuses.TERMINAL - statuses.SERVER_TERMINAL) == "lost rejected"
    assert names(statuses.LOCAL_ENDS) == "cancelled lost rejected"
    assert names(statuses.BATCH_FAILED) == "expired failed lost moderation_rejected rejected"
    assert names(statuses.BATCH_RUNNING) == "pending processing queued_server submitting"
    assert names(statuses.RETRYABLE) == "expired failed unknown"
    assert statuses.batch_status("queued") == "queued_server"


def test_it_imports_nothing_else_of_the_package() -> None:
    code = "import sys, aurous_nb.statuses; print(sorted(m for m in sys.modules if 'aurous' in m))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["['aurous_nb',", "'aurous_nb.statuses']"]


def test_every_module_uses_the_one_declaration() -> None:
    from aurous_nb.client import models
    from aurous_nb.store import ledger, payloads
    from aurous_nb.work import batch, reuse
    from aurous_nb.work import batch_state as jobstate

    assert models.TERMINAL_STATUSES is statuses.SERVER_TERMINAL
    assert payloads.SERVER_TERMINAL is statuses.SERVER_TERMINAL
    assert ledger.ACTIVE is statuses.ACTIVE
    assert ledger.TERMINAL is statuses.TERMINAL
    assert jobstate.TERMINAL is batch.TERMINAL is statuses.TERMINAL
    assert batch.RETRYABLE is statuses.RETRYABLE
    assert reuse.UNKNOWN is statuses.UNKNOWN


def test_no_status_name_is_written_into_sql_or_a_set_elsewhere() -> None:
    """SQL binds the groups as parameters; no other module spells out a group of statuses."""
    in_sql = re.compile(rf"'({NAMES})'")
    in_group = re.compile(rf"(frozenset\(|\{{|\()\s*\"({NAMES})\",")
    compared = re.compile(rf"(status|label)(, [\w.]+)* *(==|!=|=) *\"({NAMES})\"")
    found = []
    for path in sorted(PACKAGE.rglob("*.py")):
        rel = path.relative_to(PACKAGE).as_posix()
        if rel == "statuses.py" or rel.startswith("sandbox/"):  # the sandbox stands alone
            continue
        for n, line in enumerate(path.read_text().splitlines(), 1):
            aggregate = '"sum")' in line  # a spend column named after a status
            if "``" in line:  # prose in a docstring
                continue
            grouped = in_group.search(line) and not aggregate
            if in_sql.search(line) or grouped or compared.search(line):
                found.append(f"{rel}:{n}")
    assert found == []


def test_status_maps_name_only_known_statuses() -> None:
    from aurous_nb.notebook.widgets import grid, panel

    for table in (statuses.COLORS, statuses.ACTIVE_COLORS, grid._RUNNING_TEXT):
        assert set(table) <= statuses.ALL
    assert set(panel._PROGRESS) <= statuses.ALL

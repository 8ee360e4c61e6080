"""A team's cost report and dashboard: spend by person and by notebook, and a Mine/Team toggle."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from aurous_nb.analysis import reports
from aurous_nb.client import Client
from aurous_nb.notebook.session import Session
from aurous_nb.notebook.widgets import CostDashboard
from aurous_nb.sandbox import Sandbox
from aurous_nb.store.ledger import Ledger
from aurous_nb.work import jobs


@pytest.fixture
def team(pg_url: str, home: Path) -> Iterator[tuple[Client, str]]:
    """ana buys 2 images in fox.ipynb, bo 1 in crow.ipynb, on one team ledger."""
    with Sandbox(latency=0.1, credits=1000, time_factor=20) as sb:
        client = Client(api_key=sb.api_key, base_url=sb.base_url)
        for user, prompt, notebook in (
            ("ana", "a fox", "fox.ipynb"),
            ("bo", "a crow", "crow.ipynb"),
        ):
            ledger = Ledger(url=pg_url, user=user, host=f"{user}-laptop")
            count = 2 if user == "ana" else 1
            for i in range(count):
                jobs.submit(client, ledger, "image", {"prompt": f"{prompt} {i}"}, notebook=notebook)
            jobs.resume(client, ledger)
            ledger.close()
        yield client, pg_url
        client.close()


def test_a_team_cost_report_shows_spend_by_person_and_notebook(team: tuple[Client, str]) -> None:
    _, url = team
    lead = Ledger(url=url, user="lead")
    mine = reports.cost_report(ledger=lead, env="sandbox")
    assert "spend_by_person_notebook" not in mine
    report = reports.cost_report(ledger=lead, env="sandbox", scope="team")
    assert report["spend_by_person_notebook"].png().startswith(b"\x89PNG")
    axes = report["spend_by_person_notebook"].axes
    assert sorted(t.get_text() for t in axes[0].get_yticklabels()) == ["ana", "bo"]
    assert sorted(t.get_text() for t in axes[1].get_yticklabels()) == ["crow.ipynb", "fox.ipynb"]
    lead.close()


async def test_the_dashboard_toggles_between_mine_and_the_team(team: tuple[Client, str]) -> None:
    client, url = team
    session = Session(client, ledger=Ledger(url=url, user="ana"), key_source="sandbox")
    dash = await CostDashboard(session, since=None).wait()
    assert dash.error is None and dash.snapshot is not None
    assert dash.scope.layout.display == "" and dash.snapshot.jobs == 2
    assert "By person" not in dash.tables.value
    dash.scope.value = "Team"  # toggling refreshes
    await dash.wait()
    assert dash.snapshot.jobs == 3 and dash.snapshot.total == 3
    assert "By person" in dash.tables.value and "crow.ipynb" in dash.tables.value
    assert dash.figures["spend_by_person_notebook"].layout.display == ""
    dash.scope.value = "Mine"
    await dash.wait()
    assert dash.figures["spend_by_person_notebook"].layout.display == "none"

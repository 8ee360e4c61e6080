"""frames.reprice and the cost report's price change impact, against the sandbox's dated cards.

The sandbox's 2026-05-15 card (the default) charges 1 credit per image and doubles for enhance;
2026-01-15 charges 1.5 and multiplies enhance by 1.5; 2026-09-01 charges 0.8.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from aurous_nb.analysis import frames, reports
from aurous_nb.client import Client
from aurous_nb.store import snapshots
from aurous_nb.store.ledger import default_ledger
from aurous_nb.work import jobs


def make_history(client: Client) -> None:
    snapshots.pricing(client)
    jobs.generate(client, None, "image", {"prompt": "plain", "count": 2})
    jobs.generate(client, None, "image", {"prompt": "enhanced", "count": 1, "enhance_prompt": True})


def test_reprice_prices_each_generation_at_another_card(home: Path, fresh_client: Client) -> None:
    make_history(fresh_client)
    history = frames.history(fresh_client)
    with pytest.raises(ValueError, match="no rate card for 2026-01-15"):
        frames.reprice(history, "2026-01-15")  # not seen yet, and no client to fetch it
    priced = frames.reprice(history, "2026-01-15", client=fresh_client)
    by_prompt = priced.set_index("prompt")
    assert by_prompt.loc["plain", "cost"] == 2 and by_prompt.loc["plain", "cost_at_version"] == 3
    assert by_prompt.loc["enhanced", "cost"] == 2
    assert by_prompt.loc["enhanced", "cost_at_version"] == 2.25  # 1.5 x 1 x 1.5
    assert by_prompt["cost_difference"].sum() == pytest.approx(1.25)
    assert priced.attrs["version"] == "2026-01-15"
    same = frames.reprice(history, "2026-05-15")  # the card they were charged at: no change
    assert (same["cost_difference"] == 0).all()


def test_the_report_shows_price_change_impact_once_two_cards_are_known(
    home: Path, fresh_client: Client
) -> None:
    make_history(fresh_client)
    one = reports.cost_report(ledger=default_ledger(), since="1d")
    assert "price_change_impact" not in one and one.impact is None
    snapshots.pricing(fresh_client, version="2026-09-01")
    two = reports.cost_report(ledger=default_ledger(), since="1d")
    assert "price_change_impact" in two
    assert two.impact == {"charged": 4.0, "2026-05-15": 4.0, "2026-09-01": pytest.approx(3.2)}
    assert two["price_change_impact"].png()[:4] == b"\x89PNG"

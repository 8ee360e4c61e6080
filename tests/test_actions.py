"""From a result: reuse its seed, open it in the panel, make variations (same request, new
seeds; priced first, collected again rather than bought twice)."""

from __future__ import annotations

from pathlib import Path

import httpx

from aurous_nb.client import Client
from aurous_nb.notebook import actions
from aurous_nb.sandbox import Sandbox
from aurous_nb.store.ledger import default_ledger
from aurous_nb.work import jobs


def creates(sb: Sandbox) -> list[dict]:
    return [g["request"] for g in httpx.get(f"{sb.base_url}/_sandbox/ledger").json()["generations"]]


def test_reuse_seed_and_variations(
    fresh_sandbox: Sandbox, fresh_client: Client, home: Path
) -> None:
    # no seed asked: the server picks one, and reuse_seed gives it back
    record = jobs.generate(
        fresh_client, default_ledger(), "image", {"prompt": "a fox", "cfg_rescale": 0.3}
    )
    again = actions.reuse_seed(record.generation_id)
    assert again["seed"] == record.seed is not None and again["cfg_rescale"] == 0.3
    batch = actions.variations(record.generation_id, 3, client=fresh_client)
    jobs_done = batch.run()
    assert [j.status for j in jobs_done] == ["succeeded"] * 3
    sent = creates(fresh_sandbox)
    assert sorted(r["seed"] for r in sent[1:]) == [record.seed + i for i in (1, 2, 3)]
    assert {r["cfg_rescale"] for r in sent} == {0.3} and {r["prompt"] for r in sent} == {"a fox"}
    # asked again (a re-run cell): collected from the ledger, nothing bought
    actions.variations(record.generation_id, 3, client=fresh_client).run()
    assert len(creates(fresh_sandbox)) == 4


async def test_open_in_panel(home: Path) -> None:
    from tests.widgets.conftest import make_session

    for s in make_session(home):
        record = jobs.generate(
            s.client, s.ledger, "image", {"prompt": "an owl", "lora_id": "golden-hour", "seed": 5}
        )
        panel = await actions.open_in_panel(record.generation_id).ready()
        request = panel.request()
        assert request["prompt"] == "an owl" and request["seed"] == 5
        assert panel.lora.label == "Golden Hour" and request["lora_id"].startswith("lora_")
        await s.aclient.close()

"""GenerationPanel: priced before spending, one job per click, outputs in the gallery and ledger."""

from __future__ import annotations

import asyncio
from pathlib import Path

import httpx
import pytest

from aurous_nb.client import NotFoundError
from aurous_nb.notebook.session import Session
from aurous_nb.notebook.widgets import GenerationPanel
from tests.widgets.conftest import make_session


def sandbox_generations(session: Session) -> list[dict[str, object]]:
    body = httpx.get(f"{session.base_url}/_sandbox/ledger").json()
    return list(body["generations"])


async def test_prices_fields_and_fills_the_lora_picker(session: Session) -> None:
    panel = await GenerationPanel(prompt="a lighthouse at dusk").ready()
    assert panel.session is session
    assert len(panel.lora.options) > 3 and panel.lora.options[0][1] == ""
    assert panel.quote is not None and panel.quote.amount == 1
    assert "<b>1 credit</b>" in panel.cost.value and "Available" in panel.balance.value
    assert "1 credit<" in panel.static_html()  # the static copy's estimate, singular too
    assert not panel.generate_button.disabled

    panel.count.value = 3
    panel.enhance.value = True
    await asyncio.sleep(0)  # the debounced estimate is scheduled, not run inline
    await panel._pricer.flush()
    assert panel.quote.amount == 6  # base 1 x 3 images x enhance 2


async def test_lora_choice_shows_preview_and_builds_the_stack(session: Session) -> None:
    panel = await GenerationPanel(session, prompt="a fox").ready()
    first, second = panel._loras[0], panel._loras[1]
    panel.set_lora(first.slug)
    assert panel.request()["lora_id"] == first.id
    for _ in range(50):
        if panel.lora_preview.value:
            break
        await asyncio.sleep(0.02)
    assert bytes(panel.lora_preview.value).startswith((b"\x89PNG", b"\xff\xd8"))
    assert first.description and first.description in panel.lora_about.value
    panel.lora2.value = second.id
    panel.lora2_weight.value = 0.4
    assert panel.request()["loras"] == [
        {"lora": first.id, "weight": 1.0},
        {"lora": second.id, "weight": 0.4},
    ]
    assert "lora_id" not in panel.request()


async def test_generate_fills_gallery_ledger_and_static_html(session: Session) -> None:
    panel = await GenerationPanel(session, prompt="a red bicycle", count=2, seed=7).ready()
    panel.generate_button.click()
    again = panel.generate()  # a second click while running joins the first
    assert again.task is panel._run.task
    assert panel.generate_button.disabled and not panel.cancel_button.disabled
    record = await panel.wait()
    await again
    assert record.status == "succeeded" and record.charged == 2
    assert not panel.generate_button.disabled and panel.cancel_button.disabled
    assert len(sandbox_generations(session)) == 1
    assert len(panel.gallery.children) == 2
    image = bytes(panel.gallery.children[0].children[0].value)
    assert image.startswith((b"\x89PNG", b"\xff\xd8"))
    assert "Done" in panel.status.value and record.generation_id in panel.status.value
    [row] = session.ledger.jobs(session.env)
    assert row.generation_id == record.generation_id and row.request["seed"] == 7
    html = panel._repr_mimebundle_()
    assert "application/vnd.jupyter.widget-view+json" in html
    assert html["text/html"].count("data:image/") == 2 and "https://" not in html["text/html"]


async def test_generate_before_ready_waits_for_the_chosen_lora(session: Session) -> None:
    panel = GenerationPanel(session, prompt="a quiet harbour", lora="watercolor")
    await panel.generate()  # no ready(): generate waits for the LoRA list itself
    assert panel.record.status == "succeeded", panel.error
    [row] = session.ledger.jobs(session.env)
    lora_id = panel._lora(panel.lora.value).id
    assert row.request.get("lora_id") == lora_id
    [gen] = sandbox_generations(session)
    assert gen["request"]["lora_id"] == lora_id  # type: ignore[index]


async def test_a_deliberate_cancel_cancels_the_server_job_and_is_no_error(home: Path) -> None:
    for session in make_session(home, latency=5.0):
        panel = await GenerationPanel(session, prompt="a slow sunrise").ready()
        task = panel.generate()
        for _ in range(100):
            if panel.record is not None and panel.record.generation_id:
                break
            await asyncio.sleep(0.02)
        panel.cancel_button.click()
        await task
        assert panel.record.status == "cancelled"
        [gen] = sandbox_generations(session)
        assert gen["status"] == "cancelled"
        assert panel.error is None and panel.errors.value == ""  # no red box for a wish
        assert "Cancelled as asked" in panel.status.value and "hold released" in panel.status.value
        assert "<p class='aurous-err'>" not in panel.static_html()
        await session.aclient.close()


async def test_moderation_gets_the_rephrase_hint_the_magic_gives(home: Path) -> None:
    for session in make_session(home, moderation_word="forbidden"):
        panel = await GenerationPanel(session, prompt="a forbidden door").ready()
        await panel.generate()
        assert panel.record.status == "moderation_rejected"
        assert "moderation_rejected" in panel.errors.value
        assert "Rephrase the prompt" in panel.errors.value and "Rephrase" in (panel.error or "")
        await session.aclient.close()


async def test_panel_and_magic_share_the_default_size_and_the_size_list(
    session: Session,
) -> None:
    from aurous_nb.client._params import DEFAULT_IMAGE_SIZE, IMAGE_SIZES

    panel = await GenerationPanel(session, prompt="a tree").ready()
    offered = [o if isinstance(o, str) else o[1] for o in panel.size.options]
    assert set(offered) == IMAGE_SIZES and len(offered) == len(IMAGE_SIZES) == 22
    assert offered[0] == "2k_1_1" and "4k_21_9" in offered and "hd_square" in offered
    assert panel.size.value == DEFAULT_IMAGE_SIZE == "2k_1_1"  # what the magic sends too
    assert panel.request()["size"] == "2k_1_1"


async def test_generate_is_disabled_past_balance_or_budget(home: Path) -> None:
    for session in make_session(home, credits=2.0):
        panel = await GenerationPanel(session, prompt="a castle", count=3).ready()
        assert panel.generate_button.disabled
        assert "exceeds the available balance by 1" in panel.cost.value
        panel.count.value = 1
        await asyncio.sleep(0)
        await panel._pricer.flush()
        assert not panel.generate_button.disabled
        budgeted = await GenerationPanel(session, prompt="a castle", budget=0.5).ready()
        assert budgeted.generate_button.disabled
        assert "budget" in (budgeted.blocked_reason() or "")
        await session.aclient.close()


async def test_errors_show_their_request_id(session: Session) -> None:
    panel = await GenerationPanel(session, prompt="a boat").ready()
    panel.lora.options = [*panel.lora.options, ("Gone", "lora_00000000000000000000000000")]
    panel.lora.value = "lora_00000000000000000000000000"
    with pytest.raises(NotFoundError):  # raised to the awaiter, shown in the panel
        await panel.generate()
    assert "resource_not_found" in panel.errors.value
    assert "request id" in panel.errors.value and "req_" in panel.errors.value
    [row] = session.ledger.jobs(session.env)
    assert row.status == "rejected"


async def test_bad_seed_is_named_before_anything_is_sent(session: Session) -> None:
    panel = await GenerationPanel(session, prompt="a tree").ready()
    panel.seed.value = "twelve"
    await asyncio.sleep(0)
    await panel._pricer.flush()
    assert panel.generate_button.disabled and "seed" in panel.cost.value
    with pytest.raises(ValueError, match="seed"):
        panel.request()


async def test_a_mistyped_lora_is_named_with_the_closest_style_and_buys_nothing(
    session: Session,
) -> None:
    panel = await GenerationPanel(session, prompt="a quiet harbour", lora="watercolour").ready()
    assert "unknown LoRA &#x27;watercolour&#x27;; did you mean watercolor?" in panel.errors.value
    assert panel.generate_button.disabled
    assert "did you mean watercolor?" in (panel.blocked_reason() or "")
    with pytest.raises(ValueError, match="did you mean watercolor"):
        await panel.generate()  # from code too: refused, never sent without the style
    assert sandbox_generations(session) == []
    assert "did you mean watercolor?" in (panel.error or "")
    with pytest.raises(ValueError, match="did you mean golden-hour"):
        panel.set_lora("golden hours")
    panel.set_lora("Watercolor")  # a style's name works here, as in the browser
    assert panel.errors.value == "" and not panel.generate_button.disabled
    assert (
        panel.request()["lora_id"]
        == panel._loras[[x.slug for x in panel._loras].index("watercolor")].id
    )


async def test_gallery_captions_number_images_from_one_like_the_overlays(session: Session) -> None:
    """The sandbox draws '#1', '#2' on its outputs; the captions count the same way."""
    panel = await GenerationPanel(session, prompt="two red kites", count=2, seed=5).ready()
    await panel.generate()
    captions = [cell.children[1].value for cell in panel.gallery.children]
    assert ["#1 ·" in captions[0], "#2 ·" in captions[1]] == [True, True], captions
    html = panel._repr_mimebundle_()["text/html"]
    assert "<figcaption>#1</figcaption>" in html and "<figcaption>#2</figcaption>" in html
    assert "#0" not in html


async def test_the_panel_records_its_notebook_as_the_magics_do(session: Session) -> None:
    """In VS Code the notebook is known only from the namespace; the ledger row must say it."""
    from IPython.core.interactiveshell import InteractiveShell

    shell = InteractiveShell.instance()
    shell.user_ns["__vsc_ipynb_file__"] = "/work/study.ipynb"
    try:
        panel = await GenerationPanel(session, prompt="a notebook's own harbour").ready()
        await panel.generate()
    finally:
        shell.user_ns.pop("__vsc_ipynb_file__", None)
    assert panel.record is not None and panel.record.notebook == "/work/study.ipynb"

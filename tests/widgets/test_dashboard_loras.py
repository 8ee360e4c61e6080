"""CostDashboard reads balance, spend and prices; LoraBrowser searches, previews and picks."""

from __future__ import annotations

import re

from aurous_nb.notebook.session import Session
from aurous_nb.notebook.widgets import CostDashboard, GenerationPanel, LoraBrowser
from aurous_nb.work import jobs


async def test_dashboard_shows_balance_spend_and_prices(session: Session) -> None:
    for prompt in ("a fox", "a crow"):
        jobs.submit(
            session.client,
            session.ledger,
            "image",
            {"prompt": prompt, "count": 2, "lora_id": "golden-hour"},
        )
    jobs.resume(session.client, session.ledger)
    dash = await CostDashboard(session, since="7d").wait()
    assert dash.error is None and dash.snapshot is not None
    assert dash.snapshot.total == 4 and dash.snapshot.jobs == 2
    assert "96" in dash.cards.value and "Available" in dash.cards.value
    assert "Golden Hour" in dash.tables.value and "succeeded" in dash.tables.value
    assert "2026-05-15" in dash.prices.value
    assert bytes(dash.figures["spend_over_time"].value).startswith(b"\x89PNG")
    html = dash._repr_mimebundle_()["text/html"]
    assert "Golden Hour" in html and "data:image/png" in html
    # The static copy's charts escape the 160 px thumbnail cap (a class rule and, for viewers
    # that drop <style>, an inline style); thumbnails keep it.
    charts = re.findall(r"<img [^>]*alt=\"spend_[a-z_]+\"[^>]*>", html)
    assert len(charts) == 2
    for tag in charts:
        assert 'class="aurous-chart"' in tag and "max-height:none" in tag
    rule = re.search(r"\.aurous-static img\.aurous-chart\{([^}]*)\}", html)
    assert rule is not None and "max-height:none" in rule.group(1)
    assert ".aurous-static img{max-width:160px;max-height:160px" in html
    dash.range.value = "All time"  # changing the range refreshes
    await dash.wait()
    assert dash.snapshot.total == 4 and "all time" in dash.cards.value


async def test_browser_searches_and_fills_a_panel(session: Session) -> None:
    panel = await GenerationPanel(session, prompt="a harbour").ready()
    picked: list[str] = []
    browser = await LoraBrowser(
        session, target=panel, on_pick=lambda x: picked.append(x.id)
    ).ready()
    assert len(browser.gallery.children) == len(browser.loras) > 3
    assert all(browser.previews.values()) and len(browser.previews) == len(browser.loras)
    browser.search.value = "neon"
    [card] = browser.gallery.children
    assert "Neon Noir" in card.children[1].value
    card.children[-1].click()  # "Use this style"
    assert browser.value == panel.lora.value == picked[0]
    assert panel.request()["lora_id"] == browser.value
    assert "Neon Noir" in browser._repr_mimebundle_()["text/html"]


async def test_refused_requests_are_shown_apart_and_no_lora_has_one_name(session: Session) -> None:
    """A create the API refused (nothing created, nothing charged) is not a failed job of the
    no-LoRA bucket; and that bucket reads the same in the dashboard, reports, panel and card."""
    from html import escape

    import pytest

    from aurous_nb.analysis import reports
    from aurous_nb.client import InvalidRequestError
    from aurous_nb.notebook import display
    from aurous_nb.text import NO_LORA

    record = jobs.submit(session.client, session.ledger, "image", {"prompt": "a fox"})
    with pytest.raises(InvalidRequestError):
        jobs.submit(session.client, session.ledger, "image", {"prompt": "a blockedword fox"})
    jobs.resume(session.client, session.ledger)
    dash = await CostDashboard(session, since="7d").wait()
    snap = dash.snapshot
    assert snap is not None and snap.jobs == 1 and snap.refused == 1
    [row] = snap.spend["lora"]
    assert (row["lora"], row["jobs"], row["succeeded"], row["failed"]) == (NO_LORA, 1, 1, 0)
    assert [r["status"] for r in snap.spend["status"]] == ["succeeded"]
    assert "1 request refused before anything was created" in dash.tables.value
    report = reports.cost_report(session.client, session.ledger, since="1d")
    assert "100% of finished jobs succeeded" in report["outcomes"].get_suptitle()
    by_lora = report["spend_by_lora_size"].axes[0]
    assert [t.get_text() for t in by_lora.get_yticklabels()] == [NO_LORA]
    panel = await GenerationPanel(session, prompt="a fox").ready()
    assert panel.lora.options[0] == (NO_LORA, "")
    card = display.view(record.generation_id, session.ledger, env=session.env)._repr_html_()
    assert escape(NO_LORA) in card


async def test_dashboard_never_shows_a_broken_picture_and_reads_like_the_rest(
    session: Session,
) -> None:
    """No empty Image is ever visible (an empty one is a broken-image icon), a refresh redraws
    only what changed, the time reads 14:54:21 UTC, and holds read '0 held'."""
    jobs.submit(session.client, session.ledger, "image", {"prompt": "a fox", "count": 2})
    jobs.resume(session.client, session.ledger)
    dash = CostDashboard(session, since="7d")
    assert all(img.layout.display == "none" for img in dash.figures.values() if not img.value)
    await dash.wait()
    for img in dash.figures.values():
        assert img.layout.display != "none" and bytes(img.value).startswith(b"\x89PNG")
    assert re.search(r"Up to date · \d\d:\d\d:\d\d UTC", dash.status.value), dash.status.value
    assert "0 held" in dash.cards.value and "Held" not in dash.cards.value
    assert "(0 held)" in dash._repr_mimebundle_()["text/html"]
    seen: list[tuple[str, object]] = []
    for name, img in dash.figures.items():
        img.observe(lambda change, n=name: seen.append((n, change["new"])), names="value")
        img.layout.observe(lambda change, n=name: seen.append((n, change["new"])), names="display")
    await dash.refresh()
    assert all(value not in (b"", "none") for _, value in seen), seen
    assert "price_changes" not in {name for name, _ in seen}  # the same picture is not re-sent


async def test_a_search_with_no_match_says_so(session: Session) -> None:
    browser = await LoraBrowser(session).ready()
    browser.search.value = "zeppelin"
    [note] = browser.gallery.children
    assert "No style matches <b>zeppelin</b>" in note.value
    assert "No style matches zeppelin" in browser._repr_mimebundle_()["text/html"]
    browser.search.value = ""
    assert len(browser.gallery.children) == len(browser.loras)

"""CostDashboard: balance, spend over a range, spend by LoRA / size / status, the price card.

A view over :mod:`aurous_nb.analysis.frames` and :mod:`aurous_nb.analysis.reports`. Those are
blocking (pandas,
matplotlib, the sync client), so a refresh gathers everything on a worker thread and only the
widget updates run on the kernel loop: the notebook stays responsive while the history syncs.
"""

from __future__ import annotations

import asyncio
import io
import time
from dataclasses import dataclass, field
from typing import Any

import ipywidgets as w

from aurous_nb.notebook.widgets._base import StaticFallback, resolve_session
from aurous_nb.notebook.widgets._static import chart, error_text, esc, fmt_credits, table, wrap
from aurous_nb.notebook.widgets._tasks import Running, TaskSlot, handler
from aurous_nb.statuses import SUBMITTING
from aurous_nb.text import NO_LORA, UNKNOWN, clock, held, plural
from aurous_nb.work.reuse import UNKNOWN_TEXT

__all__ = ["RANGES", "SCOPES", "CostDashboard"]

#: Label -> ``since`` for :func:`aurous_nb.analysis.frames.history` (``None``: everything).
RANGES: dict[str, str | None] = {
    "Last 24 hours": "1d",
    "Last 7 days": "7d",
    "Last 30 days": "30d",
    "Last 90 days": "90d",
    "All time": None,
}
_SPEND_COLUMNS = ("jobs", "succeeded", "failed", "estimate", "cost", "share")
_FIGURES = (
    "spend_over_time",
    "spend_by_lora_size",
    "spend_by_person_notebook",
    "outcomes",
    "balance_trend",
    "price_changes",
)
_TEAM_FIGURES = ("spend_by_person_notebook",)
#: Label -> ``scope`` of :func:`aurous_nb.frames.history` (a team's ledger has both).
SCOPES = {"Mine": "me", "Team": "team"}
CSS = """<style>
.aurous-dash{border:1px solid #d6d8de;border-radius:8px;padding:10px 12px;background:#fbfbfd}
.aurous-dash .widget-hbox{gap:8px}
.aurous-title{font-weight:600;font-size:15px}
.aurous-muted{color:#667;font-size:12px}
.aurous-cards{display:flex;gap:10px}
.aurous-card{background:#fff;border:1px solid #e1e3ea;border-radius:8px;padding:6px 14px}
.aurous-card b{font-size:18px;display:block}
.aurous-tables{display:flex;flex-wrap:wrap;gap:16px;font-size:12px}
.aurous-tables table{border-collapse:collapse}
.aurous-tables th,.aurous-tables td{border-bottom:1px solid #e5e5ea;padding:2px 8px;
  text-align:right}
.aurous-tables th:first-child,.aurous-tables td:first-child{text-align:left}
.aurous-error{color:#8a1020;background:#fdecee;border:1px solid #f3c0c6;border-radius:6px;
  padding:6px 10px;font-size:12px}
</style>"""


@dataclass
class Snapshot:
    """Everything one refresh read: numbers for the cards, rows for tables, figures as PNG."""

    balance: Any = None
    card: Any = None
    spend: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    prices: list[dict[str, Any]] = field(default_factory=list)
    figures: dict[str, bytes] = field(default_factory=dict)
    at: float = 0.0  # when it was read (epoch seconds)
    total: float = 0.0
    jobs: int = 0
    refused: int = 0  # requests that created nothing: shown apart, never counted as jobs
    budgets: Any = None  # the spending caps and their use (aurous_nb.caps.Budgets)


def _rows(frame: Any, key: str) -> list[dict[str, Any]]:
    rows = []
    for record in frame.to_dict("records"):
        label = record.get(key)
        missing = label is None or label != label  # None or NaN
        if key == "status" and label == SUBMITTING:  # never answered: it may exist
            label = UNKNOWN_TEXT
        row = {key: (NO_LORA if key == "lora" else UNKNOWN) if missing else label}
        for column in _SPEND_COLUMNS:
            value = record.get(column)
            if column == "share":
                row[column] = UNKNOWN if value is None or value != value else f"{value:.0%}"
            elif column in ("estimate", "cost"):
                row[column] = fmt_credits(None if value is None or value != value else value)
            else:
                row[column] = value
        rows.append(row)
    return rows


def _png(figure: Any) -> bytes:
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=80)
    return buffer.getvalue()


def collect(session: Any, since: str | None, scope: str = "me") -> Snapshot:
    """Read balance, card, history, spend and figures (blocking: run it on a worker thread);
    ``scope="team"``: everyone's rows of a team's ledger, with spend by person and notebook."""
    from aurous_nb.analysis import frames, reports
    from aurous_nb.notebook.context import cell_context
    from aurous_nb.store import snapshots
    from aurous_nb.work import caps

    snap = Snapshot(at=time.time())
    snap.budgets = caps.report(session.ledger, session.env, cell_context()[0])
    snap.balance = snapshots.balance(session.client, lambda: session.ledger)
    snap.card = snapshots.pricing(session.client, lambda: session.ledger)
    history = frames.history(
        session.client, session.ledger, since=since, env=session.env, scope=scope
    )
    for key in ("lora", "size", "status", *(("user", "notebook") if scope == "team" else ())):
        snap.spend[key] = _rows(frames.spend(key, frame=history), key)
    cost = history["cost"].sum() if len(history) else 0.0
    snap.total, snap.jobs = float(cost or 0.0), len(history)
    snap.refused = frames.refused_count(session.ledger, session.env, since)
    prices = frames.pricing_history(ledger=session.ledger, env=session.env)
    snap.prices = [
        {
            "version": r["version"],
            "item": r["item"],
            "value": f"{r['value']:g}",
            "previous": UNKNOWN if r["previous"] != r["previous"] else f"{r['previous']:g}",
            "changed": "yes" if r["changed"] else "",
        }
        for r in prices.to_dict("records")
    ]
    report = reports.cost_report(
        ledger=session.ledger,
        env=session.env,
        since=since or "3650d",
        history=history,
        scope=scope,
    )
    snap.figures = {name: _png(fig) for name, fig in report.items()}
    return snap


class CostDashboard(StaticFallback, w.VBox):  # type: ignore[misc]  # ipywidgets is untyped
    """Balance and holds, spend over a chosen range, spend by LoRA / size / status, the price
    card and its history; the Refresh button (or ``await dash.refresh()``) reads them again."""

    def __init__(
        self, session: Any = None, *, since: str | None = "30d", scope: str = "me"
    ) -> None:
        self.session = resolve_session(session)
        self.snapshot: Snapshot | None = None
        self.error: str | None = None
        self._slot = TaskSlot()
        label = next((k for k, v in RANGES.items() if v == since), "Last 30 days")
        self.range = w.Dropdown(options=list(RANGES), value=label, layout=w.Layout(width="160px"))
        # Mine / Team: only a team's ledger (PostgreSQL) has other people's rows to show.
        shared = bool(getattr(self.session.ledger, "shared", False))
        self.scope = w.ToggleButtons(
            options=list(SCOPES),
            value=next(k for k, v in SCOPES.items() if v == scope),
            layout=w.Layout(display="" if shared else "none"),
            style={"button_width": "60px"},
        )
        self.refresh_button = w.Button(
            description="Refresh", icon="refresh", layout=w.Layout(width="110px")
        )
        self.status = w.HTML("<span class='aurous-muted'>Loading…</span>")
        self.cards = w.HTML()
        self.caps = w.HTML()  # the spending caps as bars
        self.tables = w.HTML()
        self.prices = w.HTML()
        # Hidden until a refresh gives them a picture: an empty Image shows a broken-image icon.
        self.figures = {
            name: w.Image(
                format="png", layout=w.Layout(width="720px", max_width="100%", display="none")
            )
            for name in _FIGURES
            if shared or name not in _TEAM_FIGURES
        }
        self.refresh_button.on_click(handler(lambda _: self.refresh()))
        self.range.observe(handler(lambda _: self.refresh()), names="value")
        self.scope.observe(handler(lambda _: self.refresh()), names="value")

        def pair(*names: str) -> w.VBox:
            return w.VBox([self.figures[n] for n in names if n in self.figures])

        tabs = w.Tab(
            children=[
                pair("spend_over_time", "balance_trend"),
                w.VBox(
                    [
                        self.tables,
                        pair("spend_by_lora_size", "spend_by_person_notebook", "outcomes"),
                    ]
                ),
                w.VBox([self.prices, pair("price_changes")]),
            ]
        )
        for i, title in enumerate(("Over time", "Breakdown", "Prices")):
            tabs.set_title(i, title)
        env = esc(getattr(self.session, "env", ""))
        header = w.HTML(
            f"{CSS}<span class='aurous-title'>Aurous · Costs</span> "
            f"<span class='aurous-muted'>{env}</span>"
        )
        super().__init__(
            children=[
                w.HBox(
                    [header, self.range, self.scope, self.refresh_button, self.status],
                    layout=w.Layout(align_items="center"),
                ),
                self.cards,
                self.caps,
                tabs,
            ]
        )
        self.add_class("aurous-dash")
        self.refresh()

    @property
    def since(self) -> str | None:
        return RANGES[self.range.value]

    @property
    def scope_name(self) -> str:
        """``"me"`` or ``"team"``: whose rows the dashboard shows."""
        return SCOPES[self.scope.value]

    def refresh(self) -> Running:
        """Read everything again (in the background; a refresh already running is reused)."""
        if not (self._slot.running and self._slot.task is not None):
            self._slot.start(self._refresh)
        assert self._slot.task is not None
        return Running(self._slot.task, "CostDashboard refresh")

    async def wait(self) -> CostDashboard:
        await self._slot.wait()
        return self

    async def _refresh(self) -> None:
        self.refresh_button.disabled = True
        self.status.value = "<span class='aurous-muted'>Refreshing…</span>"
        try:
            snap = await asyncio.to_thread(collect, self.session, self.since, self.scope_name)
        except Exception as exc:
            message = error_text(exc)
            rid = getattr(exc, "request_id", None)
            self.error = message
            self.status.value = (
                f"<span class='aurous-error'>{esc(message)}"
                f"{f' · request id {esc(rid)}' if rid else ''}</span>"
            )
            return
        finally:
            self.refresh_button.disabled = False
        self.error = None
        self.snapshot = snap
        self._render(snap)
        self.status.value = f"<span class='aurous-muted'>Up to date · {clock(snap.at)}</span>"
        self.refresh_static()

    def _render(self, snap: Snapshot) -> None:
        bal = snap.balance
        mode = getattr(bal, "billing_mode", None) or "metered"
        cards = [  # (label, value, note under the value)
            ("Balance", fmt_credits(bal.credits), ""),
            ("Available", fmt_credits(bal.available_credits), held(bal.held_credits)),
            (f"Spent · {self.range.value.lower()}", fmt_credits(snap.total), ""),
            ("Jobs", str(snap.jobs), ""),
        ]
        self.cards.value = (
            "<div class='aurous-cards'>"
            + "".join(
                f"<div class='aurous-card'><span class='aurous-muted'>{esc(k)}</span>"
                f"<b>{esc(v)}</b>"
                + (f"<span class='aurous-muted'>{esc(note)}</span>" if note else "")
                + "</div>"
                for k, v, note in cards
            )
            + f"</div><span class='aurous-muted'>credits · billing {esc(mode)}</span>"
        )
        self.caps.value = snap.budgets._repr_html_() if snap.budgets is not None else ""
        self.tables.value = self._tables_html(snap)
        card = snap.card
        self.prices.value = (
            f"<div class='aurous-tables'><div><div><b>Rate card {esc(card.version)}</b></div>"
            + table(
                [
                    {"item": "image, per image", "credits": f"{card.image.base:g}"},
                    {
                        "item": "enhance prompt ×",
                        "credits": f"{card.image.enhance_prompt_multiplier:g}",
                    },
                    {"item": "video, per second", "credits": f"{card.video.base_per_second:g}"},
                    *(
                        {"item": f"video {res} ×", "credits": f"{factor:g}"}
                        for res, factor in card.video.resolution_factor.items()
                    ),
                ]
            )
            + "</div><div><div><b>History</b></div>"
            + table(snap.prices[-40:])
            + "</div></div>"
        )
        for name, image in self.figures.items():
            if name not in snap.figures:  # e.g. spend by person, in "Mine"
                image.layout.display = "none"
        for name, png in snap.figures.items():
            image = self.figures.get(name)
            if image is None:
                continue
            if bytes(image.value) != png:  # the same picture again: nothing to redraw
                image.value = png
            image.layout.display = ""

    @staticmethod
    def _tables_html(snap: Snapshot) -> str:
        parts = []
        titles = (
            ("lora", "By LoRA"),
            ("size", "By size"),
            ("status", "By status"),
            ("user", "By person"),
            ("notebook", "By notebook"),
        )
        for key, title in titles:
            if key not in snap.spend:
                continue
            rows = snap.spend.get(key) or []
            body = table(rows) if rows else "<span class='aurous-muted'>nothing yet</span>"
            parts.append(f"<div><div><b>{title}</b></div>{body}</div>")
        note = ""
        if snap.refused:
            note = (
                f"<div class='aurous-muted'>{snap.refused} "
                f"{plural(snap.refused, 'request')} refused before anything was created "
                "(nothing charged; not counted above).</div>"
            )
        return f"<div class='aurous-tables'>{''.join(parts)}</div>{note}"

    def static_html(self) -> str:
        snap = self.snapshot
        if snap is None:
            return wrap("Aurous · Costs", "<p>not loaded yet</p>")
        bal = snap.balance
        summary = table(
            [
                {
                    "balance": fmt_credits(bal.credits),
                    "available": f"{fmt_credits(bal.available_credits)} ({held(bal.held_credits)})",
                    f"spent ({self.range.value.lower()})": fmt_credits(snap.total),
                    "jobs": snap.jobs,
                }
            ]
        )
        charts = "".join(
            chart(snap.figures[n], n)
            for n in ("spend_over_time", "spend_by_lora_size")
            if n in snap.figures
        )
        bars = snap.budgets._repr_html_() if snap.budgets is not None else ""
        return wrap("Aurous · Costs", summary, bars, self._tables_html(snap), charts)

    def __repr__(self) -> str:
        return f"<CostDashboard env={getattr(self.session, 'env', '?')} {self.range.value}>"

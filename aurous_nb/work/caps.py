"""Spending caps that span cells: per kernel session, per calendar day, per notebook.

``Aurous.budget`` refuses one generation that costs too much; a loop of small ones passes it every
time. These caps bound the *total*: ``session`` (this kernel), ``daily`` (the local calendar day)
and ``notebook`` (every spend the ledger tied to the notebook, when the frontend says which).

What has been spent is read from the ledger, never counted in memory, so two kernels (or
processes) on one home share a daily cap: a job counts what it was charged once it ended, its hold
while it runs, its estimate while its create is unanswered. The check runs inside the ledger's
write transaction that writes the job's row (:func:`aurous_nb.jobs.prepare`, the one create path
of the magics, the panel, the grid and ``Batch``), so two processes cannot both pass the last
credit. A refusal is :class:`BudgetExceededError` and holds nothing: no row, no request.

Caps are per environment (sandbox credits never use up a live cap). At 80 % of a cap each spend
says so in one line. Settings: ``%config Aurous.daily_budget = 100`` in a notebook, or
:func:`configure` in code.
"""

from __future__ import annotations

import math
import os
import sqlite3
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from aurous_nb.text import credits, number

__all__ = [
    "CAPS",
    "WARN_AT",
    "BudgetExceededError",
    "Budgets",
    "Limits",
    "Usage",
    "blocked",
    "check",
    "configure",
    "guard",
    "limits",
    "local_price",
    "new_session",
    "remember",
    "report",
    "say",
    "usage",
]

#: The share of a cap at which each spend says how much is used.
WARN_AT = 0.8

#: cap name -> (the ``Aurous`` setting, what it is called in messages, the period it covers).
CAPS: dict[str, tuple[str, str, str]] = {
    "session": ("session_budget", "session budget", "in this kernel session"),
    "daily": ("daily_budget", "daily budget", "today"),
    "notebook": ("notebook_budget", "notebook budget", "in this notebook"),
}


class BudgetExceededError(ValueError):
    """A spend would pass a budget or cap, or the team's available credits; nothing was sent.

    ``needed`` is what the spend costs (plus, for a batch budget, what the batch already
    committed), ``limit`` the cap, ``what`` its name. For the caps of this module ``spent`` is
    what the ledger already counts against the cap and ``setting`` the ``Aurous`` trait that
    raises it; ``message`` is the short form a notebook shows.
    """

    def __init__(
        self,
        needed: float,
        limit: float,
        what: str,
        *,
        spent: float | None = None,
        setting: str | None = None,
        period: str = "",
        message: str | None = None,
    ) -> None:
        self.needed = needed
        self.limit = limit
        self.what = what
        self.spent = spent
        self.setting = setting
        if spent is None:
            self.over = round(needed - limit, 4)
            self.message = (
                f"this batch needs {credits(needed)}, {number(self.over)} more than the {what} "
                f"({number(limit)}); nothing was sent"
            )
            super().__init__(self.message)
            return
        self.over = round(spent + needed - limit, 4)
        self.raise_to = float(math.ceil(spent + needed))
        self.message = message or (
            f"{what} of {credits(limit)}: {number(spent)} spent {period} (charged or held), "
            f"and this spend needs {credits(needed)}; nothing was sent"
        ).replace("  ", " ")
        how = ""
        if setting in ("session_budget", "daily_budget", "notebook_budget"):
            name = setting.removesuffix("_budget")
            how = f" (raise it: aurous_nb.caps.configure({name}={number(self.raise_to)}))"
        elif setting:
            how = f" (raise it to {number(self.raise_to)} or more)"
        super().__init__(self.message + how)


@dataclass(frozen=True)
class Limits:
    """The caps in credits; ``None``: no cap."""

    session: float | None = None
    daily: float | None = None
    notebook: float | None = None

    def any(self, notebook: str | None) -> bool:
        """Whether a spend (in ``notebook``, when known) has a cap to obey."""
        return (
            self.session is not None
            or self.daily is not None
            or (self.notebook is not None and notebook is not None)
        )


@dataclass(frozen=True)
class Usage:
    """One cap and what counts against it."""

    cap: str
    limit: float
    spent: float

    @property
    def share(self) -> float:
        return self.spent / self.limit if self.limit > 0 else (1.0 if self.spent > 0 else 0.0)

    @property
    def setting(self) -> str:
        return CAPS[self.cap][0]

    @property
    def label(self) -> str:
        return CAPS[self.cap][1]

    @property
    def period(self) -> str:
        return CAPS[self.cap][2]


_lock = threading.Lock()
_limits = Limits()
_session: dict[str, Any] = {"pid": os.getpid(), "keys": set()}
_MISSING: Any = object()


def limits() -> Limits:
    """The caps in force in this process."""
    return _limits


def configure(
    *, session: Any = _MISSING, daily: Any = _MISSING, notebook: Any = _MISSING
) -> Limits:
    """Set caps for this process (``None`` removes one; a name not given is left as it is).

    ``%config Aurous.session_budget`` / ``daily_budget`` / ``notebook_budget`` call this.
    NaN, infinities and negatives are refused (a NaN cap would cap nothing).
    """
    global _limits
    changes: dict[str, float | None] = {}
    for name, value in (("session", session), ("daily", daily), ("notebook", notebook)):
        if value is None:
            changes[name] = None
        elif value is not _MISSING:
            from aurous_nb.client._params import check_float  # loaded when a cap is set

            changes[name] = check_float(CAPS[name][0], value, 0)
    with _lock:
        _limits = replace(_limits, **changes)
        return _limits


def new_session() -> None:
    """Start a new session: what earlier jobs of this process spent no longer counts."""
    with _lock:
        _session.update(pid=os.getpid(), keys=set())


def remember(key: str) -> None:
    """Count a job written by this process toward its session (caps set later see it too)."""
    with _lock:
        _session_keys().add(key)


def _session_keys() -> set[str]:
    if _session["pid"] != os.getpid():  # a forked child is a session of its own
        new_session()
    keys: set[str] = _session["keys"]
    return keys


def _day_start(now: float | None = None) -> float:
    """Local midnight of today (the calendar day in the machine's time zone)."""
    moment = datetime.fromtimestamp(time.time() if now is None else now)
    return moment.replace(hour=0, minute=0, second=0, microsecond=0).timestamp()


# What one row counts against a cap: charged once ended, held while it runs, the estimate while
# its create is unanswered. Only this home's jobs count (origin 'local'), in one environment.
_SPEND = (
    "SELECT COALESCE(sum(CASE WHEN status IN ({ends}) THEN COALESCE(charged, 0) "
    "ELSE COALESCE(held, estimate, 0) END), 0) FROM generations "
    "WHERE env = ? AND origin = 'local' AND "
)


# A character's paid rows (synthesis, regeneration) count the same way: charged once they end,
# the estimate until then (the API echoes no hold on a character).
_CHARACTER_SPEND = (
    "SELECT COALESCE(sum(CASE WHEN status IN ({ends}) THEN COALESCE(charged, 0) "
    "ELSE COALESCE(estimate, 0) END), 0) FROM character_jobs WHERE env = ? AND "
)


def _spent(conn: sqlite3.Connection, env: str, cap: str, notebook: str | None) -> float:
    from aurous_nb.statuses import TERMINAL

    ends = ", ".join("?" for _ in TERMINAL)
    values: list[Any]
    if cap == "daily":
        where, values = "{when} >= ?", [_day_start()]
    elif cap == "notebook":
        where, values = "notebook = ?", [notebook]
    else:
        keys = sorted(_session_keys())  # portable SQL (SQLite and PostgreSQL): one mark a key
        if not keys:
            return 0.0
        where, values = f"idempotency_key IN ({', '.join('?' for _ in keys)})", keys
    total = 0.0
    for sql, when in (
        (_SPEND, "COALESCE(submitted_at, created_at)"),
        (_CHARACTER_SPEND, "submitted_at"),
    ):
        query = sql.format(ends=ends) + where.format(when=when)
        total += float(conn.execute(query, [*sorted(TERMINAL), env, *values]).fetchone()[0] or 0)
    return round(total, 4)


def _usage(conn: sqlite3.Connection, env: str, notebook: str | None) -> list[Usage]:
    caps = _limits
    out = []
    for cap in CAPS:
        limit = getattr(caps, cap)
        if limit is None or (cap == "notebook" and notebook is None):
            continue
        out.append(Usage(cap, float(limit), _spent(conn, env, cap, notebook)))
    return out


def usage(ledger: Any, env: str, notebook: str | None = None) -> list[Usage]:
    """Every cap in force (the notebook one only when ``notebook`` is known) with its spend."""
    from aurous_nb.store.ledger import ledger_or_default

    with ledger_or_default(ledger).reader() as conn:
        return _usage(conn, env, notebook)


@dataclass(frozen=True)
class Budgets:
    """Every cap with what counts against it (``limit`` ``None``: no cap; ``spent`` ``None``:
    not known, a notebook cap outside a known notebook). Shows as text and as bars."""

    env: str
    notebook: str | None
    rows: tuple[tuple[str, float | None, float | None], ...]  # (cap, limit, spent)

    def lines(self) -> list[str]:
        out = [f"Spending caps ({self.env}" + (f", {self.notebook}" if self.notebook else "") + ")"]
        width = max(len(CAPS[c][1]) for c in CAPS)
        for cap, limit, spent in self.rows:
            setting, label, period = CAPS[cap]
            if spent is None:
                state = "notebook not known here"
            elif limit is None:
                state = f"no cap · {number(spent)} spent {period}"
            else:
                share = spent / limit if limit > 0 else 1.0
                state = f"{number(spent)} of {credits(limit)} spent {period} ({share:.0%})"
            out.append(f"  {label.ljust(width)}  {state}  · %config Aurous.{setting}")
        return out

    def __str__(self) -> str:
        return "\n".join(self.lines())

    def __repr__(self) -> str:
        return str(self)

    def _repr_pretty_(self, p: Any, cycle: bool) -> None:
        p.text(str(self))

    def _repr_html_(self) -> str:
        from html import escape

        bars = []
        for cap, limit, spent in self.rows:
            setting, label, period = CAPS[cap]
            if spent is None or limit is None:
                text = (
                    "notebook not known here"
                    if spent is None
                    else (f"no cap · {number(spent)} spent {period}")
                )
                bar = ""
            else:
                share = spent / limit if limit > 0 else 1.0
                color = "#c62828" if share >= 1 else "#ef6c00" if share >= WARN_AT else "#2e7d32"
                bar = (
                    "<div style='background:#eceff1;border-radius:3px;height:8px;width:220px'>"
                    f"<div style='background:{color};height:8px;border-radius:3px;"
                    f"width:{min(share, 1.0) * 100:.0f}%'></div></div>"
                )
                text = f"{number(spent)} of {credits(limit)} spent {period} ({share:.0%})"
            bars.append(
                f"<tr><td style='text-align:left;padding-right:10px'><b>{escape(label)}</b></td>"
                f"<td style='text-align:left'>{bar}</td>"
                f"<td style='text-align:left;padding-left:8px'>{escape(text)}</td>"
                f"<td style='text-align:left;padding-left:8px;color:#667'>"
                f"<code>%config Aurous.{setting}</code></td></tr>"
            )
        where = escape(self.env + (f", {self.notebook}" if self.notebook else ""))
        return (
            "<div style='font-family:sans-serif;font-size:13px'><b>Spending caps</b> "
            f"<span style='color:#667'>({where})</span><table>{''.join(bars)}</table></div>"
        )


def report(ledger: Any, env: str, notebook: str | None = None) -> Budgets:
    """Every cap, set or not, with its spend (what ``%aurous budget`` shows)."""
    from aurous_nb.store.ledger import ledger_or_default

    caps = _limits
    rows = []
    with ledger_or_default(ledger).reader() as conn:
        for cap in CAPS:
            known = cap != "notebook" or notebook is not None
            spent = _spent(conn, env, cap, notebook) if known else None
            rows.append((cap, getattr(caps, cap), spent))
    return Budgets(env, notebook, tuple(rows))


def _judge(found: list[Usage], needed: float) -> str | None:
    """Raise for the first cap ``needed`` would pass; else the 80 % line, if one is due."""
    for u in found:
        if u.spent + needed > u.limit + 1e-9:
            raise BudgetExceededError(
                round(needed, 4), u.limit, u.label, spent=u.spent, setting=u.setting,
                period=u.period,
            )  # fmt: skip
    near = [u for u in found if u.limit > 0 and u.spent + needed >= WARN_AT * u.limit - 1e-9]
    if not near:
        return None
    parts = [
        f"{u.label} {number(u.spent + needed)} of {number(u.limit)} "
        f"({(u.spent + needed) / u.limit:.0%})"
        for u in near
    ]
    return f"Spending cap: {'; '.join(parts)} with this spend (%aurous budget shows every cap)."


def check(ledger: Any, env: str, notebook: str | None, needed: float) -> str | None:
    """Refuse ``needed`` credits past a cap (:class:`BudgetExceededError`); else the one-line
    80 % note, or ``None``. For a batch priced as a whole before its first create."""
    if not _limits.any(notebook):
        return None
    return _judge(usage(ledger, env, notebook), needed)


def blocked(ledger: Any, env: str, notebook: str | None, needed: float) -> str | None:
    """Why a button that would spend ``needed`` must stay disabled (a cap it would pass, and
    the setting that raises it), or ``None``; the spend itself is still checked when written."""
    try:
        check(ledger, env, notebook, needed)
    except BudgetExceededError as exc:  # said as a notebook raises it
        return f"{exc.message} (raise it: %config Aurous.{exc.setting} = {number(exc.raise_to)})"
    return None


def guard(
    env: str, notebook: str | None, needed: float | None, *, warn: bool = True
) -> tuple[Callable[[sqlite3.Connection, str], None], list[str]]:
    """A check for :meth:`aurous_nb.ledger.Ledger.prepare` to run in the transaction that writes
    the job row (so the next spend, in any process, already sees this one), and the list it
    puts the 80 % note in (when ``warn``)."""
    notes: list[str] = []

    def run(conn: sqlite3.Connection, key: str) -> None:
        note = _judge(_usage(conn, env, notebook), float(needed or 0.0))
        with _lock:
            _session_keys().add(key)  # rolled back with the row if the insert fails: counts 0
        if note and warn:
            notes.append(note)

    return run, notes


def say(*notes: str | None) -> None:
    """Print the 80 % note (one line) of a spend that was just written."""
    for note in notes:
        if note:
            print(note)


def local_price(
    ledger: Any, env: str, kind: str, request: Mapping[str, Any], version: str | None
) -> float | None:
    """What a spend costs at the newest rate card the ledger kept for ``version`` (or for any
    version when the client pins none), when the card's formula is exact; else ``None``."""
    from aurous_nb.client.models import Pricing
    from aurous_nb.store.ledger import ledger_or_default
    from aurous_nb.work.quote import card_price
    from aurous_nb.work.spec import JobSpec

    snapshots = [
        s
        for s in ledger_or_default(ledger).pricing_snapshots(env)
        if version is None or s.version == version
    ]
    if not snapshots:
        return None
    newest = max(snapshots, key=lambda s: s.last_seen)
    try:
        return card_price(JobSpec(kind, dict(request)), Pricing.from_json(dict(newest.card)))
    except Exception:  # a card the model cannot read: price it through the API instead
        return None

"""What reproducing a notebook costs, and reproducing it: owned results reused, the rest bought.

:func:`find` reads a saved notebook (nbformat JSON) and lists every spend it makes through the
magics (``%aurous generate`` / ``video``, line or cell form) with the request each builds: its
options, the ``%config Aurous.default_*`` presets set before it, and ``{{var}}`` values where a
plain literal assignment earlier in the notebook gives them. What the text cannot tell (Python
code that spends, a ``{{var}}`` computed at run time, a widget that spends on a click) is listed
as *unknown*, never guessed.

:func:`quote` matches each spend against the ledger's canonical requests (and, with
``from_ledger``, a colleague's export: :func:`aurous_nb.ledger.export`) and answers
:class:`Quote` (credits already owned, credits still to buy, unknown cells) at the client's pinned
rate card. :func:`run` then runs the spends in order through the magics' own path: owned ones
come from the ledger and the outputs cache (0 credits), the rest are bought within the caps
(:mod:`aurous_nb.caps`); ``max_spend`` refuses a run that would spend more, before anything is
sent (``--max-spend 0`` for CI).
"""

from __future__ import annotations

import ast
import json
import re
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import SimpleNamespace
from typing import Any

from aurous_nb.text import credits, number

__all__ = ["Item", "Quote", "Spend", "Unknown", "find", "quote", "run"]

_SPEND_COMMANDS = ("generate", "video")
_WIDGET_COMMANDS = ("grid", "panel")
_PRESETS = ("default_size", "default_lora", "default_video_lora")
#: Python that may spend: creates, batches, the one-call generates, the spending widgets.
_PY_SPEND = re.compile(
    r"\b(?:images|videos)\s*\.\s*(?:create|generate)\b|\bjobs\s*\.\s*(?:generate|agenerate|submit|"
    r"asubmit)\b|\bBatch\b|\bPromptGrid\b|\bGenerationPanel\b|\brun_batch\b|run_line_magic|"
    r"run_cell_magic"
)
_MAGIC_LINE = re.compile(r"^(?P<indent>\s*)(?:[A-Za-z_]\w*\s*=\s*)?%(?P<name>\w+)\b(?P<rest>.*)$")


@dataclass(frozen=True)
class Spend:
    """One create a notebook's magic makes: which cell, the request, whether ``--fresh``."""

    cell: int  # index among all the notebook's cells
    cell_id: str | None
    kind: str  # "image" or "video"
    request: Mapping[str, Any]
    fresh: bool
    source: str  # the magic's line, for a person


@dataclass(frozen=True)
class Unknown:
    """A cell whose spending the text cannot tell, and why."""

    cell: int
    cell_id: str | None
    reason: str
    source: str


@dataclass(frozen=True)
class Item:
    """A spend and what reproducing it takes: ``owned`` (0 credits now), or ``to_buy``."""

    spend: Spend
    state: str  # "owned", "repeat" (an earlier cell buys it) or "to_buy"
    credits: float
    generation_id: str | None = None


@dataclass(frozen=True)
class Quote:
    """What reproducing a notebook costs at ``card_version``: ``owned`` credits already bought
    (reused for 0), ``to_buy`` credits still to spend, and the ``unknown`` cells."""

    notebook: str
    owned: float
    to_buy: float
    unknown: tuple[Unknown, ...] = ()
    items: tuple[Item, ...] = ()
    card_version: str | None = None
    extra: dict[str, Any] = field(default_factory=dict, repr=False)

    @property
    def buys(self) -> int:
        return sum(i.state == "to_buy" for i in self.items)

    def lines(self) -> list[str]:
        card = f" at rate card {self.card_version}" if self.card_version else ""
        head = (
            f"Reproducing {self.notebook}{card}: {credits(self.owned)} owned, "
            f"{credits(self.to_buy)} to buy ({self.buys} of {len(self.items)} spends)"
        )
        if self.unknown:
            head += f"; {len(self.unknown)} cell{'s' * (len(self.unknown) != 1)} unknown"
        out = [head]
        for i in self.items:
            what = {"owned": "owned", "repeat": "repeat", "to_buy": "to buy"}[i.state]
            ident = f" ({i.generation_id})" if i.generation_id else ""
            out.append(
                f"  cell {i.spend.cell}: {what} {number(i.credits)}{ident} · {i.spend.source[:70]}"
            )
        for u in self.unknown:
            out.append(f"  cell {u.cell}: unknown, {u.reason} · {u.source[:70]}")
        return out

    def __str__(self) -> str:
        return "\n".join(self.lines())

    def __repr__(self) -> str:
        return (
            f"<Quote {self.notebook} owned={self.owned:g} to_buy={self.to_buy:g} "
            f"unknown={[u.cell for u in self.unknown]}>"
        )

    def _repr_pretty_(self, p: Any, cycle: bool) -> None:
        p.text(str(self))

    def _repr_html_(self) -> str:
        from html import escape

        head, *rest = self.lines()
        rows = "".join(f"<li><code>{escape(line.strip())}</code></li>" for line in rest)
        return (
            f"<div style='font-family:sans-serif;font-size:13px'><b>{escape(head)}</b>"
            f"<ul style='margin:4px 0'>{rows}</ul></div>"
        )


# ----------------------------------------------------------------------------- reading


def _cells(path: str | Path) -> list[Mapping[str, Any]]:
    nb = json.loads(Path(path).read_text(encoding="utf-8"))
    cells = nb.get("cells") if isinstance(nb, Mapping) else None
    if not isinstance(cells, list):
        raise ValueError(f"{path} is not a notebook (no 'cells' list)")
    return [c for c in cells if isinstance(c, Mapping)]


def _text(cell: Mapping[str, Any]) -> str:
    source = cell.get("source", "")
    return "".join(source) if isinstance(source, list) else str(source)


class _Reader:
    """Walks the cells in order, keeping what the text tells: presets and literal variables."""

    def __init__(self) -> None:
        from aurous_nb.client._params import DEFAULT_IMAGE_SIZE

        self.settings = SimpleNamespace(
            default_size=DEFAULT_IMAGE_SIZE, default_lora=None, default_video_lora=None
        )
        self.namespace: dict[str, Any] = {}
        self.spends: list[Spend] = []
        self.unknown: list[Unknown] = []

    def cell(self, index: int, cell: Mapping[str, Any]) -> None:
        if cell.get("cell_type") != "code":
            return
        text = _text(cell)
        cid = cell.get("id") if isinstance(cell.get("id"), str) else None
        stripped = text.lstrip()
        if stripped.startswith("%%"):
            first, _, body = stripped.partition("\n")
            name, _, rest = first[2:].partition(" ")
            if name == "aurous":
                self.magic(index, cid, rest, body, first)
            elif _PY_SPEND.search(text):
                self.unknown.append(Unknown(index, cid, "a cell magic that may spend", first))
            return
        python: list[str] = []
        for line in text.splitlines():
            m = _MAGIC_LINE.match(line)
            if m is None:
                python.append(line)
                continue
            python.append(m.group("indent") + "pass")
            name, rest = m.group("name"), m.group("rest")
            if name == "config":
                self.config(rest)
            elif name == "aurous":
                if m.group("indent"):  # inside a loop or a branch: how often is not known
                    self.unknown.append(
                        Unknown(index, cid, "a %aurous line inside Python code", line.strip())
                    )
                else:
                    self.magic(index, cid, rest, None, line.strip())
        self.python(index, cid, "\n".join(python))

    def config(self, rest: str) -> None:
        m = re.match(r"\s*Aurous\.(\w+)\s*=\s*(.+)$", rest)
        if m is None or m.group(1) not in _PRESETS:
            return
        try:
            setattr(self.settings, m.group(1), ast.literal_eval(m.group(2).strip()))
        except (ValueError, SyntaxError):
            setattr(self.settings, m.group(1), _UNKNOWN_VALUE)

    def python(self, index: int, cid: str | None, code: str) -> None:
        """Flag code that may spend; keep literal assignments (``animal = "a fox"``) for
        ``{{var}}``, and forget any name code assigns otherwise."""
        if not code.strip():
            return
        spending = [
            ln.strip()
            for ln in code.splitlines()
            if _PY_SPEND.search(ln) and not ln.lstrip().startswith(("#", "import ", "from "))
        ]
        if spending:
            self.unknown.append(Unknown(index, cid, "Python code that may spend", spending[0]))
        try:
            tree = ast.parse(code)
        except SyntaxError:
            return
        for stmt in tree.body:
            for node in ast.walk(stmt):
                if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
                    self.namespace.pop(node.id, None)
            if not isinstance(stmt, ast.Assign):
                continue
            try:
                value = ast.literal_eval(stmt.value)
            except (ValueError, SyntaxError, TypeError):
                continue
            for target in stmt.targets:
                if isinstance(target, ast.Name):
                    self.namespace[target.id] = value

    def magic(self, index: int, cid: str | None, line: str, body: str | None, source: str) -> None:
        from IPython.core.error import UsageError

        from aurous_nb.notebook.magics import generation as generating
        from aurous_nb.notebook.magics.args import ALIASES, parse
        from aurous_nb.notebook.magics.interpolate import interpolate

        name, _, rest = line.strip().partition(" ")
        name = ALIASES.get(name.lower(), name.lower())
        if name in _WIDGET_COMMANDS:
            self.unknown.append(Unknown(index, cid, "a widget: it spends on a click", source))
            return
        if name not in _SPEND_COMMANDS:
            return
        if any(getattr(self.settings, p) is _UNKNOWN_VALUE for p in _PRESETS):
            self.unknown.append(Unknown(index, cid, "a preset set from code", source))
            return
        try:
            args = parse(name, rest, body=body, transform=lambda t: interpolate(t, self.namespace))
        except UsageError as exc:
            reason = "a {{var}} set by code" if "no variable named" in str(exc) else str(exc)
            self.unknown.append(Unknown(index, cid, reason, source))
            return
        except Exception as exc:
            self.unknown.append(Unknown(index, cid, f"cannot be read: {exc}", source))
            return
        try:
            if name == "generate":
                kind = "image"
                request = {
                    "prompt": args.positional,
                    **generating.image_params(args, self.settings),
                }
            else:
                if args.estimate:
                    return
                lora = args.video_lora or self.settings.default_video_lora
                if not lora:
                    raise UsageError("no --video-lora")
                kind = "video"
                request = {"video_lora_id": lora, **generating.video_params(args)}
        except UsageError as exc:
            self.unknown.append(Unknown(index, cid, f"cannot be read: {exc}", source))
            return
        self.spends.append(Spend(index, cid, kind, request, bool(args.fresh), source))


_UNKNOWN_VALUE: Any = object()


def find(notebook: str | Path) -> tuple[list[Spend], list[Unknown]]:
    """Every spend ``notebook`` makes through the magics, and the cells the text cannot tell."""
    reader = _Reader()
    for index, cell in enumerate(_cells(notebook)):
        reader.cell(index, cell)
    return reader.spends, reader.unknown


# ----------------------------------------------------------------------------- pricing


def _ledgers(ledger: Any, from_ledger: str | Path | None) -> list[Any]:
    from aurous_nb.store.ledger import Ledger, import_, ledger_or_default

    found = [ledger_or_default(ledger)]
    if from_ledger is not None:
        source = Path(from_ledger)
        if source.suffix in (".sqlite3", ".sqlite", ".db"):
            found.append(Ledger(source))
        else:  # an export: read it into a ledger of its own, beside nothing of ours
            other = Ledger(Path(tempfile.mkdtemp(prefix="aurous-quote-")) / "ledger.sqlite3")
            import_(source, ledger=other)
            found.append(other)
    return found


def _cost(record: Any) -> float:
    value = record.charged if record.terminal else (record.held or record.estimate)
    return float(value or 0.0)


def quote(
    notebook: str | Path,
    *,
    client: Any = None,
    ledger: Any = None,
    from_ledger: str | Path | None = None,
    env: str | None = None,
) -> Quote:
    """What reproducing ``notebook`` costs: owned (already bought, reused for 0) and to buy, at
    the client's pinned rate card (without a client: the newest card the ledger kept).

    ``from_ledger`` names someone else's export (or ledger file) whose results count as owned.
    Nothing is spent; with a client, one ``GET /v1/pricing`` and, for a video whose price the
    card cannot give, one estimate.
    """
    from aurous_nb.analysis import frames
    from aurous_nb.config import SANDBOX_ENV, env_for
    from aurous_nb.store import snapshots
    from aurous_nb.store.ledger import request_hash
    from aurous_nb.work.quote import card_price
    from aurous_nb.work.spec import JobSpec

    spends, unknown = find(notebook)
    ledgers = _ledgers(ledger, from_ledger)
    if env is None:
        env = env_for(str(client.base_url)) if client is not None else None
        env = env or frames.current_env(None, ledgers[0]) or SANDBOX_ENV
    card = _card(client, ledgers, env, snapshots)
    items: list[Item] = []
    unknown = list(unknown)
    seen: set[str] = set()
    for spend in spends:
        digest = request_hash(spend.kind, spend.request)
        prior = None
        if not spend.fresh:
            for kept in ledgers:
                prior = kept.reusable(env, spend.kind, spend.request)
                if prior is not None:
                    break
        if prior is not None:
            items.append(Item(spend, "owned", _cost(prior), prior.generation_id))
            continue
        if digest in seen and not spend.fresh:
            items.append(Item(spend, "repeat", 0.0))
            continue
        amount = card_price(JobSpec(spend.kind, dict(spend.request)), card) if card else None
        if amount is None and client is not None:
            amount = _estimate(client, spend)
        if amount is None:
            unknown.append(
                Unknown(spend.cell, spend.cell_id, "no rate card to price it", spend.source)
            )
            continue
        seen.add(digest)
        items.append(Item(spend, "to_buy", float(amount)))
    unknown.sort(key=lambda u: u.cell)
    return Quote(
        notebook=Path(notebook).name,
        owned=round(sum(i.credits for i in items if i.state == "owned"), 4),
        to_buy=round(sum(i.credits for i in items if i.state == "to_buy"), 4),
        unknown=tuple(unknown),
        items=tuple(items),
        card_version=getattr(card, "version", None),
    )


def _card(client: Any, ledgers: Sequence[Any], env: str, snapshots: Any) -> Any:
    from aurous_nb.client.models import Pricing

    if client is not None:
        return snapshots.pricing(client, ledgers[0])
    kept = [s for s in ledgers[0].pricing_snapshots(env)]
    if not kept:
        return None
    return Pricing.from_json(dict(max(kept, key=lambda s: s.last_seen).card))


def _estimate(client: Any, spend: Spend) -> float:
    params = dict(spend.request)
    if spend.kind == "image":
        return float(client.images.estimate(params.pop("prompt"), **params).amount)
    return float(client.videos.estimate(params.pop("video_lora_id"), **params).amount)


# ----------------------------------------------------------------------------- running


def run(
    notebook: str | Path,
    session: Any,
    *,
    max_spend: float | None = None,
    timeout: float = 600.0,
    progress: bool = False,
    download: bool = True,
) -> Quote:
    """Reproduce ``notebook``'s magic spends in order: owned results come from the ledger and
    the outputs cache (0 credits), the rest are bought within the caps. Unknown cells are not
    run. ``max_spend`` (credits) refuses, before anything is sent, a run whose quote buys more.
    Returns the quote it ran by."""
    from aurous_nb.notebook.magics import generation as generating
    from aurous_nb.work.caps import BudgetExceededError

    q = quote(notebook, client=session.client, ledger=session.ledger)
    if max_spend is not None and q.to_buy > max_spend + 1e-9:
        raise BudgetExceededError(
            q.to_buy, float(max_spend), "--max-spend", spent=0.0, setting="--max-spend",
            message=f"reproducing {q.notebook} would buy {credits(q.to_buy)} ({q.buys} spends), "
            f"more than --max-spend {number(max_spend)}; nothing was sent",
        )  # fmt: skip
    for item in q.items:
        spend = item.spend
        generating.Run(
            session,
            spend.kind,
            dict(spend.request),
            fresh=spend.fresh,
            timeout=timeout,
            progress=progress,
            download=download,
            context=(None, None),  # matched by request, whichever notebook and cell bought it
        ).execute()
    return q

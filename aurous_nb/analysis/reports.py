"""Cost reports as matplotlib figures (matplotlib is imported only when a report is built).

Figures are made with a ``matplotlib.figure.Figure`` subclass directly, never ``pyplot``: no
global state, no ``plt.show()``, no GUI backend, so a report builds the same in a kernel, a
script or a CI job without a display. Each figure displays itself as a PNG in any kernel
(:class:`aurous_nb.analysis.figure.ReportFigure`), with no ``%matplotlib inline`` needed.
:func:`cost_report` returns a :class:`CostReport`, a dict of named figures that renders in a
notebook as embedded PNGs and saves to a folder.
"""

from __future__ import annotations

import base64
from html import escape
from pathlib import Path
from typing import TYPE_CHECKING, Any

from aurous_nb import statuses, text
from aurous_nb.statuses import ACTIVE, SUCCEEDED
from aurous_nb.store.ledger import Ledger, ledger_or_default
from aurous_nb.timestamps import epoch

if TYPE_CHECKING:
    import pandas as pd
    from matplotlib.axes import Axes
    from matplotlib.container import BarContainer

    from aurous_nb.analysis.figure import ReportFigure as Figure

__all__ = ["CostReport", "cost_report"]

UNIT = "credits"
_TOP = 12  # bars per chart before the rest are folded into "other"
_STATUS_COLORS = {**statuses.COLORS, **statuses.ACTIVE_COLORS}
_ITEM_LABELS = {
    "image.base": "image, per image",
    "image.reference_image_per_image": "reference image",
    "image.enhance_prompt_multiplier": "enhance prompt (image)",
    "video.base_per_second": "video, per second",
    "video.resolution_factor.480p": "video 480p",
    "video.resolution_factor.720p": "video 720p",
    "video.resolution_factor.1080p": "video 1080p",
}
_ACCENT = "#3949ab"
_SECOND = "#f9a825"


class CostReport(dict[str, "Figure"]):
    """Named figures (``spend_over_time``, ``spend_by_lora_size``, ``outcomes``,
    ``balance_trend``, ``price_changes``; for a team also ``spend_by_person_notebook``; and
    ``price_change_impact`` once the ledger has seen more than one rate card) that render inline
    and save as PNG files.

    ``impact`` is that last figure's numbers: credits charged, and at each version's card."""

    impact: dict[str, float] | None = None

    env: str | None = None

    def save(self, directory: str | Path, *, dpi: int = 110) -> list[Path]:
        """Write each figure as ``<name>.png`` into ``directory``; returns the paths."""
        folder = Path(directory)
        folder.mkdir(parents=True, exist_ok=True)
        paths = []
        for name, figure in self.items():
            path = folder / f"{name}.png"
            figure.savefig(path, dpi=dpi)
            paths.append(path)
        return paths

    def _repr_html_(self) -> str:
        parts = [f"<h4>Cost report: {escape(self.env or 'no environment')}</h4>"]
        for name, figure in self.items():
            data = base64.b64encode(figure.png(dpi=90)).decode("ascii")
            parts.append(
                f'<img alt="{escape(name)}" style="max-width:100%" '
                f'src="data:image/png;base64,{data}"/>'
            )
        return "\n".join(parts)

    def __repr__(self) -> str:
        return f"<CostReport {self.env}: {', '.join(self)}>"


def cost_report(
    client: Any = None,
    ledger: Ledger | None = None,
    env: str | None = None,
    since: Any = "30d",
    until: Any = None,
    *,
    history: pd.DataFrame | None = None,
    scope: str = "me",
) -> CostReport:
    """Build every cost figure for one environment (default: the client's, else the last used).

    With a ``client`` the server's history, the balance and the rate card are refreshed (and
    kept in the ledger) first. ``history`` reuses a frame from :func:`aurous_nb.frames.history`.
    ``scope="team"`` covers everyone's rows of a team's ledger and adds spend by person and by
    notebook (``spend_by_person_notebook``).
    """
    from aurous_nb.analysis import frames
    from aurous_nb.store import snapshots

    ledger = ledger_or_default(ledger)
    if client is not None:
        snapshots.balance(client, ledger)
        snapshots.pricing(client, ledger)
    frame = (
        history
        if history is not None
        else frames.history(client, ledger, since=since, until=until, env=env, scope=scope)
    )
    env = env or frame.attrs.get("env") or frames.current_env(client, ledger)
    report = CostReport()
    report.env = env
    report["spend_over_time"] = _spend_over_time(frame, env)
    report["spend_by_lora_size"] = _spend_by_lora_size(frame, env)
    if scope == "team":
        report["spend_by_person_notebook"] = _spend_bars(
            frame,
            env,
            (("user", "person", text.UNKNOWN), ("notebook", "notebook", text.UNKNOWN)),
            "Who spent it, and in which notebook",
        )
    report["outcomes"] = _outcomes(frame, env)
    report["balance_trend"] = _balance_trend(ledger, env, epoch(since))
    report["price_changes"] = _price_changes(frames.pricing_history(ledger=ledger, env=env), env)
    from aurous_nb.analysis import repricing

    versions = repricing.known_versions(ledger, env)
    if len(versions) > 1:  # what this range would have cost at each card the ledger has seen
        totals = repricing.impact(frame, ledger=ledger, versions=versions)
        report["price_change_impact"] = _price_change_impact(totals, env)
        report.impact = totals
    for name, figure in report.items():
        figure.name = name
    return report


# -- helpers ---------------------------------------------------------------------------------


def _figure(width: float = 9.0, height: float = 4.2) -> Figure:
    from aurous_nb.analysis.figure import ReportFigure

    return ReportFigure(figsize=(width, height), layout="constrained")


def _empty(axes: Axes, message: str) -> None:
    axes.text(0.5, 0.5, message, ha="center", va="center", fontsize=12, color="#616161")
    axes.set_xticks([])
    axes.set_yticks([])
    for spine in axes.spines.values():
        spine.set_visible(False)


def _title(what: str, env: str | None) -> str:
    return f"{what}  ·  {env}" if env else what


def _style(axes: Axes) -> None:
    axes.spines["top"].set_visible(False)
    axes.spines["right"].set_visible(False)
    axes.grid(axis="both", alpha=0.25)
    axes.set_axisbelow(True)


def _fold(series: pd.Series, top: int = _TOP) -> pd.Series:
    """The ``top`` largest entries, the rest summed as "other", largest at the top of a barh."""
    series = series.sort_values(ascending=False)
    if len(series) > top:
        rest = series.iloc[top - 1 :].sum()
        series = series.iloc[: top - 1].copy()
        series.loc["other"] = rest
    return series.iloc[::-1]


def _terminal(frame: pd.DataFrame) -> pd.DataFrame:
    return frame[~frame["status"].astype(str).isin(list(ACTIVE))]


def _label_bars(bars: BarContainer, values: Any, fmt: str | None = None) -> None:
    """Write each horizontal bar's value just past its end (credits by default)."""
    for patch, value in zip(bars, values, strict=False):
        axes = patch.axes
        if axes is not None:
            axes.annotate(
                text.number(value) if fmt is None else fmt.format(value),
                (patch.get_width(), patch.get_y() + patch.get_height() / 2),
                xytext=(3, 0),
                textcoords="offset points",
                va="center",
                fontsize=8,
            )


def _date_axis(axes: Axes) -> None:
    """Concise date ticks that stay readable from a few seconds to a few years.

    ``minticks=3, maxticks=8`` is a pair AutoDateLocator can always satisfy: each frequency
    (seconds, minutes, hours, months) takes over below 3 of the next one up, and its largest
    interval (30 s, 30 min, 12 h, 6 months) times 7 gaps covers that span, so it never warns
    "unable to pick an appropriate interval" (matplotlib's default maxticks=8 for every
    frequency with minticks=5 leaves gaps, for example 3-5 hours or 2-5 days). Times are labelled
    ``HH:MM`` or ``HH:MM:SS`` (never bare seconds such as ``33.5``), with the date as the offset.
    matplotlib's dates module is untyped in its stubs, hence the Any.
    """
    import matplotlib.dates

    dates: Any = matplotlib.dates
    locator = dates.AutoDateLocator(minticks=3, maxticks=8)
    formatter = dates.ConciseDateFormatter(
        locator,
        # levels: years, months, days, hours, minutes, seconds (and below)
        formats=["%Y", "%b", "%b %d", "%H:%M", "%H:%M", "%H:%M:%S.%f"],
        zero_formats=["", "%b %Y", "%b %d", "%b %d", "%H:%M", "%H:%M:%S"],
        offset_formats=["", "%Y", "%Y", "%Y-%m-%d", "%Y-%m-%d", "%Y-%m-%d"],
    )
    axes.xaxis.set_major_locator(locator)
    axes.xaxis.set_major_formatter(formatter)


def _spend_over_time(frame: pd.DataFrame, env: str | None) -> Figure:
    import numpy as np
    import pandas as pd

    figure = _figure()
    axes = figure.subplots()
    done = _terminal(frame)
    if done.empty:
        _empty(axes, "No finished generations in this period")
        axes.set_title(_title("Credits spent over time", env))
        return figure
    stamps = done["created_at"].dt.tz_localize(None)
    span = stamps.max() - stamps.min()
    # Short periods read better per hour than as one fat daily bar.
    step, per = (
        (pd.Timedelta(hours=1), "hour")
        if span <= pd.Timedelta(days=2)
        else (
            pd.Timedelta(days=1),
            "day",
        )
    )
    bins = stamps.dt.floor(step)
    cost = done["cost"].fillna(0.0).groupby(bins.to_numpy()).sum()
    estimate = done["estimate"].groupby(bins.to_numpy()).sum(min_count=1)
    known = int(done["estimate"].notna().sum())
    when = cost.index.to_numpy() + step / 2
    width = step * 0.8
    axes.bar(when, cost.to_numpy(), width=width, color=_ACCENT, label=f"charged ({UNIT})")
    if known:
        axes.bar(
            when,
            estimate.to_numpy(),
            width=width,
            fill=False,
            edgecolor=_SECOND,
            linewidth=1.8,
            label="estimated before the charge",
        )
    _style(axes)
    axes.set_ylabel(f"{UNIT} per {per}")
    axes.set_xlabel(f"{per} (UTC)")
    axes.set_xlim(cost.index.min() - step, cost.index.max() + 2 * step)
    twin = axes.twinx()
    edges = np.concatenate([cost.index.to_numpy()[:1], cost.index.to_numpy() + step])
    twin.plot(edges, np.concatenate([[0.0], cost.cumsum().to_numpy()]), color="#d81b60",
              marker="o", markersize=3, label=f"cumulative ({UNIT})")  # fmt: skip
    twin.set_ylabel(f"cumulative {UNIT}")
    twin.set_ylim(bottom=0)
    twin.spines["top"].set_visible(False)
    _date_axis(axes)
    handles, labels = axes.get_legend_handles_labels()
    more_handles, more_labels = twin.get_legend_handles_labels()
    axes.legend(handles + more_handles, labels + more_labels, loc="upper left", fontsize=9)
    highest = max(float(estimate.max()) if known else 0.0, float(cost.max()))
    axes.set_ylim(top=highest * 1.35 or 1.0)
    note = (
        f", {text.number(estimate.sum())} estimated"
        if known == len(done)
        else (f", {known} of {len(done)} jobs with an estimate" if known else "")
    )
    axes.set_title(_title(f"Credits spent per {per}: {text.number(cost.sum())} charged{note}", env))
    return figure


def _spend_by_lora_size(frame: pd.DataFrame, env: str | None) -> Figure:
    return _spend_bars(
        frame,
        env,
        (("lora", "LoRA", text.NO_LORA), ("size", "size", text.UNKNOWN)),
        "Where the credits went",
    )


def _spend_bars(
    frame: pd.DataFrame, env: str | None, by: tuple[tuple[str, str, str], ...], title: str
) -> Figure:
    """Two bar charts of finished spend, each by one ``(column, label, missing)``."""
    figure = _figure(11.0, 4.8)
    left, right = figure.subplots(1, 2)
    done = _terminal(frame)
    for axes, (column, label, missing) in zip((left, right), by, strict=True):
        if done.empty:
            _empty(axes, "No finished generations")
        else:
            keys = done[column].astype(object).fillna(missing)
            totals = _fold(done["cost"].groupby(keys.to_numpy()).sum())
            bars = axes.barh([str(k) for k in totals.index], totals.to_numpy(), color=_ACCENT)
            _label_bars(bars, totals.to_numpy())
            _style(axes)
            axes.set_xlabel(UNIT)
            axes.margins(x=0.15)
        axes.set_title(f"Spend by {label}")
    figure.suptitle(_title(title, env))
    return figure


def _outcomes(frame: pd.DataFrame, env: str | None) -> Figure:
    figure = _figure(11.0, 4.8)
    left, right = figure.subplots(1, 2, width_ratios=[1, 1.3])
    if frame.empty:
        _empty(left, "No generations")
        _empty(right, "No generations")
        figure.suptitle(_title("Outcomes", env))
        return figure
    counts = frame["status"].astype(str).value_counts().sort_values()
    bars = left.barh(
        counts.index.tolist(),
        counts.to_numpy(),
        color=[_STATUS_COLORS.get(s, "#9e9e9e") for s in counts.index],
    )
    _label_bars(bars, counts.to_numpy(), "{:,d}")
    _style(left)
    left.set_xlabel("generations")
    left.margins(x=0.15)
    left.set_title("Generations by status")
    done = _terminal(frame)
    if done.empty:
        _empty(right, "Nothing finished yet")
    else:
        keys = done["lora"].astype(object).fillna(text.NO_LORA).to_numpy()
        ok = (done["status"].astype(str) == SUCCEEDED).groupby(keys)
        rate = (ok.mean() * 100).sort_values()
        sizes = ok.size().reindex(rate.index)
        rate, sizes = rate.iloc[-_TOP:], sizes.iloc[-_TOP:]
        bars = right.barh([str(k) for k in rate.index], rate.to_numpy(), color="#2e7d32")
        labels = [
            f"{v:.0f}% of {n}" for v, n in zip(rate.to_numpy(), sizes.to_numpy(), strict=True)
        ]
        _label_bars(bars, labels, "{}")
        right.set_xlim(0, 125)
        right.set_xticks([0, 25, 50, 75, 100])
        _style(right)
        right.set_xlabel("success rate (%)")
        right.set_title("Success rate by LoRA (finished jobs)")
    share = (done["status"].astype(str) == SUCCEEDED).mean() * 100 if len(done) else 0.0
    figure.suptitle(_title(f"Outcomes: {share:.0f}% of finished jobs succeeded", env))
    return figure


def _balance_trend(ledger: Ledger, env: str | None, since: float | None) -> Figure:
    import numpy as np
    import pandas as pd

    figure = _figure()
    axes = figure.subplots()
    snaps = [s for s in ledger.balances(env) if since is None or s.at >= since]
    if not snaps:
        _empty(axes, "No balance readings yet (read the balance to start a trend)")
        axes.set_title(_title("Balance", env))
        return figure
    when = pd.to_datetime([s.at for s in snaps], unit="s", utc=True).tz_localize(None)
    credits = np.array([s.credits for s in snaps], dtype="float64")
    available = np.array([s.available_credits for s in snaps], dtype="float64")
    axes.step(when, credits, where="post", color=_ACCENT, marker="o", markersize=4,
              label="credits")  # fmt: skip
    axes.step(when, available, where="post", color=_SECOND, marker="o", markersize=3,
              linestyle="--", label="available (credits - held)")  # fmt: skip
    _style(axes)
    axes.set_ylabel(UNIT)
    axes.set_xlabel("time (UTC)")
    if when.min() == when.max():  # one instant: show the 10 minutes around it, not +-2 years
        axes.set_xlim(when.min() - pd.Timedelta(minutes=5), when.max() + pd.Timedelta(minutes=5))
    _date_axis(axes)
    axes.margins(y=0.25)
    axes.legend(loc="best")
    change = credits[-1] - credits[0]
    axes.set_title(
        _title(
            f"Balance: {text.credits(credits[-1])} now, {'+' if change >= 0 else ''}"
            f"{text.number(change)} over {len(snaps)} {text.plural(len(snaps), 'reading')}",
            env,
        )
    )
    return figure


def _price_changes(prices: pd.DataFrame, env: str | None) -> Figure:
    import numpy as np

    figure = _figure(11.0, 4.8)
    left, right = figure.subplots(1, 2)
    if prices.empty:
        for axes in (left, right):
            _empty(axes, "No rate cards seen yet")
        figure.suptitle(_title("Rate cards by Aurous-Version", env))
        return figure
    factor = prices["item"].str.contains("multiplier|factor")
    versions = [str(v) for v in prices["version"].cat.categories]
    for axes, subset, unit in (
        (left, prices[~factor], f"{UNIT} (per image / per video second)"),
        (right, prices[factor], "multiplier"),
    ):
        order = list(_ITEM_LABELS)
        items = sorted(
            dict.fromkeys(subset["item"]),
            key=lambda i: (order.index(i) if i in order else len(order), i),
        )
        if not items:
            _empty(axes, "none")
            continue
        table = subset.pivot_table(
            index="item", columns="version", values="value", observed=False
        ).reindex(index=items, columns=versions)
        positions = np.arange(len(items))
        width = 0.8 / max(len(versions), 1)
        for n, version in enumerate(versions):
            axes.bar(
                positions + (n - (len(versions) - 1) / 2) * width,
                table[version].to_numpy(),
                width=width,
                label=version,
            )
        labels = [_ITEM_LABELS.get(item, item.replace("_", " ")) for item in items]
        axes.set_xticks(positions, labels, rotation=20, ha="right", fontsize=8)
        _style(axes)
        axes.set_ylabel(unit)
        changed = subset.loc[subset["changed"], "item"].nunique()
        axes.set_title(f"{'Prices' if axes is left else 'Multipliers'} ({changed} changed)")
        axes.legend(title="Aurous-Version", fontsize=8)
    figure.suptitle(_title(f"Rate cards by Aurous-Version ({len(versions)} seen)", env))
    return figure


def _price_change_impact(totals: dict[str, float], env: str | None) -> Figure:
    """The range's generations at each rate card, beside what was charged."""
    figure = _figure(9.0, 3.6)
    axes = figure.subplots()
    labels = list(totals)
    values = [totals[k] for k in labels]
    colors = [_SECOND if k == "charged" else _ACCENT for k in labels]
    bars = axes.barh(labels[::-1], values[::-1], color=colors[::-1])
    _label_bars(bars, values[::-1])
    _style(axes)
    axes.set_xlabel(UNIT)
    charged = totals.get("charged", 0.0)
    swings = [v - charged for k, v in totals.items() if k != "charged"]
    low, high = (min(swings), max(swings)) if swings else (0.0, 0.0)
    axes.set_title(
        f"Price change impact: {text.number(low)} to {text.number(high)} {UNIT} vs charged",
        fontsize=10,
    )
    figure.suptitle(_title("The same generations at each rate card seen", env))
    return figure

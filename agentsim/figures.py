"""Figures drawn from stored results only (never from a live model), in one house style.

Each function takes frames read by :mod:`agentsim.store` (:func:`~agentsim.store.read_run`,
:func:`~agentsim.store.read_batch`) and returns a matplotlib Figure;
:func:`save_run_figures` and :func:`save_batch_figures` draw every figure of a stored run or
batch and write PNG and PDF copies through the store. This module imports only the store and
the statistics (never the model, Mesa or the batch runner), so drawing is cheap.

Runs are grouped by :func:`~agentsim.analysis.value_groups`, so every stored run with data is
drawn in exactly one series or cell whatever values its keys hold (missing values, lists,
numbers of mixed types), and two different values never share a label. A batch's curves never
pool design points unless the figure says so: a sweep's fan charts and Kaplan-Meier curves
draw one curve per grid point, in one panel per value of the swept keys after the first (see
:data:`MAX_PANELS` for large grids), and a curve that pools the samples of an explore batch
says how many.
"""

from __future__ import annotations

import json
import textwrap
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import matplotlib.dates as mdates
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from agentsim.analysis import design_points, is_missing, value_groups
from agentsim.store import (
    FIGURES_MARKER,
    check_figures_dir,
    read_batch,
    read_run,
    write_figure,
    write_json,
)

#: One colour per jurisdiction, fixed across every figure.
JURISDICTION_COLOURS = {
    "US": "#1f4e9c",
    "CN": "#c0392b",
    "EU": "#f1c40f",
    "GULF": "#16a085",
    "ROW": "#7f8c8d",
}
STYLE = {
    "figure.dpi": 150,
    "font.size": 8,
    "axes.titlesize": 9,
    "axes.labelsize": 8,
    "legend.fontsize": 7,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.grid": True,
    "grid.alpha": 0.3,
}
COLUMN_WIDTH_IN = 3.4  # one column of a two-column paper


def _tick(value: object) -> str:
    """Tick label for a swept value: numbers compactly, a missing value as ``null``, booleans
    as ``true``/``false``, anything else as text."""
    if is_missing(value):
        return "null"
    if isinstance(value, bool | np.bool_):
        return "true" if value else "false"
    return f"{value:g}" if isinstance(value, int | float | np.number) else str(value)


def _exact(value: object) -> str:
    """A label that tells apart values :func:`_tick` prints alike (``0.3`` and
    ``0.30000000000000004``, ``1e+06`` and ``1000001``)."""
    return str(value) if isinstance(value, float | np.floating) else repr(value)


def _labels(values: list[object]) -> tuple[list[int], list[str]]:
    """Group ``values`` (see :func:`~agentsim.analysis.value_groups`) and label each group:
    returns every value's group index and one distinct label per group, in order of first
    appearance."""
    codes, firsts = value_groups(values)
    labels = [_tick(v) for v in firsts]
    for attempt in (_exact, None):
        clashes = {label for label in labels if labels.count(label) > 1}
        if not clashes:
            break
        for k, value in enumerate(firsts):
            if labels[k] in clashes:
                labels[k] = attempt(value) if attempt else f"{labels[k]} #{k + 1}"
    return codes, labels


def _colour(code: str) -> str:
    return JURISDICTION_COLOURS.get(code, "#555555")


def capability_paths(labs: pd.DataFrame) -> Figure:
    """Deployed capability of every lab over time, coloured by jurisdiction."""
    with plt.rc_context(STYLE):
        fig, ax = plt.subplots(figsize=(COLUMN_WIDTH_IN * 2, 3.0))
        for name, lab in labs.groupby("lab", sort=False):
            code = lab["jurisdiction"].iloc[0]
            ax.plot(lab["date"], lab["capability"], color=_colour(code), lw=1, alpha=0.85)
            ax.annotate(
                name,
                (lab["date"].iloc[-1], lab["capability"].iloc[-1]),
                fontsize=5,
                color=_colour(code),
                xytext=(2, 0),
                textcoords="offset points",
                va="center",
            )
        for code in labs["jurisdiction"].unique():
            ax.plot([], [], color=_colour(code), label=code)
        ax.set_xlabel("date")
        ax.set_ylabel("deployed capability (log10 effective FLOP)")
        ax.set_title("Capability of each lab")
        ax.legend(ncol=5, loc="upper left", frameon=False)
        fig.tight_layout()
    return fig


def share_panels(model: pd.DataFrame) -> Figure:
    """US shares of users, revenue, invested capital and skill-weighted talent."""
    panels = [
        ("us_user_share", "users"),
        ("us_revenue_share", "revenue"),
        ("us_capital_share", "invested capital"),
        ("us_talent_share", "talent (skill)"),
    ]
    with plt.rc_context(STYLE):
        fig, axes = plt.subplots(2, 2, figsize=(COLUMN_WIDTH_IN * 2, 3.6), sharex=True)
        for ax, (column, label) in zip(axes.flat, panels, strict=True):
            ax.plot(model["date"], model[column], color=_colour("US"), lw=1.2)
            ax.set_ylim(0, 1)
            ax.set_title(f"US share of {label}")
            ax.set_ylabel("share (0-1)")
        for ax in axes[1]:
            ax.set_xlabel("date")
        fig.tight_layout()
    return fig


def frontier_race(model: pd.DataFrame) -> Figure:
    """Frontier capability of the US and of the rest of the world."""
    with plt.rc_context(STYLE):
        fig, ax = plt.subplots(figsize=(COLUMN_WIDTH_IN, 2.6))
        ax.plot(model["date"], model["frontier_capability_us"], color=_colour("US"), label="US")
        ax.plot(
            model["date"],
            model["frontier_capability_non_us"],
            color=_colour("CN"),
            label="rest of world",
        )
        ax.set_xlabel("date")
        ax.set_ylabel("frontier capability (log10 effective FLOP)")
        ax.set_title("The frontier race")
        ax.legend(frameon=False)
        fig.tight_layout()
    return fig


def talent_flows(
    flows: pd.DataFrame, title: str = "Researcher moves between jurisdictions"
) -> Figure:
    """Heatmap of researcher moves from (rows) and to (columns) each jurisdiction."""
    with plt.rc_context(STYLE):
        fig, ax = plt.subplots(figsize=(COLUMN_WIDTH_IN, 2.8))
        values = flows.to_numpy(dtype=float)
        image = ax.imshow(values, cmap="Blues")
        ax.set_xticks(range(flows.shape[1]), flows.columns)
        ax.set_yticks(range(flows.shape[0]), flows.index)
        ax.set_xlabel("to (jurisdiction)")
        ax.set_ylabel("from (jurisdiction)")
        ax.grid(False)
        for (i, j), v in np.ndenumerate(values):
            ax.text(
                j,
                i,
                f"{v:.0f}",
                ha="center",
                va="center",
                fontsize=6,
                color="white" if v > values.max() / 2 else "black",
            )
        fig.colorbar(image, ax=ax, label="researchers moved")
        ax.set_title(title)
        fig.tight_layout()
    return fig


def network_snapshot(
    edges: pd.DataFrame, labs: pd.DataFrame, title: str = "Network at the end of the run"
) -> Figure:
    """Aggregated network: labs (size = capability, colour = jurisdiction) on an inner ring,
    researcher pools (by origin) and investor pools (by home) on outer rings; edge width is
    headcount (employment) or holdings (investment)."""
    last = labs[labs["step"] == labs["step"].max()].sort_values(["jurisdiction", "lab"])
    names = last["lab"].tolist()
    angle = {n: 2 * np.pi * i / max(len(names), 1) for i, n in enumerate(names)}
    position = {n: (np.cos(a), np.sin(a)) for n, a in angle.items()}
    codes = list(dict.fromkeys(last["jurisdiction"]))
    for k, code in enumerate(codes):
        mine = [angle[n] for n in names if last.set_index("lab").loc[n, "jurisdiction"] == code]
        a = float(np.mean(mine)) if mine else 2 * np.pi * k / len(codes)
        position[f"researchers:{code}"] = (1.7 * np.cos(a - 0.15), 1.7 * np.sin(a - 0.15))
        position[f"investors:{code}"] = (2.2 * np.cos(a + 0.15), 2.2 * np.sin(a + 0.15))
    kinds = {
        "employment": ("#888888", 4.0),
        "investment": ("#2e7d32", 4.0),
        "partnership": ("#bbbbbb", 0.6),
    }
    with plt.rc_context({**STYLE, "axes.grid": False}):
        fig, ax = plt.subplots(figsize=(COLUMN_WIDTH_IN * 1.6, COLUMN_WIDTH_IN * 1.6))
        for kind, (colour, width) in kinds.items():
            chunk = edges[
                (edges["kind"] == kind)
                & edges["source"].isin(position)
                & edges["target"].isin(position)
            ]
            top = chunk["weight"].max() if len(chunk) else 1.0
            for row in chunk.itertuples():
                (x0, y0), (x1, y1) = position[row.source], position[row.target]
                ax.plot(
                    [x0, x1],
                    [y0, y1],
                    color=colour,
                    alpha=0.5,
                    lw=0.2 + width * row.weight / top,
                    zorder=1,
                )
        capability = last["capability"].to_numpy()
        size = 40 + 400 * (capability - capability.min()) / max(np.ptp(capability), 1e-9)
        for (name, code), s_ in zip(
            zip(names, last["jurisdiction"], strict=True), size, strict=True
        ):
            x, y = position[name]
            ax.scatter(x, y, s=s_, color=_colour(code), edgecolor="black", lw=0.4, zorder=3)
            ax.annotate(
                name,
                (x, y),
                fontsize=5,
                ha="center",
                va="center",
                zorder=4,
                xytext=(0, -9),
                textcoords="offset points",
            )
        for code in codes:
            for pool, marker in (("researchers", "^"), ("investors", "s")):
                x, y = position[f"{pool}:{code}"]
                ax.scatter(x, y, s=60, marker=marker, color=_colour(code), alpha=0.7, zorder=3)
                ax.annotate(
                    f"{pool}\n{code}",
                    (x, y),
                    fontsize=5,
                    ha="center",
                    xytext=(0, 7),
                    textcoords="offset points",
                )
        handles = [plt.Line2D([], [], color=c, lw=2, label=k) for k, (c, _) in kinds.items()]
        ax.legend(handles=handles, loc="upper left", bbox_to_anchor=(1.0, 1.0), frameon=False)
        ax.set_title(f"{title} (labs sized by capability)")
        ax.set_aspect("equal")
        ax.axis("off")
        fig.tight_layout()
    return fig


# --------------------------------------------------------------------------- batches: layout
#
# A batch figure draws one curve per group of runs. In a sweep a curve is one grid point: its
# colour is the value of the first swept key, its panel the values of the other keys, so no
# curve or band mixes the runs of two design points. With more than MAX_PANELS combinations of
# the other keys, the last keys stop getting panels and each curve pools their grid points; the
# figure says so. Elsewhere a curve is one scenario (a comparison, a Monte Carlo), and where a
# scenario spans several design points (the samples of an explore or sensitivity batch) the
# figure says how many each curve pools.

#: Most panels a batch figure draws (a grid of small multiples) before it pools swept keys.
MAX_PANELS = 12


@dataclass(frozen=True)
class _Curve:
    label: str
    colour: int  # index in the palette: the same value of the curve's key in every panel
    run_ids: frozenset


@dataclass(frozen=True)
class _Layout:
    panels: list[tuple[str, list[_Curve]]]  # (title naming the fixed values, curves)
    legend: str  # what one curve is: the first swept key's short name, or "scenario"
    spread: str  # what a band spreads over, for the figure's text


def _short(key: str) -> str:
    """A swept key's short name: the last part of its dotted name."""
    return key.rsplit(".", 1)[-1]


def _value_labels(per_run: pd.DataFrame, key: str) -> list[str]:
    """Every run's distinct label for its value of ``key`` (see :func:`_labels`)."""
    codes, labels = _labels(per_run[key].tolist())
    return [labels[code] for code in codes]


def _count(numbers: Sequence[int]) -> str:
    low, high = min(numbers), max(numbers)
    return f"{low}" if low == high else f"{low}-{high}"


def _layout(per_run: pd.DataFrame, keys: Sequence[str] = ()) -> _Layout:
    """Split runs (one row each: ``run_id``, ``point``, ``scenario`` and the swept ``keys``)
    into panels and curves; see the comment above :data:`MAX_PANELS`."""
    keys = list(keys)
    if keys:
        curve_key, panel_keys = keys[0], keys[1:]
        while len(panel_keys) > 1 and len(value_groups(_rows(per_run, panel_keys))[1]) > MAX_PANELS:
            panel_keys = panel_keys[:-1]
        pooled = keys[1 + len(panel_keys) :]
        name = _short(curve_key)
        curve_labels = [f"{name}={label}" for label in _value_labels(per_run, curve_key)]
        legend = name
    else:
        curve_key, panel_keys, pooled = "scenario", [], []
        curve_labels = [str(label) for label in _value_labels(per_run, "scenario")]
        legend = "scenario"
    colour_codes, _ = value_groups(curve_labels)
    by_point = bool(keys) and not pooled  # a sweep whose every curve is one grid point
    panel_labels = [_value_labels(per_run, key) for key in panel_keys]
    panel_titles = [
        ", ".join(
            f"{_short(key)}={labels[i]}"
            for key, labels in zip(panel_keys, panel_labels, strict=True)
        )
        for i in range(len(per_run))
    ]
    points = per_run["point"].tolist()
    curve_of = [(curve_labels[i], points[i] if by_point else None) for i in range(len(per_run))]
    panels: dict[str, dict[tuple, list[int]]] = {}
    for i, (title, curve) in enumerate(zip(panel_titles, curve_of, strict=True)):
        panels.setdefault(title, {}).setdefault(_point_key(curve), []).append(i)
    drawn: list[tuple[str, list[_Curve]]] = []
    counts: list[int] = []
    ids = per_run["run_id"].tolist()
    for title, curves in panels.items():
        labels = [curve_of[rows[0]][0] for rows in curves.values()]
        mine = []
        for label, rows in zip(labels, curves.values(), strict=True):
            if labels.count(label) > 1:  # two grid points with values that store alike
                point = points[rows[0]]
                label = f"{label} (point {'?' if is_missing(point) else int(point)})"
            counts.append(len(value_groups([points[i] for i in rows])[1]))
            mine.append(_Curve(label, colour_codes[rows[0]], frozenset(ids[i] for i in rows)))
        drawn.append((title, mine))
    if pooled:
        spread = f"seeds and the grid points of {', '.join(_short(k) for k in pooled)} (pooled)"
    elif counts and max(counts) > 1:
        spread = f"seeds and {_count(counts)} design points per curve"
    elif keys:
        spread = "the seeds of one grid point"
    else:
        spread = "seeds"
    return _Layout(drawn, legend, spread)


def _rows(frame: pd.DataFrame, columns: Sequence[str]) -> list[tuple]:
    """The values of ``columns`` in each row, as tuples."""
    return list(zip(*(frame[c].tolist() for c in columns), strict=True)) if columns else []


def _point_key(curve: tuple[str, object]) -> tuple:
    """A dict key for (label, point) that treats every missing point alike."""
    label, point = curve
    return (label, None if point is None or is_missing(point) else float(point))


def _per_run(runs: pd.DataFrame, columns: Sequence[str]) -> pd.DataFrame:
    """One row per run: ``run_id``, the runs' ``columns`` and ``point`` (its design point,
    :func:`~agentsim.analysis.design_points`). Raises ``ValueError`` when a run id repeats,
    ``KeyError`` for a missing column."""
    if runs["run_id"].duplicated().any():
        repeated = runs["run_id"][runs["run_id"].duplicated()].iloc[0]
        raise ValueError(f"runs repeat run id {repeated}")
    frame = pd.DataFrame({"run_id": runs["run_id"].to_numpy()}, index=runs.index)
    for column in columns:
        if column not in runs:
            raise KeyError(f"runs have no column {column!r}")
        frame[column] = runs[column].astype(object).to_numpy()
    frame["point"] = design_points(runs).to_numpy()
    return frame.reset_index(drop=True)


def _series_per_run(
    timeseries: pd.DataFrame, runs: pd.DataFrame, columns: Sequence[str]
) -> pd.DataFrame:
    """One row per run with a time series, as :func:`_per_run`: each column (and ``point``)
    as the time series carries it where it does (a batch gathered with its keys), else from
    the run's row of ``runs`` (never a merge, so no column is doubled)."""
    per_run = _per_run(runs, columns)
    first = timeseries.drop_duplicates("run_id")
    ids = first["run_id"].to_numpy()
    stored = per_run.set_index("run_id")
    frame = pd.DataFrame({"run_id": ids})
    for column in [*columns, "point"]:
        frame[column] = (
            first[column].astype(object).to_numpy()
            if column in first and column != "point"
            else stored[column].reindex(ids).astype(object).to_numpy()
        )
    if "point" in first:  # stored with the series; a missing one from the runs table
        carried = pd.to_numeric(first["point"], errors="coerce").astype(float).to_numpy()
        derived = pd.to_numeric(frame["point"], errors="coerce").astype(float).to_numpy()
        frame["point"] = np.where(np.isnan(carried), derived, carried)
    return frame


def _events(n: int) -> str:
    return f"{n} event" if n == 1 else f"{n} events"


def _grid(panels: int) -> tuple[int, int]:
    """Rows and columns of a grid of ``panels`` small multiples."""
    columns = panels if panels <= 3 else 2 if panels == 4 else 3 if panels <= 9 else 4
    return -(-panels // columns), columns


def _panels(layout: _Layout, ylabel: str, xlabel: str) -> tuple[Figure, list]:
    """A figure with one axes per panel of ``layout``: one column wide for one panel, else a
    page-wide grid with shared axes (the y label once for the figure, x labels under every
    bottom panel), spare cells hidden. Returns the figure and the panels' axes."""
    panels = max(len(layout.panels), 1)
    rows, columns = _grid(panels)
    size = (COLUMN_WIDTH_IN, 2.6) if panels == 1 else (COLUMN_WIDTH_IN * 2, 1.2 + 1.9 * rows)
    fig, grid = plt.subplots(
        rows, columns, figsize=size, sharex=True, sharey=True, squeeze=False,
        layout="constrained",
    )  # fmt: skip
    axes = list(grid.flat)
    for ax in axes[panels:]:
        ax.set_visible(False)
    if panels == 1:
        axes[0].set_xlabel(xlabel)
        axes[0].set_ylabel(ylabel)
    else:
        fig.supylabel(ylabel, fontsize=plt.rcParams["axes.labelsize"])
        for k, ax in enumerate(axes[:panels]):
            if k + columns >= panels:  # no panel below it
                ax.xaxis.set_tick_params(labelbottom=True)
                ax.set_xlabel(xlabel)
    return fig, axes[:panels]


def _finish(
    fig: Figure,
    axes: list,
    layout: _Layout,
    title: str,
    note: Sequence[str],
    panel_legends: bool = False,
) -> None:
    """Titles and legends. One panel: its title, and its legend inside titled by the phrases
    of ``note``, one a line. Several: the figure's title with ``note`` under it, each panel
    titled by its fixed values, and one legend of every curve below the panels (or, with
    ``panel_legends``, where labels differ by panel, a legend in each)."""
    if len(axes) == 1:
        panel = layout.panels[0][0] if layout.panels else ""
        axes[0].set_title(title + (f"\n{panel}" if panel else ""))
        wrapped = "\n".join(part for line in note for part in textwrap.wrap(line, 48))
        axes[0].legend(frameon=False, title=wrapped, title_fontsize=6)
        return
    for ax, (panel, _) in zip(axes, layout.panels, strict=True):
        ax.set_title(panel)
    fig.suptitle("\n".join([title, *(part for line in note for part in textwrap.wrap(line, 110))]))
    if panel_legends:
        for ax in axes:
            ax.legend(frameon=False, fontsize=6, title=layout.legend, title_fontsize=6)
        return
    handles: dict[str, object] = {}
    for ax in axes:
        for handle, label in zip(*ax.get_legend_handles_labels(), strict=True):
            handles.setdefault(label, handle)
    fig.legend(
        list(handles.values()), list(handles), loc="outside lower center", frameon=False,
        ncols=min(len(handles), 4), title=layout.legend, title_fontsize=7,
    )  # fmt: skip


# --------------------------------------------------------------------------- batches: figures


def fan_chart(
    timeseries: pd.DataFrame,
    runs: pd.DataFrame,
    column: str,
    ylabel: str,
    title: str,
    keys: Sequence[str] = (),
) -> Figure:
    """Median with 50% and 90% bands of ``column`` over time, one curve per group of runs.

    Without ``keys`` (a comparison or a Monte Carlo) one curve per value of the runs'
    ``scenario``, in one panel. With ``keys`` (a sweep's swept keys, in grid order) one curve
    per grid point: coloured by the value of the first key, one panel per combination of the
    values of the others (titled with each key's short name and value, axes shared), so a
    band spreads over the seeds of one grid point only; with more than :data:`MAX_PANELS`
    combinations the last keys are pooled instead of panelled, and the figure's title says
    which. A curve that holds several design points (the samples of an explore batch) says so
    too. Every run with a time series is drawn in exactly one curve.

    ``timeseries`` has ``run_id``, ``date`` and ``column``; the scenario, ``point`` and keys
    of each run are taken from it where it carries them, else from ``runs`` (one row per run).
    Raises ``ValueError`` when ``runs`` repeats a run id, ``KeyError`` for a missing column.
    """
    columns = list(dict.fromkeys(["scenario", *keys]))
    layout = _layout(_series_per_run(timeseries, runs, columns), keys)
    palette = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    run_ids = timeseries["run_id"].to_numpy()
    with plt.rc_context(STYLE):
        fig, axes = _panels(layout, ylabel, "date")
        for ax, (_, curves) in zip(axes, layout.panels, strict=False):
            for curve in curves:
                group = timeseries[np.isin(run_ids, list(curve.run_ids))]
                q = group.groupby("date")[column].quantile([0.05, 0.25, 0.5, 0.75, 0.95])
                q = q.unstack()
                colour = palette[curve.colour % len(palette)]
                ax.fill_between(q.index, q[0.05], q[0.95], color=colour, alpha=0.15, lw=0)
                ax.fill_between(q.index, q[0.25], q[0.75], color=colour, alpha=0.3, lw=0)
                ax.plot(q.index, q[0.5], color=colour, lw=1.2, label=curve.label)
            locator = mdates.AutoDateLocator(maxticks=5)
            ax.xaxis.set_major_locator(locator)
            ax.xaxis.set_major_formatter(mdates.ConciseDateFormatter(locator))
        note = [f"median with 50% and 90% bands over {layout.spread}"]
        _finish(fig, axes, layout, title, note)
    return fig


#: The figure (file stem) of each time-to-event outcome (:data:`~agentsim.survival.TIME_TO_EVENT`).
SURVIVAL_FIGURES = {
    "overtake_month": "overtake_survival",
    "months_to_first_us_generation": "survival_months_to_first_us_generation",
    "trusted_release_repealed_month": "survival_trusted_release_repealed_month",
}


def survival_chart(runs: pd.DataFrame, outcome: str, keys: Sequence[str] = ()) -> Figure:
    """Kaplan-Meier curves of a time-to-event outcome: the share of runs without the event by
    month (:func:`agentsim.survival.kaplan_meier`), a right-continuous step with its 95%
    pointwise band shaded step-wise, one curve per group of runs as in :func:`fan_chart`
    (per scenario, or per grid point of a sweep's ``keys`` with the same panels and pooling),
    each labelled with its runs and events. Runs without the event are censored at their
    horizon (``steps``), which the figure states; each curve runs flat to its horizon.

    ``runs`` has ``run_id``, ``scenario``, ``error``, ``steps``, ``outcome`` (the event's
    month, missing where it did not happen; one of :data:`~agentsim.survival.TIME_TO_EVENT`)
    and the ``keys``; failed runs (``error`` not missing) are left out. Raises ``KeyError``
    for a missing column and ``ValueError`` when a run id repeats.
    """
    from agentsim.survival import TIME_TO_EVENT, durations, kaplan_meier

    ok = runs[runs["error"].isna()]
    layout = _layout(_per_run(ok, list(dict.fromkeys(["scenario", *keys]))), keys)
    palette = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    dashes = ["-", "--", ":", "-."]  # paired scenarios often coincide early: keep both visible
    horizons = pd.to_numeric(ok["steps"], errors="coerce").dropna().astype(float)
    ids = ok["run_id"].to_numpy()
    with plt.rc_context(STYLE):
        fig, axes = _panels(layout, "share of runs without the event", "months since start")
        for ax, (_, curves) in zip(axes, layout.panels, strict=False):
            for k, curve in enumerate(curves):
                group = ok[np.isin(ids, list(curve.run_ids))]
                time, event = durations(group, outcome)
                km = kaplan_meier(time, event)
                months = km["month"].to_numpy(float)
                steps = [km[c].to_numpy(float) for c in ("survival", "ci_low", "ci_high")]
                finite = time[np.isfinite(time)]
                horizon = float(finite.max()) if finite.size else 0.0
                if horizon > months[-1]:  # flat to the horizon, where the censored runs leave
                    months = np.append(months, horizon)
                    steps = [np.append(s, s[-1]) for s in steps]
                colour = palette[curve.colour % len(palette)]
                ax.fill_between(
                    months, steps[1], steps[2], step="post", color=colour, alpha=0.15, lw=0
                )
                ax.step(
                    months, steps[0], where="post", color=colour, ls=dashes[k % len(dashes)],
                    lw=1.3, label=f"{curve.label} (n={len(group)}, {_events(int(event.sum()))})",
                )  # fmt: skip
            ax.set_ylim(0, 1.02)
            ax.set_xlim(0, 1.03 * max(float(horizons.max()) if len(horizons) else 0.0, 1.0))
        low, high = (horizons.min(), horizons.max()) if len(horizons) else (0.0, 0.0)
        at = f"month {low:g}" if low == high else f"their horizon (months {low:g}-{high:g})"
        note = [
            f"Kaplan-Meier estimate with 95% band over {layout.spread}",
            f"runs without the event censored at {at}",
        ]
        _finish(fig, axes, layout, f"Time until {TIME_TO_EVENT[outcome]}", note, True)
    return fig


def overtake_survival(runs: pd.DataFrame, keys: Sequence[str] = ()) -> Figure:
    """The Kaplan-Meier curves of the month a non-US lab first leads (``overtake_month``):
    :func:`survival_chart` of that outcome."""
    return survival_chart(runs, "overtake_month", keys)


def mean_talent_flows(runs: pd.DataFrame) -> Figure:
    """Mean researcher moves between jurisdictions over a batch's runs."""
    ok = runs[runs["error"].isna()]
    columns = [c for c in ok.columns if c.startswith("talent_flow_")]
    codes = list(dict.fromkeys(c.split("_")[2] for c in columns))
    matrix = pd.DataFrame(
        [[ok[f"talent_flow_{a}_{b}"].mean() for b in codes] for a in codes],
        index=codes,
        columns=codes,
    )
    return talent_flows(matrix, title=f"Mean researcher moves per run (n={len(ok)})")


def sweep_heatmap(
    runs: pd.DataFrame,
    grid: dict,
    outcome: str = "overtaken",
    label: str = "probability of a non-US overtake",
) -> Figure:
    """Heatmap of an outcome's mean over the first two swept keys (other keys averaged, as the
    title says).

    Rows and columns are the values of the keys in order of first appearance (the grid's order
    in a stored batch), a missing value included; every run that did not fail is averaged into
    exactly one cell, and a cell without such runs is NaN.
    """
    keys = list(grid)
    rows_key = keys[0]
    cols_key = keys[1] if len(keys) > 1 else None
    row_codes, row_labels = _labels(runs[rows_key].tolist())
    if cols_key is None:  # one row, the key's values across
        row_codes, row_labels, col_codes, col_labels = [0] * len(runs), [""], row_codes, row_labels
    else:
        col_codes, col_labels = _labels(runs[cols_key].tolist())
    values = pd.to_numeric(runs[outcome], errors="coerce").to_numpy(dtype=float)
    used = runs["error"].isna().to_numpy(dtype=bool) & ~np.isnan(values)
    rows, cols = np.asarray(row_codes, dtype=int), np.asarray(col_codes, dtype=int)
    table = np.full((len(row_labels), len(col_labels)), np.nan)
    for i, j in np.ndindex(table.shape):
        cell = values[used & (rows == i) & (cols == j)]
        if cell.size:
            table[i, j] = cell.mean()
    with plt.rc_context({**STYLE, "axes.grid": False}):
        fig, ax = plt.subplots(figsize=(COLUMN_WIDTH_IN, 2.8))
        image = ax.imshow(
            table,
            cmap="viridis",
            aspect="auto",
            vmin=0,
            vmax=1 if outcome == "overtaken" else None,
        )
        ax.set_yticks(range(table.shape[0]), row_labels)
        ax.set_xticks(range(table.shape[1]), col_labels)
        ax.set_ylabel(rows_key.rsplit(".", 1)[-1] if cols_key else "")
        ax.set_xlabel((cols_key or rows_key).rsplit(".", 1)[-1])
        for (i, j), v in np.ndenumerate(table):
            ax.text(
                j,
                i,
                f"{v:.2f}",
                ha="center",
                va="center",
                fontsize=6,
                color="black" if image.norm(v) > 0.6 else "white",
            )
        fig.colorbar(image, ax=ax, label=label)
        pooled = ", ".join(_short(key) for key in keys[2:])
        ax.set_title(f"Sweep: {label}" + (f"\n(mean over {pooled} too)" if pooled else ""))
        fig.tight_layout()
    return fig


def save_figure(fig: Figure, stem: Path) -> list[Path]:
    """Save ``fig`` as ``stem``.png and ``stem``.pdf atomically; close it. Returns both paths."""
    paths = write_figure(fig, Path(stem), ("png", "pdf"))
    plt.close(fig)
    return paths


#: The fan charts of a batch: (time-series column, y label with its unit, file stem).
FANS = (
    ("frontier_capability_us", "US frontier capability (log10 FLOP)", "fan_frontier_us"),
    (
        "frontier_capability_non_us",
        "non-US frontier capability (log10 FLOP)",
        "fan_frontier_non_us",
    ),
    ("us_user_share", "US share of users (0-1)", "fan_us_user_share"),
    ("us_capital_share", "US share of invested capital (0-1)", "fan_us_capital_share"),
    ("us_talent_share", "US share of talent (0-1)", "fan_us_talent_share"),
)
#: Figures (file stems) drawn for a run and for a batch.
RUN_FIGURES = ("frontier", "capability", "shares", "talent_flows", "network")
BATCH_FIGURES = (
    *(stem for *_, stem in FANS),
    *SURVIVAL_FIGURES.values(),
    "talent_flows",
    "sweep_overtake",
    "sweep_user_share",
)


def _claim_figures_dir(out: Path, stems: Sequence[str]) -> None:
    """Check, before drawing, that ``out`` may receive these figures (see
    :func:`agentsim.store.check_figures_dir`)."""
    check_figures_dir(out, [f"{stem}.{ext}" for stem in stems for ext in ("png", "pdf")])


def _mark_figures_dir(
    out: Path, paths: Sequence[Path], source: Path, family: Sequence[str] = ()
) -> None:
    """Record what was drawn in ``out`` (the marker that lets a later call replace it),
    keeping the figures listed by earlier calls, except those of this call's ``family`` (the
    stems it may draw) that it did not draw this time: those are removed, so a figure of an
    earlier drawing (a Kaplan-Meier curve of an event that no run of the new data reached)
    never stands beside the new ones as if it were drawn from them."""
    marker = Path(out) / FIGURES_MARKER
    drawn = (
        set(json.loads(marker.read_text(encoding="utf-8"))["figures"])
        if marker.is_file()
        else set()
    )
    names = {p.name for p in paths}
    stale = {name for name in drawn - names if Path(name).stem in set(family)}
    for name in stale:
        (Path(out) / name).unlink(missing_ok=True)
    write_json(marker, {"source": str(source), "figures": sorted((drawn - stale) | names)})


def save_run_figures(run_dir: Path, out: Path | None = None) -> list[Path]:
    """Draw the figures of one stored run into ``out`` (default: run_dir/figures); return the
    paths written (PNG and PDF of each). Raises :class:`~agentsim.config.ConfigError` when
    ``run_dir`` is not a run folder, or ``out`` holds files agentsim did not draw or cannot be
    written (checked before anything is drawn)."""
    stored = read_run(run_dir)
    out = Path(out) if out is not None else Path(run_dir) / "figures"
    _claim_figures_dir(out, RUN_FIGURES)
    paths: list[Path] = []
    paths += save_figure(frontier_race(stored["model"]), out / "frontier")
    paths += save_figure(capability_paths(stored["labs"]), out / "capability")
    paths += save_figure(share_panels(stored["model"]), out / "shares")
    paths += save_figure(talent_flows(stored["flows"]), out / "talent_flows")
    paths += save_figure(network_snapshot(stored["network"], stored["labs"]), out / "network")
    _mark_figures_dir(out, paths, Path(run_dir), RUN_FIGURES)
    return paths


def survival_outcomes(runs: pd.DataFrame) -> list[str]:
    """The time-to-event outcomes (:data:`~agentsim.survival.TIME_TO_EVENT`, in that order)
    that ``runs`` holds and that happened in at least one run that did not fail: those that
    :func:`save_batch_figures` draws Kaplan-Meier curves of."""
    from agentsim.survival import TIME_TO_EVENT

    ok = runs[runs["error"].isna()] if "error" in runs else runs
    return [
        outcome
        for outcome in TIME_TO_EVENT
        if outcome in ok and pd.to_numeric(ok[outcome], errors="coerce").notna().any()
    ]


def swept_keys(manifest: dict, runs: pd.DataFrame) -> list[str]:
    """A sweep's swept keys (its manifest's ``grid``, in grid order) that ``runs`` holds; empty
    for any other batch."""
    grid = manifest.get("grid") if manifest.get("kind") == "sweep" else None
    return [key for key in grid if key in runs] if isinstance(grid, dict) else []


def save_batch_figures(batch_dir: Path, out: Path | None = None) -> list[Path]:
    """Draw the figures of a stored Monte Carlo, sweep or comparison into ``out`` (default:
    batch_dir/figures); return the paths written.

    Drawn: the fan charts (``fan_*``, :func:`fan_chart`), the Kaplan-Meier curves of each
    time-to-event outcome that happened in some run (:data:`SURVIVAL_FIGURES`,
    :func:`survival_chart`; none for an outcome no run reached), ``talent_flows`` and, for a
    sweep, ``sweep_overtake`` and ``sweep_user_share`` (:func:`sweep_heatmap`). A sweep's fans
    and survival curves have one curve per grid point, one panel per value of the swept keys
    after the first (see :func:`fan_chart`). Raises :class:`~agentsim.config.ConfigError` when
    the folder holds no finished batch, or ``out`` holds files agentsim did not draw or cannot
    be written (checked before anything is drawn)."""
    batch_dir = Path(batch_dir)
    stored = read_batch(batch_dir)
    manifest, runs, timeseries = stored.manifest, stored.runs, stored.timeseries
    out = Path(out) if out is not None else batch_dir / "figures"
    _claim_figures_dir(out, BATCH_FIGURES)
    paths: list[Path] = []
    keys = swept_keys(manifest, runs)
    if len(timeseries):
        for column, ylabel, stem in FANS:
            fig = fan_chart(timeseries, runs, column, ylabel, ylabel.split(" (")[0], keys)
            paths += save_figure(fig, out / stem)
    for outcome in survival_outcomes(runs):
        fig = survival_chart(runs, outcome, keys)
        paths += save_figure(fig, out / SURVIVAL_FIGURES[outcome])
    paths += save_figure(mean_talent_flows(runs), out / "talent_flows")
    if keys:
        grid = {key: manifest["grid"][key] for key in keys}
        paths += save_figure(sweep_heatmap(runs, grid), out / "sweep_overtake")
        paths += save_figure(
            sweep_heatmap(runs, grid, "final_us_user_share", "final US share of users"),
            out / "sweep_user_share",
        )
    _mark_figures_dir(out, paths, batch_dir, BATCH_FIGURES)
    return paths


# --------------------------------------------------------------------------- scenario discovery


def prim_tradeoff(trajectory: pd.DataFrame, chosen: int) -> Figure:
    """PRIM's trade-off between coverage and density (Bryant and Lempert 2010): one point per
    box of the trajectory (a frame with the columns ``box``, ``coverage``, ``density`` and
    ``restricted_dimensions``, as :attr:`agentsim.discovery.Discovery.trajectory`), coloured
    by its number of restricted parameters; the box numbered ``chosen`` is ringed and named."""
    counts = trajectory["restricted_dimensions"].to_numpy(dtype=int)
    top = max(int(counts.max()) if counts.size else 0, 1)
    cmap = plt.get_cmap("viridis", top + 1)
    with plt.rc_context(STYLE):
        fig, ax = plt.subplots(figsize=(COLUMN_WIDTH_IN, 2.8))
        points = ax.scatter(
            trajectory["coverage"],
            trajectory["density"],
            c=counts,
            cmap=cmap,
            vmin=-0.5,
            vmax=top + 0.5,
            s=12,
            zorder=2,
        )
        mark = trajectory[trajectory["box"] == chosen]
        if len(mark):
            cx, cy = float(mark["coverage"].iloc[0]), float(mark["density"].iloc[0])
            ax.scatter([cx], [cy], s=90, facecolors="none", edgecolors="black", lw=1.2, zorder=3)
            ax.annotate(
                f"box {chosen}", (cx, cy), xytext=(6, -10), textcoords="offset points", fontsize=7
            )
        bar = fig.colorbar(points, ax=ax, ticks=range(top + 1))
        bar.set_label("restricted parameters")
        ax.set_xlim(0, 1.02)
        ax.set_ylim(0, 1.02)
        ax.set_xlabel("coverage (share of all hits inside the box)")
        ax.set_ylabel("density (share of the box's cases that hit)")
        ax.set_title("PRIM peeling trajectory")
        fig.tight_layout()
    return fig


def prim_box_figure(limits: pd.DataFrame) -> Figure:
    """The restricted parameters of a PRIM box: each a horizontal bar of its range in the box
    inside its full range, both scaled to [0, 1] (the full range is the data's: columns
    ``original_low`` and ``original_high``), labelled with the values. ``limits`` has the
    columns of :attr:`agentsim.discovery.Discovery.limits` (``parameter``, ``low``, ``high``,
    ``restricted``...); with no restricted parameter the figure says so."""
    rows = limits[limits["restricted"].astype(bool)]
    with plt.rc_context({**STYLE, "axes.grid": False}):
        fig, ax = plt.subplots(figsize=(COLUMN_WIDTH_IN * 1.5, 0.5 + 0.45 * max(len(rows), 1)))
        for i, row in enumerate(rows.itertuples()):
            y = len(rows) - 1 - i
            span = row.original_high - row.original_low
            low = (row.low - row.original_low) / span if span > 0 else 0.0
            high = (row.high - row.original_low) / span if span > 0 else 1.0
            ax.barh(y, 1.0, left=0.0, height=0.5, color="#dddddd", zorder=1)
            ax.barh(y, high - low, left=low, height=0.5, color=_colour("US"), zorder=2)
            for value, at, ha in ((row.low, low, "right"), (row.high, high, "left")):
                ax.annotate(
                    f"{value:.3g}",
                    (at, y),
                    xytext=(-2 if ha == "right" else 2, 0),
                    textcoords="offset points",
                    ha=ha,
                    va="center",
                    fontsize=6,
                    zorder=3,
                )
            for value, at, ha in (
                (row.original_low, 0.0, "left"),
                (row.original_high, 1.0, "right"),
            ):
                ax.text(at, y - 0.38, f"{value:.3g}", ha=ha, va="top", fontsize=5, color="#777777")
        ax.set_yticks(range(len(rows)), list(rows["parameter"])[::-1])
        ax.set_xlim(-0.12, 1.12)
        ax.set_ylim(-0.8, max(len(rows), 1) - 0.4)
        ax.set_xlabel("position in the parameter's sampled range (0 = lowest, 1 = highest)")
        ax.set_title("Parameter ranges of the chosen box")
        if rows.empty:
            ax.text(0.5, 0, "no parameter is restricted", ha="center", va="center")
        fig.tight_layout()
    return fig


def _parameter_label(name: object) -> str:
    """A parameter's dotted name, short but unambiguous (``jurisdictions.`` dropped)."""
    return str(name).removeprefix("jurisdictions.")


def morris_screening(indices: pd.DataFrame, outcome: str) -> Figure:
    """Morris screening of one outcome: mu* (mean absolute elementary effect) against sigma
    (their spread: interactions and non-linearity), one labelled point per parameter with
    mu*'s bootstrap interval; parameters below the seed-noise floor are grey (Campolongo et
    al. 2007). ``indices`` has the columns of ``indices.csv``."""
    part = indices[(indices["outcome"] == outcome) & (indices["method"] == "morris")]
    star = part[part["index"] == "mu_star"].set_index("parameter")
    sigma = part[part["index"] == "sigma"].set_index("parameter")["estimate"]
    with plt.rc_context(STYLE):
        fig, ax = plt.subplots(figsize=(COLUMN_WIDTH_IN * 1.4, 3.2))
        for name, row in star.iterrows():
            grey = bool(row["below_noise_floor"])
            colour = "0.6" if grey else "#1f77b4"
            x, y = float(row["estimate"]), float(sigma.get(name, np.nan))
            ax.errorbar(
                x,
                y,
                xerr=[[x - row["ci_low"]], [row["ci_high"] - x]],
                fmt="o",
                color=colour,
                ms=4,
                lw=0.8,
            )
            ax.annotate(
                _parameter_label(name),
                (x, y),
                xytext=(4, 3),
                textcoords="offset points",
                fontsize=6,
                color=colour,
            )
        ax.set_xlabel("mu* (mean |elementary effect|)")
        ax.set_ylabel("sigma")
        ax.set_title(f"Morris screening: {outcome} (grey: below seed noise)")
        ax.set_xlim(left=0)
        ax.set_ylim(bottom=0)
        fig.tight_layout()
    return fig


def sobol_bars(indices: pd.DataFrame, outcome: str) -> Figure:
    """First-order (S1) and total (ST) Sobol indices of one outcome with their bootstrap
    intervals, parameters ordered by ST; parameters below the seed-noise share are hatched."""
    part = indices[(indices["outcome"] == outcome) & (indices["method"] == "sobol")]
    total = part[part["index"] == "ST"].sort_values("estimate")
    first = part[part["index"] == "S1"].set_index("parameter").loc[total["parameter"]]
    names = [_parameter_label(n) for n in total["parameter"]]
    y = np.arange(len(names))
    with plt.rc_context(STYLE):
        fig, ax = plt.subplots(figsize=(COLUMN_WIDTH_IN * 1.4, 0.5 + 0.28 * len(names)))
        for offset, rows, label, colour in (
            (0.2, total.reset_index(drop=True), "ST (total)", "#1f77b4"),
            (-0.2, first.reset_index(), "S1 (first order)", "#ff7f0e"),
        ):
            estimate = rows["estimate"].to_numpy(float)
            errors = [estimate - rows["ci_low"].to_numpy(float), rows["ci_high"] - estimate]
            bars = ax.barh(
                y + offset, estimate, height=0.38, color=colour, label=label, xerr=errors
            )
            for bar, flagged in zip(bars, rows["below_noise_floor"], strict=True):
                if bool(flagged):
                    bar.set_hatch("///")
                    bar.set_alpha(0.4)
        ax.set_yticks(y, names)
        ax.set_xlim(-0.1, 1.1)  # indices are shares; wild intervals of small designs run off
        ax.set_xlabel("share of variance")
        ax.set_title(f"Sobol indices: {outcome} (hatched: below seed noise)")
        ax.legend(loc="lower right")
        fig.tight_layout()
    return fig


def save_sensitivity_figures(batch_dir: Path, out: Path | None = None) -> list[Path]:
    """Draw the figure of every outcome of a stored sensitivity batch (``indices.csv``) into
    ``out`` (default: batch_dir/figures): ``sensitivity_<outcome>`` (Morris: mu*-sigma; Sobol:
    bars with intervals). Returns the paths written. Raises
    :class:`~agentsim.config.ConfigError` when the folder holds no indices, or ``out`` holds
    files agentsim did not draw."""
    from agentsim.config import ConfigError

    batch_dir = Path(batch_dir)
    path = batch_dir / "indices.csv"
    if not path.is_file():
        raise ConfigError(str(batch_dir), "holds no indices.csv: not a finished sensitivity batch")
    indices = pd.read_csv(path)
    out = Path(out) if out is not None else batch_dir / "figures"
    outcomes = list(dict.fromkeys(indices["outcome"]))
    stems = [f"sensitivity_{outcome}" for outcome in outcomes]
    _claim_figures_dir(out, [*BATCH_FIGURES, *stems])
    paths: list[Path] = []
    for outcome, stem in zip(outcomes, stems, strict=True):
        morris = (indices.loc[indices["outcome"] == outcome, "method"] == "morris").any()
        fig = morris_screening(indices, outcome) if morris else sobol_bars(indices, outcome)
        paths += save_figure(fig, out / stem)
    _mark_figures_dir(out, paths, batch_dir)
    return paths


#: Outcomes whose distributions under uncertainty an explore folder's figures show.
EXPLORE_OUTCOMES = (
    ("final_us_lead_ooms", "final US lead (OOM)"),
    ("final_us_user_share", "final US share of users (0-1)"),
    ("final_us_capital_share", "final US share of invested capital (0-1)"),
    ("final_us_talent_share", "final US share of talent (0-1)"),
)


def outcome_distributions(experiments: pd.DataFrame) -> Figure:
    """Distributions of key outcomes under parameter uncertainty, one histogram per scenario
    in each panel (all samples and seeds of a scenario pooled; failed runs left out).
    ``experiments`` is an explore batch's experiments table."""
    ok = experiments[experiments["error"].isna()] if "error" in experiments else experiments
    shown = [(c, label) for c, label in EXPLORE_OUTCOMES if c in ok]
    with plt.rc_context(STYLE):
        fig, axes = plt.subplots(
            len(shown), 1, figsize=(COLUMN_WIDTH_IN * 1.3, 1.6 * max(len(shown), 1)), squeeze=False
        )
        for ax, (column, label) in zip(axes[:, 0], shown, strict=True):
            values = ok[column].astype(float)
            finite = values[np.isfinite(values)]
            bins = np.histogram_bin_edges(finite, bins=30) if len(finite) else 10
            for name, group in ok.groupby("scenario", sort=False):
                data = group[column].astype(float)
                ax.hist(data[np.isfinite(data)], bins=bins, alpha=0.5, label=str(name))
            ax.set_xlabel(label)
            ax.set_ylabel("runs")
        axes[0, 0].legend(fontsize=6)
        axes[0, 0].set_title("Outcomes under parameter uncertainty")
        fig.tight_layout()
    return fig


def save_explore_figures(batch_dir: Path, out: Path | None = None) -> list[Path]:
    """Draw an explore folder's own figures into ``out`` (default: batch_dir/figures):
    ``explore_outcomes`` (:func:`outcome_distributions`) and, when ``agentsim discover`` has
    written ``discovery/`` there, its PRIM figures again from the stored tables. Returns the
    paths written; raises :class:`~agentsim.config.ConfigError` as :func:`save_batch_figures`."""
    from agentsim.config import ConfigError

    batch_dir = Path(batch_dir)
    path = batch_dir / "experiments.parquet"
    if not path.is_file():
        raise ConfigError(str(batch_dir), "holds no experiments.parquet: not an explore folder")
    out = Path(out) if out is not None else batch_dir / "figures"
    _claim_figures_dir(out, [*BATCH_FIGURES, "explore_outcomes"])
    paths = save_figure(outcome_distributions(pd.read_parquet(path)), out / "explore_outcomes")
    _mark_figures_dir(out, paths, batch_dir)
    discovery = batch_dir / "discovery"
    if (discovery / "prim_trajectory.csv").is_file() and (discovery / "prim_box.csv").is_file():
        trajectory = pd.read_csv(discovery / "prim_trajectory.csv")
        chosen = trajectory.loc[trajectory["chosen"].astype(bool), "box"]
        box = int(chosen.iloc[-1]) if len(chosen) else int(trajectory["box"].iloc[-1])
        paths += save_figure(prim_tradeoff(trajectory, box), discovery / "prim_tradeoff")
        paths += save_figure(
            prim_box_figure(pd.read_csv(discovery / "prim_box.csv")), discovery / "prim_box"
        )
    return paths


# --------------------------------------------------------------------------- calibration


def posterior_marginals(posterior: pd.DataFrame, bounds: dict[str, tuple[float, float]]) -> Figure:
    """One panel per calibrated parameter: the weighted posterior histogram over the prior's
    range (the x axis spans the prior's support), the posterior median dashed.

    ``posterior`` has one column per parameter and ``weight``; ``bounds`` maps each
    parameter to its prior support (low, high).
    """
    names = list(bounds)
    columns = min(3, len(names))
    rows = -(-len(names) // columns)
    fig, axes = plt.subplots(
        rows, columns, figsize=(2.6 * columns, 2.1 * rows), squeeze=False, layout="constrained"
    )
    from agentsim.calibration import weighted_quantiles

    weights = posterior["weight"].to_numpy(float)
    for ax, name in zip(axes.ravel(), names, strict=False):
        low, high = bounds[name]
        values = posterior[name].to_numpy(float)
        ax.hist(values, bins=20, range=(low, high), weights=weights, color="#4C72B0", alpha=0.8)
        median = weighted_quantiles(values, weights, [0.5])[0]
        ax.axvline(median, color="black", linestyle="--", linewidth=1)
        ax.set_xlim(low, high)
        ax.set_title(_parameter_label(name), fontsize=8)
        ax.set_yticks([])
    for ax in axes.ravel()[len(names) :]:
        ax.set_visible(False)
    fig.suptitle("Posterior marginals (x axis: prior range; dashed: median)", fontsize=9)
    return fig


def posterior_pairs(posterior: pd.DataFrame, bounds: dict[str, tuple[float, float]]) -> Figure:
    """Pairwise scatter of the posterior particles (marker area by weight) for every pair of
    calibrated parameters, over the prior's ranges; histograms on the diagonal."""
    names = list(bounds)
    d = len(names)
    fig, axes = plt.subplots(d, d, figsize=(1.9 * d + 0.6, 1.9 * d + 0.4), squeeze=False)
    weights = posterior["weight"].to_numpy(float)
    size = 4 + 60 * weights / max(float(weights.max()), 1e-12)
    for i, y in enumerate(names):
        for j, x in enumerate(names):
            ax = axes[i, j]
            if i == j:
                ax.hist(posterior[x], bins=15, range=bounds[x], weights=weights, color="#4C72B0")
                ax.set_yticks([])
            elif i > j:
                ax.scatter(posterior[x], posterior[y], s=size, alpha=0.4, color="#4C72B0", lw=0)
                ax.set_ylim(*bounds[y])
            else:
                ax.set_visible(False)
                continue
            ax.set_xlim(*bounds[x])
            ax.tick_params(labelsize=6)
            if i == d - 1:
                ax.set_xlabel(_parameter_label(x), fontsize=7)
            if j == 0 and i > 0:
                ax.set_ylabel(_parameter_label(y), fontsize=7)
    fig.suptitle("Posterior: pairs of parameters", fontsize=9)
    fig.tight_layout()
    return fig


def save_calibration_figures(
    posterior: pd.DataFrame, bounds: dict[str, tuple[float, float]], out: Path
) -> list[Path]:
    """Draw :func:`posterior_marginals` and :func:`posterior_pairs` into ``out``
    (``posterior_marginals`` and ``posterior_pairs``, PNG and PDF); returns the paths."""
    out.mkdir(parents=True, exist_ok=True)
    paths = []
    for stem, draw in (
        ("posterior_marginals", posterior_marginals),
        ("posterior_pairs", posterior_pairs),
    ):
        fig = draw(posterior, bounds)
        try:
            paths += save_figure(fig, out / stem)
        finally:
            plt.close(fig)
    return paths

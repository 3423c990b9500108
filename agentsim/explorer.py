"""The results explorer (``agentsim viz --results DIR``): any stored result folder in a page.

This module owns the explorer: reading a result folder for the page, the page itself, and the
replay of a stored run.

- :func:`check_results_dir` says what kind of result a folder holds (``run``, ``mc``,
  ``sweep``, ``compare``, ``explore``, ``sensitivity`` or ``calibrate``) or raises
  :class:`~agentsim.config.ConfigError` with a one-line message, so the command line can refuse
  a bad folder before any server starts; :func:`load_results` reads the folder into
  :class:`Results` (cached per folder while its files stay the same);
- :func:`filter_keys`, :func:`filter_runs` and :class:`Range`: the filters by swept key (a
  sweep) or sampled parameter (an explore or sensitivity batch);
- :func:`result_tables`: the folder's tables, from the analysis code the command line uses
  (:func:`agentsim.tables.comparison_tables` and :func:`agentsim.tables.outcome_tables`, so the
  numbers are those ``agentsim compare``, ``mc`` and ``sweep`` print), of the runs the filters
  keep;
- the figures, drawn by :mod:`agentsim.figures`' public functions (as ``agentsim plot`` draws
  them): :func:`fan_figure`, :func:`distribution_figure`, :func:`survival_figure`,
  :func:`heatmap_figure`, :func:`indices_figure` and :func:`run_figure`;
- the replay: :func:`run_config` rebuilds a stored run's config as its batch's planner and
  worker did (the manifest's config of the run's scenario, with its grid point or sampled
  parameters applied as overrides, validated) and :func:`replay_run` runs it again on its
  stored seed and compares the replayed monthly series with the stored ones
  (:func:`series_differences`);
- :func:`Page`, the Solara page that ``solara run agentsim.explorer`` serves, for the folder
  named by the environment variable :data:`RESULTS_ENV`.

**The page.** A header names the folder, its kind, its scenarios and runs; a side panel holds
the filters; tabs show an overview (the first fan chart and the main table), fan charts,
distributions of summary outcomes, Kaplan-Meier curves, a sweep's heatmap, every table, the
replay of a picked run and what the manifest records. Tabs are drawn lazily (only the tab
shown, and in it only the chosen series or outcome); what is read and drawn is cached, per
folder and filter, for every page the server serves. A folder that is not an agentsim result
shows the one-line message of :func:`check_results_dir` and the page keeps running.

**Exports** are downloads (``solara.FileDownload``, their bytes made only when a button is
pressed): each figure the page draws, as PNG and PDF (:func:`exported_figure`); on the Replay
tab, the picked run's exact scenario, ``run.yaml`` (:func:`scenario_yaml`: the config the replay
rebuilds, which ``agentsim run run.yaml --seed SEED`` runs again); and ``command.txt``, the
command lines that reproduce the view (:func:`view_command`), also shown on the page.

**The replay** runs in a thread of the page (no process is started): picking a run replays it
month by month in a live view (the frontier race so far), then says whether the replayed
series equal the stored ones.
"""

from __future__ import annotations

import html
import io
import itertools
import math
import os
import shlex
import threading
import time
import warnings
from collections import OrderedDict
from collections.abc import Callable, Hashable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")  # drawn to PNG on the server, never shown

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import solara
import solara.lab
from matplotlib.figure import Figure

from agentsim import figures
from agentsim.analysis import design_points, value_key
from agentsim.config import Config, ConfigError
from agentsim.report import (
    KINDS,
    changed_keys,
    format_value,
    frame_table,
    result_kind,
)
from agentsim.store import (
    MANIFEST,
    RUN_FILES,
    RUNS,
    TIMESERIES,
    batch_keys,
    read_batch,
    read_manifest,
    read_run,
)
from agentsim.tables import (
    Table,
    comparison_tables,
    explore_tables,
    outcome_tables,
    outcome_unit,
)

#: The environment variable naming the result folder the page shows.
RESULTS_ENV = "AGENTSIM_RESULTS_DIR"
#: Kinds of folder whose runs (one per row of runs.parquet) the page can filter and replay.
BATCH_KINDS = ("mc", "sweep", "compare", "explore", "sensitivity")
#: The figures of a run folder: label -> figure function's input (see :func:`run_figure`).
RUN_VIEWS = {
    "The frontier race": "frontier",
    "US shares": "shares",
    "Capability of each lab": "capability",
    "Researcher moves": "talent_flows",
    "Network at the end of the run": "network",
}
#: The line the page shows when a replay matches (``no`` and the differing columns when not).
EQUAL_TEXT = "replayed series equal the stored ones: {}"
#: Figures and tables kept drawn (per server) for pages that ask again.
CACHE_SIZE = 64
#: Least seconds between two redraws of the live replay view.
LIVE_PAINT_S = 0.25
#: Dots per inch of the page's figures.
DPI = 130

CSS = """
.explorer-table { border-collapse: collapse; font-size: 12px; margin: 4px 0 12px 0; }
.explorer-table th, .explorer-table td { padding: 2px 8px; border-bottom: 1px solid #ddd;
  text-align: left; vertical-align: top; white-space: nowrap; }
.explorer-table td.num { text-align: right; font-variant-numeric: tabular-nums; }
.explorer-table td.wrap { white-space: normal; min-width: 16em; max-width: 40em; }
.explorer-table-box { overflow-x: auto; max-width: 100%; }
.explorer-caption, .explorer-live { font-size: 12px; color: #555; max-width: 70em; }
.explorer-figure img { max-width: 100%; height: auto; }
.explorer-command { font-size: 12px; margin: 2px 0; }
"""


# --------------------------------------------------------------------------- the folder


def check_results_dir(path: str | Path | None) -> str:
    """The kind of result that ``path`` holds: ``run``, ``mc``, ``sweep``, ``compare``,
    ``explore``, ``sensitivity`` or ``calibrate`` (see :data:`agentsim.report.KINDS`).

    Reads only the manifest or the run summary. Raises :class:`ConfigError` (one line, key: the
    folder) when ``path`` is empty or None (key :data:`RESULTS_ENV`), does not exist, is not a
    folder, holds neither a run nor a batch of a known kind, is a run folder that lacks one of
    its files, or is a batch that has not finished (no ``runs.parquet``).
    """
    if path is None or not str(path).strip():
        raise ConfigError(RESULTS_ENV, "not set; give a result folder (agentsim viz --results DIR)")
    folder = Path(path)
    kind = result_kind(folder)
    if kind == "run":
        missing = [name for name in RUN_FILES if not (folder / name).is_file()]
        if missing:
            raise ConfigError(
                str(folder), f"is not a complete run folder (missing {', '.join(missing)})"
            )
    elif kind in BATCH_KINDS and not (folder / RUNS).is_file():
        raise ConfigError(
            str(folder),
            f"holds no {RUNS}: the batch is unfinished (still running, or stopped); finish it "
            f"with agentsim {kind} --resume {folder}",
        )
    return kind


@dataclass(frozen=True, eq=False)
class Results:
    """A result folder as the page reads it.

    ``kind`` as :func:`check_results_dir` says; ``manifest`` the batch's manifest (empty for a
    run folder); ``runs`` and ``timeseries`` as :func:`agentsim.store.read_batch` reads them
    (empty for a run or calibration folder); ``run`` what :func:`agentsim.store.read_run`
    reads of a run folder (None otherwise); ``token`` changes whenever a file read changes.
    """

    folder: Path
    kind: str
    manifest: dict[str, Any]
    runs: pd.DataFrame
    timeseries: pd.DataFrame
    run: dict[str, Any] | None
    token: str

    @property
    def configs(self) -> dict[str, dict[str, Any]]:
        """The named scenario configs of a batch (as the manifest stores them)."""
        configs = self.manifest.get("configs")
        return {str(k): v for k, v in configs.items()} if isinstance(configs, dict) else {}

    @property
    def scenarios(self) -> list[str]:
        """The scenario names: a batch's configs, or a run's scenario."""
        if self.run is not None:
            return [run_scenario_name(self.run)]
        return list(self.configs)

    @property
    def runs_per_point(self) -> int:
        """Seeds per scenario, grid point or sample (the manifest's ``runs_per_point``)."""
        value = self.manifest.get("runs_per_point")
        return int(value) if isinstance(value, int) and not isinstance(value, bool) else 0

    @property
    def root_seed(self) -> Any:
        """The batch's root seed (None where not recorded)."""
        return self.manifest.get("root_seed")

    @property
    def grid(self) -> dict[str, list[Any]]:
        """A sweep's grid (swept key -> values, in grid order) as stored; empty otherwise."""
        grid = self.manifest.get("grid") if self.kind == "sweep" else None
        if not isinstance(grid, dict):
            return {}
        return {str(k): list(v) if isinstance(v, list) else [v] for k, v in grid.items()}

    @property
    def parameters(self) -> list[str]:
        """The sampled parameters of an explore or sensitivity batch (its uncertainty spec's
        names, those the runs hold); empty otherwise."""
        design = self.manifest.get("design")
        spec = design.get("uncertainty") if isinstance(design, dict) else None
        names = spec.get("parameters") if isinstance(spec, dict) else None
        if self.kind not in ("explore", "sensitivity") or not isinstance(names, dict):
            return []
        return [str(name) for name in names if name in self.runs]


def _signature(folder: Path) -> str:
    """What changes when a file the page reads changes (names, sizes, modification times)."""
    parts = []
    for name in (MANIFEST, RUNS, TIMESERIES, "summary.json", "model.parquet", "indices.csv"):
        try:
            stat = (folder / name).stat()
        except OSError:
            continue
        parts.append(f"{name}:{stat.st_size}:{stat.st_mtime_ns}")
    return f"{folder.resolve()}|" + "|".join(parts)


_LOADED: OrderedDict[str, Results] = OrderedDict()
_LOAD_LOCK = threading.Lock()


def load_results(path: str | Path) -> Results:
    """Read the result folder ``path`` for the page (cached while its files stay the same).

    Raises :class:`ConfigError` (one line) as :func:`check_results_dir`, and (key: the folder)
    when a stored file cannot be read.
    """
    kind = check_results_dir(path)
    folder = Path(path)
    token = _signature(folder)
    with _LOAD_LOCK:
        cached = _LOADED.get(token)
        if cached is not None:
            _LOADED.move_to_end(token)
            return cached
        try:
            results = _read(folder, kind, token)
        except ConfigError:
            raise
        except Exception as exc:  # a damaged file: say which folder, in one line
            reason = f"{exc.__class__.__name__}: {exc}".splitlines()[0]
            raise ConfigError(str(folder), f"cannot read the stored results ({reason})") from None
        _LOADED[token] = results
        while len(_LOADED) > 4:
            _LOADED.popitem(last=False)
        return results


def _read(folder: Path, kind: str, token: str) -> Results:
    empty = pd.DataFrame()
    if kind == "run":
        return Results(folder, kind, {}, empty, empty, read_run(folder), token)
    if kind == "calibrate":
        return Results(folder, kind, read_manifest(folder, str(folder)), empty, empty, None, token)
    batch = read_batch(folder)
    return Results(folder, kind, batch.manifest, batch.runs, batch.timeseries, None, token)


def run_scenario_name(run: Mapping[str, Any]) -> str:
    """The scenario name in a run folder's ``config.yaml`` (``scenario`` when it has none)."""
    import yaml

    try:
        parsed = yaml.safe_load(run["config"])
    except Exception:  # the name only labels the page
        return "scenario"
    return str(parsed.get("name", "scenario")) if isinstance(parsed, dict) else "scenario"


def facts(results: Results) -> list[tuple[str, str]]:
    """What the page's header says of the folder: (label, text) pairs."""
    if results.run is not None:
        summary = results.run["summary"]
        return [
            ("scenario", results.scenarios[0]),
            ("seed", str(summary.get("seed"))),
            ("months", str(summary.get("steps"))),
        ]
    shown: list[tuple[str, str]] = [("scenarios", ", ".join(results.scenarios) or "none")]
    if results.kind in BATCH_KINDS:
        runs = results.runs
        failed = int(runs["error"].notna().sum()) if "error" in runs else 0
        unit = {"sweep": "grid point", "explore": "sample", "sensitivity": "design point"}.get(
            results.kind, "scenario"
        )
        shown.append(
            ("runs", f"{len(runs)} stored, {failed} failed; {results.runs_per_point} seeds per "
             f"{unit}")
        )  # fmt: skip
    if results.grid:
        text = "; ".join(f"{k} = {format_value(v)}" for k, v in results.grid.items())
        shown.append(("grid", text))
    if results.parameters:
        shown.append(("sampled parameters", ", ".join(results.parameters)))
    if results.root_seed is not None:
        shown.append(("root seed", str(results.root_seed)))
    manifest = results.manifest
    for label, key in (("command", "command"), ("status", "status"), ("finished", "finished")):
        if manifest.get(key):
            shown.append((label, str(manifest[key])))
    return shown


# --------------------------------------------------------------------------- filters


@dataclass(frozen=True)
class Range:
    """A closed interval ``[low, high]`` of a sampled parameter's values."""

    low: float
    high: float


def filter_keys(results: Results) -> dict[str, list[Any] | Range]:
    """The keys the page filters by, each with everything it may take: a sweep's swept keys
    with their grid values (in grid order, those the runs hold), or an explore or sensitivity
    batch's sampled parameters with the :class:`Range` of their values. Empty for other
    folders."""
    keys: dict[str, list[Any] | Range] = {}
    for key in figures.swept_keys(results.manifest, results.runs):
        keys[key] = list(results.grid[key])
    for name in results.parameters:
        values = pd.to_numeric(results.runs[name], errors="coerce").astype(float).dropna()
        if len(values):
            keys[name] = Range(float(values.min()), float(values.max()))
    return keys


def filter_runs(
    runs: pd.DataFrame, selection: Mapping[str, Sequence[Any] | Range] | None = None
) -> pd.DataFrame:
    """The runs whose value of every key of ``selection`` is selected: one of the listed
    values (compared as stored values are: ``3`` and ``3.0`` alike, a missing value equal to
    a missing one), or within a :class:`Range` (ends included). Keys the runs lack are
    ignored; an empty list keeps no run. Rows keep their order and index."""
    keep = np.ones(len(runs), dtype=bool)
    for key, chosen in (selection or {}).items():
        if key not in runs:
            continue
        if isinstance(chosen, Range):
            values = pd.to_numeric(runs[key], errors="coerce").astype(float).to_numpy()
            keep &= (values >= chosen.low) & (values <= chosen.high)
        else:
            allowed = {value_key(v) for v in chosen}
            keep &= np.fromiter(
                (value_key(v) in allowed for v in runs[key].tolist()), dtype=bool, count=len(runs)
            )
    return runs[keep]


def snap_range(value: Sequence[float], domain: Range, positions: int = 100) -> Range:
    """A slider's ``(low, high)`` as a :class:`Range` of ``domain``: an end within half a
    slider step (``positions`` steps span the domain) of the domain's end is that end, so a
    slider at its ends keeps every run whatever its rounding."""
    half = (domain.high - domain.low) / positions / 2
    low, high = float(min(value)), float(max(value))
    low = domain.low if low <= domain.low + half else low
    high = domain.high if high >= domain.high - half else high
    return Range(low, high)


def selection_key(selection: Mapping[str, Sequence[Any] | Range] | None) -> Hashable:
    """A hashable key of a filter selection (for caches)."""
    items = []
    for key, chosen in sorted((selection or {}).items()):
        if isinstance(chosen, Range):
            items.append((key, ("range", chosen.low, chosen.high)))
        else:
            items.append((key, tuple(value_key(v) for v in chosen)))
    return tuple(items)


def series_of(timeseries: pd.DataFrame, runs: pd.DataFrame) -> pd.DataFrame:
    """The rows of ``timeseries`` of the runs in ``runs``."""
    if timeseries.empty:
        return timeseries
    return timeseries[timeseries["run_id"].isin(runs["run_id"].to_numpy())]


def selected_grid(results: Results, runs: pd.DataFrame) -> dict[str, list[Any]]:
    """A sweep's grid cut to the values that ``runs`` holds (grid order kept)."""
    grid = {}
    for key, values in results.grid.items():
        held = {value_key(v) for v in runs[key].tolist()} if key in runs else set()
        grid[key] = [v for v in values if value_key(v) in held]
    return grid


# --------------------------------------------------------------------------- tables


def result_tables(results: Results, runs: pd.DataFrame | None = None) -> dict[str, Table]:
    """The folder's tables (name -> :class:`agentsim.tables.Table`), of ``runs`` (default:
    every run; for an mc, sweep, compare or explore folder, the runs the filters keep):

    - compare: :func:`agentsim.tables.comparison_tables` (``summary``, ``relative``,
      ``survival``, ``comparison``), as ``agentsim compare`` prints and saves them;
    - mc and sweep: :func:`agentsim.tables.outcome_tables` (``summary``; a sweep's grid cut to
      the values the runs hold);
    - explore: ``summary``, the spread of the key outcomes per scenario (mean and 5%, 50%
      and 95% quantiles, as the report shows it);
    - sensitivity: ``noise`` and one ranking per outcome (``indices-<outcome>``,
      :func:`agentsim.explore.ranking`) from the stored indices (never filtered);
    - calibrate: ``fit`` and ``posterior`` as stored;
    - run: ``summary``, the run's summary outcomes.

    Raises as the analysis functions do (a ``ValueError`` or ``KeyError`` for runs they refuse).
    """
    runs = results.runs if runs is None else runs
    name = results.scenarios[0] if results.scenarios else "scenario"
    per_point, root_seed = results.runs_per_point, results.root_seed
    if results.kind == "compare":
        names = results.scenarios
        if len(names) != 2:
            return {}
        return comparison_tables(runs, names[0], names[1], per_point, root_seed)
    if results.kind in ("mc", "sweep"):
        return outcome_tables(runs, name, per_point, root_seed, selected_grid(results, runs))
    if results.kind == "explore":
        return explore_tables(runs)
    if results.kind == "sensitivity":
        return _sensitivity_tables(results.folder)
    if results.kind == "calibrate":
        return _calibration_tables(results.folder)
    return {"summary": _run_table(results)}


def _sensitivity_tables(folder: Path) -> dict[str, Table]:
    from agentsim.explore import ranking

    tables: dict[str, Table] = {}
    noise_path, indices_path = folder / "noise.csv", folder / "indices.csv"
    if noise_path.is_file():
        tables["noise"] = Table(
            "noise",
            "Seed noise per outcome",
            "seed_noise_share: the part of the variance of the design points' seed means that "
            "seed noise alone makes (0: none; near 1: the parameters explain nothing).",
            pd.read_csv(noise_path),
        )
    if indices_path.is_file():
        indices = sensitivity_indices(folder)
        for outcome in dict.fromkeys(indices["outcome"]):
            tables[f"indices-{outcome}"] = Table(
                f"indices-{outcome}",
                f"{outcome}: parameters by influence",
                "Flagged parameters are below the seed-noise floor and not ranked.",
                ranking(indices, outcome),
            )
    return tables


def sensitivity_indices(folder: Path) -> pd.DataFrame:
    """A sensitivity folder's ``indices.csv`` (empty when it has none)."""
    path = Path(folder) / "indices.csv"
    if not path.is_file():
        return pd.DataFrame(columns=["outcome", "method", "below_noise_floor"])
    indices = pd.read_csv(path)
    if "below_noise_floor" in indices:
        indices["below_noise_floor"] = indices["below_noise_floor"].astype(bool)
    return indices


def _calibration_tables(folder: Path) -> dict[str, Table]:
    tables = {}
    for name, file, title, caption in (
        (
            "fit",
            "fit_report.csv",
            "Fit to the targets",
            "Posterior-predictive median and central 90% interval per target; "
            "within_tolerance: the median lies within the target's tolerance.",
        ),
        (
            "posterior",
            "posterior_summary.csv",
            "Posterior of the parameters",
            "Prior, posterior median and 90% interval, and how much the targets inform each "
            "parameter.",
        ),
    ):
        if (folder / file).is_file():
            tables[name] = Table(name, title, caption, pd.read_csv(folder / file))
    return tables


def _run_table(results: Results) -> Table:
    from agentsim.survival import TIME_TO_EVENT

    summary = results.run["summary"] if results.run is not None else {}
    steps = summary.get("steps")
    rows = [
        {
            "outcome": key,
            "unit": outcome_unit(key),
            "value": f"never within {steps} months"
            if key in TIME_TO_EVENT and value is None
            else value,
        }
        for key, value in summary.items()
    ]
    frame = pd.DataFrame(rows, columns=["outcome", "unit", "value"])
    title = f"{results.scenarios[0]}: run summary (seed {summary.get('seed')})"
    return Table("summary", title, "One run: a single draw of the model's randomness.", frame)


def table_html(table: Table, limit: int = 500) -> str:
    """A table as the page shows it: an HTML ``<table>`` (class ``explorer-table``) with every
    cell as :func:`agentsim.report.format_cell` writes it (as the command line prints it),
    numbers right-aligned, every text escaped; at most ``limit`` rows (the page says how many
    are left out)."""
    shown = frame_table(table.frame.head(limit), table.name, table.title, table.caption)
    head = "".join(f"<th>{html.escape(c)}</th>" for c in shown.columns)
    body = "".join(
        "<tr>"
        + "".join(
            f'<td class="{css}">{html.escape(cell)}</td>'
            for cell, css in zip(row, shown.classes, strict=True)
        )
        + "</tr>"
        for row in shown.rows
    )
    more = len(table.frame) - len(shown.rows)
    note = f"<p class='explorer-caption'>{more} more rows not shown.</p>" if more > 0 else ""
    return (
        f'<div class="explorer-table-box"><table class="explorer-table" '
        f'data-table="{html.escape(table.name)}"><thead><tr>{head}</tr></thead>'
        f"<tbody>{body}</tbody></table></div>{note}"
    )


# --------------------------------------------------------------------------- figures


def fan_figure(results: Results, runs: pd.DataFrame, column: str) -> Figure:
    """The fan chart of a time-series ``column`` (one of :data:`agentsim.figures.FANS`) over
    ``runs``, as ``agentsim plot`` draws it (:func:`agentsim.figures.fan_chart`). Raises
    ``KeyError`` for a column the series lack."""
    ylabel = {c: label for c, label, _ in figures.FANS}.get(column, column)
    keys = figures.swept_keys(results.manifest, runs)
    return figures.fan_chart(
        series_of(results.timeseries, runs), runs, column, ylabel, ylabel.split(" (")[0], keys
    )


def point_labels(results: Results, runs: pd.DataFrame) -> list[str]:
    """Each run's group in the distributions: its scenario, or a sweep's swept values
    (``strength=0.3, enabled=true``)."""
    keys = figures.swept_keys(results.manifest, runs)
    if not keys:
        return [str(s) for s in runs["scenario"].tolist()]
    columns = [runs[key].tolist() for key in keys]
    return [
        ", ".join(
            f"{key.rsplit('.', 1)[-1]}={format_value(_plain(v))}"
            for key, v in zip(keys, row, strict=True)
        )
        for row in zip(*columns, strict=True)
    ]


def distribution_outcomes(runs: pd.DataFrame) -> list[tuple[str, str]]:
    """The summary outcomes whose distributions the page draws: (column, label)."""
    return [(c, label) for c, label in figures.EXPLORE_OUTCOMES if c in runs]


def distribution_figure(results: Results, runs: pd.DataFrame, outcome: str) -> Figure:
    """Histograms of one summary ``outcome`` over ``runs``, one per scenario (a sweep: per
    grid point), drawn by :func:`agentsim.figures.outcome_distributions`."""
    frame = pd.DataFrame(
        {
            "scenario": point_labels(results, runs),
            "error": runs["error"].to_numpy() if "error" in runs else None,
            outcome: pd.to_numeric(runs[outcome].astype(object), errors="coerce").to_numpy(),
        }
    )
    fig = figures.outcome_distributions(frame)
    if results.kind != "explore":  # the runs spread over seeds (and grid points) only
        spread = "seeds" if results.kind != "sweep" else "seeds, per grid point"
        fig.axes[0].set_title(f"Distribution over the runs' {spread}")
    return fig


def survival_figure(results: Results, runs: pd.DataFrame, outcome: str) -> Figure:
    """Kaplan-Meier curves of a time-to-event ``outcome`` over ``runs``
    (:func:`agentsim.figures.survival_chart`, per scenario or grid point)."""
    return figures.survival_chart(runs, outcome, figures.swept_keys(results.manifest, runs))


#: The outcomes a sweep's heatmap shows: column -> label.
HEATMAP_OUTCOMES = {
    "overtaken": "probability of a non-US overtake",
    **{c: label for c, label in figures.EXPLORE_OUTCOMES},
}


def heatmap_figure(results: Results, runs: pd.DataFrame, outcome: str = "overtaken") -> Figure:
    """A sweep's heatmap of ``outcome`` over its first two swept keys
    (:func:`agentsim.figures.sweep_heatmap`), of the grid values the runs hold."""
    label = HEATMAP_OUTCOMES.get(outcome, outcome)
    return figures.sweep_heatmap(runs, selected_grid(results, runs), outcome, label)


def indices_figure(results: Results, outcome: str) -> Figure:
    """A sensitivity folder's indices of ``outcome``: Morris screening or Sobol bars."""
    indices = sensitivity_indices(results.folder)
    part = indices[indices["outcome"] == outcome]
    if (part["method"] == "morris").any():
        return figures.morris_screening(indices, outcome)
    return figures.sobol_bars(indices, outcome)


def run_figure(results: Results, view: str) -> Figure:
    """One figure of a run folder (a value of :data:`RUN_VIEWS`), as ``agentsim plot`` draws
    it."""
    run = results.run or {}
    if view == "frontier":
        return figures.frontier_race(run["model"])
    if view == "shares":
        return figures.share_panels(run["model"])
    if view == "capability":
        return figures.capability_paths(run["labs"])
    if view == "talent_flows":
        return figures.talent_flows(run["flows"])
    if view == "network":
        return figures.network_snapshot(run["network"], run["labs"])
    raise KeyError(view)


def stored_pictures(results: Results) -> dict[str, Path]:
    """PNG figures a calibration or explore folder already holds: label -> file."""
    where = [results.folder / "figures", results.folder / "discovery"]
    found = {}
    for folder in where:
        for path in sorted(folder.glob("*.png")) if folder.is_dir() else []:
            found[path.stem.replace("_", " ")] = path
    return found


_DRAW_LOCK = threading.RLock()  # pyplot is not thread-safe; pages draw one at a time
_TABLE_LOCK = threading.RLock()  # one computation of a table at a time (no duplicates)
_PICTURES: OrderedDict[Hashable, bytes] = OrderedDict()
_TABLES: OrderedDict[Hashable, dict[str, Table]] = OrderedDict()


#: What a saved figure says of its maker: nothing (the same figure, the same bytes).
_NO_METADATA = {
    "png": {"Software": None},
    "pdf": {"Creator": None, "Producer": None, "CreationDate": None},
}


def figure_bytes(fig: Figure, fmt: str = "png") -> bytes:
    """``fig`` saved as ``fmt`` (``png`` at :data:`DPI`, or ``pdf``) to bytes; the figure is
    closed."""
    if fmt not in _NO_METADATA:
        raise ValueError(f"a figure is exported as png or pdf, not {fmt!r}")
    buffer = io.BytesIO()
    try:
        with warnings.catch_warnings():  # a date axis of one month says it cannot tick well
            warnings.simplefilter("ignore", UserWarning)
            fig.savefig(buffer, format=fmt, dpi=DPI, metadata=_NO_METADATA[fmt])
    finally:
        plt.close(fig)
    return buffer.getvalue()


def png(fig: Figure) -> bytes:
    """``fig`` as PNG bytes at :data:`DPI`; the figure is closed."""
    return figure_bytes(fig, "png")


def _remember(
    cache: OrderedDict, key: Hashable, make: Callable[[], Any], lock: Any = _DRAW_LOCK
) -> Any:
    with lock:
        if key in cache:
            cache.move_to_end(key)
            return cache[key]
        value = make()
        cache[key] = value
        while len(cache) > CACHE_SIZE:
            cache.popitem(last=False)
        return value


def picture(key: Hashable, draw: Callable[[], Figure]) -> bytes:
    """The PNG of the figure ``draw()`` returns, drawn once per ``key`` (kept for
    :data:`CACHE_SIZE` figures, for every page of the server)."""
    return _remember(_PICTURES, key, lambda: png(draw()))


def exported_figure(key: Hashable, draw: Callable[[], Figure], fmt: str) -> bytes:
    """The figure of ``key`` as a download: the PNG the page shows (:func:`picture`, drawn
    once) or a PDF of it, drawn once per ``key`` when first asked for."""
    if fmt == "png":
        return picture(key, draw)
    return _remember(_PICTURES, ("export", fmt, key), lambda: figure_bytes(draw(), fmt))


def cached_tables(
    results: Results, runs: pd.DataFrame, selection: Mapping[str, Any] | None
) -> dict[str, Table]:
    """:func:`result_tables` of ``runs``, computed once per folder and filter selection."""
    key = (results.token, selection_key(selection))
    return _remember(_TABLES, key, lambda: result_tables(results, runs), _TABLE_LOCK)


def computed_tables(results: Results, selection: Mapping[str, Any] | None) -> dict | None:
    """The tables :func:`cached_tables` already holds for this folder and selection (None
    when they are still to be computed); never waits."""
    return _TABLES.get((results.token, selection_key(selection)))


# --------------------------------------------------------------------------- replay


def _plain(value: Any) -> Any:
    """A stored value as a plain Python value (numpy and pandas scalars unwrapped, missing
    as None)."""
    if value is None or value is pd.NA or (isinstance(value, float) and math.isnan(value)):
        return None
    return value.item() if hasattr(value, "item") else value


def _row(results: Results, run_id: int) -> pd.Series:
    rows = results.runs[results.runs["run_id"] == run_id]
    if not len(rows):
        raise ConfigError("run", f"no run {run_id} in {results.folder}")
    return rows.iloc[0]


def run_overrides(results: Results, run_id: int) -> dict[str, Any]:
    """The overrides a batch's planner gave run ``run_id`` (dotted key -> value): a sweep's
    grid point (point g of the product of the grid's values, in grid order, as
    :func:`agentsim.ensemble.plan_sweep` numbers them), an explore or sensitivity batch's
    sampled values (as :meth:`agentsim.uncertainty.UncertaintySpec.overrides` makes them from
    the run's row); none for a Monte Carlo or comparison. Raises :class:`ConfigError` for a
    run id the folder lacks or a point outside the grid."""
    row = _row(results, run_id)
    if results.kind == "sweep":
        grid = results.grid
        point = design_points(row.to_frame().T).iloc[0]
        points = list(itertools.product(*grid.values()))
        if math.isnan(point) or not 0 <= int(point) < len(points):
            raise ConfigError("run", f"run {run_id} has no grid point of {results.folder}")
        return dict(zip(grid, points[int(point)], strict=True))
    if results.kind in ("explore", "sensitivity"):
        from agentsim.uncertainty import UncertaintySpec

        spec = UncertaintySpec.from_dict(results.manifest["design"]["uncertainty"])
        return spec.overrides({name: _plain(row[name]) for name in spec.names})
    return {}


def run_config(results: Results, run_id: int | None = None) -> tuple[Config, int]:
    """The validated config and seed of a stored run, as its batch's worker built it
    (:func:`agentsim.ensemble.run_chunk`: the manifest's config of the run's scenario, with
    :func:`run_overrides` applied, validated), or a run folder's ``config.yaml`` and seed.

    Raises :class:`ConfigError` for a run id the folder lacks, a folder with no runs to replay
    (a calibration) and a stored config the schema now refuses.
    """
    from agentsim.scenario_io import apply_overrides, load_config, validate_config

    if results.kind == "run":
        config = load_config(results.folder / "config.yaml")
        return config, int(results.run["summary"]["seed"]) if results.run else 0
    if results.kind not in BATCH_KINDS:
        raise ConfigError(str(results.folder), f"a {results.kind} folder stores no runs to replay")
    if run_id is None:
        raise ConfigError("run", "give the run id of the run to replay")
    row = _row(results, run_id)
    configs = results.configs
    scenario = str(_plain(row["scenario"]))
    if scenario not in configs and len(configs) == 1:  # a scenario without a name
        scenario = next(iter(configs))
    if scenario not in configs:
        raise ConfigError("run", f"run {run_id}'s scenario {scenario!r} is not in the manifest")
    data = apply_overrides(configs[scenario], run_overrides(results, run_id))
    return validate_config(data), int(row["seed"])


def run_seed(results: Results, run_id: int | None = None) -> int:
    """The stored seed of run ``run_id`` (a run folder: its run's seed), without rebuilding its
    config."""
    if results.kind == "run":
        return int(results.run["summary"]["seed"]) if results.run else 0
    return int(_row(results, int(run_id) if run_id is not None else -1)["seed"])


def scenario_yaml(results: Results, run_id: int | None = None) -> str:
    """The exact scenario of a stored run as YAML (``run.yaml``): the validated config the
    replay rebuilds (:func:`run_config`), which ``agentsim run run.yaml --seed SEED`` (the
    run's stored seed) runs again to the stored series. Raises :class:`ConfigError` as
    :func:`run_config`."""
    from agentsim.scenario_io import dump_config

    return dump_config(run_config(results, run_id)[0])


def view_command(results: Results, seed: int | None = None) -> str:
    """The command lines that reproduce the view: ``agentsim viz --results DIR`` and, with
    the ``seed`` of a replayed run, ``agentsim run run.yaml --seed SEED`` (``run.yaml``: its
    :func:`scenario_yaml`); the contents of ``command.txt``."""
    lines = [f"agentsim viz --results {shlex.quote(str(results.folder))}"]
    if seed is not None:
        lines.append(f"agentsim run run.yaml --seed {int(seed)}")
    return "\n".join(lines) + "\n"


def stored_series(results: Results, run_id: int | None = None) -> pd.DataFrame:
    """The stored monthly series of a run (the model frame's columns, as the run recorded
    them): a batch's rows of ``timeseries.parquet`` for ``run_id`` without the run's keys, or
    a run folder's ``model.parquet``."""
    if results.run is not None:
        return results.run["model"].reset_index(drop=True)
    series = results.timeseries
    rows = series[series["run_id"] == run_id] if len(series) else series
    keys = ["run_id", *batch_keys(results.manifest)]
    return rows.drop(columns=[k for k in keys if k in rows]).reset_index(drop=True)


def series_differences(stored: pd.DataFrame, replayed: pd.DataFrame) -> list[str]:
    """The columns in which two monthly series differ (empty: equal): a column one lacks, a
    different number of months, or any value that differs (numbers by value, missing equal
    to missing)."""
    names = list(dict.fromkeys([*stored.columns, *replayed.columns]))
    if len(stored) != len(replayed):
        return [f"months ({len(stored)} stored, {len(replayed)} replayed)"]
    differing = []
    for name in names:
        if name not in stored or name not in replayed:
            differing.append(name)
            continue
        a, b = stored[name].reset_index(drop=True), replayed[name].reset_index(drop=True)
        if a.dtype == b.dtype and a.equals(b):
            continue
        same = all(
            value_key(u) == value_key(v) for u, v in zip(a.tolist(), b.tolist(), strict=True)
        )
        if not same:
            differing.append(name)
    return differing


@dataclass
class Replay:
    """A stored run replayed: which run (``run_id``, None for a run folder), its scenario and
    seed, the replayed and stored series and the columns in which they differ."""

    run_id: int | None
    scenario: str
    seed: int
    replayed: pd.DataFrame
    stored: pd.DataFrame
    differing: list[str] = field(default_factory=list)

    @property
    def equal(self) -> bool:
        """Whether the replayed series equal the stored ones."""
        return not self.differing

    @property
    def verdict(self) -> str:
        """The page's line: ``replayed series equal the stored ones: yes`` (or ``no``, with
        the differing columns)."""
        if self.equal:
            return EQUAL_TEXT.format("yes")
        return EQUAL_TEXT.format("no") + f" (differing: {', '.join(self.differing[:8])})"


def replay_run(
    results: Results,
    run_id: int | None = None,
    on_step: Callable[[Any], None] | None = None,
) -> Replay:
    """Run a stored run again from its stored config and seed (:func:`run_config`) with the
    step loop every batch uses (:func:`agentsim.run.run`, audited as batches run it), and
    compare the replayed monthly series with the stored ones (:func:`series_differences`).

    ``on_step(model)`` is called after every month (the live view). Raises
    :class:`ConfigError` as :func:`run_config`, and :class:`ConfigError` (key ``run``) for a
    failed run, which has no stored series.
    """
    from agentsim.run import run

    if results.kind in BATCH_KINDS:
        row = _row(results, int(run_id) if run_id is not None else -1)
        if "error" in row and _plain(row["error"]) is not None:
            raise ConfigError("run", f"run {run_id} failed when it was run; it has no series")
    config, seed = run_config(results, run_id)
    result = run(config, seed=seed, audit=results.kind in BATCH_KINDS, on_step=on_step)
    stored = stored_series(results, run_id)
    replayed = result.model_frame.reset_index(drop=True)
    return Replay(
        None if run_id is None else int(run_id),
        config.name,
        seed,
        replayed,
        stored,
        series_differences(stored, replayed),
    )


def run_label(results: Results, row: Mapping[str, Any]) -> str:
    """How the page names a stored run: ``run 4: baseline, seed 123, strength=0.3``."""
    text = f"run {int(row['run_id'])}: {row['scenario']}, seed {int(row['seed'])}"
    keys = figures.swept_keys(results.manifest, results.runs)
    text += "".join(f", {k.rsplit('.', 1)[-1]}={format_value(_plain(row[k]))}" for k in keys)
    if results.kind in ("explore", "sensitivity"):
        text += f", sample {int(row['point'])}" if _plain(row.get("point")) is not None else ""
    return text


def replayable(results: Results, runs: pd.DataFrame) -> dict[str, int]:
    """The runs of ``runs`` that can be replayed (those that did not fail): label -> run id."""
    ok = runs[runs["error"].isna()] if "error" in runs else runs
    return {run_label(results, row): int(row["run_id"]) for row in ok.to_dict("records")}


# --------------------------------------------------------------------------- the page


def page_folder() -> str:
    """The folder the page shows: the environment variable :data:`RESULTS_ENV`."""
    return os.environ.get(RESULTS_ENV, "")


def open_results(folder: str) -> Results | str:
    """:func:`load_results` of ``folder``, or the one-line message of its
    :class:`ConfigError` (the page shows it and keeps running)."""
    try:
        return load_results(folder)
    except ConfigError as exc:
        return str(exc)


@solara.component
def TableView(table: Table) -> None:  # noqa: N802
    """One table: its title, the table and its caption."""
    with solara.Column(gap="2px", classes=["explorer-table-view"]):
        solara.HTML(tag="b", unsafe_innerHTML=html.escape(table.title))
        if table.frame.empty:
            solara.Text("(no rows)")
        else:
            solara.HTML(tag="div", unsafe_innerHTML=table_html(table))
        if table.caption:
            solara.Text(table.caption, classes=["explorer-caption"])


@solara.component
def FigureView(  # noqa: N802
    key: Hashable,
    draw: Callable[[], Figure],
    title: str = "",
    shared: bool = True,
    export: str = "",
) -> None:
    """One figure, drawn once per ``key`` (kept for every page with ``shared``, see
    :func:`picture`); a figure that cannot be drawn is named with why, and the page stands.
    With ``export`` (a file name without suffix), PNG and PDF downloads of the figure follow
    it (:func:`exported_figure`: made when a button is pressed, not before)."""

    def make() -> bytes | str:
        try:
            if not shared:
                with _DRAW_LOCK:
                    return png(draw())
            return picture(key, draw)
        except Exception as exc:
            reason = f"{exc.__class__.__name__}: {exc}".splitlines()[0]
            return f"{title or 'figure'}: not drawn ({reason})"

    data = solara.use_memo(make, [key])
    if isinstance(data, str):
        solara.Warning(data)
    else:
        with solara.Div(classes=["explorer-figure"]):
            solara.Image(data, format="png")
        if export and shared:
            FigureExport(key, draw, export)


@solara.component
def FigureExport(key: Hashable, draw: Callable[[], Figure], stem: str) -> None:  # noqa: N802
    """Downloads of the figure shown: ``stem.png`` and ``stem.pdf`` (bytes made on demand)."""
    with solara.Row(gap="4px"):
        for fmt in ("png", "pdf"):
            solara.FileDownload(
                lambda fmt=fmt: exported_figure(key, draw, fmt),
                filename=f"{stem}.{fmt}",
                label=f"Figure ({fmt.upper()})",
            )


@solara.component
def CommandExport(results: Results, seed: int | None = None) -> None:  # noqa: N802
    """The command lines that reproduce the view (:func:`view_command`), shown and as a
    ``command.txt`` download."""
    text = view_command(results, seed)
    solara.HTML(
        tag="pre", unsafe_innerHTML=html.escape(text.rstrip("\n")), classes=["explorer-command"]
    )
    solara.FileDownload(text, filename="command.txt", label="Command (command.txt)")


def pick(choice: solara.Reactive, options: Sequence[str]) -> str:
    """The option shown: the one chosen, else the first (nothing is set while drawing)."""
    return choice.value if choice.value in options else options[0]


@solara.component
def Choice(label: str, values: list[str], choice: solara.Reactive) -> None:  # noqa: N802
    """A menu of ``values`` (shown only when there is more than one), its pick in ``choice``
    (the first value until one is picked)."""
    if len(values) > 1:
        solara.Select(
            label=label,
            values=values,
            value=pick(choice, values),
            on_value=choice.set,
            style={"max-width": "40em"},
        )


def _fan_columns(results: Results) -> dict[str, str]:
    series = results.timeseries
    return {label.split(" (")[0]: c for c, label, _ in figures.FANS if c in series}


@solara.component
def ChosenFigure(  # noqa: N802
    kind: str,
    menu: str,
    options: Mapping[str, str],
    empty: str,
    results: Results,
    key: Hashable,
    choice: solara.Reactive,
    draw: Callable[[str], Figure],
    title_by_label: bool = False,
) -> None:
    """One figure of ``kind`` for the option picked in the menu named ``menu`` (``options``:
    the label shown -> what ``draw`` draws), drawn once per selection ``key``; ``empty`` is
    said instead when there is no option. The figure's title names the option's label
    (``title_by_label``) or what is drawn; its downloads are ``<kind>_<what is drawn>``."""
    if not options:
        solara.Info(empty)
        return
    chosen = pick(choice, list(options))
    Choice(menu, list(options), choice)
    drawn = options[chosen]
    FigureView(
        (kind, results.token, key, drawn),
        lambda: draw(drawn),
        f"{kind}: {chosen if title_by_label else drawn}",
        export=f"{kind}_{drawn}",
    )


@solara.component
def FanView(  # noqa: N802
    results: Results, runs: pd.DataFrame, key: Hashable, choice: solara.Reactive
) -> None:
    """The fan chart of the chosen series (one figure drawn)."""
    ChosenFigure(
        "fan",
        "Series",
        {} if runs.empty else _fan_columns(results),
        "No run with a time series is selected: no fan chart.",
        results,
        key,
        choice,
        lambda column: fan_figure(results, runs, column),
        title_by_label=True,
    )


@solara.component
def DistributionView(  # noqa: N802
    results: Results, runs: pd.DataFrame, key: Hashable, choice: solara.Reactive
) -> None:
    """The distribution of the chosen summary outcome (one figure drawn)."""
    ChosenFigure(
        "distribution",
        "Outcome",
        {} if runs.empty else {label: c for c, label in distribution_outcomes(runs)},
        "No summary outcome to draw for the selected runs.",
        results,
        key,
        choice,
        lambda column: distribution_figure(results, runs, column),
        title_by_label=True,
    )


@solara.component
def SurvivalView(  # noqa: N802
    results: Results, runs: pd.DataFrame, key: Hashable, choice: solara.Reactive
) -> None:
    """The Kaplan-Meier curves of the chosen time-to-event outcome."""
    from agentsim.survival import TIME_TO_EVENT

    ChosenFigure(
        "survival",
        "Event",
        {f"{o}: {TIME_TO_EVENT[o]}": o for o in figures.survival_outcomes(runs)},
        "No selected run has a time to an event (no event happened): no curves.",
        results,
        key,
        choice,
        lambda outcome: survival_figure(results, runs, outcome),
    )


@solara.component
def HeatmapView(  # noqa: N802
    results: Results, runs: pd.DataFrame, key: Hashable, choice: solara.Reactive
) -> None:
    """A sweep's heatmap of the chosen outcome."""
    ChosenFigure(
        "heatmap",
        "Outcome",
        {} if runs.empty else {label: c for c, label in HEATMAP_OUTCOMES.items() if c in runs},
        "No selected run: no heatmap.",
        results,
        key,
        choice,
        lambda outcome: heatmap_figure(results, runs, outcome),
    )


@solara.component
def IndicesView(results: Results, choice: solara.Reactive) -> None:  # noqa: N802
    """A sensitivity folder's indices of the chosen outcome: the figure and the ranking."""
    indices = sensitivity_indices(results.folder)
    outcomes = [str(o) for o in dict.fromkeys(indices["outcome"])]
    if not outcomes:
        solara.Info("The folder holds no indices.csv (the analysis did not finish): no indices.")
        return
    chosen = pick(choice, list(outcomes))
    Choice("Outcome", outcomes, choice)
    solara.Text(
        "The indices use every design point: the filters do not apply to them.",
        classes=["explorer-caption"],
    )
    FigureView(
        ("indices", results.token, chosen),
        lambda: indices_figure(results, chosen),
        f"indices: {chosen}",
        export=f"indices_{chosen}",
    )
    tables = cached_tables(results, results.runs, {})
    if f"indices-{chosen}" in tables:
        TableView(tables[f"indices-{chosen}"])


@solara.component
def TablesView(  # noqa: N802
    results: Results, runs: pd.DataFrame, selection: Mapping[str, Any], only: str = ""
) -> None:
    """The folder's tables of the selected runs (``only``: just that one, else all). Tables
    not yet computed are computed in the background (the rest of the page is shown first)."""
    ready = computed_tables(results, selection)
    task = solara.lab.use_task(
        lambda: cached_tables(results, runs, selection),
        dependencies=[results.token, selection_key(selection)],
    )
    if ready is None and task.error:
        exc = task.exception
        reason = f"{exc.__class__.__name__}: {exc}".splitlines()[0]
        solara.Warning(f"The tables cannot be computed for the selected runs ({reason}).")
        return
    tables = ready if ready is not None else task.value if task.finished else None
    if tables is None:
        solara.ProgressLinear(True)
        solara.Text("computing the tables...", classes=["explorer-caption"])
        return
    shown = [tables[only]] if only in tables else [] if only else list(tables.values())
    if not shown and only and tables:
        shown = [next(iter(tables.values()))]
    if not shown:
        solara.Info("No table for the selected runs.")
    for table in shown:
        TableView(table)


@solara.component
def PicturesView(results: Results, choice: solara.Reactive) -> None:  # noqa: N802
    """The PNG figures already stored in the folder (a calibration's, an explore's discovery)."""
    pictures = stored_pictures(results)
    if not pictures:
        solara.Info("The folder holds no figures.")
        return
    chosen = pick(choice, list(pictures))
    Choice("Figure", list(pictures), choice)
    with solara.Div(classes=["explorer-figure"]):
        solara.Image(pictures[chosen].read_bytes(), format="png")


@solara.component
def RunFiguresView(results: Results, choice: solara.Reactive) -> None:  # noqa: N802
    """The figures of a run folder, the chosen one drawn."""
    chosen = pick(choice, list(RUN_VIEWS))
    Choice("Figure", list(RUN_VIEWS), choice)
    view = RUN_VIEWS[chosen]
    FigureView(("run", results.token, view), lambda: run_figure(results, view), chosen, export=view)


@solara.component
def ReplayView(  # noqa: N802
    results: Results, runs: pd.DataFrame, key: Hashable, choice: solara.Reactive
) -> None:
    """Pick a run: it is replayed from its stored config and seed in a live view (the frontier
    race as the months come), then the page says whether the replayed series equal the stored
    ones."""
    batch = results.kind in BATCH_KINDS
    choices = solara.use_memo(
        lambda: replayable(results, runs) if batch else {}, [results.token, key]
    )
    run_id = choices.get(pick(choice, list(choices))) if choices else None
    live = solara.use_reactive(None)

    def work() -> Replay | None:
        from agentsim import observe

        if batch and run_id is None:
            return None
        live.set(None)
        painted = [time.monotonic()]

        def on_step(model: Any) -> None:
            if not replay_task.is_current():
                raise InterruptedError("another run was picked")
            if time.monotonic() - painted[0] >= LIVE_PAINT_S:
                live.set(observe.model_frame(model))
                replay_task.progress = 100 * model.steps / max(model.config.simulation.steps, 1)
                painted[0] = time.monotonic()  # after the paint: the run gets the time between

        result = replay_run(results, run_id, on_step=on_step)
        live.set(result.replayed)
        return result

    replay_task = solara.lab.use_task(work, dependencies=[results.token, run_id])
    if batch and not choices:
        solara.Info("No selected run succeeded: nothing to replay.")
        return
    if batch:
        solara.Select(
            label="Run (replayed when picked)",
            values=list(choices),
            value=pick(choice, list(choices)),
            on_value=choice.set,
            style={"max-width": "48em"},
        )
    with solara.Row():
        solara.Button("Replay again", on_click=lambda: replay_task(), disabled=replay_task.pending)
    ReplayExport(results, run_id)
    if replay_task.pending:
        solara.ProgressLinear(replay_task.progress or True)
        solara.Text("replaying...")
    frame = live.value
    if frame is not None and len(frame):
        solara.Text(f"month {len(frame) - 1} replayed", classes=["explorer-live"])
        FigureView(
            ("live", results.token, run_id, len(frame)),
            lambda: figures.frontier_race(frame),
            "replay: the frontier race",
            shared=False,
        )
    if replay_task.finished and replay_task.value is not None:
        replay = replay_task.value
        (solara.Success if replay.equal else solara.Error)(
            replay.verdict, classes=["explorer-verdict"]
        )
        solara.Text(
            f"{replay.scenario}, seed {replay.seed}: {len(replay.replayed)} monthly rows "
            f"replayed from the stored config and seed, {len(replay.stored)} stored.",
            classes=["explorer-caption"],
        )
    elif replay_task.error:
        exc = replay_task.exception
        if not isinstance(exc, InterruptedError):
            reason = (
                str(exc) if isinstance(exc, ConfigError) else f"{exc.__class__.__name__}: {exc}"
            )
            solara.Error(f"The run cannot be replayed ({reason.splitlines()[0]}).")


@solara.component
def ReplayExport(results: Results, run_id: int | None) -> None:  # noqa: N802
    """The picked run's downloads: its exact scenario (``run.yaml``, :func:`scenario_yaml`,
    made when the button is pressed) and the command lines that reproduce it."""
    try:
        seed = run_seed(results, run_id)
    except ConfigError:
        return
    with solara.Column(gap="2px"):
        solara.FileDownload(
            lambda: scenario_yaml(results, run_id),
            filename="run.yaml",
            label="Scenario of this run (run.yaml)",
        )
        solara.Text(
            f"run.yaml is the config the replay rebuilt: agentsim run run.yaml --seed {seed} "
            f"runs this run again (its stored seed, {seed}).",
            classes=["explorer-caption"],
        )
        CommandExport(results, seed)


@solara.component
def AboutView(results: Results) -> None:  # noqa: N802
    """What the manifest records, and the keys in which the scenarios differ."""
    rows = pd.DataFrame(facts(results), columns=["", "value"])
    TableView(Table("facts", "The folder", str(results.folder), rows))
    changes = changed_keys(results.configs)
    if changes:
        frame = pd.DataFrame(
            [[key, *(format_value(v) for v in values)] for key, values in changes],
            columns=["key", *results.configs],
        )
        TableView(
            Table(
                "changes",
                "Keys whose values differ between the scenarios",
                f"{len(frame)} keys; all other keys are equal.",
                frame,
            )
        )
    versions = results.manifest.get("versions")
    if isinstance(versions, dict):
        text = ", ".join(f"{k} {v}" for k, v in versions.items())
        solara.Text(f"versions: {text}", classes=["explorer-caption"])


@solara.component
def RangeFilter(  # noqa: N802
    key: str, domain: Range, chosen: Range, selection: solara.Reactive
) -> None:
    """A range slider of one sampled parameter; the filter moves when the slider is released
    (not at every step of a drag, which would redraw the page each time)."""
    from reacton import ipyvue
    from reacton import ipyvuetify as v

    step = (domain.high - domain.low) / 100 or 1.0

    def released(widget: Any, event: str, value: Sequence[float]) -> None:
        picked = snap_range(value, domain)
        rest = {k: v for k, v in selection.value.items() if k != key}
        updated = rest if picked == domain else {**rest, key: picked}
        if updated != selection.value:
            selection.set(updated)

    slider = v.RangeSlider(
        v_model=[chosen.low, chosen.high],
        label=key.rsplit(".", 1)[-1],
        min=domain.low,
        max=domain.high,
        step=step,
        thumb_label=True,
        hide_details=True,
        class_="explorer-range",
    )
    ipyvue.use_event(slider, "change", released)
    solara.Text(f"{key}: {chosen.low:.4g} to {chosen.high:.4g}", classes=["explorer-caption"])


@solara.component
def Filters(  # noqa: N802
    keys: Mapping[str, list[Any] | Range], selection: solara.Reactive
) -> None:
    """The filters: a menu of values per swept key; a range slider per sampled parameter
    picked from a menu (a design samples many)."""
    ranged = [key for key, domain in keys.items() if isinstance(domain, Range)]
    picked_ranges = solara.use_reactive(ranged[:1] if len(ranged) > 4 else ranged)
    current = dict(selection.value)
    solara.HTML(tag="b", unsafe_innerHTML="Filters")
    if len(ranged) > 4:

        def set_ranged(value: list[str]) -> None:
            picked_ranges.set(list(value))
            selection.set(
                {k: v for k, v in selection.value.items() if k in value or k not in ranged}
            )

        solara.SelectMultiple("Sampled parameters to filter by", picked_ranges.value, ranged,
                              on_value=set_ranged)  # fmt: skip
    for key, domain in keys.items():
        if isinstance(domain, Range):
            if key not in picked_ranges.value:
                continue
            RangeFilter(key, domain, current.get(key, domain), selection)
        else:
            labels = [format_value(v) for v in domain]
            by_label = dict(zip(labels, domain, strict=True))
            chosen_keys = {value_key(v) for v in current.get(key, domain)}
            picked = [label for label, v in by_label.items() if value_key(v) in chosen_keys]

            def set_values(value: list[str], key: str = key, by: dict = by_label) -> None:
                selection.set({**selection.value, key: [by[label] for label in value]})

            solara.SelectMultiple(key, picked, labels, on_value=set_values)
    if current:
        solara.Button("Show every run", on_click=lambda: selection.set({}), text=True)


def tabs_of(kind: str, results: Results) -> list[str]:
    """The page's tabs for a folder of ``kind``, in order."""
    if kind == "run":
        return ["Overview", "Figures", "Replay"]
    if kind == "calibrate":
        return ["Overview", "Figures", "About"]
    tabs = ["Overview", "Fan charts", "Distributions"]
    if figures.survival_outcomes(results.runs):
        tabs.append("Survival")
    if kind == "sweep":
        tabs.append("Heatmap")
    if kind == "explore" and stored_pictures(results):
        tabs.append("Figures")
    return [*tabs, "Tables", "Replay", "About"]


@solara.component
def Explorer(results: Results) -> None:  # noqa: N802
    """The page of one result folder (see the module's notes)."""
    selection = solara.use_reactive({})
    tab = solara.use_reactive(0)
    fan = solara.use_reactive("")
    outcome = solara.use_reactive("")
    event = solara.use_reactive("")
    heat = solara.use_reactive("")
    index = solara.use_reactive("")
    chosen_figure = solara.use_reactive("")
    chosen_run = solara.use_reactive("")
    key = selection_key(selection.value)
    keys = solara.use_memo(lambda: filter_keys(results), [results.token])
    runs = solara.use_memo(
        lambda: filter_runs(results.runs, selection.value) if len(results.runs) else results.runs,
        [results.token, key],
    )
    kind = results.kind
    tabs = tabs_of(kind, results)

    solara.Style(CSS)
    solara.Title(f"agentsim explorer: {results.folder.name}")
    with solara.Column(gap="4px", style={"padding": "12px 20px"}):
        heading = html.escape(f"agentsim {kind}: {results.folder.name}")
        solara.HTML(tag="h2", unsafe_innerHTML=heading, classes=["explorer-heading"])
        solara.Text(KINDS.get(kind, ""), classes=["explorer-caption"])
        shown = [(label, text) for label, text in facts(results) if label != "command"]
        solara.HTML(
            tag="div",
            unsafe_innerHTML="<br>".join(
                f"<b>{html.escape(label)}</b>: {html.escape(text)}" for label, text in shown
            ),
            classes=["explorer-facts"],
        )
        CommandExport(results)
        if kind in BATCH_KINDS and len(runs) != len(results.runs):
            solara.Text(
                f"{len(runs)} of {len(results.runs)} runs selected by the filters.",
                classes=["explorer-selected"],
            )
        with solara.Columns([1, 4]) if keys else solara.Column():
            if keys:
                with solara.Column():
                    Filters(keys, selection)
            with solara.Column():
                with solara.lab.Tabs(value=tab, lazy=True):
                    for name in tabs:
                        with solara.lab.Tab(name):
                            _tab(name, results, runs, selection.value, key, fan, outcome,
                                 event, heat, index, chosen_figure, chosen_run)  # fmt: skip


def _tab(
    name: str,
    results: Results,
    runs: pd.DataFrame,
    selection: Mapping[str, Any],
    key: Hashable,
    fan: solara.Reactive,
    outcome: solara.Reactive,
    event: solara.Reactive,
    heat: solara.Reactive,
    index: solara.Reactive,
    chosen_figure: solara.Reactive,
    chosen_run: solara.Reactive,
) -> None:
    """The element of one tab (components only: nothing is drawn until the tab is shown)."""
    kind = results.kind
    if name == "Overview":
        with solara.Column():
            if kind == "run":
                RunFiguresView(results, chosen_figure)
                TablesView(results, runs, selection, "summary")
            elif kind == "calibrate":
                PicturesView(results, chosen_figure)
                TablesView(results, runs, selection)
            elif kind == "sensitivity":
                IndicesView(results, index)
            else:
                FanView(results, runs, key, fan)
                TablesView(results, runs, selection, "summary")
    elif name == "Fan charts":
        FanView(results, runs, key, fan)
    elif name == "Distributions":
        DistributionView(results, runs, key, outcome)
    elif name == "Survival":
        SurvivalView(results, runs, key, event)
    elif name == "Heatmap":
        HeatmapView(results, runs, key, heat)
    elif name == "Tables":
        TablesView(results, runs, selection)
    elif name == "Figures":
        if kind == "run":
            RunFiguresView(results, chosen_figure)
        else:
            PicturesView(results, chosen_figure)
    elif name == "Replay":
        ReplayView(results, runs, key, chosen_run)
    elif name == "About":
        AboutView(results)


@solara.component
def Page() -> None:  # noqa: N802
    """The Solara page ``solara run agentsim.explorer`` serves: the folder named by
    :data:`RESULTS_ENV`, or the one-line message saying why it cannot be shown."""
    folder = page_folder()
    loaded = solara.use_memo(lambda: open_results(folder), [folder])
    if isinstance(loaded, str):
        solara.Title("agentsim explorer")
        with solara.Column(style={"padding": "12px 20px"}):
            solara.HTML(tag="h2", unsafe_innerHTML="agentsim explorer")
            solara.Error(loaded, classes=["explorer-message"])
        return
    Explorer(loaded)


def warm(folder: str) -> None:
    """Read ``folder`` and draw what a page opens on (the first fan chart, then the tables)
    into the caches, so the first page comes quickly; errors are left for the page to show."""
    loaded = open_results(folder)
    if isinstance(loaded, str) or loaded.kind not in BATCH_KINDS:
        return
    runs = loaded.runs
    try:
        columns = _fan_columns(loaded)
        if columns and len(runs):
            column = next(iter(columns.values()))
            picture(
                ("fan", loaded.token, selection_key({}), column),
                lambda: fan_figure(loaded, runs, column),
            )
        cached_tables(loaded, runs, {})
    except Exception:  # the page shows what goes wrong
        return


if page_folder() and os.environ.get("SOLARA_APP", "").startswith(__name__):
    # served by solara run: read and draw ahead while the browser loads the page
    threading.Thread(target=warm, args=(page_folder(),), daemon=True).start()


__all__ = [
    "EQUAL_TEXT",
    "RESULTS_ENV",
    "Page",
    "Range",
    "Replay",
    "Results",
    "check_results_dir",
    "distribution_figure",
    "exported_figure",
    "fan_figure",
    "figure_bytes",
    "filter_keys",
    "filter_runs",
    "heatmap_figure",
    "indices_figure",
    "load_results",
    "open_results",
    "png",
    "replay_run",
    "replayable",
    "result_tables",
    "run_config",
    "run_figure",
    "run_overrides",
    "run_seed",
    "scenario_yaml",
    "selected_grid",
    "selection_key",
    "series_differences",
    "series_of",
    "snap_range",
    "stored_series",
    "survival_figure",
    "table_html",
    "tabs_of",
    "view_command",
]

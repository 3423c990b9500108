"""Replaying a finished batch from its manifest, and comparing the replay run by run.

A batch folder's ``manifest.json`` holds everything that determines its runs: the kind of
batch, the named configs, the grid (a sweep), the design (explore, sensitivity), the runs per
point and the root seed. This module owns ``agentsim rerun``:

* :func:`read_stored` reads a finished batch folder and checks that it can be replayed;
* :func:`replan` plans the batch again from its manifest with the planner its command used
  (:func:`~agentsim.ensemble.plan_monte_carlo`, :func:`~agentsim.ensemble.plan_sweep`,
  :func:`~agentsim.ensemble.plan_comparison`, :func:`~agentsim.explore.plan_explore`,
  :func:`~agentsim.explore.plan_sensitivity`), and checks that the plan is the one recorded
  (same fingerprint);
* :func:`compare_batches` compares the stored ``runs.parquet`` and ``timeseries.parquet`` with
  the replay's, run by run and column by column, floats bit for bit (NaN equals NaN), and
  returns the per-run report that the command writes as :data:`REPORT`;
* :func:`verdict` says in one line whether the replay is identical;
* :func:`environment_differences` lists how the environment that made the batch (git commit,
  Python, every installed package) differs from this one: the usual reason for a difference.

:func:`prepare` makes every check that comes before a replay (the stored batch, its plan, the
output folder) and :func:`write_report` writes the report into the replay's folder (whose
manifest then names the stored folder, ``rerun_of``); :func:`replay` does all of it from
Python. The command line (``agentsim rerun``) is a thin layer over these functions: it runs the
plan through the batch commands' executor machinery (progress, one-line errors, a stopped
batch kept) and exits :data:`DIFFERS_EXIT_CODE` when the replay differs.
"""

from __future__ import annotations

import math
import os
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from agentsim import store
from agentsim.config import ConfigError, quote
from agentsim.ensemble import (
    BatchPlan,
    environment,
    plan_comparison,
    plan_monte_carlo,
    plan_sweep,
    run_batch,
)
from agentsim.store import BatchResult

__all__ = [
    "DIFFERS_EXIT_CODE",
    "REPLAYABLE",
    "REPORT",
    "REPORT_COLUMNS",
    "Replay",
    "check_out",
    "compare_batches",
    "environment_differences",
    "environment_note",
    "prepare",
    "read_stored",
    "replan",
    "replay",
    "verdict",
    "write_report",
]

#: Kinds of batch that can be planned again from their manifest.
REPLAYABLE = ("mc", "sweep", "compare", "explore", "sensitivity")
#: Exit code of ``agentsim rerun`` when the replay differs from the stored batch (0: identical;
#: 1: the replay could not finish, as for every batch command; 2: bad input).
DIFFERS_EXIT_CODE = 3
#: The per-run report written into the replay's folder.
REPORT = "rerun_report.csv"
#: Columns of the per-run report (see :func:`compare_batches`).
REPORT_COLUMNS = (
    "run_id",
    "identical",
    "table",
    "column",
    "step",
    "stored",
    "rerun",
    "differing_columns",
)
#: Text of a value where there is none: a run, a month (row) or a column one side lacks.
NO_RUN = "(no run)"
NO_ROW = "(no row)"
NO_COLUMN = "(no column)"
#: Packages named first when the environments differ (then the others, by name).
MAIN_PACKAGES = (
    "agentsim",
    "mesa",
    "numpy",
    "pandas",
    "scipy",
    "networkx",
    "pydantic",
    "pyarrow",
    "salib",
    "dask",
)
#: Most package differences named in the warning line.
SHOWN_PACKAGES = 5

_KEYS = ("run_id", "step")  # a time series row's key


# --------------------------------------------------------------------------- the stored batch


def read_stored(folder: Path) -> BatchResult:
    """The finished batch in ``folder``, checked for a replay: manifest, runs and time series.

    Raises :class:`ConfigError` (one line, naming the folder or the manifest key and the rule)
    when ``folder`` is missing or not a folder, holds no ``manifest.json`` (not a batch folder)
    or one that cannot be read, was made by a command rerun cannot replay (see
    :data:`REPLAYABLE`), or holds no ``runs.parquet`` (an unfinished batch), and when a stored
    table cannot be read. What the manifest must hold is checked by :func:`replan`.
    """
    folder = Path(folder)
    if not folder.exists():
        raise ConfigError(str(folder), "folder not found")
    if not folder.is_dir():
        raise ConfigError(str(folder), "is not a folder; give a batch folder")
    path = folder / store.MANIFEST
    if not path.is_file():
        raise ConfigError(str(folder), f"holds no {store.MANIFEST}: not a batch folder")
    try:
        manifest = store.read_manifest(folder)
    except ConfigError as exc:  # its rule names the file
        raise ConfigError("", exc.rule) from None
    if not isinstance(manifest, dict):
        raise ConfigError(str(path), "is not a batch manifest (not a JSON object)")
    kind = manifest.get("kind")
    if not isinstance(kind, str):
        raise ConfigError(str(path), "records no kind of batch: not a batch manifest")
    if kind not in REPLAYABLE:
        raise ConfigError(
            str(folder),
            f"is a {quote(kind)} folder; rerun replays batches of kind {', '.join(REPLAYABLE)}",
        )
    if not (folder / store.RUNS).is_file():
        raise ConfigError(
            str(folder),
            f"holds no {store.RUNS}: the batch is unfinished (finish it with agentsim {kind} "
            f"--resume {folder}, then rerun it)",
        )
    return store.read_batch(folder)


def replan(manifest: Mapping[str, Any]) -> BatchPlan:
    """The batch a manifest records, planned again with the planner its command used.

    Args:
        manifest: a batch folder's parsed ``manifest.json`` (``kind``, ``configs``,
            ``runs_per_point``, ``root_seed``, ``fingerprint``; ``grid`` for a sweep;
            ``design`` for an explore or sensitivity batch).

    Returns:
        The :class:`~agentsim.ensemble.BatchPlan`: the same runs, seeds and design points as
        the recorded batch.

    Raises:
        ConfigError: keyed by the manifest key, for a kind rerun cannot replay, a key that is
            missing or of the wrong type, a stored config or design the planner now refuses,
            and a plan whose fingerprint is not the recorded one (the manifest was edited, or
            this version plans the batch differently), so the replay would not be the batch
            that was run.
    """
    kind = manifest.get("kind")
    if kind not in REPLAYABLE:
        raise ConfigError(
            "kind", f"{quote(kind)}: rerun replays batches of kind {', '.join(REPLAYABLE)}"
        )
    configs = manifest.get("configs")
    if (
        not isinstance(configs, dict)
        or not configs
        or not all(isinstance(c, dict) for c in configs.values())
    ):
        raise ConfigError("configs", "missing or not a mapping of scenario names to configs")
    runs = _whole(manifest, "runs_per_point", 1)
    root_seed = _whole(manifest, "root_seed", 0)
    fingerprint = manifest.get("fingerprint")
    if not isinstance(fingerprint, str) or not fingerprint:
        raise ConfigError("fingerprint", "missing; the manifest cannot be checked against a plan")
    _check_recorded(kind, manifest, configs)
    try:
        plan = _plan(kind, manifest, configs, runs, root_seed)
    except ConfigError as exc:
        raise ConfigError(
            _design_key(kind), f"the stored batch cannot be planned again ({exc})"
        ) from None
    except (KeyError, TypeError, ValueError, AttributeError, IndexError) as exc:
        reason = f"{exc.__class__.__name__}: {exc}".splitlines()[0]
        raise ConfigError(
            _design_key(kind), f"the stored batch cannot be planned again ({reason})"
        ) from None
    if plan.fingerprint() != fingerprint:
        raise ConfigError(
            "fingerprint",
            "does not match the configs, grid, design, seed and runs the manifest records (was "
            "it edited?); a replay would not be the batch that was run",
        )
    return plan


def _whole(manifest: Mapping[str, Any], key: str, least: int) -> int:
    value = manifest.get(key)
    if isinstance(value, bool) or not isinstance(value, int) or value < least:
        raise ConfigError(key, f"missing or not an integer >= {least} (got {quote(value)})")
    return value


def _design_key(kind: str) -> str:
    """The manifest key that holds what the planner of ``kind`` refused."""
    return {"sweep": "grid", "explore": "design", "sensitivity": "design"}.get(kind, "configs")


#: What the design of an explore or sensitivity manifest must hold.
_DESIGN_KEYS = {
    "explore": ("uncertainty", "samples", "seeds", "design"),
    "sensitivity": ("uncertainty", "method", "samples", "seeds", "outcomes", "scenario"),
}


def _check_recorded(kind: str, manifest: Mapping[str, Any], configs: Mapping[str, Any]) -> None:
    """Refuse a manifest that lacks what the planner of ``kind`` needs (keyed by its key)."""
    if kind in ("mc", "sweep") and len(configs) != 1:
        raise ConfigError(
            "configs", f"a {kind} batch has one config (the manifest holds {len(configs)})"
        )
    if kind == "sweep":
        grid = manifest.get("grid")
        if not isinstance(grid, dict) or not grid:
            raise ConfigError(
                "grid", "missing or empty; a sweep's manifest records its swept keys and values"
            )
    if kind in _DESIGN_KEYS:
        design = manifest.get("design")
        needed = _DESIGN_KEYS[kind]
        lacking = [k for k in needed if k not in design] if isinstance(design, dict) else needed
        if lacking:
            raise ConfigError(
                "design",
                f"lacks {', '.join(lacking)}; an {kind} manifest records how its design points "
                "were drawn",
            )
        for role in ("scenario", "against"):
            name = design.get(role)
            if name and name not in configs:
                raise ConfigError("design", f"{role} {quote(name)} is not one of the configs")


def _plan(
    kind: str,
    manifest: Mapping[str, Any],
    configs: dict[str, dict[str, Any]],
    runs: int,
    root_seed: int,
) -> BatchPlan:
    """Call the planner of ``kind`` on what the (checked) manifest records."""
    if kind == "mc":
        return plan_monte_carlo(next(iter(configs.values())), runs, root_seed)
    if kind == "sweep":
        return plan_sweep(next(iter(configs.values())), manifest["grid"], runs, root_seed)
    if kind == "compare":
        return plan_comparison(configs, runs, root_seed)
    from agentsim.explore import plan_explore, plan_sensitivity
    from agentsim.uncertainty import UncertaintySpec

    design = manifest["design"]
    spec = UncertaintySpec.from_dict(design["uncertainty"])
    if kind == "explore":
        return plan_explore(
            configs, spec, design["samples"], design["seeds"], design["design"], root_seed
        )
    against = design.get("against")
    base = (against, configs[against]) if against else None
    return plan_sensitivity(
        configs[design["scenario"]],
        spec,
        design["method"],
        design["samples"],
        design["seeds"],
        root_seed,
        base,
        design["outcomes"],
    )


def prepare(folder: Path, out: Path | None) -> tuple[BatchResult, BatchPlan]:
    """Everything a replay checks before anything runs: the stored batch (:func:`read_stored`,
    its tables readable and keyed as :func:`compare_batches` needs), its plan
    (:func:`replan`) and the output folder (:func:`check_out`).

    Returns:
        The stored batch and its plan.

    Raises:
        ConfigError: as those functions; an error of the manifest is keyed by the manifest's
            path and its key (``DIR/manifest.json: grid: ...``).
    """
    stored = read_stored(folder)
    _tables(stored, str(folder))
    try:
        plan = replan(stored.manifest)
    except ConfigError as exc:
        raise ConfigError(str(Path(folder) / store.MANIFEST), str(exc)) from None
    check_out(out, folder)
    return stored, plan


def check_out(out: Path | None, stored: Path) -> None:
    """Refuse an output folder for the replay of the batch in ``stored`` before anything runs.

    Raises :class:`ConfigError` (key ``--out``) when ``out`` is not given, is the stored batch
    itself or inside it, exists and is not a folder, is a non-empty folder, or cannot be
    written (:func:`agentsim.store.check_writable`). Nothing is created.
    """
    if out is None:
        raise ConfigError("--out", "is required: a new or empty folder for the replayed batch")
    target, source = Path(os.path.abspath(out)), Path(os.path.abspath(stored))
    if target.resolve() == source.resolve():
        raise ConfigError("--out", f"{out} is the batch being replayed; give a new folder")
    if target.resolve().is_relative_to(source.resolve()):
        raise ConfigError(
            "--out",
            f"{out} is inside the batch being replayed ({stored}); give a folder outside it",
        )
    if target.exists() and not target.is_dir():
        raise ConfigError("--out", f"{out} exists and is not a folder")
    if not store.is_empty_batch_dir(target):
        raise ConfigError("--out", f"{out} is not empty; give a new or empty folder")
    store.check_writable(target)


# --------------------------------------------------------------------------- comparison


def compare_batches(stored: BatchResult | Path, rerun: BatchResult | Path) -> pd.DataFrame:
    """Compare two batches run by run: every column of the runs table and of the time series.

    Runs are matched by ``run_id`` and months by ``(run_id, step)``. Values are equal when they
    are the same value of the same kind: floats bit for bit (0.0 and -0.0 differ), except that
    two missing values (NaN, None, NA, NaT) are equal; a number and its text differ, an integer
    and the equal float do not (a folder is compared as :func:`agentsim.store.read_batch`
    reads it, which gives a batch stored by an older version today's column types). A run only
    one side holds, a month of a run only one side holds, and a column only one side holds are
    differences.

    Args:
        stored: the stored batch (a :class:`~agentsim.store.BatchResult` or a finished batch
            folder, read with :func:`agentsim.store.read_batch`).
        rerun: the replay, likewise.

    Returns:
        The per-run report, one row per run id of either side, sorted by run id, with
        :data:`REPORT_COLUMNS`: ``identical`` (bool); for a run that differs, its first
        difference (the runs table first, in column order, then the time series at its
        earliest differing step): ``table`` (``runs`` or ``timeseries``), ``column``, ``step``
        (time series only, else missing), the ``stored`` and ``rerun`` values as text (full
        precision; :data:`NO_RUN`, :data:`NO_ROW` or :data:`NO_COLUMN` where a side lacks
        one; a missing run is a difference in column ``run_id``, a missing month one in
        column ``step``), and ``differing_columns``: every column that differs, separated
        by ``;``, time series columns as ``timeseries:NAME``.

    Raises:
        ConfigError: a stored table that cannot be read, lacks ``run_id`` (or, in a
            non-empty time series, ``step``), or holds a run (or a run's month) twice.
    """
    stored_runs, stored_series = _tables(stored, "stored")
    rerun_runs, rerun_series = _tables(rerun, "rerun")
    firsts: dict[int, tuple] = {}
    columns: dict[int, list[str]] = {}

    only_stored = stored_runs.index.difference(rerun_runs.index)
    only_rerun = rerun_runs.index.difference(stored_runs.index)
    for run_id in only_stored:
        firsts[int(run_id)] = ("runs", "run_id", None, str(run_id), NO_RUN)
    for run_id in only_rerun:
        firsts[int(run_id)] = ("runs", "run_id", None, NO_RUN, str(run_id))
    common = stored_runs.index.intersection(rerun_runs.index).sort_values()

    names = _union(stored_runs.columns, rerun_runs.columns)
    a, b = stored_runs.reindex(common), rerun_runs.reindex(common)
    differ = _differences(a, b, names)
    for i in np.flatnonzero(differ.any(axis=1)):
        run_id = int(common[i])
        which = np.flatnonzero(differ[i])
        column = names[which[0]]
        firsts[run_id] = ("runs", column, None, *_values(a, b, i, column))
        columns[run_id] = [names[j] for j in which]

    _compare_series(stored_series, rerun_series, set(common.tolist()), firsts, columns)

    ids = sorted(set(stored_runs.index.tolist()) | set(rerun_runs.index.tolist()))
    rows = []
    for run_id in ids:
        first = firsts.get(run_id)
        if first is None:
            rows.append((run_id, True, "", "", pd.NA, "", "", ""))
            continue
        table, column, step, old, new = first
        listed = ";".join(columns.get(run_id, [column]))
        rows.append((run_id, False, table, column, _step(step), old, new, listed))
    report = pd.DataFrame(rows, columns=list(REPORT_COLUMNS))
    return report.astype(
        {
            "run_id": "int64",
            "identical": "bool",
            "step": "Int64",
            **{c: "object" for c in ("table", "column", "stored", "rerun", "differing_columns")},
        }
    )


def _step(step: Any) -> Any:
    return pd.NA if step is None else int(step)


def _tables(batch: BatchResult | Path, side: str) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The runs table indexed by run id, and the time series indexed by (run id, step)."""
    if not isinstance(batch, BatchResult):
        batch = store.read_batch(Path(batch))
    runs = batch.runs
    if "run_id" not in runs.columns:
        raise ConfigError(f"{side} {store.RUNS}", "has no run_id column")
    runs = runs.set_index("run_id", drop=True)
    _check_unique(runs.index, f"{side} {store.RUNS}")
    series = batch.timeseries
    if series is None or (len(series) == 0 and not set(_KEYS) <= set(series.columns)):
        series = pd.DataFrame({key: pd.Series(dtype="int64") for key in _KEYS})
    for key in _KEYS:
        if key not in series.columns:
            raise ConfigError(f"{side} {store.TIMESERIES}", f"has no {key} column")
    series = series.set_index(list(_KEYS), drop=True)
    _check_unique(series.index, f"{side} {store.TIMESERIES}")
    return runs, series


def _check_unique(index: pd.Index, name: str) -> None:
    if not index.is_unique:
        twice = index[index.duplicated()][0]
        raise ConfigError(name, f"holds {_show_key(twice)} twice")


def _show_key(key: Any) -> str:
    if isinstance(key, tuple):
        return f"run {key[0]} step {key[1]}"
    return f"run {key}"


def _union(first: Sequence[str], second: Sequence[str]) -> list[str]:
    """Column names of both sides: the first side's order, then the second's others."""
    return [*first, *(name for name in second if name not in set(first))]


def _differences(a: pd.DataFrame, b: pd.DataFrame, names: list[str]) -> np.ndarray:
    """Rows x columns: whether the aligned frames differ there (a column one lacks: all)."""
    differ = np.zeros((len(a), len(names)), dtype=bool)
    for j, name in enumerate(names):
        if name in a.columns and name in b.columns:
            differ[:, j] = ~_same(a[name], b[name])
        else:
            differ[:, j] = True
    return differ


def _same(a: pd.Series, b: pd.Series) -> np.ndarray:
    """Elementwise: the same value (floats bit for bit), or missing on both sides."""
    missing = a.isna().to_numpy(dtype=bool) & b.isna().to_numpy(dtype=bool)
    if _floating(a) and _floating(b):
        x = a.to_numpy(dtype=np.float64, na_value=np.nan)
        y = b.to_numpy(dtype=np.float64, na_value=np.nan)
        equal = (x == y) & (np.signbit(x) == np.signbit(y))
    elif a.dtype == b.dtype and (
        a.dtype.kind in "iubMm" or isinstance(a.dtype, pd.StringDtype)
    ):  # integers, booleans, times, text (numpy or pandas' nullable types)
        equal = (a == b).to_numpy(dtype=bool, na_value=False)
    elif _text_categories(a) and _text_categories(b):  # a time series' scenario
        equal = (a.astype("string") == b.astype("string")).to_numpy(dtype=bool, na_value=False)
    else:
        equal = np.fromiter(
            (_same_scalar(u, v) for u, v in zip(a.tolist(), b.tolist(), strict=True)),
            dtype=bool,
            count=len(a),
        )
    return np.asarray(equal, dtype=bool) | missing


def _text_categories(series: pd.Series) -> bool:
    return isinstance(series.dtype, pd.CategoricalDtype) and all(
        isinstance(c, str) for c in series.dtype.categories
    )


def _floating(series: pd.Series) -> bool:
    return series.dtype.kind == "f"


def _same_scalar(u: Any, v: Any) -> bool:
    """The same value of the same kind (a number and its text differ; 1 and 1.0 do not)."""
    if _missing(u) or _missing(v):
        return _missing(u) and _missing(v)
    if isinstance(u, str) != isinstance(v, str):
        return False
    if isinstance(u, float) and isinstance(v, float):
        return u == v and math.copysign(1, u) == math.copysign(1, v)
    try:
        return bool(u == v)
    except (TypeError, ValueError):
        return False


def _missing(value: Any) -> bool:
    if value is None or value is pd.NA or value is pd.NaT:
        return True
    try:
        return bool(isinstance(value, float | np.floating | np.datetime64) and pd.isna(value))
    except (TypeError, ValueError):
        return False


def _values(a: pd.DataFrame, b: pd.DataFrame, row: int, column: str) -> tuple[str, str]:
    """The two sides' values at a row and column, as text (:data:`NO_COLUMN` for none)."""
    old = _show(a[column].iloc[row]) if column in a.columns else NO_COLUMN
    new = _show(b[column].iloc[row]) if column in b.columns else NO_COLUMN
    return old, new


def _show(value: Any) -> str:
    """A value as text at full precision (``repr`` of a float, so 0.1 and 0.1 + 1e-17
    differ), ``NA`` for a missing value other than a float's NaN."""
    if isinstance(value, float | np.floating):
        return repr(float(value))
    if _missing(value):
        return "NA"
    if isinstance(value, np.generic):
        return str(value.item())
    return str(value)


def _compare_series(
    stored: pd.DataFrame,
    rerun: pd.DataFrame,
    runs: set[int],
    firsts: dict[int, tuple],
    columns: dict[int, list[str]],
) -> None:
    """Add each common run's time-series differences to ``firsts`` (a run's first
    difference, unless its runs row already differs) and ``columns`` (its differing
    columns, as ``timeseries:NAME``)."""
    a = stored[stored.index.get_level_values("run_id").isin(list(runs))]
    b = rerun[rerun.index.get_level_values("run_id").isin(list(runs))]
    found: dict[int, tuple] = {}  # run id -> (step, order, first difference)
    listed: dict[int, set[str]] = {}
    for side, extra in ((NO_ROW, a.index.difference(b.index)), (None, b.index.difference(a.index))):
        for run_id, step in extra:
            run_id, step = int(run_id), int(step)
            old, new = (str(step), NO_ROW) if side == NO_ROW else (NO_ROW, str(step))
            candidate = (step, -1, ("timeseries", "step", step, old, new))
            if run_id not in found or candidate[:2] < found[run_id][:2]:
                found[run_id] = candidate
            listed.setdefault(run_id, set()).add("step")
    common = a.index.intersection(b.index).sort_values()
    names = _union(a.columns, b.columns)
    x, y = a.reindex(common), b.reindex(common)
    differ = _differences(x, y, names)
    rows = np.flatnonzero(differ.any(axis=1))
    if len(rows):
        ids = common.get_level_values("run_id")[rows].to_numpy()
        steps = common.get_level_values("step")[rows].to_numpy()
        by_run = pd.DataFrame(differ[rows], columns=range(len(names))).groupby(ids).any()
        for run_id, flags in by_run.iterrows():
            listed.setdefault(int(run_id), set()).update(
                names[j] for j in np.flatnonzero(flags.to_numpy())
            )
        _, first_rows = np.unique(ids, return_index=True)
        for k in first_rows:
            row, run_id, step = rows[k], int(ids[k]), int(steps[k])
            j = int(np.flatnonzero(differ[row])[0])
            difference = ("timeseries", names[j], step, *_values(x, y, row, names[j]))
            candidate = (step, j, difference)
            if run_id not in found or candidate[:2] < found[run_id][:2]:
                found[run_id] = candidate
    order = {name: i for i, name in enumerate(["step", *names])}
    for run_id, (_, _, difference) in found.items():
        named = sorted(listed.get(run_id, ()), key=lambda name: order.get(name, len(order)))
        columns.setdefault(run_id, []).extend(f"timeseries:{name}" for name in named)
        firsts.setdefault(run_id, difference)


def verdict(report: pd.DataFrame) -> str:
    """The one-line verdict of a per-run report (from :func:`compare_batches`).

    ``identical: 80 of 80 runs, every column and every month``, or ``differs: 3 of 80 runs
    (run ids 4, 17, 52); first difference: run 4, column X, stored A, rerun B`` (at most five
    run ids; values cut to a readable length).
    """
    total = len(report)
    differing = report[~report["identical"].astype(bool)]
    if differing.empty:
        return f"identical: {total} of {total} runs, every column and every month"
    ids = [str(i) for i in differing["run_id"]]
    shown = ", ".join(ids[:5]) + (" ..." if len(ids) > 5 else "")
    return (
        f"differs: {len(ids)} of {total} runs (run ids {shown}); first difference: "
        f"{_describe(differing.iloc[0])}"
    )


def _describe(row: pd.Series) -> str:
    run, column = f"run {row['run_id']}", row["column"]
    old, new = _short(row["stored"]), _short(row["rerun"])
    if row["table"] == "runs" and column == "run_id":
        side = "the rerun" if new == NO_RUN else "the stored batch"
        return f"{run} is missing from {side}"
    if row["table"] == "timeseries" and column == "step" and NO_ROW in (old, new):
        side = "the rerun" if new == NO_ROW else "the stored batch"
        return f"{run}, step {row['step']} of its time series is missing from {side}"
    where = f"column {column}"
    if row["table"] == "timeseries":
        where = f"time series column {column} at step {row['step']}"
    return f"{run}, {where}, stored {old}, rerun {new}"


def _short(text: Any, limit: int = 60) -> str:
    text = " ".join(str(text).split()) if "\n" in str(text) else str(text)
    return text if len(text) <= limit else text[: limit - 3] + "..."


# --------------------------------------------------------------------------- environment


def environment_differences(
    manifest: Mapping[str, Any], current: Mapping[str, Any] | None = None
) -> list[str]:
    """How the environment a batch was made in differs from ``current``, as short clauses.

    Args:
        manifest: the batch's manifest (``git_commit``, ``versions``, ``packages``).
        current: this environment (default: :func:`agentsim.ensemble.environment`).

    Returns:
        Clauses such as ``"git commit 1d343b6 (now 6de0c0c)"``, ``"python 3.12.1 (now
        3.12.4)"``, ``"numpy 2.5.5 (now 2.6.0)"``, ``"pyabc 0.12.0 (now not installed)"``:
        the commit, Python, then each package whose version differs (the main packages
        first, then by name), or ``"no package list recorded"`` for a manifest without one.
        Empty when nothing differs.
    """
    now = environment() if current is None else current
    clauses = []
    then_commit, now_commit = manifest.get("git_commit"), now.get("git_commit")
    if then_commit != now_commit:
        clauses.append(f"git commit {_commit(then_commit)} (now {_commit(now_commit)})")
    then_python = (manifest.get("versions") or {}).get("python")
    now_python = (now.get("versions") or {}).get("python")
    if then_python != now_python:
        clauses.append(f"python {then_python or 'not recorded'} (now {now_python})")
    packages = manifest.get("packages")
    if not isinstance(packages, dict):
        return [*clauses, "no package list recorded"]
    then, here = _by_name(packages), _by_name(now.get("packages") or {})
    main = {name: i for i, name in enumerate(MAIN_PACKAGES)}
    names = sorted(set(then) | set(here), key=lambda n: (main.get(n, len(main)), n))
    for name in names:
        old, new = then.get(name), here.get(name)
        if (old and old[1]) != (new and new[1]):
            label = old[0] if old else new[0]
            was = old[1] if old else "not installed"
            clauses.append(f"{label} {was} (now {new[1] if new else 'not installed'})")
    return clauses


def _commit(sha: Any) -> str:
    return str(sha)[:7] if sha else "not recorded"


def _by_name(packages: Mapping[str, Any]) -> dict[str, tuple[str, str]]:
    """Normalized name (PEP 503) -> (name as recorded, version)."""
    return {re.sub(r"[-_.]+", "-", str(k)).lower(): (str(k), str(v)) for k, v in packages.items()}


def environment_note(
    manifest: Mapping[str, Any], folder: Path | str, current: Mapping[str, Any] | None = None
) -> str | None:
    """One line saying how the environment that made the batch in ``folder`` differs from
    ``current`` (default: this one), naming the commit, Python and the first
    :data:`SHOWN_PACKAGES` packages that differ; None when nothing differs."""
    clauses = environment_differences(manifest, current)
    if not clauses:
        return None
    fixed = [c for c in clauses if c.startswith(("git commit", "python", "no package"))]
    packages = [c for c in clauses if c not in fixed]
    shown = fixed + packages[:SHOWN_PACKAGES]
    more = len(packages) - SHOWN_PACKAGES
    text = ", ".join(shown) + (f" and {more} more packages" if more > 0 else "")
    return f"{folder} was made in another environment: {text}; results may differ because of it"


# --------------------------------------------------------------------------- from Python


@dataclass
class Replay:
    """A stored batch, its replay and the per-run report (see :func:`compare_batches`)."""

    stored: BatchResult
    rerun: BatchResult
    report: pd.DataFrame

    @property
    def identical(self) -> bool:
        """Whether every run is identical."""
        return bool(self.report["identical"].all())

    @property
    def verdict(self) -> str:
        """The one-line verdict (:func:`verdict`)."""
        return verdict(self.report)


def replay(folder: Path, out: Path, executor: Any = None) -> Replay:
    """Replay the finished batch in ``folder`` into ``out`` and compare it run by run.

    Args:
        folder: a finished batch folder (see :data:`REPLAYABLE`).
        out: a new or empty folder for the replay; it receives the batch's files, its
            manifest (with ``rerun_of``: the stored folder) and :data:`REPORT`.
        executor: where the runs run (an :mod:`agentsim.executors` executor; default: this
            process, one run after another).

    Returns:
        The :class:`Replay`.

    Raises:
        ConfigError: as :func:`read_stored`, :func:`replan`, :func:`check_out` and
            :func:`compare_batches`; errors of the executor propagate as from
            :func:`agentsim.ensemble.run_batch`.
    """
    from agentsim.executors import InProcess

    stored, plan = prepare(folder, out)
    result = run_batch(plan, Path(out), executor if executor is not None else InProcess())
    report = compare_batches(stored, result.out)  # both sides read back by read_batch
    write_report(result, report, folder)
    return Replay(stored, result, report)


def write_report(result: BatchResult, report: pd.DataFrame, folder: Path) -> Path:
    """Write the per-run report into the replay's folder as :data:`REPORT` and record the
    stored folder in its manifest (``rerun_of``); return the report's path."""
    path = result.out / REPORT
    store.write_csv(path, report)
    result.manifest["rerun_of"] = str(Path(os.path.abspath(folder)))
    store.write_manifest(result.out, result.manifest)
    return path

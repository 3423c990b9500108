"""Batches of runs: Monte Carlo, parameter sweeps and paired scenario comparisons.

A batch is a list of :class:`RunSpec` (run id, seed, scenario label, grid values). Seeds come
from one root seed through ``numpy.random.SeedSequence``: replicate r always gets the seed of
child r, whatever the executor, worker count or order of completion, so scenarios and grid
points share seeds (common random numbers) and a batch is reproducible.

Results are written as they finish, a chunk at a time, to ``parts/`` (temporary name, then
rename), with a manifest listing the completed run ids; a killed batch loses at most the runs
in flight, and :func:`run_batch` with ``resume=True`` runs only the missing ones. At the end the
parts are gathered into ``runs.parquet`` and ``timeseries.parquet``.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import math
import platform
import shutil
import subprocess
import traceback
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from agentsim.config import ConfigError
from agentsim.run import run as run_model
from agentsim.scenario_io import apply_overrides, validate_config
from agentsim.store import write_json, write_parquet

MANIFEST = "manifest.json"
PARTS = "parts"


@dataclass(frozen=True)
class RunSpec:
    """One run of a batch: which scenario, which grid point, which seed."""

    run_id: int
    replicate: int
    seed: int
    scenario: str = ""
    grid: tuple[tuple[str, Any], ...] = ()


@dataclass
class BatchPlan:
    """What a batch runs: named base configs (as dicts), the specs, and how it was asked for."""

    kind: str  # "mc", "sweep" or "compare"
    configs: dict[str, dict[str, Any]]
    specs: list[RunSpec]
    root_seed: int
    runs: int
    grid: dict[str, list[Any]] = field(default_factory=dict)

    def fingerprint(self) -> str:
        """Hash of everything that determines the results (configs, grid, seeds, runs)."""
        text = json.dumps(
            {
                "kind": self.kind,
                "configs": self.configs,
                "grid": self.grid,
                "root_seed": self.root_seed,
                "runs": self.runs,
            },
            sort_keys=True,
            default=str,
        )
        return hashlib.sha256(text.encode()).hexdigest()


def replicate_seeds(root_seed: int, runs: int) -> list[int]:
    """Seeds of replicates 0..runs-1: child r of SeedSequence(root_seed), as a 63-bit integer."""
    seeds = []
    for r in range(runs):
        state = np.random.SeedSequence(root_seed, spawn_key=(r,)).generate_state(2, np.uint32)
        seeds.append((int(state[0]) << 31) ^ int(state[1]))
    return seeds


def plan_monte_carlo(config: dict[str, Any], runs: int, root_seed: int) -> BatchPlan:
    """``runs`` replicates of one scenario."""
    _check_runs(runs)
    seeds = replicate_seeds(root_seed, runs)
    specs = [
        RunSpec(run_id=r, replicate=r, seed=s, scenario=config.get("name", ""))
        for r, s in enumerate(seeds)
    ]
    return BatchPlan("mc", {config.get("name", "scenario"): config}, specs, root_seed, runs)


def plan_sweep(
    config: dict[str, Any], grid: dict[str, list[Any]], runs: int, root_seed: int
) -> BatchPlan:
    """The cartesian grid times ``runs`` replicates; every grid point uses the same seeds."""
    _check_runs(runs)
    if not grid:
        raise ConfigError("--grid", "give at least one KEY=V1,V2,... expression")
    keys = list(grid)
    for key in keys:  # validate every value once, before anything runs
        for value in grid[key]:
            validate_config(apply_overrides(config, {key: value}))
    seeds = replicate_seeds(root_seed, runs)
    specs = []
    for g, values in enumerate(itertools.product(*(grid[k] for k in keys))):
        point = tuple(zip(keys, values, strict=True))
        validate_config(apply_overrides(config, dict(point)))
        specs += [
            RunSpec(
                run_id=g * runs + r,
                replicate=r,
                seed=seeds[r],
                scenario=config.get("name", ""),
                grid=point,
            )
            for r in range(runs)
        ]
    return BatchPlan(
        "sweep",
        {config.get("name", "scenario"): config},
        specs,
        root_seed,
        runs,
        grid={k: list(v) for k, v in grid.items()},
    )


def plan_comparison(configs: dict[str, dict[str, Any]], runs: int, root_seed: int) -> BatchPlan:
    """Each scenario on the same ``runs`` seeds (paired, common random numbers)."""
    _check_runs(runs)
    if len(configs) < 2:
        raise ConfigError("compare", "needs two scenarios with different names")
    seeds = replicate_seeds(root_seed, runs)
    specs = [
        RunSpec(run_id=i * runs + r, replicate=r, seed=seeds[r], scenario=name)
        for i, name in enumerate(configs)
        for r in range(runs)
    ]
    return BatchPlan("compare", dict(configs), specs, root_seed, runs)


def _check_runs(runs: int) -> None:
    if not isinstance(runs, int) or runs < 1:
        raise ConfigError("--runs", f"must be an integer >= 1 (got {runs!r})")


# --------------------------------------------------------------------------- worker side


def run_chunk(
    configs: dict[str, dict[str, Any]], specs: Sequence[RunSpec]
) -> tuple[list[dict[str, Any]], pd.DataFrame]:
    """Run a chunk of specs (in a worker); a run that raises becomes a row with its error."""
    rows, series = [], []
    for spec in specs:
        row: dict[str, Any] = {
            "run_id": spec.run_id,
            "replicate": spec.replicate,
            "seed": spec.seed,
            "scenario": spec.scenario,
        }
        row.update(dict(spec.grid))
        try:
            config = validate_config(apply_overrides(configs[spec.scenario], dict(spec.grid)))
            result = run_model(config, seed=spec.seed)
        except Exception as exc:  # recorded, reported, never stops the batch
            row["error"] = f"{exc.__class__.__name__}: {exc}"
            row["traceback"] = traceback.format_exc(limit=8)
            rows.append(row)
            continue
        summary = dict(result.summary)
        summary.pop("seed", None)
        row.update(summary)
        row["error"] = None
        rows.append(row)
        frame = result.model_frame
        frame.insert(0, "run_id", spec.run_id)
        series.append(frame)
    timeseries = pd.concat(series, ignore_index=True) if series else pd.DataFrame()
    return rows, timeseries


# --------------------------------------------------------------------------- storage


def _normalise(rows: list[dict[str, Any]]) -> pd.DataFrame:
    """A runs frame with stable dtypes (so parts written at different times concatenate)."""
    frame = pd.DataFrame(rows)
    text = {"scenario", "error", "traceback"}
    for column in frame.columns:
        if column in text:
            frame[column] = frame[column].astype("string")
        elif column in ("run_id", "replicate", "seed"):
            frame[column] = frame[column].astype("int64")
        else:
            numeric = pd.to_numeric(frame[column], errors="coerce")
            if numeric.notna().sum() == frame[column].notna().sum():
                frame[column] = numeric.astype("float64")
            else:
                frame[column] = frame[column].astype("string")
    return frame


def _environment() -> dict[str, Any]:
    versions = {"python": platform.python_version()}
    for package in ("agentsim", "mesa", "numpy", "pandas", "networkx", "pydantic", "dask"):
        try:
            versions[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            versions[package] = None
    try:
        commit = subprocess.run(
            ["git", "rev-parse", "HEAD"],
            capture_output=True,
            text=True,
            cwd=Path(__file__).resolve().parent,
            timeout=5,
            check=False,
        )
        git = commit.stdout.strip() if commit.returncode == 0 else None
    except (OSError, subprocess.SubprocessError):
        git = None
    return {"versions": versions, "git_commit": git}


def read_manifest(out: Path) -> dict[str, Any]:
    """The manifest of a batch folder (raises :class:`ConfigError` when unreadable)."""
    path = Path(out) / MANIFEST
    if not path.is_file():
        raise ConfigError("--resume", f"{out} holds no {MANIFEST}: not a batch folder")
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise ConfigError("--resume", f"{path} cannot be read ({exc.__class__.__name__})") from None


def completed_run_ids(out: Path) -> set[int]:
    """Run ids already on disk (in part files or the gathered runs file)."""
    done: set[int] = set()
    for path in sorted((Path(out) / PARTS).glob("runs-*.parquet")):
        done.update(pd.read_parquet(path, columns=["run_id"])["run_id"].tolist())
    gathered = Path(out) / "runs.parquet"
    if gathered.is_file():
        done.update(pd.read_parquet(gathered, columns=["run_id"])["run_id"].tolist())
    return done


@dataclass
class BatchResult:
    """Where a batch wrote its results, and what they hold."""

    out: Path
    runs: pd.DataFrame
    timeseries: pd.DataFrame
    manifest: dict[str, Any]

    @property
    def failures(self) -> pd.DataFrame:
        """Rows of runs that raised."""
        return self.runs[self.runs["error"].notna()]


def run_batch(
    plan: BatchPlan,
    out: Path,
    executor: Any,
    resume: bool = False,
    chunk_size: int | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> BatchResult:
    """Run the plan's missing runs on ``executor``, saving each chunk as it finishes.

    ``progress(done, total)`` is called after each chunk. Without ``resume`` the folder must be
    new or empty.
    """
    out = Path(out)
    fingerprint = plan.fingerprint()
    with executor:  # start the workers before writing anything: a dead cluster leaves no trace
        return _run_batch(plan, out, executor, fingerprint, resume, chunk_size, progress)


def _run_batch(
    plan: BatchPlan,
    out: Path,
    executor: Any,
    fingerprint: str,
    resume: bool,
    chunk_size: int | None,
    progress: Callable[[int, int], None] | None,
) -> BatchResult:
    if resume:
        manifest = read_manifest(out)
        if manifest.get("fingerprint") != fingerprint:
            raise ConfigError(
                "--resume", f"{out} was made with another config, grid, seed or number of runs"
            )
    else:
        if out.exists() and any(out.iterdir()):
            raise ConfigError("--out", f"{out} is not empty; choose another folder or --resume")
        manifest = {
            "kind": plan.kind,
            "fingerprint": fingerprint,
            "root_seed": plan.root_seed,
            "runs_per_point": plan.runs,
            "total_runs": len(plan.specs),
            "grid": plan.grid,
            "configs": plan.configs,
            "config_hashes": {
                name: hashlib.sha256(json.dumps(cfg, sort_keys=True).encode()).hexdigest()
                for name, cfg in plan.configs.items()
            },
            **_environment(),
            "started": _now(),
            "finished": None,
            "completed_run_ids": [],
            "failed_run_ids": [],
        }
    (out / PARTS).mkdir(parents=True, exist_ok=True)
    for stale in [*out.glob(".*.tmp"), *(out / PARTS).glob(".*.tmp")]:  # left by a kill
        stale.unlink(missing_ok=True)
    done = completed_run_ids(out)
    manifest["completed_run_ids"] = sorted(done)
    write_json(out / MANIFEST, manifest)
    todo = [spec for spec in plan.specs if spec.run_id not in done]
    size = chunk_size or max(1, min(25, math.ceil(len(todo) / (8 * max(executor.workers, 1)))))
    chunks = [(plan.configs, todo[i : i + size]) for i in range(0, len(todo), size)]
    total, finished = len(plan.specs), len(done)
    if progress is not None:
        progress(finished, total)
    for rows, series in executor.imap_unordered(run_chunk, chunks):
        first = rows[0]["run_id"]
        write_parquet(out / PARTS / f"runs-{first:07d}.parquet", _normalise(rows))
        if len(series):
            write_parquet(out / PARTS / f"timeseries-{first:07d}.parquet", series)
        finished += len(rows)
        manifest["completed_run_ids"] = sorted(
            set(manifest["completed_run_ids"]) | {r["run_id"] for r in rows}
        )
        write_json(out / MANIFEST, manifest)
        if progress is not None:
            progress(finished, total)
    runs, timeseries = _gather(out)
    manifest["failed_run_ids"] = runs.loc[runs["error"].notna(), "run_id"].astype(int).tolist()
    manifest["finished"] = _now()
    write_json(out / MANIFEST, manifest)
    return BatchResult(out, runs, timeseries, manifest)


def _gather(out: Path) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Merge part files (and any earlier gathered files) into runs and timeseries Parquet."""
    runs_parts = sorted((out / PARTS).glob("runs-*.parquet"))
    ts_parts = sorted((out / PARTS).glob("timeseries-*.parquet"))
    frames = [pd.read_parquet(p) for p in runs_parts]
    series = [pd.read_parquet(p) for p in ts_parts]
    if (out / "runs.parquet").is_file():
        frames.append(pd.read_parquet(out / "runs.parquet"))
    if (out / "timeseries.parquet").is_file():
        series.append(pd.read_parquet(out / "timeseries.parquet"))
    runs = pd.concat(frames, ignore_index=True).drop_duplicates("run_id")
    runs = runs.sort_values("run_id", kind="stable").reset_index(drop=True)
    runs = _normalise(runs.to_dict("records"))
    timeseries = (
        pd.concat(series, ignore_index=True)
        .drop_duplicates(["run_id", "step"])
        .sort_values(["run_id", "step"], kind="stable")
        .reset_index(drop=True)
        if series
        else pd.DataFrame()
    )
    write_parquet(out / "runs.parquet", runs)
    write_parquet(out / "timeseries.parquet", timeseries)
    shutil.rmtree(out / PARTS, ignore_errors=True)
    return runs, timeseries


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


# --------------------------------------------------------------------------- statistics

KEY_OUTCOMES = (
    "final_us_user_share",
    "final_us_revenue_share",
    "final_us_capital_share",
    "final_us_talent_share",
    "final_us_lead_ooms",
    "frontier_growth_ooms_per_year",
    "mean_months_between_us_frontier_releases",
    "non_us_lead_months",
)


def t_quantile(n: int, level: float = 0.95) -> float:
    """Two-sided Student t quantile for a mean of ``n`` observations."""
    from scipy import stats

    return float(stats.t.ppf(0.5 + level / 2, max(n - 1, 1)))


def mean_ci(values: pd.Series, level: float = 0.95) -> tuple[float, float, float, int]:
    """Mean, lower and upper bounds of its t interval, and the count of finite values."""
    x = pd.to_numeric(values, errors="coerce").dropna().to_numpy(dtype=float)
    n = x.size
    if n == 0:
        return math.nan, math.nan, math.nan, 0
    mean = float(x.mean())
    if n == 1:
        return mean, math.nan, math.nan, 1
    half = t_quantile(n, level) * float(x.std(ddof=1)) / math.sqrt(n)
    return mean, mean - half, mean + half, n


def wilson_interval(successes: int, n: int, level: float = 0.95) -> tuple[float, float, float]:
    """Proportion and its Wilson score interval."""
    if n == 0:
        return math.nan, math.nan, math.nan
    from scipy import stats

    z = float(stats.norm.ppf(0.5 + level / 2))
    p = successes / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    low = 0.0 if successes == 0 else min(max(centre - half, 0.0), p)
    high = 1.0 if successes == n else max(min(centre + half, 1.0), p)
    return p, low, high


def outcome_table(runs: pd.DataFrame, by: Sequence[str] = ()) -> pd.DataFrame:
    """Means with 95% CIs of the key outcomes and the overtake probability (Wilson)."""
    ok = runs[runs["error"].isna()]
    if ok.empty or "overtaken" not in ok:
        return pd.DataFrame(columns=[*by, "outcome", "mean", "ci_low", "ci_high", "n"])
    groups = ok.groupby(list(by), sort=False) if by else [((), ok)]
    rows = []
    for key, group in groups:
        labels = dict(zip(by, key if isinstance(key, tuple) else (key,), strict=True))
        for outcome in KEY_OUTCOMES:
            if outcome in group:
                mean, low, high, n = mean_ci(group[outcome])
                rows.append(
                    {
                        **labels,
                        "outcome": outcome,
                        "mean": mean,
                        "ci_low": low,
                        "ci_high": high,
                        "n": n,
                    }
                )
        overtaken = group["overtaken"].astype(float)
        p, low, high = wilson_interval(int(overtaken.sum()), int(overtaken.notna().sum()))
        rows.append(
            {
                **labels,
                "outcome": "P(non-US overtake)",
                "mean": p,
                "ci_low": low,
                "ci_high": high,
                "n": int(overtaken.notna().sum()),
            }
        )
    return pd.DataFrame(rows)


def paired_differences(runs: pd.DataFrame, a: str, b: str) -> pd.DataFrame:
    """B minus A for every numeric summary outcome, paired by replicate (same seed).

    Columns: mean of A and B, mean difference with its 95% t interval, and the paired effect
    size d_z (mean difference over the standard deviation of the differences).
    """
    ok = runs[runs["error"].isna()]
    left = ok[ok["scenario"] == a].set_index("replicate")
    right = ok[ok["scenario"] == b].set_index("replicate")
    common = left.index.intersection(right.index)
    left, right = left.loc[common], right.loc[common]
    skip = {"run_id", "replicate", "seed", "steps"}
    rows = []
    for column in left.columns:
        if column in skip or not pd.api.types.is_numeric_dtype(left[column]):
            continue
        diff = (right[column] - left[column]).dropna()
        mean, low, high, n = mean_ci(diff)
        sd = float(diff.std(ddof=1)) if n > 1 else math.nan
        rows.append(
            {
                "outcome": column,
                f"mean_{a}": float(left[column].mean()),
                f"mean_{b}": float(right[column].mean()),
                "difference": mean,
                "ci_low": low,
                "ci_high": high,
                "effect_size_dz": mean / sd if sd and sd > 0 else math.nan,
                "n_pairs": n,
            }
        )
    return pd.DataFrame(rows)

"""Exploring under parameter uncertainty: explore designs and global sensitivity analysis.

Both are batches on the package's executors (:mod:`agentsim.ensemble`), so they share the
Monte Carlo's progress bar, part files, resume after a kill and failure capture.

An **explore** batch draws N parameter vectors from an uncertainty spec
(:mod:`agentsim.uncertainty`: marginals and rank correlations through a Gaussian copula) and
runs each under every scenario given, on the same K seeds: sample s of scenario A and of
scenario B differ only in the scenario, so a policy effect at a parameter vector is a paired
difference on common random numbers. Its table (:func:`experiments_table`) has one row per
sample, scenario and seed.

A **sensitivity** batch runs a SALib design (Morris elementary effects, or Saltelli's design
for Sobol indices) on K seeds per design point. The outcome of a design point is its mean
over the seeds (or, with a baseline, the mean of the paired differences scenario - baseline),
and :func:`sensitivity_indices` hands those means to SALib. The seeds also measure how much
of the outcome's variance is seed noise (:func:`seed_noise`); an index that the noise alone
could produce is flagged, not ranked.

The design draws come from their own stream of the root seed (:func:`design_sequence`), so the
replicates' seeds are those of a Monte Carlo with the same root seed.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import cache
from typing import Any, Protocol

import numpy as np
import pandas as pd

from agentsim import store
from agentsim.config import ConfigError, quote
from agentsim.ensemble import (
    BatchPlan,
    RunSpec,
    check_batch_size,
    check_same_clock,
    replicate_seeds,
)
from agentsim.store import BatchResult
from agentsim.survival import TIME_TO_EVENT
from agentsim.uncertainty import UncertaintySpec

#: Explore designs (unit points from ``scipy.stats.qmc``, see UncertaintySpec.sample).
EXPLORE_DESIGNS = ("lhs", "sobol", "random")
#: Sensitivity methods.
METHODS = ("morris", "sobol")
#: Grid levels of the Morris design (Morris 1991; Campolongo et al. 2007 use 4).
MORRIS_LEVELS = 4
#: Bootstrap resamples for the intervals of the indices.
RESAMPLES = 1000
#: Level of the indices' intervals.
CONFIDENCE = 0.95
#: Entropy word that gives the design draws a stream of their own (spawn key (word, 0): a
#: two-element key, which no replicate seed, spawn key (r,), can share).
DESIGN_WORD = 0x64657369
#: Columns of the experiments table that come before the parameters, in this order.
EXPERIMENT_IDS = ("run_id", "sample", "scenario", "replicate", "seed")
#: Columns of ``indices.csv``.
INDEX_COLUMNS = (
    "outcome",
    "parameter",
    "method",
    "index",
    "estimate",
    "ci_low",
    "ci_high",
    "noise_floor",
    "below_noise_floor",
)


class Marginals(Protocol):
    """What a sensitivity design needs of an uncertainty spec: the parameter names and the
    marginal quantile functions (:class:`~agentsim.uncertainty.UncertaintySpec` is one; a test
    function's inputs can be another)."""

    @property
    def names(self) -> list[str]:
        """Parameter names, in column order."""
        ...

    def ppf(self, u: np.ndarray) -> np.ndarray:
        """Unit points (n, d) -> parameter values (n, d)."""
        ...


def design_sequence(root_seed: int) -> np.random.SeedSequence:
    """The seed sequence of a batch's parameter draws: its own stream of ``root_seed``."""
    return np.random.SeedSequence(root_seed, spawn_key=(DESIGN_WORD, 0))


@cache
def outcome_names() -> tuple[str, ...]:
    """Names of the numeric run-summary outcomes (the summary's keys but ``seed``), read from
    a one-month run of the baseline: the summary's keys do not depend on the scenario."""
    from agentsim.run import run
    from agentsim.scenario_io import load_config

    summary = run(load_config(None), seed=0, steps=1).summary
    return tuple(key for key in summary if key != "seed")


def check_outcomes(outcomes: Sequence[str]) -> list[str]:
    """``outcomes`` as a list, refused (key ``--outcome``, one line, with a did-you-mean)
    when empty or when one is not a summary outcome."""
    import difflib

    outcomes = [o.strip() for o in outcomes if o.strip()]
    if not outcomes:
        raise ConfigError("--outcome", "name at least one summary outcome")
    known = outcome_names()
    for outcome in outcomes:
        if outcome not in known:
            close = difflib.get_close_matches(outcome, known, n=1)
            common = [k for k in known if not k.startswith("talent_flow_")][:8]
            hint = (
                f"; did you mean {quote(close[0])}?"
                if close
                else f"; for example {', '.join(common)} (all: the keys of a run's summary.json)"
            )
            raise ConfigError("--outcome", f"{quote(outcome)} is not a summary outcome{hint}")
    return outcomes


def _seeds(root_seed: int, seeds: int) -> list[int]:
    if isinstance(seeds, bool) or not isinstance(seeds, int) or seeds < 1:
        raise ConfigError("--seeds", f"must be an integer >= 1 (got {quote(seeds)})")
    values = replicate_seeds(root_seed, seeds)
    if len(set(values)) < len(values):
        raise ConfigError("--seed", f"root seed {root_seed} repeats a seed; choose another")
    return values


def point_runs(
    scenarios: Sequence[str],
    points: Sequence[tuple[tuple[str, Any], ...]],
    seeds: Sequence[int],
) -> list[RunSpec]:
    """Every scenario at every design point on the same seeds (paired across both).

    ``points`` are the design points as (dotted key, value) overrides. Run id =
    (scenario index * points + point) * seeds + replicate; a run's ``point`` is its design
    point's index.
    """
    return [
        RunSpec((i * len(points) + p) * len(seeds) + r, r, seed, name, point, p)
        for i, name in enumerate(scenarios)
        for p, point in enumerate(points)
        for r, seed in enumerate(seeds)
    ]


def _check_scenarios(
    configs: Mapping[str, Mapping[str, Any]], spec: UncertaintySpec, key: str = "SCENARIO"
) -> None:
    if not configs:
        raise ConfigError("SCENARIO", "give at least one scenario")
    check_same_clock(configs, key)  # their runs are paired by seed
    for config in configs.values():
        spec.check_scenario(config)


# --------------------------------------------------------------------------- explore


def plan_explore(
    configs: Mapping[str, Mapping[str, Any]],
    spec: UncertaintySpec,
    samples: int,
    seeds: int,
    design: str = "lhs",
    root_seed: int = 0,
) -> BatchPlan:
    """``samples`` parameter vectors from ``spec``, each run under every scenario on the same
    ``seeds`` seeds.

    Run id = (scenario index * samples + sample) * seeds + replicate; a run's design point
    (``point``) is its sample, and its grid holds the sampled values, so the runs table has
    one column per parameter. Every drawn vector is validated against every scenario before
    anything runs. Raises :class:`ConfigError` for no scenario, a spec naming a lab or
    jurisdiction a scenario lacks, a draw a scenario refuses (naming it), a design or sample
    count the design cannot take (``--design``, ``--samples``) and ``--seeds`` below 1.
    """
    _check_scenarios(configs, spec)
    if isinstance(samples, int) and isinstance(seeds, int):
        check_batch_size(len(configs) * max(samples, 1) * max(seeds, 1))
    draws = spec.sample(samples, design, design_sequence(root_seed))
    for config in configs.values():
        spec.validate_draws(draws, config)
    values = _seeds(root_seed, seeds)
    overrides = [tuple(spec.overrides(row).items()) for _, row in draws.iterrows()]
    runs = point_runs(list(configs), overrides, values)
    return BatchPlan(
        "explore",
        {name: dict(config) for name, config in configs.items()},
        runs,
        root_seed,
        seeds,
        design={
            "uncertainty": spec.to_dict(),
            "design": design,
            "samples": samples,
            "seeds": seeds,
        },
    )


def experiments_table(runs: pd.DataFrame, parameters: Sequence[str]) -> pd.DataFrame:
    """The experiments table of an explore batch: one row per sample, scenario and seed.

    Columns: :data:`EXPERIMENT_IDS` (``sample`` is the run's design point), the sampled
    ``parameters``, then every other column of ``runs`` (the summary outcomes), ``error``
    and ``traceback`` last; rows in run-id order.
    """
    table = runs.rename(columns={"point": "sample"})
    table["sample"] = table["sample"].astype("int64")
    first = [*EXPERIMENT_IDS, *parameters]
    last = ["error", "traceback"]
    rest = [c for c in table.columns if c not in first and c not in last]
    return table[[*first, *rest, *last]].sort_values("run_id").reset_index(drop=True)


# --------------------------------------------------------------------------- sensitivity


@dataclass(frozen=True)
class SensitivityDesign:
    """A SALib design: its method, the parameter names, and the design points in unit space
    (``unit``, shape (n, d), quantiles of the marginals) and in parameter units (``values``,
    shape (n, d)). ``samples`` is what the user asked for: Morris trajectories, or Sobol's
    base sample N (a power of 2; Saltelli's design then has N (d + 2) points)."""

    method: str
    names: tuple[str, ...]
    samples: int
    unit: np.ndarray
    values: np.ndarray

    @property
    def problem(self) -> dict[str, Any]:
        """SALib's problem: the parameters on the unit interval (the design's quantiles)."""
        return {
            "num_vars": len(self.names),
            "names": list(self.names),
            "bounds": [[0.0, 1.0]] * len(self.names),
        }


def sensitivity_design(
    method: str, marginals: Marginals, samples: int, seed: int | np.random.SeedSequence = 0
) -> SensitivityDesign:
    """The design points of a Morris screening or a Sobol analysis.

    Morris: ``samples`` trajectories of d + 1 points on a grid of :data:`MORRIS_LEVELS`
    levels (SALib ``sample.morris``, Morris 1991). Sobol: Saltelli's design for first and
    total indices, ``samples`` (N, a power of 2) times d + 2 points (SALib ``sample.sobol``,
    Saltelli et al. 2010), scrambled. The points are drawn on the unit cube and mapped through
    the marginal quantile functions; rank correlations of the spec are not applied (Sobol
    indices and elementary effects assume independent inputs). Unit values 0 and 1 are moved
    in by 1e-9 so unbounded marginals stay finite.

    Raises :class:`ConfigError`: key ``--method`` for an unknown method, ``--samples`` for
    fewer than 2 Morris trajectories or a Sobol N that is not a power of 2 (naming the nearest
    ones), and fewer than 2 parameters.
    """
    from SALib.sample import morris as morris_sample
    from SALib.sample import sobol as sobol_sample

    if method not in METHODS:
        raise ConfigError("--method", f"must be one of {list(METHODS)} (got {quote(method)})")
    names = tuple(marginals.names)
    if len(names) < 2:
        raise ConfigError("--uncertainty", "a sensitivity analysis needs at least 2 parameters")
    if isinstance(samples, bool) or not isinstance(samples, int):
        raise ConfigError("--samples", f"must be an integer (got {quote(samples)})")
    sequence = seed if isinstance(seed, np.random.SeedSequence) else design_sequence(seed)
    rng = np.random.default_rng(sequence)
    problem = {"num_vars": len(names), "names": list(names), "bounds": [[0.0, 1.0]] * len(names)}
    if method == "morris":
        if samples < 2:
            raise ConfigError(
                "--samples", f"Morris screening needs at least 2 trajectories (got {samples})"
            )
        unit = morris_sample.sample(problem, samples, num_levels=MORRIS_LEVELS, seed=rng)
    else:
        if samples < 2 or samples & (samples - 1):
            below = 1 << max(samples.bit_length() - 1, 1)
            above = 1 << max(samples.bit_length(), 1)
            options = f"{below}" if below == above or samples < 2 else f"{below} or {above}"
            raise ConfigError(
                "--samples",
                f"Sobol analysis needs a base sample N that is a power of 2 and >= 2 "
                f"(got {samples}; use {options})",
            )
        unit = sobol_sample.sample(
            problem, samples, calc_second_order=False, scramble=True, seed=rng
        )
    unit = np.asarray(unit, dtype=float)
    values = marginals.ppf(np.clip(unit, 1e-9, 1.0 - 1e-9))
    return SensitivityDesign(method, names, samples, unit, values)


def plan_sensitivity(
    config: Mapping[str, Any],
    spec: UncertaintySpec,
    method: str,
    samples: int,
    seeds: int,
    root_seed: int = 0,
    against: tuple[str, Mapping[str, Any]] | None = None,
    outcomes: Sequence[str] = (),
) -> BatchPlan:
    """The runs of a sensitivity analysis: every design point on ``seeds`` seeds, under the
    scenario and, with ``against`` (name, config), also under the baseline (same points and
    seeds, so the paired difference is the policy effect at each point).

    Run id = (scenario index * points + point) * seeds + replicate, the baseline first.
    ``outcomes`` are recorded in the manifest (and checked). Raises as
    :func:`sensitivity_design`, :func:`check_outcomes` and :func:`plan_explore`.
    """
    outcomes = check_outcomes(outcomes)
    for outcome in outcomes:
        if outcome in TIME_TO_EVENT:
            raise ConfigError(
                "--outcome",
                f"{outcome} is the month of an event, undefined in runs where it does not "
                "happen, and a variance decomposition cannot skip runs; use an outcome "
                "defined in every run (overtaken, us_generations)",
            )
    name = str(config.get("name", "scenario"))
    configs: dict[str, dict[str, Any]] = {}
    if against is not None:
        base_name, base = against
        if base_name == name:
            raise ConfigError(
                "--against", f"the baseline and the scenario are both named {quote(name)}"
            )
        configs[base_name] = dict(base)
    configs[name] = dict(config)
    _check_scenarios(configs, spec, "--against")
    design = sensitivity_design(method, spec, samples, design_sequence(root_seed))
    draws = pd.DataFrame(design.values, columns=list(design.names))
    for column, bounds in spec.bounds.items():
        if isinstance(bounds[0], int):
            draws[column] = draws[column].round().astype("int64")
    for scenario in configs.values():
        spec.validate_draws(draws, scenario)
    values = _seeds(root_seed, seeds)
    points = [tuple(spec.overrides(row).items()) for _, row in draws.iterrows()]
    runs = point_runs(list(configs), points, values)
    return BatchPlan(
        "sensitivity",
        configs,
        runs,
        root_seed,
        seeds,
        design={
            "uncertainty": spec.to_dict(),
            "method": method,
            "samples": samples,
            "seeds": seeds,
            "outcomes": outcomes,
            "scenario": name,
            "against": against[0] if against is not None else None,
        },
    )


def point_outcomes(
    runs: pd.DataFrame, outcome: str, scenario: str, against: str | None = None
) -> np.ndarray:
    """The outcome of every design point on every seed: shape (points, seeds).

    With ``against`` (the baseline's name), the paired difference scenario - baseline on the
    same point and seed. Raises :class:`ConfigError` (key ``--outcome``) when a run failed or
    the outcome is undefined (NaN) in some run: a variance decomposition cannot skip runs
    (name a defined outcome, such as ``overtaken`` rather than ``overtake_month``).
    """
    if outcome not in runs:
        raise ConfigError("--outcome", f"{quote(outcome)} is not a column of the runs")

    def grid(name: str) -> np.ndarray:
        part = runs[runs["scenario"] == name]
        table = part.pivot(index="point", columns="replicate", values=outcome)
        return table.sort_index().sort_index(axis=1).to_numpy(dtype=float, na_value=np.nan)

    values = grid(scenario)
    if against is not None:
        values = values - grid(against)
    missing = int(np.isnan(values).sum())
    if missing:
        failed = int(runs["error"].notna().sum()) if "error" in runs else 0
        why = f"{failed} runs failed" if failed else "it is undefined in some runs"
        raise ConfigError(
            "--outcome",
            f"{outcome} is missing for {missing} of {values.size} design points and seeds ({why}); "
            "name an outcome defined in every run",
        )
    return values


@dataclass(frozen=True)
class SeedNoise:
    """How much of an outcome's spread over design points is seed noise.

    ``seed_variance`` is the mean over points of the variance over seeds (one run's noise);
    ``mean_variance`` the variance over points of the seed means (what the indices
    decompose); ``share`` = seed_variance / seeds / mean_variance, the part of the latter
    that seed noise alone makes (0: none; near 1: the parameters explain nothing).
    """

    seed_variance: float
    mean_variance: float
    seeds: int

    @property
    def share(self) -> float:
        """seed_variance / seeds / mean_variance, at most 1 (NaN when nothing varies)."""
        if self.mean_variance <= 0:
            return math.nan if self.seed_variance <= 0 else 1.0
        return min(self.seed_variance / self.seeds / self.mean_variance, 1.0)


def seed_noise(values: np.ndarray) -> SeedNoise:
    """:class:`SeedNoise` of a (points, seeds) array; with one seed the noise is unknown and
    counted as 0 (then nothing is flagged)."""
    values = np.asarray(values, dtype=float)
    seeds = values.shape[1]
    within = float(values.var(axis=1, ddof=1).mean()) if seeds > 1 else 0.0
    return SeedNoise(within, float(values.mean(axis=1).var(ddof=1)), seeds)


def sensitivity_indices(
    design: SensitivityDesign,
    values: np.ndarray,
    outcome: str,
    seed: int | np.random.SeedSequence = 0,
) -> pd.DataFrame:
    """Morris or Sobol indices of one outcome, with bootstrap intervals and noise flags.

    ``values`` is (points, seeds) (:func:`point_outcomes`); the seed means are analysed.
    Morris (SALib ``analyze.morris``): ``mu_star`` (mean absolute elementary effect, per unit
    of the parameter's quantile) with its interval, ``sigma`` and ``mu``; flagged when mu* is
    at or below the noise floor, the value an ineffective parameter's mu* stays under with
    about 97.5% probability from seed noise alone: each of its r elementary effects is
    e ~ N(0, q^2) with q = sqrt(2 s^2 / K) / Delta (s^2: seed variance, K seeds, Delta the
    Morris step), so |e| has mean q sqrt(2/pi) and standard deviation q sqrt(1 - 2/pi), and
    the floor is q (sqrt(2/pi) + 2 sqrt((1 - 2/pi) / r)); conservative under common random
    numbers, which correlate the noise of neighbouring points. Sobol (SALib
    ``analyze.sobol``, Saltelli et al. 2010; Jansen 1999 for the total index): ``S1`` and
    ``ST`` with bootstrap intervals; ``ST`` flagged when its interval's lower end is at or
    below the seed-noise share of the variance (independent seed noise gives an input without
    effect a total index near that share), ``S1`` when its interval reaches 0 (noise adds
    nothing to a first-order index in expectation). The floor each index was held to is its
    ``noise_floor``. An outcome that is the same at every design point has nothing to
    decompose: every index is 0 and flagged. Returns a frame with :data:`INDEX_COLUMNS`.
    """
    from SALib.analyze import morris as morris_analyze
    from SALib.analyze import sobol as sobol_analyze

    values = np.asarray(values, dtype=float)
    means = values.mean(axis=1)
    noise = seed_noise(values)
    sequence = seed if isinstance(seed, np.random.SeedSequence) else design_sequence(seed)
    rng = np.random.default_rng(sequence.spawn(1)[0])
    rows = []
    nan = math.nan
    if np.ptp(means) == 0:  # a constant outcome: nothing to decompose, nothing to rank
        names = ("mu_star", "sigma", "mu") if design.method == "morris" else ("S1", "ST")
        for name in design.names:
            for index in names:
                rows.append((outcome, name, design.method, index, 0.0, 0.0, 0.0, nan, True))
        return pd.DataFrame(rows, columns=list(INDEX_COLUMNS))
    if design.method == "morris":
        result = morris_analyze.analyze(
            design.problem,
            design.unit,
            means,
            num_resamples=RESAMPLES,
            conf_level=CONFIDENCE,
            num_levels=MORRIS_LEVELS,
            seed=rng,
        )
        step = MORRIS_LEVELS / (2.0 * (MORRIS_LEVELS - 1))
        effect_noise = math.sqrt(2.0 * noise.seed_variance / noise.seeds) / step
        trajectories = max(len(design.unit) // (len(design.names) + 1), 1)
        spread = math.sqrt((1.0 - 2.0 / math.pi) / trajectories)
        floor = effect_noise * (math.sqrt(2.0 / math.pi) + 2.0 * spread)
        for j, name in enumerate(design.names):
            mu_star, conf = float(result["mu_star"][j]), float(result["mu_star_conf"][j])
            flagged = bool(mu_star <= floor) if noise.seeds > 1 else False
            rows += [  # mu* is a mean of absolute values: its interval stops at 0
                (outcome, name, "morris", "mu_star", mu_star, max(mu_star - conf, 0.0),
                 mu_star + conf, floor, flagged),
                (outcome, name, "morris", "sigma", float(result["sigma"][j]), nan, nan, nan,
                 flagged),
                (outcome, name, "morris", "mu", float(result["mu"][j]), nan, nan, nan, flagged),
            ]  # fmt: skip
    else:
        result = sobol_analyze.analyze(
            design.problem,
            means,
            calc_second_order=False,
            num_resamples=RESAMPLES,
            conf_level=CONFIDENCE,
            seed=rng,
        )
        share = noise.share if noise.seeds > 1 else 0.0
        for j, name in enumerate(design.names):
            for index in ("S1", "ST"):
                estimate, conf = float(result[index][j]), float(result[f"{index}_conf"][j])
                floor = share if index == "ST" else 0.0
                rows.append(
                    (outcome, name, "sobol", index, estimate, estimate - conf, estimate + conf,
                     floor, bool(estimate - conf <= floor))
                )  # fmt: skip
    return pd.DataFrame(rows, columns=list(INDEX_COLUMNS))


# --------------------------------------------------------------------------- after the batch

#: Files an explore or sensitivity batch adds to its folder.
EXPERIMENTS = "experiments.parquet"
INDICES = "indices.csv"
NOISE = "noise.csv"


def finish_explore(result: BatchResult) -> pd.DataFrame:
    """Write the experiments table of a finished explore batch (``experiments.parquet``,
    atomically) and return it."""
    names = list(result.manifest["design"]["uncertainty"]["parameters"])
    table = experiments_table(result.runs, names)
    store.write_parquet(result.out / EXPERIMENTS, table)
    return table


def design_of(manifest: Mapping[str, Any]) -> SensitivityDesign:
    """The design of a stored sensitivity batch, drawn again from its manifest (the same
    spec, method, sample count and root seed give the same points)."""
    design = manifest["design"]
    spec = UncertaintySpec.from_dict(design["uncertainty"])
    return sensitivity_design(
        design["method"], spec, design["samples"], design_sequence(manifest["root_seed"])
    )


def finish_sensitivity(result: BatchResult) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Compute and write the indices of a finished sensitivity batch.

    Writes ``indices.csv`` (:data:`INDEX_COLUMNS`, one row per outcome, parameter and index)
    and ``noise.csv`` (outcome, seed variance, variance of the seed means, seeds, seed-noise
    share) atomically, and returns both frames. Raises :class:`ConfigError` as
    :func:`point_outcomes` (a failed run or an undefined outcome).
    """
    manifest = result.manifest
    design = design_of(manifest)
    settings = manifest["design"]
    tables, noise_rows = [], []
    for outcome in settings["outcomes"]:
        values = point_outcomes(result.runs, outcome, settings["scenario"], settings["against"])
        tables.append(sensitivity_indices(design, values, outcome, manifest["root_seed"]))
        noise = seed_noise(values)
        noise_rows.append(
            (outcome, noise.seed_variance, noise.mean_variance, noise.seeds, noise.share)
        )
    indices = pd.concat(tables, ignore_index=True)
    noise = pd.DataFrame(
        noise_rows,
        columns=["outcome", "seed_variance", "mean_variance", "seeds", "seed_noise_share"],
    )
    store.write_csv(result.out / INDICES, indices)
    store.write_csv(result.out / NOISE, noise)
    return indices, noise


def ranking(indices: pd.DataFrame, outcome: str) -> pd.DataFrame:
    """The parameters of one outcome, most influential first: by ``ST`` for Sobol, by
    ``mu_star`` for Morris; parameters below the noise floor come last, unranked (``rank``
    NaN). Columns: parameter, index, estimate, ci_low, ci_high, noise_floor,
    below_noise_floor, rank."""
    part = indices[indices["outcome"] == outcome]
    key = "ST" if (part["method"] == "sobol").any() else "mu_star"
    part = part[part["index"] == key].sort_values("estimate", ascending=False)
    ranked = part[~part["below_noise_floor"]]
    flagged = part[part["below_noise_floor"]]
    table = pd.concat([ranked, flagged], ignore_index=True)
    table["rank"] = [float(i + 1) for i in range(len(ranked))] + [math.nan] * len(flagged)
    columns = ["parameter", "index", "estimate", "ci_low", "ci_high", "noise_floor"]
    return table[[*columns, "below_noise_floor", "rank"]]


# --------------------------------------------------------------------------- Python API


def run_explore(
    scenarios: Mapping[str, Mapping[str, Any]] | Sequence[str | Any],
    spec: UncertaintySpec | str = "default",
    samples: int = 64,
    seeds: int = 4,
    design: str = "lhs",
    root_seed: int = 0,
    out: str | Any | None = None,
    workers: int | None = None,
    scheduler: str | None = None,
    resume: bool = False,
) -> tuple[BatchResult, pd.DataFrame]:
    """Run an explore batch from Python; return the batch and its experiments table.

    ``scenarios`` are named config dicts, or scenario files / shipped names; ``spec`` an
    :class:`UncertaintySpec` or a spec file / shipped name. The batch runs on a local pool
    (``workers``) or a Dask scheduler, in ``out`` (default: a new folder under results/),
    resumable with ``resume=True``. Raises :class:`ConfigError` on bad input, as the CLI.
    """
    from agentsim.ensemble import run_with_progress
    from agentsim.executors import make_executor

    configs = _named_configs(scenarios)
    spec = _as_spec(spec)
    plan = plan_explore(configs, spec, samples, seeds, design, root_seed)
    target = _target(out, plan, "_".join(configs))
    result = run_with_progress(plan, target, make_executor(workers, scheduler), resume=resume)
    return result, finish_explore(result)


def run_sensitivity(
    scenario: Mapping[str, Any] | str | Any,
    spec: UncertaintySpec | str = "default",
    method: str = "morris",
    outcomes: Sequence[str] = ("final_us_lead_ooms",),
    against: Mapping[str, Any] | str | Any | None = None,
    samples: int = 10,
    seeds: int = 4,
    root_seed: int = 0,
    out: str | Any | None = None,
    workers: int | None = None,
    scheduler: str | None = None,
    resume: bool = False,
) -> tuple[BatchResult, pd.DataFrame, pd.DataFrame]:
    """Run a sensitivity batch from Python; return the batch, the indices and the noise
    table (as :func:`finish_sensitivity` writes them). Arguments as :func:`run_explore`;
    ``against`` is the baseline of a paired policy effect. Raises :class:`ConfigError`."""
    from agentsim.ensemble import run_with_progress
    from agentsim.executors import make_executor

    ((name, config),) = _named_configs([scenario]).items()
    base = next(iter(_named_configs([against]).items())) if against is not None else None
    plan = plan_sensitivity(
        config, _as_spec(spec), method, samples, seeds, root_seed, base, outcomes
    )
    label = name + (f"_vs_{base[0]}" if base else "")
    target = _target(out, plan, label)
    result = run_with_progress(plan, target, make_executor(workers, scheduler), resume=resume)
    indices, noise = finish_sensitivity(result)
    return result, indices, noise


def _named_configs(scenarios: Any) -> dict[str, dict[str, Any]]:
    from agentsim.config import Config
    from agentsim.scenario_io import config_to_dict, load_config, scenario_path

    if isinstance(scenarios, Mapping):
        return {str(k): dict(v) for k, v in scenarios.items()}
    configs: dict[str, dict[str, Any]] = {}
    for item in scenarios:
        if isinstance(item, Config):
            config = config_to_dict(item)
        elif isinstance(item, Mapping):
            config = dict(item)
        else:
            config = config_to_dict(load_config(scenario_path(item)))
        configs[str(config.get("name", f"scenario_{len(configs)}"))] = config
    return configs


def _as_spec(spec: UncertaintySpec | str | Any) -> UncertaintySpec:
    from agentsim.uncertainty import load_uncertainty, uncertainty_path

    return spec if isinstance(spec, UncertaintySpec) else load_uncertainty(uncertainty_path(spec))


def _target(out: Any, plan: BatchPlan, label: str) -> Any:
    from pathlib import Path

    return (
        Path(out) if out is not None else store.default_batch_dir(plan.kind, label, plan.root_seed)
    )

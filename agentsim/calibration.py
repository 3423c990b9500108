"""Calibration: fit uncertain parameters to targets by ABC-SMC, and report how well they fit.

A calibration takes a scenario, a **parameter spec** (prior distributions, in the format of
the uncertainty specs: :mod:`agentsim.uncertainty`) and a **targets file**::

    scenarios:                      # optional: scenarios that policy-effect targets compare
      trusted: trusted_release      # a shipped scenario's name, or a file beside this one
    targets:
      frontier_growth:              # the target's name, used in the report
        outcome: frontier_growth_ooms_per_year   # a run-summary outcome
        value: 1.15
        tolerance: 0.15             # or standard_error: 0.08 (exactly one, > 0)
        source: Epoch AI (2024-25)  # optional text, shown in the report
      policy_effect:
        outcome: final_us_capital_share
        value: -0.05
        standard_error: 0.02
        compare: [scenario, trusted]  # B - A, on the same seed; "scenario" is the one calibrated
        relative_change: true         # B / A - 1 instead of B - A

Every evaluation runs the calibrated scenario (and each scenario a target compares, with
the same parameter values and the same seed: common random numbers) and computes one
statistic per target. The distance between a simulation and the targets is the root mean
square of the standardised errors, d = sqrt(mean_i ((x_i - v_i) / s_i)^2), with s_i the
target's tolerance or standard error; a missing statistic (an undefined outcome, a failed
run) counts as :data:`MISSING_PENALTY` standard units.

**The sampler.** ABC-SMC is pyabc's (Toni et al. 2009; Klinger, Rickert and Hasenauer
2018), with its SQLite history, so a calibration stopped between generations resumes where
it stopped. pyabc draws its proposals from numpy's *global* generator, and its parallel
samplers cannot be seeded; so the sampler here (:class:`ReplaySampler`) reseeds the global
generator at the start of every generation from the root seed, draws a batch of proposals
without simulating them, simulates the batch on the package's executors (local processes or
Dask) with seeds derived from the root seed, the generation and the proposal's position, then
replays the proposals in order with their results, exactly as a one-core sampler would have
seen them. The same root seed therefore gives the same posterior on any number of workers,
and a resumed calibration the same posterior as an uninterrupted one.

Priors are uniform on the unit cube and mapped through the spec's quantile functions (and
its Gaussian copula, where it has correlations), so the prior on each parameter is exactly
the spec's distribution and the proposals never leave the support.
"""

from __future__ import annotations

import difflib
import itertools
import math
import time
import warnings
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from agentsim.config import ConfigError, clip, quote
from agentsim.ensemble import check_same_clock, chunk_sizes
from agentsim.survival import TIME_TO_EVENT
from agentsim.uncertainty import UncertaintySpec

#: Standardised error given to a statistic that could not be computed (an outcome the run
#: left undefined, or a failed run): far beyond any tolerance, but finite, so that the
#: epsilon schedule's quantiles stay finite.
MISSING_PENALTY = 100.0
#: Names a target may not take: columns of the posterior-predictive table.
RESERVED_NAMES = frozenset({"draw", "seed", "error"})
#: Label of the calibrated scenario in a target's ``compare`` pair.
SCENARIO = "scenario"
#: Spawn-key words of the calibration's random streams (children of the root seed).
PROPOSALS, SIMULATIONS, PREDICTIVE = 0xCA1, 0xCA2, 0xCA3
#: Files a calibration folder holds (besides manifest.json and the lock).
DATABASE = "calibration.db"
EVALUATIONS = "evaluations"
POSTERIOR = "posterior.parquet"
PREDICTIVE_FILE = "predictive.parquet"
REPORT_MD = "fit_report.md"
REPORT_CSV = "fit_report.csv"
CALIBRATED = "calibrated.yaml"
SUMMARY_CSV = "posterior_summary.csv"
CALIBRATION_FILES = frozenset(
    {
        DATABASE,
        EVALUATIONS,
        POSTERIOR,
        PREDICTIVE_FILE,
        REPORT_MD,
        REPORT_CSV,
        SUMMARY_CSV,
        CALIBRATED,
    }
)
#: Posterior-predictive interval of the fit report (central 90%).
INTERVAL = (0.05, 0.95)


# --------------------------------------------------------------------------- budgets


@dataclass(frozen=True)
class Budget:
    """How much simulation a calibration may spend.

    ``population``: particles per generation; ``generations``: ABC-SMC generations (the
    first samples the prior); ``predictive``: posterior draws simulated for the fit report;
    ``max_evaluations``: a cap on simulations over all generations (a generation that would
    pass it ends the calibration early; the report says so).
    """

    population: int
    generations: int
    predictive: int
    max_evaluations: int


#: ``--budget`` levels. ``small`` is what the tests and docs use: about 2,500 simulations
#: (at most 3,000), about 2 minutes on two cores with one 60-month scenario.
BUDGETS = {
    "small": Budget(population=80, generations=5, predictive=60, max_evaluations=3_000),
    "medium": Budget(population=250, generations=8, predictive=200, max_evaluations=20_000),
    "large": Budget(population=800, generations=12, predictive=500, max_evaluations=150_000),
}


def budget(name: str) -> Budget:
    """The :data:`BUDGETS` entry ``name``; :class:`ConfigError` (``--budget``) otherwise."""
    if name not in BUDGETS:
        raise ConfigError("--budget", f"must be one of {list(BUDGETS)} (got {quote(name)})")
    return BUDGETS[name]


# --------------------------------------------------------------------------- targets


@dataclass(frozen=True)
class Target:
    """One calibration target: an outcome's value and how closely the model should match it.

    ``compare`` is None for a level of the calibrated scenario, else the pair (A, B) of
    scenario labels whose paired difference B - A (or relative change B / A - 1 when
    ``relative_change``) the target gives. Exactly one of ``tolerance`` and
    ``standard_error`` is set; it is the scale of the standardised error.
    """

    name: str
    outcome: str
    value: float
    tolerance: float | None = None
    standard_error: float | None = None
    compare: tuple[str, str] | None = None
    relative_change: bool = False
    source: str = ""

    @property
    def scale(self) -> float:
        """The tolerance or the standard error (the unit of the standardised error)."""
        return float(self.tolerance if self.tolerance is not None else self.standard_error)

    @property
    def half_width(self) -> float:
        """How far a value may lie from the target and count as matching it: the tolerance,
        or two standard errors."""
        return self.tolerance if self.tolerance is not None else 2.0 * self.standard_error

    @property
    def kind(self) -> str:
        """``level``, ``difference`` or ``relative change``."""
        if self.compare is None:
            return "level"
        return "relative change" if self.relative_change else "difference"

    def statistic(self, summaries: Mapping[str, Mapping[str, Any]]) -> float:
        """This target's statistic from the run summaries of one evaluation (by scenario
        label); NaN where an outcome is undefined or a relative change divides by 0."""
        if self.compare is None:
            return _number(summaries[SCENARIO].get(self.outcome))
        a = _number(summaries[self.compare[0]].get(self.outcome))
        b = _number(summaries[self.compare[1]].get(self.outcome))
        if self.relative_change:
            return b / a - 1.0 if a != 0 and math.isfinite(a) else math.nan
        return b - a

    def to_dict(self) -> dict[str, Any]:
        """Plain data, as :func:`targets_from_dict` reads it (without ``name``)."""
        data: dict[str, Any] = {"outcome": self.outcome, "value": self.value}
        if self.tolerance is not None:
            data["tolerance"] = self.tolerance
        if self.standard_error is not None:
            data["standard_error"] = self.standard_error
        if self.compare is not None:
            data["compare"] = list(self.compare)
            data["relative_change"] = self.relative_change
        if self.source:
            data["source"] = self.source
        return data


def _number(value: Any) -> float:
    try:
        number = float(value)
    except (TypeError, ValueError):
        return math.nan
    return number if math.isfinite(number) else math.nan


_TARGET_KEYS = (
    "outcome",
    "value",
    "tolerance",
    "standard_error",
    "compare",
    "relative_change",
    "source",
)


def _finite(where: str, key: str, value: Any, positive: bool = False) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise ConfigError(f"{where}.{key}", f"must be a finite number (got {quote(value)})")
    if positive and value <= 0:
        raise ConfigError(f"{where}.{key}", f"must be > 0 (got {quote(value)})")
    return float(value)


def targets_from_dict(
    data: Any, outcomes: Sequence[str], scenarios: Sequence[str], source: str = ""
) -> list[Target]:
    """Validate the ``targets`` mapping of a targets file.

    ``outcomes`` are the known run-summary outcomes, ``scenarios`` the labels a ``compare``
    pair may name (``scenario`` and those of the file's ``scenarios:``). Raises a one-line
    :class:`ConfigError` naming the target and key for: no targets, an unknown key, an
    unknown outcome (with a did-you-mean) or a time-to-event outcome
    (:data:`agentsim.survival.TIME_TO_EVENT`), a value that is not a finite number, a tolerance
    or standard error <= 0, both or neither of them, a ``compare`` that is not two different
    known scenario labels, and ``relative_change`` without ``compare`` or not a boolean.
    """
    prefix = f"{source}: " if source else ""
    if not isinstance(data, Mapping) or not data:
        raise ConfigError(f"{prefix}targets", "must map target names to their outcome and value")
    targets = []
    for name, entry in data.items():
        where = f"{prefix}targets.{clip(str(name))}"
        if not isinstance(entry, Mapping):
            raise ConfigError(
                where, f"must be a mapping with outcome and value (got {quote(entry)})"
            )
        for key in entry:
            if key not in _TARGET_KEYS:
                guess = difflib.get_close_matches(str(key), _TARGET_KEYS, n=1)
                hint = (
                    f"did you mean {guess[0]!r}?" if guess else f"known keys: {list(_TARGET_KEYS)}"
                )
                raise ConfigError(f"{where}.{clip(str(key))}", f"unknown key ({hint})")
        if str(name) in RESERVED_NAMES:
            raise ConfigError(
                where, f"a target may not be called {sorted(RESERVED_NAMES)} (table columns)"
            )
        if entry.get("outcome") is None:
            raise ConfigError(f"{where}.outcome", "is missing (a run-summary outcome)")
        outcome = entry.get("outcome")
        if outcome not in outcomes:
            close = difflib.get_close_matches(str(outcome), outcomes, n=1)
            hint = f"; did you mean {quote(close[0])}?" if close else ""
            raise ConfigError(
                f"{where}.outcome", f"{quote(outcome)} is not a run-summary outcome{hint}"
            )
        if outcome in TIME_TO_EVENT:
            raise ConfigError(
                f"{where}.outcome",
                f"{quote(outcome)} is the month of an event, missing in runs where it does not "
                "happen by the horizon: a fit to it would count those runs as misses, not as "
                "late events; target an outcome defined in every run (us_generations, say)",
            )
        if "value" not in entry:
            raise ConfigError(f"{where}.value", "is missing")
        value = _finite(where, "value", entry["value"])
        given = [key for key in ("tolerance", "standard_error") if entry.get(key) is not None]
        if len(given) != 1:
            raise ConfigError(
                where, "give exactly one of tolerance and standard_error (the scale of a miss)"
            )
        scale = _finite(where, given[0], entry[given[0]], positive=True)
        compare = entry.get("compare")
        relative = entry.get("relative_change", False)
        if not isinstance(relative, bool):
            raise ConfigError(
                f"{where}.relative_change", f"must be true or false (got {quote(relative)})"
            )
        if compare is not None:
            if (
                not isinstance(compare, list | tuple)
                or len(compare) != 2
                or not all(isinstance(c, str) for c in compare)
                or compare[0] == compare[1]
            ):
                raise ConfigError(
                    f"{where}.compare",
                    f"must be two different scenario labels (got {quote(compare)})",
                )
            for label in compare:
                if label not in scenarios:
                    raise ConfigError(
                        f"{where}.compare",
                        f"{quote(label)} is not a scenario of the targets file "
                        f"(known: {quote(list(scenarios))})",
                    )
            compare = (compare[0], compare[1])
        elif relative:
            raise ConfigError(f"{where}.relative_change", "needs compare: [A, B]")
        text = entry.get("source", "")
        if not isinstance(text, str):
            raise ConfigError(f"{where}.source", f"must be text (got {quote(text)})")
        targets.append(
            Target(
                name=str(name),
                outcome=outcome,
                value=value,
                tolerance=scale if given[0] == "tolerance" else None,
                standard_error=scale if given[0] == "standard_error" else None,
                compare=compare,
                relative_change=relative,
                source=text.strip(),
            )
        )
    return targets


@dataclass
class TargetSet:
    """A targets file read and checked: its targets and the scenarios they compare.

    ``scenarios`` maps each label of the file's ``scenarios:`` to the scenario's file path.
    """

    targets: list[Target]
    scenarios: dict[str, Path] = field(default_factory=dict)
    source: str = ""


def load_targets(path: str | Path) -> TargetSet:
    """Read a targets file (see the module's docstring).

    Scenario references are shipped scenarios' names or paths relative to the file. Raises
    :class:`ConfigError` (one line) for a missing or malformed file, unknown top-level keys,
    a scenario that does not exist or is named ``scenario``, and every problem of
    :func:`targets_from_dict`.
    """
    from agentsim.explore import outcome_names
    from agentsim.scenario_io import read_yaml, scenario_path

    path = Path(path)
    data = read_yaml(path)  # the one YAML reader: limits, duplicate keys, one-line errors
    for key in data:
        if key not in ("targets", "scenarios"):
            raise ConfigError(
                f"{path}: {clip(str(key))}", "unknown key (known: targets, scenarios)"
            )
    raw = data.get("scenarios") or {}
    if not isinstance(raw, Mapping):
        raise ConfigError(f"{path}: scenarios", "must map labels to scenario files or names")
    scenarios: dict[str, Path] = {}
    for label, ref in raw.items():
        where = f"{path}: scenarios.{clip(str(label))}"
        if label == SCENARIO:
            raise ConfigError(where, f"{SCENARIO!r} is the calibrated scenario's own label")
        if not isinstance(ref, str):
            raise ConfigError(where, f"must be a scenario file or name (got {quote(ref)})")
        beside = path.parent / ref
        try:
            scenarios[str(label)] = beside if beside.is_file() else scenario_path(ref)
        except ConfigError:
            raise ConfigError(where, f"scenario {quote(ref)} does not exist") from None
    targets = targets_from_dict(
        data.get("targets"), outcome_names(), [SCENARIO, *scenarios], str(path)
    )
    used = {label for t in targets if t.compare for label in t.compare} - {SCENARIO}
    return TargetSet(targets, {k: v for k, v in scenarios.items() if k in used}, str(path))


# --------------------------------------------------------------------------- evaluations


def evaluation_seed(root_seed: int, word: int, generation: int, index: int) -> int:
    """Seed of one simulation: a child of ``SeedSequence(root_seed)`` keyed by the stream
    word, the generation and the proposal's position, as an integer in [0, 2**63)."""
    state = np.random.SeedSequence(root_seed, spawn_key=(word, generation, index)).generate_state(
        2, np.uint32
    )
    return (int(state[0]) << 31) ^ int(state[1])


def evaluate_chunk(
    configs: Mapping[str, Mapping[str, Any]],
    targets: Sequence[Target],
    items: Sequence[tuple[int, dict[str, Any], int]],
) -> list[tuple[int, list[float], str | None]]:
    """Simulate each item (index, dotted overrides, seed) under every scenario of ``configs``
    on its seed and return (index, one statistic per target, error or None).

    Runs in worker processes. A run that fails (a config the overrides make invalid, an
    error in the model) gives NaN statistics and its one-line error.
    """
    from agentsim.run import run
    from agentsim.scenario_io import apply_overrides, validate_config

    results = []
    for index, overrides, seed in items:
        try:
            summaries = {
                label: run(validate_config(apply_overrides(config, overrides)), seed=seed).summary
                for label, config in configs.items()
            }
            results.append((index, [t.statistic(summaries) for t in targets], None))
        except Exception as exc:
            message = clip(f"{exc.__class__.__name__}: {exc}", 300)
            results.append((index, [math.nan] * len(targets), message))
    return results


def distance(statistics: Sequence[float], targets: Sequence[Target]) -> float:
    """Root mean square standardised error of ``statistics`` (one per target); a missing
    statistic counts :data:`MISSING_PENALTY` units."""
    errors = []
    for x, target in zip(statistics, targets, strict=True):
        z = (x - target.value) / target.scale if math.isfinite(x) else MISSING_PENALTY
        errors.append(min(abs(z), MISSING_PENALTY))
    return float(math.sqrt(sum(e * e for e in errors) / len(errors)))


class Evaluator:
    """Runs batches of evaluations on an executor (see :mod:`agentsim.executors`)."""

    def __init__(
        self,
        configs: Mapping[str, Mapping[str, Any]],
        targets: Sequence[Target],
        executor: Any,
    ) -> None:
        self.configs = {k: dict(v) for k, v in configs.items()}
        self.targets = list(targets)
        self.executor = executor

    def __call__(
        self, items: list[tuple[int, dict[str, Any], int]]
    ) -> dict[int, tuple[list[float], str | None]]:
        """Evaluate ``items`` (index, overrides, seed); results by index."""
        results: dict[int, tuple[list[float], str | None]] = {}
        if not items:
            return results
        sizes = chunk_sizes(len(items), self.executor.workers)  # the batches' guided sizes
        ends = list(itertools.accumulate(sizes, initial=0))
        chunks = [(self.configs, self.targets, items[a:b]) for a, b in itertools.pairwise(ends)]

        def give_up(chunk: tuple, reason: str) -> list:
            return [
                (i, [math.nan] * len(self.targets), f"worker died: {reason}")
                for i, _, _ in chunk[2]
            ]

        for result in self.executor.imap_unordered(evaluate_chunk, chunks, give_up=give_up):
            for index, statistics, error in result:
                results[index] = (statistics, error)
        return results


# --------------------------------------------------------------------------- the sampler


def _sampler_base() -> type:
    from pyabc.sampler import Sampler

    return Sampler


class _Model:
    """The pyabc model: maps a proposal to its statistics, recording or replaying.

    In ``record`` mode it notes each proposal and returns the targets themselves (a dummy
    that the sampler throws away); in ``replay`` mode it returns the simulated statistics
    of the next recorded proposal, checking that the proposal is the one recorded.
    """

    def __init__(self, names: Sequence[str], targets: Sequence[Target]) -> None:
        self.names = list(names)
        self.targets = list(targets)
        self.recording = True
        self.recorded: list[dict[str, float]] = []
        self.replay: list[tuple[dict[str, float], list[float]]] = []
        self.position = 0

    def __call__(self, parameters: Mapping[str, float]) -> dict[str, float]:
        theta = {k: float(parameters[k]) for k in parameters}
        if self.recording:
            self.recorded.append(theta)
            return {t.name: t.value for t in self.targets}
        expected, statistics = self.replay[self.position]
        if theta != expected:  # pragma: no cover - would mean pyabc drew differently
            raise RuntimeError("calibration: a replayed proposal differs from the recorded one")
        self.position += 1
        return {t.name: x for t, x in zip(self.targets, statistics, strict=True)}


@dataclass
class GenerationLog:
    """What one generation evaluated: one row per simulation (see :meth:`frame`)."""

    generation: int
    rows: list[dict[str, Any]] = field(default_factory=list)

    def frame(self) -> pd.DataFrame:
        """Columns: generation, index, seed, accepted, distance, the unit coordinates
        ``u:<name>``, one column per target (``stat:<name>``) and error."""
        return pd.DataFrame(self.rows)


def make_sampler(
    spec: UncertaintySpec,
    targets: Sequence[Target],
    evaluate: Callable[
        [list[tuple[int, dict[str, Any], int]]], dict[int, tuple[list[float], str | None]]
    ],
    root_seed: int,
    model: _Model,
    on_generation: Callable[[GenerationLog], None],
    on_progress: Callable[[int, int, int, int], None] | None = None,
) -> Any:
    """A :class:`ReplaySampler` (a pyabc ``Sampler``) for this calibration.

    ``evaluate`` simulates a batch (index, overrides, seed) and returns statistics by index;
    ``on_generation`` receives every generation's log once it is complete; ``on_progress``
    (generation, accepted, wanted, evaluations) is called after every batch.
    """
    base = _sampler_base()

    class ReplaySampler(base):  # type: ignore[misc, valid-type]
        """Draw a batch of proposals, simulate them in parallel, replay them in order."""

        def __init__(self) -> None:
            super().__init__()
            self.show_progress = False
            self.storing = False  #: pyabc is storing a finished generation
            self.pending: int | None = None  #: a signal held while it does

        def sample_until_n_accepted(
            self, n, simulate_one, t, *, max_eval=np.inf, all_accepted=False, ana_vars=None
        ):
            from agentsim.executors import BatchInterrupted

            self.storing = False  # pyabc has stored the previous generation
            if self.pending is not None:
                raise BatchInterrupted(self.pending)
            generation = max(int(t), 0)
            np.random.seed(
                np.random.SeedSequence(root_seed, spawn_key=(PROPOSALS, generation)).generate_state(
                    4
                )
            )
            sample = self._create_empty_sample()
            log = GenerationLog(generation)
            accepted = evaluations = 0
            rate = 1.0 if generation == 0 else 0.5
            while accepted < n and evaluations < max_eval:
                wanted = n - accepted
                size = int(min(max(math.ceil(1.15 * wanted / max(rate, 0.02)), 1), 4 * n))
                size = int(min(size, max_eval - evaluations)) if math.isfinite(max_eval) else size
                state = np.random.get_state()
                model.recording, model.recorded = True, []
                for _ in range(size):
                    simulate_one()
                proposals = model.recorded
                items = [
                    (
                        evaluations + i,
                        spec.overrides(_values(spec, theta)),
                        evaluation_seed(root_seed, SIMULATIONS, generation, evaluations + i),
                    )
                    for i, theta in enumerate(proposals)
                ]
                results = evaluate(items)
                np.random.set_state(state)
                model.recording = False
                model.replay = [
                    (theta, results[item[0]][0])
                    for theta, item in zip(proposals, items, strict=True)
                ]
                model.position = 0
                batch_accepted = 0
                for theta, item in zip(proposals, items, strict=True):
                    particle = simulate_one()
                    sample.append(particle)
                    statistics, error = results[item[0]]
                    log.rows.append(
                        _log_row(generation, item, theta, statistics, error, particle, targets)
                    )
                    evaluations += 1
                    if particle.accepted:
                        accepted += 1
                        batch_accepted += 1
                        if accepted >= n:
                            break
                rate = max(batch_accepted / max(model.position, 1), 0.02)
                if on_progress is not None:
                    on_progress(generation, accepted, n, evaluations)
            self.nr_evaluations_ = evaluations
            if sample.n_accepted < n:
                sample.ok = False
            on_generation(log)
            self.storing = True  # until the next generation starts: pyabc stores this one
            return sample

    return ReplaySampler()


def _values(spec: UncertaintySpec, theta: Mapping[str, float]) -> list[float]:
    """Parameter values of one proposal (unit coordinates ``p0..p{d-1}``)."""
    u = np.array([[theta[f"p{j}"] for j in range(len(spec.names))]])
    return list(spec.ppf(spec.correlate(np.clip(u, 0.0, 1.0)))[0])


def _log_row(
    generation: int,
    item: tuple[int, dict[str, Any], int],
    theta: Mapping[str, float],
    statistics: Sequence[float],
    error: str | None,
    particle: Any,
    targets: Sequence[Target],
) -> dict[str, Any]:
    index, overrides, seed = item
    row: dict[str, Any] = {
        "generation": generation,
        "index": index,
        "seed": seed,
        "accepted": bool(particle.accepted),
        "distance": float(particle.distance),
    }
    row.update(overrides)
    row.update({f"u:{k}": v for k, v in theta.items()})
    row.update({f"stat:{t.name}": x for t, x in zip(targets, statistics, strict=True)})
    row["error"] = error
    return row


# --------------------------------------------------------------------------- running


@dataclass
class CalibrationProblem:
    """Everything a calibration needs: scenarios, targets, priors, budget and root seed.

    ``configs`` maps scenario labels (``scenario`` first, then those the targets compare) to
    scenario mappings.
    """

    configs: dict[str, dict[str, Any]]
    targets: list[Target]
    spec: UncertaintySpec
    budget: Budget
    root_seed: int = 0

    def check(self) -> None:
        """Refuse a spec naming a lab or jurisdiction a scenario lacks, and a prior whose
        support makes a scenario invalid (its lowest and highest corners are validated).
        Also refuses a target named like a parameter (they share the posterior-predictive
        table), a negative root seed, and compared scenarios on different clocks
        (:func:`~agentsim.ensemble.check_same_clock`). Raises :class:`ConfigError`."""
        for target in self.targets:
            if target.name in self.spec.names:
                raise ConfigError(
                    f"targets.{clip(target.name)}", "is also a parameter's name; rename it"
                )
        if (
            isinstance(self.root_seed, bool)
            or not isinstance(self.root_seed, int | np.integer)
            or self.root_seed < 0
        ):
            raise ConfigError("--seed", f"must be an integer >= 0 (got {quote(self.root_seed)})")
        check_same_clock(self.configs, "compare")  # policy-effect targets pair their runs
        for config in self.configs.values():
            self.spec.check_scenario(config)
        corners = pd.DataFrame(
            [self.spec.ppf(np.full((1, len(self.spec.names)), q))[0] for q in (0.0, 0.5, 1.0)],
            columns=self.spec.names,
        )
        for name in self.spec.names:
            if self.spec.bounds[name] and isinstance(self.spec.bounds[name][0], int):
                corners[name] = corners[name].round().astype("int64")
        for config in self.configs.values():
            self.spec.validate_draws(corners, config)


def run_abc(
    problem: CalibrationProblem,
    out: Path,
    executor: Any,
    resume: bool = False,
    on_generation: Callable[[GenerationLog], None] | None = None,
    on_progress: Callable[[int, int, int, int], None] | None = None,
) -> Any:
    """Run (or resume) ABC-SMC; returns the pyabc ``History``.

    The history is ``out/calibration.db``; each generation's evaluations are written to
    ``out/evaluations/generation_NNN.parquet`` as the generation completes.
    """
    import logging

    import pyabc

    from agentsim.store import write_parquet

    spec, targets, budget_ = problem.spec, problem.targets, problem.budget
    names = [f"p{j}" for j in range(len(spec.names))]
    model = _Model(names, targets)
    evaluator = Evaluator(problem.configs, targets, executor)

    def finished(log: GenerationLog) -> None:
        (out / EVALUATIONS).mkdir(exist_ok=True)
        write_parquet(out / EVALUATIONS / f"generation_{log.generation:03d}.parquet", log.frame())
        if on_generation is not None:
            on_generation(log)

    sampler = make_sampler(
        spec, targets, evaluator, problem.root_seed, model, finished, on_progress
    )
    prior = pyabc.Distribution(**{name: pyabc.RV("uniform", 0.0, 1.0) for name in names})
    observed = {t.name: t.value for t in targets}

    def rms(x: Mapping[str, float], x0: Mapping[str, float]) -> float:
        return distance([x[t.name] for t in targets], targets)

    for logger in ("ABC", "ABC.History", "ABC.Sampler", "ABC.Distance", "ABC.Epsilon"):
        logging.getLogger(logger).setLevel(logging.WARNING)
    abc = pyabc.ABCSMC(
        pyabc.FunctionModel(model),
        prior,
        rms,
        population_size=budget_.population,
        sampler=sampler,
        eps=_resumable_epsilon(),
    )
    database = f"sqlite:///{(out / DATABASE).resolve()}"
    if resume and (out / DATABASE).is_file():
        abc.load(database, 1)
        _check_history(abc.history, budget_.population, out)
        done = abc.history.max_t + 1
    else:
        abc.new(database, observed)
        done = 0
    remaining = budget_.generations - done
    if remaining > 0:
        with warnings.catch_warnings(), _signals_between_generations(sampler):
            # pyabc compares the first two epsilons (inf - inf) to decide whether to stop
            warnings.filterwarnings("ignore", "invalid value", RuntimeWarning, r"pyabc\.")
            abc.run(
                minimum_epsilon=0.0,
                max_nr_populations=remaining,
                # pyabc compares this with the history's total, resumed generations included
                max_total_nr_simulations=budget_.max_evaluations,
            )
    return abc.history


def _resumable_epsilon() -> Any:
    """pyabc's median-quantile epsilon (first generation: accept every prior draw) that,
    on a resumed history, starts from the median distance of the last stored generation, as
    the uninterrupted run did (pyabc's own would restart at the initial epsilon)."""
    import pyabc

    class ResumableQuantileEpsilon(pyabc.QuantileEpsilon):
        def initialize(
            self, t: int, get_weighted_distances: Callable, *args: Any, **kwargs: Any
        ) -> None:
            if t > 0:
                self._update(t, get_weighted_distances())
                return
            super().initialize(t, get_weighted_distances, *args, **kwargs)

    return ResumableQuantileEpsilon(initial_epsilon=np.inf, alpha=0.5)


def _check_history(history: Any, population: int, out: Path) -> None:
    """Refuse (one line) a history whose last generation is incomplete or holds undefined
    parameters: a calibration stopped while its database was written by something other
    than this package (or by a version without the guard of
    :func:`_signals_between_generations`)."""
    if history.max_t < 0:
        return
    counts = history.get_nr_particles_per_population()
    last = int(counts.get(history.max_t, 0))
    frame, _ = history.get_distribution(m=0, t=history.max_t)
    if last != population or frame.isna().to_numpy().any():
        raise ConfigError(
            "--resume",
            f"{out / DATABASE}: generation {history.max_t} is incomplete ({last} of "
            f"{population} particles); start the calibration again in a new folder",
        )


class _signals_between_generations:  # noqa: N801 - a context manager used like a function
    """While pyabc stores a finished generation (between two calls of the sampler), hold
    SIGINT and SIGTERM; raise them (as :class:`~agentsim.executors.BatchInterrupted`) when
    the next generation starts or the run ends. A stop therefore never leaves a half-written
    generation in the history: pyabc commits what it holds when a run ends, even by an
    exception. Outside the main thread (signals cannot be handled there) it does nothing."""

    def __init__(self, sampler: Any) -> None:
        self.sampler = sampler
        self.previous: dict[int, Any] = {}

    def _handle(self, signum: int, frame: object) -> None:
        from agentsim.executors import BatchInterrupted

        if self.sampler.storing:
            self.sampler.pending = signum
            return
        raise BatchInterrupted(signum)

    def __enter__(self) -> _signals_between_generations:
        import signal
        import threading

        self.sampler.storing, self.sampler.pending = False, None
        if threading.current_thread() is threading.main_thread():
            for signum in (signal.SIGINT, signal.SIGTERM):
                self.previous[signum] = signal.signal(signum, self._handle)
        return self

    def __exit__(self, exc_type: object, *exc: object) -> None:
        import signal

        from agentsim.executors import BatchInterrupted

        for signum, handler in self.previous.items():
            signal.signal(signum, handler)
        pending, self.sampler.pending = self.sampler.pending, None
        self.sampler.storing = False
        if pending is not None and exc_type is None:
            raise BatchInterrupted(pending)


def posterior(history: Any, spec: UncertaintySpec) -> pd.DataFrame:
    """The last generation's particles: one column per parameter (values, in the spec's
    order and units), ``weight`` (normalised to sum 1) and ``generation``."""
    frame, weights = history.get_distribution(m=0, t=history.max_t)
    u = frame[[f"p{j}" for j in range(len(spec.names))]].to_numpy(float)
    values = spec.ppf(spec.correlate(np.clip(u, 0.0, 1.0)))
    table = pd.DataFrame(values, columns=spec.names)
    for m in spec.marginals:
        if m.integer:
            table[m.name] = table[m.name].round().astype("int64")
    table["weight"] = np.asarray(weights, float) / float(np.sum(weights))
    table["generation"] = int(history.max_t)
    return table


def weighted_quantiles(values: np.ndarray, weights: np.ndarray, q: Sequence[float]) -> np.ndarray:
    """Quantiles ``q`` of ``values`` (n,) weighted by ``weights`` (n,), by the inverted
    weighted CDF (``numpy.quantile(method="inverted_cdf", weights=...)``)."""
    return np.quantile(
        np.asarray(values, float), q, weights=np.asarray(weights, float), method="inverted_cdf"
    )


def posterior_medians(table: pd.DataFrame, spec: UncertaintySpec) -> dict[str, Any]:
    """Each parameter's weighted posterior median, as dotted-key overrides (integers for
    integer parameters)."""
    weights = table["weight"].to_numpy(float)
    row = [
        float(weighted_quantiles(table[name].to_numpy(float), weights, [0.5])[0])
        for name in spec.names
    ]
    return spec.overrides(
        [round(v) if m.integer else v for v, m in zip(row, spec.marginals, strict=True)]
    )


def predictive_draws(
    table: pd.DataFrame, spec: UncertaintySpec, n: int, root_seed: int
) -> list[dict[str, Any]]:
    """``n`` parameter vectors resampled from the posterior by weight (a stream of the root
    seed), as dotted-key overrides."""
    rng = np.random.default_rng(np.random.SeedSequence(root_seed, spawn_key=(PREDICTIVE, 0)))
    rows = rng.choice(len(table), size=n, replace=True, p=table["weight"].to_numpy(float))
    return [spec.overrides(table.iloc[int(r)][spec.names]) for r in rows]


def posterior_predictive(
    problem: CalibrationProblem, table: pd.DataFrame, evaluate: Callable[..., Any]
) -> pd.DataFrame:
    """Simulate ``budget.predictive`` posterior draws, each on a fresh seed: one row per
    draw with its parameter values, seed, one column per target and error."""
    draws = predictive_draws(table, problem.spec, problem.budget.predictive, problem.root_seed)
    items = [
        (i, overrides, evaluation_seed(problem.root_seed, PREDICTIVE, 1, i))
        for i, overrides in enumerate(draws)
    ]
    results = evaluate(items)
    rows = []
    for index, overrides, seed in items:
        statistics, error = results[index]
        rows.append(
            {
                "draw": index,
                "seed": seed,
                **overrides,
                **{t.name: x for t, x in zip(problem.targets, statistics, strict=True)},
                "error": error,
            }
        )
    return pd.DataFrame(rows)


# --------------------------------------------------------------------------- the report


def fit_table(
    targets: Sequence[Target], predictive: pd.DataFrame, evaluations: pd.DataFrame
) -> pd.DataFrame:
    """The fit report's table: one row per target.

    Columns: ``target``, ``outcome``, ``kind``, ``value``, ``tolerance``,
    ``standard_error``, ``predictive_median``, ``predictive_low`` and ``predictive_high``
    (the central 90% posterior-predictive interval), ``within_tolerance`` (the median lies
    within the target's tolerance, or two standard errors), ``standardised_distance``
    ((median - value) / scale), ``reached`` (whether any simulation of the calibration, in
    any generation, came within the tolerance), ``closest`` (the simulated value nearest the
    target) and ``source``.
    """
    rows = []
    for t in targets:
        x = pd.to_numeric(predictive[t.name], errors="coerce").dropna().to_numpy(float)
        low, median, high = (
            np.quantile(x, [INTERVAL[0], 0.5, INTERVAL[1]]) if x.size else (math.nan,) * 3
        )
        tried = pd.to_numeric(
            evaluations.get(f"stat:{t.name}", pd.Series(dtype=float)), errors="coerce"
        )
        tried = np.concatenate([tried.dropna().to_numpy(float), x])
        closest = float(tried[np.argmin(np.abs(tried - t.value))]) if tried.size else math.nan
        rows.append(
            {
                "target": t.name,
                "outcome": t.outcome,
                "kind": t.kind
                if t.compare is None
                else f"{t.kind} {t.compare[0]} -> {t.compare[1]}",
                "value": t.value,
                "tolerance": t.tolerance,
                "standard_error": t.standard_error,
                "predictive_median": float(median),
                "predictive_low": float(low),
                "predictive_high": float(high),
                "within_tolerance": bool(abs(median - t.value) <= t.half_width)
                if x.size
                else False,
                "standardised_distance": float((median - t.value) / t.scale)
                if x.size
                else math.nan,
                "reached": bool(abs(closest - t.value) <= t.half_width)
                if math.isfinite(closest)
                else False,
                "closest": closest,
                "source": t.source,
            }
        )
    return pd.DataFrame(rows)


#: A posterior is *informed* when its 90% interval is at most this share of the prior's.
INFORMED_WIDTH = 0.75
#: ... and *against a bound* when, informed, its median lies in this outer share of the prior's
#: range (on the log scale for a log-uniform or lognormal prior) at either end.
BOUND_SHARE = 0.1


def parameter_table(table: pd.DataFrame, spec: UncertaintySpec) -> pd.DataFrame:
    """Per parameter: prior (distribution and bounds), posterior median and 90% interval,
    the interval's width over the prior's 90% interval (``width_ratio``), where the median
    lies in the prior's range (``median_place``, 0 at the lower bound, 1 at the upper; on the
    log scale for log-uniform and lognormal priors) and a ``note``: ``informed`` when the
    ratio is at most :data:`INFORMED_WIDTH`, ``against the lower (upper) bound`` when it is
    informed and the median lies in the outer :data:`BOUND_SHARE` of the range (the targets
    are met only at the edge of the prior: a sign that something else in the model is off),
    else empty (the targets hardly inform it)."""
    weights = table["weight"].to_numpy(float)
    rows = []
    for m in spec.marginals:
        low, median, high = weighted_quantiles(
            table[m.name].to_numpy(float), weights, [INTERVAL[0], 0.5, INTERVAL[1]]
        )
        prior_low, prior_high = m.ppf(np.array(INTERVAL))
        ratio = (high - low) / (prior_high - prior_low) if prior_high > prior_low else math.nan
        lo, hi = (float(b) for b in m.bounds)
        logged = m.distribution in ("loguniform", "lognormal") and lo > 0
        scale = np.log if logged else (lambda x: x)
        place = float((scale(median) - scale(lo)) / (scale(hi) - scale(lo))) if hi > lo else 0.5
        note = ""
        if ratio <= INFORMED_WIDTH:
            note = "informed"
            if place < BOUND_SHARE:
                note = "against the lower bound"
            elif place > 1 - BOUND_SHARE:
                note = "against the upper bound"
        args = ", ".join(f"{k}={v:g}" for k, v in m.args)
        rows.append(
            {
                "parameter": m.name,
                "prior": f"{m.distribution}({args})",
                "prior_low": m.bounds[0],
                "prior_high": m.bounds[1],
                "posterior_median": float(median),
                "posterior_low": float(low),
                "posterior_high": float(high),
                "width_ratio": float(ratio),
                "median_place": place,
                "note": note,
            }
        )
    return pd.DataFrame(rows)


def _cell(value: Any) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value).replace("|", "\\|")


def markdown_table(frame: pd.DataFrame) -> str:
    """A GitHub-flavoured Markdown table of ``frame`` (numbers to 4 significant digits)."""
    lines = ["| " + " | ".join(frame.columns) + " |", "|" + "---|" * len(frame.columns)]
    lines += [
        "| " + " | ".join(_cell(v) for v in row) + " |" for row in frame.itertuples(index=False)
    ]
    return "\n".join(lines)


def report_markdown(fit: pd.DataFrame, parameters: pd.DataFrame, facts: Mapping[str, Any]) -> str:
    """The text of ``fit_report.md``: what was calibrated and how, the fit table, the
    posterior of each parameter and a line for every target the model did not reach."""
    lines = [f"# Calibration fit report: {facts['scenario']}", ""]
    lines += [f"- {key}: {value}" for key, value in facts.items() if key != "scenario"]
    lines += ["", "## Targets", "", markdown_table(fit.drop(columns=["source"])), ""]
    lines += [
        "`value` and `tolerance` (or `standard_error`) are the target's; "
        "`predictive_median`, `predictive_low` and `predictive_high` are the median and the "
        "central 90% interval of the outcome over the posterior-predictive draws (posterior "
        "parameters, each on a fresh seed); `within_tolerance`: the median lies within the "
        "tolerance (two standard errors); `standardised_distance`: (median - value) / "
        "tolerance (or standard error), signed; `reached`: some simulation of the "
        "calibration, in any generation, came within the tolerance; `closest`: the "
        "simulated value nearest the target.",
        "",
    ]
    missed = fit[~fit["reached"]]
    if len(missed):
        lines += ["## Targets outside the model's reach", ""]
        for row in missed.itertuples(index=False):
            lines.append(
                f"- **{row.target}** ({row.outcome} = {row.value:.4g}): no simulation of the "
                f"calibration came within its tolerance; the closest was {row.closest:.4g}. "
                "Inside this prior the model cannot reach it."
            )
        lines.append("")
    lines += ["## Parameters (prior and posterior)", "", markdown_table(parameters), ""]
    lines += [
        "`posterior_low` and `posterior_high`: the central 90% interval of the last "
        "generation (weighted); `width_ratio`: its width over the prior's central 90%; "
        "`median_place`: where the median lies in the prior's range (0 lower bound, 1 upper); "
        f"`note`: informed when the ratio is at most {INFORMED_WIDTH}, against a bound when "
        f"informed and the median lies in the outer {BOUND_SHARE:.0%} of the range (the "
        "targets are met only at the edge of the prior), empty when the targets hardly "
        "inform the parameter.",
        "",
    ]
    edge = parameters[parameters["note"].str.startswith("against")]
    for row in edge.itertuples(index=False):
        lines.append(
            f"- **{row.parameter}** is piled {row.note} of its prior: the targets pull it to "
            "the edge of the range thought plausible."
        )
    if len(edge):
        lines.append("")
    sources = fit[fit["source"] != ""]
    if len(sources):
        lines += ["## Sources of the targets", ""]
        lines += [f"- {row.target}: {row.source}" for row in sources.itertuples(index=False)]
        lines.append("")
    return "\n".join(lines)


def calibrated_scenario(
    scenario_ref: str, name: str, medians: Mapping[str, Any], facts: str
) -> str:
    """The text of ``calibrated.yaml``: a comment block (``facts``), ``extends:`` the input
    scenario, and each calibrated parameter at its posterior median (nested keys, as a
    scenario file writes them)."""
    import yaml

    body: dict[str, Any] = {"extends": scenario_ref, "name": name}
    for key, value in medians.items():
        node = body
        *parents, last = key.split(".")
        for part in parents:
            node = node.setdefault(part, {})
        node[last] = value
    header = "".join(f"# {line}\n" for line in facts.splitlines())
    return header + yaml.safe_dump(body, sort_keys=False, allow_unicode=True)


def iterate_logs(out: Path) -> Iterator[pd.DataFrame]:
    """Each stored generation's evaluations, in order."""
    from agentsim.store import _read_parquet

    for path in sorted((out / EVALUATIONS).glob("generation_*.parquet")):
        yield _read_parquet(path)


def evaluations_frame(out: Path) -> pd.DataFrame:
    """Every stored evaluation of a calibration folder (empty when none)."""
    frames = list(iterate_logs(out))
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()


def elapsed(start: float) -> str:
    """Seconds since ``start`` (``time.perf_counter``) as text."""
    return f"{time.perf_counter() - start:.0f} s"


# --------------------------------------------------------------------------- the whole job


def problem_data(
    problem: CalibrationProblem, scenario_ref: str, budget_name: str
) -> dict[str, Any]:
    """What a calibration folder's manifest stores to resume it (plain data)."""
    return {
        "configs": problem.configs,
        "targets": {t.name: t.to_dict() for t in problem.targets},
        "parameters": problem.spec.to_dict(),
        "budget": budget_name,
        "root_seed": problem.root_seed,
        "scenario_ref": scenario_ref,
    }


def problem_from_data(data: Mapping[str, Any]) -> tuple[CalibrationProblem, str, str]:
    """The problem, scenario reference and budget name a manifest stored (see
    :func:`problem_data`)."""
    from agentsim.explore import outcome_names

    configs = {k: dict(v) for k, v in data["configs"].items()}
    targets = targets_from_dict(data["targets"], outcome_names(), list(configs))
    spec = UncertaintySpec.from_dict(data["parameters"])
    problem = CalibrationProblem(
        configs, targets, spec, budget(data["budget"]), int(data["root_seed"])
    )
    return problem, str(data["scenario_ref"]), str(data["budget"])


def fingerprint(data: Mapping[str, Any]) -> str:
    """SHA-256 of the problem's plain data (sorted JSON)."""
    import hashlib
    import json

    return hashlib.sha256(json.dumps(data, sort_keys=True, default=str).encode()).hexdigest()


@dataclass
class CalibrationResult:
    """What a finished calibration wrote: its folder and the main tables."""

    out: Path
    posterior: pd.DataFrame
    fit: pd.DataFrame
    parameters: pd.DataFrame
    medians: dict[str, Any]
    evaluations: int
    generations: int


def run_calibration(
    problem: CalibrationProblem,
    out: Path,
    executor: Any,
    *,
    scenario_ref: str,
    budget_name: str,
    resume: bool = False,
    command: str = "",
    on_progress: Callable[[int, int, int, int], None] | None = None,
    on_stage: Callable[[str], None] | None = None,
) -> CalibrationResult:
    """Calibrate and write every output into ``out`` (which must exist, and be empty
    unless ``resume``); ``executor`` must be entered.

    Writes ``manifest.json`` (kind ``calibrate``; what to resume from, and at the end the
    counts), ``calibration.db`` (pyabc's history), ``evaluations/`` (every simulation, by
    generation), ``posterior.parquet``, ``predictive.parquet``, ``fit_report.md`` and
    ``.csv``, ``posterior_summary.csv``, ``calibrated.yaml`` and ``figures/``. A resumed
    calibration skips the generations the history holds.
    """
    from agentsim.figures import save_calibration_figures
    from agentsim.store import read_manifest, write_csv, write_manifest, write_parquet, write_text

    start = time.perf_counter()
    stage = on_stage or (lambda text: None)
    data = problem_data(problem, scenario_ref, budget_name)
    if resume:
        manifest = read_manifest(out)
    else:
        from agentsim.ensemble import environment

        manifest = {
            "kind": "calibrate",
            "fingerprint": fingerprint(data),
            "status": "running",
            **environment(),
            **({"command": command} if command else {}),
            **data,
        }
        write_manifest(out, manifest)
    stage("sampling the posterior (ABC-SMC)")
    history = run_abc(problem, out, executor, resume=resume, on_progress=on_progress)
    table = posterior(history, problem.spec)
    write_parquet(out / POSTERIOR, table)
    stage(f"simulating {problem.budget.predictive} posterior draws for the fit report")
    evaluator = Evaluator(problem.configs, problem.targets, executor)
    predictive = posterior_predictive(problem, table, evaluator)
    write_parquet(out / PREDICTIVE_FILE, predictive)
    evaluations = evaluations_frame(out)
    fit = fit_table(problem.targets, predictive, evaluations)
    parameters = parameter_table(table, problem.spec)
    medians = posterior_medians(table, problem.spec)
    generations = int(history.max_t) + 1
    populations = history.get_all_populations()
    epsilon = float(populations["epsilon"].iloc[-1]) if len(populations) else math.nan
    facts = {
        "scenario": problem.configs[SCENARIO].get("name", "scenario"),
        "budget": f"{budget_name} (population {problem.budget.population}, "
        f"{generations} of {problem.budget.generations} generations)",
        "simulations": f"{len(evaluations)} evaluations"
        + (f" x {len(problem.configs)} scenarios each" if len(problem.configs) > 1 else ""),
        "final epsilon (RMS standardised error)": f"{epsilon:.3g}",
        "posterior-predictive draws": f"{len(predictive)} "
        f"({int(predictive['error'].notna().sum())} failed)",
        "root seed": problem.root_seed,
        "targets within tolerance": f"{int(fit['within_tolerance'].sum())} of {len(fit)}",
    }
    write_csv(out / REPORT_CSV, fit)
    write_csv(out / SUMMARY_CSV, parameters)
    write_text(out / REPORT_MD, report_markdown(fit, parameters, facts))
    name = f"{facts['scenario']}_calibrated"
    note = (
        f"Calibrated by agentsim calibrate ({budget_name} budget, root seed "
        f"{problem.root_seed}): every parameter below is its posterior median.\n"
        "The fit report (fit_report.md) beside this file says how well the targets are met."
    )
    write_text(out / CALIBRATED, calibrated_scenario(scenario_ref, name, medians, note))
    bounds = {m.name: tuple(float(b) for b in m.bounds) for m in problem.spec.marginals}
    save_calibration_figures(table, bounds, out / "figures")
    manifest.update(
        status="complete",
        generations=generations,
        evaluations=len(evaluations),
        seconds=round(time.perf_counter() - start, 1),
    )
    write_manifest(out, manifest)
    return CalibrationResult(out, table, fit, parameters, medians, len(evaluations), generations)


def build_problem(
    scenario: str | Path,
    targets: str | Path,
    params: str | Path,
    out: str | Path | None,
    budget_name: str = "small",
    root_seed: int = 0,
) -> tuple[CalibrationProblem, Path, str]:
    """Read and check everything a new calibration needs (the command and
    :func:`calibrate` share it).

    ``scenario`` is a scenario file or a shipped scenario's name, ``targets`` a targets file,
    ``params`` a parameter spec (a file or a shipped spec's name), ``out`` the output folder
    (None: a new folder under ``results/``). Returns the checked problem, the absolute output
    folder and the reference ``calibrated.yaml`` extends: the shipped name, or the
    scenario's path relative to the folder. Raises :class:`ConfigError` for any bad input;
    nothing is written.
    """
    import os

    from agentsim.scenario_io import config_to_dict, load_config, scenario_path
    from agentsim.store import default_batch_dir

    chosen = budget(budget_name)
    base = config_to_dict(load_config(scenario))
    target_set = load_targets(targets)
    configs = {SCENARIO: base}
    for label, path in target_set.scenarios.items():
        configs[label] = config_to_dict(load_config(path))
    problem = CalibrationProblem(
        configs, target_set.targets, load_uncertainty_spec(params), chosen, root_seed
    )
    problem.check()
    folder = out or default_batch_dir("calibrate", base.get("name", "scenario"), root_seed)
    folder = Path(os.path.abspath(folder))
    if Path(scenario).is_file():
        reference = os.path.relpath(scenario_path(scenario).resolve(), folder)
    else:  # a shipped scenario, found by name
        reference = str(scenario)
    problem_data(problem, reference, budget_name)  # everything stored is plain data
    return problem, folder, reference


def calibrate(
    scenario: str | Path,
    targets: str | Path,
    params: str | Path,
    out: str | Path,
    budget_name: str = "small",
    root_seed: int = 0,
    workers: int | None = None,
) -> CalibrationResult:
    """Calibrate from Python: the ``agentsim calibrate`` command without its progress bar.

    Arguments as :func:`build_problem`; ``out`` a new or empty folder; ``workers`` local
    processes (default: one per core; 1 runs in this process). Raises :class:`ConfigError`
    for bad input (before anything is written) and :class:`ValueError` for a non-empty
    ``out``.
    """
    from agentsim.executors import make_executor
    from agentsim.store import batch_lock, is_empty_batch_dir

    if workers is not None and (
        isinstance(workers, bool) or not isinstance(workers, int) or workers < 1
    ):
        raise ConfigError("workers", f"must be an integer >= 1 (got {quote(workers)})")
    problem, out, reference = build_problem(scenario, targets, params, out, budget_name, root_seed)
    if not is_empty_batch_dir(out):
        raise ValueError(f"{out} is not empty; choose another folder")
    out.mkdir(parents=True, exist_ok=True)
    with make_executor(workers) as executor, batch_lock(out):
        return run_calibration(
            problem, out, executor, scenario_ref=reference, budget_name=budget_name
        )


def load_uncertainty_spec(path: str | Path) -> UncertaintySpec:
    """The parameter spec (priors) of a calibration: an uncertainty spec file or name."""
    from agentsim.uncertainty import load_uncertainty, uncertainty_path

    return load_uncertainty(uncertainty_path(path))

"""Scenario discovery: which ranges of the sampled parameters make an outcome likely (PRIM).

An *explore* batch runs N parameter samples under one or more scenarios on K paired seeds and
stores ``experiments.parquet``: one row per sample x scenario x seed with the columns
``run_id``, ``sample``, ``scenario``, ``replicate``, ``seed``, one column per sampled parameter
(dotted names), every summary outcome and ``error`` (missing unless the run failed). Given an
outcome and a condition (``overtaken`` ``true``, ``final_us_lead_ooms`` ``< 0``),
:func:`discover` finds a box of parameter ranges in which the condition holds for most cases
and that holds most of the cases where it holds, with the Patient Rule Induction Method
(Friedman and Fisher 1999, "Bump hunting in high-dimensional data", Statistics and Computing
9:123-143) as used for scenario discovery by Bryant and Lempert (2010, "Thinking inside the
box", Technological Forecasting and Social Change 77:34-49). The PRIM implementation is EMA
Workbench's (Kwakkel 2017, Environmental Modelling & Software 96:239-250), installed with the
``explore`` extra (``pip install 'agentsim[explore]'``) and imported only when needed.

**Cases.** With ``aggregate="samples"`` (the default) a case is one parameter sample of the
chosen scenario: its seeds are pooled and the case is of interest when the share of its seeds
that meet the condition is at least ``likely`` (0.5: "more likely than not"; the share is of
the sample's runs that did not fail). This separates what the parameters do from seed noise.
With ``aggregate="runs"`` each run is a case. Failed runs (``error`` not missing) are dropped
and counted; a sample whose runs all failed is no case.

**Statistics** of a box (Bryant and Lempert 2010): *coverage* is the share of all cases of
interest that lie in the box, *density* the share of the cases in the box that are of
interest, *mass* the share of all cases that lie in the box (each from 0 to 1).

**Choosing a box.** PRIM peels the full box into a trajectory of ever smaller, denser boxes
(then pastes back where that helps). :func:`discover` chooses one of them by the rule of
:func:`choose_box`, then drops, one at a time, the restrictions that are not significant:
a bound whose quasi-p-value (Bryant and Lempert 2010: a one-sided binomial test of the box's
density against the box without that bound) is at least ``max_p`` is reset to the data's
range. Each such box is appended to the trajectory (``pruned`` true) and the last one is the
chosen box.

Every problem raises a one-line :class:`~agentsim.config.ConfigError` naming the option
(``--outcome``, ``--where``, ``--scenario``...) and the rule.
"""

from __future__ import annotations

import difflib
import math
import re
import warnings
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd

from agentsim.config import ConfigError, clip, quote
from agentsim.survival import TIME_TO_EVENT

#: File names written by :func:`save_discovery` (figures as PNG and PDF).
TRAJECTORY_CSV = "prim_trajectory.csv"
BOX_CSV = "prim_box.csv"
TRADEOFF_FIGURE = "prim_tradeoff"
BOX_FIGURE = "prim_box"
#: The explore batch's table of runs (see the module docstring).
EXPERIMENTS = "experiments.parquet"

#: What ``--where`` accepts, shown when it cannot be read.
_WHERE_FORMS = (
    "'> 0.5', '>= 0.5', '< -0.1', '<= 3', '== 1', '!= 0', 'true', 'false', 'between 0.2 and 0.4'"
)
_NUMBER = r"[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?"
_COMPARISON = re.compile(rf"^\s*(>=|<=|==|!=|>|<)\s*({_NUMBER})\s*$")
_BETWEEN = re.compile(rf"^\s*between\s+({_NUMBER})\s+and\s+({_NUMBER})\s*$", re.IGNORECASE)
_OPERATORS = {
    ">": np.greater,
    ">=": np.greater_equal,
    "<": np.less,
    "<=": np.less_equal,
    "==": np.equal,
    "!=": np.not_equal,
}


@dataclass(frozen=True)
class Condition:
    """A condition on one outcome, read from ``--where`` by :func:`parse_condition`.

    ``op`` is one of ``>``, ``>=``, ``<``, ``<=``, ``==``, ``!=``, ``true``, ``false`` or
    ``between`` (``low <= x <= high``, both ends included); ``value`` is the number compared
    with (``low`` for ``between``; 1 for ``true``, 0 for ``false``) and ``high`` the upper end
    of ``between`` (else None). A missing outcome (NaN: an overtake month when no overtake
    happened) never meets a condition, ``!=`` included; a time-to-event outcome's missing
    months are read as after the horizon before a condition sees them (see
    :func:`discover`).
    """

    op: str
    value: float
    high: float | None = None

    def __call__(self, values: np.ndarray) -> np.ndarray:
        """Which ``values`` (shape (n,), floats) meet the condition: bool array of shape (n,);
        NaN never does."""
        x = np.asarray(values, dtype=float)
        with np.errstate(invalid="ignore"):
            if self.op == "between":
                met = (x >= self.value) & (x <= self.high)
            elif self.op in ("true", "false"):
                met = x == self.value
            else:
                met = _OPERATORS[self.op](x, self.value)
        return met & ~np.isnan(x)

    def __str__(self) -> str:
        if self.op == "between":
            return f"between {self.value:g} and {self.high:g}"
        if self.op in ("true", "false"):
            return self.op
        return f"{self.op} {self.value:g}"


def parse_condition(text: str) -> Condition:
    """Read a ``--where`` condition: ``> 0.5``, ``>= 0.5``, ``< -0.1``, ``<= 3``, ``== 1``,
    ``!= 0``, ``true`` / ``false`` (for 0/1 outcomes such as ``overtaken``) or
    ``between 0.2 and 0.4`` (both ends included). Numbers are plain decimals or in e-notation.

    Returns a :class:`Condition` (callable on an array of outcome values). A missing value
    (NaN) never meets a condition. Raises :class:`ConfigError` (key ``--where``) for any other
    text, a number that is not finite, or ``between`` with its ends reversed.
    """
    if not isinstance(text, str):
        raise ConfigError("--where", f"must be text such as {_WHERE_FORMS}, not {quote(text)}")
    word = text.strip().lower()
    if word in ("true", "false"):
        return Condition(word, 1.0 if word == "true" else 0.0)
    if match := _COMPARISON.match(text):
        op, number = match.groups()
        return Condition(op, _finite(number, text))
    if match := _BETWEEN.match(text):
        low, high = (_finite(number, text) for number in match.groups())
        if low > high:
            raise ConfigError("--where", f"{quote(text)}: the lower end is above the upper end")
        return Condition("between", low, high)
    raise ConfigError("--where", f"cannot read {quote(text)}: expected one of {_WHERE_FORMS}")


def _finite(number: str, text: str) -> float:
    value = float(number)
    if not math.isfinite(value):
        raise ConfigError("--where", f"{quote(text)}: the number must be finite")
    return value


@dataclass
class Discovery:
    """The result of :func:`discover`.

    Attributes:
        outcome, where: the outcome column and the condition (as :class:`Condition` prints it).
        scenario: the scenario whose runs were used (None when the table has no scenario
            column).
        aggregate: ``"samples"`` or ``"runs"``; ``likely``: the share of a sample's seeds that
            must meet the condition for the sample to be a case of interest.
        trajectory: one row per box PRIM visited, in order: ``box`` (0 is the full box),
            ``coverage``, ``density``, ``mass`` (0-1), ``restricted_dimensions`` (count),
            ``cases`` (cases in the box), ``hits`` (cases of interest in the box),
            ``pruned`` (the box was made after PRIM by dropping an insignificant bound of the
            box before it; the last one is the chosen box).
        chosen: the ``box`` of the chosen box (a row of ``trajectory``).
        limits: one row per parameter, in the order given: ``parameter``, ``low``, ``high``
            (the chosen box, in the parameter's units), ``restricted`` (bool: a bound differs
            from the data's range), ``original_low``, ``original_high`` (the data's range),
            ``p_low``, ``p_high`` (quasi-p-value of each restricting bound, NaN for a bound
            that does not restrict).
        cases: number of cases (samples or runs); ``hits``: cases of interest.
        runs: runs used; ``dropped_failed``: runs dropped because they failed.
        rule: the selection rule, in words.
    """

    outcome: str
    where: str
    scenario: str | None
    aggregate: str
    likely: float
    trajectory: pd.DataFrame
    chosen: int
    limits: pd.DataFrame
    cases: int
    hits: int
    runs: int
    dropped_failed: int
    rule: str

    @property
    def box(self) -> pd.Series:
        """The trajectory's row of the chosen box (coverage, density, mass...)."""
        return self.trajectory.set_index("box").loc[self.chosen]

    def to_frames(self) -> dict[str, pd.DataFrame]:
        """The tables written as CSV: ``prim_trajectory`` (the trajectory with a ``chosen``
        column, bool) and ``prim_box`` (the chosen box's limits, each row also carrying the
        box's number, coverage, density and mass, the outcome and the condition)."""
        trajectory = self.trajectory.assign(chosen=self.trajectory["box"] == self.chosen)
        box = self.box
        limits = self.limits.assign(
            box=self.chosen,
            coverage=box["coverage"],
            density=box["density"],
            mass=box["mass"],
            outcome=self.outcome,
            where=self.where,
        )
        return {"prim_trajectory": trajectory, "prim_box": limits}

    def describe(self) -> list[str]:
        """The chosen box in words, one line each: its statistics, then each restricted
        parameter's range (as ``name in [low, high]``, ``name >= low`` or ``name <= high``)."""
        box = self.box
        unit = "samples" if self.aggregate == "samples" else "runs"
        lines = [
            f"{self.outcome} {self.where}: {self.hits} of {self.cases} {unit} "
            f"({self.dropped_failed} failed runs dropped); box {self.chosen}: coverage "
            f"{box['coverage']:.2f}, density {box['density']:.2f}, mass {box['mass']:.2f}"
        ]
        for row in self.limits[self.limits["restricted"]].itertuples():
            low_cut = row.low > row.original_low
            high_cut = row.high < row.original_high
            if low_cut and high_cut:
                lines.append(f"  {row.parameter} in [{row.low:.4g}, {row.high:.4g}]")
            elif low_cut:
                lines.append(f"  {row.parameter} >= {row.low:.4g}")
            else:
                lines.append(f"  {row.parameter} <= {row.high:.4g}")
        if not self.limits["restricted"].any():
            lines.append("  no parameter is restricted")
        return lines


def read_explore(batch_dir: Path) -> tuple[pd.DataFrame, list[str]]:
    """The experiments table of an explore batch and its sampled parameters' names.

    Reads ``batch_dir/manifest.json`` (``"kind": "explore"``, parameters from
    ``uncertainty.parameters`` or ``design.uncertainty.parameters``) and
    ``batch_dir/experiments.parquet``. Raises :class:`ConfigError` (key ``batch_dir``) when
    the folder is not an explore batch or a file cannot be read.
    """
    from agentsim.store import MANIFEST, _read_json, _read_parquet

    batch_dir = Path(batch_dir)
    if not (batch_dir / MANIFEST).is_file():
        raise ConfigError(str(batch_dir), f"holds no {MANIFEST}: not a batch folder")
    manifest = _read_json(batch_dir / MANIFEST)
    kind = manifest.get("kind") if isinstance(manifest, dict) else None
    if kind != "explore":
        raise ConfigError(str(batch_dir), f"is a {kind or 'unknown'} batch, not an explore batch")
    design = manifest.get("design")
    uncertainty = manifest.get("uncertainty") or (
        design.get("uncertainty") if isinstance(design, dict) else None
    )
    parameters = uncertainty.get("parameters") if isinstance(uncertainty, dict) else None
    if not isinstance(parameters, dict) or not parameters:
        raise ConfigError(str(batch_dir), f"{MANIFEST} names no uncertainty parameters")
    if not (batch_dir / EXPERIMENTS).is_file():
        raise ConfigError(str(batch_dir), f"holds no {EXPERIMENTS}: the batch is unfinished")
    return _read_parquet(batch_dir / EXPERIMENTS), [str(name) for name in parameters]


def _load_prim() -> Any:
    """EMA Workbench's ``prim`` module, or a one-line :class:`ConfigError` when the ``explore``
    extra is not installed. Its import warning about ipyparallel is silenced."""
    try:
        with _quiet_ema():
            from ema_workbench.analysis import prim
    except ImportError:
        raise ConfigError(
            "discover", "needs the explore extra: pip install 'agentsim[explore]'"
        ) from None
    return prim


@contextmanager
def _quiet_ema() -> Iterator[None]:
    """Silence exactly the warnings EMA Workbench 3 emits on import and in PRIM: the notice
    that ipyparallel (or altair) is missing, and pandas deprecation warnings raised from its
    own code (``DataFrame.drop(inplace=True)``). Other warnings pass as usual."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", "ipyparallel not installed", UserWarning)
        warnings.filterwarnings("ignore", "altair based interactive inspection", ImportWarning)
        for category in (DeprecationWarning, FutureWarning):
            warnings.filterwarnings("ignore", category=category, module=r"ema_workbench(\.|$)")
        yield


def _fraction(key: str, value: Any, low: float, high: float, closed: str = "neither") -> float:
    """``value`` as a float within (low, high); ``closed`` is "neither", "high" or "both"."""
    ok = isinstance(value, int | float | np.integer | np.floating) and not isinstance(
        value, bool | np.bool_
    )
    number = float(value) if ok else math.nan
    above = number >= low if closed == "both" else number > low
    below = number <= high if closed in ("high", "both") else number < high
    if not (math.isfinite(number) and above and below):
        left = "[" if closed == "both" else "("
        right = "]" if closed in ("high", "both") else ")"
        raise ConfigError(
            key, f"must be a number in {left}{low:g}, {high:g}{right}, not {quote(value)}"
        )
    return number


def _column_hint(name: str, columns: Sequence[str]) -> str:
    guess = difflib.get_close_matches(name, columns, n=1) if len(name) < 300 else []
    if guess:
        return f"did you mean {guess[0]!r}?"
    shown = ", ".join(columns[:12]) + (", ..." if len(columns) > 12 else "")
    return f"columns: {clip(shown, 400)}"


def _numeric(frame: pd.DataFrame, column: str, key: str) -> np.ndarray:
    """``frame[column]`` as floats, or a one-line error when it is not numeric (or bool)."""
    series = frame[column]
    if not (pd.api.types.is_numeric_dtype(series) or pd.api.types.is_bool_dtype(series)):
        raise ConfigError(key, f"{quote(column)} is not a numeric column ({series.dtype})")
    return series.to_numpy(dtype=float, na_value=np.nan)


def _censored_months(
    table: pd.DataFrame, outcome: str, months: np.ndarray, condition: Condition
) -> np.ndarray:
    """The months of a time-to-event outcome with the runs without the event (censored at
    their horizon, ``steps``) set to infinity: the event, if it comes, comes after the horizon.
    That decides every condition whose thresholds lie before the shortest horizon; a threshold
    at or past it cannot be judged for those runs, and is refused (key ``--where``)."""
    if "steps" not in table.columns:
        raise ConfigError(
            "--outcome",
            f"{quote(outcome)} is the month of an event, missing where it did not happen, and "
            "this table has no 'steps' to tell how long each run looked; use a 0/1 outcome",
        )
    horizon = float(np.nanmin(_numeric(table, "steps", "--outcome")))
    thresholds = [condition.value] + ([condition.high] if condition.high is not None else [])
    if condition.op in ("true", "false") or max(thresholds) >= horizon:
        raise ConfigError(
            "--where",
            f"{quote(outcome)} is censored at month {horizon:g} (runs without the event): "
            f"a condition on it needs thresholds below {horizon:g} months",
        )
    return np.where(np.isnan(months), np.inf, months)


def choose_box(
    trajectory: pd.DataFrame, min_coverage: float = 0.5, threshold: float | None = None
) -> int:
    """The box of a PRIM trajectory to report (its ``box`` number).

    Without ``threshold``: the densest box among those whose coverage is at least
    ``min_coverage`` (ties: the higher coverage, then the fewer restricted dimensions). The
    full box (coverage 1) always qualifies. With ``threshold``: the box with the highest
    coverage among those whose density is at least ``threshold`` (ties: the higher density,
    then the fewer restricted dimensions), which reads "the largest box in which the condition
    holds at least this often". ``trajectory`` has the columns of
    :attr:`Discovery.trajectory`. Raises :class:`ConfigError` (key ``--threshold``) when no
    box reaches ``threshold``.
    """
    t = trajectory
    if threshold is None:
        pool = t[t["coverage"] >= min_coverage - 1e-12]
        order = ["density", "coverage", "restricted_dimensions"]
    else:
        pool = t[t["density"] >= threshold - 1e-12]
        order = ["coverage", "density", "restricted_dimensions"]
        if pool.empty:
            raise ConfigError(
                "--threshold",
                f"no box reaches density {threshold:g} (the densest: "
                f"{t['density'].max():.3f}); lower it",
            )
    best = pool.sort_values(order, ascending=[False, False, True], kind="stable")
    return int(best["box"].iloc[0])


def discover(
    experiments: pd.DataFrame,
    parameters: Sequence[str],
    outcome: str,
    where: str,
    scenario: str | None = None,
    aggregate: Literal["runs", "samples"] = "samples",
    likely: float = 0.5,
    peel_alpha: float = 0.05,
    mass_min: float = 0.05,
    min_coverage: float = 0.5,
    threshold: float | None = None,
    box: int | None = None,
    max_p: float | None = 0.05,
) -> Discovery:
    """Find the parameter ranges in which ``outcome`` meets ``where`` (PRIM, see the module).

    Args:
        experiments: an explore batch's table, one row per run (see the module docstring);
            needs ``parameters`` and ``outcome`` as numeric columns, ``sample`` for
            ``aggregate="samples"``, ``scenario`` to choose a scenario and ``error``
            (optional) to drop failed runs.
        parameters: the sampled parameters' columns (dotted names); PRIM restricts these.
        outcome: a summary outcome column (``overtaken``, ``final_us_lead_ooms``...).
        where: the condition, as :func:`parse_condition` reads it; NaN never meets it,
            except for a time-to-event outcome (:data:`agentsim.survival.TIME_TO_EVENT`),
            where a run without the event counts as having it after its horizon, and a
            threshold at or past the shortest horizon is refused (``--where``).
        scenario: the scenario whose runs are used; may be omitted when the table holds one.
        aggregate: ``"samples"`` (a case per sample, of interest when at least ``likely`` of
            its seeds meet the condition) or ``"runs"`` (a case per run).
        likely: share of seeds, in (0, 1].
        peel_alpha: share of the box's cases peeled per step, in (0, 0.5).
        mass_min: smallest share of all cases a box may hold, in (0, 1).
        min_coverage, threshold: the selection rule of :func:`choose_box` (each in [0, 1]).
        box: report this box of the trajectory instead (overrides the rule).
        max_p: bounds whose quasi-p-value is at least this are dropped from the chosen box,
            in (0, 1]; None keeps every bound.

    Returns:
        a :class:`Discovery`.

    Raises:
        ConfigError: one line, naming the option: an option out of range (``--peel-alpha``,
            ``--likely``...), a condition that cannot be read (``--where``), an outcome or
            parameter that is not a numeric column (with a did-you-mean), a missing parameter
            value in a run that did not fail, a scenario not in the table or not named when
            the table holds several (``--scenario``, listing them), no run left after
            dropping failed ones, no case or every case meeting the condition (``--where``:
            PRIM needs both), a box number not on the trajectory (``--box``), or the
            ``explore`` extra missing (key ``discover``).
    """
    if aggregate not in ("runs", "samples"):
        raise ConfigError("--aggregate", f"must be 'samples' or 'runs', not {quote(aggregate)}")
    likely = _fraction("--likely", likely, 0, 1, closed="high")
    peel_alpha = _fraction("--peel-alpha", peel_alpha, 0, 0.5)
    mass_min = _fraction("--mass-min", mass_min, 0, 1)
    min_coverage = _fraction("--min-coverage", min_coverage, 0, 1, closed="both")
    if threshold is not None:
        threshold = _fraction("--threshold", threshold, 0, 1, closed="both")
    if max_p is not None:
        max_p = _fraction("--max-p", max_p, 0, 1, closed="high")
    condition = parse_condition(where)

    columns = [str(c) for c in experiments.columns]
    if not isinstance(outcome, str) or outcome not in experiments.columns:
        raise ConfigError(
            "--outcome", f"{quote(outcome)} is not a column ({_column_hint(str(outcome), columns)})"
        )
    parameters = list(parameters)
    if not parameters:
        raise ConfigError("parameters", "none given: PRIM needs at least one parameter")
    for name in parameters:
        if name not in experiments.columns:
            raise ConfigError(
                "parameters", f"{quote(name)} is not a column ({_column_hint(str(name), columns)})"
            )
    if len(set(parameters)) < len(parameters):
        twice = next(p for p in parameters if parameters.count(p) > 1)
        raise ConfigError("parameters", f"{quote(twice)} is named twice")
    if outcome in parameters:
        raise ConfigError("--outcome", f"{quote(outcome)} is one of the parameters")
    if aggregate == "samples" and "sample" not in experiments.columns:
        raise ConfigError("--aggregate", "samples needs a 'sample' column; use 'runs'")

    table = _scenario_rows(experiments, scenario)
    scenario = (
        str(table["scenario"].iloc[0]) if "scenario" in table.columns and len(table) else scenario
    )
    failed = (
        table["error"].notna().to_numpy(dtype=bool)
        if "error" in table.columns
        else np.zeros(len(table), dtype=bool)
    )
    table = table[~failed]
    if table.empty:
        raise ConfigError(
            "--outcome", f"no run to analyse: all {int(failed.sum())} runs of the scenario failed"
        )
    values = _numeric(table, outcome, "--outcome")
    if outcome in TIME_TO_EVENT:
        values = _censored_months(table, outcome, values, condition)
    x = pd.DataFrame({name: _numeric(table, name, "parameters") for name in parameters})
    for name in parameters:
        missing = int((~np.isfinite(x[name].to_numpy())).sum())
        if missing:
            raise ConfigError(
                "parameters", f"{quote(name)} is missing or not finite in {missing} runs"
            )
    if condition.op in ("true", "false"):
        other = values[~np.isnan(values) & (values != 0) & (values != 1)]
        if other.size:
            raise ConfigError(
                "--where",
                f"'{condition.op}' needs a 0/1 outcome; {quote(outcome)} holds {other[0]:g}",
            )
    met = condition(values)

    if aggregate == "samples":
        samples = table["sample"].to_numpy()
        frame = x.assign(_sample=samples, _met=met)
        grouped = frame.groupby("_sample", sort=True)
        spread = grouped[parameters].nunique()
        if (spread > 1).to_numpy().any():
            name = spread.columns[(spread > 1).to_numpy().any(axis=0)][0]
            raise ConfigError("parameters", f"{quote(name)} differs between the runs of one sample")
        x = grouped[parameters].first().reset_index(drop=True)
        y = (grouped["_met"].mean() >= likely - 1e-12).to_numpy()
    else:
        y = met
    unit = "samples" if aggregate == "samples" else "runs"
    cases, hits = len(y), int(y.sum())
    if hits == 0 or hits == cases:
        which = "no" if hits == 0 else "every"
        raise ConfigError(
            "--where",
            f"{which} case meets {outcome} {condition} ({hits} of {cases} {unit}): PRIM needs "
            "cases that meet it and cases that do not",
        )

    trajectory, limits, chosen = _run_prim(
        x, y.astype(int), peel_alpha, mass_min, min_coverage, threshold, box, max_p
    )
    if box is not None:
        rule = f"box {box} as asked"
    elif threshold is None:
        rule = f"the densest box with coverage >= {min_coverage:g}"
    else:
        rule = f"the box with the highest coverage among those with density >= {threshold:g}"
    if max_p is not None:
        rule += f", bounds with quasi-p >= {max_p:g} dropped"
    return Discovery(
        outcome=outcome,
        where=str(condition),
        scenario=scenario,
        aggregate=aggregate,
        likely=likely,
        trajectory=trajectory,
        chosen=int(chosen),
        limits=limits,
        cases=cases,
        hits=hits,
        runs=len(table),
        dropped_failed=int(failed.sum()),
        rule=rule,
    )


def _scenario_rows(experiments: pd.DataFrame, scenario: str | None) -> pd.DataFrame:
    """The rows of ``scenario``; all rows when it is None and the table holds one scenario."""
    if "scenario" not in experiments.columns:
        if scenario is not None:
            raise ConfigError("--scenario", "the table has no scenario column")
        return experiments
    names = [str(s) for s in pd.unique(experiments["scenario"].dropna())]
    if scenario is None:
        if len(names) > 1:
            raise ConfigError(
                "--scenario",
                f"the table holds {len(names)} scenarios ({clip(', '.join(names), 400)}); name one",
            )
        return experiments
    if scenario not in names:
        raise ConfigError(
            "--scenario",
            f"{quote(scenario)} is not in the table (scenarios: {clip(', '.join(names), 400)})",
        )
    return experiments[experiments["scenario"] == scenario]


def _run_prim(
    x: pd.DataFrame,
    y: np.ndarray,
    peel_alpha: float,
    mass_min: float,
    min_coverage: float,
    threshold: float | None,
    box: int | None,
    max_p: float | None,
) -> tuple[pd.DataFrame, pd.DataFrame, int]:
    """Run PRIM once on cases ``x`` (n x parameters, floats) and ``y`` (n, 0/1), choose a box,
    drop its insignificant bounds. Returns the trajectory, the chosen box's limits and its
    number (see :class:`Discovery`)."""
    prim = _load_prim()
    with _quiet_ema():
        finder = prim.Prim(x, y, peel_alpha=peel_alpha, mass_min=mass_min)
        found = finder.find_box()
        peeled = _trajectory(found.peeling_trajectory)
        if box is None:
            chosen = choose_box(peeled, min_coverage, threshold)
        elif isinstance(box, int | np.integer) and 0 <= box < len(peeled):
            chosen = int(box)
        else:
            raise ConfigError("--box", f"must be a box of the trajectory, 0 to {len(peeled) - 1}")
        if max_p is not None:
            chosen = _prune(found, finder.box_init, x, chosen, max_p)
        trajectory = _trajectory(found.peeling_trajectory)
    trajectory["pruned"] = trajectory["box"] >= len(peeled)
    limits = _limits(
        list(x.columns), found.box_lims[chosen], finder.box_init, found.p_values[chosen]
    )
    return trajectory, limits, chosen


def _prune(found: Any, box_init: pd.DataFrame, x: pd.DataFrame, chosen: int, max_p: float) -> int:
    """Starting from box ``chosen`` of EMA's ``found`` (a ``PrimBox``), reset its least
    significant bound to the data's range (``box_init``) while one has a quasi-p-value of at
    least ``max_p``. Each new box is appended to ``found``'s trajectory (``PrimBox.update``
    computes its statistics and quasi-p-values). Returns the number of the last box."""
    values = x.to_numpy(dtype=float)
    for _ in range(2 * x.shape[1]):  # each step frees one of the 2 bounds of a parameter
        worst = max(
            (
                (p, name, side)
                for name, pair in found.p_values[chosen].items()
                for side, p in enumerate(pair)
            ),
            default=(-1.0, "", 0),
        )
        if worst[0] < max_p:
            break
        _, name, side = worst
        lims = found.box_lims[chosen].copy()
        lims.loc[side, name] = box_init.loc[side, name]
        low = lims.loc[0, list(x.columns)].to_numpy(dtype=float)
        high = lims.loc[1, list(x.columns)].to_numpy(dtype=float)
        found.update(lims, np.flatnonzero(((values >= low) & (values <= high)).all(axis=1)))
        chosen = len(found.box_lims) - 1
    return chosen


def _trajectory(peeling: pd.DataFrame) -> pd.DataFrame:
    """EMA's peeling trajectory in this module's columns (see :class:`Discovery`)."""
    return pd.DataFrame(
        {
            "box": peeling["id"].to_numpy(dtype=int),
            "coverage": peeling["coverage"].to_numpy(dtype=float),
            "density": peeling["density"].to_numpy(dtype=float),
            "mass": peeling["mass"].to_numpy(dtype=float),
            "restricted_dimensions": peeling["res_dim"].to_numpy(dtype=int),
            "cases": peeling["n"].to_numpy(dtype=int),
            "hits": peeling["k"].to_numpy(dtype=int),
            "pruned": np.zeros(len(peeling), dtype=bool),
        }
    )


def _limits(
    parameters: Sequence[str],
    lims: pd.DataFrame,
    box_init: pd.DataFrame,
    p_values: dict[str, list[float]],
) -> pd.DataFrame:
    """The limits table of one box (see :attr:`Discovery.limits`)."""
    rows = []
    for name in parameters:
        low, high = float(lims.loc[0, name]), float(lims.loc[1, name])
        original_low, original_high = float(box_init.loc[0, name]), float(box_init.loc[1, name])
        p_low, p_high = (float(p) if p >= 0 else math.nan for p in p_values.get(name, [-1, -1]))
        rows.append(
            {
                "parameter": name,
                "low": low,
                "high": high,
                "restricted": bool(low > original_low or high < original_high),
                "original_low": original_low,
                "original_high": original_high,
                "p_low": p_low if low > original_low else math.nan,
                "p_high": p_high if high < original_high else math.nan,
            }
        )
    return pd.DataFrame(rows)


def save_discovery(discovery: Discovery, out_dir: Path, source: Path | None = None) -> list[Path]:
    """Write a discovery's tables and figures into ``out_dir``; return the paths written.

    Writes ``prim_trajectory.csv`` and ``prim_box.csv`` (see :meth:`Discovery.to_frames`)
    atomically, ``prim_tradeoff.png/.pdf`` (:func:`agentsim.figures.prim_tradeoff`) and
    ``prim_box.png/.pdf`` (:func:`agentsim.figures.prim_box_figure`), and the figures-folder
    marker naming ``source`` (the batch folder), so a later call may replace them. Raises
    :class:`ConfigError` (key ``--out``) before writing anything when ``out_dir`` holds files
    agentsim did not write or cannot be written.
    """
    from agentsim.figures import prim_box_figure, prim_tradeoff, save_figure
    from agentsim.store import FIGURES_MARKER, check_figures_dir, write_csv, write_json

    out = Path(out_dir)
    figures = [f"{stem}.{ext}" for stem in (TRADEOFF_FIGURE, BOX_FIGURE) for ext in ("png", "pdf")]
    check_figures_dir(out, [TRAJECTORY_CSV, BOX_CSV, *figures])
    frames = discovery.to_frames()
    paths = [out / TRAJECTORY_CSV, out / BOX_CSV]
    write_csv(paths[0], frames["prim_trajectory"])
    write_csv(paths[1], frames["prim_box"])
    paths += save_figure(
        prim_tradeoff(discovery.trajectory, discovery.chosen), out / TRADEOFF_FIGURE
    )
    paths += save_figure(prim_box_figure(discovery.limits), out / BOX_FIGURE)
    write_json(
        out / FIGURES_MARKER,
        {
            "source": str(source) if source is not None else None,
            "figures": sorted(p.name for p in paths),
        },
    )
    return paths

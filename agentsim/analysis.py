"""Statistics of stored batches: confidence intervals, outcome tables, paired differences.

Every function takes plain pandas objects (a runs frame as :mod:`agentsim.store` reads it: one
row per run, an ``error`` column that is missing for runs that succeeded) and returns numbers
or frames; nothing here runs the model or touches files. scipy is imported only inside the
functions that need a t quantile, so importing this module is cheap.

Grouping never loses or repeats a run: :func:`value_groups` compares values as values (missing
values are a group of their own, lists compare by content, numbers by value), unlike pandas'
``groupby``, which drops missing keys and fails on lists; :func:`design_groups` also keeps the
runs of different design points apart (:func:`design_points`), so no table counts one seed
twice for one point.
"""

from __future__ import annotations

import math
from collections.abc import Hashable, Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from agentsim.config import quote

#: Summary outcomes reported by :func:`outcome_table` (and shown by ``agentsim compare``).
KEY_OUTCOMES = (
    "overtake_month",
    "final_us_user_share",
    "final_us_revenue_share",
    "final_us_capital_share",
    "final_us_talent_share",
    "final_us_lead_ooms",
    "frontier_growth_ooms_per_year",
    "mean_months_between_us_frontier_releases",
    "non_us_lead_months",
)
#: Outcomes in the policy debate's units (docs/ODD.md 7.10) that :func:`outcome_table` reports
#: too and ``agentsim compare`` shows as relative changes with intervals.
DEBATE_OUTCOMES = (
    "us_ai_rd_usd_last_year",
    "us_ai_rd_change",
    "us_revenue_share_last_year",
    "us_user_share_last_year",
    "mean_months_between_us_generations",
    "months_to_first_us_generation",
    "non_us_frontier_class_launches_per_year",
    "us_frontier_class_launches_per_year",
)
#: True/false summary outcomes, compared as proportions even where a store kept them as
#: numbers (batches written before booleans kept their type).
BINARY_OUTCOMES = ("overtaken",)
#: Row label of the overtake probability in :func:`outcome_table`.
OVERTAKE = "P(non-US overtake)"


def t_quantile(n: int, level: float = 0.95) -> float:
    """Two-sided Student t quantile for a mean of ``n`` observations (``n - 1`` degrees of
    freedom, at least 1): the half-width of the interval is this times the standard error."""
    from scipy.special import stdtrit  # the t inverse CDF that scipy.stats.t.ppf calls

    return float(stdtrit(max(n - 1, 1), 0.5 + level / 2))


def _finite(values: Any) -> np.ndarray:
    """The finite numbers of a series or sequence, as a float array (booleans as 0/1)."""
    x = pd.to_numeric(pd.Series(values, dtype=object), errors="coerce").astype(float).to_numpy()
    return x[np.isfinite(x)]


def mean_ci(values: pd.Series, level: float = 0.95) -> tuple[float, float, float, int]:
    """Mean of the finite values, lower and upper bounds of its t interval, and their count.

    The interval is mean ± t s / sqrt(n) with the Student t quantile of n - 1 degrees of
    freedom (:func:`t_quantile`: the inverse CDF that scipy's ``stats.t.interval`` calls, so
    the bounds are scipy's without importing ``scipy.stats``, which takes seconds). Non-numeric
    and missing values are dropped. With no values all three numbers are NaN; with one value
    the bounds are NaN.
    """
    x = _finite(values)
    n = x.size
    if n == 0:
        return math.nan, math.nan, math.nan, 0
    mean = float(x.mean())
    if n == 1:
        return mean, math.nan, math.nan, 1
    half = t_quantile(n, level) * float(x.std(ddof=1)) / math.sqrt(n)
    return mean, mean - half, mean + half, n


def paired_t(
    a: Sequence[float] | np.ndarray, b: Sequence[float] | np.ndarray, level: float = 0.95
) -> tuple[float, float, float, float]:
    """Mean of the paired differences b - a, its t interval and the two-sided p-value.

    ``a`` and ``b`` are (n,) aligned arrays without gaps. From scipy's ``stats.ttest_rel(b,
    a)`` and its ``confidence_interval``. Where every difference is equal the test is
    degenerate: the interval is that difference and the p-value 1 when it is 0, else 0. All
    NaN for no pairs; bounds and p-value NaN for one pair.
    """
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    diff = b - a
    if diff.size == 0:
        return math.nan, math.nan, math.nan, math.nan
    mean = float(diff.mean())
    if diff.size == 1:
        return mean, math.nan, math.nan, math.nan
    if np.all(diff == diff[0]):
        return mean, mean, mean, 1.0 if mean == 0 else 0.0
    from scipy import stats

    test = stats.ttest_rel(b, a)
    interval = test.confidence_interval(confidence_level=level)
    return mean, float(interval.low), float(interval.high), float(test.pvalue)


def effect_size_dz(
    differences: Sequence[float] | np.ndarray, level: float = 0.95
) -> tuple[float, float, float]:
    """Cohen's d_z of paired differences (mean over their standard deviation) with its exact
    interval.

    The interval inverts the noncentral t distribution of t = d_z sqrt(n) with n - 1 degrees
    of freedom (Steiger and Fouladi, "Noncentrality interval estimation", 1997; Cumming and
    Finch, *Educational and Psychological Measurement* 61:532, 2001): the bounds are the
    noncentrality parameters under which the observed t is the upper and lower (1 - level) / 2
    quantile (scipy's ``special.nctdtrinc``), over sqrt(n). All NaN with fewer than two
    differences or no spread.
    """
    d = np.asarray(differences, dtype=float)
    n = d.size
    sd = float(d.std(ddof=1)) if n > 1 else 0.0
    if n < 2 or sd == 0:
        return math.nan, math.nan, math.nan
    from scipy.special import nctdtrinc

    dz = float(d.mean()) / sd
    t_obs, df, tail = dz * math.sqrt(n), n - 1, (1 - level) / 2
    low, high = nctdtrinc(df, 1 - tail, t_obs), nctdtrinc(df, tail, t_obs)
    return dz, float(low) / math.sqrt(n), float(high) / math.sqrt(n)


def ratio_ci(
    a: pd.Series | Any, b: pd.Series | Any, level: float = 0.95
) -> tuple[float, float, float, int]:
    """Relative change of paired means, mean(b) / mean(a) - 1, with its delta-method interval.

    ``a`` and ``b`` are aligned paired observations (pairs where either is missing or not a
    number are dropped). With R = B̄ / Ā the ratio of the sample means, the delta method for a
    ratio of means (e.g. Cochran, *Sampling Techniques*, 3rd ed., 1977, section 6.3; Casella
    and Berger, *Statistical Inference*, 2nd ed., 2002, section 5.5.4) gives

        Var(R) ≈ (Var(B̄) + R² Var(Ā) - 2 R Cov(Ā, B̄)) / Ā²,

    with Var(Ā) = s_a² / n, Var(B̄) = s_b² / n and Cov(Ā, B̄) = s_ab / n from the sample
    variances and covariance of the n pairs (ddof 1). The interval is R - 1 ± t s.e.(R), with
    the t quantile of n - 1 degrees of freedom as :func:`mean_ci` uses. Returns the relative
    change, the lower and upper bounds, and n. The change is NaN when Ā is 0 or there are no
    pairs; the bounds are NaN then and when n < 2.
    """
    x = pd.to_numeric(pd.Series(a, dtype=object), errors="coerce").astype(float).to_numpy()
    y = pd.to_numeric(pd.Series(b, dtype=object), errors="coerce").astype(float).to_numpy()
    both = np.isfinite(x) & np.isfinite(y)
    x, y = x[both], y[both]
    n = int(x.size)
    if n == 0 or x.mean() == 0:
        return math.nan, math.nan, math.nan, n
    mean_a, mean_b = float(x.mean()), float(y.mean())
    ratio = mean_b / mean_a
    if n < 2:
        return ratio - 1.0, math.nan, math.nan, n
    cov = np.cov(x, y, ddof=1) / n
    variance = (cov[1, 1] + ratio**2 * cov[0, 0] - 2 * ratio * cov[0, 1]) / mean_a**2
    half = t_quantile(n, level) * math.sqrt(max(float(variance), 0.0))
    return ratio - 1.0, ratio - 1.0 - half, ratio - 1.0 + half, n


def wilson_interval(successes: int, n: int, level: float = 0.95) -> tuple[float, float, float]:
    """Proportion ``successes / n`` and its Wilson score interval (statsmodels'
    ``proportion_confint(method="wilson")``), exactly 0 or 1 at the bound the data reach. All
    NaN when ``n`` is 0."""
    if n == 0:
        return math.nan, math.nan, math.nan
    from statsmodels.stats.proportion import proportion_confint

    low, high = proportion_confint(successes, n, alpha=1 - level, method="wilson")
    p = successes / n
    low = 0.0 if successes == 0 else min(max(float(low), 0.0), p)
    high = 1.0 if successes == n else max(min(float(high), 1.0), p)
    return p, low, high


def mcnemar_p(a: Sequence[bool] | np.ndarray, b: Sequence[bool] | np.ndarray) -> float:
    """Two-sided exact McNemar p-value for paired binary outcomes (statsmodels ``mcnemar`` with
    ``exact=True``, a binomial test on the discordant pairs). ``a`` and ``b`` are (n,) aligned
    boolean arrays. 1 when no pair is discordant; NaN for no pairs."""
    a, b = np.asarray(a, dtype=bool), np.asarray(b, dtype=bool)
    if a.size == 0:
        return math.nan
    only_a, only_b = int((a & ~b).sum()), int((~a & b).sum())
    if only_a + only_b == 0:
        return 1.0
    from statsmodels.stats.contingency_tables import mcnemar

    table = [[int((a & b).sum()), only_a], [only_b, int((~a & ~b).sum())]]
    return float(mcnemar(table, exact=True).pvalue)


def adjust_p_values(p_values: Sequence[float] | np.ndarray, method: str) -> np.ndarray:
    """p-values adjusted for the family of all finite ``p_values`` ((n,) float; NaN stays
    NaN), by statsmodels ``multipletests``: ``"holm"`` (Holm's step-down, the family-wise
    error rate) or ``"fdr_bh"`` (Benjamini-Hochberg, the false discovery rate)."""
    p = np.asarray(p_values, dtype=float)
    adjusted = np.full(p.shape, math.nan)
    finite = np.isfinite(p)
    if finite.any():
        from statsmodels.stats.multitest import multipletests

        adjusted[finite] = multipletests(p[finite], method=method)[1]
    return adjusted


class _Missing:
    """The one key of every missing value (None, NaN, pandas NA or NaT)."""

    def __repr__(self) -> str:
        return "<missing>"


_MISSING = _Missing()


def is_missing(value: Any) -> bool:
    """Whether ``value`` is a missing scalar: None, a NaN, ``pd.NA`` or ``pd.NaT``."""
    return pd.api.types.is_scalar(value) and bool(pd.isna(value))


def value_key(value: Any) -> Hashable:
    """A hashable key for one stored value, equal for equal values.

    Missing values (see :func:`is_missing`) share one key; numpy scalars are their Python
    values; numbers compare by value (``3`` and ``3.0`` are one key) but a boolean is not a
    number; lists, tuples and arrays compare by content, mappings by their items, sets as
    sets; strings and other hashable values are themselves; anything else by its ``repr``.
    """
    if is_missing(value):
        return _MISSING
    if hasattr(value, "tolist") and not isinstance(value, str | bytes):
        value = value.tolist()  # numpy scalars and arrays
    if isinstance(value, bool):
        return ("bool", value)
    if isinstance(value, Mapping):
        return ("mapping", tuple(sorted((repr(k), value_key(v)) for k, v in value.items())))
    if isinstance(value, list | tuple):
        return ("sequence", tuple(value_key(v) for v in value))
    if isinstance(value, set | frozenset):
        return ("set", frozenset(value_key(v) for v in value))
    try:
        hash(value)
    except TypeError:
        return ("repr", repr(value))
    return value


def value_groups(values: Sequence[Any]) -> tuple[list[int], list[Any]]:
    """Group equal values (as :func:`value_key` compares them), in order of first appearance.

    Returns the group index of every value and the first value of each group, so every value
    is in exactly one group: missing values form a group, lists and other unhashable values
    are grouped by content (pandas' ``groupby`` drops the first and fails on the second).
    """
    index: dict[Hashable, int] = {}
    firsts: list[Any] = []
    codes = []
    for value in values:
        code = index.setdefault(value_key(value), len(firsts))
        if code == len(firsts):
            firsts.append(value)
        codes.append(code)
    return codes, firsts


def design_points(runs: pd.DataFrame) -> pd.Series:
    """The design point of every run (float; NaN where unknown), aligned with ``runs``.

    The ``point`` column that batches store (the index of the run's scenario or grid point in
    its plan). Runs stored without one (batches made before it was recorded) get it from the
    numbering every planner uses, run id = point * runs + replicate, with runs = the highest
    replicate + 1; frames with neither column give NaN (one unknown point).
    """
    if "point" in runs:
        points = pd.to_numeric(runs["point"], errors="coerce").astype(float)
    else:
        points = pd.Series(math.nan, index=runs.index, dtype=float)
    missing = points.isna()
    if missing.any() and {"run_id", "replicate"} <= set(runs.columns):
        ids = pd.to_numeric(runs["run_id"], errors="coerce").astype(float)
        replicates = pd.to_numeric(runs["replicate"], errors="coerce").astype(float)
        derived = (ids - replicates) // (replicates.max() + 1)
        points = points.where(~missing, derived)
    return points


def design_groups(
    runs: pd.DataFrame, by: Sequence[str] = ()
) -> list[tuple[dict[str, Any], pd.DataFrame]]:
    """Split runs into groups of one design point and one value of each ``by`` column.

    Groups come in order of first appearance and every row is in exactly one group, whatever
    its values (see :func:`value_groups`). Runs of different design points
    (:func:`design_points`) are never pooled, even where their values store alike (two points
    swept at ``0.01`` and ``0.010`` in an old batch, say): they share seeds, and pooling them
    would count each seed twice. Each group comes with its labels: the first value of each
    ``by`` column and, when two groups share all of those, ``point`` too.

    Raises ``KeyError`` for a ``by`` column that ``runs`` lacks, and ``ValueError`` when one
    group holds a seed more than once (runs of coinciding points in a frame that does not say
    which point each run belongs to).
    """
    by = list(by)
    missing = [column for column in by if column not in runs]
    if missing:
        raise KeyError(f"runs have no column {quote(missing[0])}")
    columns = [runs[column].tolist() for column in by]
    points = design_points(runs).tolist()
    codes, _ = value_groups(list(zip(*columns, points, strict=True)))
    rows: dict[int, list[int]] = {}
    for position, code in enumerate(codes):
        rows.setdefault(code, []).append(position)
    groups = [runs.iloc[positions] for positions in rows.values()]
    labels = [
        dict(zip(by, (values[p[0]] for values in columns), strict=True)) for p in rows.values()
    ]
    label_codes, _ = value_groups([tuple(label.values()) for label in labels])
    if len(set(label_codes)) < len(labels) and "point" not in by:  # say which point is which
        for label, positions in zip(labels, rows.values(), strict=True):
            point = points[positions[0]]
            label["point"] = int(point) if not is_missing(point) else None
    if "seed" in runs:
        for label, group in zip(labels, groups, strict=True):
            repeated = group["seed"][group["seed"].duplicated()]
            if len(repeated):
                seed = repeated.iloc[0]
                raise ValueError(
                    f"runs with seed {seed} appear {int((group['seed'] == seed).sum())} times "
                    f"in the group {label}: they come from design points that coincide; a "
                    "seed may count once per point"
                )
    return list(zip(labels, groups, strict=True))


def _time_to_event_rows(group: pd.DataFrame, outcome: str) -> list[dict[str, Any]]:
    """The Kaplan-Meier median and the restricted mean of one time-to-event outcome, as
    :func:`outcome_table` rows."""
    from agentsim.survival import durations, horizon_of, summarize

    horizon = horizon_of(group["steps"])
    km = summarize(*durations(group, outcome), horizon=horizon)
    note = f"{km['events']} events, {km['censored']} censored at month {horizon:g}"
    if km["n"] and math.isnan(km["median"]):
        note += "; median not reached"
    return [
        {
            "outcome": outcome,
            "statistic": "median month (Kaplan-Meier)",
            "estimate": km["median"],
            "ci_low": km["median_ci_low"],
            "ci_high": km["median_ci_high"],
            "n": km["n"],
            "note": note,
        },
        {
            "outcome": outcome,
            "statistic": f"restricted mean month to {horizon:g}",
            "estimate": km["restricted_mean"],
            "ci_low": km["restricted_mean_ci_low"],
            "ci_high": km["restricted_mean_ci_high"],
            "n": km["n"],
            "note": note,
        },
    ]


#: Columns of :func:`outcome_table` after the group labels.
TABLE_COLUMNS = ("outcome", "statistic", "estimate", "ci_low", "ci_high", "n", "note")


def outcome_table(
    runs: pd.DataFrame, by: Sequence[str] = (), outcomes: Sequence[str] | None = None
) -> pd.DataFrame:
    """Estimates with 95% intervals of ``outcomes`` (default: :data:`KEY_OUTCOMES`,
    :data:`DEBATE_OUTCOMES` and ``overtaken``, those the runs have) over the runs that did not
    fail, per group of :func:`design_groups`: one design point and one value of each ``by``
    column, so every run is counted in exactly one row and no seed twice in one row.

    The ``statistic`` column says what each row estimates: a ``mean`` with its t interval
    (:func:`mean_ci`) over the runs where the outcome is defined; a ``proportion (Wilson)``
    (:func:`wilson_interval`) for a true/false outcome (``overtaken``'s row is labelled
    :data:`OVERTAKE`); for a time-to-event outcome
    (:data:`agentsim.survival.TIME_TO_EVENT`), two rows: the Kaplan-Meier median month and the
    restricted mean month to the horizon, over every run, the runs without the event censored
    at their horizon. ``n`` is the number of runs the row uses; ``note`` says how many were
    censored or where an outcome is undefined in some runs.

    Columns: the ``by`` columns (then ``point``, when two design points share all their ``by``
    values), then :data:`TABLE_COLUMNS`. A point whose runs all failed has rows with ``n`` 0.
    Empty (with those columns) when no run succeeded. Raises ``KeyError`` for an outcome given
    in ``outcomes`` that the runs lack, and as :func:`design_groups`.
    """
    from agentsim.survival import TIME_TO_EVENT

    if outcomes is None:
        outcomes = [o for o in (*KEY_OUTCOMES, *DEBATE_OUTCOMES, "overtaken") if o in runs]
    missing = [outcome for outcome in outcomes if outcome not in runs]
    if missing:
        raise KeyError(f"runs have no outcome {quote(missing[0])}")
    if not runs["error"].isna().any():
        return pd.DataFrame(columns=[*by, *TABLE_COLUMNS])
    rows = []
    for labels, group in design_groups(runs, by):
        group = group[group["error"].isna()]
        for outcome in outcomes:
            if outcome in TIME_TO_EVENT and "steps" in group:
                rows += [{**labels, **row} for row in _time_to_event_rows(group, outcome)]
                continue
            row = {"outcome": outcome, "statistic": "mean", "note": ""}
            if outcome in BINARY_OUTCOMES or _is_binary(group[outcome]):
                values = pd.to_numeric(group[outcome].astype(object), errors="coerce")
                n = int(values.notna().sum())
                estimate, low, high = wilson_interval(int(values.sum()), n)
                row.update(statistic="proportion (Wilson)")
                if outcome == "overtaken":
                    row.update(outcome=OVERTAKE)
            else:
                estimate, low, high, n = mean_ci(group[outcome])
            if n < len(group):
                row["note"] = f"defined in {n} of {len(group)} runs"
            rows.append(
                {**labels, **row, "estimate": estimate, "ci_low": low, "ci_high": high, "n": n}
            )
    table = pd.DataFrame(rows, columns=None if rows else [*by, *TABLE_COLUMNS])
    labels = [column for column in table.columns if column not in TABLE_COLUMNS]
    return table[[*labels, *TABLE_COLUMNS]]


#: What :func:`paired_differences` reports for each kind of outcome: the statistic compared
#: and the test of no difference.
PAIRED_TESTS = {
    "continuous": ("mean", "paired t"),
    "binary": ("proportion", "McNemar, exact"),
    "time to event": ("restricted mean month to {horizon:g}", "log-rank stratified by seed"),
}


def _is_binary(column: pd.Series) -> bool:
    """Whether a stored outcome is true/false (a boolean dtype, or objects that are all bools
    or missing)."""
    if pd.api.types.is_bool_dtype(column.dtype):
        return True
    if column.dtype == object:
        values = column.dropna()
        return len(values) > 0 and all(isinstance(v, bool | np.bool_) for v in values)
    return False


def _paired_row(
    outcome: str, left: pd.Series, right: pd.Series, steps: pd.Series | None
) -> dict[str, Any]:
    """One outcome's statistics over the paired runs ``left`` (A) and ``right`` (B), aligned
    by seed; see :func:`paired_differences`."""
    from agentsim.survival import TIME_TO_EVENT, horizon_of, paired_logrank

    pairs = len(left)
    if outcome in TIME_TO_EVENT and steps is not None:
        kind = "time to event"
        horizon = horizon_of(steps)
        events_a, events_b = left.notna().to_numpy(), right.notna().to_numpy()
        month_a = pd.to_numeric(left, errors="coerce").astype(float).to_numpy()
        month_b = pd.to_numeric(right, errors="coerce").astype(float).to_numpy()
        horizons = pd.to_numeric(steps, errors="coerce").astype(float).to_numpy()
        time_a = np.where(events_a, month_a, horizons)
        time_b = np.where(events_b, month_b, horizons)
        a, b = np.minimum(time_a, horizon), np.minimum(time_b, horizon)  # restricted means
        p = paired_logrank(time_a, events_a, time_b, events_b)
        note = (
            f"events in {int(events_a.sum())} (A) and {int(events_b.sum())} (B) of {pairs} "
            f"pairs; the rest censored at month {horizon:g}"
        )
    else:
        binary = outcome in BINARY_OUTCOMES or _is_binary(left) or _is_binary(right)
        kind = "binary" if binary else "continuous"
        x = pd.to_numeric(left.astype(object), errors="coerce").astype(float).to_numpy()
        y = pd.to_numeric(right.astype(object), errors="coerce").astype(float).to_numpy()
        both = np.isfinite(x) & np.isfinite(y)
        a, b = x[both], y[both]
        p = mcnemar_p(a > 0.5, b > 0.5) if binary else None  # None: the paired t test's
        note = ""
        if both.sum() < pairs:
            note = (
                f"defined in {int(np.isfinite(x).sum())} (A) and {int(np.isfinite(y).sum())} "
                f"(B) of {pairs} pairs; compared over the {int(both.sum())} where both are"
            )
    same = bool(np.array_equal(a, b))  # equal in every pair: nothing to test
    statistic, test = PAIRED_TESTS[kind]
    difference, low, high, t_p = paired_t(a, b)
    p = t_p if p is None else p
    dz, dz_low, dz_high = effect_size_dz(b - a)
    change, change_low, change_high, _ = ratio_ci(a, b)
    return {
        "outcome": outcome,
        "statistic": statistic.format(horizon=horizon) if kind == "time to event" else statistic,
        "mean_a": float(a.mean()) if a.size else math.nan,
        "mean_b": float(b.mean()) if b.size else math.nan,
        "difference": difference,
        "ci_low": low,
        "ci_high": high,
        "test": test,
        "p_value": p,
        "effect_size_dz": dz,
        "dz_ci_low": dz_low,
        "dz_ci_high": dz_high,
        "n_pairs": int(a.size),
        "relative_change": change,
        "relative_ci_low": change_low,
        "relative_ci_high": change_high,
        "note": note,
        "same_in_every_pair": same,
    }


def paired_differences(
    runs: pd.DataFrame, a: str, b: str, outcomes: Sequence[str] | None = None
) -> pd.DataFrame:
    """B against A for every summary outcome (or those in ``outcomes``), paired by seed
    (common random numbers).

    ``a`` and ``b`` are two values of the ``scenario`` column; a pair is dropped when either
    run failed. One row per outcome; what it compares depends on the outcome's kind
    (:data:`PAIRED_TESTS`, named in the ``statistic`` and ``test`` columns):

    - a number: its mean over the pairs where it is defined in both runs, the paired t
      interval of the mean difference and its p-value (:func:`paired_t`);
    - a true/false outcome (``overtaken``): the proportions, the paired difference with its t
      interval, and the exact McNemar p-value (:func:`mcnemar_p`);
    - a time to an event (:data:`agentsim.survival.TIME_TO_EVENT`): the restricted mean month
      to the horizon (runs without the event censored there; with censoring only at the
      common horizon this is the mean of min(month, horizon), so its paired t interval
      applies), and the log-rank test stratified by seed
      (:func:`agentsim.survival.paired_logrank`).

    Columns: ``outcome``, ``statistic``, ``mean_<a>``, ``mean_<b>`` (over the pairs used, so
    their difference is ``difference``), ``difference`` with its 95% interval
    ``ci_low``/``ci_high``, ``test``, ``p_value``, and the same p-value adjusted for the family
    of every outcome tested in this call (``tests_in_family`` of them; an outcome equal in
    every pair, such as a count that never moves, has nothing to test: its p-value is 1 and
    it stays out of the family, with adjusted p-values NaN): ``p_holm``
    (Holm, the family-wise error rate) and ``p_bh`` (Benjamini-Hochberg, the false discovery
    rate), from :func:`adjust_p_values`; ``effect_size_dz`` with its exact 95% interval
    ``dz_ci_low``/``dz_ci_high`` (:func:`effect_size_dz`; NaN without spread); ``n_pairs``;
    the relative change of the paired means ``relative_change`` with its 95% delta-method
    interval ``relative_ci_low``/``relative_ci_high`` (:func:`ratio_ci`); and ``note``, which
    says how many pairs had the event or the outcome defined when not all did. Ids, seeds,
    points, ``steps`` and text columns are skipped. Frames without a ``seed`` column are
    paired by ``replicate``.

    Raises ``ValueError`` when ``a`` equals ``b``, or when a scenario holds one seed in more
    than one run (runs of several design points, as in a sweep): such a seed cannot be paired
    once; ``KeyError`` for an outcome in ``outcomes`` that the runs lack.
    """
    missing = [outcome for outcome in outcomes or () if outcome not in runs]
    if missing:
        raise KeyError(f"runs have no outcome {quote(missing[0])}")
    if a == b:
        raise ValueError(f"paired_differences: give two different scenarios (got {quote(a)} twice)")
    pair_on = "seed" if "seed" in runs else "replicate"
    scenario = runs["scenario"].astype(object)
    sides = []
    for name in (a, b):
        mine = runs[(scenario == name).to_numpy(dtype=bool)]
        keys = mine[pair_on]
        if keys.duplicated().any():
            key = keys[keys.duplicated()].iloc[0]
            raise ValueError(
                f"scenario {quote(name)} holds {pair_on} {key} in {int((keys == key).sum())} runs "
                "(runs of several design points); each run must pair with one run"
            )
        sides.append(mine[mine["error"].isna()].set_index(pair_on))
    left, right = sides
    common = left.index.intersection(right.index)
    left, right = left.loc[common], right.loc[common]
    steps = left["steps"] if "steps" in left else None
    skip = {"run_id", "replicate", "seed", "point", "steps"}
    rows = [
        _paired_row(column, left[column], right[column], steps)
        for column in (left.columns if outcomes is None else outcomes)
        if column not in skip
        and column in right
        and (pd.api.types.is_numeric_dtype(left[column]) or _is_binary(left[column]))
    ]
    table = pd.DataFrame(rows)
    if table.empty:
        return table
    same = table.pop("same_in_every_pair").to_numpy(dtype=bool)
    family = np.where(same, math.nan, table["p_value"].to_numpy(dtype=float))
    position = table.columns.get_loc("p_value") + 1
    table.insert(position, "p_bh", adjust_p_values(family, "fdr_bh"))
    table.insert(position, "p_holm", adjust_p_values(family, "holm"))
    table.insert(position + 2, "tests_in_family", int(np.isfinite(family).sum()))
    return table.rename(columns={"mean_a": f"mean_{a}", "mean_b": f"mean_{b}"})

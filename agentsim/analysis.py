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
from statistics import NormalDist
from typing import Any

import numpy as np
import pandas as pd

from agentsim.config import quote

#: Summary outcomes reported by :func:`outcome_table` (and shown by ``agentsim compare``).
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
#: Row label of the overtake probability in :func:`outcome_table`.
OVERTAKE = "P(non-US overtake)"


def t_quantile(n: int, level: float = 0.95) -> float:
    """Two-sided Student t quantile for a mean of ``n`` observations (``n - 1`` degrees of
    freedom, at least 1): the half-width of the interval is this times the standard error."""
    from scipy.special import stdtrit  # the t inverse CDF that scipy.stats.t.ppf calls

    return float(stdtrit(max(n - 1, 1), 0.5 + level / 2))


def z_quantile(level: float = 0.95) -> float:
    """Two-sided standard normal quantile (1.959964 for 0.95)."""
    return NormalDist().inv_cdf(0.5 + level / 2)


def mean_ci(values: pd.Series, level: float = 0.95) -> tuple[float, float, float, int]:
    """Mean of the finite values, lower and upper bounds of its t interval, and their count.

    Non-numeric and missing values are dropped. With no values all three numbers are NaN;
    with one value the bounds are NaN.
    """
    x = pd.to_numeric(values, errors="coerce").dropna().to_numpy(dtype=float)
    n = x.size
    if n == 0:
        return math.nan, math.nan, math.nan, 0
    mean = float(x.mean())
    if n == 1:
        return mean, math.nan, math.nan, 1
    half = t_quantile(n, level) * float(x.std(ddof=1)) / math.sqrt(n)
    return mean, mean - half, mean + half, n


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
    """Proportion ``successes / n`` and its Wilson score interval (clipped to [0, 1], and
    exactly 0 or 1 at the bound the data reach). All NaN when ``n`` is 0."""
    if n == 0:
        return math.nan, math.nan, math.nan
    z = z_quantile(level)
    p = successes / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    low = 0.0 if successes == 0 else min(max(centre - half, 0.0), p)
    high = 1.0 if successes == n else max(min(centre + half, 1.0), p)
    return p, low, high


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


def outcome_table(runs: pd.DataFrame, by: Sequence[str] = ()) -> pd.DataFrame:
    """Means with 95% t intervals of :data:`KEY_OUTCOMES`, :data:`DEBATE_OUTCOMES` and the
    overtake probability
    (Wilson interval), over the runs that did not fail, per group of :func:`design_groups`:
    one design point and one value of each ``by`` column, so every run is counted in exactly
    one row and no seed twice in one row.

    Columns: the ``by`` columns (then ``point``, when two design points share all their ``by``
    values), ``outcome``, ``mean``, ``ci_low``, ``ci_high``, ``n``. A point whose runs all
    failed has rows with ``n`` 0. Empty (with those columns) when no run succeeded or the runs
    have no ``overtaken`` column. Raises as :func:`design_groups`.
    """
    ok = runs["error"].isna()
    if not ok.any() or "overtaken" not in runs:
        return pd.DataFrame(columns=[*by, "outcome", "mean", "ci_low", "ci_high", "n"])
    rows = []
    for labels, group in design_groups(runs, by):
        group = group[group["error"].isna()]
        for outcome in (*KEY_OUTCOMES, *DEBATE_OUTCOMES):
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
        overtaken = pd.to_numeric(group["overtaken"], errors="coerce").astype(float)
        count = int(overtaken.notna().sum())
        p, low, high = wilson_interval(int(overtaken.sum()), count)
        rows.append(
            {**labels, "outcome": OVERTAKE, "mean": p, "ci_low": low, "ci_high": high, "n": count}
        )
    return pd.DataFrame(rows)


def paired_differences(runs: pd.DataFrame, a: str, b: str) -> pd.DataFrame:
    """B minus A for every numeric summary outcome, paired by seed (common random numbers).

    ``a`` and ``b`` are two values of the ``scenario`` column; a pair is dropped when either
    run failed. One row per outcome, with columns ``outcome``, ``mean_<a>``, ``mean_<b>``,
    ``difference`` (mean of B - A) with its 95% t interval ``ci_low``/``ci_high``,
    ``effect_size_dz`` (mean difference over the standard deviation of the differences; NaN
    when that is 0), ``n_pairs``, and the relative change of the paired means
    ``relative_change`` (mean B / mean A - 1, over the pairs where both are defined) with its
    95% delta-method interval ``relative_ci_low``/``relative_ci_high`` (:func:`ratio_ci`; NaN
    when mean A is 0 or fewer than two pairs). Ids, seeds, points, ``steps`` and text columns are
    skipped. Frames without a ``seed`` column are paired by ``replicate``.

    Raises ``ValueError`` when ``a`` equals ``b``, or when a scenario holds one seed in more
    than one run (runs of several design points, as in a sweep): such a seed cannot be paired
    once.
    """
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
    skip = {"run_id", "replicate", "seed", "point", "steps"}
    rows = []
    for column in left.columns:
        if column in skip or not pd.api.types.is_numeric_dtype(left[column]):
            continue
        diff = (right[column] - left[column]).dropna()
        mean, low, high, n = mean_ci(diff)
        sd = float(diff.std(ddof=1)) if n > 1 else math.nan
        change, change_low, change_high, _ = ratio_ci(left[column], right[column])
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
                "relative_change": change,
                "relative_ci_low": change_low,
                "relative_ci_high": change_high,
            }
        )
    return pd.DataFrame(rows)

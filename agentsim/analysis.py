"""Statistics of stored batches: confidence intervals, outcome tables, paired differences.

Every function takes plain pandas objects (a runs frame as :mod:`agentsim.store` reads it: one
row per run, an ``error`` column that is missing for runs that succeeded) and returns numbers
or frames; nothing here runs the model or touches files. scipy is imported only inside the
functions that need a t quantile, so importing this module is cheap.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from statistics import NormalDist

import pandas as pd

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


def outcome_table(runs: pd.DataFrame, by: Sequence[str] = ()) -> pd.DataFrame:
    """Means with 95% t intervals of :data:`KEY_OUTCOMES` and the overtake probability
    (Wilson interval), over the runs that did not fail, per group of the ``by`` columns.

    Columns: the ``by`` columns, ``outcome``, ``mean``, ``ci_low``, ``ci_high``, ``n``. Empty
    (with those columns) when no run succeeded or the runs have no ``overtaken`` column.
    """
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
                "outcome": OVERTAKE,
                "mean": p,
                "ci_low": low,
                "ci_high": high,
                "n": int(overtaken.notna().sum()),
            }
        )
    return pd.DataFrame(rows)


def paired_differences(runs: pd.DataFrame, a: str, b: str) -> pd.DataFrame:
    """B minus A for every numeric summary outcome, paired by replicate (same seed).

    ``a`` and ``b`` are values of the ``scenario`` column; a pair is dropped when either run
    failed. One row per outcome, with columns ``outcome``, ``mean_<a>``, ``mean_<b>``,
    ``difference`` (mean of B - A) with its 95% t interval ``ci_low``/``ci_high``,
    ``effect_size_dz`` (mean difference over the standard deviation of the differences; NaN
    when that is 0) and ``n_pairs``. Ids, seeds, ``steps`` and text columns are skipped.
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

"""Time-to-event outcomes of a batch: Kaplan-Meier curves, medians, restricted means, log-rank.

Some summary outcomes are the month of an event that may not happen within a run's horizon:
the first month a non-US lab leads (``overtake_month``), the first US frontier generation
(``months_to_first_us_generation``), the repeal of trusted release
(``trusted_release_repealed_month``). A run without the event is *censored* at its horizon
(its ``steps``): all we know is that the event, if it comes, comes later. A mean over the runs
that had the event is biased towards early events (and two scenarios' means are over different
runs), so these outcomes are summarised here as survival data:

- the Kaplan-Meier estimate of the share of runs without the event by month, with pointwise
  intervals (:func:`kaplan_meier`);
- the Kaplan-Meier median month with its interval, NaN when fewer than half the runs have had
  the event by the horizon ("not reached");
- the restricted mean month to the event up to a horizon tau, the area under the Kaplan-Meier
  curve from 0 to tau (:func:`restricted_mean`), with its standard error;
- between two scenarios on common seeds, a log-rank test stratified by seed (each seed's pair
  of runs is a stratum, :func:`paired_logrank`).

The estimates come from statsmodels (``SurvfuncRight``, ``survdiff``), whose numbers equal
lifelines' and R's ``survival`` package; only the restricted mean and the curve's pointwise
interval are computed here, from statsmodels' curve and Greenwood standard errors, with the
formulas cited in each function.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from statistics import NormalDist
from typing import Any

import numpy as np
import pandas as pd

from agentsim.config import quote

#: Summary outcomes that are the month of an event, missing where the event did not happen
#: within the run (censored at the run's ``steps``), with what the event is.
TIME_TO_EVENT = {
    "overtake_month": "a non-US lab leads the frontier",
    "months_to_first_us_generation": "the first US frontier generation",
    "trusted_release_repealed_month": "trusted release is repealed",
}

#: Columns of :func:`survival_table` after the group labels.
SUMMARY_COLUMNS = (
    "outcome",
    "n",
    "events",
    "censored",
    "horizon",
    "median",
    "median_ci_low",
    "median_ci_high",
    "restricted_mean",
    "restricted_mean_ci_low",
    "restricted_mean_ci_high",
)


def durations(runs: pd.DataFrame, outcome: str) -> tuple[np.ndarray, np.ndarray]:
    """Months to the event and whether it was observed, for every row of ``runs``.

    ``runs`` holds the time-to-event column ``outcome`` (the event's month, missing where it
    did not happen) and ``steps`` (the run's horizon in months). Returns ``time`` ((n,) float,
    months: the event's month, else the horizon) and ``event`` ((n,) bool). Raises ``KeyError``
    naming a missing column.
    """
    for column in (outcome, "steps"):
        if column not in runs:
            raise KeyError(f"runs have no column {quote(column)}")
    month = pd.to_numeric(runs[outcome], errors="coerce").astype(float).to_numpy()
    horizon = pd.to_numeric(runs["steps"], errors="coerce").astype(float).to_numpy()
    event = np.isfinite(month)
    return np.where(event, month, horizon), event


def _survfunc(time: np.ndarray, event: np.ndarray) -> Any:
    from statsmodels.duration.survfunc import SurvfuncRight

    return SurvfuncRight(np.asarray(time, dtype=float), np.asarray(event, dtype=float))


def kaplan_meier(time: np.ndarray, event: np.ndarray, level: float = 0.95) -> pd.DataFrame:
    """The Kaplan-Meier curve: share of runs without the event by month.

    ``time`` and ``event`` are (n,) arrays as :func:`durations` returns. One row at month 0
    (survival 1) and one per month with an event: ``month``, ``at_risk``, ``events``,
    ``survival`` (the estimate just after that month) and its pointwise interval
    ``ci_low``/``ci_high`` on the log-log scale (Kalbfleisch and Prentice, *The Statistical
    Analysis of Failure Time Data*, 2nd ed., 2002, eq. 1.10), from statsmodels' Greenwood
    standard errors: exp(-exp(log(-log S) ± z se(S) / (S |log S|))). Where S is 1 or 0 the
    interval is the point. Empty input gives a frame with only the month-0 row (n 0).
    """
    z = NormalDist().inv_cdf(0.5 + level / 2)
    time = np.asarray(time, dtype=float)
    first = {"month": 0.0, "at_risk": int(time.size), "events": 0, "survival": 1.0}
    rows = [{**first, "ci_low": 1.0, "ci_high": 1.0}]
    if time.size and np.asarray(event).any():
        fit = _survfunc(time, event)
        for month, risk, events, s, se in zip(
            fit.surv_times, fit.n_risk, fit.n_events, fit.surv_prob, fit.surv_prob_se, strict=True
        ):
            if 0 < s < 1:
                spread = z * se / (s * abs(math.log(s)))
                low = math.exp(-math.exp(math.log(-math.log(s)) + spread))
                high = math.exp(-math.exp(math.log(-math.log(s)) - spread))
            else:
                low = high = float(s)
            row = {"month": float(month), "at_risk": int(risk), "events": int(events)}
            if month == 0:
                rows.pop()  # an event at month 0: the curve starts below 1
                row["at_risk"] = int(time.size)
            rows.append({**row, "survival": float(s), "ci_low": low, "ci_high": high})
    return pd.DataFrame(rows)


def restricted_mean(time: np.ndarray, event: np.ndarray, horizon: float) -> tuple[float, float]:
    """Restricted mean months to the event up to ``horizon`` (tau) and its standard error.

    The area under the Kaplan-Meier curve from 0 to tau (Royston and Parmar, *BMC Medical
    Research Methodology* 13:152, 2013). Its variance is the Greenwood-type sum over event
    months t_i <= tau of A_i² d_i / (Y_i (Y_i - d_i)), with A_i the area under the curve from
    t_i to tau, d_i the events and Y_i the runs at risk (Klein and Moeschberger, *Survival
    Analysis*, 2nd ed., 2003, eq. 4.5.2); a month where every run at risk has the event adds
    nothing (its A_i is 0). When every run is censored only at tau or later, the restricted
    mean equals the plain mean of min(time, tau). NaN for no runs.
    """
    time = np.asarray(time, dtype=float)
    event = np.asarray(event, dtype=bool)
    if time.size == 0:
        return math.nan, math.nan
    if not event.any():
        return float(horizon), 0.0
    fit = _survfunc(time, event)
    keep = fit.surv_times <= horizon
    months = fit.surv_times[keep]
    survival = fit.surv_prob[keep]
    edges = np.append(months, horizon)
    # the curve is 1 before the first event month, then survival[i] from months[i] on
    area_after = survival * np.diff(edges)  # area of each step up to tau
    tail = np.cumsum(area_after[::-1])[::-1]  # A_i: area from months[i] to tau
    mean = float(edges[0] + tail[0]) if months.size else float(horizon)
    risk = fit.n_risk[keep].astype(float)
    events = fit.n_events[keep].astype(float)
    with np.errstate(divide="ignore", invalid="ignore"):
        terms = np.where(risk > events, tail**2 * events / (risk * (risk - events)), 0.0)
    return mean, float(math.sqrt(terms.sum()))


def summarize(
    time: np.ndarray, event: np.ndarray, horizon: float | None = None, level: float = 0.95
) -> dict[str, Any]:
    """Kaplan-Meier summary of one group of runs (the :data:`SUMMARY_COLUMNS` after
    ``outcome``).

    ``horizon`` (months) is the tau of the restricted mean: by default the shortest censoring
    time (the horizon every run without the event reached), or the latest month when every run
    had the event; the median and its interval come from statsmodels (``quantile``,
    ``quantile_ci`` with the complementary log-log transform); a median or bound that the curve
    does not reach by the horizon is NaN. The restricted mean's interval is ± z standard
    errors, cut to [0, horizon], the values a restricted mean can take.
    """
    time = np.asarray(time, dtype=float)
    event = np.asarray(event, dtype=bool)
    n, events = int(time.size), int(event.sum())
    if horizon is None:
        horizon = float(time[~event].min()) if (~event).any() else float(time.max(initial=math.nan))
    median = low = high = math.nan
    if events:
        fit = _survfunc(time, event)
        median = float(fit.quantile(0.5))
        with np.errstate(divide="ignore", invalid="ignore"):  # log(0) where the curve is 1 or 0
            low, high = (float(v) for v in fit.quantile_ci(0.5, alpha=1 - level))
    mean, se = restricted_mean(time, event, horizon) if n else (math.nan, math.nan)
    z = NormalDist().inv_cdf(0.5 + level / 2)
    return {
        "n": n,
        "events": events,
        "censored": n - events,
        "horizon": horizon,
        "median": median,
        "median_ci_low": low if math.isfinite(low) else math.nan,
        "median_ci_high": high if math.isfinite(high) else math.nan,
        "restricted_mean": mean,
        "restricted_mean_ci_low": max(mean - z * se, 0.0),
        "restricted_mean_ci_high": min(mean + z * se, horizon),
    }


def horizon_of(steps: pd.Series) -> float:
    """The horizon every run of a group reached: the fewest ``steps`` (months); NaN for no
    runs."""
    values = pd.to_numeric(steps, errors="coerce").astype(float)
    return float(values.min()) if values.notna().any() else math.nan


def paired_logrank(
    time_a: np.ndarray, event_a: np.ndarray, time_b: np.ndarray, event_b: np.ndarray
) -> float:
    """Two-sided p-value of the log-rank test of A against B stratified by pair.

    The (n,) arrays are aligned by seed: run i of A and run i of B share a seed, and each pair
    is a stratum (statsmodels ``survdiff`` with ``strata``), so the test compares the two
    scenarios within seeds, as common random numbers intend. NaN when no run had the event; 1
    when both scenarios have identical times and events in every pair.
    """
    time_a, time_b = np.asarray(time_a, float), np.asarray(time_b, float)
    event_a, event_b = np.asarray(event_a, bool), np.asarray(event_b, bool)
    if not (event_a.any() or event_b.any()):
        return math.nan
    if np.array_equal(time_a, time_b) and np.array_equal(event_a, event_b):
        return 1.0
    from statsmodels.duration.survfunc import survdiff

    n = time_a.size
    pairs = np.arange(n)
    _, p = survdiff(
        np.concatenate([time_a, time_b]),
        np.concatenate([event_a, event_b]).astype(float),
        np.repeat([0, 1], n),
        strata=np.concatenate([pairs, pairs]),
    )
    return float(p)


def survival_table(runs: pd.DataFrame, by: Sequence[str] = ()) -> pd.DataFrame:
    """Kaplan-Meier summaries of every :data:`TIME_TO_EVENT` outcome in ``runs``, per group of
    :func:`agentsim.analysis.design_groups` (one design point and one value of each ``by``
    column), over the runs that did not fail, with the restricted mean up to the shortest
    horizon (``steps``) in the group.

    Columns: the group labels, then :data:`SUMMARY_COLUMNS`. Empty (with those columns) when
    ``runs`` has no time-to-event outcome or no ``steps``. Raises as ``design_groups``.
    """
    from agentsim.analysis import design_groups

    present = [outcome for outcome in TIME_TO_EVENT if outcome in runs]
    if not present or "steps" not in runs:
        return pd.DataFrame(columns=[*by, *SUMMARY_COLUMNS])
    rows = []
    for labels, group in design_groups(runs, by):
        group = group[group["error"].isna()]
        for outcome in present:
            summary = summarize(*durations(group, outcome), horizon=horizon_of(group["steps"]))
            rows.append({**labels, "outcome": outcome, **summary})
    return pd.DataFrame(rows)

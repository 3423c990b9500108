"""Time-to-event outcomes: Kaplan-Meier curves, medians, restricted means and the paired
log-rank test against answers worked out by hand, and their place in the batch tables."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from agentsim.analysis import outcome_table, paired_differences
from agentsim.survival import (
    durations,
    kaplan_meier,
    paired_logrank,
    restricted_mean,
    summarize,
    survival_table,
)


def censored_batch() -> pd.DataFrame:
    """Six runs: overtakes in months 2, 4, 6 and 9; one run censored at month 5 (a shorter
    horizon), one without an overtake by month 12; and a failed run that must not count."""
    return pd.DataFrame(
        {
            "run_id": range(7),
            "seed": [11, 12, 13, 14, 15, 16, 17],
            "scenario": ["a"] * 7,
            "steps": [12, 12, 5, 12, 12, 12, 12],
            "overtake_month": [2, 4, None, 6, None, 9, 1],
            "overtaken": [True, True, False, True, False, True, True],
            "error": [None] * 6 + ["RuntimeError: boom"],
        }
    )


def test_kaplan_meier_by_hand():
    ok = censored_batch().iloc[:6]
    time, event = durations(ok, "overtake_month")
    assert time.tolist() == [2, 4, 5, 6, 12, 9]
    assert event.tolist() == [True, True, False, True, False, True]
    curve = kaplan_meier(time, event).set_index("month")
    # S(2) = 5/6; S(4) = 5/6 * 4/5; the run censored at 5 leaves 3 at risk at 6: S(6) = 2/3 *
    # 2/3; S(9) = 4/9 * 1/2
    assert curve["survival"].tolist() == pytest.approx([1, 5 / 6, 2 / 3, 4 / 9, 2 / 9])
    assert curve["at_risk"].tolist() == [6, 6, 5, 3, 2]
    assert curve["events"].tolist() == [0, 1, 1, 1, 1]
    inside = curve.iloc[1:]
    assert (inside["ci_low"] < inside["survival"]).all()
    assert (inside["survival"] < inside["ci_high"]).all()
    assert ((inside["ci_low"] >= 0) & (inside["ci_high"] <= 1)).all()


def test_kaplan_meier_interval_is_greenwood_on_the_log_log_scale():
    time = np.array([1.0, 2.0, 3.0, 4.0, 10.0, 10.0])
    event = np.array([True, True, True, True, False, False])
    s = 4 / 6  # after two events among six
    greenwood = s * math.sqrt(1 / (6 * 5) + 1 / (5 * 4))
    spread = 1.959964 * greenwood / (s * abs(math.log(s)))
    low = math.exp(-math.exp(math.log(-math.log(s)) + spread))
    high = math.exp(-math.exp(math.log(-math.log(s)) - spread))
    row = kaplan_meier(time, event).set_index("month").loc[2.0]
    assert (row["ci_low"], row["ci_high"]) == pytest.approx((low, high), rel=1e-5)


def test_median_and_restricted_mean_by_hand():
    ok = censored_batch().iloc[:6]
    time, event = durations(ok, "overtake_month")
    summary = summarize(time, event, horizon=12)
    assert (summary["n"], summary["events"], summary["censored"]) == (6, 4, 2)
    assert summary["median"] == 6  # the first month the curve is at or below 1/2
    assert summary["median_ci_low"] <= 6
    # area under the curve to 12: 2*1 + 2*5/6 + 2*2/3 + 3*4/9 + 3*2/9
    assert summary["restricted_mean"] == pytest.approx(7.0)
    assert restricted_mean(time, event, 5.0)[0] == pytest.approx(2 + 2 * 5 / 6 + 2 / 3)
    low, high = summary["restricted_mean_ci_low"], summary["restricted_mean_ci_high"]
    assert low < 7.0 < high


def test_restricted_mean_variance_by_hand():
    # events at 1 and 3 among four runs, two censored at tau = 4
    time = np.array([1.0, 3.0, 4.0, 4.0])
    event = np.array([True, True, False, False])
    # S = 1 on [0,1), 3/4 on [1,3), 1/2 on [3,4): area 1 + 1.5 + 0.5 = 3
    # A_1 = 1.5 + 0.5 = 2 (4 at risk, 1 event); A_3 = 0.5 (3 at risk, 1 event)
    variance = 2**2 * 1 / (4 * 3) + 0.5**2 * 1 / (3 * 2)
    mean, se = restricted_mean(time, event, 4.0)
    assert mean == pytest.approx(3.0)
    assert se == pytest.approx(math.sqrt(variance))


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_restricted_mean_is_the_mean_of_capped_times_under_horizon_censoring(seed: int):
    rng = np.random.default_rng(seed)
    month = rng.integers(0, 90, 50).astype(float)
    event = month <= 60
    time = np.where(event, month, 60.0)
    mean, se = restricted_mean(time, event, 60.0)
    assert mean == pytest.approx(np.minimum(time, 60).mean())
    assert se == pytest.approx(np.minimum(time, 60).std(ddof=0) / math.sqrt(50))


def test_median_not_reached_is_missing_not_a_number_of_months():
    time = np.array([3.0, 12, 12, 12, 12])
    event = np.array([True, False, False, False, False])
    summary = summarize(time, event)
    assert math.isnan(summary["median"]) and math.isnan(summary["median_ci_high"])
    assert summary["horizon"] == 12
    nothing = summarize(np.array([12.0, 12.0]), np.array([False, False]))
    assert nothing["events"] == 0 and nothing["restricted_mean"] == 12


def test_paired_logrank_is_the_sign_test_of_which_run_of_a_pair_had_the_event_first():
    # In a stratum of two runs, the first event contributes O - E = ±1/2 with variance 1/4,
    # so the statistic is (k - m)² / (k + m) with k pairs where A came first and m where B did.
    time_a = np.array([5, 6, 7, 8, 9, 10, 12, 3, 12.0])
    event_a = np.array([1, 1, 1, 1, 1, 1, 0, 1, 0], dtype=bool)
    time_b = np.array([12, 12, 9, 12, 10, 12, 4, 3, 12.0])
    event_b = np.array([0, 0, 1, 0, 1, 1, 1, 1, 0], dtype=bool)
    # A first in pairs 0-5 (k = 6), B first in pair 6 (m = 1); pair 7 ties, pair 8 no event
    expected = stats.chi2.sf((6 - 1) ** 2 / 7, 1)
    assert paired_logrank(time_a, event_a, time_b, event_b) == pytest.approx(expected)
    assert paired_logrank(time_a, event_a, time_a, event_a) == 1.0
    assert math.isnan(paired_logrank(time_a, np.zeros(9, bool), time_b, np.zeros(9, bool)))


def test_survival_table_leaves_failed_runs_out_and_restricts_to_the_shortest_horizon():
    table = survival_table(censored_batch(), by=["scenario"]).set_index("outcome")
    row = table.loc["overtake_month"]
    assert (row["n"], row["events"], row["censored"], row["horizon"]) == (6, 4, 2, 5)
    assert row["restricted_mean"] == pytest.approx(2 + 2 * 5 / 6 + 2 / 3)
    assert survival_table(censored_batch().drop(columns="overtake_month")).empty


def test_outcome_table_reports_times_to_an_event_as_survival_not_as_a_mean():
    runs = censored_batch()
    table = outcome_table(runs)
    rows = table[table["outcome"] == "overtake_month"].set_index("statistic")
    assert list(rows.index) == ["median month (Kaplan-Meier)", "restricted mean month to 5"]
    assert rows["n"].tolist() == [6, 6]  # every run counts, censored or not
    assert "4 events, 2 censored" in rows["note"].iloc[0]
    # the naive mean over the runs with an overtake (5.25) is nowhere in the table
    assert not np.isclose(table["estimate"].astype(float), 5.25).any()


def paired_batch(a_months: list, b_months: list, steps: int = 24) -> pd.DataFrame:
    n = len(a_months)
    return pd.DataFrame(
        {
            "run_id": range(2 * n),
            "scenario": ["a"] * n + ["b"] * n,
            "seed": list(range(n)) * 2,
            "steps": steps,
            "overtake_month": a_months + b_months,
            "overtaken": [m is not None for m in a_months + b_months],
            "error": None,
        }
    )


def test_paired_differences_compare_censored_times_as_restricted_means():
    a = [3, 5, None, None, 8, None, 10, None]
    b = [2, 4, 20, None, 6, 12, 9, 15]
    table = paired_differences(paired_batch(a, b), "a", "b").set_index("outcome")
    row = table.loc["overtake_month"]
    capped_a = np.array([24 if m is None else m for m in a], dtype=float)
    capped_b = np.array([24 if m is None else m for m in b], dtype=float)
    assert row["statistic"] == "restricted mean month to 24"
    assert row["mean_a"] == pytest.approx(capped_a.mean())
    assert row["mean_b"] == pytest.approx(capped_b.mean())
    expected = stats.ttest_rel(capped_b, capped_a)
    assert row["difference"] == pytest.approx((capped_b - capped_a).mean())
    interval = expected.confidence_interval()
    assert (row["ci_low"], row["ci_high"]) == pytest.approx((interval.low, interval.high))
    assert row["test"] == "log-rank stratified by seed"
    # B had the event first in all 7 pairs where either had it: (7 - 0)² / 7
    assert row["p_value"] == pytest.approx(stats.chi2.sf(7.0, 1))
    assert row["n_pairs"] == 8
    assert "events in 4 (A) and 7 (B) of 8 pairs" in row["note"]
    overtaken = table.loc["overtaken"]
    assert overtaken["statistic"] == "proportion" and overtaken["test"] == "McNemar, exact"
    assert overtaken["mean_a"] == 0.5 and overtaken["mean_b"] == 7 / 8
    assert overtaken["p_value"] == pytest.approx(stats.binomtest(0, 3).pvalue)


def test_restricted_mean_interval_stays_within_zero_and_the_horizon():
    # one early event among many censored runs: mean + 1.96 se would pass the horizon
    time = np.array([1.0] + [24.0] * 9)
    event = np.array([True] + [False] * 9)
    summary = summarize(time, event, horizon=24)
    assert summary["restricted_mean"] == pytest.approx(1 + 0.9 * 23)
    assert summary["restricted_mean_ci_high"] == 24.0
    assert 0 <= summary["restricted_mean_ci_low"] < summary["restricted_mean"]


def test_a_group_whose_runs_all_failed_gives_rows_with_no_runs_not_a_crash():
    runs = paired_batch([3, None, 5], [2, 4, None])
    runs["steps"] = runs["steps"].astype("Int64")
    runs["overtake_month"] = runs["overtake_month"].astype("Int64")
    runs.loc[runs["scenario"] == "b", ["error", "steps", "overtake_month"]] = ["boom", pd.NA, pd.NA]
    table = survival_table(runs, by=["scenario"]).set_index("scenario")
    assert table.loc["b", "n"] == 0 and math.isnan(table.loc["b", "restricted_mean"])
    assert table.loc["a", "n"] == 3
    rows = outcome_table(runs, by=["scenario"])
    b = rows[(rows["scenario"] == "b") & (rows["outcome"] == "overtake_month")]
    assert (b["n"] == 0).all() and b["estimate"].isna().all()
    diffs = paired_differences(runs, "a", "b").set_index("outcome")
    assert diffs.loc["overtake_month", "n_pairs"] == 0

"""Statistics of batches (:mod:`agentsim.analysis`), checked by hand on small frames."""

from __future__ import annotations

import math
import subprocess
import sys

import pandas as pd
import pytest

from agentsim.analysis import (
    KEY_OUTCOMES,
    OVERTAKE,
    mean_ci,
    outcome_table,
    paired_differences,
    t_quantile,
    wilson_interval,
    z_quantile,
)

Z95 = 1.959963984540054  # two-sided 95% normal quantile
T95_2DF = 4.302652729749464  # t(0.975, 2 df)


def test_quantiles():
    assert z_quantile() == pytest.approx(Z95, abs=1e-12)
    assert t_quantile(3) == pytest.approx(T95_2DF, abs=1e-9)
    assert t_quantile(1) == t_quantile(2)  # at least one degree of freedom
    assert t_quantile(10_000) == pytest.approx(Z95, abs=1e-3)


def test_importing_analysis_does_not_import_scipy():
    code = "import sys, agentsim.analysis; print('scipy' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_wilson_interval_by_hand():
    # 0 of 10: p = 0 and the upper bound is z^2/n / (1 + z^2/n)
    p, low, high = wilson_interval(0, 10)
    z2n = Z95**2 / 10
    assert p == 0
    assert low == pytest.approx(0.0, abs=1e-12)
    assert high == pytest.approx(z2n / (1 + z2n), abs=1e-12)
    assert high == pytest.approx(0.2775, abs=1e-4)
    # 5 of 10: symmetric about 1/2
    p, low, high = wilson_interval(5, 10)
    half = Z95 * math.sqrt(0.25 / 10 + Z95**2 / 400) / (1 + z2n)
    assert p == 0.5
    assert low == pytest.approx(0.5 - half, abs=1e-12)
    assert high == pytest.approx(0.5 + half, abs=1e-12)
    assert (low, high) == pytest.approx((0.2366, 0.7634), abs=1e-4)
    assert wilson_interval(10, 10)[1:] == pytest.approx((1 - z2n / (1 + z2n), 1.0))
    assert all(math.isnan(v) for v in wilson_interval(0, 0))


@pytest.mark.parametrize(
    ("successes", "n"), [(0, 10), (5, 10), (10, 10), (0, 6), (6, 6), (1, 3), (99, 100), (0, 1)]
)
def test_wilson_interval_contains_the_proportion(successes: int, n: int):
    p, low, high = wilson_interval(successes, n)
    assert p == successes / n
    assert 0.0 <= low <= p <= high <= 1.0
    if successes == 0:
        assert low == 0.0
    if successes == n:
        assert high == 1.0


def test_mean_ci():
    mean, low, high, n = mean_ci(pd.Series([0.3] * 8))
    assert (mean, n) == (pytest.approx(0.3), 8)
    assert low == pytest.approx(mean) and high == pytest.approx(mean)
    mean, low, high, n = mean_ci(pd.Series([1.0, 2.0, 3.0, None]))
    half = T95_2DF / math.sqrt(3)  # t(0.975, 2 df) * sd 1 / sqrt(3)
    assert (mean, n) == (2.0, 3)
    assert (low, high) == pytest.approx((2.0 - half, 2.0 + half))
    mean, low, high, n = mean_ci(pd.Series([4.0]))
    assert (mean, n) == (4.0, 1) and math.isnan(low) and math.isnan(high)


def test_paired_differences_by_hand():
    rows = [
        # scenario, replicate, x, y, error
        ("a", 0, 1.0, 5.0, None),
        ("a", 1, 2.0, 5.0, None),
        ("a", 2, 3.0, 5.0, None),
        ("a", 3, 9.0, 9.0, "RuntimeError: boom"),  # a failed run drops its pair
        ("b", 2, 6.0, 5.0, None),  # rows out of order: pairing is by replicate
        ("b", 0, 2.0, 5.0, None),
        ("b", 1, 4.0, 5.0, None),
        ("b", 3, 0.0, 0.0, None),
    ]
    runs = pd.DataFrame(rows, columns=["scenario", "replicate", "x", "y", "error"])
    runs.insert(0, "run_id", range(len(runs)))
    runs["seed"] = runs["replicate"] * 7
    table = paired_differences(runs, "a", "b").set_index("outcome")
    assert set(table.index) == {"x", "y"}  # ids, seeds and text are not outcomes
    x = table.loc["x"]
    # differences b - a: 1, 2, 3 -> mean 2, sd 1, d_z 2
    assert x["difference"] == pytest.approx(2.0)
    assert x["effect_size_dz"] == pytest.approx(2.0)
    assert x["n_pairs"] == 3
    assert x["mean_a"] == pytest.approx(2.0) and x["mean_b"] == pytest.approx(4.0)
    half = T95_2DF / math.sqrt(3)
    assert (x["ci_low"], x["ci_high"]) == pytest.approx((2.0 - half, 2.0 + half))
    y = table.loc["y"]
    assert y["difference"] == 0.0 and math.isnan(y["effect_size_dz"])


def test_outcome_table_groups_and_counts():
    runs = pd.DataFrame(
        {
            "run_id": range(6),
            "scenario": ["a", "a", "a", "b", "b", "b"],
            "final_us_user_share": [0.5, 0.6, 0.7, 0.2, 0.2, 0.9],
            "overtaken": [0.0, 1.0, 0.0, 1.0, 1.0, 1.0],
            "error": [None, None, None, None, None, "RuntimeError: boom"],
        }
    )
    table = outcome_table(runs, by=["scenario"])
    assert list(table.columns) == ["scenario", "outcome", "mean", "ci_low", "ci_high", "n"]
    a = table[table["scenario"] == "a"].set_index("outcome")
    assert set(a.index) == {"final_us_user_share", OVERTAKE}  # only outcomes present
    assert a.loc["final_us_user_share", "mean"] == pytest.approx(0.6)
    assert a.loc["final_us_user_share", "n"] == 3
    assert a.loc[OVERTAKE, ["mean", "ci_low", "ci_high"]].tolist() == pytest.approx(
        list(wilson_interval(1, 3))
    )
    b = table[table["scenario"] == "b"].set_index("outcome")
    assert b.loc[OVERTAKE, "n"] == 2  # the failed run is left out
    assert b.loc[OVERTAKE, "mean"] == 1.0 and b.loc[OVERTAKE, "ci_high"] == 1.0
    pooled = outcome_table(runs)
    assert "scenario" not in pooled and pooled["n"].max() == 5
    assert set(KEY_OUTCOMES) >= set(pooled["outcome"]) - {OVERTAKE}


def test_outcome_table_without_successful_runs_is_empty():
    runs = pd.DataFrame({"run_id": [0], "overtaken": [math.nan], "error": ["RuntimeError: x"]})
    table = outcome_table(runs, by=["scenario"])
    assert table.empty
    assert list(table.columns) == ["scenario", "outcome", "mean", "ci_low", "ci_high", "n"]

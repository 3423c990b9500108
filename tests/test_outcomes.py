"""Outcomes in the debate's units: each definition on hand-built histories, then on real runs."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from agentsim import outcomes
from agentsim.analysis import DEBATE_OUTCOMES, outcome_table, paired_differences, ratio_ci
from agentsim.config import Config, ConfigError
from agentsim.run import run
from agentsim.scenario_io import load_config, scenario_path

# --------------------------------------------------------------------------- year windows


def test_year_windows_of_a_long_run_are_the_first_and_last_twelve_months():
    first, last = outcomes.year_windows(60)
    assert (first.rows.start, first.rows.stop, first.scale) == (1, 13, 1.0)
    assert (last.rows.start, last.rows.stop, last.scale) == (49, 61, 1.0)


def test_yearly_totals_skip_step_zero_and_take_the_right_months():
    flow = np.arange(25, dtype=float)  # row k holds k; row 0 (the initial state) is not a flow
    flow[0] = 1e9
    first, last = outcomes.year_windows(24)
    assert outcomes.yearly_total(flow, first) == sum(range(1, 13))
    assert outcomes.yearly_total(flow, last) == sum(range(13, 25))


def test_a_run_shorter_than_a_year_uses_all_its_months_annualised():
    flow = np.array([1e9, 2.0, 4.0, 6.0])  # three months
    first, last = outcomes.year_windows(3)
    assert first == last
    assert outcomes.yearly_total(flow, first) == pytest.approx(12.0 * 12 / 3)
    # shares and means are not annualised
    assert outcomes.yearly_share(np.array([0, 1, 1, 1.0]), np.array([0, 2, 2, 4.0]), first) == 0.375
    assert outcomes.yearly_mean(np.array([0.9, 0.2, np.nan, 0.4]), first) == pytest.approx(0.3)


def test_a_run_of_exactly_one_year_has_one_window():
    first, last = outcomes.year_windows(12)
    assert first == last and first.scale == 1.0 and first.rows == slice(1, 13)


def test_a_run_of_no_steps_has_no_yearly_values():
    first, _ = outcomes.year_windows(0)
    assert math.isnan(outcomes.yearly_total(np.array([5.0]), first))
    assert math.isnan(outcomes.yearly_share(np.array([5.0]), np.array([5.0]), first))
    assert math.isnan(outcomes.yearly_mean(np.array([0.5]), first))
    with pytest.raises(ValueError, match="steps"):
        outcomes.year_windows(-1)


def test_shares_are_ratios_of_yearly_sums_not_means_of_monthly_shares():
    part = np.array([0.0, 1.0, 9.0])
    total = np.array([0.0, 10.0, 10.0])
    first, _ = outcomes.year_windows(2)
    assert outcomes.yearly_share(part, total, first) == 0.5  # (1 + 9) / 20
    assert math.isnan(outcomes.yearly_share(part * 0, total * 0, first))  # total 0: undefined


def test_relative_change():
    assert outcomes.relative_change(2.0, 3.0) == 0.5
    assert outcomes.relative_change(4.0, 1.0) == -0.75
    assert math.isnan(outcomes.relative_change(0.0, 3.0))
    assert math.isnan(outcomes.relative_change(math.nan, 3.0))


# --------------------------------------------------------------------------- generations


def test_releases_at_3_9_20_give_exactly_two_generations():
    # reference 10 at step 0; step 1.0: 10.6 is short of 11, 11.0 reaches it (tie counts),
    # 11.9 is short of 12, 12.05 is a generation.
    steps = np.array([3, 9, 14, 20])
    capability = np.array([10.6, 11.0, 11.9, 12.05])
    found = outcomes.generation_steps(steps, capability, 10.0, 1.0)
    assert found.tolist() == [9, 20]
    assert outcomes.mean_months_between(found) == 11.0
    assert outcomes.months_to_first(found) == 9.0


def test_the_reference_is_the_last_generation_not_the_best_release():
    # 11.5 at step 2 is a generation; 12.3 is not (< 12.5) though it is 1.3 above step 0
    found = outcomes.generation_steps(np.array([2, 5, 8]), np.array([11.5, 12.3, 12.5]), 10.5, 1.0)
    assert found.tolist() == [2, 8]


def test_generation_step_is_a_parameter():
    steps, capability = np.array([3, 9, 20]), np.array([10.6, 11.0, 12.05])
    assert outcomes.generation_steps(steps, capability, 10.0, 0.5).tolist() == [3, 20]
    assert outcomes.generation_steps(steps, capability, 10.0, 0.4).tolist() == [3, 9, 20]
    assert outcomes.generation_steps(steps, capability, 10.0, 2.5).tolist() == []
    with pytest.raises(ValueError, match="step_ooms"):
        outcomes.generation_steps(steps, capability, 10.0, 0.0)
    with pytest.raises(ValueError, match="same length"):
        outcomes.generation_steps(steps, capability[:2], 10.0, 1.0)


def test_no_generation_means_undefined_spacing():
    none = outcomes.generation_steps(np.array([], dtype=int), np.array([]), 10.0, 1.0)
    assert none.size == 0
    assert math.isnan(outcomes.mean_months_between(none))
    assert math.isnan(outcomes.months_to_first(none))
    one = outcomes.generation_steps(np.array([7]), np.array([11.2]), 10.0, 1.0)
    assert one.tolist() == [7] and math.isnan(outcomes.mean_months_between(one))
    assert outcomes.months_to_first(one) == 7.0


def test_with_no_model_at_step_zero_the_first_release_is_a_generation():
    found = outcomes.generation_steps(np.array([4, 6]), np.array([3.0, 3.5]), math.nan, 1.0)
    assert found.tolist() == [4]


# --------------------------------------------------------------------------- frontier class


def test_frontier_class_just_inside_and_just_outside_the_distance():
    frontier = np.array([10.0, 10.0, 10.5, 10.5])
    steps = np.array([1, 2, 2, 3, 3])
    capability = np.array([9.7, 10.2 + 1e-6, 10.2 - 1e-6, 10.5, 9.0])  # 9.7: exactly at 0.3
    within = outcomes.frontier_class(steps, capability, frontier, 0.3)
    assert within.tolist() == [True, True, False, True, False]


def test_a_release_that_sets_the_frontier_counts_and_a_tie_counts():
    frontier = np.array([10.0, 11.0])  # the release of step 1 is the new frontier
    within = outcomes.frontier_class(np.array([1, 1]), np.array([11.0, 10.7]), frontier, 0.3)
    assert within.tolist() == [True, True]  # 11.0 - 10.7 = 0.3 (to rounding) counts
    exact = outcomes.frontier_class(np.array([1]), np.array([10.5]), np.array([0.0, 11.0]), 0.5)
    assert exact.tolist() == [True]


def test_frontier_class_checks_its_input():
    assert outcomes.frontier_class(np.array([], int), np.array([]), np.array([1.0]), 0.3).size == 0
    with pytest.raises(ValueError, match="outside"):
        outcomes.frontier_class(np.array([2]), np.array([1.0]), np.array([1.0, 1.0]), 0.3)
    with pytest.raises(ValueError, match="same length"):
        outcomes.frontier_class(np.array([1, 1]), np.array([1.0]), np.array([1.0, 1.0]), 0.3)


def test_global_frontier_ignores_a_side_without_labs():
    us = np.array([1.0, np.nan, 3.0, np.nan])
    rest = np.array([2.0, 1.5, np.nan, np.nan])
    got = outcomes.global_frontier(us, rest)
    assert got[:3].tolist() == [2.0, 1.5, 3.0] and math.isnan(got[3])


def test_launches_per_year():
    assert outcomes.per_year(6, 24) == 3.0
    assert outcomes.per_year(1, 6) == 2.0  # short run: annualised
    assert outcomes.per_year(0, 60) == 0.0
    assert math.isnan(outcomes.per_year(0, 0))


# --------------------------------------------------------------------------- config


def test_thresholds_are_parameters_with_bounds():
    settings = Config().observation
    assert (settings.generation_step_ooms, settings.frontier_class_ooms) == (1.0, 0.3)
    with pytest.raises((ConfigError, ValueError)):
        Config.model_validate({"observation": {"frontier_class_ooms": 0}})
    with pytest.raises((ConfigError, ValueError)):
        Config.model_validate({"observation": {"generation_step_ooms": 6}})


# --------------------------------------------------------------------------- relative change


def test_ratio_ci_matches_a_direct_delta_method_computation():
    rng = np.random.default_rng(3)
    a = rng.normal(10, 2, 30)
    b = a * 1.2 + rng.normal(0, 1, 30)
    change, low, high, n = ratio_ci(pd.Series(a), pd.Series(b))
    r = b.mean() / a.mean()
    var_a, var_b = a.var(ddof=1) / 30, b.var(ddof=1) / 30
    cov = np.sum((a - a.mean()) * (b - b.mean())) / 29 / 30
    se = math.sqrt(var_b + r**2 * var_a - 2 * r * cov) / a.mean()
    from scipy.stats import t

    half = t.ppf(0.975, 29) * se
    assert n == 30
    assert change == pytest.approx(r - 1)
    assert (low, high) == pytest.approx((r - 1 - half, r - 1 + half))


@pytest.mark.parametrize("seed", [0, 1, 2, 3])
def test_ratio_ci_agrees_with_a_bootstrap_of_the_pairs(seed: int):
    rng = np.random.default_rng(seed)
    n = 200
    a = rng.lognormal(2.0, 0.3, n)
    b = a * rng.lognormal(-0.1, 0.2, n)
    change, low, high, _ = ratio_ci(a, b)
    draws = rng.integers(0, n, (4000, n))
    boot = b[draws].mean(axis=1) / a[draws].mean(axis=1) - 1
    boot_low, boot_high = np.quantile(boot, [0.025, 0.975])
    width = high - low
    assert low < change < high
    assert abs(low - boot_low) < 0.15 * width and abs(high - boot_high) < 0.15 * width


def test_ratio_ci_coverage_on_synthetic_pairs():
    """Over many synthetic studies the 95% interval holds the true ratio about 95% of times."""
    rng = np.random.default_rng(11)
    truth, hits, studies = 0.9 - 1, 0, 400
    for _ in range(studies):
        a = rng.normal(5.0, 1.0, 40)
        b = 0.9 * a + rng.normal(0, 0.5, 40)
        _, low, high, _ = ratio_ci(a, b)
        hits += low <= truth <= high
    assert 0.90 <= hits / studies <= 0.99


def test_ratio_ci_undefined_cases():
    assert all(math.isnan(v) for v in ratio_ci([0.0, 0.0], [1.0, 2.0])[:3])
    change, low, high, n = ratio_ci([2.0], [3.0])
    assert (change, n) == (0.5, 1) and math.isnan(low) and math.isnan(high)
    change, *_, n = ratio_ci([1.0, None, 3.0], [2.0, 5.0, np.nan])  # pairs with a gap dropped
    assert (change, n) == (1.0, 1)
    assert ratio_ci([], [])[3] == 0


def test_paired_differences_report_relative_changes():
    runs = pd.DataFrame(
        {
            "scenario": ["a"] * 3 + ["b"] * 3,
            "seed": [1, 2, 3] * 2,
            "error": [None] * 6,
            "x": [1.0, 2.0, 3.0, 2.0, 4.0, 6.5],
            "zero": [0.0] * 6,
        }
    )
    table = paired_differences(runs, "a", "b").set_index("outcome")
    x = table.loc["x"]
    expected = ratio_ci(pd.Series([1.0, 2.0, 3.0]), pd.Series([2.0, 4.0, 6.5]))
    assert x["relative_change"] == pytest.approx(12.5 / 6 - 1)
    assert (x["relative_ci_low"], x["relative_ci_high"]) == pytest.approx(expected[1:3])
    assert math.isnan(table.loc["zero", "relative_change"])


def test_outcome_table_includes_the_debate_outcomes():
    runs = pd.DataFrame(
        {"seed": [1, 2], "error": [None, None], "overtaken": [False, True]}
        | {name: [1.0, 2.0] for name in DEBATE_OUTCOMES}
    )
    table = outcome_table(runs)
    assert set(DEBATE_OUTCOMES) <= set(table["outcome"])


# --------------------------------------------------------------------------- real runs

KEYS = [
    f"{name}_{year}"
    for name in (
        "us_investment_usd",
        "us_compute_spend_usd",
        "us_research_spend_usd",
        "us_ai_rd_usd",
        "us_investment_share",
        "us_revenue_share",
        "us_user_share",
        "us_talent_share",
    )
    for year in ("first_year", "last_year")
] + [
    "us_ai_rd_change",
    "us_generations",
    "mean_months_between_us_generations",
    "months_to_first_us_generation",
    "us_frontier_class_launches_per_year",
    "non_us_frontier_class_launches_per_year",
]


def small(scenario: str = "baseline", steps: int = 30) -> Config:
    cfg = load_config(scenario_path(scenario))
    cfg.talent.n_researchers = 400
    cfg.simulation.steps = steps
    return cfg


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_summaries_hold_the_debate_outcomes(seed: int):
    result = run(small(), seed=seed)
    summary, frame = result.summary, result.model_frame
    assert set(KEYS) <= summary.keys()
    for key in KEYS:
        if key not in ("mean_months_between_us_generations", "months_to_first_us_generation"):
            assert summary[key] is not None and math.isfinite(summary[key]), key
    for year in ("first_year", "last_year"):
        parts = sum(
            summary[f"us_{part}_usd_{year}"]
            for part in ("investment", "compute_spend", "research_spend")
        )
        assert summary[f"us_ai_rd_usd_{year}"] == pytest.approx(parts, rel=1e-12)
        for share in ("investment", "revenue", "user", "talent"):
            assert 0 <= summary[f"us_{share}_share_{year}"] <= 1
    rows = frame.iloc[19:31]
    assert summary["us_investment_usd_last_year"] == pytest.approx(rows["us_investment"].sum())
    assert frame["us_rd_spend"].to_numpy() == pytest.approx(
        (frame["us_compute_spend"] + frame["us_research_spend"]).to_numpy(), rel=1e-12
    )
    assert summary["us_ai_rd_change"] == pytest.approx(
        summary["us_ai_rd_usd_last_year"] / summary["us_ai_rd_usd_first_year"] - 1
    )
    assert summary["us_generations"] >= 0
    releases = result.events[result.events["kind"] == "release"]
    us_per_year = summary["us_frontier_class_launches_per_year"]
    assert us_per_year <= (releases["us"].sum()) / (30 / 12) + 1e-12


def test_monthly_investment_by_side_adds_up_to_the_labs_investment():
    from agentsim.market import CENTS_PER_USD
    from agentsim.model import AIRaceModel

    model = AIRaceModel(small(steps=6), rng=4)
    for _ in range(6):
        model.step()
        values = model.indicators
        invested = model.lab_state.investment_cents.sum() / CENTS_PER_USD
        assert values["us_investment"] + values["non_us_investment"] == pytest.approx(
            invested, rel=1e-12
        )
        assert values["us_investment"] == pytest.approx(
            model.lab_state.investment_cents[model.lab_state.is_us].sum() / CENTS_PER_USD
        )


def test_a_short_run_annualises_its_flows():
    result = run(small(steps=6), seed=2)
    frame, summary = result.model_frame, result.summary
    expected = frame["us_compute_spend"].iloc[1:].sum() * 2
    assert summary["us_compute_spend_usd_first_year"] == pytest.approx(expected)
    assert summary["us_compute_spend_usd_last_year"] == summary["us_compute_spend_usd_first_year"]


def test_the_generation_step_changes_only_what_is_reported():
    coarse, fine = small(steps=24), small(steps=24)
    fine.observation.generation_step_ooms = 0.3
    fine.observation.frontier_class_ooms = 0.6
    a, b = run(coarse, seed=5).summary, run(fine, seed=5).summary
    assert a["final_us_user_share"] == b["final_us_user_share"]
    assert b["us_generations"] >= a["us_generations"]
    assert b["us_frontier_class_launches_per_year"] >= a["us_frontier_class_launches_per_year"]

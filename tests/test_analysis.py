"""Statistics of batches (:mod:`agentsim.analysis`), checked by hand on small frames."""

from __future__ import annotations

import math
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from agentsim import store
from agentsim.analysis import (
    KEY_OUTCOMES,
    OVERTAKE,
    TABLE_COLUMNS,
    adjust_p_values,
    design_groups,
    design_points,
    effect_size_dz,
    is_missing,
    mcnemar_p,
    mean_ci,
    outcome_table,
    paired_differences,
    paired_t,
    t_quantile,
    value_groups,
    wilson_interval,
)

CONFIGS = Path(__file__).resolve().parent.parent / "configs"
Z95 = 1.959963984540054  # two-sided 95% normal quantile
T95_2DF = 4.302652729749464  # t(0.975, 2 df)


def test_quantiles():
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
    assert list(table.columns) == ["scenario", *TABLE_COLUMNS]
    a = table[table["scenario"] == "a"].set_index("outcome")
    assert set(a.index) == {"final_us_user_share", OVERTAKE}  # only outcomes present
    assert a.loc["final_us_user_share", "estimate"] == pytest.approx(0.6)
    assert a.loc["final_us_user_share", "n"] == 3
    assert a.loc[OVERTAKE, ["estimate", "ci_low", "ci_high"]].tolist() == pytest.approx(
        list(wilson_interval(1, 3))
    )
    b = table[table["scenario"] == "b"].set_index("outcome")
    assert b.loc[OVERTAKE, "n"] == 2  # the failed run is left out
    assert b.loc[OVERTAKE, "estimate"] == 1.0 and b.loc[OVERTAKE, "ci_high"] == 1.0
    pooled = outcome_table(runs)
    assert "scenario" not in pooled and pooled["n"].max() == 5
    assert set(KEY_OUTCOMES) >= set(pooled["outcome"]) - {OVERTAKE}


def test_outcome_table_without_successful_runs_is_empty():
    runs = pd.DataFrame({"run_id": [0], "overtaken": [math.nan], "error": ["RuntimeError: x"]})
    table = outcome_table(runs, by=["scenario"])
    assert table.empty
    assert list(table.columns) == ["scenario", *TABLE_COLUMNS]


# --------------------------------------------------------------------------- every run once

CAP = "compute.capacity_cap_h100e"
TARGETS = "policy.export_controls.targets"
FRACTION = "policy.trusted_release.trusted_fraction"
MONTHS = "policy.trusted_release.restricted_months"
KEYS = [CAP, TARGETS, FRACTION, MONTHS]
#: The points of a design whose values store awkwardly: a missing value written as None and as
#: NaN, lists, 0.01 and 0.010 (one value, two points, as batches made before coinciding points
#: were refused hold them), and ints mixed with floats.
AWKWARD_POINTS = [
    (None, ["CN"], 0.01, 3),
    (math.nan, ["CN"], 0.01, 3),
    (1e6, ["CN"], 0.01, 3),
    (1e6, ["CN", "EU"], 0.01, 3),
    (1e6, ["CN"], 0.010, 3),
    (1e6, ["CN"], 0.01, 6.5),
    (1e6, ["CN"], 0.01, 3.0),
]
REPLICATES = 3
SEEDS = [101, 202, 303]


def store_awkward_batch(folder: Path, with_points: bool = True) -> pd.DataFrame:
    """A sweep over :data:`AWKWARD_POINTS`, stored and gathered as a batch is (no model runs:
    every outcome is a distinct number), read back; one run failed."""
    rng = np.random.default_rng(0)
    rows = []
    for point, values in enumerate(AWKWARD_POINTS):
        for replicate, seed in enumerate(SEEDS):
            run_id = point * REPLICATES + replicate
            row = {"run_id": run_id, "replicate": replicate, "seed": seed, "scenario": "s"}
            if with_points:
                row["point"] = point
            row.update(zip(KEYS, values, strict=True))
            row.update({outcome: float(rng.random()) for outcome in KEY_OUTCOMES})
            row["overtaken"] = bool(rng.random() < 0.5)
            row["error"] = "RuntimeError: boom" if run_id == 4 else None
            rows.append(row)
    store.prepare_batch_dir(folder)
    for row in rows:
        store.write_part(folder, row["run_id"], store.encode_part([row], pd.DataFrame()))
    runs, _ = store.gather(folder)
    return runs


@pytest.mark.parametrize("with_points", [True, False], ids=["points-stored", "older-batch"])
def test_sweep_table_counts_every_run_once_whatever_its_values(tmp_path: Path, with_points: bool):
    runs = store_awkward_batch(tmp_path / "batch", with_points)
    assert runs[CAP].isna().sum() == 2 * REPLICATES  # None and NaN are both stored as NaN
    table = outcome_table(runs, by=KEYS)
    assert list(table.columns) == [*KEYS, "point", *TABLE_COLUMNS]
    ok = runs[runs["error"].isna()]
    for outcome, rows in table.groupby("outcome"):
        assert len(rows) == len(AWKWARD_POINTS), outcome  # one row per point, none dropped
        assert rows["point"].tolist() == list(range(len(AWKWARD_POINTS)))
        assert rows["n"].sum() == len(ok)  # every run that did not fail, once
        assert rows["n"].tolist() == [3, 2, 3, 3, 3, 3, 3]  # run 4 (point 1) failed
    shares = table[table["outcome"] == "final_us_user_share"].reset_index(drop=True)
    for point, row in shares.iterrows():
        mine = ok[ok["run_id"] // REPLICATES == point]
        assert row["estimate"] == pytest.approx(mine["final_us_user_share"].mean())
    assert shares[TARGETS].tolist()[2:4] == ["['CN']", "['CN', 'EU']"]


def test_outcome_table_adds_the_point_only_where_labels_are_shared(tmp_path: Path):
    runs = store_awkward_batch(tmp_path / "batch")
    distinct = runs[runs["point"].isin([0, 3, 5])]  # three points with different values
    table = outcome_table(distinct, by=KEYS)
    assert "point" not in table
    assert table.groupby("outcome")["n"].sum().eq(len(distinct)).all()
    # pooling grid points (a key left out) keeps them apart: they share seeds
    pooled = outcome_table(distinct, by=[CAP])
    assert pooled.groupby("outcome").size().eq(3).all()
    assert set(pooled["point"]) == {0, 3, 5}


def test_a_seed_is_never_counted_twice_for_one_group():
    runs = pd.DataFrame(
        {
            "seed": [1, 2, 1, 2],
            FRACTION: [0.01, 0.01, 0.010, 0.010],
            "final_us_user_share": [0.1, 0.2, 0.1, 0.2],
            "overtaken": [0.0, 1.0, 0.0, 1.0],
            "error": [None] * 4,
        }
    )
    with pytest.raises(ValueError, match="seed 1 appear 2 times"):
        outcome_table(runs, by=[FRACTION])


def test_value_groups_keep_every_value_once():
    values = [None, math.nan, pd.NA, ["CN"], ["CN"], ("CN",), {"a": [1]}, {"a": [1]}, 3, 3.0]
    values += [np.int64(3), True, 1, "3", np.array([1, 2]), [1, 2]]
    codes, firsts = value_groups(values)
    assert len(codes) == len(values)
    assert codes == [0, 0, 0, 1, 1, 1, 2, 2, 3, 3, 3, 4, 5, 6, 7, 7]
    assert firsts[0] is None and firsts[4] is True and firsts[5] == 1
    assert all(is_missing(v) for v in (None, math.nan, pd.NA, pd.NaT, np.float32("nan")))
    assert not any(is_missing(v) for v in ([None], "", 0, np.array([math.nan])))


def test_design_points_from_the_stored_column_or_the_run_numbering(tmp_path: Path):
    stored = store_awkward_batch(tmp_path / "new")
    older = store_awkward_batch(tmp_path / "old", with_points=False)
    assert "point" not in older
    expected = [float(i // REPLICATES) for i in range(len(stored))]
    assert design_points(stored).tolist() == expected
    assert design_points(older).tolist() == expected
    # a batch resumed across the change: some rows with a point, some without
    mixed = stored.assign(point=stored["point"].where(stored["run_id"] % 2 == 0))
    assert design_points(mixed).tolist() == expected
    assert design_points(pd.DataFrame({"x": [1, 2]})).isna().all()
    labels = [label for label, _ in design_groups(older, by=[FRACTION])]
    assert [label["point"] for label in labels] == list(range(len(AWKWARD_POINTS)))


def test_paired_differences_pair_each_seed_once():
    runs = pd.DataFrame(
        {
            "run_id": range(8),
            "scenario": ["a"] * 4 + ["b"] * 4,
            "replicate": [0, 1, 0, 1, 0, 1, 0, 1],
            "seed": [7, 8, 7, 8, 7, 8, 7, 8],
            "x": [1.0, 2.0, 5.0, 6.0, 2.0, 4.0, 9.0, 9.0],
            "error": [None] * 8,
        }
    )
    # two points under one scenario name (a sweep): each seed would pair four times
    with pytest.raises(ValueError, match="scenario 'a' holds seed 7 in 2 runs"):
        paired_differences(runs, "a", "b")
    with pytest.raises(ValueError, match="two different scenarios"):
        paired_differences(runs.iloc[:2], "a", "a")


def test_paired_differences_pair_by_seed_not_by_position():
    # two batches made with different root seeds: replicate 0 of each is not a pair
    runs = pd.DataFrame(
        {
            "run_id": [0, 1, 0, 1],
            "scenario": ["a", "a", "b", "b"],
            "replicate": [0, 1, 0, 1],
            "seed": [11, 12, 12, 99],
            "x": [1.0, 2.0, 5.0, 7.0],
            "error": [None] * 4,
        }
    )
    x = paired_differences(runs, "a", "b").set_index("outcome").loc["x"]
    assert x["n_pairs"] == 1
    assert x["difference"] == 3.0  # seed 12: 5 - 2


# --------------------------------------------------------------------------- tests and intervals


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_paired_t_is_scipys_paired_test(seed: int):
    rng = np.random.default_rng(seed)
    a = rng.normal(size=15)
    b = a + rng.normal(0.3, 1.0, size=15)
    mean, low, high, p = paired_t(a, b)
    expected = stats.ttest_rel(b, a)
    interval = expected.confidence_interval()
    assert mean == pytest.approx((b - a).mean())
    assert (low, high, p) == pytest.approx((interval.low, interval.high, expected.pvalue))


@pytest.mark.parametrize("n", [2, 5, 40])
def test_mean_ci_is_scipys_t_interval(n: int):
    x = np.random.default_rng(n).normal(3.0, 2.0, size=n)
    mean, low, high, count = mean_ci(pd.Series(x))
    expected = stats.t.interval(0.95, n - 1, loc=x.mean(), scale=stats.sem(x))
    assert mean == pytest.approx(x.mean()) and count == n
    assert (low, high) == pytest.approx(expected, rel=1e-12)


def test_paired_t_degenerate_cases():
    assert paired_t([1.0, 2.0], [1.0, 2.0]) == (0.0, 0.0, 0.0, 1.0)  # no difference at all
    assert paired_t([1.0, 2.0], [2.0, 3.0]) == (1.0, 1.0, 1.0, 0.0)  # the same shift each time
    mean, *rest = paired_t([1.0], [3.0])
    assert mean == 2.0 and all(math.isnan(v) for v in rest)
    assert all(math.isnan(v) for v in paired_t([], []))


def test_effect_size_dz_interval_by_noncentral_t():
    d = np.array([0.5, 1.5, 2.0, -0.5, 1.0, 0.8, 1.2, 0.3])
    dz, low, high = effect_size_dz(d)
    assert dz == pytest.approx(d.mean() / d.std(ddof=1))
    n = d.size
    # at the bounds, the observed t is the 97.5% and 2.5% quantile of the noncentral t
    t_obs = dz * math.sqrt(n)
    assert stats.nct.cdf(t_obs, n - 1, low * math.sqrt(n)) == pytest.approx(0.975, abs=1e-6)
    assert stats.nct.cdf(t_obs, n - 1, high * math.sqrt(n)) == pytest.approx(0.025, abs=1e-6)
    assert low < dz < high
    assert all(math.isnan(v) for v in effect_size_dz([1.0, 1.0, 1.0]))


def test_effect_size_dz_interval_covers_the_true_effect():
    rng = np.random.default_rng(7)
    covered = 0
    for _ in range(400):
        _, low, high = effect_size_dz(rng.normal(0.5, 1.0, size=20))  # true d_z = 0.5
        covered += low <= 0.5 <= high
    assert 0.92 <= covered / 400 <= 0.98


def test_mcnemar_counts_only_discordant_pairs():
    a = [True] * 5 + [False] * 10 + [True] * 3
    b = [False] * 5 + [False] * 10 + [True] * 3
    assert mcnemar_p(a, b) == pytest.approx(2 * 0.5**5)  # 5 discordant pairs, all one way
    assert mcnemar_p(a, a) == 1.0
    assert math.isnan(mcnemar_p([], []))


def test_adjusted_p_values_holm_and_bh_by_hand():
    p = np.array([0.01, 0.04, 0.03, math.nan, 0.5])
    holm = adjust_p_values(p, "holm")
    # sorted 0.01, 0.03, 0.04, 0.5 times 4, 3, 2, 1, then made monotone
    assert holm[[0, 2, 1, 4]] == pytest.approx([0.04, 0.09, 0.09, 0.5])
    bh = adjust_p_values(p, "fdr_bh")
    # p_(i) * m / i: 0.04, 0.06, 0.0533, 0.5, then the running minimum from the top
    assert bh[[0, 2, 1, 4]] == pytest.approx([0.04, 0.16 / 3, 0.16 / 3, 0.5])
    assert math.isnan(holm[3]) and math.isnan(bh[3])


def test_holm_keeps_the_family_wise_error_rate_over_54_null_outcomes(
    monkeypatch: pytest.MonkeyPatch,
):
    import gc

    monkeypatch.setattr(gc, "collect", lambda *args: 0)  # multipletests collects on each call
    rng = np.random.default_rng(3)
    raw_hits = holm_hits = 0
    for _ in range(100):
        a, b = rng.normal(size=(2, 40, 54))
        p = stats.ttest_rel(b, a, axis=0).pvalue  # 54 outcomes, 40 pairs each
        raw_hits += bool((p < 0.05).any())
        holm_hits += bool((adjust_p_values(p, "holm") < 0.05).any())
    assert raw_hits / 100 > 0.8  # uncorrected, nearly every family has a false positive
    assert holm_hits / 100 <= 0.1


def test_identical_scenarios_show_no_corrected_difference(tmp_path: Path):
    """Two batches of one scenario on different seeds, paired by replicate: every outcome is
    under the null, and no corrected p-value is below 0.05."""
    from agentsim.ensemble import plan_monte_carlo, run_batch
    from agentsim.executors import InProcess
    from agentsim.scenario_io import config_to_dict, load_config

    overrides = {"simulation.steps": 24, "talent.n_researchers": 300}
    config = config_to_dict(load_config(CONFIGS / "baseline.yaml", overrides=overrides))
    frames = []
    for name, root in (("a", 1), ("b", 2)):
        plan = plan_monte_carlo(config, 24, root)
        result = run_batch(plan, tmp_path / name, InProcess())
        frames.append(result.runs.assign(scenario=name))
    runs = pd.concat(frames, ignore_index=True).drop(columns="seed")
    table = paired_differences(runs, "a", "b")
    tested = table["p_holm"].notna()
    assert tested.sum() >= 40 and (table["tests_in_family"] == tested.sum()).all()
    assert (table.loc[tested, "p_holm"] >= 0.05).all()
    assert (table.loc[tested, "p_bh"] >= 0.05).all()
    assert (table.loc[tested, "p_holm"] >= table.loc[tested, "p_value"]).all()
    # outcomes equal in every pair (counts that never move) have p = 1 and stay out
    same = table["p_value"].notna() & ~tested
    assert (table.loc[same, "p_value"] == 1).all()

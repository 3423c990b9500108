"""Scenario discovery with PRIM: a planted box is found, seeds are pooled per sample, failed
runs are dropped and counted, bad input is refused in one line, and the results are written."""

from __future__ import annotations

import json
import sys
import warnings

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest
from matplotlib.patches import Rectangle

from agentsim.config import ConfigError
from agentsim.discovery import (
    Condition,
    choose_box,
    discover,
    parse_condition,
    read_explore,
    save_discovery,
)
from agentsim.figures import prim_box_figure, prim_tradeoff

PARAMS = ["flywheel.strength", "market.price_erosion", "talent.n_labs"]
X1, X2, X3 = PARAMS


def planted(
    n: int = 1000, seeds: int = 1, noise: float = 0.05, seed: int = 1, integer: bool = False
) -> pd.DataFrame:
    """An explore table: 3 parameters uniform on [0, 1] (X3 irrelevant; with ``integer`` it
    is an integer parameter, 0-9); ``overtaken`` is 1 inside X1 in [0.2, 0.5] and X2 > 0.7,
    each label flipped with probability ``noise``; ``inside`` is the noise-free label."""
    rng = np.random.default_rng(seed)
    x = rng.random((n, 2))
    x3 = rng.integers(0, 10, n) if integer else rng.random(n)
    inside = (x[:, 0] >= 0.2) & (x[:, 0] <= 0.5) & (x[:, 1] > 0.7)
    rows = []
    for s in range(seeds):
        flip = rng.random(n) < noise
        rows.append(
            pd.DataFrame(
                {
                    "run_id": np.arange(n) + s * n,
                    "sample": np.arange(n),
                    "scenario": "trusted_release",
                    "replicate": s,
                    "seed": 100 + s,
                    X1: x[:, 0],
                    X2: x[:, 1],
                    X3: x3,
                    "overtaken": (inside ^ flip).astype(float),
                    "inside": inside,
                    "error": None,
                }
            )
        )
    return pd.concat(rows, ignore_index=True)


@pytest.fixture(scope="module")
def table() -> pd.DataFrame:
    return planted()


@pytest.fixture(scope="module")
def found(table):
    return discover(table, PARAMS, "overtaken", "true")


def one_line(err: pytest.ExceptionInfo, key: str) -> str:
    text = str(err.value)
    assert "\n" not in text
    assert err.value.key == key
    return text


# --------------------------------------------------------------------------- the planted box


def test_planted_box_is_recovered(table, found):
    limits = found.limits.set_index("parameter")
    assert limits.loc[X1, "low"] == pytest.approx(0.2, abs=0.05)
    assert limits.loc[X1, "high"] == pytest.approx(0.5, abs=0.05)
    assert limits.loc[X2, "low"] == pytest.approx(0.7, abs=0.05)
    assert limits.loc[X2, "high"] == limits.loc[X2, "original_high"]  # X2 > 0.7: one-sided
    assert list(limits["restricted"]) == [True, True, False]
    assert np.isnan(limits.loc[X3, ["p_low", "p_high"]].astype(float)).all()
    assert limits.loc[X1, "p_low"] < 0.05 and limits.loc[X1, "p_high"] < 0.05
    # Against the noise-free labels the box holds >= 80% of the planted cases, and >= 80% of
    # its cases are planted ones.
    x = table[[X1, X2]].to_numpy()
    lo, hi = limits.loc[[X1, X2], "low"].to_numpy(), limits.loc[[X1, X2], "high"].to_numpy()
    in_box = ((x >= lo) & (x <= hi)).all(axis=1)
    assert (in_box & table["inside"]).sum() / table["inside"].sum() >= 0.8
    assert (in_box & table["inside"]).sum() / in_box.sum() >= 0.8
    # Against the noisy labels: flips outside the planted box cap any box's coverage near
    # 0.65 here; the rule keeps coverage >= 0.5 and the box is at least as dense as the
    # planted box itself.
    hit = table["overtaken"].to_numpy() == 1
    assert found.box["coverage"] >= 0.5
    assert found.box["density"] >= max(0.8, hit[table["inside"]].mean() - 0.02)
    assert found.box["coverage"] == pytest.approx((in_box & hit).sum() / hit.sum())
    assert (found.cases, found.hits, found.runs, found.dropped_failed) == (1000, hit.sum(), 1000, 0)


def test_trajectory_columns_and_chosen_box(found):
    t = found.trajectory
    assert list(t.columns) == [
        "box", "coverage", "density", "mass", "restricted_dimensions", "cases", "hits", "pruned"
    ]  # fmt: skip
    assert list(t["box"]) == list(range(len(t)))
    first = t.iloc[0]
    assert (first["coverage"], first["mass"], first["restricted_dimensions"]) == (1, 1, 0)
    assert found.chosen == t["box"].iloc[-1]
    assert (t["hits"] / t["cases"]).to_numpy() == pytest.approx(t["density"].to_numpy())
    assert found.box["restricted_dimensions"] == 2
    peeled = t[~t["pruned"]]
    picked = choose_box(peeled)
    if found.chosen != picked:  # bounds were dropped from the picked box
        assert t["pruned"].iloc[-1]
        assert found.box["coverage"] >= peeled.set_index("box").loc[picked, "coverage"]
    lines = found.describe()
    assert lines[0].startswith(f"overtaken true: {found.hits} of 1000 samples")
    assert any(line.strip().startswith(f"{X2} >= 0.") for line in lines)
    assert not any(X3 in line for line in lines)


def test_without_pruning_the_rule_picks_the_densest_box_over_half_coverage(table):
    kept = discover(table, PARAMS, "overtaken", "== 1", max_p=None)
    t = kept.trajectory
    assert not t["pruned"].any()
    eligible = t[t["coverage"] >= 0.5]
    assert kept.box["density"] == eligible["density"].max()
    assert kept.chosen == choose_box(t)
    # on this table peeling also cuts the irrelevant X3 (noise), which pruning removes
    assert kept.limits.set_index("parameter").loc[X3, "restricted"]
    strict = discover(table, PARAMS, "overtaken", "== 1", max_p=None, min_coverage=0.9)
    assert strict.box["coverage"] >= 0.9
    assert strict.box["density"] < kept.box["density"]
    asked = discover(table.iloc[:400], PARAMS, "overtaken", "== 1", max_p=None, box=3)
    assert asked.chosen == 3 and asked.rule == "box 3 as asked"


def test_choose_box_rules():
    t = pd.DataFrame(
        {
            "box": [0, 1, 2, 3, 4],
            "coverage": [1.0, 0.8, 0.6, 0.5, 0.3],
            "density": [0.1, 0.5, 0.7, 0.7, 0.95],
            "restricted_dimensions": [0, 1, 1, 2, 3],
        }
    )
    assert choose_box(t) == 2  # densest with coverage >= 0.5; the tie goes to more coverage
    assert choose_box(t, min_coverage=0.7) == 1
    assert choose_box(t, min_coverage=0.0) == 4
    assert choose_box(t, threshold=0.6) == 2  # most coverage with density >= 0.6
    assert choose_box(t, threshold=0.9) == 4
    with pytest.raises(ConfigError) as err:
        choose_box(t, threshold=0.99)
    assert "0.950" in one_line(err, "--threshold")


# --------------------------------------------------------------------------- cases


def test_samples_pool_their_seeds():
    rng = np.random.default_rng(7)
    n = 400
    table = planted(n=n, seeds=3, noise=0.0, seed=7, integer=True)
    inside = table["inside"].to_numpy()
    # seeds disagree: inside the box 2 of 3 seeds overtake, outside 1 of 3
    replicate = table["replicate"].to_numpy()
    odd = rng.integers(0, 3, n)[table["sample"].to_numpy()]
    table["overtaken"] = np.where(inside, replicate != odd, replicate == odd).astype(float)
    per_sample = discover(table, PARAMS, "overtaken", "true")
    assert (per_sample.cases, per_sample.runs) == (n, 3 * n)
    assert per_sample.hits == inside[:n].sum()  # exactly the samples in the box
    limits = per_sample.limits.set_index("parameter")
    assert limits.loc[X1, "low"] == pytest.approx(0.2, abs=0.05)
    assert limits.loc[X1, "high"] == pytest.approx(0.5, abs=0.05)
    assert limits.loc[X2, "low"] == pytest.approx(0.7, abs=0.05)
    assert not limits.loc[X3, "restricted"]
    assert per_sample.box["density"] >= 0.8 and per_sample.box["coverage"] >= 0.8
    per_run = discover(table, PARAMS, "overtaken", "true", aggregate="runs")
    assert (per_run.cases, per_run.hits) == (3 * n, int(table["overtaken"].sum()))
    assert per_run.box["density"] < 0.8  # a third of the runs in the box do not overtake
    # two seeds of three are not "likely" at 0.7: no sample is of interest
    with pytest.raises(ConfigError) as err:
        discover(table, PARAMS, "overtaken", "true", likely=0.7)
    assert "no case meets overtaken true (0 of 400 samples)" in one_line(err, "--where")


def test_failed_runs_are_dropped_and_counted():
    table = planted(n=300, seeds=2, noise=0.0, seed=3)
    failed = np.zeros(len(table), dtype=bool)
    failed[[0, 300]] = True  # both runs of sample 0: the sample is no case
    failed[5:40] = True  # one run of each of samples 5-39
    table.loc[failed, "error"] = "RuntimeError: boom"
    table.loc[failed, ["overtaken", X1]] = np.nan  # what a failed run leaves
    result = discover(table, PARAMS, "overtaken", "true")
    assert (result.dropped_failed, result.runs, result.cases) == (37, 600 - 37, 299)
    runs = discover(table, PARAMS, "overtaken", "true", aggregate="runs")
    assert (runs.dropped_failed, runs.cases) == (37, 563)
    assert "(37 failed runs dropped)" in runs.describe()[0]
    table["error"] = "RuntimeError: boom"
    with pytest.raises(ConfigError) as err:
        discover(table, PARAMS, "overtaken", "true")
    assert "all 600 runs of the scenario failed" in one_line(err, "--outcome")


def test_one_scenario_of_several_is_chosen(table):
    other = table.assign(scenario="baseline", overtaken=0.0)
    both = pd.concat([table, other], ignore_index=True)
    with pytest.raises(ConfigError) as err:
        discover(both, PARAMS, "overtaken", "true")
    text = one_line(err, "--scenario")
    assert "2 scenarios (trusted_release, baseline)" in text
    with pytest.raises(ConfigError) as err:
        discover(both, PARAMS, "overtaken", "true", scenario="trusted")
    assert "'trusted' is not in the table" in one_line(err, "--scenario")
    chosen = discover(both, PARAMS, "overtaken", "true", scenario="trusted_release")
    assert chosen.scenario == "trusted_release" and chosen.cases == 1000
    with pytest.raises(ConfigError) as err:  # baseline never overtakes
        discover(both, PARAMS, "overtaken", "true", scenario="baseline")
    assert "no case meets" in one_line(err, "--where")


# --------------------------------------------------------------------------- conditions


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("> 0.5", [False, False, True, False, False]),
        (">= 0.5", [False, True, True, False, False]),
        ("< -0.1", [False, False, False, True, False]),
        ("<=0", [True, False, False, True, False]),
        ("== 1", [False, False, True, False, False]),
        ("!= 0", [False, True, True, True, False]),
        ("  between 0 and 0.5 ", [True, True, False, False, False]),
        ("BETWEEN -1e0 and 0", [True, False, False, True, False]),
        ("true", [False, False, True, False, False]),
        ("False", [True, False, False, False, False]),
    ],
)
def test_conditions(text, expected):
    values = np.array([0.0, 0.5, 1.0, -0.2, np.nan])  # NaN never meets a condition
    assert list(parse_condition(text)(values)) == expected


def test_condition_prints_as_read():
    assert str(parse_condition(">=0.50")) == ">= 0.5"
    assert str(parse_condition("between 1 and 2")) == "between 1 and 2"
    assert parse_condition("true") == Condition("true", 1.0)


@pytest.mark.parametrize(
    "text",
    ["", "0.5", "> ", "=> 0.5", "= 1", "> nan", "> 1e999", "yes", "between 3 and 1",
     "between 1", "> 0.5\n< 1", 3],
)  # fmt: skip
def test_bad_conditions(text):
    with pytest.raises(ConfigError) as err:
        parse_condition(text)
    one_line(err, "--where")


# --------------------------------------------------------------------------- bad input


@pytest.mark.parametrize(
    ("change", "key", "words"),
    [
        ({"outcome": "overtake"}, "--outcome", "did you mean 'overtaken'?"),
        ({"outcome": "scenario"}, "--outcome", "not a numeric column"),
        ({"outcome": X1}, "--outcome", "is one of the parameters"),
        ({"parameters": [X1, "market.price_erosio"]}, "parameters", "did you mean"),
        ({"parameters": [X1, X1]}, "parameters", "named twice"),
        ({"parameters": []}, "parameters", "none given"),
        ({"parameters": [X1, "scenario"]}, "parameters", "not a numeric column"),
        ({"where": "> 1"}, "--where", "no case meets overtaken > 1 (0 of 1000 samples)"),
        ({"where": "<= 1"}, "--where", "every case meets"),
        ({"outcome": "final_us_lead_ooms", "where": "true"}, "--where", "needs a 0/1 outcome"),
        ({"peel_alpha": 0}, "--peel-alpha", "(0, 0.5)"),
        ({"peel_alpha": 0.5}, "--peel-alpha", "(0, 0.5)"),
        ({"peel_alpha": float("nan")}, "--peel-alpha", "(0, 0.5)"),
        ({"peel_alpha": True}, "--peel-alpha", "(0, 0.5)"),
        ({"likely": 0}, "--likely", "(0, 1]"),
        ({"threshold": 1.5}, "--threshold", "[0, 1]"),
        ({"max_p": 0}, "--max-p", "(0, 1]"),
        ({"aggregate": "seeds"}, "--aggregate", "'samples' or 'runs'"),
        ({"scenario": "baseline"}, "--scenario", "scenarios: trusted_release"),
        ({"box": 10_000}, "--box", "0 to"),
    ],
)
def test_bad_input_is_one_line(table, change, key, words):
    args = {"parameters": PARAMS, "outcome": "overtaken", "where": "true"} | change
    data = table.assign(final_us_lead_ooms=np.linspace(-1, 1, len(table)))
    with pytest.raises(ConfigError) as err:
        discover(data, **args)
    assert words in one_line(err, key)


def test_bad_tables_are_refused(table):
    with pytest.raises(ConfigError) as err:
        discover(table.drop(columns="sample"), PARAMS, "overtaken", "true")
    assert "use 'runs'" in one_line(err, "--aggregate")
    holes = table.copy()
    holes.loc[[3, 4], X2] = np.nan  # a parameter missing in runs that did not fail
    with pytest.raises(ConfigError) as err:
        discover(holes, PARAMS, "overtaken", "true")
    assert "missing or not finite in 2 runs" in one_line(err, "parameters")
    mixed = pd.concat([table, table.assign(replicate=1, **{X1: table[X1] + 0.01})])
    with pytest.raises(ConfigError) as err:
        discover(mixed, PARAMS, "overtaken", "true")
    assert "differs between the runs of one sample" in one_line(err, "parameters")


def test_missing_extra_is_one_line(table, monkeypatch):
    monkeypatch.setitem(sys.modules, "ema_workbench", None)
    monkeypatch.setitem(sys.modules, "ema_workbench.analysis", None)
    with pytest.raises(ConfigError) as err:
        discover(table, PARAMS, "overtaken", "true")
    assert str(err.value) == "discover: needs the explore extra: pip install 'agentsim[explore]'"


def test_ema_warnings_are_silenced_only_inside(table):
    before = list(warnings.filters)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        discover(table.iloc[:300], PARAMS, "overtaken", "true")
        warnings.warn("still shown", DeprecationWarning, stacklevel=1)
    assert [str(w.message) for w in caught] == ["still shown"]
    assert warnings.filters == before


# --------------------------------------------------------------------------- output


def test_save_discovery_writes_tables_and_figures(found, tmp_path):
    out = tmp_path / "discovery"
    paths = save_discovery(found, out, source=tmp_path)
    names = sorted(p.name for p in paths)
    assert names == sorted(
        ["prim_trajectory.csv", "prim_box.csv", "prim_tradeoff.png", "prim_tradeoff.pdf",
         "prim_box.png", "prim_box.pdf"]
    )  # fmt: skip
    for path in paths:
        assert path.stat().st_size > 0
    assert (out / "prim_box.png").read_bytes()[:4] == b"\x89PNG"
    assert (out / "prim_box.pdf").read_bytes()[:4] == b"%PDF"
    trajectory = pd.read_csv(out / "prim_trajectory.csv")
    assert len(trajectory) == len(found.trajectory)
    assert list(trajectory.loc[trajectory["chosen"], "box"]) == [found.chosen]
    box = pd.read_csv(out / "prim_box.csv", dtype={"where": str})
    assert list(box["parameter"]) == PARAMS
    assert box["low"].to_numpy() == pytest.approx(found.limits["low"].to_numpy())
    assert set(box["box"]) == {found.chosen} and set(box["where"]) == {"true"}
    assert box["coverage"].iloc[0] == pytest.approx(found.box["coverage"])
    marker = json.loads((out / "figures.json").read_text())
    assert marker["source"] == str(tmp_path) and "prim_box.png" in marker["figures"]
    assert len(save_discovery(found, out)) == 6  # a folder drawn before may be replaced
    foreign = tmp_path / "notes"
    foreign.mkdir()
    (foreign / "thesis.txt").write_text("mine")
    with pytest.raises(ConfigError) as err:
        save_discovery(found, foreign)
    assert "thesis.txt" in one_line(err, "--out")
    assert sorted(p.name for p in foreign.iterdir()) == ["thesis.txt"]


def test_tradeoff_figure_marks_the_chosen_box(found):
    fig = prim_tradeoff(found.trajectory, found.chosen)
    ax = fig.axes[0]
    points, ring = ax.collections[:2]
    assert np.asarray(points.get_offsets()).ravel() == pytest.approx(
        found.trajectory[["coverage", "density"]].to_numpy().ravel()
    )
    assert list(points.get_array()) == list(found.trajectory["restricted_dimensions"])
    assert np.asarray(ring.get_offsets()).ravel() == pytest.approx(
        [found.box["coverage"], found.box["density"]]
    )
    assert [t.get_text() for t in ax.texts] == [f"box {found.chosen}"]
    plt.close(fig)


def test_box_figure_shows_restricted_ranges_scaled(found):
    fig = prim_box_figure(found.limits)
    ax = fig.axes[0]
    bars = [p for p in ax.patches if isinstance(p, Rectangle)]
    restricted = found.limits[found.limits["restricted"]]
    assert len(bars) == 2 * len(restricted)  # full range and box range per parameter
    labels = [t.get_text() for t in ax.get_yticklabels()]
    assert labels == list(restricted["parameter"])[::-1]
    inner = {round(b.get_y() + b.get_height() / 2): b for b in bars if b.get_width() < 1}
    for i, row in enumerate(restricted.itertuples()):
        span = row.original_high - row.original_low
        bar = inner[len(restricted) - 1 - i]
        assert bar.get_x() == pytest.approx((row.low - row.original_low) / span)
        assert bar.get_x() + bar.get_width() == pytest.approx((row.high - row.original_low) / span)
    texts = [t.get_text() for t in ax.texts]
    assert f"{restricted['low'].iloc[0]:.3g}" in texts
    plt.close(fig)
    empty = prim_box_figure(found.limits.assign(restricted=False))
    assert "no parameter is restricted" in [t.get_text() for t in empty.axes[0].texts]
    plt.close(empty)


def test_read_explore(table, tmp_path):
    spec = {
        "parameters": {name: {"distribution": "uniform", "low": 0, "high": 1} for name in PARAMS}
    }
    (tmp_path / "manifest.json").write_text(json.dumps({"kind": "explore", "uncertainty": spec}))
    table.to_parquet(tmp_path / "experiments.parquet", index=False)
    experiments, parameters = read_explore(tmp_path)
    assert parameters == PARAMS and len(experiments) == len(table)
    nested = {"kind": "explore", "design": {"uncertainty": spec, "samples": 1000}}
    (tmp_path / "manifest.json").write_text(json.dumps(nested))
    assert read_explore(tmp_path)[1] == PARAMS
    (tmp_path / "manifest.json").write_text(json.dumps({"kind": "sweep"}))
    with pytest.raises(ConfigError) as err:
        read_explore(tmp_path)
    assert "sweep batch, not an explore batch" in one_line(err, str(tmp_path))
    with pytest.raises(ConfigError) as err:
        read_explore(tmp_path / "nothing")
    assert "not a batch folder" in str(err.value)


def test_a_run_without_the_event_has_it_after_the_horizon():
    table = planted(n=400, noise=0.0, seed=5)
    # the event by month 12 inside the planted box, never within the 24-month horizon outside
    table["overtake_month"] = np.where(table["inside"], 12.0, np.nan)
    table["steps"] = 24
    late = discover(table, PARAMS, "overtake_month", "> 18", aggregate="runs")
    early = discover(table, PARAMS, "overtake_month", "< 18", aggregate="runs")
    # every run without an overtake meets "> 18" (its overtake, if any, comes after month 24)
    assert late.hits == int((~table["inside"]).sum())
    assert early.hits == int(table["inside"].sum())
    for where in ("> 24", "between 6 and 30", "true"):
        with pytest.raises(ConfigError) as err:
            discover(table, PARAMS, "overtake_month", where, aggregate="runs")
        assert "censored at month 24" in one_line(err, "--where")
    with pytest.raises(ConfigError) as err:
        discover(table.drop(columns="steps"), PARAMS, "overtake_month", "> 6")
    assert "no 'steps'" in one_line(err, "--outcome")

"""Exploring under uncertainty: designs, the sensitivity indices' code path on a function with
known indices, seed-noise flags, and explore batches on the executors."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from agentsim.config import ConfigError
from agentsim.explore import (
    check_outcomes,
    experiments_table,
    plan_explore,
    plan_sensitivity,
    point_outcomes,
    seed_noise,
    sensitivity_design,
    sensitivity_indices,
)
from agentsim.scenario_io import config_to_dict, load_config
from agentsim.uncertainty import UncertaintySpec


class IshigamiInputs:
    """Three inputs uniform on [-pi, pi] (Ishigami and Homma 1990)."""

    names = ("x1", "x2", "x3")

    def ppf(self, u: np.ndarray) -> np.ndarray:
        return -math.pi + 2 * math.pi * np.asarray(u)


def ishigami(x: np.ndarray, a: float = 7.0, b: float = 0.1) -> np.ndarray:
    return np.sin(x[:, 0]) + a * np.sin(x[:, 1]) ** 2 + b * x[:, 2] ** 4 * np.sin(x[:, 0])


def ishigami_indices(a: float = 7.0, b: float = 0.1) -> dict[str, list[float]]:
    """Analytic first and total Sobol indices (Saltelli et al. 2008, section 4.5)."""
    pi4, pi8 = math.pi**4, math.pi**8
    variance = a**2 / 8 + b * pi4 / 5 + b**2 * pi8 / 18 + 0.5
    v1 = 0.5 * (1 + b * pi4 / 5) ** 2
    v2 = a**2 / 8
    v13 = 8 * b**2 * pi8 / 225
    return {
        "S1": [v1 / variance, v2 / variance, 0.0],
        "ST": [(v1 + v13) / variance, v2 / variance, v13 / variance],
    }


def noisy_runs(values: np.ndarray, seeds: int, sd: float, rng: np.random.Generator) -> np.ndarray:
    """(points, seeds): the function's value plus independent seed noise."""
    return values[:, None] + rng.normal(0.0, sd, (len(values), seeds))


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_sobol_recovers_the_ishigami_indices_within_their_intervals(seed: int) -> None:
    design = sensitivity_design("sobol", IshigamiInputs(), 2048, seed)
    assert design.values.shape == (2048 * 5, 3)
    values = noisy_runs(ishigami(design.values), 2, 0.05, np.random.default_rng(seed))
    table = sensitivity_indices(design, values, "y", seed)
    truth = ishigami_indices()
    for index, expected in truth.items():
        rows = table[table["index"] == index].set_index("parameter")
        for name, value in zip(IshigamiInputs.names, expected, strict=True):
            low, high = rows.loc[name, "ci_low"], rows.loc[name, "ci_high"]
            assert low - 0.01 <= value <= high + 0.01, (index, name, low, value, high)
            assert high - low < 0.15
    assert not table["below_noise_floor"][table["parameter"] == "x2"].any()


def test_morris_ranks_an_ignored_input_last_and_flags_it() -> None:
    class Inputs:
        names = ("strong", "weak", "ignored")

        def ppf(self, u: np.ndarray) -> np.ndarray:
            return np.asarray(u)

    for seed in range(3):
        design = sensitivity_design("morris", Inputs(), 20, seed)
        assert design.values.shape == (20 * 4, 3)
        x = design.values
        values = noisy_runs(5 * x[:, 0] + 1 * x[:, 1] ** 2, 4, 0.05, np.random.default_rng(seed))
        table = sensitivity_indices(design, values, "y", seed)
        mu_star = table[table["index"] == "mu_star"].set_index("parameter")
        assert list(mu_star["estimate"].sort_values(ascending=False).index) == [
            "strong",
            "weak",
            "ignored",
        ]
        assert mu_star.loc["ignored", "below_noise_floor"]
        assert not mu_star.loc["strong", "below_noise_floor"]


def test_seed_noise_share() -> None:
    rng = np.random.default_rng(3)
    signal = rng.normal(0, 1, 400)
    noise = seed_noise(signal[:, None] + rng.normal(0, 2, (400, 4)))
    # variance of the seed means: 1 + 4/4 = 2, of which seed noise is 1
    assert noise.share == pytest.approx(0.5, abs=0.08)
    assert seed_noise(np.repeat(signal[:, None], 3, axis=1)).share == pytest.approx(0, abs=1e-12)


@pytest.mark.parametrize(
    ("method", "samples", "fragment"),
    [
        ("morris", 1, "at least 2 trajectories"),
        ("sobol", 100, "(got 100; use 64 or 128)"),
        ("fast", 8, "--method"),
    ],
)
def test_design_sizes_the_method_cannot_take_are_refused(
    method: str, samples: int, fragment: str
) -> None:
    with pytest.raises(ConfigError, match=None) as caught:
        sensitivity_design(method, IshigamiInputs(), samples)
    assert fragment in str(caught.value) and "\n" not in str(caught.value)


def test_unknown_outcomes_are_refused_with_a_suggestion() -> None:
    assert check_outcomes(["final_us_lead_ooms", " overtaken "]) == [
        "final_us_lead_ooms",
        "overtaken",
    ]
    with pytest.raises(ConfigError, match="did you mean 'final_us_lead_ooms'"):
        check_outcomes(["final_us_lead_oom"])
    with pytest.raises(ConfigError, match="at least one"):
        check_outcomes([])


SPEC = UncertaintySpec.from_dict(
    {
        "parameters": {
            "flywheel.strength": {"distribution": "uniform", "low": 0.0, "high": 1.5},
            "market.price_erosion": {"distribution": "uniform", "low": 0.1, "high": 0.5},
        },
        "correlations": [["flywheel.strength", "market.price_erosion", 0.5]],
    }
)


def small(name: str) -> dict:
    return config_to_dict(
        load_config(name, overrides={"simulation.steps": 6, "talent.n_researchers": 200})
    )


def test_an_explore_plan_pairs_scenarios_on_samples_and_seeds() -> None:
    configs = {"baseline": small("baseline"), "trusted_release": small("trusted_release")}
    plan = plan_explore(configs, SPEC, samples=8, seeds=3, design="lhs", root_seed=5)
    assert plan.kind == "explore" and len(plan.specs) == 2 * 8 * 3
    assert [s.run_id for s in plan.specs] == list(range(48))
    by_key = {(s.scenario, s.point, s.replicate): s for s in plan.specs}
    for sample in range(8):
        for r in range(3):
            a, b = by_key["baseline", sample, r], by_key["trusted_release", sample, r]
            assert a.seed == b.seed and a.grid == b.grid  # common random numbers
    strengths = {dict(s.grid)["flywheel.strength"] for s in plan.specs}
    assert len(strengths) == 8 and all(0 <= v <= 1.5 for v in strengths)
    assert plan.fingerprint() == plan_explore(configs, SPEC, 8, 3, "lhs", 5).fingerprint()
    assert plan.fingerprint() != plan_explore(configs, SPEC, 8, 3, "random", 5).fingerprint()


def test_point_outcomes_refuse_undefined_values() -> None:
    runs = pd.DataFrame(
        {
            "scenario": ["a"] * 4,
            "point": [0, 0, 1, 1],
            "replicate": [0, 1, 0, 1],
            "overtake_month": [3.0, np.nan, 4.0, 5.0],
            "overtaken": [1.0, 0.0, 1.0, 1.0],
            "error": pd.array([None] * 4, dtype="string"),
        }
    )
    assert point_outcomes(runs, "overtaken", "a").tolist() == [[1.0, 0.0], [1.0, 1.0]]
    with pytest.raises(ConfigError, match="overtake_month is missing for 1 of 4"):
        point_outcomes(runs, "overtake_month", "a")


def test_a_sensitivity_plan_runs_the_baseline_on_the_same_points_and_seeds() -> None:
    plan = plan_sensitivity(
        small("trusted_release"),
        SPEC,
        "morris",
        samples=3,
        seeds=2,
        against=("baseline", small("baseline")),
        outcomes=["final_us_lead_ooms"],
    )
    points = 3 * (2 + 1)
    assert len(plan.specs) == 2 * points * 2
    assert list(plan.configs) == ["baseline", "trusted_release"]
    base = [(s.point, s.seed, s.grid) for s in plan.specs if s.scenario == "baseline"]
    policy = [(s.point, s.seed, s.grid) for s in plan.specs if s.scenario == "trusted_release"]
    assert base == policy
    assert plan.design["against"] == "baseline" and plan.design["method"] == "morris"


def test_experiments_table_puts_ids_and_parameters_first() -> None:
    runs = pd.DataFrame(
        {
            "run_id": [1, 0],
            "replicate": [1, 0],
            "seed": [11, 10],
            "scenario": ["a", "a"],
            "point": [0.0, 0.0],
            "flywheel.strength": [0.5, 0.5],
            "final_us_lead_ooms": [0.1, 0.2],
            "error": [None, None],
            "traceback": [None, None],
        }
    )
    table = experiments_table(runs, ["flywheel.strength"])
    assert list(table.columns[:6]) == [
        "run_id",
        "sample",
        "scenario",
        "replicate",
        "seed",
        "flywheel.strength",
    ]
    assert table["run_id"].tolist() == [0, 1] and table["sample"].dtype == "int64"


def test_a_constant_outcome_is_flagged_not_ranked() -> None:
    design = sensitivity_design("sobol", IshigamiInputs(), 8, 0)
    values = np.zeros((len(design.values), 2))
    table = sensitivity_indices(design, values, "overtaken")
    assert table["below_noise_floor"].all() and (table["estimate"] == 0).all()


def test_morris_on_the_model_ranks_a_switched_off_mechanism_last(tmp_path) -> None:
    """With the flywheel channel off, the flywheel's strength cannot matter: its elementary
    effects are exactly 0 on common seeds, so it ranks last under every outcome."""
    from agentsim.explore import run_sensitivity

    spec = UncertaintySpec.from_dict(
        {
            "parameters": {
                "flywheel.strength": {"distribution": "uniform", "low": 0.0, "high": 1.5},
                "market.capability_sensitivity": {
                    "distribution": "uniform",
                    "low": 1.0,
                    "high": 4.0,
                },
                "capital.policy_risk_aversion": {
                    "distribution": "uniform",
                    "low": 0.5,
                    "high": 2.0,
                },
            }
        }
    )
    config = config_to_dict(
        load_config(
            "baseline",
            overrides={
                "simulation.steps": 12,
                "talent.n_researchers": 300,
                "policy.channels.flywheel": False,
            },
        )
    )
    outcomes = ["final_us_user_share", "final_us_capital_share"]
    _, indices, _ = run_sensitivity(
        config, spec, "morris", outcomes, samples=3, seeds=2, out=tmp_path / "m", workers=1
    )
    for outcome in outcomes:
        mu_star = indices[(indices["outcome"] == outcome) & (indices["index"] == "mu_star")]
        mu_star = mu_star.set_index("parameter")["estimate"]
        assert mu_star["flywheel.strength"] == 0.0
        assert mu_star.drop("flywheel.strength").max() > 0.0
        assert mu_star.idxmin() == "flywheel.strength"

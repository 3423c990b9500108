"""Uncertainty specs: validation, marginals, rank correlations, determinism, the default spec."""

from __future__ import annotations

import json
import math
import re
import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats

from agentsim.config import ConfigError, parameter_spec
from agentsim.scenario_io import apply_overrides, load_config, read_yaml, validate_config
from agentsim.uncertainty import (
    UNCERTAINTY_DIR,
    UncertaintySpec,
    load_uncertainty,
    shipped_uncertainty_specs,
    uncertainty_path,
)

from .conftest import CONFIGS, ROOT

# One parameter per distribution, several on bounds the schema excludes (data_ceiling > 1,
# utilization > 0) and two integer parameters.
EVERY_KIND = {
    "flywheel.strength": {"distribution": "uniform", "low": 0, "high": 1.5},
    "market.capability_sensitivity": {"distribution": "loguniform", "low": 1.0, "high": 4.0},
    "research.noise": {"distribution": "normal", "mean": 0.1, "sd": 0.2},
    "flywheel.data_ceiling": {"distribution": "normal", "mean": 1.2, "sd": 0.5, "high": 2.5},
    "capital.policy_risk_aversion": {
        "distribution": "lognormal",
        "median": 1.0,
        "sigma": 1.5,
        "low": 0.25,
        "high": 4.0,
    },
    "compute.utilization": {"distribution": "lognormal", "median": 0.4, "sigma": 1.0},
    "capital.home_bias": {"distribution": "triangular", "low": 0.75, "mode": 1.5, "high": 2.5},
    "market.price_erosion": {"distribution": "beta", "alpha": 2, "beta": 5},
    "talent.switching_cost": {
        "distribution": "beta",
        "alpha": 0.5,
        "beta": 0.5,
        "low": 0.1,
        "high": 0.9,
    },
    "capital.capital_billions.GULF": {"distribution": "uniform", "low": 30, "high": 90},
    "capital.revenue_history_months": {"distribution": "uniform", "low": 3.5, "high": 12.5},
    "talent.random_offers": {"distribution": "normal", "mean": 2, "sd": 3, "high": 9},
}
INTEGERS = {"capital.revenue_history_months", "talent.random_offers"}

# Four mixed marginals with rank correlations of both signs.
CORRELATED = {
    "parameters": {
        "flywheel.strength": {"distribution": "uniform", "low": 0.0, "high": 1.5},
        "capital.policy_risk_aversion": {"distribution": "lognormal", "median": 1, "sigma": 0.5},
        "market.price_erosion": {"distribution": "beta", "alpha": 2, "beta": 5},
        "capital.home_bias": {"distribution": "triangular", "low": 0.75, "mode": 1, "high": 2.5},
    },
    "correlations": [
        ["flywheel.strength", "capital.policy_risk_aversion", 0.6],
        ["flywheel.strength", "market.price_erosion", -0.4],
        ["capital.policy_risk_aversion", "capital.home_bias", 0.3],
        ["market.price_erosion", "capital.home_bias", -0.25],
    ],
}


def spec_of(parameters: dict, correlations: list | None = None) -> UncertaintySpec:
    data: dict = {"parameters": parameters}
    if correlations is not None:
        data["correlations"] = correlations
    return UncertaintySpec.from_dict(data)


def n_for(design: str) -> int:
    return 2048 if design == "sobol" else 2000


def schema_allows(name: str, value: float) -> bool:
    if name.startswith("capital.capital_billions."):
        return 0 <= value <= 1e6
    return parameter_spec(name).allows(value)


# --------------------------------------------------------------------------- reference cdfs


def _truncated(cdf, x, lo, hi):
    a, b = cdf(lo), cdf(hi)
    return (cdf(x) - a) / (b - a)


def reference_cdf(spec: UncertaintySpec, name: str):
    """The declared distribution's cdf, written from its definition (not the module's ppf)."""
    (marginal,) = [m for m in spec.marginals if m.name == name]
    a = {k: float(v) for k, v in marginal.args}
    lo, hi = marginal.support
    kind = marginal.distribution
    if kind == "uniform":
        return lambda x: (x - a["low"]) / (a["high"] - a["low"])
    if kind == "loguniform":
        return lambda x: np.log(x / a["low"]) / math.log(a["high"] / a["low"])
    if kind == "normal":
        norm = stats.norm(a["mean"], a["sd"])
        return lambda x: _truncated(norm.cdf, x, lo, hi)
    if kind == "lognormal":
        norm = stats.norm(math.log(a["median"]), a["sigma"])
        low = -np.inf if lo <= 0 else math.log(lo)
        return lambda x: (
            (norm.cdf(np.log(x)) - norm.cdf(low)) / (norm.cdf(math.log(hi)) - norm.cdf(low))
        )
    if kind == "triangular":
        low, mode, high = a["low"], a["mode"], a["high"]

        def tri(x):
            x = np.asarray(x, dtype=float)
            left = (x - low) ** 2 / ((high - low) * (mode - low))
            right = 1 - (high - x) ** 2 / ((high - low) * (high - mode))
            return np.where(x <= mode, left, right)

        return tri
    low, high = a.get("low", 0.0), a.get("high", 1.0)
    return lambda x: stats.beta.cdf((x - low) / (high - low), a["alpha"], a["beta"])


# --------------------------------------------------------------------------- draws in bounds


@pytest.mark.parametrize("design", ["lhs", "sobol", "random"])
def test_every_distribution_stays_in_its_support_and_the_schema(design: str):
    spec = spec_of(EVERY_KIND)
    for seed in (0, 1, 7):
        draws = spec.sample(n_for(design), design, seed)
        assert list(draws.columns) == list(EVERY_KIND) == spec.names
        assert len(draws) == n_for(design)
        for name in spec.names:
            column = draws[name].to_numpy()
            low, high = spec.bounds[name]
            assert np.isfinite(column).all(), name
            assert column.min() >= low and column.max() <= high, name
            assert all(schema_allows(name, float(v)) for v in (column.min(), column.max())), name
            if name in INTEGERS:
                assert draws[name].dtype == np.int64, name
            else:
                assert draws[name].dtype == np.float64, name


def test_bounds_report_truncation_and_integer_rounding():
    bounds = spec_of(EVERY_KIND).bounds
    assert bounds["flywheel.strength"] == (0, 1.5)
    assert bounds["research.noise"] == (0.0, 3.0)  # normal cut at the schema's bounds
    low, high = bounds["flywheel.data_ceiling"]  # schema: > 1, so one step above 1
    assert low == math.nextafter(1.0, 2.0) and high == 2.5
    assert bounds["compute.utilization"][0] > 0 and bounds["compute.utilization"][1] == 1.0
    assert bounds["capital.revenue_history_months"] == (4, 12)
    assert bounds["talent.random_offers"] == (0, 9)


def test_ppf_at_the_ends_of_the_unit_interval_stays_inside():
    spec = spec_of(EVERY_KIND)
    values = spec.ppf(np.array([[0.0] * len(spec.names), [1.0] * len(spec.names)]))
    for j, name in enumerate(spec.names):
        low, high = spec.bounds[name]
        assert low <= values[0, j] <= values[1, j] <= high, name
        assert schema_allows(name, values[0, j]) and schema_allows(name, values[1, j]), name
    with pytest.raises(ConfigError, match="shape"):
        spec.ppf(np.zeros((3, 2)))
    with pytest.raises(ConfigError, match=r"\[0, 1\]"):
        spec.ppf(np.full((1, len(spec.names)), 1.5))


def test_integer_draws_give_each_value_its_share():
    spec = spec_of({"capital.revenue_history_months": EVERY_KIND["capital.revenue_history_months"]})
    counts = spec.sample(2000, "random", 3)["capital.revenue_history_months"].value_counts()
    assert sorted(counts.index) == list(range(4, 13))
    assert (abs(counts / 2000 - 1 / 9) < 0.03).all()


# --------------------------------------------------------------------------- marginals


@pytest.mark.parametrize("correlated", [False, True])
@pytest.mark.parametrize("design", ["lhs", "random"])
def test_marginals_match_the_declared_distributions(design: str, correlated: bool):
    if correlated:
        spec = UncertaintySpec.from_dict(CORRELATED)
    else:
        spec = spec_of({k: v for k, v in EVERY_KIND.items() if k not in INTEGERS})
    draws = spec.sample(2000, design, 11)
    for name in spec.names:
        result = stats.kstest(draws[name].to_numpy(), reference_cdf(spec, name))
        assert result.pvalue > 0.001, (name, result)


def test_sobol_marginals_match_with_correlations():
    spec = UncertaintySpec.from_dict(CORRELATED)
    draws = spec.sample(2048, "sobol", 5)
    for name in spec.names:
        assert stats.kstest(draws[name], reference_cdf(spec, name)).pvalue > 0.001, name


# --------------------------------------------------------------------------- correlations


@pytest.mark.parametrize("design", ["lhs", "sobol", "random"])
def test_draws_reproduce_the_rank_correlations(design: str):
    """Each 2,000-draw sample is within 0.05 of the requested rank correlations (0.07 for
    independent random draws, whose sampling error for one coefficient is about 0.02, so the
    largest of six errors passes 0.05 in about one seed in ten), and the mean over four seeds
    is within 0.02 (no bias)."""
    spec = UncertaintySpec.from_dict(CORRELATED)
    tolerance = 0.07 if design == "random" else 0.05
    measured = []
    for seed in range(4):
        draws = spec.sample(n_for(design), design, seed)
        measured.append(stats.spearmanr(draws.to_numpy()).statistic)
        assert np.abs(measured[-1] - spec.spearman).max() < tolerance, (design, seed, measured)
    assert np.abs(np.mean(measured, axis=0) - spec.spearman).max() < 0.02


def test_spearman_to_pearson_conversion():
    spec = UncertaintySpec.from_dict(CORRELATED)
    assert spec.spearman[0, 1] == 0.6 and spec.spearman[1, 0] == 0.6
    assert spec.spearman[0, 3] == 0.0
    assert spec.normal_correlation[0, 1] == pytest.approx(2 * math.sin(math.pi * 0.6 / 6))
    assert np.allclose(np.diag(spec.normal_correlation), 1.0)


def test_uncorrelated_points_pass_through_the_copula_unchanged():
    spec = spec_of(EVERY_KIND)
    u = np.random.default_rng(0).random((5, len(spec.names)))
    assert np.array_equal(spec.correlate(u), u)
    assert np.abs(stats.spearmanr(spec.sample(2000, "lhs", 2)).statistic - np.eye(12)).max() < 0.08


# --------------------------------------------------------------------------- determinism


@pytest.mark.parametrize("design", ["lhs", "sobol", "random"])
def test_same_seed_same_frame_and_different_seeds_differ(design: str):
    spec = UncertaintySpec.from_dict(CORRELATED)
    state = np.random.get_state()[1].copy()
    first = spec.sample(64, design, 42)
    pd.testing.assert_frame_equal(first, spec.sample(64, design, 42))
    pd.testing.assert_frame_equal(first, spec.sample(64, design, np.random.SeedSequence(42)))
    assert not first.equals(spec.sample(64, design, 43))
    assert np.array_equal(np.random.get_state()[1], state)  # the global state is untouched


def test_sample_arguments_are_checked():
    spec = UncertaintySpec.from_dict(CORRELATED)
    with pytest.raises(ConfigError, match=r"^--samples: a Sobol design needs a power of 2"):
        spec.sample(100, "sobol", 0)
    with pytest.raises(ConfigError, match="use 64 or 128"):
        spec.sample(100, "sobol", 0)
    for n in (0, -3, 2.5, True):
        with pytest.raises(ConfigError, match=r"^--samples"):
            spec.sample(n, "lhs", 0)
    with pytest.raises(ConfigError, match=r"^--design"):
        spec.sample(8, "grid", 0)
    for seed in (-1, 1.5, "x", True):
        with pytest.raises(ConfigError, match=r"^--seed"):
            spec.sample(8, "lhs", seed)
    assert len(spec.sample(1, "sobol", 0)) == 1 and len(spec.sample(1, "lhs", 0)) == 1


# --------------------------------------------------------------------------- invalid specs

U01 = {"distribution": "uniform", "low": 0, "high": 1}
TWO = {"flywheel.strength": U01, "market.price_erosion": U01}
THREE = {**TWO, "market.price_floor": U01}


def one(name: str, **entry) -> dict:
    return {"parameters": {name: entry}}


INVALID = [
    (one("flywheel.strenght", **U01), "flywheel.strenght", "did you mean 'flywheel.strength'"),
    (
        one("jurisdictions.US.immigration_fricton", **U01),
        "jurisdictions.US.immigration_fricton",
        "did you mean 'jurisdictions.US.immigration_friction'",
    ),
    (one("nothing.here", **U01), "nothing.here", "unknown parameter"),
    (one("flywheel", **U01), "flywheel", "not a parameter"),
    (one("policy.trusted_release.enabled", **U01), "enabled", "not a number"),
    (one("labs.OpenAI.jurisdiction", **U01), "labs.OpenAI.jurisdiction", "not a number"),
    (one("market.closed", **U01), "market.closed", "not a number"),
    (one("flywheel.strength", distribution="unifrom", low=0, high=1), "strength", "'uniform'"),
    (one("flywheel.strength", low=0, high=1), "strength", "distribution is required"),
    (one("flywheel.strength", distribution="uniform", low=0), "strength", "needs high"),
    (one("flywheel.strength", distribution="normal", mean=0.5), "strength", "needs sd"),
    (one("flywheel.strength", **U01, mode=0.5), "strength", "takes no 'mode'"),
    (one("flywheel.strength", distribution="beta", alpha=1, beta=1, sd=1), "strength", "no 'sd'"),
    (one("flywheel.strength", distribution="uniform", low=1, high=1), "strength", "low must be <"),
    (one("flywheel.strength", distribution="uniform", low=2, high=1), "strength", "low must be <"),
    (one("flywheel.strength", distribution="normal", mean=1, sd=0), "strength", "sd must be > 0"),
    (
        one("flywheel.strength", distribution="lognormal", median=1, sigma=-0.1),
        "strength",
        "sigma must be > 0",
    ),
    (
        one("flywheel.strength", distribution="lognormal", median=0, sigma=1),
        "strength",
        "median must be > 0",
    ),
    (
        one("flywheel.strength", distribution="beta", alpha=0, beta=1),
        "strength",
        "alpha must be > 0",
    ),
    (
        one("flywheel.strength", distribution="beta", alpha=1, beta=-2),
        "strength",
        "beta must be > 0",
    ),
    (
        one("flywheel.strength", distribution="triangular", low=0, mode=1.2, high=1),
        "strength",
        "mode must lie in [low, high]",
    ),
    (
        one("flywheel.strength", distribution="uniform", low=0, high=3.5),
        "strength",
        "outside the schema's bounds (>= 0, <= 3)",
    ),
    (
        one("flywheel.data_ceiling", distribution="uniform", low=1, high=2),
        "data_ceiling",
        "outside the schema's bounds (> 1",
    ),
    (
        one("capital.capital_billions.US", distribution="uniform", low=-5, high=5),
        "capital.capital_billions.US",
        "outside the schema's bounds",
    ),
    (
        one("flywheel.strength", distribution="triangular", low=-1, mode=0, high=1),
        "strength",
        "outside the schema's bounds",
    ),
    (
        one("flywheel.strength", distribution="beta", alpha=2, beta=2, low=0, high=4),
        "strength",
        "outside the schema's bounds",
    ),
    (
        one("flywheel.strength", distribution="normal", mean=20, sd=1),
        "strength",
        "keeps only",
    ),
    (
        one("flywheel.strength", distribution="lognormal", median=1e-6, sigma=0.2, low=0.5),
        "strength",
        "keeps only",
    ),
    (
        one("flywheel.strength", distribution="normal", mean=0.5, sd=1, low=4, high=5),
        "strength",
        "leave no values",
    ),
    (
        one("flywheel.strength", distribution="loguniform", low=0, high=1),
        "strength",
        "low > 0",
    ),
    (one("flywheel.strength", distribution="uniform", low=True, high=1), "strength", "boolean"),
    (one("flywheel.strength", distribution="uniform", low="0", high=1), "strength", "a number"),
    (one("flywheel.strength", distribution="uniform", low=0, high=math.inf), "strength", "finite"),
    (one("flywheel.strength", distribution="uniform", low=0, high=10**400), "strength", "finite"),
    (
        one("talent.random_offers", distribution="uniform", low=2, high=2.4),
        "talent.random_offers",
        "round to the single value 2",
    ),
    (
        one(
            "capital.revenue_history_months", distribution="normal", mean=6, sd=1, low=5.6, high=6.4
        ),
        "capital.revenue_history_months",
        "single value 6",
    ),
    (one("flywheel.strength", **U01) | {"correlation": []}, "correlation", "'correlations'"),
    (one("flywheel.strength", **U01) | {"seed": 1}, "seed", "unknown key"),
    ({"parameters": {}}, "parameters", "at least one"),
    ({"correlations": []}, "parameters", "at least one"),
    ({"parameters": {"flywheel.strength": 0.5}}, "flywheel.strength", "must be a mapping"),
    ([1, 2], "uncertainty spec", "must be a mapping"),
    (
        {"parameters": TWO, "correlations": [["flywheel.strength", "market.price_floor", 0.2]]},
        "market.price_floor",
        "not one of the spec's parameters",
    ),
    (
        {"parameters": TWO, "correlations": [["flywheel.strength", "flywheel.strength", 0.2]]},
        "flywheel.strength",
        "with itself",
    ),
    (
        {
            "parameters": TWO,
            "correlations": [
                ["flywheel.strength", "market.price_erosion", 0.2],
                ["market.price_erosion", "flywheel.strength", 0.3],
            ],
        },
        "flywheel.strength",
        "correlated twice",
    ),
    (
        {"parameters": TWO, "correlations": [["flywheel.strength", "market.price_erosion", 1.0]]},
        "market.price_erosion",
        "must lie in (-1, 1)",
    ),
    (
        {"parameters": TWO, "correlations": [["flywheel.strength", "market.price_erosion", -1.5]]},
        "market.price_erosion",
        "must lie in (-1, 1)",
    ),
    (
        {"parameters": TWO, "correlations": [["flywheel.strength", "market.price_erosion"]]},
        "correlations[0]",
        "[name, name, rho]",
    ),
    ({"parameters": TWO, "correlations": {"a": 1}}, "correlations", "must be a list"),
    (
        {
            "parameters": THREE,
            "correlations": [
                ["flywheel.strength", "market.price_erosion", 0.9],
                ["flywheel.strength", "market.price_floor", 0.9],
                ["market.price_erosion", "market.price_floor", -0.9],
            ],
        },
        "correlations",
        "not positive definite (smallest eigenvalue -",
    ),
]


@pytest.mark.parametrize(("data", "named", "rule"), INVALID)
def test_invalid_specs_raise_one_line_errors_naming_the_parameter(data, named, rule):
    with pytest.raises(ConfigError) as caught:
        UncertaintySpec.from_dict(data, source="spec.yaml")
    message = str(caught.value)
    assert named in message and rule in message, message
    assert message.startswith("spec.yaml: ")
    assert "\n" not in message and len(message) <= 1000


def test_correlations_that_are_positive_definite_are_accepted():
    spec = UncertaintySpec.from_dict(
        {
            "parameters": THREE,
            "correlations": [
                ["flywheel.strength", "market.price_erosion", 0.7],
                ["flywheel.strength", "market.price_floor", 0.7],
                ["market.price_erosion", "market.price_floor", 0.7],
            ],
        }
    )
    assert np.linalg.eigvalsh(spec.normal_correlation).min() > 0


# --------------------------------------------------------------------------- files and names


def test_files_are_read_as_scenarios_are(tmp_path: Path):
    good = tmp_path / "mine.yaml"
    good.write_text(
        "parameters:\n"
        "  market.price_erosion: {distribution: uniform, low: 0.1, high: 0.5}\n"
        "  flywheel.strength: {distribution: normal, mean: 0.5, sd: 0.2}\n"
        "correlations:\n"
        "  - [market.price_erosion, flywheel.strength, -0.3]\n",
        encoding="utf-8",
    )
    spec = load_uncertainty(good)
    assert spec.names == ["market.price_erosion", "flywheel.strength"]  # file order
    assert spec.correlations == (("market.price_erosion", "flywheel.strength", -0.3),)
    assert spec.source == str(good)
    assert uncertainty_path(good) == good

    child = tmp_path / "child.yaml"
    child.write_text(
        "extends: mine.yaml\nparameters:\n  flywheel.strength: {sd: 0.1}\n", encoding="utf-8"
    )
    assert dict(load_uncertainty(child).marginals[1].args)["sd"] == 0.1

    duplicate = tmp_path / "dup.yaml"
    duplicate.write_text(
        "parameters:\n  flywheel.strength: {distribution: uniform, low: 0, high: 1}\n"
        "  flywheel.strength: {distribution: uniform, low: 0, high: 2}\n",
        encoding="utf-8",
    )
    with pytest.raises(ConfigError, match=r"duplicate key 'flywheel.strength'"):
        load_uncertainty(duplicate)
    broken = tmp_path / "broken.yaml"
    broken.write_text("parameters: [\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="malformed YAML at line"):
        load_uncertainty(broken)
    typo = tmp_path / "typo.yaml"
    typo.write_text("parameters:\n  flywheel.strenght: {distribution: uniform}\n")
    with pytest.raises(ConfigError) as caught:
        load_uncertainty(typo)
    assert str(caught.value).startswith(f"{typo}: flywheel.strenght: unknown parameter")


def test_shipped_specs_are_found_by_name():
    assert "default" in shipped_uncertainty_specs()
    assert uncertainty_path("default") == UNCERTAINTY_DIR / "default.yaml"
    assert uncertainty_path("default.yaml") == UNCERTAINTY_DIR / "default.yaml"
    assert (UNCERTAINTY_DIR / "default.yaml").samefile(CONFIGS / "uncertainty" / "default.yaml")
    with pytest.raises(ConfigError, match=r"^nowhere: file not found.*'default'"):
        uncertainty_path("nowhere")
    with pytest.raises(ConfigError, match="file not found"):
        load_uncertainty(Path("no/such/spec.yaml"))


# --------------------------------------------------------------------------- round trip, overrides


def test_to_dict_round_trips():
    for data in (CORRELATED, {"parameters": EVERY_KIND}):
        spec = UncertaintySpec.from_dict(data)
        plain = json.loads(json.dumps(spec.to_dict()))
        again = UncertaintySpec.from_dict(plain)
        assert again == spec and again.to_dict() == spec.to_dict()
        assert again.bounds == spec.bounds


def test_overrides_turn_a_row_into_dotted_keys(baseline):
    spec = spec_of(EVERY_KIND)
    draws = spec.sample(4, "lhs", 0)
    overrides = spec.overrides(draws.iloc[0])
    assert list(overrides) == spec.names
    assert type(overrides["capital.revenue_history_months"]) is int
    assert type(overrides["flywheel.strength"]) is float
    assert spec.overrides(draws.iloc[0].to_numpy()) == overrides
    assert spec.overrides(draws.iloc[0].to_dict()) == overrides
    config = validate_config(apply_overrides(baseline.model_dump(mode="json"), overrides))
    assert config.capital.capital_billions["GULF"] == overrides["capital.capital_billions.GULF"]
    assert config.capital.revenue_history_months == overrides["capital.revenue_history_months"]
    with pytest.raises(ConfigError, match=r"^flywheel.strength: is missing"):
        spec.overrides({})
    with pytest.raises(ConfigError, match=r"^row: must hold 12 values"):
        spec.overrides([1.0, 2.0])
    bad = draws.iloc[0].to_dict() | {"talent.random_offers": 2.5}
    with pytest.raises(ConfigError, match=r"^talent.random_offers: must be a whole number"):
        spec.overrides(bad)


def test_scenario_checks_name_the_parameter(baseline):
    spec = spec_of({"labs.Nobody.cash_billions": {"distribution": "uniform", "low": 1, "high": 2}})
    with pytest.raises(ConfigError, match=r"^labs.Nobody.cash_billions: names lab 'Nobody'"):
        spec.check_scenario(baseline)
    spec = spec_of({"jurisdictions.XX.immigration_friction": U01})
    with pytest.raises(ConfigError, match="names jurisdiction 'XX'"):
        spec.check_scenario(read_yaml(CONFIGS / "baseline.yaml"))
    spec_of({"labs.OpenAI.cash_billions": U01}).check_scenario(baseline)
    # independent draws can break a rule across parameters: researcher shares sum to 1
    shares = spec_of({"jurisdictions.US.researcher_share": {**U01, "low": 0.4, "high": 0.6}})
    with pytest.raises(ConfigError, match=r"researcher_share: must sum to 1 .*\(draw 0\)"):
        shares.validate_draws(shares.sample(4, "lhs", 0), baseline)


# --------------------------------------------------------------------------- the default spec


def test_default_spec_draws_valid_scenarios():
    spec = load_uncertainty("default")
    baseline = load_config("baseline")
    assert len(spec.names) == len(set(spec.names)) >= 10
    draws = spec.sample(256, "sobol", 2026)
    spec.validate_draws(draws, baseline)
    data = baseline.model_dump(mode="json")
    for name, (low, high) in spec.bounds.items():
        value = data
        for part in name.split("."):
            value = value[part]
        assert low <= value <= high, f"{name}: baseline value {value} outside [{low}, {high}]"


def test_default_spec_ranges_are_documented():
    text = (ROOT / "docs" / "calibration.md").read_text(encoding="utf-8")
    section = text.split("## Uncertainty ranges (configs/uncertainty/default.yaml)", 1)[1]
    section = section.split("\n## ", 1)[0]
    rows = {
        m.group(1): m.group(0)
        for m in re.finditer(r"^\| `([^`]+)` \|.*$", section, flags=re.MULTILINE)
    }
    spec = load_uncertainty("default")
    assert sorted(rows) == sorted(spec.names)
    for m in spec.marginals:
        assert f"| {m.distribution} |" in rows[m.name], m.name


@pytest.mark.slow
def test_wheel_ships_the_uncertainty_specs(tmp_path: Path):
    """A non-editable install gets configs/uncertainty/*.yaml (builds a wheel)."""
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "-w", str(tmp_path), str(ROOT)],
        check=True,
    )
    (wheel,) = tmp_path.glob("agentsim-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    for path in sorted((CONFIGS / "uncertainty").glob("*.yaml")):
        assert f"agentsim/scenarios/uncertainty/{path.name}" in names


# --------------------------------------------------------------------------- property test

BOUNDED = {  # parameter -> (lower, upper) taken from the schema
    "flywheel.strength": (0.0, 3.0),
    "market.price_erosion": (0.0, 1.0),
    "flywheel.data_ceiling": (1.0, 100.0),  # > 1
    "compute.utilization": (0.0, 1.0),  # > 0
    "capital.home_bias": (0.0, 20.0),
    "capital.revenue_growth_weight": (-100.0, 100.0),
    "talent.random_offers": (0.0, 100.0),  # integer
}


@st.composite
def valid_entries(draw, name: str):
    lower, upper = BOUNDED[name]
    kind = draw(
        st.sampled_from(["uniform", "loguniform", "triangular", "beta", "normal", "lognormal"])
    )
    width = upper - lower
    inner = st.floats(lower + 0.01 * width, upper - 0.01 * width)
    if kind in ("normal", "lognormal"):
        centre = draw(inner.filter(lambda x: x > 0) if kind == "lognormal" else inner)
        spread = draw(st.floats(0.05, 2.0))
        if kind == "normal":
            return {"distribution": kind, "mean": centre, "sd": spread * width / 4}
        return {"distribution": kind, "median": centre, "sigma": spread}
    if kind == "loguniform":  # positive support
        lower = max(lower, 0.0)
        inner = st.floats(lower + 0.01 * width, upper - 0.01 * width)
    low, high = sorted(draw(st.lists(inner, min_size=2, max_size=2, unique=True)))
    if high - low < 1.5:  # wide enough for the integer parameter's draws
        low, high = lower + 0.01 * width, upper - 0.01 * width
    entry = {"distribution": kind, "low": low, "high": high}
    if kind == "triangular":
        entry["mode"] = draw(st.floats(low, high))
    if kind == "beta":
        entry |= {"alpha": draw(st.floats(0.3, 5)), "beta": draw(st.floats(0.3, 5))}
    return entry


@st.composite
def valid_specs(draw):
    names = draw(st.lists(st.sampled_from(sorted(BOUNDED)), min_size=1, max_size=4, unique=True))
    return {name: draw(valid_entries(name)) for name in names}


@settings(max_examples=30, deadline=None)
@given(parameters=valid_specs(), design=st.sampled_from(["lhs", "sobol", "random"]))
def test_valid_random_specs_draw_within_bounds(parameters, design):
    spec = spec_of(parameters)
    draws = spec.sample(64, design, 0)
    for name in spec.names:
        low, high = spec.bounds[name]
        column = draws[name].to_numpy()
        assert column.min() >= low and column.max() <= high
        assert schema_allows(name, column.min()) and schema_allows(name, column.max())

"""Calibration by ABC-SMC: the targets file, the statistics and the distance, one posterior
per root seed on any executor and after a resume, the fit report, the calibrated scenario,
one-line errors on bad input, and (slow) recovery of known parameters."""

from __future__ import annotations

import math
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from agentsim import calibration as cal
from agentsim import store
from agentsim.calibration import (
    BUDGETS,
    MISSING_PENALTY,
    SCENARIO,
    Budget,
    CalibrationProblem,
    Target,
    distance,
    evaluations_frame,
    load_targets,
    run_calibration,
    targets_from_dict,
    weighted_quantiles,
)
from agentsim.config import ConfigError
from agentsim.executors import InProcess, ProcessPool
from agentsim.explore import outcome_names
from agentsim.run import run
from agentsim.scenario_io import config_to_dict, load_config
from agentsim.uncertainty import UncertaintySpec, load_uncertainty
from tests.test_cli import ROOT, assert_usage_error, cli

pytest.importorskip("pyabc")

BASELINE = ROOT / "configs" / "baseline.yaml"
TRUSTED = ROOT / "configs" / "trusted_release.yaml"
SHORT = "simulation: {steps: 12}\ntalent: {n_researchers: 500}\n"
GROWTH = "frontier_growth_ooms_per_year"
CAPITAL = "final_us_capital_share"
PARAMS = (
    "parameters:\n"
    "  flywheel.strength: {distribution: uniform, low: 0.0, high: 1.5}\n"
    "  capital.home_bias: {distribution: uniform, low: 0.75, high: 2.5}\n"
)
#: A few seconds of simulation: 8 particles, 2 generations, 6 posterior draws.
TINY = Budget(population=8, generations=2, predictive=6, max_evaluations=10_000)
#: Three generations, for the resume tests (a cap on evaluations is checked between them).
THREE = Budget(population=8, generations=3, predictive=2, max_evaluations=10_000)


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Short scenarios (12 months, 500 researchers), a targets file comparing them, and a
    two-parameter spec."""
    folder = tmp_path_factory.mktemp("inputs")
    return {
        "scenario": write(folder / "short.yaml", f"extends: {BASELINE}\nname: short\n{SHORT}"),
        "trusted": write(
            folder / "short_trusted.yaml", f"extends: {TRUSTED}\nname: short_trusted\n{SHORT}"
        ),
        "targets": write(
            folder / "targets.yaml",
            "scenarios:\n"
            "  trusted: short_trusted.yaml\n"
            "targets:\n"
            f"  growth: {{outcome: {GROWTH}, value: 1.0, tolerance: 0.2, source: a survey}}\n"
            f"  capital: {{outcome: {CAPITAL}, value: 0.85, tolerance: 0.02}}\n"
            f"  effect: {{outcome: {CAPITAL}, value: -0.02, standard_error: 0.02,\n"
            "           compare: [scenario, trusted], relative_change: true}\n"
            f"  unreachable: {{outcome: {GROWTH}, value: 6.0, tolerance: 0.1}}\n",
        ),
        "params": write(folder / "params.yaml", PARAMS),
    }


def problem_for(files: dict[str, Path], budget: Budget = TINY, seed: int = 0) -> CalibrationProblem:
    target_set = load_targets(files["targets"])
    configs = {SCENARIO: config_to_dict(load_config(files["scenario"]))}
    for label, path in target_set.scenarios.items():
        configs[label] = config_to_dict(load_config(path))
    problem = CalibrationProblem(
        configs, target_set.targets, load_uncertainty(files["params"]), budget, seed
    )
    problem.check()
    return problem


def calibrate(files: dict[str, Path], out: Path, executor, **options) -> cal.CalibrationResult:
    out.mkdir(parents=True)
    problem = problem_for(files, **options)
    ref = os.path.relpath(files["scenario"], out)
    with executor as entered:
        return run_calibration(problem, out, entered, scenario_ref=ref, budget_name="small")


@pytest.fixture(scope="module")
def calibrated(files: dict[str, Path], tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("calibration") / "seed0"
    calibrate(files, out, InProcess())
    return out


# --------------------------------------------------------------------------- targets


def _entry(**changes) -> dict:
    entry = {"outcome": GROWTH, "value": 1.0, "tolerance": 0.1}
    entry.update(changes)
    return {key: value for key, value in entry.items() if value is not None}


#: (targets mapping, fragments of the one-line error); ``scenario`` and ``trusted`` are known.
BAD_TARGETS = {
    "unknown_outcome": (
        {"growth": _entry(outcome="frontier_growth_ooms")},
        ["targets.growth.outcome", "did you mean 'frontier_growth_ooms_per_year'"],
    ),
    "time_to_event_outcome": (
        {"first": _entry(outcome="months_to_first_us_generation", value=9.0)},
        ["targets.first.outcome", "the month of an event"],
    ),
    "zero_tolerance": ({"growth": _entry(tolerance=0)}, ["targets.growth.tolerance", "> 0"]),
    "negative_standard_error": (
        {"growth": _entry(tolerance=None, standard_error=-0.1)},
        ["targets.growth.standard_error", "> 0"],
    ),
    "both_scales": (
        {"growth": _entry(standard_error=0.1)},
        ["targets.growth", "exactly one of tolerance and standard_error"],
    ),
    "neither_scale": (
        {"growth": _entry(tolerance=None)},
        ["targets.growth", "exactly one of tolerance and standard_error"],
    ),
    "nan_value": ({"growth": _entry(value=math.nan)}, ["targets.growth.value", "finite"]),
    "infinite_tolerance": (
        {"growth": _entry(tolerance=math.inf)},
        ["targets.growth.tolerance", "finite"],
    ),
    "unknown_key": (
        {"growth": _entry(tolerence=0.1, tolerance=None)},
        ["targets.growth.tolerence", "unknown key", "did you mean 'tolerance'"],
    ),
    "unknown_compare_label": (
        {"effect": _entry(outcome=CAPITAL, compare=["scenario", "repeal"])},
        ["targets.effect.compare", "'repeal' is not a scenario of the targets file"],
    ),
    "relative_change_without_compare": (
        {"effect": _entry(outcome=CAPITAL, relative_change=True)},
        ["targets.effect.relative_change", "needs compare"],
    ),
}


@pytest.mark.parametrize("case", list(BAD_TARGETS))
def test_targets_from_dict_refuses_with_one_line_naming_target_and_key(case: str) -> None:
    data, fragments = BAD_TARGETS[case]
    with pytest.raises(ConfigError) as caught:
        targets_from_dict(data, outcome_names(), [SCENARIO, "trusted"], "t.yaml")
    message = str(caught.value)
    assert "\n" not in message
    assert message.startswith("t.yaml: ")
    for fragment in fragments:
        assert fragment in message, message


def targets_file(folder: Path, case: str) -> Path:
    """A targets file holding BAD_TARGETS[case] (and a ``trusted`` scenario to compare)."""
    data, _ = BAD_TARGETS[case]
    text = yaml.safe_dump({"scenarios": {"trusted": "trusted_release"}, "targets": data})
    return write(folder / f"{case}.yaml", text)


@pytest.mark.parametrize("case", list(BAD_TARGETS))
def test_load_targets_refuses_each_bad_target(case: str, tmp_path: Path) -> None:
    path = targets_file(tmp_path, case)
    with pytest.raises(ConfigError) as caught:
        load_targets(path)
    message = str(caught.value)
    assert "\n" not in message and message.startswith(str(path))
    for fragment in BAD_TARGETS[case][1]:
        assert fragment in message, message


def test_load_targets_refuses_a_scenario_that_does_not_exist(tmp_path: Path) -> None:
    path = write(
        tmp_path / "t.yaml",
        "scenarios:\n  trusted: no_such_scenario\n"
        f"targets:\n  growth: {{outcome: {GROWTH}, value: 1, tolerance: 0.1}}\n",
    )
    with pytest.raises(ConfigError, match=r"scenarios\.trusted: scenario 'no_such_scenario' does"):
        load_targets(path)


def test_load_targets_reads_scenarios_beside_the_file_and_keeps_only_compared_ones(
    files: dict[str, Path],
) -> None:
    target_set = load_targets(files["targets"])
    assert target_set.scenarios == {"trusted": files["trusted"]}
    by_name = {t.name: t for t in target_set.targets}
    assert list(by_name) == ["growth", "capital", "effect", "unreachable"]
    assert by_name["growth"].source == "a survey" and by_name["growth"].kind == "level"
    effect = by_name["effect"]
    assert effect.compare == (SCENARIO, "trusted") and effect.kind == "relative change"
    assert effect.standard_error == 0.02 and effect.tolerance is None
    assert effect.scale == 0.02 and effect.half_width == pytest.approx(0.04)
    # an unused scenario is not simulated
    path = write(
        files["targets"].parent / "unused.yaml",
        "scenarios:\n  trusted: trusted_release\n"
        f"targets:\n  growth: {{outcome: {GROWTH}, value: 1, tolerance: 0.1}}\n",
    )
    assert load_targets(path).scenarios == {}
    # to_dict reads back to the same target
    again = targets_from_dict(
        {t.name: t.to_dict() for t in target_set.targets}, outcome_names(), [SCENARIO, "trusted"]
    )
    assert again == target_set.targets


# --------------------------------------------------------------------------- statistics


def test_target_statistic_level_difference_and_relative_change() -> None:
    summaries = {SCENARIO: {CAPITAL: 0.8, GROWTH: None}, "b": {CAPITAL: 0.6, GROWTH: 1.0}}
    level = Target("l", CAPITAL, 0.8, tolerance=0.1)
    difference = Target("d", CAPITAL, 0.0, tolerance=0.1, compare=(SCENARIO, "b"))
    relative = Target(
        "r", CAPITAL, 0.0, tolerance=0.1, compare=(SCENARIO, "b"), relative_change=True
    )
    assert level.statistic(summaries) == 0.8
    assert difference.statistic(summaries) == pytest.approx(0.6 - 0.8)
    assert relative.statistic(summaries) == pytest.approx(0.6 / 0.8 - 1)
    reverse = Target(
        "r", CAPITAL, 0.0, tolerance=0.1, compare=("b", SCENARIO), relative_change=True
    )
    assert reverse.statistic(summaries) == pytest.approx(0.8 / 0.6 - 1)
    # undefined outcomes and a division by zero give NaN
    assert math.isnan(Target("g", GROWTH, 1.0, tolerance=0.1).statistic(summaries))
    assert math.isnan(
        Target("g", GROWTH, 1.0, tolerance=0.1, compare=(SCENARIO, "b")).statistic(summaries)
    )
    zero = {SCENARIO: {CAPITAL: 0.0}, "b": {CAPITAL: 0.5}}
    assert math.isnan(relative.statistic(zero))
    assert difference.statistic(zero) == 0.5


def test_distance_is_the_rms_of_standardised_errors_with_a_penalty_for_missing() -> None:
    targets = [
        Target("a", GROWTH, 1.0, tolerance=0.5),
        Target("b", CAPITAL, 0.0, standard_error=2.0),
    ]
    assert distance([2.0, 1.0], targets) == pytest.approx(math.sqrt((2.0**2 + 0.5**2) / 2))
    assert distance([1.0, 0.0], targets) == 0.0
    assert distance([0.0, -1.0], targets) == distance([2.0, 1.0], targets)  # symmetric misses
    assert distance([math.nan, 0.0], targets) == pytest.approx(MISSING_PENALTY / math.sqrt(2))
    assert distance([math.nan, math.nan], targets) == pytest.approx(MISSING_PENALTY)
    # a finite miss never counts more than a missing statistic
    assert distance([1e9, 0.0], targets) <= distance([math.nan, 0.0], targets)


def test_weighted_quantiles_invert_the_weighted_cdf() -> None:
    values = np.array([4.0, 1.0, 3.0, 2.0])
    weights = np.array([0.4, 0.1, 0.3, 0.2])
    assert list(weighted_quantiles(values, weights, [0.05, 0.1, 0.5, 0.6, 0.95])) == [
        1.0, 1.0, 3.0, 3.0, 4.0,
    ]  # fmt: skip
    # a particle with all the weight is every quantile
    assert (
        list(weighted_quantiles(values, np.array([0, 0, 1.0, 0]), [0.05, 0.5, 0.95])) == [3.0] * 3
    )
    # equal weights: numpy's unweighted inverted CDF
    x = np.random.default_rng(0).normal(size=101)
    np.testing.assert_array_equal(
        weighted_quantiles(x, np.ones_like(x), [0.05, 0.5, 0.95]),
        np.quantile(x, [0.05, 0.5, 0.95], method="inverted_cdf"),
    )


def test_budget_names() -> None:
    assert cal.budget("small") is BUDGETS["small"]
    with pytest.raises(
        ConfigError, match=r"--budget: must be one of \['small', 'medium', 'large'\]"
    ):
        cal.budget("huge")


# --------------------------------------------------------------------------- the calibration


def test_a_calibration_writes_every_output(calibrated: Path) -> None:
    names = {p.name for p in calibrated.iterdir()}
    assert cal.CALIBRATION_FILES | {"manifest.json", "figures"} <= names
    manifest = store.read_manifest(calibrated)
    assert manifest["kind"] == "calibrate" and manifest["status"] == "complete"
    assert {"command", "versions", "packages", "git_commit", "git_dirty"} <= set(manifest)
    posterior = pd.read_parquet(calibrated / cal.POSTERIOR)
    assert list(posterior.columns) == [
        "flywheel.strength",
        "capital.home_bias",
        "weight",
        "generation",
    ]
    assert len(posterior) == TINY.population
    assert posterior["weight"].sum() == pytest.approx(1.0)
    assert (posterior["generation"] == TINY.generations - 1).all()
    assert posterior["flywheel.strength"].between(0, 1.5).all()
    assert posterior["capital.home_bias"].between(0.75, 2.5).all()
    logs = evaluations_frame(calibrated)
    assert sorted(logs["generation"].unique()) == [0, 1]
    assert (logs.groupby("generation")["accepted"].sum() == TINY.population).all()
    assert {"stat:growth", "stat:capital", "stat:effect", "stat:unreachable"} <= set(logs.columns)
    assert logs["error"].isna().all()
    predictive = pd.read_parquet(calibrated / cal.PREDICTIVE_FILE)
    assert len(predictive) == TINY.predictive and predictive["error"].isna().all()
    manifest = store.read_manifest(calibrated)
    assert manifest["kind"] == "calibrate" and manifest["status"] == "complete"
    assert manifest["generations"] == TINY.generations and manifest["evaluations"] == len(logs)
    assert set(manifest["configs"]) == {SCENARIO, "trusted"}


def test_evaluation_distances_match_their_statistics(
    calibrated: Path, files: dict[str, Path]
) -> None:
    targets = load_targets(files["targets"]).targets
    logs = evaluations_frame(calibrated)
    stats = logs[[f"stat:{t.name}" for t in targets]].to_numpy(float)
    expected = [distance(list(row), targets) for row in stats]
    np.testing.assert_allclose(logs["distance"].to_numpy(float), expected, rtol=1e-12)
    # the first generation samples the prior: all accepted; later ones reject some
    assert logs[logs["generation"] == 0]["accepted"].all()
    assert not logs[logs["generation"] > 0]["accepted"].all()


def test_the_same_root_seed_again_on_a_pool_gives_the_same_files(
    calibrated: Path, files: dict[str, Path], tmp_path: Path
) -> None:
    pooled = tmp_path / "pooled"
    calibrate(files, pooled, ProcessPool(2))
    for name in (cal.POSTERIOR, cal.PREDICTIVE_FILE):
        pd.testing.assert_frame_equal(
            pd.read_parquet(pooled / name), pd.read_parquet(calibrated / name)
        )
    pd.testing.assert_frame_equal(evaluations_frame(pooled), evaluations_frame(calibrated))
    for name in (cal.REPORT_CSV, cal.SUMMARY_CSV, cal.CALIBRATED):
        assert (pooled / name).read_bytes() == (calibrated / name).read_bytes()


def test_a_dask_cluster_gives_the_same_posterior(
    calibrated: Path, files: dict[str, Path], tmp_path: Path
) -> None:
    from agentsim.executors import DaskCluster

    on_dask = tmp_path / "dask"
    calibrate(files, on_dask, DaskCluster("local", 2))
    pd.testing.assert_frame_equal(
        pd.read_parquet(on_dask / cal.POSTERIOR), pd.read_parquet(calibrated / cal.POSTERIOR)
    )
    pd.testing.assert_frame_equal(evaluations_frame(on_dask), evaluations_frame(calibrated))


def test_another_root_seed_gives_another_posterior(
    calibrated: Path, files: dict[str, Path], tmp_path: Path
) -> None:
    other = tmp_path / "seed1"
    calibrate(files, other, InProcess(), seed=1, budget=Budget(8, 1, 2, 10_000))
    a = pd.read_parquet(calibrated / cal.POSTERIOR)
    b = pd.read_parquet(other / cal.POSTERIOR)
    assert not np.allclose(a["flywheel.strength"], b["flywheel.strength"])
    logs_a, logs_b = evaluations_frame(calibrated), evaluations_frame(other)
    first = logs_a[logs_a["generation"] == 0]
    assert not np.allclose(first["u:p0"], logs_b["u:p0"])  # other proposals from the prior
    assert set(logs_a["seed"]).isdisjoint(logs_b["seed"])


def test_the_fit_report_flags_a_target_outside_the_models_reach(calibrated: Path) -> None:
    fit = pd.read_csv(calibrated / cal.REPORT_CSV).set_index("target")
    assert list(fit.index) == ["growth", "capital", "effect", "unreachable"]
    assert not fit.loc["unreachable", "reached"]
    assert fit.loc["growth", "reached"] and fit.loc["capital", "reached"]
    assert not fit.loc["unreachable", "within_tolerance"]
    # the closest value is the largest growth any simulation gave (all far below 6)
    logs = evaluations_frame(calibrated)
    predictive = pd.read_parquet(calibrated / cal.PREDICTIVE_FILE)
    tried = pd.concat([logs["stat:unreachable"], predictive["unreachable"]])
    assert fit.loc["unreachable", "closest"] == pytest.approx(tried.max())
    assert fit.loc["unreachable", "closest"] < 6.0 - 0.1
    assert fit.loc["unreachable", "kind"] == "level"
    assert fit.loc["effect", "kind"] == "relative change scenario -> trusted"
    low, median, high = fit.loc[
        "growth", ["predictive_low", "predictive_median", "predictive_high"]
    ]
    assert low <= median <= high
    report = (calibrated / cal.REPORT_MD).read_text(encoding="utf-8")
    section = report.split("## Targets outside the model's reach", 1)
    assert len(section) == 2, report
    missed = section[1].split("##", 1)[0]
    assert "**unreachable**" in missed and "**growth**" not in missed
    assert f"{fit.loc['unreachable', 'closest']:.4g}" in missed
    assert "- growth: a survey" in report  # sources


def test_the_calibrated_scenario_extends_the_input_at_the_posterior_medians(
    calibrated: Path, files: dict[str, Path]
) -> None:
    text = (calibrated / cal.CALIBRATED).read_text(encoding="utf-8")
    data = yaml.safe_load(text)
    assert (calibrated / data["extends"]).resolve() == files["scenario"].resolve()
    assert data["name"] == "short_calibrated"
    summary = pd.read_csv(calibrated / cal.SUMMARY_CSV).set_index("parameter")
    posterior = pd.read_parquet(calibrated / cal.POSTERIOR)
    for name in ("flywheel.strength", "capital.home_bias"):
        median = weighted_quantiles(posterior[name], posterior["weight"], [0.5])[0]
        assert summary.loc[name, "posterior_median"] == pytest.approx(median)
        section, key = name.split(".")
        assert data[section][key] == pytest.approx(median)
    config = load_config(calibrated / cal.CALIBRATED)
    assert config.simulation.steps == 12  # from the input scenario
    assert config.flywheel.strength == pytest.approx(data["flywheel"]["strength"])
    assert config.capital.home_bias == pytest.approx(data["capital"]["home_bias"])


# --------------------------------------------------------------------------- resume


@pytest.fixture(scope="module")
def uninterrupted(files: dict[str, Path], tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A one-scenario calibration of three generations, run without a stop."""
    out = tmp_path_factory.mktemp("uninterrupted") / "whole"
    one = dict(files, targets=one_scenario_targets(files))
    calibrate(one, out, InProcess(), budget=THREE)
    return out


def one_scenario_targets(files: dict[str, Path]) -> Path:
    return write(
        files["targets"].parent / "one.yaml",
        f"targets:\n  growth: {{outcome: {GROWTH}, value: 1.0, tolerance: 0.2}}\n"
        f"  capital: {{outcome: {CAPITAL}, value: 0.85, tolerance: 0.02}}\n",
    )


def stop_and_resume(files: dict[str, Path], out: Path, budget: Budget) -> None:
    """Calibrate the first generation only, then resume to ``budget.generations``."""
    one = dict(files, targets=one_scenario_targets(files))
    first = Budget(budget.population, 1, budget.predictive, budget.max_evaluations)
    calibrate(one, out, InProcess(), budget=first)
    problem = problem_for(one, budget=budget)
    with InProcess() as executor:
        run_calibration(
            problem, out, executor, scenario_ref="x.yaml", budget_name="small", resume=True
        )


def test_a_resumed_calibration_equals_an_uninterrupted_one(
    uninterrupted: Path, files: dict[str, Path], tmp_path: Path
) -> None:
    out = tmp_path / "resumed"
    stop_and_resume(files, out, THREE)
    assert (
        evaluations_frame(out).groupby("generation").size().tolist()
        == evaluations_frame(uninterrupted).groupby("generation").size().tolist()
    )
    pd.testing.assert_frame_equal(evaluations_frame(out), evaluations_frame(uninterrupted))
    pd.testing.assert_frame_equal(
        pd.read_parquet(out / cal.POSTERIOR), pd.read_parquet(uninterrupted / cal.POSTERIOR)
    )


def test_a_resumed_calibration_keeps_the_whole_evaluation_budget(
    uninterrupted: Path, files: dict[str, Path], tmp_path: Path
) -> None:
    sizes = evaluations_frame(uninterrupted).groupby("generation").size().tolist()
    # a cap the uninterrupted calibration never reaches before its last generation
    capped = Budget(THREE.population, THREE.generations, THREE.predictive, sizes[0] + sizes[1] + 1)
    out = tmp_path / "resumed"
    stop_and_resume(files, out, capped)
    assert evaluations_frame(out).groupby("generation").size().tolist() == sizes


# --------------------------------------------------------------------------- the command


def test_calibrate_help_lists_its_options() -> None:
    proc = cli("calibrate", "--help")
    assert proc.returncode == 0, proc.stderr
    for option in ("--targets", "--params", "--budget", "--resume", "--seed"):
        assert option in proc.stdout


@pytest.mark.parametrize(
    "case",
    ["unknown_outcome", "neither_scale", "nan_value", "unknown_compare_label"],
)
def test_calibrate_refuses_a_bad_targets_file_and_writes_nothing(
    case: str, files: dict[str, Path], tmp_path: Path
) -> None:
    path = targets_file(tmp_path, case)
    out = tmp_path / "out"
    proc = cli(
        "calibrate", files["scenario"], "--targets", path, "--params", files["params"],
        "--out", out,
    )  # fmt: skip
    assert_usage_error(proc, str(path), *BAD_TARGETS[case][1])
    assert not out.exists()


def test_calibrate_refuses_other_bad_input_and_writes_nothing(
    files: dict[str, Path], tmp_path: Path
) -> None:
    outside = write(
        tmp_path / "outside.yaml",
        "parameters:\n  flywheel.strength: {distribution: uniform, low: -1, high: 1}\n",
    )
    no_scenario = write(
        tmp_path / "pair.yaml",
        "scenarios:\n  trusted: no_such_scenario\n"
        f"targets:\n  effect: {{outcome: {CAPITAL}, value: 0, tolerance: 0.1,"
        " compare: [scenario, trusted]}\n",
    )
    cases = [
        (["--params", outside], ["flywheel.strength", "outside the schema's bounds"]),
        (["--targets", tmp_path / "missing.yaml"], ["missing.yaml", "not found"]),
        (["--targets", no_scenario], ["scenarios.trusted", "'no_such_scenario' does not exist"]),
        (["--budget", "huge"], ["--budget", "must be one of"]),
    ]
    for args, fragments in cases:
        given = {"--targets": files["targets"], "--params": files["params"]}
        given.update(dict(zip(args[::2], args[1::2], strict=True)))
        rest = [x for pair in given.items() for x in pair]
        out = tmp_path / "out"
        proc = cli("calibrate", files["scenario"], *rest, "--out", out)
        assert_usage_error(proc, *fragments)
        assert not out.exists()


def test_calibrate_on_the_command_line_writes_a_runnable_calibrated_scenario(
    files: dict[str, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from typer.testing import CliRunner

    from agentsim.cli import app

    monkeypatch.setitem(BUDGETS, "small", TINY)
    out = tmp_path / "cli"
    one = one_scenario_targets(files)
    result = CliRunner().invoke(
        app,
        ["calibrate", str(files["scenario"]), "--targets", str(one), "--params",
         str(files["params"]), "--workers", "1", "--out", str(out)],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "Posterior (median and 90% interval)" in result.output
    data = yaml.safe_load((out / cal.CALIBRATED).read_text(encoding="utf-8"))
    assert (out / data["extends"]).resolve() == files["scenario"].resolve()
    summary = pd.read_csv(out / cal.SUMMARY_CSV).set_index("parameter")
    assert data["flywheel"]["strength"] == pytest.approx(
        summary.loc["flywheel.strength", "posterior_median"]
    )
    manifest = store.read_manifest(out)
    assert manifest["kind"] == "calibrate" and manifest["status"] == "complete"
    run_dir = tmp_path / "run"
    proc = cli("run", out / cal.CALIBRATED, "--steps", "2", "--no-figures", "--out", run_dir)
    assert proc.returncode == 0, proc.stderr
    assert (run_dir / "summary.json").is_file()


# --------------------------------------------------------------------------- slow


#: The command line with the small budget cut to 40 particles x 3 generations (the kill and
#: resume test needs generations to stop between, not a fit).
SMALL_CLI = (
    "from agentsim import calibration as cal; "
    "cal.BUDGETS['small'] = cal.Budget(population=40, generations=3, predictive=10, "
    "max_evaluations=1000); from agentsim.cli import main; main()"
)


@pytest.mark.slow
def test_a_killed_calibration_resumes_to_the_uninterrupted_posterior(
    files: dict[str, Path], tmp_path: Path
) -> None:
    one = one_scenario_targets(files)
    args = [
        "calibrate", str(files["scenario"]), "--targets", str(one), "--params",
        str(files["params"]), "--budget", "small", "--workers", "2",
    ]  # fmt: skip
    whole = tmp_path / "whole"
    proc = subprocess.run(
        [sys.executable, "-c", SMALL_CLI, *args, "--out", str(whole)],
        cwd=ROOT, env={**os.environ, "NO_COLOR": "1"}, capture_output=True, text=True,
        timeout=900,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    out = tmp_path / "killed"
    proc = subprocess.Popen(
        [sys.executable, "-c", SMALL_CLI, *args, "--out", str(out)],
        cwd=ROOT,
        env={**os.environ, "NO_COLOR": "1"},
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.monotonic() + 300
    first = out / cal.EVALUATIONS / "generation_000.parquet"
    while not first.exists() and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.02)
    proc.send_signal(signal.SIGTERM)
    _, stderr = proc.communicate(timeout=120)
    if proc.returncode == 0:
        pytest.skip("the calibration finished before it could be interrupted")
    assert proc.returncode == 143, stderr
    assert "Traceback" not in stderr
    assert f"resume with: agentsim calibrate --resume {out}" in stderr
    assert not (out / cal.POSTERIOR).exists()
    resumed = subprocess.run(
        [sys.executable, "-c", SMALL_CLI, "calibrate", "--resume", str(out), "--workers", "2"],
        cwd=ROOT, env={**os.environ, "NO_COLOR": "1"}, capture_output=True, text=True,
        timeout=900,
    )  # fmt: skip
    assert resumed.returncode == 0, resumed.stderr
    pd.testing.assert_frame_equal(evaluations_frame(out), evaluations_frame(whole))
    pd.testing.assert_frame_equal(
        pd.read_parquet(out / cal.POSTERIOR), pd.read_parquet(whole / cal.POSTERIOR)
    )


#: Known parameter values the slow recovery test generates its targets from.
TRUTH = {"flywheel.strength": 0.9, "capital.home_bias": 1.2}
#: Outcomes that respond to them at 24 months: the US capital and investment shares to
#: capital.home_bias; the US user share and lead to flywheel.strength.
RECOVERY_OUTCOMES = (
    CAPITAL,
    "us_investment_share_last_year",
    "us_user_share_last_year",
    "final_us_lead_ooms",
)
RECOVERY_SEEDS = range(8)


@pytest.fixture(scope="module")
def recovered(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[Target]]:
    """A small-budget calibration of two parameters against targets the model gave at
    :data:`TRUTH` (means over 8 seeds; tolerance one across-seed standard deviation, the
    spread of the single-seed simulations the calibration compares with them)."""
    folder = tmp_path_factory.mktemp("recovery")
    scenario = write(
        folder / "scenario.yaml",
        f"extends: {BASELINE}\nname: recovery\nsimulation: {{steps: 24}}\n"
        "talent: {n_researchers: 500}\n",
    )
    truth = load_config(scenario, overrides=TRUTH)
    table = pd.DataFrame([run(truth, seed=s).summary for s in RECOVERY_SEEDS])
    data = {
        name: {
            "outcome": name,
            "value": float(table[name].mean()),
            "tolerance": float(table[name].std()),
        }
        for name in RECOVERY_OUTCOMES
    }
    targets = targets_from_dict(data, outcome_names(), [SCENARIO])
    spec = UncertaintySpec.from_dict(
        {
            "parameters": {
                "flywheel.strength": {"distribution": "uniform", "low": 0.0, "high": 1.5},
                "capital.home_bias": {"distribution": "uniform", "low": 0.75, "high": 2.5},
            }
        }
    )
    problem = CalibrationProblem(
        {SCENARIO: config_to_dict(load_config(scenario))}, targets, spec, BUDGETS["small"], 0
    )
    problem.check()
    out = folder / "calibration"
    out.mkdir()
    with ProcessPool(2) as executor:
        run_calibration(
            problem, out, executor, scenario_ref="../scenario.yaml", budget_name="small"
        )
    return out, targets


@pytest.mark.slow
def test_a_small_calibration_recovers_known_parameters_and_its_scenario_the_predictions(
    recovered: tuple[Path, list[Target]],
) -> None:
    out, _ = recovered
    summary = pd.read_csv(out / cal.SUMMARY_CSV).set_index("parameter")
    for name, value in TRUTH.items():
        low, high = summary.loc[name, ["posterior_low", "posterior_high"]]
        assert low <= value <= high, (name, value, low, high)
    # the data say something about home bias: its interval is narrower than the prior's
    low, high = summary.loc["capital.home_bias", ["posterior_low", "posterior_high"]]
    assert high - low < 0.9 * (2.5 - 0.75)
    # (one test, not two: the calibration is the expensive part, and test workers do not
    # share fixtures) the calibrated scenario reproduces the predictive intervals
    _, targets = recovered
    config = load_config(out / cal.CALIBRATED)
    fit = pd.read_csv(out / cal.REPORT_CSV).set_index("target")
    table = pd.DataFrame([run(config, seed=100 + s).summary for s in range(8)])
    for target in targets:
        mean = table[target.outcome].mean()
        low, high = fit.loc[target.name, ["predictive_low", "predictive_high"]]
        assert low <= mean <= high, (target.name, mean, low, high)


# --------------------------------------------------------------------------- checks added
# after a new user's review


def test_compared_scenarios_must_share_the_clock(files: dict[str, Path], tmp_path: Path) -> None:
    longer = write(tmp_path / "long_trusted.yaml", f"extends: {TRUSTED}\nname: long\n")
    targets = write(
        tmp_path / "targets.yaml",
        f"scenarios:\n  trusted: {longer}\n"
        f"targets:\n  effect: {{outcome: {CAPITAL}, value: -0.02, tolerance: 0.02,\n"
        "           compare: [scenario, trusted]}\n",
    )
    out = tmp_path / "out"
    proc = cli(
        "calibrate", files["scenario"], "--targets", targets, "--params", files["params"],
        "--out", out,
    )  # fmt: skip
    assert_usage_error(proc, "compare", "simulation.steps")
    assert not out.exists()


def test_python_calibrate_refuses_bad_seed_and_workers_before_writing(
    files: dict[str, Path], tmp_path: Path
) -> None:
    for options, key in (({"root_seed": -1}, "--seed"), ({"workers": 0}, "workers")):
        out = tmp_path / f"out_{key.strip('-')}"
        with pytest.raises(ConfigError) as info:
            cal.calibrate(files["scenario"], files["targets"], files["params"], out, **options)
        assert info.value.key == key
        assert not out.exists()


def test_an_empty_budget_name_is_refused(files: dict[str, Path], tmp_path: Path) -> None:
    proc = cli(
        "calibrate", files["scenario"], "--targets", files["targets"], "--params",
        files["params"], "--budget", "", "--out", tmp_path / "out",
    )  # fmt: skip
    assert_usage_error(proc, "--budget")


def test_the_parameter_table_flags_a_posterior_piled_against_a_bound() -> None:
    spec = UncertaintySpec.from_dict(
        {
            "parameters": {
                "flywheel.strength": {"distribution": "uniform", "low": 0.0, "high": 1.5},
                "capital.home_bias": {"distribution": "uniform", "low": 0.75, "high": 2.5},
                "market.capability_sensitivity": {
                    "distribution": "loguniform",
                    "low": 1.0,
                    "high": 4.0,
                },
            }
        }
    )
    rng = np.random.default_rng(0)
    n = 400
    table = pd.DataFrame(
        {
            "flywheel.strength": rng.uniform(0.0, 1.5, n),  # the prior: uninformed
            "capital.home_bias": rng.uniform(1.5, 1.7, n),  # informed, inside
            "market.capability_sensitivity": rng.uniform(3.7, 4.0, n),  # piled at the top
            "weight": np.full(n, 1.0 / n),
        }
    )
    notes = dict(zip(spec.names, cal.parameter_table(table, spec)["note"], strict=True))
    assert notes == {
        "flywheel.strength": "",
        "capital.home_bias": "informed",
        "market.capability_sensitivity": "against the upper bound",
    }
    fit = pd.DataFrame(
        [{"target": "t", "outcome": "o", "value": 1.0, "reached": True, "source": ""}]
    )
    text = cal.report_markdown(fit, cal.parameter_table(table, spec), {"scenario": "s"})
    assert "**market.capability_sensitivity** is piled against the upper bound" in text

"""The experiment scripts run their batches through the same machinery as the batch commands:
the output folder checked first, one-line errors, resume."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from agentsim import store
from tests.test_cli import ROOT, assert_usage_error


def experiment(name: str, *args: str | Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(ROOT / "experiments" / f"{name}.py"), *map(str, args)],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env={**os.environ, "NO_COLOR": "1"},
        timeout=300,
    )


@pytest.mark.slow
def test_an_experiment_refuses_a_used_folder_and_resumes_one(tmp_path: Path) -> None:
    out = tmp_path / "policy_mix"
    first = experiment("policy_mix", "--runs", "2", "--workers", "1", "--out", out)
    assert first.returncode == 0, first.stderr
    runs = pd.read_parquet(out / store.RUNS)
    assert len(runs) == 8 and runs["error"].isna().all()
    assert_usage_error(
        experiment("policy_mix", "--runs", "2", "--workers", "1", "--out", out),
        "--out",
        "not empty",
    )
    again = experiment("policy_mix", "--runs", "2", "--workers", "1", "--out", out, "--resume")
    assert again.returncode == 0, again.stderr
    pd.testing.assert_frame_equal(pd.read_parquet(out / store.RUNS), runs)


def test_an_experiment_refuses_an_output_under_a_file(tmp_path: Path) -> None:
    blocker = tmp_path / "a_file"
    blocker.write_text("x\n", encoding="utf-8")
    proc = experiment("policy_mix", "--runs", "2", "--workers", "1", "--out", blocker / "out")
    assert_usage_error(proc, "--out", "is a file")


def test_the_calibrated_policy_effects_run_on_a_finished_calibration(tmp_path: Path) -> None:
    """The experiment takes the posterior of any finished calibration (--calibration), runs
    every policy on its draws with paired seeds and tables the debate's outcomes: trusted
    release lowers the US user share in the last year on every draw's seed means."""
    from agentsim.calibration import (
        SCENARIO,
        Budget,
        CalibrationProblem,
        load_targets,
        run_calibration,
    )
    from agentsim.executors import InProcess
    from agentsim.scenario_io import config_to_dict, load_config
    from agentsim.uncertainty import load_uncertainty

    targets = tmp_path / "targets.yaml"
    targets.write_text(
        "targets:\n  growth: {outcome: frontier_growth_ooms_per_year, value: 1.15, "
        "tolerance: 0.15}\n",
        encoding="utf-8",
    )
    params = tmp_path / "params.yaml"
    params.write_text(
        "parameters:\n  capital.home_bias: {distribution: uniform, low: 1.0, high: 2.0}\n",
        encoding="utf-8",
    )
    folder = tmp_path / "calibration"
    folder.mkdir()
    config = config_to_dict(load_config("baseline", overrides={"simulation.steps": 12}))
    problem = CalibrationProblem(
        {SCENARIO: config},
        load_targets(targets).targets,
        load_uncertainty(params),
        Budget(population=6, generations=1, predictive=2, max_evaluations=100),
    )
    with InProcess() as executor:
        run_calibration(problem, folder, executor, scenario_ref="baseline", budget_name="small")
    out = tmp_path / "effects"
    proc = experiment(
        "calibrated_policy_effects", "--calibration", folder, "--draws", "3", "--runs", "1",
        "--workers", "1", "--out", out,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    effects = pd.read_csv(out / "effects.csv")
    assert len(effects) == 3 * 6
    assert set(effects["policy"]) == {"trusted_release", "export_controls", "combined"}
    runs = pd.read_parquet(out / store.RUNS)
    assert len(runs) == 4 * 3 and runs["error"].isna().all()
    assert runs.groupby("scenario")["seed"].apply(sorted).apply(tuple).nunique() == 1
    users = effects[
        (effects["policy"] == "trusted_release")
        & effects["outcome"].str.startswith("US share of AI users")
    ]
    assert (users["rel_high_90"] < 0).all()

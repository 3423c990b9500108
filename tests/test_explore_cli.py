"""The explore, sensitivity and discover commands end to end: stored tables, paired seeds,
identical results across executors and after a resume, and one-line errors on bad input."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from agentsim import store
from tests.test_cli import ROOT, assert_usage_error, cli, snapshot

BASELINE = ROOT / "configs" / "baseline.yaml"
TRUSTED = ROOT / "configs" / "trusted_release.yaml"
SMALL = ["--set", "simulation.steps=6", "--set", "talent.n_researchers=200"]


@pytest.fixture(scope="module")
def spec(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("spec") / "two.yaml"
    path.write_text(
        "parameters:\n"
        "  flywheel.strength: {distribution: uniform, low: 0.0, high: 1.5}\n"
        "  market.price_erosion: {distribution: uniform, low: 0.1, high: 0.5}\n"
        "  capital.policy_risk_aversion: {distribution: uniform, low: 0.5, high: 2.0}\n",
        encoding="utf-8",
    )
    return path


def explore(out: Path, spec: Path, *extra: str) -> None:
    proc = cli(
        "explore", BASELINE, TRUSTED, "--uncertainty", spec, "--samples", "4", "--seeds", "2",
        *SMALL, "--out", out, *extra,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr


@pytest.fixture(scope="module")
def explored(tmp_path_factory: pytest.TempPathFactory, spec: Path) -> Path:
    out = tmp_path_factory.mktemp("explore") / "batch"
    explore(out, spec, "--workers", "1")
    return out


def test_explore_stores_one_row_per_sample_scenario_and_seed(explored: Path) -> None:
    table = pd.read_parquet(explored / "experiments.parquet")
    assert len(table) == 4 * 2 * 2
    assert list(table.columns[:8]) == [
        "run_id", "sample", "scenario", "replicate", "seed",
        "flywheel.strength", "market.price_erosion", "capital.policy_risk_aversion",
    ]  # fmt: skip
    assert {"final_us_lead_ooms", "overtaken", "error"} <= set(table.columns)
    assert table["error"].isna().all()
    # paired: the same sample has the same parameters and seeds under both scenarios
    a = table[table["scenario"] == "baseline"].set_index(["sample", "replicate"])
    b = table[table["scenario"] == "trusted_release"].set_index(["sample", "replicate"])
    pd.testing.assert_series_equal(a["seed"], b["seed"])
    pd.testing.assert_series_equal(a["flywheel.strength"], b["flywheel.strength"])
    assert a["flywheel.strength"].nunique() == 4
    manifest = store.read_manifest(explored)
    assert manifest["kind"] == "explore" and manifest["design"]["design"] == "lhs"
    assert list(manifest["design"]["uncertainty"]["parameters"]) == list(table.columns[5:8])


def test_explore_is_identical_on_a_pool_and_after_a_resume(
    explored: Path, spec: Path, tmp_path: Path
) -> None:
    pooled = tmp_path / "pooled"
    explore(pooled, spec, "--workers", "2")
    expected = pd.read_parquet(explored / "experiments.parquet")
    pd.testing.assert_frame_equal(pd.read_parquet(pooled / "experiments.parquet"), expected)
    runs = pd.read_parquet(pooled / store.RUNS)
    store.write_parquet(pooled / store.RUNS, runs[runs["run_id"] < 5])  # as if killed
    (pooled / "experiments.parquet").unlink()
    proc = cli("explore", "--resume", pooled, "--workers", "2")
    assert proc.returncode == 0, proc.stderr
    pd.testing.assert_frame_equal(pd.read_parquet(pooled / "experiments.parquet"), expected)


@pytest.mark.slow
def test_explore_is_identical_on_a_dask_cluster(explored: Path, spec: Path, tmp_path: Path) -> None:
    out = tmp_path / "dask"
    explore(out, spec, "--scheduler", "local", "--workers", "2")
    pd.testing.assert_frame_equal(
        pd.read_parquet(out / "experiments.parquet"),
        pd.read_parquet(explored / "experiments.parquet"),
    )


def test_discover_finds_a_box_in_an_explore_folder(explored: Path, tmp_path: Path) -> None:
    table = pd.read_parquet(explored / "experiments.parquet")
    lead = table[table["scenario"] == "trusted_release"]["final_us_lead_ooms"]
    cut = float(lead.median())
    out = tmp_path / "discovery"
    proc = cli(
        "discover", explored, "--outcome", "final_us_lead_ooms", "--where", f"> {cut}",
        "--scenario", "trusted_release", "--out", out,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert (out / "prim_trajectory.csv").is_file() and (out / "prim_box.csv").is_file()
    assert (out / "prim_tradeoff.png").is_file() or list(out.glob("*.png"))


def test_sensitivity_writes_indices_noise_and_figures(spec: Path, tmp_path: Path) -> None:
    out = tmp_path / "morris"
    proc = cli(
        "sensitivity", TRUSTED, "--uncertainty", spec, "--method", "morris",
        "--outcome", "final_us_lead_ooms,final_us_user_share", "--against", BASELINE,
        "--samples", "2", "--seeds", "2", *SMALL, "--workers", "1", "--out", out,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    indices = pd.read_csv(out / "indices.csv")
    assert list(indices.columns) == [
        "outcome", "parameter", "method", "index", "estimate", "ci_low", "ci_high", "noise_floor",
        "below_noise_floor",
    ]  # fmt: skip
    assert set(indices["outcome"]) == {"final_us_lead_ooms", "final_us_user_share"}
    assert set(indices["index"]) == {"mu_star", "sigma", "mu"}
    noise = pd.read_csv(out / "noise.csv")
    assert noise["seed_noise_share"].between(0, 1).all()
    assert (out / "figures" / "sensitivity_final_us_lead_ooms.png").is_file()
    runs = pd.read_parquet(out / store.RUNS)
    assert len(runs) == 2 * (2 * 4) * 2  # 2 scenarios x 2 trajectories of 4 points x 2 seeds
    assert proc.stdout.count("noise floor") >= 2


@pytest.mark.parametrize(
    ("args", "fragments"),
    [
        (["sensitivity", TRUSTED, "--outcome", "final_us_lead"], ["--outcome", "did you mean"]),
        (["sensitivity", TRUSTED, "--method", "sobol", "--samples", "100"], ["power of 2"]),
        (["sensitivity", TRUSTED, "--samples", "1"], ["--samples", "at least 2"]),
        (["explore", BASELINE, "--design", "grid"], ["--design"]),
        (["explore", BASELINE, "--uncertainty", "nonexistent_spec"], ["nonexistent_spec"]),
    ],
)  # fmt: skip
def test_bad_input_is_one_line_and_writes_nothing(
    args: list, fragments: list[str], tmp_path: Path
) -> None:
    out = tmp_path / "out"
    assert_usage_error(cli(*args, "--out", out), *fragments)
    assert not out.exists()


def test_a_spec_parameter_outside_the_schema_is_refused(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text(
        "parameters:\n  flywheel.strenght: {distribution: uniform, low: 0, high: 1}\n",
        encoding="utf-8",
    )
    assert_usage_error(cli("explore", BASELINE, "--uncertainty", bad), "flywheel.strenght")


def test_discover_refuses_a_folder_that_is_not_an_explore_folder(tmp_path: Path) -> None:
    out = tmp_path / "mc"
    proc = cli("mc", BASELINE, "--runs", "1", "--workers", "1", *SMALL, "--out", out)
    assert proc.returncode == 0, proc.stderr
    before = snapshot(out)
    assert_usage_error(cli("discover", out, "--outcome", "overtaken", "--where", "true"), "explore")
    assert snapshot(out) == before


@pytest.mark.slow
def test_sensitivity_is_identical_on_a_pool_and_a_dask_cluster(spec: Path, tmp_path: Path) -> None:
    folders = []
    for name, executor in (("one", ["--workers", "1"]), ("dask", ["--scheduler", "local"])):
        out = tmp_path / name
        proc = cli(
            "sensitivity", TRUSTED, "--uncertainty", spec, "--method", "sobol",
            "--samples", "4", "--seeds", "2", "--against", BASELINE, *SMALL, *executor,
            "--out", out,
        )  # fmt: skip
        assert proc.returncode == 0, proc.stderr
        folders.append(out)
    one, dask = (pd.read_csv(folder / "indices.csv") for folder in folders)
    pd.testing.assert_frame_equal(one, dask)
    pd.testing.assert_frame_equal(
        pd.read_parquet(folders[0] / store.RUNS), pd.read_parquet(folders[1] / store.RUNS)
    )


def test_plot_draws_an_explore_folder_and_its_discovery(explored: Path) -> None:
    table = pd.read_parquet(explored / "experiments.parquet")
    cut = float(table["final_us_lead_ooms"].median())
    found = cli(
        "discover", explored, "--outcome", "final_us_lead_ooms", "--where", f"> {cut}",
        "--scenario", "baseline",
    )  # fmt: skip
    assert found.returncode == 0, found.stderr
    before = (explored / "discovery" / "prim_box.png").stat().st_mtime_ns
    proc = cli("plot", explored)
    assert proc.returncode == 0, proc.stderr
    figures = explored / "figures"
    assert (figures / "explore_outcomes.png").is_file()
    assert (figures / "fan_frontier_us.png").is_file()
    assert (explored / "discovery" / "prim_box.png").stat().st_mtime_ns > before


@pytest.mark.slow
def test_explore_killed_and_resumed_equals_an_uninterrupted_explore(
    spec: Path, tmp_path: Path
) -> None:
    import os
    import signal
    import subprocess
    import sys
    import time

    args = [
        "explore", str(BASELINE), str(TRUSTED), "--uncertainty", str(spec),
        "--samples", "30", "--seeds", "2", "--set", "simulation.steps=24",
        "--set", "talent.n_researchers=200", "--workers", "1",
    ]  # fmt: skip
    whole = tmp_path / "whole"
    assert cli(*args, "--out", whole).returncode == 0
    out = tmp_path / "killed"
    proc = subprocess.Popen(
        [sys.executable, "-m", "agentsim.cli", *args, "--out", str(out)],
        cwd=ROOT,
        env={**os.environ, "NO_COLOR": "1"},
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.monotonic() + 120
    while not list((out / store.PARTS).glob("part-*")) and time.monotonic() < deadline:
        time.sleep(0.02)
    proc.send_signal(signal.SIGTERM)
    _, stderr = proc.communicate(timeout=60)
    if proc.returncode == 0:
        pytest.skip("the explore finished before it could be interrupted")
    assert proc.returncode == 143, stderr
    assert f"resume with: agentsim explore --resume {out}" in stderr
    resumed = cli("explore", "--resume", out, "--workers", "1")
    assert resumed.returncode == 0, resumed.stderr
    pd.testing.assert_frame_equal(
        pd.read_parquet(out / "experiments.parquet"),
        pd.read_parquet(whole / "experiments.parquet"),
    )

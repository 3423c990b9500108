"""Batches of runs: seeds, plans, executors, resume after a kill, failures, manifests.

Covers :mod:`agentsim.ensemble`, :mod:`agentsim.executors` and the ``mc``, ``sweep`` and
``compare`` commands, on small configs (few researchers, few months) so the file stays fast.
"""

from __future__ import annotations

import hashlib
import json
import os
import platform
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import datetime
from importlib import metadata
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from typer.testing import CliRunner

import agentsim.ensemble as ensemble
from agentsim.cli import app
from agentsim.config import ConfigError
from agentsim.ensemble import (
    chunk_sizes,
    plan_comparison,
    plan_monte_carlo,
    plan_sweep,
    replicate_seeds,
    run_batch,
)
from agentsim.executors import DaskCluster, InProcess, ProcessPool
from agentsim.scenario_io import config_to_dict, load_config
from agentsim.store import completed_run_ids
from tests.conftest import scenario

ROOT = Path(__file__).resolve().parents[1]
CONFIGS = ROOT / "configs"
BASELINE = CONFIGS / "baseline.yaml"
TRUSTED = CONFIGS / "trusted_release.yaml"

SMALL = {"talent.n_researchers": 300, "simulation.steps": 12}
FRACTION = "policy.trusted_release.trusted_fraction"
ENABLED = "policy.trusted_release.enabled"


def small_config(**overrides: Any) -> dict[str, Any]:
    """The baseline as a dict, shrunk to a few hundred researchers and a year."""
    return config_to_dict(scenario("baseline", **{**SMALL, **overrides}))


def write_scenario(path: Path, name: str, steps: int) -> Path:
    path.write_text(
        f"extends: {BASELINE}\nname: {name}\ntalent:\n  n_researchers: 300\n"
        f"simulation:\n  steps: {steps}\n",
        encoding="utf-8",
    )
    return path


def cli(*args: str | Path, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "NO_COLOR": "1", "COLUMNS": "120"}
    return subprocess.run(
        [sys.executable, "-m", "agentsim.cli", *map(str, args)],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env=env,
        timeout=timeout,
    )


def invoke(*args: str | Path):
    """Run a command in this process (so monkeypatches reach the workers of --workers 1)."""
    return CliRunner().invoke(app, [str(a) for a in args])


def read_results(folder: Path) -> tuple[pd.DataFrame, pd.DataFrame]:
    """runs.parquet and timeseries.parquet, read back and sorted by run id (and step)."""
    runs = pd.read_parquet(folder / "runs.parquet")
    runs = runs.sort_values("run_id", kind="stable").reset_index(drop=True)
    series = pd.read_parquet(folder / "timeseries.parquet")
    series = series.sort_values(["run_id", "step"], kind="stable").reset_index(drop=True)
    return runs, series


def read_manifest(folder: Path) -> dict[str, Any]:
    return json.loads((folder / "manifest.json").read_text(encoding="utf-8"))


def hidden(folder: Path) -> list[str]:
    """Temporary files (and folders) anywhere under ``folder``: names starting with '.'."""
    return sorted(str(p.relative_to(folder)) for p in folder.rglob(".*"))


def snapshot(folder: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()
    }


def assert_results_equal(left: Path, right: Path) -> None:
    runs_l, series_l = read_results(left)
    runs_r, series_r = read_results(right)
    pd.testing.assert_frame_equal(runs_l, runs_r)
    pd.testing.assert_frame_equal(series_l, series_r)


def assert_usage_error(proc: subprocess.CompletedProcess[str], *fragments: str) -> str:
    """Exit code 2 and exactly one stderr line, ``error: ...``, holding every fragment."""
    assert proc.returncode == 2, (proc.returncode, proc.stdout, proc.stderr)
    assert "Traceback" not in proc.stderr, proc.stderr
    lines = proc.stderr.splitlines()
    assert len(lines) == 1, proc.stderr
    line = lines[0]
    assert line.startswith("error:"), line
    for fragment in fragments:
        assert fragment in line, line
    return line


@pytest.fixture(scope="module")
def small_yaml(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A scenario file: the baseline with 300 researchers over 12 months."""
    return write_scenario(tmp_path_factory.mktemp("scenario") / "small.yaml", "small", 12)


# --------------------------------------------------------------------------- seeds


def test_replicate_seeds_are_deterministic_and_distinct():
    seeds = replicate_seeds(2024, 200)
    assert seeds == replicate_seeds(2024, 200)
    assert len(seeds) == 200
    assert len(set(seeds)) == 200
    assert all(isinstance(s, int) and 0 <= s < 2**63 for s in seeds)


@pytest.mark.parametrize("k", [0, 1, 2, 7, 50])
def test_replicate_seeds_are_prefix_stable(k: int):
    assert replicate_seeds(5, k) == replicate_seeds(5, 50)[:k]


def test_replicate_seeds_depend_on_the_root():
    zero, one, big = (replicate_seeds(root, 30) for root in (0, 1, 2**40))
    assert zero != one != big != zero
    assert not set(zero) & set(one)
    assert not set(one) & set(big)


def test_plans_put_the_same_seeds_on_every_scenario_and_grid_point():
    config = small_config()
    seeds = replicate_seeds(3, 4)
    mc = plan_monte_carlo(config, 4, 3)
    assert [s.seed for s in mc.specs] == seeds
    assert [s.run_id for s in mc.specs] == [0, 1, 2, 3]
    sweep = plan_sweep(config, {FRACTION: [0.01, 0.1], ENABLED: [True]}, 4, 3)
    assert [s.run_id for s in sweep.specs] == list(range(8))
    for point in ({FRACTION: 0.01, ENABLED: True}, {FRACTION: 0.1, ENABLED: True}):
        specs = [s for s in sweep.specs if dict(s.grid) == point]
        assert [s.seed for s in specs] == seeds
        assert [s.replicate for s in specs] == [0, 1, 2, 3]
    other = {**small_config(**{ENABLED: True}), "name": "other"}
    compare = plan_comparison({"baseline": config, "other": other}, 4, 3)
    for name in ("baseline", "other"):
        assert [s.seed for s in compare.specs if s.scenario == name] == seeds
    assert len({s.run_id for s in compare.specs}) == 8


MONTHS = "policy.trusted_release.restricted_months"
TARGETS = "policy.export_controls.targets"


@pytest.mark.parametrize(
    ("grid", "fragments"),
    [
        ({FRACTION: [0.01, 0.010, 0.05]}, [FRACTION, "grid values 1 and 2", "0.01 and 0.01"]),
        ({MONTHS: [3, 6, 3.0]}, [MONTHS, "grid values 1 and 3", "3 and 3.0"]),
        ({TARGETS: [["CN"], ["EU"], ["CN"]]}, [TARGETS, "grid values 1 and 3", "['CN'] and"]),
        ({FRACTION: [0.05], "name": ["a", "b"]}, ["name", "grid values 1 and 2", "names aside"]),
    ],
    ids=["float-spellings", "int-and-float", "lists", "name-only"],
)
def test_a_sweep_whose_points_coincide_is_refused(grid: dict, fragments: list[str]):
    with pytest.raises(ConfigError) as caught:
        plan_sweep(small_config(), grid, 4, 0)
    message = str(caught.value)
    assert "\n" not in message
    for fragment in fragments:
        assert fragment in message, message


def test_a_sweep_with_a_key_without_values_is_refused():
    with pytest.raises(ConfigError, match=f"{FRACTION}: give at least one grid value"):
        plan_sweep(small_config(), {FRACTION: [], MONTHS: [3]}, 4, 0)


def test_a_comparison_of_one_config_twice_is_refused():
    config = small_config()
    with pytest.raises(ConfigError, match="'baseline' and 'copy' resolve to the same config"):
        plan_comparison({"baseline": config, "copy": {**config, "name": "copy"}}, 4, 0)
    spelled = small_config(**{MONTHS: 6.0})  # validated values are compared, not the text
    with pytest.raises(ConfigError, match="resolve to the same config"):
        plan_comparison({"a": small_config(**{MONTHS: 6}), "b": {**spelled, "name": "b"}}, 4, 0)


def test_plans_refuse_two_replicates_on_one_seed(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setattr(ensemble, "replicate_seeds", lambda root, runs: [5, 7, 5][:runs])
    config = small_config()
    other = {**small_config(**{ENABLED: True}), "name": "other"}
    for plan in (
        lambda: plan_monte_carlo(config, 3, 0),
        lambda: plan_sweep(config, {FRACTION: [0.01, 0.1]}, 3, 0),
        lambda: plan_comparison({"baseline": config, "other": other}, 3, 0),
    ):
        with pytest.raises(ConfigError, match="--seed: root seed 0 gives replicates 0 and 2"):
            plan()


def test_every_run_knows_its_design_point():
    config = small_config()
    other = {**small_config(**{ENABLED: True}), "name": "other"}
    sweep = plan_sweep(config, {FRACTION: [0.01, 0.1, 0.2]}, 2, 0)
    assert [s.point for s in sweep.specs] == [0, 0, 1, 1, 2, 2]
    compare = plan_comparison({"baseline": config, "other": other}, 2, 0)
    assert [s.point for s in compare.specs] == [0, 0, 1, 1]
    assert {s.point for s in plan_monte_carlo(config, 3, 0).specs} == {0}


# --------------------------------------------------------------------------- executors


def test_executors_and_chunk_sizes_give_identical_results(tmp_path: Path):
    plan = plan_monte_carlo(small_config(), runs=10, root_seed=11)
    variants = {
        "in_process": (InProcess(), None),
        "in_process_chunks_of_4": (InProcess(), 4),
        "process_pool": (ProcessPool(2), None),
        "dask_chunks_of_3": (DaskCluster("local", 2), 3),
    }
    calls: list[tuple[int, int]] = []
    for name, (executor, chunk_size) in variants.items():
        result = run_batch(
            plan,
            tmp_path / name,
            executor,
            chunk_size=chunk_size,
            progress=(lambda done, total: calls.append((done, total)))
            if name == "in_process"
            else None,
        )
        assert result.failures.empty, (name, result.failures["error"].tolist())
        assert read_manifest(tmp_path / name)["completed_run_ids"] == list(range(10))
        assert hidden(tmp_path / name) == []
        assert not (tmp_path / name / "parts").exists()
    assert calls[0] == (0, 10) and calls[-1] == (10, 10)
    assert [done for done, _ in calls] == sorted(done for done, _ in calls)

    runs, series = read_results(tmp_path / "in_process")
    assert runs["run_id"].tolist() == list(range(10))
    assert runs["seed"].tolist() == replicate_seeds(11, 10)
    assert runs["error"].isna().all()
    assert runs["final_us_user_share"].nunique() > 1  # the seeds matter
    assert len(series) == 10 * 13
    assert sorted(series["run_id"].unique()) == list(range(10))
    for name in variants:
        assert_results_equal(tmp_path / "in_process", tmp_path / name)


@pytest.mark.parametrize("todo", [0, 1, 7, 60, 200, 1000])
@pytest.mark.parametrize("workers", [1, 2, 8])
def test_chunk_sizes_cover_the_runs_and_shrink_at_the_end(todo: int, workers: int):
    sizes = chunk_sizes(todo, workers)
    assert sum(sizes) == todo
    assert all(1 <= size <= ensemble.MAX_CHUNK for size in sizes)
    if workers > 1 and todo:
        assert sizes == sorted(sizes, reverse=True)  # big chunks first, single runs last
        assert sizes[-1] == 1
    assert chunk_sizes(todo, workers, chunk_size=4) == [min(4, todo - i) for i in range(0, todo, 4)]
    with pytest.raises(ValueError, match="chunk_size"):
        chunk_sizes(todo, workers, chunk_size=0)


def test_command_line_pool_matches_in_process(tmp_path: Path, small_yaml: Path):
    """The command line runs a single thread, so its pool forks; same results as in-process."""
    plan = plan_monte_carlo(config_to_dict(load_config(small_yaml)), runs=5, root_seed=2)
    run_batch(plan, tmp_path / "in_process", InProcess())
    proc = cli("mc", small_yaml, "--runs", "5", "--seed", "2", "--workers", "2", "--out",
               tmp_path / "pool")  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert_results_equal(tmp_path / "in_process", tmp_path / "pool")
    assert hidden(tmp_path / "pool") == []


def test_executors_nest_and_start_once():
    pool = ProcessPool(2)
    with pool:
        first = pool._pool
        with pool:
            assert pool._pool is first
        assert pool._pool is first  # the inner exit does not stop the workers
        results = sorted(pool.imap_unordered(pow, [(2, 3), (3, 2), (1, 5)]))
        assert results == [1, 8, 9]
    assert pool._pool is None


POOL_HOLDER = """
import time
from agentsim.executors import ProcessPool
pool = ProcessPool(2)
with pool:
    print(*[p.pid for p in pool._pool._processes.values()], flush=True)
    time.sleep(120)
"""


@pytest.mark.skipif(sys.platform != "linux", reason="the kernel's parent-death signal")
def test_pool_workers_die_with_a_killed_batch():
    holder = subprocess.Popen(
        [sys.executable, "-c", POOL_HOLDER], stdout=subprocess.PIPE, text=True, cwd=ROOT
    )
    try:
        workers = [int(pid) for pid in holder.stdout.readline().split()]
        assert len(workers) == 2
    finally:
        holder.kill()
        holder.wait(timeout=30)
    deadline = time.monotonic() + 30
    while any(Path(f"/proc/{pid}").exists() for pid in workers):
        assert time.monotonic() < deadline, "workers outlived the killed batch"
        time.sleep(0.05)


def test_a_batch_folder_in_use_is_refused(tmp_path: Path):
    from agentsim import store

    plan = plan_monte_carlo(small_config(), runs=2, root_seed=0)
    out = tmp_path / "batch"
    with store.batch_lock(out):
        with pytest.raises(ConfigError, match="in use by another batch"):
            run_batch(plan, out, InProcess())
        assert sorted(p.name for p in out.iterdir()) == [store.LOCK]
    assert not out.exists()  # the lock made the folder and nothing else was written
    run_batch(plan, out, InProcess())
    assert hidden(out) == []


# --------------------------------------------------------------------------- resume


KILLED_RUNS = 60


def _started(folder: Path) -> bool:
    """A part file is on disk and the manifest lists at least one completed run."""
    if not list((folder / "parts").glob("part-*.parquet")):
        return False
    try:
        return bool(read_manifest(folder)["completed_run_ids"])
    except (OSError, ValueError, KeyError):
        return False


@pytest.fixture
def started() -> Iterator[list[subprocess.Popen]]:
    """Processes a test starts; any still running at the end are killed."""
    procs: list[subprocess.Popen] = []
    yield procs
    for proc in procs:
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=30)


def start(procs: list[subprocess.Popen], *args: str | Path) -> subprocess.Popen[str]:
    """Start the command line in the background."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "agentsim.cli", *map(str, args)],
        cwd=ROOT,
        env={**os.environ, "NO_COLOR": "1", "COLUMNS": "120"},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    procs.append(proc)
    return proc


def finish(proc: subprocess.Popen[str]) -> str:
    """Wait for a started command; it must succeed. Returns its stderr."""
    _, stderr = proc.communicate(timeout=120)
    assert proc.returncode == 0, stderr
    assert "Traceback" not in stderr
    return stderr


def test_resume_after_kill_matches_an_uninterrupted_batch(tmp_path: Path, started):
    config = write_scenario(tmp_path / "slowish.yaml", "slowish", 24)
    runs = str(KILLED_RUNS)
    reference, killed, copy = tmp_path / "reference", tmp_path / "killed", tmp_path / "copy"
    # the same batch, never interrupted (runs alongside)
    uninterrupted = start(
        started, "mc", config, "--runs", runs, "--workers", "1", "--out", reference
    )
    proc = subprocess.Popen(
        [sys.executable, "-m", "agentsim.cli", "mc", str(config), "--runs", runs,
         "--workers", "1", "--out", str(killed)],
        cwd=ROOT,
        env={**os.environ, "NO_COLOR": "1"},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )  # fmt: skip
    started.append(proc)
    deadline = time.monotonic() + 90
    while not _started(killed):
        assert proc.poll() is None, "the batch ended before it could be killed"
        assert time.monotonic() < deadline, "the batch wrote no part file in time"
        time.sleep(0.002)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(timeout=30)
    assert proc.returncode == -signal.SIGKILL

    manifest = read_manifest(killed)
    completed = manifest["completed_run_ids"]
    assert 0 < len(completed) < KILLED_RUNS
    assert set(completed) <= completed_run_ids(killed) < set(range(KILLED_RUNS))
    assert manifest["finished"] is None
    assert not (killed / "runs.parquet").exists()
    shutil.copytree(killed, copy)

    resumes = [  # from the folder alone (it holds the plan), in-process and on a pool
        start(started, "mc", "--resume", killed, "--workers", "1"),
        start(started, "mc", "--resume", copy, "--workers", "2"),
    ]
    for resumed in resumes:
        finish(resumed)
    finish(uninterrupted)

    for folder in (killed, copy):
        assert_results_equal(reference, folder)
        assert hidden(folder) == []
        assert not (folder / "parts").exists()
        resumed = read_manifest(folder)
        assert resumed["completed_run_ids"] == list(range(KILLED_RUNS))
        assert resumed["failed_run_ids"] == []
        assert resumed["finished"] is not None
        assert resumed["fingerprint"] == read_manifest(reference)["fingerprint"]
    frame, series = read_results(killed)
    assert frame["run_id"].tolist() == list(range(KILLED_RUNS))
    assert len(series) == KILLED_RUNS * 25


def test_resuming_a_finished_batch_changes_nothing(tmp_path: Path):
    plan = plan_monte_carlo(small_config(), runs=4, root_seed=1)
    run_batch(plan, tmp_path / "batch", InProcess())
    before = read_results(tmp_path / "batch")
    result = run_batch(plan, tmp_path / "batch", InProcess(), resume=True)
    after = read_results(tmp_path / "batch")
    pd.testing.assert_frame_equal(before[0], after[0])
    pd.testing.assert_frame_equal(before[1], after[1])
    assert result.manifest["completed_run_ids"] == [0, 1, 2, 3]
    assert hidden(tmp_path / "batch") == []


# --------------------------------------------------------------------------- failures


FAILING_RUNS = 6
FAILING_REPLICATE = 2


def fail_on_seed(monkeypatch: pytest.MonkeyPatch, bad_seeds: set[int]) -> None:
    """Make the model raise for the given seeds (in this process)."""
    original = ensemble.run_model

    def flaky(config, seed=0, **kwargs):
        if seed in bad_seeds:
            raise RuntimeError(f"injected failure for seed {seed}")
        return original(config, seed=seed, **kwargs)

    monkeypatch.setattr(ensemble, "run_model", flaky)


def test_a_failing_run_is_recorded_and_the_batch_completes(tmp_path, monkeypatch):
    bad = replicate_seeds(0, FAILING_RUNS)[FAILING_REPLICATE]
    fail_on_seed(monkeypatch, {bad})
    plan = plan_monte_carlo(small_config(), FAILING_RUNS, 0)
    result = run_batch(plan, tmp_path / "batch", InProcess(), chunk_size=2)

    runs, series = read_results(tmp_path / "batch")
    pd.testing.assert_frame_equal(result.runs.reset_index(drop=True), runs)
    assert len(runs) == FAILING_RUNS
    failed = runs[runs["error"].notna()]
    assert failed["run_id"].tolist() == [FAILING_REPLICATE]
    row = failed.iloc[0]
    assert row["seed"] == bad
    assert row["error"] == f"RuntimeError: injected failure for seed {bad}"
    assert "injected failure" in row["traceback"]
    assert pd.isna(row["final_us_user_share"])
    ok = runs[runs["error"].isna()]
    assert len(ok) == FAILING_RUNS - 1
    assert ok["final_us_user_share"].between(0, 1).all()
    assert ok["traceback"].isna().all()
    assert sorted(series["run_id"].unique()) == ok["run_id"].tolist()
    assert result.failures["run_id"].tolist() == [FAILING_REPLICATE]
    manifest = read_manifest(tmp_path / "batch")
    assert manifest["failed_run_ids"] == [FAILING_REPLICATE]
    assert manifest["completed_run_ids"] == list(range(FAILING_RUNS))


def test_cli_reports_failed_runs_with_exit_1(tmp_path, monkeypatch, small_yaml):
    bad = replicate_seeds(0, FAILING_RUNS)[FAILING_REPLICATE]
    fail_on_seed(monkeypatch, {bad})
    out = tmp_path / "batch"
    result = invoke("mc", small_yaml, "--runs", FAILING_RUNS, "--workers", "1", "--out", out)
    assert result.exit_code == 1, result.output
    assert isinstance(result.exception, SystemExit), repr(result.exception)
    assert f"1 of {FAILING_RUNS} runs failed" in result.output
    assert str(bad) in result.output
    assert "injected failure" in result.output
    assert read_manifest(out)["failed_run_ids"] == [FAILING_REPLICATE]


def test_cli_reports_a_batch_where_every_run_failed(tmp_path, monkeypatch, small_yaml):
    fail_on_seed(monkeypatch, set(replicate_seeds(0, 3)))
    out = tmp_path / "batch"
    result = invoke("mc", small_yaml, "--runs", "3", "--workers", "1", "--out", out)
    assert result.exit_code == 1, result.output
    assert isinstance(result.exception, SystemExit), repr(result.exception)
    assert "3 of 3 runs failed" in result.output
    assert read_manifest(out)["failed_run_ids"] == [0, 1, 2]


# --------------------------------------------------------------------------- manifest


def test_mc_manifest_records_how_the_batch_was_made(tmp_path: Path, small_yaml: Path):
    out = tmp_path / "batch"
    before = datetime.now().astimezone()
    result = invoke("mc", small_yaml, "--runs", "6", "--seed", "5", "--workers", "1", "--out", out)
    assert result.exit_code == 0, result.output
    manifest = read_manifest(out)

    config = config_to_dict(load_config(small_yaml))
    assert manifest["kind"] == "mc"
    assert manifest["fingerprint"] == plan_monte_carlo(config, 6, 5).fingerprint()
    assert re.fullmatch(r"[0-9a-f]{64}", manifest["fingerprint"])
    assert manifest["root_seed"] == 5
    assert manifest["runs_per_point"] == 6
    assert manifest["total_runs"] == 6
    assert manifest["grid"] == {}
    assert manifest["configs"] == {"small": config}
    assert manifest["configs"]["small"]["talent"]["n_researchers"] == 300
    expected_hash = hashlib.sha256(json.dumps(config, sort_keys=True).encode()).hexdigest()
    assert manifest["config_hashes"] == {"small": expected_hash}
    versions = manifest["versions"]
    assert versions["python"] == platform.python_version()
    for package in ("mesa", "numpy", "pandas"):
        assert versions[package] == metadata.version(package)
    assert "git_commit" in manifest
    assert manifest["git_commit"] is None or re.fullmatch(r"[0-9a-f]{40}", manifest["git_commit"])
    assert manifest["git_dirty"] in (True, False) if manifest["git_commit"] else True
    # the lock list: every installed distribution with its version
    assert manifest["packages"]["numpy"] == metadata.version("numpy")
    assert manifest["packages"]["pandas"] == metadata.version("pandas")
    assert len(manifest["packages"]) >= 20
    assert isinstance(manifest["command"], str) and manifest["command"]
    started = datetime.fromisoformat(manifest["started"])
    finished = datetime.fromisoformat(manifest["finished"])
    assert started.tzinfo is not None and finished.tzinfo is not None
    assert before.replace(microsecond=0) <= started <= finished <= datetime.now().astimezone()
    assert manifest["completed_run_ids"] == list(range(6))
    assert manifest["failed_run_ids"] == []

    runs, _ = read_results(out)
    assert runs["seed"].tolist() == replicate_seeds(5, 6)
    assert (runs["scenario"] == "small").all()
    assert sorted(p.name for p in out.iterdir()) == [
        "manifest.json",
        "runs.parquet",
        "summary.csv",
        "summary.md",
        "summary.tex",
        "timeseries.parquet",
    ]


# --------------------------------------------------------------------------- sweep, compare


def test_sweep_runs_every_grid_point_on_the_same_seeds(tmp_path: Path, small_yaml: Path):
    out = tmp_path / "sweep"
    result = invoke(
        "sweep",
        small_yaml,
        "--grid",
        f"{FRACTION}=0.01,0.1",
        "--grid",
        f"{ENABLED}=true",
        "--runs",
        "3",
        "--workers",
        "1",
        "--out",
        out,
    )
    assert result.exit_code == 0, result.output
    runs, series = read_results(out)
    assert len(runs) == 6
    assert {FRACTION, ENABLED} <= set(runs.columns)
    assert runs["error"].isna().all()
    assert sorted(runs[FRACTION].unique()) == [0.01, 0.1]
    assert runs[ENABLED].astype(bool).all()
    seeds = replicate_seeds(0, 3)
    for _, point in runs.groupby(FRACTION):
        assert point.sort_values("replicate")["seed"].tolist() == seeds
        assert point["replicate"].tolist() == [0, 1, 2]
    assert runs["point"].tolist() == [0, 0, 0, 1, 1, 1]
    assert sorted(series["run_id"].unique()) == list(range(6))
    manifest = read_manifest(out)
    assert manifest["kind"] == "sweep"
    assert manifest["total_runs"] == 6
    assert manifest["grid"] == {FRACTION: [0.01, 0.1], ENABLED: [True]}


def test_compare_writes_paired_differences(tmp_path: Path):
    out = tmp_path / "compare"
    result = invoke(
        "compare",
        BASELINE,
        TRUSTED,
        "--set",
        "talent.n_researchers=300",
        "--set",
        "simulation.steps=12",
        "--runs",
        "4",
        "--workers",
        "1",
        "--out",
        out,
    )
    assert result.exit_code == 0, result.output
    table = pd.read_csv(out / "comparison.csv")
    assert {"outcome", "difference", "ci_low", "ci_high", "effect_size_dz", "n_pairs"} <= set(
        table.columns
    )
    row = table.set_index("outcome").loc["final_us_user_share"]
    assert row["difference"] < 0
    assert row["ci_low"] <= row["difference"] <= row["ci_high"]
    assert row["n_pairs"] == 4
    assert 0 <= row["p_value"] <= row["p_holm"] <= 1 and row["p_bh"] <= row["p_holm"]
    assert row["tests_in_family"] == table["p_holm"].notna().sum() <= table["p_value"].notna().sum()
    summary = pd.read_csv(out / "summary.csv").set_index("outcome")
    assert summary.loc["final_us_user_share", "unit"] == "share (0-1)"
    assert summary.loc["overtaken", "statistic"] == "proportion"
    assert "final\\_us\\_user\\_share" in (out / "summary.tex").read_text()
    assert "| final_us_user_share" in (out / "summary.md").read_text()
    survival = pd.read_csv(out / "survival.csv")
    assert set(survival["scenario"]) == {"baseline", "trusted_release"}
    assert (survival["events"] + survival["censored"] == 4).all()
    runs, _ = read_results(out)
    assert sorted(runs["scenario"].unique()) == ["baseline", "trusted_release"]
    seeds = replicate_seeds(0, 4)
    for _, group in runs.groupby("scenario"):
        assert group.sort_values("replicate")["seed"].tolist() == seeds
    assert read_manifest(out)["kind"] == "compare"
    assert hidden(out) == []


# --------------------------------------------------------------------------- bad input


@pytest.fixture(scope="module")
def finished_batch(tmp_path_factory: pytest.TempPathFactory, small_yaml: Path) -> Path:
    """A finished 3-run mc batch of small.yaml (root seed 0), as `mc small.yaml --runs 3`."""
    out = tmp_path_factory.mktemp("finished") / "batch"
    plan = plan_monte_carlo(config_to_dict(load_config(small_yaml)), 3, 0)
    run_batch(plan, out, InProcess())
    return out


@pytest.mark.parametrize(
    ("args", "fragments"),
    [
        (["mc", "{small}", "--runs", "0"], ["--runs", ">= 1", "0"]),
        (
            [
                "sweep",
                "{small}",
                "--grid",
                "policy.trusted_release.trusted_fracton=0.1,0.2",
                "--runs",
                "2",
            ],
            ["trusted_fracton", "did you mean 'trusted_fraction'"],
        ),
        (
            ["sweep", "{small}", "--grid", f"{FRACTION}=0.1,2", "--runs", "2"],
            [FRACTION, "<= 1", "2"],
        ),
        (["sweep", "{small}", "--grid", FRACTION, "--runs", "2"], ["--grid", "KEY=V1,V2"]),
        (["sweep", "{small}", "--grid", "=0.1", "--runs", "2"], ["--grid"]),
        (
            ["sweep", "{small}", "--grid", f"{FRACTION}=0.01,0.010,0.05", "--runs", "4"],
            [FRACTION, "grid values 1 and 2", "list each value once"],
        ),
        (["compare", "{small}", "{small}", "--runs", "2"], ["compare", "same config"]),
        (["mc", "--resume", "{empty}"], ["--resume", "manifest.json"]),
        (
            ["mc", "{small}", "--runs", "2", "--scheduler", "tcp://127.0.0.1:9"],
            ["--workers", "--scheduler"],
        ),
    ],
    ids=[
        "mc-runs-0",
        "sweep-unknown-key",
        "sweep-bad-value",
        "sweep-no-equals",
        "sweep-no-key",
        "sweep-coinciding-points",
        "compare-one-config-twice",
        "resume-without-manifest",
        "workers-and-scheduler",
    ],
)
def test_batch_bad_input_is_one_line_exit_2(args, fragments, small_yaml, tmp_path):
    empty = tmp_path / "empty"
    empty.mkdir()
    (empty / "notes.txt").write_text("not a batch\n", encoding="utf-8")
    out = tmp_path / "out"
    filled = [a.format(small=small_yaml, empty=empty) for a in args]
    if "--resume" not in filled:
        filled += ["--out", str(out)]
    proc = cli(*filled, "--workers", "1")
    assert_usage_error(proc, *fragments)
    assert not out.exists()
    assert sorted(p.name for p in empty.iterdir()) == ["notes.txt"]


def test_mc_into_a_non_empty_folder_is_refused(tmp_path: Path, small_yaml: Path):
    out = tmp_path / "out"
    out.mkdir()
    (out / "keep.txt").write_text("keep me\n", encoding="utf-8")
    proc = cli("mc", small_yaml, "--runs", "3", "--workers", "1", "--out", out)
    assert_usage_error(proc, "--out", "not empty")
    assert snapshot(out) == {"keep.txt": b"keep me\n"}


@pytest.mark.parametrize("with_config", [True, False], ids=["with-config", "folder-only"])
def test_resume_with_other_runs_is_refused(with_config, finished_batch, small_yaml):
    before = snapshot(finished_batch)
    config = [small_yaml] if with_config else []
    proc = cli("mc", *config, "--runs", "5", "--resume", finished_batch, "--workers", "1")
    assert_usage_error(proc, "--resume")
    assert snapshot(finished_batch) == before


def test_unreachable_scheduler_is_one_line(tmp_path: Path, small_yaml: Path):
    """Nothing listens there: one error line naming the address, no traceback, nothing
    written (the exit code is the command line's choice for a failed executor)."""
    with socket.socket() as sock:  # a port nothing listens on
        sock.bind(("127.0.0.1", 0))
        address = f"tcp://127.0.0.1:{sock.getsockname()[1]}"
    out = tmp_path / "out"
    proc = cli("mc", small_yaml, "--runs", "2", "--scheduler", address, "--out", out)
    assert proc.returncode not in (0, None), proc.stderr
    assert "Traceback" not in proc.stderr, proc.stderr
    lines = proc.stderr.splitlines()
    assert len(lines) == 1, proc.stderr
    assert lines[0].startswith("error:"), lines[0]
    assert f"{address}: not a Dask scheduler or not reachable" in lines[0]
    assert not out.exists()


def test_progress_lines_print_once_per_tenth_of_the_batch() -> None:
    from agentsim.ensemble import ProgressLines

    lines: list[str] = []
    progress = ProgressLines("mc baseline", lines.append)
    for done in (20, 25, 29, 30, 31, 45, 100):  # a resume: 20 of 100 runs already stored
        progress(done, 100)
    assert [line.split(":")[1].split(" runs")[0].strip() for line in lines] == [
        "30/100",
        "45/100",
        "100/100",
    ]
    assert all("runs/s" in line and "ETA" in line for line in lines)

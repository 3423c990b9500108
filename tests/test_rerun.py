"""Replaying a stored batch from its manifest (``agentsim rerun``, :mod:`agentsim.rerun`):
identical replays of every kind of batch, tampered and short stored batches reported run by
run, one-line errors on bad input with nothing written, and the environment warning.

Batches are small (a few runs of a 300-researcher scenario over a year) and run in this
process (``--workers 1``), so the file stays fast.
"""

from __future__ import annotations

import json
import shutil
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from agentsim.cli import app
from agentsim.config import ConfigError
from agentsim.rerun import (
    DIFFERS_EXIT_CODE,
    NO_COLUMN,
    NO_ROW,
    NO_RUN,
    REPORT,
    REPORT_COLUMNS,
    compare_batches,
    environment_differences,
    environment_note,
    replan,
    replay,
    verdict,
)
from agentsim.store import BatchResult
from tests.test_cli import ROOT, imported_by, snapshot

BASELINE = ROOT / "configs" / "baseline.yaml"
FRACTION = "policy.trusted_release.trusted_fraction"
SMALL = ["--set", "simulation.steps=6", "--set", "talent.n_researchers=200"]


def invoke(*args: str | Path):
    """Run ``agentsim ARGS`` in this process (stdout and stderr kept apart)."""
    return CliRunner().invoke(app, [str(a) for a in args])


def assert_one_line_error(result, *fragments: str) -> str:
    """Exit code 2 and one stderr line, ``error: ...``, holding every fragment."""
    assert result.exit_code == 2, (result.stdout, result.stderr, result.exception)
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("error: "), lines[0]
    for fragment in fragments:
        assert fragment in lines[0], lines[0]
    return lines[0]


def write_scenario(path: Path, name: str, *extra: str) -> Path:
    """The baseline under another name, with 300 researchers over 12 months."""
    text = f"extends: {BASELINE}\nname: {name}\ntalent:\n  n_researchers: 300\n"
    text += "simulation:\n  steps: 12\n" + "".join(f"{line}\n" for line in extra)
    path.write_text(text, encoding="utf-8")
    return path


def read_manifest(folder: Path) -> dict[str, Any]:
    return json.loads((folder / "manifest.json").read_text(encoding="utf-8"))


def write_manifest(folder: Path, manifest: dict[str, Any]) -> None:
    (folder / "manifest.json").write_text(json.dumps(manifest, indent=2), encoding="utf-8")


def copy_batch(stored: Path, tmp_path: Path) -> Path:
    """A copy of a stored batch that a test may change."""
    copy = tmp_path / "stored"
    shutil.copytree(stored, copy)
    return copy


@pytest.fixture(scope="module")
def scenarios(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("scenarios")
    spec = folder / "spec.yaml"
    spec.write_text(
        "parameters:\n"
        "  flywheel.strength: {distribution: uniform, low: 0.0, high: 1.5}\n"
        "  market.price_erosion: {distribution: uniform, low: 0.1, high: 0.5}\n",
        encoding="utf-8",
    )
    return {
        "small": write_scenario(folder / "small.yaml", "small"),
        "trusted": write_scenario(
            folder / "trusted.yaml",
            "trusted",
            "policy:\n  trusted_release:\n    enabled: true",
        ),
        "spec": spec,
    }


#: How each stored batch is made (kind -> command line after the kind), and its run count.
BATCHES = {
    "mc": (["{small}", "--runs", "3", "--seed", "7"], 3),
    "sweep": (["{small}", "--grid", f"{FRACTION}=0.01,0.05", "--runs", "2"], 4),
    "compare": (["{small}", "{trusted}", "--runs", "2", "--seed", "3"], 4),
    "explore": (
        [str(BASELINE), "--uncertainty", "{spec}", "--samples", "2", "--seeds", "2", *SMALL],
        4,
    ),
    "sensitivity": (
        [str(BASELINE), "--uncertainty", "{spec}", "--samples", "2", "--seeds", "1", *SMALL],
        6,  # Morris: (2 parameters + 1) x 2 trajectories x 1 seed
    ),
}


@pytest.fixture(scope="module")
def stored(tmp_path_factory: pytest.TempPathFactory, scenarios: dict[str, Path]):
    """Finished batches of every kind, made by their commands (module-wide; never changed)."""
    made: dict[str, Path] = {}

    def batch(kind: str) -> Path:
        if kind not in made:
            args, _ = BATCHES[kind]
            out = tmp_path_factory.mktemp(kind) / "batch"
            filled = [a.format(**scenarios) for a in args]
            result = invoke(kind, *filled, "--workers", "1", "--out", out)
            assert result.exit_code == 0, (result.stdout, result.stderr, result.exception)
            made[kind] = out
        return made[kind]

    return batch


def test_rerun_is_listed_and_its_help_loads_nothing_heavy() -> None:
    output, heavy = imported_by("rerun", "--help")
    assert "--out" in output and "--workers" in output and "--scheduler" in output
    assert heavy == []
    assert "rerun" in invoke("--help").stdout


# --------------------------------------------------------------------------- identical


@pytest.mark.parametrize("kind", list(BATCHES))
def test_a_rerun_of_a_stored_batch_is_identical(kind: str, stored, tmp_path: Path) -> None:
    folder = stored(kind)
    before = snapshot(folder)
    new = tmp_path / "new"
    result = invoke("rerun", folder, "--out", new, "--workers", "1")
    assert result.exit_code == 0, (result.stdout, result.stderr, result.exception)
    runs = BATCHES[kind][1]
    assert f"identical: {runs} of {runs} runs, every column and every month" in result.stdout
    report = pd.read_csv(new / REPORT)
    assert list(report.columns) == list(REPORT_COLUMNS)
    assert report["run_id"].tolist() == list(range(runs))
    assert report["identical"].all()
    manifest, original = read_manifest(new), read_manifest(folder)
    assert manifest["kind"] == kind
    assert manifest["fingerprint"] == original["fingerprint"]
    assert manifest["rerun_of"] == str(folder)
    # the replay is the batch, byte for byte in its tables
    for table in ("runs.parquet", "timeseries.parquet"):
        pd.testing.assert_frame_equal(pd.read_parquet(new / table), pd.read_parquet(folder / table))
    assert snapshot(folder) == before  # the stored batch is only read


def test_replay_from_python(stored, tmp_path: Path) -> None:
    done = replay(stored("mc"), tmp_path / "new")
    assert done.identical
    assert done.verdict == "identical: 3 of 3 runs, every column and every month"
    assert (tmp_path / "new" / REPORT).is_file()
    assert len(done.rerun.runs) == 3


def test_replan_gives_the_recorded_plan(stored) -> None:
    for kind in ("mc", "sweep", "compare"):
        manifest = read_manifest(stored(kind))
        plan = replan(manifest)
        assert plan.kind == kind
        assert plan.fingerprint() == manifest["fingerprint"]
        runs = pd.read_parquet(stored(kind) / "runs.parquet")
        assert [s.run_id for s in plan.specs] == runs["run_id"].tolist()
        assert [s.seed for s in plan.specs] == runs["seed"].tolist()


# --------------------------------------------------------------------------- differences


def test_a_changed_float_is_reported_with_its_run_and_column(stored, tmp_path: Path) -> None:
    folder = copy_batch(stored("mc"), tmp_path)
    runs = pd.read_parquet(folder / "runs.parquet")
    row = runs.index[runs["run_id"] == 1][0]
    true = float(runs.loc[row, "final_us_lead_ooms"])
    changed = float(np.nextafter(true, np.inf))  # the smallest change a float can take
    runs.loc[row, "final_us_lead_ooms"] = changed
    runs.to_parquet(folder / "runs.parquet", index=False)

    new = tmp_path / "new"
    result = invoke("rerun", folder, "--out", new, "--workers", "1")
    assert result.exit_code == DIFFERS_EXIT_CODE, (result.stdout, result.stderr)
    assert (
        f"differs: 1 of 3 runs (run ids 1); first difference: run 1, column "
        f"final_us_lead_ooms, stored {changed!r}, rerun {true!r}"
    ) in result.stdout
    report = pd.read_csv(new / REPORT, keep_default_na=False).set_index("run_id")
    assert report["identical"].tolist() == [True, False, True]
    assert report.loc[1, "table"] == "runs"
    assert report.loc[1, "column"] == "final_us_lead_ooms"
    assert report.loc[1, "differing_columns"] == "final_us_lead_ooms"
    assert float(report.loc[1, "stored"]) == changed and float(report.loc[1, "rerun"]) == true


def test_a_changed_month_is_reported_with_its_step(stored, tmp_path: Path) -> None:
    folder = copy_batch(stored("mc"), tmp_path)
    series = pd.read_parquet(folder / "timeseries.parquet")
    at = (series["run_id"] == 2) & (series["step"] >= 5)
    series.loc[at, "us_user_share"] = 0.5
    series.to_parquet(folder / "timeseries.parquet", index=False)

    result = invoke("rerun", folder, "--out", tmp_path / "new", "--workers", "1")
    assert result.exit_code == DIFFERS_EXIT_CODE, (result.stdout, result.stderr)
    assert "differs: 1 of 3 runs (run ids 2); first difference: run 2, time series column " in (
        result.stdout
    )
    assert "us_user_share at step 5, stored 0.5, rerun 0." in result.stdout
    report = pd.read_csv(tmp_path / "new" / REPORT, keep_default_na=False).set_index("run_id")
    assert report.loc[2, ["table", "column", "step"]].tolist() == [
        "timeseries",
        "us_user_share",
        "5",
    ]
    assert report.loc[2, "differing_columns"] == "timeseries:us_user_share"


def test_a_run_missing_from_the_stored_batch_is_reported(stored, tmp_path: Path) -> None:
    folder = copy_batch(stored("compare"), tmp_path)
    for name in ("runs.parquet", "timeseries.parquet"):
        frame = pd.read_parquet(folder / name)
        frame[frame["run_id"] != 3].to_parquet(folder / name, index=False)

    result = invoke("rerun", folder, "--out", tmp_path / "new", "--workers", "1")
    assert result.exit_code == DIFFERS_EXIT_CODE, (result.stdout, result.stderr)
    assert (
        "differs: 1 of 4 runs (run ids 3); first difference: run 3 is missing from the stored batch"
    ) in result.stdout
    report = pd.read_csv(tmp_path / "new" / REPORT, keep_default_na=False).set_index("run_id")
    assert report.loc[3, ["identical", "column", "stored", "rerun"]].tolist() == [
        False,
        "run_id",
        NO_RUN,
        "3",
    ]


def batch(runs: dict[str, list], series: Any = None) -> BatchResult:
    """A batch in memory: its runs table and time series (columns or a frame)."""
    frame = pd.DataFrame(series if series is not None else {})
    return BatchResult(Path("."), pd.DataFrame(runs), frame, {})


def test_compare_counts_nan_as_equal_and_every_bit_of_a_float() -> None:
    def runs(x: list[float], error: list[str | None], count: list[int | None]) -> dict:
        return {
            "run_id": [0, 1, 2],
            "x": x,
            "error": pd.array(error, "string"),
            "count": pd.array(count, "Int64"),
            "flag": pd.array([True, None, False], "boolean"),
        }

    series = {
        "run_id": [0, 1, 2],
        "step": [0, 0, 0],
        "scenario": pd.Categorical(["a", "b", "a"]),
        "when": pd.to_datetime(["2026-01-01", None, "2026-01-01"]),
    }
    stored = batch(runs([np.nan, 0.0, 0.1], [None] * 3, [None, 1, 2]), series)
    same = batch(runs([np.nan, 0.0, 0.1], [None] * 3, [None, 1, 2]), series)
    report = compare_batches(stored, same)
    assert report["identical"].all()
    assert verdict(report) == "identical: 3 of 3 runs, every column and every month"

    later = float(np.nextafter(0.1, 1.0))  # one bit away
    other = batch(runs([np.nan, -0.0, later], [None, None, "boom"], [None, 1, 3]), series)
    report = compare_batches(stored, other).set_index("run_id")
    assert report["identical"].tolist() == [True, False, False]
    assert report.loc[1, ["column", "stored", "rerun"]].tolist() == ["x", "0.0", "-0.0"]
    assert report.loc[2, ["stored", "rerun"]].tolist() == [repr(0.1), repr(later)]
    assert report.loc[2, "differing_columns"] == "x;error;count"
    assert report.loc[1, "differing_columns"] == "x"

    renamed = batch(
        runs([np.nan, 0.0, 0.1], [None] * 3, [None, 1, 2]),
        {**series, "scenario": pd.Categorical(["a", "c", "a"])},
    )
    report = compare_batches(stored, renamed).set_index("run_id")
    assert report["identical"].tolist() == [True, False, True]
    assert report.loc[1, ["table", "column", "stored", "rerun"]].tolist() == [
        "timeseries",
        "scenario",
        "b",
        "c",
    ]


def test_compare_reports_missing_runs_columns_and_months() -> None:
    series = {"run_id": [0, 0, 1, 1], "step": [0, 1, 0, 1], "y": [1.0, 2.0, 3.0, 4.0]}
    stored = batch({"run_id": [0, 1, 2], "x": [1.0, 2.0, 3.0]}, series)
    rerun = batch(
        {"run_id": [0, 1], "x": [1.0, 2.0], "z": [5.0, 5.0]},
        {"run_id": [0, 0, 1], "step": [0, 1, 0], "y": [1.0, 2.0, 3.0]},
    )
    report = compare_batches(stored, rerun).set_index("run_id")
    assert report["identical"].tolist() == [False, False, False]
    assert report.loc[0, ["table", "column", "stored", "rerun"]].tolist() == [
        "runs",
        "z",
        NO_COLUMN,
        "5.0",
    ]
    assert report.loc[1, "differing_columns"] == "z;timeseries:step"
    assert report.loc[2, ["column", "stored", "rerun"]].tolist() == ["run_id", "2", NO_RUN]
    # without the extra column, run 1's first difference is its lost month
    report = compare_batches(stored, batch({"run_id": [0, 1], "x": [1.0, 2.0]}, rerun.timeseries))
    first = report.set_index("run_id").loc[1]
    assert [first["table"], first["column"], first["step"], first["rerun"]] == [
        "timeseries",
        "step",
        1,
        NO_ROW,
    ]
    assert "run 1, step 1 of its time series is missing from the rerun" in verdict(report)


def test_compare_refuses_a_run_stored_twice() -> None:
    twice = batch({"run_id": [0, 0], "x": [1.0, 1.0]})
    with pytest.raises(ConfigError, match="run 0 twice"):
        compare_batches(twice, batch({"run_id": [0], "x": [1.0]}))


def test_verdict_names_at_most_five_runs() -> None:
    stored = batch({"run_id": list(range(8)), "x": [0.0] * 8})
    rerun = batch({"run_id": list(range(8)), "x": [1.0] * 8})
    line = verdict(compare_batches(stored, rerun))
    assert line.startswith("differs: 8 of 8 runs (run ids 0, 1, 2, 3, 4 ...); first difference: ")
    assert line.endswith("run 0, column x, stored 0.0, rerun 1.0")


# --------------------------------------------------------------------------- bad input


def unfinished(folder: Path) -> None:
    (folder / "runs.parquet").unlink()


def calibration(folder: Path) -> None:
    write_manifest(folder, {**read_manifest(folder), "kind": "calibrate"})


def without(key: str):
    def edit(folder: Path) -> None:
        manifest = read_manifest(folder)
        del manifest[key]
        write_manifest(folder, manifest)

    return edit


def edited_config(folder: Path) -> None:
    manifest = read_manifest(folder)
    next(iter(manifest["configs"].values()))["simulation"]["steps"] = 11
    write_manifest(folder, manifest)


def damaged(folder: Path) -> None:
    (folder / "manifest.json").write_text("{", encoding="utf-8")


BAD_FOLDERS = {
    # case: (stored batch to copy, how to change it, fragments of the error line)
    "unfinished": ("mc", unfinished, ["holds no runs.parquet", "unfinished", "--resume"]),
    "damaged-manifest": ("mc", damaged, ["manifest.json cannot be read"]),
    "calibration": ("mc", calibration, ["'calibrate' folder", "mc, sweep, compare"]),
    "no-grid": ("sweep", without("grid"), ["manifest.json: grid: missing"]),
    "no-runs": ("mc", without("runs_per_point"), ["manifest.json: runs_per_point:"]),
    "no-design": ("explore", without("design"), ["manifest.json: design: lacks uncertainty"]),
    "edited-config": ("mc", edited_config, ["manifest.json: fingerprint: does not match"]),
}


@pytest.mark.parametrize("case", list(BAD_FOLDERS))
def test_a_batch_that_cannot_be_replayed_is_one_line_exit_2(case, stored, tmp_path) -> None:
    kind, change, fragments = BAD_FOLDERS[case]
    folder = copy_batch(stored(kind), tmp_path)
    change(folder)
    before = snapshot(folder)
    out = tmp_path / "new"
    assert_one_line_error(invoke("rerun", folder, "--out", out, "--workers", "1"), *fragments)
    assert not out.exists()
    assert snapshot(folder) == before


@pytest.mark.parametrize(
    ("case", "fragments"),
    [
        ("missing", ["no_such_batch", "folder not found"]),
        ("not-a-batch", ["holds no manifest.json", "not a batch folder"]),
        ("out-is-the-batch", ["--out", "is the batch being replayed"]),
        ("out-inside-the-batch", ["--out", "inside the batch being replayed"]),
        ("out-not-empty", ["--out", "is not empty"]),
        ("no-out", ["--out", "is required"]),
    ],
)
def test_bad_arguments_are_one_line_exit_2(case, fragments, stored, tmp_path) -> None:
    folder = stored("mc")
    before = snapshot(folder)
    other = tmp_path / "other"
    other.mkdir()
    (other / "notes.txt").write_text("keep me\n", encoding="utf-8")
    source, out = folder, tmp_path / "new"
    if case == "missing":
        source = tmp_path / "no_such_batch"
    elif case == "not-a-batch":
        source = other
    elif case == "out-is-the-batch":
        out = folder
    elif case == "out-inside-the-batch":
        out = folder / "rerun"
    elif case == "out-not-empty":
        out = other
    args = ["rerun", source, "--workers", "1"] + ([] if case == "no-out" else ["--out", out])
    assert_one_line_error(invoke(*args), *fragments)
    assert not (tmp_path / "new").exists()
    assert snapshot(folder) == before
    assert snapshot(other) == {"notes.txt": b"keep me\n"}


# --------------------------------------------------------------------------- environment


def test_a_batch_made_in_another_environment_gets_a_warning(stored, tmp_path: Path) -> None:
    folder = copy_batch(stored("mc"), tmp_path)
    manifest = read_manifest(folder)
    manifest["packages"]["numpy"] = "0.0.1"
    manifest["packages"]["made-up-package"] = "1.0"
    write_manifest(folder, manifest)

    result = invoke("rerun", folder, "--out", tmp_path / "new", "--workers", "1")
    assert result.exit_code == 0, (result.stdout, result.stderr)  # a warning, not an error
    assert "identical: 3 of 3 runs" in result.stdout
    warnings = [line for line in result.stderr.splitlines() if line.startswith("warning: ")]
    assert len(warnings) == 1, result.stderr
    assert f"numpy 0.0.1 (now {metadata.version('numpy')})" in warnings[0]
    assert "made-up-package 1.0 (now not installed)" in warnings[0]
    assert f"{folder} was made in another environment" in warnings[0]


def test_environment_differences_name_the_commit_python_and_packages() -> None:
    then = {
        "git_commit": "a" * 40,
        "versions": {"python": "3.12.1"},
        "packages": {"zeta": "1", "numpy": "2.0", "Typing_Extensions": "4.0", "gone": "1"},
    }
    now = {
        "git_commit": "b" * 40,
        "versions": {"python": "3.12.4"},
        "packages": {"zeta": "2", "numpy": "2.1", "typing-extensions": "4.0", "new": "3"},
    }
    assert environment_differences(then, now) == [
        "git commit aaaaaaa (now bbbbbbb)",
        "python 3.12.1 (now 3.12.4)",
        "numpy 2.0 (now 2.1)",
        "gone 1 (now not installed)",
        "new not installed (now 3)",
        "zeta 1 (now 2)",
    ]
    assert environment_differences(then, then) == []
    assert environment_note(then, "B", then) is None
    assert environment_differences({**then, "packages": None}, then) == ["no package list recorded"]
    many = {**now, "packages": {f"p{i}": "1" for i in range(8)}}
    note = environment_note({**now, "packages": {}}, "B", many)
    assert note is not None and note.startswith("B was made in another environment: p0 ")
    assert "p4 not installed (now 1) and 3 more packages" in note

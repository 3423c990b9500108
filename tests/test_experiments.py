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

"""Fault injection on the command line: nothing is lost, nothing is corrupted, nothing runs on.

Each test stands for one way a result could be lost or silently wrong: ``--overwrite`` on a
folder that is not a result, two batches on one folder, outputs that cannot be written,
damaged part files, resume options that would be ignored, a full disk, a scenario the model
cannot run, and a batch stopped by a signal.
"""

from __future__ import annotations

import errno
import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from agentsim import store
from agentsim.cli import app
from agentsim.config import ConfigError
from tests.test_cli import BASELINE, ROOT, assert_usage_error, cli, snapshot
from tests.test_faults_batch import alive, descendants

FAST = ["--steps", "2", "--no-figures"]
#: A small, quick batch: few months, few researchers, one process.
SMALL = ["--set", "simulation.steps=4", "--set", "talent.n_researchers=100", "--workers", "1"]


def user_folder(tmp_path: Path) -> Path:
    """A folder of someone's own files (not an agentsim result)."""
    folder = tmp_path / "home"
    (folder / "notes").mkdir(parents=True)
    (folder / "thesis.tex").write_text("\\documentclass{article}\n", encoding="utf-8")
    (folder / "notes" / "ideas.txt").write_text("ideas\n", encoding="utf-8")
    return folder


# --------------------------------------------------------------------------- --overwrite


def test_overwrite_refuses_a_folder_that_is_not_a_result(tmp_path: Path) -> None:
    folder = user_folder(tmp_path)
    before = snapshot(folder)
    proc = cli("run", BASELINE, *FAST, "--out", folder, "--overwrite")
    assert_usage_error(proc, "--overwrite", "not an agentsim result folder", "nothing was deleted")
    assert snapshot(folder) == before


def test_overwrite_replaces_a_run_folder(tmp_path: Path) -> None:
    out = tmp_path / "run"
    assert cli("run", BASELINE, *FAST, "--out", out).returncode == 0
    (out / "figures").mkdir(exist_ok=True)
    (out / "figures" / "stale.png").write_text("from the earlier run\n", encoding="utf-8")
    proc = cli("run", BASELINE, *FAST, "--seed", "1", "--out", out, "--overwrite")
    assert proc.returncode == 0, proc.stderr
    assert json.loads((out / "summary.json").read_text())["seed"] == 1
    assert not (out / "figures" / "stale.png").exists()


@pytest.mark.parametrize(
    ("files", "fragment"),
    [
        # a run's file names around someone's own file
        (
            {
                "summary.json": '{"seed": 0, "steps": 2}',
                "config.yaml": "name: x",
                "thesis.tex": "x",
            },
            "holds files agentsim did not write (thesis.tex)",
        ),
        # marker names with other contents: a browser extension's manifest, a stray summary
        ({"manifest.json": '{"manifest_version": 3}', "bg.js": "x"}, "not an agentsim result"),
        ({"summary.json": "{}", "config.yaml": "x: 1"}, "not an agentsim result"),
    ],
)
def test_overwrite_checks_what_the_files_hold_not_only_their_names(
    tmp_path: Path, files: dict[str, str], fragment: str
) -> None:
    folder = tmp_path / "project"
    folder.mkdir()
    for name, text in files.items():
        (folder / name).write_text(text, encoding="utf-8")
    before = snapshot(folder)
    assert_usage_error(cli("run", BASELINE, *FAST, "--out", folder, "--overwrite"), fragment)
    assert snapshot(folder) == before


def test_overwrite_refuses_a_folder_a_running_batch_holds(tmp_path: Path) -> None:
    out = tmp_path / "mc"
    assert cli("mc", BASELINE, "--runs", "1", *SMALL, "--out", out).returncode == 0
    before = snapshot(out)
    with store.batch_lock(out):
        proc = cli("run", BASELINE, *FAST, "--out", out, "--overwrite")
        assert_usage_error(proc, "in use by another batch", f"process {os.getpid()}")
        proc = cli("mc", BASELINE, "--runs", "1", *SMALL, "--out", out)
        assert_usage_error(proc, "in use by another batch")
    assert snapshot(out) == before


def test_run_into_the_working_folder(tmp_path: Path) -> None:
    here = tmp_path / "here"
    here.mkdir()
    proc = cli("run", BASELINE, *FAST, "--out", ".", cwd=here)
    assert proc.returncode == 0, proc.stderr
    assert (here / "summary.json").is_file()


def test_a_batch_missing_runs_at_the_end_says_so(tmp_path: Path) -> None:
    from agentsim.ensemble import plan_monte_carlo, run_batch
    from agentsim.executors import InProcess
    from agentsim.scenario_io import config_to_dict, load_config

    class LosingParts(InProcess):
        """Deletes the first saved part once the second chunk is done (a user's rm)."""

        def imap_unordered(self, fn, chunks, **options):
            for n, result in enumerate(super().imap_unordered(fn, chunks, **options)):
                if n == 1:
                    store.part_path(out, 0).unlink()
                yield result

    config = config_to_dict(load_config(BASELINE, overrides={"simulation.steps": 3}))
    out = tmp_path / "batch"
    with pytest.raises(ConfigError, match="1 of 3 runs are missing after the batch"):
        run_batch(plan_monte_carlo(config, 3, 0), out, LosingParts(), chunk_size=1)


@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        (["--workers", "100000"], "--workers: at most"),
        (["--runs", "1000000000000"], "more than the 10,000,000 allowed"),
    ],
)
def test_batches_beyond_any_machine_are_refused(args: list[str], fragment: str) -> None:
    assert_usage_error(cli("mc", BASELINE, *args, "--set", "simulation.steps=2"), fragment)


@pytest.mark.parametrize("command", ["mc", "explore"])
def test_a_batch_output_that_is_a_file_is_one_line(tmp_path: Path, command: str) -> None:
    blocker = tmp_path / "a_file"
    blocker.write_text("x\n", encoding="utf-8")
    assert_usage_error(cli(command, BASELINE, *SMALL, "--out", blocker), "is not a folder")


@pytest.mark.parametrize("command", ["mc", "sweep", "compare"])
def test_batches_never_write_into_a_folder_of_other_files(tmp_path: Path, command: str) -> None:
    folder = user_folder(tmp_path)
    before = snapshot(folder)
    args = {
        "mc": ["mc", BASELINE],
        "sweep": ["sweep", BASELINE, "--grid", "research.noise=0.1,0.2"],
        "compare": ["compare", BASELINE, ROOT / "configs" / "trusted_release.yaml"],
    }[command]
    proc = cli(*args, "--runs", "1", *SMALL, "--out", folder)
    assert_usage_error(proc, "--out", "is not empty")
    assert snapshot(folder) == before


def test_plot_refuses_a_folder_of_other_files(tmp_path: Path) -> None:
    run_dir = tmp_path / "run"
    assert cli("run", BASELINE, *FAST, "--out", run_dir).returncode == 0
    folder = user_folder(tmp_path)
    before = snapshot(folder)
    assert_usage_error(cli("plot", run_dir, "--out", folder), "--out", "did not draw")
    assert snapshot(folder) == before
    # a folder of figures drawn earlier is redrawn
    assert cli("plot", run_dir).returncode == 0
    assert cli("plot", run_dir).returncode == 0


@pytest.mark.parametrize(
    ("args", "fragments"),
    [
        (["run"], ["Missing argument", "agentsim run --help"]),
        (["run", "baseline", "--seed", "-1"], ["--seed", "greater than or equal to 0"]),
        (["mc", "baseline", "--runs", "abc"], ["--runs", "valid integer"]),
        (["run", "baseline", "--bogus"], ["No such option: --bogus"]),
        (["nosuch"], ["No such command", "agentsim --help"]),
    ],
)
def test_usage_errors_are_one_line(args: list[str], fragments: list[str]) -> None:
    assert_usage_error(cli(*args), *fragments)


# --------------------------------------------------------------------------- the folder lock


def test_the_lock_names_its_holder(tmp_path: Path) -> None:
    out = tmp_path / "batch"
    with store.batch_lock(out):
        holder = store.lock_holder(out)
        assert holder is not None
        assert holder["pid"] == os.getpid() and holder["host"] == socket.gethostname()
        holder_text = re.escape(f"process {os.getpid()} on {socket.gethostname()}")
        with pytest.raises(ConfigError, match=holder_text):
            with store.batch_lock(out):
                pass
    assert not out.exists()


def test_without_flock_a_dead_holders_lock_is_reclaimed_and_a_live_one_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(store, "fcntl", None)  # a file system without flock
    out = tmp_path / "batch"
    out.mkdir()
    dead = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"],
        text=True,
        capture_output=True,
        check=True,
    )
    stale = {"pid": int(dead.stdout), "host": socket.gethostname(), "since": "earlier"}
    (out / store.LOCK).write_text(json.dumps(stale), encoding="utf-8")
    with store.batch_lock(out):  # reclaimed: its holder is gone
        assert store.lock_holder(out)["pid"] == os.getpid()
        with pytest.raises(ConfigError, match=f"process {os.getpid()}"):
            with store.batch_lock(out):
                pass
    remote = {"pid": 1, "host": "another-host.example", "since": "earlier"}
    (out / store.LOCK).write_text(json.dumps(remote), encoding="utf-8")
    with pytest.raises(ConfigError, match=r"another-host\.example"):
        with store.batch_lock(out):
            pass


# --------------------------------------------------------------------------- before compute


@pytest.mark.parametrize("command", ["run", "mc"])
def test_an_output_under_a_file_is_refused_before_running(tmp_path: Path, command: str) -> None:
    blocker = tmp_path / "a_file"
    blocker.write_text("not a folder\n", encoding="utf-8")
    args = ["run", BASELINE, *FAST] if command == "run" else ["mc", BASELINE, "--runs", "1", *SMALL]
    assert_usage_error(cli(*args, "--out", blocker / "out"), "--out", "is a file")


@pytest.mark.skipif(not Path("/sys/kernel").is_dir(), reason="needs Linux sysfs")
@pytest.mark.parametrize("command", ["run", "mc", "plot"])
def test_an_output_that_cannot_be_written_is_refused_before_running(
    tmp_path: Path, command: str
) -> None:
    # sysfs refuses new folders, even to root: a read-only place on every Linux machine
    out = Path("/sys/kernel/agentsim-results")
    if command == "run":
        proc = cli("run", BASELINE, *FAST, "--out", out)
    elif command == "mc":
        proc = cli("mc", BASELINE, "--runs", "1", *SMALL, "--out", out)
    else:
        run_dir = tmp_path / "run"
        assert cli("run", BASELINE, *FAST, "--out", run_dir).returncode == 0
        proc = cli("plot", run_dir, "--out", out)
    assert_usage_error(proc, "--out", "cannot write in /sys/kernel")


# --------------------------------------------------------------------------- resume


def mc_batch(out: Path, runs: int = 4) -> subprocess.CompletedProcess[str]:
    return cli("mc", BASELINE, "--runs", str(runs), *SMALL, "--out", out)


def test_resume_refuses_options_it_would_ignore(tmp_path: Path) -> None:
    out = tmp_path / "mc"
    assert mc_batch(out).returncode == 0
    before = snapshot(out)
    assert_usage_error(
        cli("mc", "--resume", out, "--set", "research.noise=0.3"), "--set", "--resume"
    )
    assert_usage_error(cli("mc", "--resume", out, "--out", tmp_path / "x"), "--out", "--resume")
    assert_usage_error(cli("mc", BASELINE, "--resume", out), "CONFIG", "--resume")
    assert_usage_error(cli("mc", "--resume", out, "--runs", "9"), "--runs 4, not 9")
    assert_usage_error(cli("sweep", "--resume", out), "is a mc folder", "agentsim mc")
    assert not (tmp_path / "x").exists()
    assert snapshot(out) == before


@pytest.mark.parametrize("command", ["sweep", "compare"])
def test_sweep_and_compare_resume_from_the_folder_alone(tmp_path: Path, command: str) -> None:
    out = tmp_path / command
    if command == "sweep":
        args = ["sweep", BASELINE, "--grid", "research.noise=0.1,0.2"]
    else:
        args = ["compare", BASELINE, ROOT / "configs" / "trusted_release.yaml"]
    assert cli(*args, "--runs", "2", *SMALL, "--out", out).returncode == 0
    runs = pd.read_parquet(out / store.RUNS)
    # lose the last runs, as a killed batch would (its parts never written)
    kept = runs[runs["run_id"] < 2]
    store.write_parquet(out / store.RUNS, kept)
    proc = cli(command, "--resume", out, "--workers", "1")
    assert proc.returncode == 0, proc.stderr
    resumed = pd.read_parquet(out / store.RUNS)
    pd.testing.assert_frame_equal(resumed, runs)
    assert_usage_error(cli("mc", "--resume", out), f"is a {command} folder")


def test_a_damaged_part_is_named_and_its_runs_run_again(tmp_path: Path) -> None:
    whole = tmp_path / "whole"
    assert mc_batch(whole).returncode == 0
    runs = pd.read_parquet(whole / store.RUNS)
    series = pd.read_parquet(whole / store.TIMESERIES)
    # the same batch killed before gathering: two parts on disk, the second one damaged
    out = tmp_path / "mc"
    out.mkdir()
    manifest = json.loads((whole / store.MANIFEST).read_text())
    store.write_manifest(out, {**manifest, "finished": None, "completed_run_ids": []})
    for first in (0, 2):
        ids = [first, first + 1]
        rows = store._records(runs[runs["run_id"].isin(ids)])
        part = store.encode_part(rows, series[series["run_id"].isin(ids)])
        store.write_part(out, first, part)
    damaged = store.part_path(out, 2)
    damaged.write_bytes(damaged.read_bytes()[:40])  # truncated, as by a failing disk
    proc = cli("mc", "--resume", out, "--workers", "1")
    assert_usage_error(proc, str(damaged), "cannot be read", "rm ")
    assert damaged.is_file() and store.part_path(out, 0).is_file()  # nothing removed for you
    damaged.unlink()
    proc = cli("mc", "--resume", out, "--workers", "1")
    assert proc.returncode == 0, proc.stderr
    pd.testing.assert_frame_equal(pd.read_parquet(out / store.RUNS), runs)
    pd.testing.assert_frame_equal(pd.read_parquet(out / store.TIMESERIES), series)


# --------------------------------------------------------------------------- OS errors


def test_a_full_disk_is_named_and_the_batch_can_resume(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    out = tmp_path / "mc"
    real_write_part = store.write_part
    written: list[int] = []

    def fill_up(folder: Path, first_run_id: int, data: bytes) -> Path:
        if written:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        written.append(first_run_id)
        return real_write_part(folder, first_run_id, data)

    monkeypatch.setattr(store, "write_part", fill_up)
    monkeypatch.setattr("agentsim.ensemble.MAX_CHUNK", 2)
    runner = CliRunner()
    args = ["mc", str(BASELINE), "--runs", "4", *SMALL, "--out", str(out)]
    result = runner.invoke(app, args)
    assert result.exit_code == 1, result.output
    message = result.stderr if hasattr(result, "stderr") else result.output
    assert "No space left on device" in message
    assert "executor" not in message and "workers" not in message
    assert f"resume with: agentsim mc --resume {out}" in message
    assert "2 of 4 runs are saved" in message
    monkeypatch.setattr(store, "write_part", real_write_part)
    assert runner.invoke(app, ["mc", "--resume", str(out), "--workers", "1"]).exit_code == 0
    assert pd.read_parquet(out / store.RUNS)["run_id"].tolist() == [0, 1, 2, 3]


# --------------------------------------------------------------------------- the app


def test_viz_refuses_a_scenario_the_model_cannot_run_before_serving(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from agentsim import cli as cli_module
    from agentsim.model import AIRaceModel

    def broken(self: AIRaceModel) -> None:
        raise FloatingPointError("capacity became negative")

    served: list[object] = []
    monkeypatch.setattr(AIRaceModel, "step", broken)
    monkeypatch.setattr(cli_module, "_serve", lambda *args: served.append(args) or 0)
    result = CliRunner().invoke(app, ["viz", str(BASELINE)])
    assert result.exit_code == 2
    message = result.stderr if hasattr(result, "stderr") else result.output
    assert "cannot start" in message and "capacity became negative" in message
    assert "Traceback" not in message
    assert served == []


# --------------------------------------------------------------------------- signals


@pytest.mark.slow
@pytest.mark.skipif(sys.platform != "linux", reason="reads /proc")
@pytest.mark.parametrize(("signum", "code"), [(signal.SIGTERM, 143), (signal.SIGINT, 130)])
def test_a_signalled_batch_keeps_its_runs_says_how_to_resume_and_leaves_nothing_running(
    tmp_path: Path, signum: int, code: int
) -> None:
    out = tmp_path / "mc"
    runs = 60
    args = [
        sys.executable, "-m", "agentsim.cli", "mc", str(BASELINE), "--runs", str(runs),
        "--set", "simulation.steps=24", "--workers", "2", "--out", str(out),
    ]  # fmt: skip
    env = {**os.environ, "NO_COLOR": "1"}
    proc = subprocess.Popen(args, cwd=ROOT, env=env, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and len(list((out / store.PARTS).glob("part-*"))) < 2:
        time.sleep(0.05)
    children = descendants(proc.pid)  # pid -> start time
    assert children, "the batch started no workers"
    proc.send_signal(signum)
    _, stderr = proc.communicate(timeout=30)
    assert proc.returncode == code, stderr
    assert "Traceback" not in stderr
    assert f"resume with: agentsim mc --resume {out}" in stderr
    time.sleep(1)
    assert not [pid for pid, started in children.items() if alive(pid, started)]
    assert not (out / store.LOCK).exists()
    saved = store.completed_run_ids(out)
    assert 0 < len(saved) < runs
    resumed = cli("mc", "--resume", out, "--workers", "2")
    assert resumed.returncode == 0, resumed.stderr
    whole = tmp_path / "whole"
    assert cli(*args[3:-2], "--out", whole).returncode == 0
    pd.testing.assert_frame_equal(
        pd.read_parquet(out / store.RUNS), pd.read_parquet(whole / store.RUNS)
    )


@pytest.mark.slow
def test_a_scheduler_without_workers_is_waited_for_then_given_up(tmp_path: Path) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    dask = Path(sys.executable).parent / "dask"
    scheduler = subprocess.Popen(
        [str(dask), "scheduler", "--host", "127.0.0.1", "--port", str(port), "--no-dashboard"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                time.sleep(0.2)
        out = tmp_path / "mc"
        proc = cli(
            "mc", BASELINE, "--runs", "2", "--set", "simulation.steps=4",
            "--scheduler", f"tcp://127.0.0.1:{port}", "--worker-timeout", "2", "--out", out,
        )  # fmt: skip
    finally:
        scheduler.terminate()
        scheduler.wait(timeout=10)
    assert proc.returncode == 1, proc.stderr
    assert "waiting for Dask workers" in proc.stderr
    assert "no Dask workers joined within 2 s" in proc.stderr
    assert "Traceback" not in proc.stderr

"""The experiment scripts run their batches through the same machinery as the batch commands
(the output folder checked first, one-line errors, the executor's options), reuse or resume
what their folder holds of the same plan and refuse a folder of another plan, and print
their tables with intervals and n."""

from __future__ import annotations

import importlib.util
import json
import math
import os
import socket
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import numpy as np
import pandas as pd
import pytest

from agentsim import store
from agentsim.analysis import OVERTAKE
from tests.test_cli import ROOT, assert_usage_error, snapshot

EXPERIMENTS = ROOT / "experiments"
#: A short horizon keeps every batch here to a second or two.
SHORT = ("--set", "simulation.steps=12")


def experiment(name: str, *args: str | Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(EXPERIMENTS / f"{name}.py"), *map(str, args)],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env={**os.environ, "NO_COLOR": "1"},
        timeout=300,
    )


def script(name: str) -> ModuleType:
    """The experiment script ``name`` as a module (its ``main(argv)`` runs it in-process)."""
    if str(EXPERIMENTS) not in sys.path:
        sys.path.insert(0, str(EXPERIMENTS))  # the scripts import _common from their folder
    module_name = f"experiment_{name}"
    if module_name not in sys.modules:
        spec = importlib.util.spec_from_file_location(module_name, EXPERIMENTS / f"{name}.py")
        module = importlib.util.module_from_spec(spec)
        sys.modules[module_name] = module
        spec.loader.exec_module(module)
    return sys.modules[module_name]


def call(capsys: pytest.CaptureFixture[str], name: str, *args: str | Path) -> tuple[int, str, str]:
    """Run an experiment in-process: (exit code, stdout, stderr)."""
    try:
        script(name).main([str(a) for a in args])
        code = 0
    except SystemExit as stop:
        code = stop.code if isinstance(stop.code, int) else (0 if stop.code is None else 1)
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def one_error_line(code: int, err: str, *fragments: str) -> str:
    """Exit code 2 and stderr of exactly one line, ``error: ...``, holding every fragment."""
    assert code == 2, err
    lines = err.splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("error: "), lines[0]
    for fragment in fragments:
        assert fragment in lines[0], lines[0]
    return lines[0]


# --------------------------------------------------------------------------- the folder


def test_a_second_run_reuses_the_finished_batch(tmp_path: Path, capsys) -> None:
    """Run again with the same folder: nothing is recomputed (the stored files stay as they
    were, byte for byte and time stamp), one line says so, and the same tables print."""
    out = tmp_path / "decomposition"
    args = ("--runs", "2", "--workers", "1", *SHORT, "--out", out)
    code, first, err = call(capsys, "decomposition", *args)
    assert code == 0, err
    assert "reusing" not in err
    runs = pd.read_parquet(out / store.RUNS)
    assert len(runs) == 16 and runs["error"].isna().all()
    stamps = {p.name: p.stat().st_mtime_ns for p in (out / store.RUNS, out / "manifest.json")}
    before = snapshot(out)

    code, again, err = call(capsys, "decomposition", *args)
    assert code == 0, err
    assert [line for line in err.splitlines() if "reusing" in line] == [
        next(line for line in err.splitlines() if line.startswith("reusing the finished batch"))
    ]
    assert str(out) in err and "another --out" in err
    assert "runs (" not in err  # no progress lines: nothing ran
    assert {p: (out / p).stat().st_mtime_ns for p in stamps} == stamps
    assert snapshot(out) == before  # the tables are written again, to the same bytes
    assert again == first

    # --resume is still accepted and changes nothing
    code, resumed, err = call(capsys, "decomposition", *args, "--resume")
    assert code == 0, err
    assert "reusing the finished batch" in err and resumed == first


def test_an_interrupted_batch_is_resumed_by_running_again(
    tmp_path: Path, capsys, monkeypatch
) -> None:
    """A batch stopped part way (SIGTERM after its first chunk is saved) says to run the same
    command again; that resumes it, runs only what is missing, and gives the runs and table
    of a batch that was never stopped."""
    import signal

    from agentsim.executors import BatchInterrupted

    out = tmp_path / "decomposition"
    args = ("--runs", "4", "--workers", "1", *SHORT)  # 32 runs: chunks of 25 and 7
    write_part = store.write_part

    def stop_after_first(*a, **k):
        write_part(*a, **k)
        raise BatchInterrupted(signal.SIGTERM)

    with monkeypatch.context() as patch:
        patch.setattr(store, "write_part", stop_after_first)
        code, text, err = call(capsys, "decomposition", *args, "--out", out)
    assert code == 143 and text == ""
    line = one_error_line(2, err, "interrupted by SIGTERM", f"25 of 32 runs are saved in {out}")
    assert line.endswith(
        f"resume with: python experiments/decomposition.py {' '.join(args)} --out {out}"
    )
    assert not (out / store.RUNS).exists()

    code, _, err = call(capsys, "decomposition", *args, "--out", out)
    assert code == 0, err
    assert f"resuming the unfinished batch in {out}" in err
    progress = [line for line in err.splitlines() if "runs (" in line]
    assert len(progress) == 1 and "32/32 runs" in progress[0]  # from 25 on: only the 7 left
    whole = tmp_path / "whole"
    assert call(capsys, "decomposition", *args, "--out", whole)[0] == 0
    columns = ["run_id", "seed", "scenario", "final_us_user_share", "final_us_lead_ooms"]
    pd.testing.assert_frame_equal(
        pd.read_parquet(out / store.RUNS)[columns].sort_values("run_id", ignore_index=True),
        pd.read_parquet(whole / store.RUNS)[columns].sort_values("run_id", ignore_index=True),
    )
    pd.testing.assert_frame_equal(pd.read_csv(out / "table.csv"), pd.read_csv(whole / "table.csv"))


def test_a_folder_of_another_plan_is_refused(tmp_path: Path, capsys) -> None:
    """Another --runs, --seed or config, or another experiment, into a used folder: exit 2,
    one line naming what differs and how to start fresh, nothing printed, the folder left
    as it was."""
    out = tmp_path / "decomposition"
    base = ("--workers", "1", "--out", out)
    assert call(capsys, "decomposition", "--runs", "2", *SHORT, *base)[0] == 0
    before = snapshot(out)
    for name, args, said in [
        ("decomposition", ("--runs", "3", *SHORT), "(--runs 2, not 3)"),
        ("decomposition", ("--runs", "2", "--seed", "5", *SHORT), "(--seed 0, not 5)"),
        (
            "decomposition",
            ("--runs", "2", "--set", "simulation.steps=13"),
            "(other scenario settings (baseline:all_channels, baseline:no_capital_mobility, "
            "baseline:no_flywheel, ...: a config file or --set changed))",
        ),
        (
            "policy_mix",
            ("--runs", "2", *SHORT),
            "(other scenarios: it holds baseline:all_channels, baseline:no_capital_mobility, "
            "baseline:no_flywheel, ...)",
        ),
        ("severity_sweep", ("--runs", "2", *SHORT), "(it is a compare folder, not a sweep batch)"),
    ]:
        code, text, err = call(capsys, name, *args, *base)
        line = one_error_line(code, err, "--out", f"{out} holds a batch of another plan", said)
        assert line.endswith(f"to start fresh give another --out, or delete {out}")
        assert text == ""
        assert snapshot(out) == before


def test_a_folder_holding_something_else_is_refused(tmp_path: Path, capsys) -> None:
    out = tmp_path / "notes"
    out.mkdir()
    (out / "keep.txt").write_text("keep me\n", encoding="utf-8")
    code, _, err = call(capsys, "policy_mix", "--runs", "2", "--workers", "1", "--out", out)
    one_error_line(code, err, "--out", "holds no batch", "another --out")
    assert snapshot(out) == {"keep.txt": b"keep me\n"}


def test_an_experiment_refuses_an_output_under_a_file(tmp_path: Path) -> None:
    """As a script (a new process): the batch layer's check of the folder, one line."""
    blocker = tmp_path / "a_file"
    blocker.write_text("x\n", encoding="utf-8")
    proc = experiment("policy_mix", "--runs", "2", "--workers", "1", "--out", blocker / "out")
    assert_usage_error(proc, "--out", "is a file")


# --------------------------------------------------------------------------- options


def test_an_unreachable_scheduler_is_one_line(tmp_path: Path, capsys) -> None:
    """As ``agentsim mc --scheduler`` (tests/test_ensemble.py): one error line naming the
    address, a failing exit code, nothing written."""
    with socket.socket() as sock:  # a port nothing listens on
        sock.bind(("127.0.0.1", 0))
        address = f"tcp://127.0.0.1:{sock.getsockname()[1]}"
    out = tmp_path / "out"
    code, _, err = call(
        capsys, "decomposition", "--runs", "2", "--scheduler", address, "--out", out
    )
    assert code not in (0, None), err
    lines = err.splitlines()
    assert len(lines) == 1 and lines[0].startswith("error:"), err
    assert f"{address}: not a Dask scheduler or not reachable" in lines[0]
    assert "nothing was written" in lines[0]
    assert not out.exists()


@pytest.mark.parametrize(
    ("args", "fragments"),
    [
        (("--scheduler", "tcp://127.0.0.1:1", "--workers", "2"), ("--workers", "not both")),
        (("--scheduler", "nonsense"), ("--scheduler", "nonsense")),
        (("--runs", "0"), ("--runs", ">= 1")),
        (("--worker-timeout", "0"), ("--worker-timeout", ">= 1")),
        (("--set", "policy.trusted_release.trusted_fraction=0.3"), ("--set", "sweeps it")),
    ],
    ids=["workers-and-scheduler", "bad-address", "runs", "worker-timeout", "set-a-swept-key"],
)
def test_bad_options_are_one_line(tmp_path: Path, capsys, args, fragments) -> None:
    code, _, err = call(capsys, "severity_sweep", *args, "--out", tmp_path / "out")
    one_error_line(code, err, *fragments)
    assert not (tmp_path / "out").exists()


# --------------------------------------------------------------------------- tables


@pytest.fixture(scope="module")
def decomposition_batch(tmp_path_factory) -> Path:
    """A small decomposition batch (6 seeds, two years), run once for the tests below."""
    out = tmp_path_factory.mktemp("decomposition") / "batch"
    script("decomposition").main(
        ["--runs", "6", "--workers", "1", "--set", "simulation.steps=24", "--out", str(out)]
    )
    return out


def test_decomposition_shares_have_intervals(decomposition_batch: Path) -> None:
    table = pd.read_csv(decomposition_batch / "table.csv")
    module = script("decomposition")
    assert list(table.columns) == module.COLUMNS
    assert len(table) == len(module.VARIANTS) * len(module.OUTCOMES)
    assert (table["n_pairs"] == 6).all()
    assert (table["ci_low"] <= table["effect"]).all() and (
        table["effect"] <= table["ci_high"]
    ).all()
    channels = table[table["variant"] != "all_channels"]
    assert (channels["n_seeds"] == 6).all()
    bounded = channels.dropna(subset=["share", "share_low", "share_high"])
    assert len(bounded) >= 6, channels
    assert (bounded["share_low"] <= bounded["share"]).all()
    assert (bounded["share"] <= bounded["share_high"]).all()
    assert (bounded["share_low"] < bounded["share_high"]).any()  # not all degenerate
    # a share is defined exactly where the all-channels effect's interval excludes 0
    full = table[table["variant"] == "all_channels"].set_index("outcome")
    excludes = (full["ci_low"] > 0) | (full["ci_high"] < 0)
    expected = channels["outcome"].map(excludes) & channels["share"].notna()
    assert channels["share_defined"].tolist() == expected.tolist()
    assert not table.loc[table["variant"] == "all_channels", "share_defined"].any()
    # the point estimate is 1 - effect(off) / effect(all on)
    for row in channels.itertuples():
        assert row.share == pytest.approx(1 - row.effect / full.loc[row.outcome, "effect"])


def test_decomposition_bootstrap_is_reproducible(decomposition_batch: Path) -> None:
    module = script("decomposition")
    runs = pd.read_parquet(decomposition_batch / store.RUNS)
    stored = pd.read_csv(decomposition_batch / "table.csv")
    first = module.decomposition_table(runs, root_seed=0, resamples=999)
    again = module.decomposition_table(runs, root_seed=0, resamples=999)
    pd.testing.assert_frame_equal(first, again)
    other = module.decomposition_table(runs, root_seed=1, resamples=999)
    bounds = ["share_low", "share_high"]
    assert not np.allclose(first[bounds].fillna(0), other[bounds].fillna(0))
    pd.testing.assert_series_equal(first["share"], other["share"])  # the estimate: no resampling
    # the script's table is the one of its root seed
    table = module.decomposition_table(runs, root_seed=0)
    pd.testing.assert_frame_equal(table.reset_index(drop=True), stored, check_dtype=False)


def test_decomposition_prints_undefined_shares_as_na(decomposition_batch: Path, capsys) -> None:
    code, text, err = call(
        capsys,
        "decomposition",
        *("--runs", "6", "--workers", "1", "--set", "simulation.steps=24"),
        *("--out", decomposition_batch),
    )
    assert code == 0, err
    assert "reusing the finished batch" in err
    header = next(line for line in text.splitlines() if line.lstrip().startswith("variant"))
    assert header.split() == script("decomposition").COLUMNS
    rows = [line.split() for line in text.splitlines() if line.split()[:1] == ["all_channels"]]
    assert len(rows) == 5 and all(row[6:9] == ["n/a"] * 3 for row in rows)


def test_share_interval_of_a_known_share() -> None:
    """On seeds where switching the channel off halves the effect, the share is 0.5, inside
    its interval; the same generator seed gives the same interval."""
    share_interval = script("decomposition").share_interval
    noise = np.random.default_rng(7).normal(size=(4, 30)) * 0.05
    base_all, base_off = 1.0 + noise[0], 1.0 + noise[1]
    policy_all = base_all - 1.0 + noise[2]
    policy_off = base_off - 0.5 + noise[3]
    share, low, high = share_interval(
        base_all, policy_all, base_off, policy_off, np.random.default_rng(0)
    )
    expected = 1 - np.mean(policy_off - base_off) / np.mean(policy_all - base_all)
    assert share == pytest.approx(expected)
    assert low < 0.5 < high and high - low < 0.2
    arrays = (base_all, policy_all, base_off, policy_off)
    assert share_interval(*arrays, np.random.default_rng(0)) == (share, low, high)
    assert share_interval(*arrays, np.random.default_rng(1)) != (share, low, high)
    # nothing through the channel on any seed (off effect = all-on effect): the share is
    # 0 with an interval around it; an off effect of exactly 0: all of it, no spread
    assert share_interval(base_all, policy_all, base_all, policy_all, np.random.default_rng(0))[
        0
    ] == pytest.approx(0.0)
    assert share_interval(base_all, policy_all, base_off, base_off, np.random.default_rng(0)) == (
        1.0,
        1.0,
        1.0,
    )
    assert all(
        math.isnan(v) for v in share_interval(*(a[:2] for a in arrays), np.random.default_rng(0))
    )
    with pytest.raises(ValueError, match="one length"):
        share_interval(base_all, policy_all[:-1], base_off, policy_off, np.random.default_rng(0))


def test_severity_table_has_intervals_and_n(tmp_path: Path, capsys) -> None:
    out = tmp_path / "severity"
    module = script("severity_sweep")
    code, text, err = call(
        capsys, "severity_sweep", "--runs", "2", "--workers", "1", *SHORT, "--out", out
    )
    assert code == 0, err
    points = math.prod(len(v) for v in module.GRID.values())
    for name, n in (("table.csv", "n"), ("effects.csv", "n_pairs")):
        table = pd.read_csv(out / name)
        value = "estimate" if name == "table.csv" else "difference"
        assert len(table) == points * len(module.OUTCOMES), name
        assert list(table.columns[:3]) == list(module.SHORT.values())
        assert (table[n] == 2).all(), name
        assert table[[value, "ci_low", "ci_high"]].notna().all().all(), name
        assert (table["ci_low"] <= table[value]).all() and (table[value] <= table["ci_high"]).all()
    levels = pd.read_csv(out / "table.csv")
    overtake = levels[levels["outcome"] == OVERTAKE]
    assert overtake[["ci_low", "ci_high"]].stack().between(0, 1).all()  # Wilson, not t
    # the baseline ran on the sweep's seeds, in a folder of its own
    baseline = pd.read_parquet(module.baseline_dir(out) / store.RUNS)
    sweep = pd.read_parquet(out / store.RUNS)
    assert set(baseline["seed"]) == set(sweep["seed"]) and len(baseline) == 2
    # both printed tables: one row per point, intervals in brackets, n last
    tables = [block for block in text.split("\n\n") if block.strip()]
    assert len(tables) == 2
    for block in tables:
        lines = block.strip().splitlines()
        header = lines[1].split()
        assert header[:3] == list(module.SHORT.values()) and header[-1] == "n"
        assert "p_overtake" in header and "user_share" in header
        assert len(lines) == 2 + points
        assert all(line.count("[") == len(module.OUTCOMES) for line in lines[2:])
        assert all(line.split()[-1] == "2" for line in lines[2:])


def test_policy_mix_prints_intervals_and_n(tmp_path: Path, capsys) -> None:
    code, text, err = call(
        capsys, "policy_mix", "--runs", "3", "--workers", "1", *SHORT, "--out", tmp_path / "pm"
    )
    assert code == 0, err
    means, diffs = [block.strip().splitlines() for block in text.split("\n\n") if block.strip()]
    assert means[1].split()[-1] == "n" and "p_overtake" in means[1].split()
    assert len(means) == 2 + 4 and all(line.split()[-1] == "3" for line in means[2:])
    assert diffs[1].split() == ["scenario", "outcome", "difference", "ci_low", "ci_high", "n_pairs"]
    assert all(line.split()[-1] == "3" for line in diffs[2:])
    assert all(line.count("[") == 6 for line in means[2:])
    diffs_csv = pd.read_csv(tmp_path / "pm" / "differences.csv")
    assert {"difference", "ci_low", "ci_high", "n_pairs"} <= set(diffs_csv.columns)
    assert (tmp_path / "pm" / "table.csv").is_file()


def test_show_formats_numbers_to_three_significant_digits(capsys) -> None:
    common = script("decomposition").show.__globals__
    frame = pd.DataFrame(
        {
            "a_column_name_longer_than_any_terminal_would_show_in_full_" * 2: [1234.5678, math.nan],
            "b": [0.000123456, 2.0],
            "c": ["text", "more"],
        }
    )
    common["show"](frame, "title")
    text = capsys.readouterr().out
    assert "a_column_name_longer_than_any_terminal_would_show_in_full_" * 2 in text
    assert "1.23e+03" in text and "0.000123" in text and "n/a" in text
    assert "1234.5678" not in text and "0.000123456" not in text


# --------------------------------------------------------------------------- calibrated


def test_the_calibrated_policy_effects_run_on_a_finished_calibration(
    tmp_path: Path, capsys
) -> None:
    """The experiment takes the posterior of any finished calibration (--calibration), runs
    every policy on its draws with paired seeds and tables the debate's outcomes: trusted
    release lowers the US user share in the last year on every draw's seed means. Run again,
    it reuses the calibration and the batch."""
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
    assert "draws_defined" in proc.stdout and "draws" in proc.stdout.split()

    stamp = (out / store.RUNS).stat().st_mtime_ns
    code, _, err = call(
        capsys, "calibrated_policy_effects", "--calibration", folder, "--draws", "3",
        "--runs", "1", "--workers", "1", "--out", out,
    )  # fmt: skip
    assert code == 0, err
    assert f"reusing the finished calibration in {folder}" in err
    assert f"reusing the finished batch in {out}" in err
    assert (out / store.RUNS).stat().st_mtime_ns == stamp
    code, _, err = call(
        capsys, "calibrated_policy_effects", "--calibration", folder, "--draws", "4",
        "--runs", "1", "--workers", "1", "--out", out,
    )  # fmt: skip
    assert err.splitlines()[0] == f"reusing the finished calibration in {folder}"
    one_error_line(code, err.split("\n", 1)[1], "--out", "another plan", "another design")


def test_the_calibrated_policy_effects_refuse_a_calibration_of_another_budget(
    tmp_path: Path, capsys
) -> None:
    """The calibration beside --out is reused only when it was made with the same --budget
    and --seed: another one stops the experiment with one line, before anything runs."""
    folder = tmp_path / "effects_calibration"
    folder.mkdir()
    manifest = {"kind": "calibrate", "fingerprint": "x", "status": "complete"}
    manifest |= {"budget": "small", "root_seed": 0}
    (folder / "manifest.json").write_text(json.dumps(manifest), encoding="utf-8")
    code, _, err = call(
        capsys, "calibrated_policy_effects", "--budget", "medium", "--out", tmp_path / "effects"
    )
    one_error_line(code, err, str(folder), "--budget small, not medium", "another --out")
    code, _, err = call(
        capsys, "calibrated_policy_effects", "--seed", "3", "--out", tmp_path / "effects"
    )
    one_error_line(code, err, str(folder), "--seed 0, not 3")
    code, _, err = call(capsys, "calibrated_policy_effects", "--calibration", tmp_path / "nowhere")
    one_error_line(code, err, "--calibration", "holds no calibration")
    assert not (tmp_path / "effects").exists()

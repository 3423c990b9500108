"""Result folders (:mod:`agentsim.store`): atomic writes, run folders, part files, gathering,
the runs table's dtypes and the batch folder lock. No model runs here: results are made up."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest

from agentsim import store
from agentsim.config import ConfigError
from agentsim.scenario_io import load_config

ROOT = Path(__file__).resolve().parents[1]


def row(run_id: int, **values) -> dict:
    base = {"run_id": run_id, "replicate": run_id, "seed": 1000 + run_id, "scenario": "s"}
    return {**base, **values}


def series(run_ids: list[int], steps: int = 3) -> pd.DataFrame:
    frames = [
        pd.DataFrame(
            {
                "run_id": run_id,
                "step": np.arange(steps),
                "date": pd.date_range("2026-01-01", periods=steps, freq="MS"),
                "share": np.linspace(0, 1, steps) + run_id,
                "leader": ["US"] * steps,
            }
        )
        for run_id in run_ids
    ]
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()


ROWS = [
    row(0, share=0.5, overtaken=False, month=None, label="a", error=None),
    row(1, share=0.25, overtaken=True, month=7, label="b", error=None),
    row(2, error="RuntimeError: boom", traceback="Traceback ..."),
    row(3, share=np.float64(0.75), overtaken=np.bool_(True), month=np.int64(3), label="c"),
]


def hidden(folder: Path) -> list[str]:
    return sorted(str(p.relative_to(folder)) for p in folder.rglob(".*"))


# --------------------------------------------------------------------------- layering


def test_store_does_not_import_the_model():
    code = (
        "import sys, agentsim.store\n"
        "print(','.join(m for m in ('mesa', 'agentsim.model', 'agentsim.run', "
        "'agentsim.ensemble', 'matplotlib', 'scipy') if m in sys.modules))\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == ""


# --------------------------------------------------------------------------- atomic writes


def test_a_failed_write_leaves_the_old_file_and_no_temporary(tmp_path: Path):
    path = tmp_path / "out" / "table.csv"
    store.write_csv(path, pd.DataFrame({"a": [1, 2]}))
    before = path.read_bytes()

    def broken(tmp: Path) -> None:
        tmp.write_text("half", encoding="utf-8")
        raise OSError("disk full")

    with pytest.raises(OSError, match="disk full"):
        store.atomic_write(path, broken)
    assert path.read_bytes() == before
    assert hidden(tmp_path) == []
    assert pd.read_csv(path)["a"].tolist() == [1, 2]


def test_json_and_figures(tmp_path: Path):
    store.write_json(tmp_path / "a.json", {"x": np.int64(3), "y": float("nan"), "z": [np.bool_(1)]})
    assert (tmp_path / "a.json").read_text() == (
        '{\n  "x": 3,\n  "y": null,\n  "z": [\n    true\n  ]\n}\n'
    )
    calls = []
    figure = SimpleNamespace(
        savefig=lambda path, format, bbox_inches: (
            calls.append(format),
            Path(path).write_bytes(format.encode()),
        )
    )
    paths = store.write_figure(figure, tmp_path / "figures" / "frontier")
    assert [p.name for p in paths] == ["frontier.png", "frontier.pdf"]
    assert calls == ["png", "pdf"]
    assert (tmp_path / "figures" / "frontier.pdf").read_bytes() == b"pdf"


# --------------------------------------------------------------------------- run folders


def test_run_folder_round_trip_without_the_model(tmp_path: Path):
    result = SimpleNamespace(
        config=load_config(None),
        model_frame=series([0]).drop(columns="run_id"),
        lab_frame=pd.DataFrame({"step": [0], "lab": ["L"], "capability": [1.5]}),
        summary={"seed": 4, "overtaken": False, "overtake_month": None},
        flows=pd.DataFrame(
            [[0, 2], [1, 0]],
            index=pd.Index(["US", "CN"], name="from"),
            columns=pd.Index(["US", "CN"], name="to"),
        ),
        network=pd.DataFrame({"source": ["a"], "target": ["b"], "kind": ["x"], "weight": [1.0]}),
        events=pd.DataFrame(
            {"step": [3], "kind": ["release"], "lab": ["L"], "jurisdiction": ["US"]}
        ),
    )
    out = store.write_run(result, tmp_path / "run")
    assert sorted(p.name for p in out.iterdir()) == sorted(store.RUN_FILES)
    stored = store.read_run(out)
    pd.testing.assert_frame_equal(stored["model"], result.model_frame)
    pd.testing.assert_frame_equal(stored["events"], result.events)
    assert stored["summary"] == result.summary
    assert stored["flows"].loc["CN", "US"] == 1
    assert load_config(out / "config.yaml") == result.config
    with pytest.raises(ConfigError, match="not empty"):
        store.write_run(result, out)
    (out / "summary.json").unlink()
    with pytest.raises(ConfigError, match=r"not a run folder \(missing summary.json\)"):
        store.read_run(out)


def test_default_folders_are_new(tmp_path: Path):
    first = store.default_run_dir("baseline", 3, root=tmp_path)
    first.mkdir()
    second = store.default_run_dir("baseline", 3, root=tmp_path)
    assert second != first and second.name.startswith(first.name)
    assert first.name.startswith("baseline_") and first.name.endswith("_seed3")
    assert store.default_batch_dir("mc", "baseline", 0, root=tmp_path).name.startswith(
        "mc_baseline_"
    )
    assert store.experiment_dir("policy_mix", tmp_path) == tmp_path / "experiments" / "policy_mix"


# --------------------------------------------------------------------------- runs table


def test_runs_frame_types_come_from_the_values():
    frame = store.runs_frame(ROWS)
    assert list(frame.columns) == [
        "run_id",
        "replicate",
        "seed",
        "scenario",
        "share",
        "overtaken",
        "month",
        "label",
        "error",
        "traceback",
    ]
    dtypes = frame.dtypes.astype(str).to_dict()
    assert dtypes["run_id"] == dtypes["replicate"] == dtypes["seed"] == "int64"
    for column in ("share", "overtaken", "month"):  # numbers, booleans and None: float64
        assert dtypes[column] == "float64", column
    for column in ("scenario", "label", "error", "traceback"):
        assert isinstance(frame[column].dtype, pd.StringDtype), column
    assert frame["overtaken"].tolist()[:2] == [0.0, 1.0]
    assert np.isnan(frame.loc[0, "month"]) and frame.loc[3, "month"] == 3.0
    assert frame["error"].isna().tolist() == [True, True, False, True]
    assert frame.loc[2, "traceback"] == "Traceback ..."


def test_runs_frame_ignores_row_order_and_fills_missing_columns():
    reference = store.runs_frame(ROWS)
    pd.testing.assert_frame_equal(store.runs_frame(ROWS[::-1]), reference)
    only_failed = store.runs_frame([row(0, error="E: x", traceback="t")])
    assert list(only_failed.columns) == [*store.ID_COLUMNS, "scenario", "error", "traceback"]
    none_at_all = store.runs_frame([row(0, month=None), row(1, month=None)])
    assert none_at_all["month"].dtype == "float64"  # a column that is never set stays numeric
    assert none_at_all["error"].isna().all()
    mixed = store.runs_frame([row(0, key=0.5), row(1, key="all"), row(2, key=[1, 2])])
    assert mixed["key"].tolist() == ["0.5", "all", "[1, 2]"]  # any text makes a text column
    assert store.runs_frame([]).empty


# --------------------------------------------------------------------------- parts


def save_chunks(out: Path, chunks: list[list[int]]) -> None:
    store.prepare_batch_dir(out)
    by_id = {r["run_id"]: r for r in ROWS}
    for ids in chunks:
        ok = [i for i in ids if by_id[i].get("error") is None]
        store.write_part(out, min(ids), store.encode_part([by_id[i] for i in ids], series(ok)))


@pytest.mark.parametrize("chunks", [[[0, 1, 2, 3]], [[3], [1, 0], [2]], [[2], [0], [1], [3]]])
def test_gathered_results_do_not_depend_on_chunks(tmp_path: Path, chunks):
    out = tmp_path / "batch"
    save_chunks(out, chunks)
    assert store.completed_run_ids(out) == {0, 1, 2, 3}
    runs, timeseries = store.gather(out)
    assert not (out / store.PARTS).exists()
    pd.testing.assert_frame_equal(runs, store.runs_frame(ROWS))
    pd.testing.assert_frame_equal(pd.read_parquet(out / store.RUNS), runs)
    expected = series([0, 1, 3])
    pd.testing.assert_frame_equal(timeseries, expected)
    pd.testing.assert_frame_equal(pd.read_parquet(out / store.TIMESERIES), expected)
    assert store.completed_run_ids(out) == {0, 1, 2, 3}
    assert hidden(out) == []


def test_gather_merges_new_parts_with_gathered_results(tmp_path: Path):
    out = tmp_path / "batch"
    save_chunks(out, [[0, 1]])
    store.gather(out)
    save_chunks(out, [[1, 2], [3]])  # run 1 again, as after a kill between gather steps
    runs, timeseries = store.gather(out)
    pd.testing.assert_frame_equal(runs, store.runs_frame(ROWS))
    pd.testing.assert_frame_equal(timeseries, series([0, 1, 3]))
    again, _ = store.gather(out)  # nothing new: the files stay as they are
    pd.testing.assert_frame_equal(again, runs)


def test_read_batch(tmp_path: Path):
    out = tmp_path / "batch"
    with pytest.raises(ConfigError, match=r"manifest\.json"):
        store.read_batch(out)
    store.write_manifest(out, {"kind": "mc"})
    save_chunks(out, [[0, 1, 2]])
    with pytest.raises(ConfigError, match="unfinished"):
        store.read_batch(out)
    store.gather(out)
    batch = store.read_batch(out)
    assert batch.manifest == {"kind": "mc"}
    assert batch.runs["run_id"].tolist() == [0, 1, 2]
    assert batch.failures["run_id"].tolist() == [2]
    assert store.is_batch_dir(out) and not store.is_run_dir(out)


# --------------------------------------------------------------------------- lock


HOLD = """
import sys, time
from agentsim import store
with store.batch_lock(sys.argv[1]):
    print("locked", flush=True)
    time.sleep(120)
"""


def test_the_lock_keeps_out_other_processes_until_its_holder_dies(tmp_path: Path):
    out = tmp_path / "batch"
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLD, str(out)], stdout=subprocess.PIPE, text=True, cwd=ROOT
    )
    try:
        assert holder.stdout.readline().strip() == "locked"
        with pytest.raises(ConfigError, match="in use by another batch"):
            with store.batch_lock(out):
                pass
    finally:
        os.kill(holder.pid, signal.SIGKILL)
        holder.wait(timeout=30)
    assert (out / store.LOCK).exists()  # left by the killed holder, but no longer locked
    assert store.is_empty_batch_dir(out)
    with store.batch_lock(out):
        (out / "manifest.json").write_text("{}", encoding="utf-8")
    assert sorted(p.name for p in out.iterdir()) == ["manifest.json"]


def test_a_file_is_not_a_batch_folder(tmp_path: Path):
    path = tmp_path / "batch"
    path.write_text("x", encoding="utf-8")
    with pytest.raises(ConfigError, match="not a folder"):
        with store.batch_lock(path):
            pass
    assert path.read_text(encoding="utf-8") == "x"

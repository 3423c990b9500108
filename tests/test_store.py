"""Result folders (:mod:`agentsim.store`): atomic writes, run folders, part files, gathering,
the runs table's dtypes, the keys the time series carry, reading batch folders (old ones too)
and the batch folder lock. Most results here are made up; the batches of the last sections run
the model on tiny configs (300 researchers, 12 months, 3 runs)."""

from __future__ import annotations

import json
import os
import shutil
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


def keyed(frame: pd.DataFrame, scenario: str = "s") -> pd.DataFrame:
    """A made-up time series as a batch stores it: the run's scenario after ``run_id``."""
    frame = frame.copy()
    frame.insert(1, "scenario", pd.Categorical([scenario] * len(frame), categories=[scenario]))
    return frame


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


def test_runs_frame_dtypes():
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
    assert dtypes["share"] == "float64"  # floats and None (NaN)
    assert dtypes["overtaken"] == "boolean"  # declared; missing where run 2 failed
    assert dtypes["month"] == "Int64"  # integers (numpy's too) and None
    for column in ("scenario", "label", "error", "traceback"):
        assert isinstance(frame[column].dtype, pd.StringDtype), column
    assert frame["overtaken"].tolist() == [False, True, pd.NA, True]
    assert frame["month"].tolist() == [pd.NA, 7, pd.NA, 3]
    assert np.isnan(frame.loc[2, "share"]) and frame.loc[3, "share"] == 0.75
    assert frame["error"].isna().tolist() == [True, True, False, True]
    assert frame.loc[2, "traceback"] == "Traceback ..."


def test_declared_columns_keep_their_type_whatever_the_values():
    never = store.runs_frame([row(0, overtake_month=None, overtaken=None, talent_flow_US_CN=None)])
    assert never["overtake_month"].dtype == "Int64"  # no run reached an overtake: still Int64
    assert never["overtaken"].dtype == "boolean"
    assert never["talent_flow_US_CN"].dtype == "Int64"  # a prefix covers every pair
    # an integer outcome that is None in one run, an int in another and a whole float in an
    # older file: one Int64 column
    mixed = store.runs_frame(
        [
            row(0, trusted_release_repealed_month=None, point=0),
            row(1, trusted_release_repealed_month=7, point=0),
            row(2, trusted_release_repealed_month=9.0, point=1.0),
            row(3, overtaken=1.0),  # booleans stored as 0/1 floats by older versions
            row(4, overtaken=0),
        ]
    )
    assert mixed["trusted_release_repealed_month"].tolist() == [pd.NA, 7, 9, pd.NA, pd.NA]
    assert mixed["trusted_release_repealed_month"].dtype == "Int64"
    assert mixed["point"].dtype == "Int64"
    assert mixed["overtaken"].tolist() == [pd.NA, pd.NA, pd.NA, True, False]
    # a value the declared type cannot hold exactly: the values decide
    odd = store.runs_frame([row(0, overtake_month=2.5), row(1, steps="twelve")])
    assert odd["overtake_month"].dtype == "float64"
    assert isinstance(odd["steps"].dtype, pd.StringDtype)
    assert store.declared_kind("overtake_month") == "int"
    assert store.declared_kind("scenario") == "text"
    assert store.declared_kind("final_us_user_share") is None  # values decide (floats)


def test_undeclared_columns_take_the_type_of_their_values():
    frame = store.runs_frame(
        [
            row(0, flag=True, count=3, ratio=1, mixed=True, key=0.5),
            row(1, flag=np.bool_(False), count=np.int64(4), ratio=2.5, mixed=2, key="all"),
            row(2, flag=None, count=None, ratio=None, mixed=None, key=[1, 2]),
        ]
    )
    dtypes = frame.dtypes.astype(str).to_dict()
    assert dtypes["flag"] == "boolean"
    assert dtypes["count"] == "Int64"
    assert dtypes["ratio"] == dtypes["mixed"] == "float64"  # ints with floats, or with bools
    assert frame["key"].tolist() == ["0.5", "all", "[1, 2]"]  # any text makes a text column


def test_runs_frame_ignores_row_order_and_fills_missing_columns():
    reference = store.runs_frame(ROWS)
    pd.testing.assert_frame_equal(store.runs_frame(ROWS[::-1]), reference)
    only_failed = store.runs_frame([row(0, error="E: x", traceback="t")])
    assert list(only_failed.columns) == [*store.ID_COLUMNS, "scenario", "error", "traceback"]
    none_at_all = store.runs_frame([row(0, month=None), row(1, month=None)])
    assert none_at_all["month"].dtype == "float64"  # undeclared and never set: float64
    assert none_at_all["error"].isna().all()
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
    expected = keyed(series([0, 1, 3]))
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
    pd.testing.assert_frame_equal(timeseries, keyed(series([0, 1, 3])))
    files = {name: (out / name).read_bytes() for name in (store.RUNS, store.TIMESERIES)}
    again, same = store.gather(out)  # nothing new: the files stay as they are
    pd.testing.assert_frame_equal(again, runs)
    pd.testing.assert_frame_equal(same, timeseries)
    assert {name: (out / name).read_bytes() for name in files} == files


def test_parts_that_carry_keys_or_not_gather_alike(tmp_path: Path):
    """A part made from a gathered time series (keys included) beside one from a worker."""
    out = tmp_path / "batch"
    store.prepare_batch_dir(out)
    by_id = {r["run_id"]: r for r in ROWS}
    store.write_part(out, 0, store.encode_part([by_id[0]], keyed(series([0]), "stale")))
    store.write_part(out, 1, store.encode_part([by_id[1], by_id[2]], series([1])))
    store.write_part(out, 3, store.encode_part([by_id[3]], series([3])))
    runs, timeseries = store.gather(out)
    pd.testing.assert_frame_equal(runs, store.runs_frame(ROWS))
    pd.testing.assert_frame_equal(timeseries, keyed(series([0, 1, 3])))  # from the runs


def test_read_batch(tmp_path: Path):
    out = tmp_path / "batch"
    with pytest.raises(ConfigError, match="does not exist"):
        store.read_batch(out)
    out.mkdir()
    with pytest.raises(ConfigError, match=r"holds no manifest\.json: not a batch folder"):
        store.read_batch(out)
    store.write_manifest(out, {"kind": "mc"})
    save_chunks(out, [[0, 1, 2]])
    with pytest.raises(ConfigError, match=r"unfinished .*agentsim mc --resume"):
        store.read_batch(out)
    store.gather(out)
    batch = store.read_batch(str(out))  # a string will do
    assert batch.out == out
    assert batch.manifest == {"kind": "mc"}
    assert batch.runs["run_id"].tolist() == [0, 1, 2]
    assert batch.failures["run_id"].tolist() == [2]
    pd.testing.assert_frame_equal(batch.timeseries, keyed(series([0, 1])))
    assert store.is_batch_dir(out) and not store.is_run_dir(out)


def test_read_batch_refuses_what_is_not_a_batch_in_one_line(tmp_path: Path):
    (tmp_path / "file").write_text("x", encoding="utf-8")
    run_folder = tmp_path / "run"
    run_folder.mkdir()
    (run_folder / "summary.json").write_text("{}", encoding="utf-8")
    damaged = tmp_path / "damaged"
    damaged.mkdir()
    (damaged / store.MANIFEST).write_text("[1, 2]", encoding="utf-8")
    for path, reason in [
        (tmp_path / "file", "is not a folder"),
        (run_folder, "is a run folder, not a batch folder"),
        (damaged, "is not a batch manifest"),
    ]:
        with pytest.raises(ConfigError, match=reason) as caught:
            store.read_batch(path)
        assert "\n" not in str(caught.value) and str(path) in str(caught.value)


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


# --------------------------------------------------------------------------- batches of the model


SMALL = {"talent.n_researchers": 300, "simulation.steps": 12}
FRACTION = "policy.trusted_release.trusted_fraction"
MONTHS = "policy.trusted_release.restricted_months"
GRID = {FRACTION: [0.01, 0.1], MONTHS: [3, 9]}
INTEGERS = ("point", "steps", "overtake_month", "us_frontier_releases", "labs_exited")


def small(name: str = "baseline") -> dict:
    """A shipped scenario as a dict, shrunk to 300 researchers and a year."""
    from agentsim.scenario_io import config_to_dict

    from .conftest import scenario

    return config_to_dict(scenario(name, **SMALL))


def fail_on(monkeypatch: pytest.MonkeyPatch, seeds: set[int]) -> None:
    """Make the model raise for these seeds (in this process)."""
    from agentsim import ensemble

    original = ensemble.run_model

    def flaky(config, seed=0, **kwargs):
        if seed in seeds:
            raise RuntimeError(f"injected failure for seed {seed}")
        return original(config, seed=seed, **kwargs)

    monkeypatch.setattr(ensemble, "run_model", flaky)


def run(plan, out: Path, **options):
    from agentsim.ensemble import run_batch
    from agentsim.executors import InProcess

    return run_batch(plan, out, InProcess(), **options)


def assert_keys_match(runs: pd.DataFrame, timeseries: pd.DataFrame, keys: list[str]) -> None:
    """The time series carry ``keys`` after ``run_id``, each row its run's values."""
    assert list(timeseries.columns[: len(keys) + 1]) == ["run_id", *keys]
    assert isinstance(timeseries["scenario"].dtype, pd.CategoricalDtype)
    assert timeseries.groupby("run_id")[keys].nunique().eq(1).all().all()  # one value per run
    first = timeseries.drop_duplicates("run_id").set_index("run_id")
    ok = runs[runs["error"].isna()].set_index("run_id")
    assert first.index.tolist() == ok.index.tolist()
    for key in keys:
        assert first[key].tolist() == ok[key].tolist(), key
        if key != "scenario":
            assert first[key].dtype == ok[key].dtype, key


def test_a_failed_run_leaves_booleans_and_integers_their_types(tmp_path, monkeypatch):
    import agentsim
    from agentsim.ensemble import plan_monte_carlo, replicate_seeds

    fail_on(monkeypatch, {replicate_seeds(0, 3)[1]})
    out = tmp_path / "mc"
    result = run(plan_monte_carlo(small(), 3, 0), out, chunk_size=1)  # one part: a failure only
    runs = result.runs
    assert runs["error"].notna().tolist() == [False, True, False]
    assert runs["overtaken"].dtype == "boolean"
    assert runs["overtaken"].isna().tolist() == [False, True, False]
    flows = [c for c in runs.columns if c.startswith("talent_flow_")]
    assert flows
    for column in [*INTEGERS, *flows, "trusted_release_repealed_month", "lab_relocations"]:
        assert runs[column].dtype == "Int64", column
    assert runs["steps"].tolist() == [12, pd.NA, 12]
    assert runs["us_frontier_releases"].isna().tolist() == [False, True, False]
    assert runs["final_us_user_share"].dtype == "float64"
    assert np.isnan(runs.loc[1, "final_us_user_share"])
    assert [runs[c].dtype for c in store.ID_COLUMNS] == [np.dtype("int64")] * 3
    pd.testing.assert_frame_equal(pd.read_parquet(out / store.RUNS), runs)
    batch = agentsim.read_batch(out)
    pd.testing.assert_frame_equal(batch.runs, runs)
    pd.testing.assert_frame_equal(batch.timeseries, result.timeseries)
    assert batch.manifest == json.loads((out / store.MANIFEST).read_text(encoding="utf-8"))
    assert_keys_match(runs, batch.timeseries, ["scenario", "point"])


def test_the_declared_types_are_the_models():
    """Every boolean and integer the run summary holds is declared as such, so a batch in
    which no run defined it (an overtake month, a repeal month) keeps the column's type."""
    from agentsim.run import run as run_model
    from agentsim.scenario_io import validate_config

    summary = run_model(validate_config(small("trusted_release_repeal")), seed=1).summary
    for name, value in summary.items():
        if name in store.ID_COLUMNS:  # the seed: the spec's, int64
            continue
        kind = store.declared_kind(name)
        if isinstance(value, bool):
            assert kind == "bool", name
        elif isinstance(value, int):
            assert kind == "int", name
        elif isinstance(value, float):
            assert kind is None, name  # floats: float64 by their values
    for name in ("overtake_month", "trusted_release_repealed_month"):  # int or None
        assert name in summary and store.declared_kind(name) == "int"


def test_a_batch_whose_runs_all_failed_keeps_the_types(tmp_path, monkeypatch):
    import agentsim
    from agentsim.ensemble import plan_sweep, replicate_seeds

    fail_on(monkeypatch, set(replicate_seeds(0, 1)))
    out = tmp_path / "sweep"
    result = run(plan_sweep(small("trusted_release"), GRID, 1, 0), out)
    runs = agentsim.read_batch(out).runs
    pd.testing.assert_frame_equal(runs, result.runs)
    assert runs["error"].notna().all() and len(runs) == 4
    dtypes = runs.dtypes.astype(str).to_dict()
    assert dtypes["seed"] == "int64" and dtypes["point"] == "Int64"
    assert dtypes[FRACTION] == "float64" and dtypes[MONTHS] == "Int64"
    assert isinstance(runs["scenario"].dtype, pd.StringDtype)
    assert runs[MONTHS].tolist() == [3, 9, 3, 9]
    assert result.timeseries.empty


def test_the_time_series_of_a_comparison_carry_the_scenario(tmp_path):
    import agentsim
    from agentsim.ensemble import plan_comparison

    out = tmp_path / "compare"
    names = ["trusted_release", "baseline"]  # plan order, not sorted
    run(plan_comparison({name: small(name) for name in names}, 2, 0), out)
    batch = agentsim.read_batch(out)
    assert_keys_match(batch.runs, batch.timeseries, ["scenario", "point"])
    assert list(batch.timeseries["scenario"].cat.categories) == names
    months = batch.timeseries.groupby("scenario", observed=True).size()
    assert months.to_dict() == {name: 2 * (SMALL["simulation.steps"] + 1) for name in names}


def test_the_time_series_of_a_sweep_carry_its_keys(tmp_path):
    import agentsim
    from agentsim.ensemble import plan_sweep

    out = tmp_path / "sweep"
    result = run(plan_sweep(small("trusted_release"), GRID, 1, 0), out)
    batch = agentsim.read_batch(out)
    keys = ["scenario", "point", FRACTION, MONTHS]
    assert_keys_match(batch.runs, batch.timeseries, keys)
    pd.testing.assert_frame_equal(batch.timeseries, result.timeseries)
    assert batch.runs[MONTHS].dtype == "Int64" and batch.runs[FRACTION].dtype == "float64"
    means = batch.timeseries.groupby([FRACTION, MONTHS])["us_user_share"].mean()
    assert len(means) == 4


def old_style(runs: pd.DataFrame, timeseries: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Results as versions before typed columns stored them: booleans and integers other than
    the ids as float64, no keys in the time series."""
    runs = runs.copy()
    for column in runs.columns:
        if column not in store.ID_COLUMNS and str(runs[column].dtype) in ("boolean", "Int64"):
            runs[column] = runs[column].astype("float64")
    return runs, timeseries.drop(columns=["scenario", "point", FRACTION, MONTHS], errors="ignore")


def test_an_old_batch_folder_reads_in_todays_types(tmp_path):
    import agentsim
    from agentsim.ensemble import plan_sweep

    out = tmp_path / "sweep"
    new = run(plan_sweep(small("trusted_release"), GRID, 1, 0), out)
    runs, timeseries = old_style(new.runs, new.timeseries)
    assert runs["overtaken"].dtype == "float64" and "scenario" not in timeseries
    store.write_parquet(out / store.RUNS, runs)
    store.write_parquet(out / store.TIMESERIES, timeseries)
    files = {name: (out / name).read_bytes() for name in (store.RUNS, store.TIMESERIES)}
    batch = agentsim.read_batch(out)
    pd.testing.assert_frame_equal(batch.runs, new.runs)
    pd.testing.assert_frame_equal(batch.timeseries, new.timeseries)
    assert {name: (out / name).read_bytes() for name in files} == files  # read, not rewritten


def test_an_old_unfinished_batch_resumes_into_todays_types(tmp_path):
    import agentsim
    from agentsim.ensemble import plan_sweep

    plan = plan_sweep(small("trusted_release"), GRID, 1, 0)
    reference = run(plan, tmp_path / "reference")
    out = tmp_path / "old"
    shutil.copytree(tmp_path / "reference", out)
    runs, timeseries = old_style(reference.runs, reference.timeseries)
    store.write_parquet(out / store.RUNS, runs[runs["run_id"] < 2])  # killed after two runs
    store.write_parquet(out / store.TIMESERIES, timeseries[timeseries["run_id"] < 2])
    resumed = run(plan, out, resume=True)
    assert store.completed_run_ids(out) == {0, 1, 2, 3}
    pd.testing.assert_frame_equal(resumed.runs, reference.runs)
    pd.testing.assert_frame_equal(resumed.timeseries, reference.timeseries)
    batch = agentsim.read_batch(out)
    pd.testing.assert_frame_equal(batch.runs, reference.runs)
    pd.testing.assert_frame_equal(batch.timeseries, reference.timeseries)
    pd.testing.assert_frame_equal(pd.read_parquet(out / store.TIMESERIES), reference.timeseries)


def test_read_batch_is_public_and_lazy():
    import agentsim

    assert "read_batch" in agentsim.__all__ and agentsim.read_batch is store.read_batch
    assert "ConfigError" in agentsim.read_batch.__doc__

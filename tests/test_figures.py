"""Figures drawn from stored results: files written, what each figure shows, the ``plot`` command.

One small run, one paired comparison and one 2x2 sweep are made once for the module (a few hundred
researchers, a year) and stored; every figure is then drawn from what was stored, and the
matplotlib objects are checked against the stored frames.
"""

from __future__ import annotations

import importlib
import itertools
import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest
from matplotlib.collections import PathCollection, PolyCollection
from matplotlib.colors import same_color, to_rgb

from agentsim import figures, store
from agentsim.ensemble import plan_comparison, plan_sweep, run_batch
from agentsim.executors import InProcess
from agentsim.figures import (
    JURISDICTION_COLOURS,
    capability_paths,
    fan_chart,
    frontier_race,
    mean_talent_flows,
    network_snapshot,
    overtake_survival,
    save_batch_figures,
    save_run_figures,
    share_panels,
    survival_chart,
    sweep_heatmap,
    talent_flows,
)
from agentsim.run import run
from agentsim.scenario_io import config_to_dict
from agentsim.store import read_manifest
from agentsim.survival import durations, kaplan_meier
from tests.conftest import scenario

ROOT = Path(__file__).resolve().parents[1]
SMALL = {"talent.n_researchers": 300, "simulation.steps": 12}
STEPS = SMALL["simulation.steps"]
FRACTION = "policy.trusted_release.trusted_fraction"
MONTHS = "policy.trusted_release.restricted_months"
GRID = {FRACTION: [0.01, 0.1], MONTHS: [3, 9]}
SCENARIOS = ["baseline", "trusted_release"]
COMPARISON_RUNS = 4

RUN_STEMS = ["frontier", "capability", "shares", "talent_flows", "network"]
FAN_STEMS = [
    "fan_frontier_us",
    "fan_frontier_non_us",
    "fan_us_user_share",
    "fan_us_capital_share",
    "fan_us_talent_share",
]
FAN_COLUMNS = [
    "frontier_capability_us",
    "frontier_capability_non_us",
    "us_user_share",
    "us_capital_share",
    "us_talent_share",
]
SURVIVAL_STEMS = {
    "overtake_month": "overtake_survival",
    "months_to_first_us_generation": "survival_months_to_first_us_generation",
    "trusted_release_repealed_month": "survival_trusted_release_repealed_month",
}
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


# --------------------------------------------------------------------------- fixtures


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    result = run(scenario("baseline", **SMALL), seed=0)
    return store.write_run(result, tmp_path_factory.mktemp("stored_run") / "run")


@pytest.fixture(scope="module")
def run_figures(run_dir: Path) -> list[Path]:
    return save_run_figures(run_dir)


@pytest.fixture(scope="module")
def comparison_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    configs = {name: config_to_dict(scenario(name, **SMALL)) for name in SCENARIOS}
    plan = plan_comparison(configs, COMPARISON_RUNS, root_seed=0)
    out = tmp_path_factory.mktemp("stored_comparison") / "compare"
    result = run_batch(plan, out, InProcess())
    assert result.failures.empty, result.failures["error"].tolist()
    return out


@pytest.fixture(scope="module")
def sweep_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    plan = plan_sweep(config_to_dict(scenario("trusted_release", **SMALL)), GRID, 2, root_seed=0)
    out = tmp_path_factory.mktemp("stored_sweep") / "sweep"
    result = run_batch(plan, out, InProcess())
    assert result.failures.empty, result.failures["error"].tolist()
    return out


@pytest.fixture(autouse=True)
def close_figures() -> Iterator[None]:
    """Close whatever a failing test left open."""
    yield
    plt.close("all")


# --------------------------------------------------------------------------- helpers


def assert_figure_files(paths: list[Path], folder: Path, stems: list[str]) -> None:
    """PNG and PDF for every stem, non-empty, with the right signature, listed in the folder's
    marker; no temporary leftovers."""
    expected = [folder / f"{stem}.{ext}" for stem in stems for ext in ("png", "pdf")]
    assert paths == expected
    for path in paths:
        assert path.is_file(), path
        data = path.read_bytes()
        assert len(data) > 1000, path
        signature = PNG_SIGNATURE if path.suffix == ".png" else b"%PDF"
        assert data.startswith(signature), path
    listed = sorted(p.name for p in expected)
    assert sorted(p.name for p in folder.iterdir()) == sorted([*listed, store.FIGURES_MARKER])
    assert json.loads((folder / store.FIGURES_MARKER).read_text())["figures"] == listed


def texts(labels) -> list[str]:
    return [label.get_text() for label in labels]


def data_lines(ax) -> list:
    """Lines that draw data (not empty legend proxies)."""
    return [line for line in ax.lines if len(line.get_xdata())]


def copy_without_figures(source: Path, target: Path) -> Path:
    shutil.copytree(source, target, ignore=shutil.ignore_patterns("figures"))
    return target


def batch_stems(folder: Path) -> list[str]:
    """The figures of a stored batch: the fans, the Kaplan-Meier curves of each time-to-event
    outcome that some run that did not fail reached, the mean flows, a sweep's heatmaps."""
    runs = pd.read_parquet(folder / "runs.parquet")
    ok = runs[runs["error"].isna()]
    survival = [s for o, s in SURVIVAL_STEMS.items() if o in ok and ok[o].notna().any()]
    sweep = (
        ["sweep_overtake", "sweep_user_share"] if read_manifest(folder)["kind"] == "sweep" else []
    )
    return [*FAN_STEMS, *survival, "talent_flows", *sweep]


def median_by_date(timeseries: pd.DataFrame, run_ids, column: str) -> np.ndarray:
    """The median of ``column`` by date over these runs, computed by hand."""
    mine = timeseries[timeseries["run_id"].isin(list(run_ids))]
    return mine.groupby("date")[column].median().to_numpy()


def assert_kaplan_meier(line, band, runs: pd.DataFrame, outcome: str) -> None:
    """``line`` is survival.kaplan_meier's step curve of ``runs`` (right-continuous, then flat
    to the horizon) and ``band`` its 95% interval."""
    time, event = durations(runs, outcome)
    km = kaplan_meier(time, event)
    x, y = np.asarray(line.get_xdata(), float), np.asarray(line.get_ydata(), float)
    n = len(km)
    assert line.get_drawstyle() == "steps-post"
    np.testing.assert_array_equal(x[:n], km["month"].to_numpy(float))
    np.testing.assert_allclose(y[:n], km["survival"].to_numpy(float))
    assert x[n:].tolist() in ([], [float(runs["steps"].max())])  # flat to the horizon
    assert np.all(y[n:] == km["survival"].iloc[-1])
    assert np.allclose(band.get_facecolor()[0][:3], to_rgb(line.get_color()))
    edges = band.get_paths()[0].vertices
    bounds = np.concatenate([km["ci_low"].to_numpy(float), km["ci_high"].to_numpy(float)])
    assert all(np.isclose(bounds, v).any() for v in edges[:, 1])  # only the interval's bounds
    assert edges[:, 1].min() == pytest.approx(km["ci_low"].min())
    assert edges[:, 1].max() == pytest.approx(km["ci_high"].max())


def plot_cli(folder: Path, columns: int = 1000) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "FORCE_COLOR"}
    env.update({"NO_COLOR": "1", "COLUMNS": str(columns)})
    return subprocess.run(
        [sys.executable, "-m", "agentsim.cli", "plot", str(folder)],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env=env,
        timeout=120,
    )


# --------------------------------------------------------------------------- one run


def test_save_run_figures_writes_png_and_pdf(run_dir: Path, run_figures: list[Path]) -> None:
    assert_figure_files(run_figures, run_dir / "figures", RUN_STEMS)


def test_frontier_race_draws_us_and_rest_of_world(run_dir: Path) -> None:
    model = store.read_run(run_dir)["model"]
    fig = frontier_race(model)
    ax = fig.axes[0]
    assert [line.get_label() for line in ax.lines] == ["US", "rest of world"]
    us, rest = ax.lines
    np.testing.assert_array_equal(us.get_ydata(), model["frontier_capability_us"])
    np.testing.assert_array_equal(rest.get_ydata(), model["frontier_capability_non_us"])
    assert len(us.get_xdata()) == STEPS + 1
    assert same_color(us.get_color(), JURISDICTION_COLOURS["US"])
    assert not same_color(rest.get_color(), JURISDICTION_COLOURS["US"])
    assert "log10" in ax.get_ylabel()
    assert texts(ax.get_legend().get_texts()) == ["US", "rest of world"]
    plt.close(fig)


def test_capability_paths_one_line_per_lab_in_jurisdiction_colours(run_dir: Path) -> None:
    labs = pd.read_parquet(run_dir / "labs.parquet")
    names = labs["lab"].unique().tolist()
    fig = capability_paths(labs)
    ax = fig.axes[0]
    lines = data_lines(ax)
    assert len(lines) == len(names) == labs["lab"].nunique()
    assert sorted(t.get_text() for t in ax.texts) == sorted(names)

    by_lab = {}
    for name in names:
        series = labs.loc[labs["lab"] == name, "capability"].to_numpy()
        matches = [line for line in lines if np.array_equal(line.get_ydata(), series)]
        assert len(matches) == 1, name
        by_lab[name] = matches[0]
    jurisdiction = labs.groupby("lab")["jurisdiction"].first()
    us_lab = next(name for name in names if jurisdiction[name] == "US")
    assert same_color(by_lab[us_lab].get_color(), JURISDICTION_COLOURS["US"])
    for name, line in by_lab.items():
        assert same_color(line.get_color(), JURISDICTION_COLOURS[jurisdiction[name]]), name
    legend = texts(ax.get_legend().get_texts())
    assert legend == labs["jurisdiction"].unique().tolist()
    assert "log10" in ax.get_ylabel()
    plt.close(fig)


def test_share_panels_four_unit_interval_panels(run_dir: Path) -> None:
    model = store.read_run(run_dir)["model"]
    fig = share_panels(model)
    assert len(fig.axes) == 4
    columns = {
        "users": "us_user_share",
        "revenue": "us_revenue_share",
        "invested capital": "us_capital_share",
        "talent": "us_talent_share",
    }
    for ax, (word, column) in zip(fig.axes, columns.items(), strict=True):
        assert ax.get_ylim() == (0.0, 1.0)
        assert word in ax.get_title()
        (line,) = ax.lines
        np.testing.assert_array_equal(line.get_ydata(), model[column])
        assert same_color(line.get_color(), JURISDICTION_COLOURS["US"])
    plt.close(fig)


def test_talent_flows_heatmap_labels_and_numbers(run_dir: Path) -> None:
    flows = pd.read_csv(run_dir / "flows.csv", index_col=0)
    labs = pd.read_parquet(run_dir / "labs.parquet")
    assert list(flows.index) == list(flows.columns)
    assert set(flows.columns) == set(labs["jurisdiction"])
    assert flows.to_numpy().sum() > 0  # something moved: the numbers are worth checking
    fig = talent_flows(flows)
    ax = fig.axes[0]
    assert texts(ax.get_xticklabels()) == list(flows.columns)
    assert texts(ax.get_yticklabels()) == list(flows.index)
    np.testing.assert_array_equal(ax.images[0].get_array(), flows.to_numpy(dtype=float))
    assert len(ax.texts) == flows.size
    for text in ax.texts:
        x, y = text.get_position()
        assert int(text.get_text()) == flows.iloc[int(y), int(x)], (y, x)
    plt.close(fig)


def test_network_snapshot_one_marker_per_lab_and_pool(run_dir: Path) -> None:
    stored = store.read_run(run_dir)
    edges, labs = stored["network"], stored["labs"]
    last = labs[labs["step"] == labs["step"].max()]
    codes = last["jurisdiction"].unique().tolist()
    fig = network_snapshot(edges, labs)
    ax = fig.axes[0]
    points = [c for c in ax.collections if isinstance(c, PathCollection)]
    assert all(len(c.get_offsets()) == 1 for c in points)
    assert len(points) == len(last) + 2 * len(codes)
    radius = np.array([np.hypot(*c.get_offsets()[0]) for c in points])
    assert np.isclose(radius, 1.0).sum() == len(last)  # labs on the inner ring
    assert np.isclose(radius, 1.7).sum() == len(codes)  # researcher pools
    assert np.isclose(radius, 2.2).sum() == len(codes)  # investor pools
    lab_sizes = [c.get_sizes()[0] for c, r in zip(points, radius, strict=True) if np.isclose(r, 1)]
    assert min(lab_sizes) == pytest.approx(40) and max(lab_sizes) == pytest.approx(440)

    pools = {f"{pool}:{c}" for c in codes for pool in ("researchers", "investors")}
    nodes = set(last["lab"]) | pools
    drawn = edges[edges["source"].isin(nodes) & edges["target"].isin(nodes)]
    assert len(drawn) > 0 and set(drawn["kind"]) == {"employment", "investment", "partnership"}
    assert len(ax.lines) == len(drawn)
    labels = {t.get_text() for t in ax.texts}
    assert set(last["lab"]) <= labels
    assert {f"researchers\n{c}" for c in codes} | {f"investors\n{c}" for c in codes} <= labels
    plt.close(fig)


def test_figures_read_stored_results_only(
    run_dir: Path, run_figures: list[Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    copy = copy_without_figures(run_dir, tmp_path / "elsewhere" / "run")
    before = sorted(p.relative_to(run_dir) for p in run_dir.rglob("*"))

    def no_model(*args, **kwargs):
        raise AssertionError("figures must not run the model")

    for module, name in [
        ("agentsim.run", "run"),
        ("agentsim.run", "AIRaceModel"),
        ("agentsim.model", "AIRaceModel"),
        ("agentsim.ensemble", "run_model"),
    ]:
        monkeypatch.setattr(importlib.import_module(module), name, no_model)
    paths = save_run_figures(copy)
    assert_figure_files(paths, copy / "figures", RUN_STEMS)
    assert sorted(p.relative_to(run_dir) for p in run_dir.rglob("*")) == before
    for original, moved in zip(run_figures, paths, strict=True):
        if original.suffix == ".png":  # same stored data, same picture
            assert original.read_bytes() == moved.read_bytes(), original.name


# --------------------------------------------------------------------------- batches


def test_save_batch_figures_on_a_comparison(comparison_dir: Path) -> None:
    paths = save_batch_figures(comparison_dir)
    assert_figure_files(paths, comparison_dir / "figures", batch_stems(comparison_dir))


def test_fan_chart_median_and_two_bands_per_scenario(comparison_dir: Path) -> None:
    runs = pd.read_parquet(comparison_dir / "runs.parquet")
    timeseries = pd.read_parquet(comparison_dir / "timeseries.parquet")
    column = "frontier_capability_us"
    fig = fan_chart(timeseries, runs, column, "US frontier (log10 FLOP)", "US frontier")
    (ax,) = fig.axes
    assert [line.get_label() for line in ax.lines] == SCENARIOS
    assert texts(ax.get_legend().get_texts()) == SCENARIOS
    assert "bands over seeds" in ax.get_legend().get_title().get_text()
    bands = [c for c in ax.collections if isinstance(c, PolyCollection)]
    assert len(bands) == 2 * len(SCENARIOS)
    for k, (name, line) in enumerate(zip(SCENARIOS, ax.lines, strict=True)):
        ids = runs.loc[runs["scenario"] == name, "run_id"]
        assert len(ids) == COMPARISON_RUNS
        median = median_by_date(timeseries, ids, column)
        assert len(median) == STEPS + 1
        np.testing.assert_allclose(line.get_ydata(), median)
        for band in bands[2 * k : 2 * k + 2]:
            assert np.allclose(band.get_facecolor()[0][:3], to_rgb(line.get_color()))
    plt.close(fig)


def test_fan_chart_takes_each_runs_keys_from_the_time_series_or_the_runs(sweep_dir: Path) -> None:
    """A time series stored with each run's keys (scenario, point, swept keys) and one stored
    without them (batches made before) draw the same curves; a key the time series carries is
    used as it is there, never merged into a second copy."""
    runs = pd.read_parquet(sweep_dir / "runs.parquet")
    stored = pd.read_parquet(sweep_dir / "timeseries.parquet")
    keys = ["scenario", "point", FRACTION, MONTHS]
    bare = stored.drop(columns=[key for key in keys if key in stored])
    by_run = runs.set_index("run_id")
    carried = bare.assign(**{k: by_run[k].reindex(bare["run_id"]).to_numpy() for k in keys})
    drawn = []
    for series in (bare, carried):
        fig = fan_chart(series, runs, "us_user_share", "share", "Share", list(GRID))
        drawn.append(
            [[(line.get_label(), list(line.get_ydata())) for line in ax.lines] for ax in fig.axes]
        )
        plt.close(fig)
    assert drawn[0] == drawn[1]
    assert [len(panel) for panel in drawn[0]] == [2, 2]
    renamed = carried.assign(scenario="as the series says")
    fig = fan_chart(renamed, runs, "us_user_share", "share", "Share")
    (ax,) = fig.axes
    assert [line.get_label() for line in ax.lines] == ["as the series says"]
    assert "4 design points per curve" in ax.get_legend().get_title().get_text().replace("\n", " ")
    plt.close(fig)


def test_overtake_survival_is_the_kaplan_meier_curve_of_each_scenario(
    comparison_dir: Path,
) -> None:
    runs = pd.read_parquet(comparison_dir / "runs.parquet")
    baseline = (runs["scenario"] == "baseline").to_numpy()
    runs["overtake_month"] = runs["overtake_month"].astype("Float64")
    runs.loc[baseline, "overtake_month"] = [2.0, 5.0, 5.0, np.nan]
    runs.loc[~baseline, "overtake_month"] = [np.nan, 7.0, np.nan, 1.0]
    runs["error"] = runs["error"].astype(object)
    runs.loc[runs.index[~baseline][3], "error"] = "failed"  # its overtake must not count
    fig = overtake_survival(runs)
    (ax,) = fig.axes
    ok = runs[runs["error"].isna()]
    groups = [ok[ok["scenario"] == name] for name in SCENARIOS]
    assert [line.get_label() for line in ax.lines] == [
        "baseline (n=4, 3 events)",
        "trusted_release (n=3, 1 event)",
    ]
    bands = [c for c in ax.collections if isinstance(c, PolyCollection)]
    assert len(bands) == len(SCENARIOS)
    for line, band, group in zip(ax.lines, bands, groups, strict=True):
        assert_kaplan_meier(line, band, group, "overtake_month")
    first = np.asarray(ax.lines[0].get_ydata(), dtype=float)
    np.testing.assert_allclose(first, [1.0, 0.75, 0.25, 0.25])  # months 0, 2, 5, horizon
    assert ax.get_ylabel() == "share of runs without the event"
    assert ax.get_title() == "Time until a non-US lab leads the frontier"
    note = ax.get_legend().get_title().get_text()
    assert "95% band" in note and "censored at month 12" in note
    plt.close(fig)


def test_survival_figures_only_for_outcomes_some_run_reached(
    comparison_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = copy_without_figures(comparison_dir, tmp_path / "compare")
    runs = pd.read_parquet(folder / "runs.parquet")
    assert runs["overtake_month"].isna().all()  # no overtake within a year in this batch
    assert runs["trusted_release_repealed_month"].isna().all()
    assert runs["months_to_first_us_generation"].notna().any()
    drawn = capture_batch_figures(folder, monkeypatch)
    assert [stem for stem in drawn if "survival" in stem] == [
        "survival_months_to_first_us_generation"
    ]
    ax = drawn["survival_months_to_first_us_generation"].axes[0]
    for line, name in zip(ax.lines, SCENARIOS, strict=True):
        bands = [c for c in ax.collections if isinstance(c, PolyCollection)]
        band = bands[SCENARIOS.index(name)]
        assert_kaplan_meier(
            line, band, runs[runs["scenario"] == name], "months_to_first_us_generation"
        )
    for fig in drawn.values():
        plt.close(fig)

    runs["error"] = runs["error"].astype(object)
    runs["overtake_month"] = runs["overtake_month"].astype("Float64")
    runs.loc[0, ["overtake_month", "error"]] = [3.0, "failed"]  # a failed run's event: none
    store.write_parquet(folder / "runs.parquet", runs)
    assert "overtake_survival" not in capture_batch_figures(folder, monkeypatch)
    runs.loc[0, "error"] = None
    store.write_parquet(folder / "runs.parquet", runs)
    drawn = capture_batch_figures(folder, monkeypatch)
    assert [stem for stem in drawn if "survival" in stem] == [
        "overtake_survival",
        "survival_months_to_first_us_generation",
    ]
    labels = [line.get_label() for line in drawn["overtake_survival"].axes[0].lines]
    assert labels == ["baseline (n=4, 1 event)", "trusted_release (n=4, 0 events)"]
    for fig in drawn.values():
        plt.close(fig)


def test_mean_talent_flows_annotates_batch_means(comparison_dir: Path) -> None:
    runs = pd.read_parquet(comparison_dir / "runs.parquet")
    fig = mean_talent_flows(runs)
    ax = fig.axes[0]
    codes = texts(ax.get_xticklabels())
    assert texts(ax.get_yticklabels()) == codes
    assert sorted(codes) == sorted(JURISDICTION_COLOURS)
    assert len(ax.texts) == len(codes) ** 2
    assert str(len(runs)) in ax.get_title()
    for text in ax.texts:
        x, y = (int(v) for v in text.get_position())
        mean = runs[f"talent_flow_{codes[y]}_{codes[x]}"].mean()
        assert text.get_text() == f"{mean:.0f}"
    plt.close(fig)


def test_save_batch_figures_on_a_sweep(sweep_dir: Path) -> None:
    assert read_manifest(sweep_dir)["grid"] == GRID
    paths = save_batch_figures(sweep_dir)
    assert_figure_files(paths, sweep_dir / "figures", batch_stems(sweep_dir))


def test_sweep_figures_draw_one_panel_per_value_of_the_second_key_and_one_curve_per_point(
    sweep_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = copy_without_figures(sweep_dir, tmp_path / "sweep")
    runs = pd.read_parquet(folder / "runs.parquet")
    series = pd.read_parquet(folder / "timeseries.parquet")
    drawn = capture_batch_figures(folder, monkeypatch)
    columns = dict(zip(FAN_STEMS, FAN_COLUMNS, strict=True))
    for stem in [*FAN_STEMS, "survival_months_to_first_us_generation"]:
        fig = drawn[stem]
        panels = [ax for ax in fig.axes if ax.get_visible()]
        assert [ax.get_title() for ax in panels] == ["restricted_months=3", "restricted_months=9"]
        assert "one grid point" in fig.get_suptitle(), stem
        for ax, months in zip(panels, GRID[MONTHS], strict=True):
            assert [line.get_label().split(" (")[0] for line in ax.lines] == [
                "trusted_fraction=0.01",
                "trusted_fraction=0.1",
            ], stem
            bands = [c for c in ax.collections if isinstance(c, PolyCollection)]
            for k, (line, fraction) in enumerate(zip(ax.lines, GRID[FRACTION], strict=True)):
                point = runs[(runs[FRACTION] == fraction) & (runs[MONTHS] == months)]
                assert len(point) == 2 and point["point"].nunique() == 1
                if stem in columns:
                    median = median_by_date(series, point["run_id"], columns[stem])
                    np.testing.assert_allclose(line.get_ydata(), median, err_msg=stem)
                else:
                    assert_kaplan_meier(line, bands[k], point, "months_to_first_us_generation")
        legend_colours = {}
        for ax in panels:  # a value of the first key has one colour in every panel
            for line in ax.lines:
                colour = legend_colours.setdefault(
                    line.get_label().split(" (")[0], line.get_color()
                )
                assert same_color(colour, line.get_color())
    for fig in drawn.values():
        plt.close(fig)


def synthetic_sweep(grid: dict, seeds: int = 3) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Runs and time series of a sweep over ``grid`` without the model: run id = point * seeds
    + replicate, values that differ by point and seed."""
    runs, rows = [], []
    for point, values in enumerate(itertools.product(*grid.values())):
        for replicate in range(seeds):
            run_id = point * seeds + replicate
            runs.append(
                {"run_id": run_id, "replicate": replicate, "seed": replicate, "scenario": "s",
                 "point": point, **dict(zip(grid, values, strict=True)), "steps": 4,
                 "overtake_month": float(1 + (point + replicate) % 4) if replicate else np.nan,
                 "overtaken": bool(replicate), "error": None}
            )  # fmt: skip
            for step in range(5):
                date = pd.Timestamp("2026-01-01") + pd.DateOffset(months=step)
                rows.append({"run_id": run_id, "date": date, "x": point + replicate * step})
    return pd.DataFrame(runs), pd.DataFrame(rows)


def test_a_large_sweep_pools_its_last_keys_and_says_so() -> None:
    """Up to MAX_PANELS combinations of the keys after the first get a panel each; beyond, the
    last keys are pooled (their points share a curve), as the figure's title says."""
    small = {"a.k1": [1, 2], "b.k2": [3, 4], "c.k3": [5, 6, 7]}
    runs, series = synthetic_sweep(small)
    fig = fan_chart(series, runs, "x", "x", "X", list(small))
    panels = [ax for ax in fig.axes if ax.get_visible()]
    assert len(panels) == 2 * 3 <= figures.MAX_PANELS
    assert panels[1].get_title() == "k2=3, k3=6"
    assert all(len(ax.lines) == 2 for ax in panels)
    assert "one grid point" in fig.get_suptitle() and "pooled" not in fig.get_suptitle()
    plt.close(fig)

    large = {"a.k1": [1, 2], "b.k2": [3, 4, 5, 6], "c.k3": [5, 6, 7, 8]}
    runs, series = synthetic_sweep(large)
    assert 4 * 4 > figures.MAX_PANELS
    for fig in (
        fan_chart(series, runs, "x", "x", "X", list(large)),
        survival_chart(runs, "overtake_month", list(large)),
    ):
        panels = [ax for ax in fig.axes if ax.get_visible()]
        assert [ax.get_title() for ax in panels] == ["k2=3", "k2=4", "k2=5", "k2=6"]
        assert "grid points of k3 (pooled)" in fig.get_suptitle()
        for ax, k2 in zip(panels, large["b.k2"], strict=True):
            for line, k1 in zip(ax.lines, large["a.k1"], strict=True):
                mine = runs[(runs["a.k1"] == k1) & (runs["b.k2"] == k2)]
                assert mine["point"].nunique() == 4
                if fig.get_suptitle().startswith("X"):
                    np.testing.assert_allclose(
                        line.get_ydata(), median_by_date(series, mine["run_id"], "x")
                    )
                else:
                    assert line.get_label().startswith(f"k1={k1} (n=12,")
        plt.close(fig)
    heat = sweep_heatmap(runs, large)
    assert "mean over k3" in heat.axes[0].get_title()
    plt.close(heat)


def test_sweep_heatmap_does_not_mention_pooling_for_two_keys(sweep_dir: Path) -> None:
    fig = sweep_heatmap(pd.read_parquet(sweep_dir / "runs.parquet"), GRID)
    assert "mean over" not in fig.axes[0].get_title()
    plt.close(fig)


@pytest.mark.parametrize(
    ("outcome", "label"),
    [
        ("overtaken", "probability of a non-US overtake"),
        ("final_us_user_share", "final US share of users"),
    ],
)
def test_sweep_heatmap_one_cell_per_grid_point(sweep_dir: Path, outcome: str, label: str) -> None:
    runs = pd.read_parquet(sweep_dir / "runs.parquet")
    grid = read_manifest(sweep_dir)["grid"]
    fig = sweep_heatmap(runs, grid, outcome, label)
    ax = fig.axes[0]
    values = np.asarray(ax.images[0].get_array(), dtype=float)
    assert values.shape == (len(GRID[FRACTION]), len(GRID[MONTHS]))
    assert np.all((values >= 0) & (values <= 1))
    for i, fraction in enumerate(GRID[FRACTION]):
        for j, months in enumerate(GRID[MONTHS]):
            cell = runs[(runs[FRACTION] == fraction) & (runs[MONTHS] == months)]
            assert len(cell) == 2
            assert values[i, j] == pytest.approx(cell[outcome].mean())
    assert texts(ax.get_yticklabels()) == ["0.01", "0.1"]
    assert texts(ax.get_xticklabels()) == ["3", "9"]
    assert ax.get_ylabel() == "trusted_fraction"
    assert ax.get_xlabel() == "restricted_months"
    if outcome == "overtaken":
        assert ax.images[0].get_clim() == (0, 1)
    plt.close(fig)


def test_sweep_heatmap_text_values(sweep_dir: Path) -> None:
    runs = pd.read_parquet(sweep_dir / "runs.parquet")
    start = runs[FRACTION].map({0.01: "2026-01", 0.1: "2027-01"}).astype("string")
    runs = runs.drop(columns=[FRACTION]).assign(**{"simulation.start": start})
    fig = sweep_heatmap(runs, {"simulation.start": ["2026-01", "2027-01"], MONTHS: [3, 9]})
    assert texts(fig.axes[0].get_yticklabels()) == ["2026-01", "2027-01"]
    plt.close(fig)


def capture_batch_figures(folder: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, object]:
    """The figures save_batch_figures draws for ``folder``, by stem (nothing written)."""
    drawn: dict[str, object] = {}

    def keep(fig, stem: Path) -> list[Path]:
        drawn[Path(stem).name] = fig
        return []

    monkeypatch.setattr(figures, "save_figure", keep)
    save_batch_figures(folder)
    return drawn


def test_sweep_figures_draw_every_run_once_whatever_its_values(
    sweep_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A missing swept value is drawn (it was dropped), and two values that print alike get
    two series (they were pooled under one label)."""
    folder = copy_without_figures(sweep_dir, tmp_path / "sweep")
    runs = pd.read_parquet(folder / "runs.parquet")
    per_point = [np.nan, 0.3, 0.1 + 0.2, np.nan]  # points: (F, 3), (F, 9), (F', 3), (F', 9)
    runs[FRACTION] = [per_point[i // 2] for i in runs["run_id"]]
    store.write_parquet(folder / "runs.parquet", runs)
    series = pd.read_parquet(folder / "timeseries.parquet")
    if FRACTION in series:  # stored with each run's keys: they change with the runs
        series[FRACTION] = [per_point[i // 2] for i in series["run_id"]]
        store.write_parquet(folder / "timeseries.parquet", series)
    assert runs["point"].tolist() == [i // 2 for i in runs["run_id"]]
    drawn = capture_batch_figures(folder, monkeypatch)
    null, exact = "trusted_fraction=null", "trusted_fraction=0.3"
    inexact = "trusted_fraction=0.30000000000000004"
    panels = {3: [(null, 0), (inexact, 2)], 9: [(exact, 1), (null, 3)]}  # (curve, point)
    for stem in [*FAN_STEMS, "survival_months_to_first_us_generation"]:
        axes = [ax for ax in drawn[stem].axes if ax.get_visible()]
        assert [ax.get_title() for ax in axes] == ["restricted_months=3", "restricted_months=9"]
        for ax, curves in zip(axes, panels.values(), strict=True):
            assert [line.get_label().split(" (")[0] for line in ax.lines] == [
                label for label, _ in curves
            ], stem
        assert same_color(axes[0].lines[0].get_color(), axes[1].lines[1].get_color())  # null
    axes = [ax for ax in drawn["fan_us_user_share"].axes if ax.get_visible()]
    for ax, curves in zip(axes, panels.values(), strict=True):
        for line, (_, point) in zip(ax.lines, curves, strict=True):
            mine = runs[runs["point"] == point]
            assert len(mine) == 2
            median = median_by_date(series, mine["run_id"], "us_user_share")
            np.testing.assert_allclose(line.get_ydata(), median)
    heat = drawn["sweep_user_share"].axes[0]
    values = np.asarray(heat.images[0].get_array(), dtype=float)
    assert texts(heat.get_yticklabels()) == ["null", "0.3", "0.30000000000000004"]
    assert texts(heat.get_xticklabels()) == ["3", "9"]
    assert values.shape == (3, 2)
    groups = [runs[runs[FRACTION].isna()], runs[runs[FRACTION] == 0.3], runs[runs[FRACTION] > 0.3]]
    assert [len(g) for g in groups] == [4, 2, 2]
    for i, group in enumerate(groups):
        for j, months in enumerate([3, 9]):
            cell = group[group[MONTHS] == months]["final_us_user_share"]
            if len(cell):
                assert values[i, j] == pytest.approx(cell.mean())
            else:
                assert np.isnan(values[i, j])
    assert np.isfinite(values).sum() == 4  # the four points, each in one cell
    for fig in drawn.values():
        plt.close(fig)


def test_sweep_heatmap_groups_lists_and_mixed_numbers(sweep_dir: Path) -> None:
    runs = pd.read_parquet(sweep_dir / "runs.parquet")
    targets = [["CN"] if f == 0.01 else ["CN", "EU"] for f in runs[FRACTION]]
    months = [3 if m == 3 else 9.0 for m in runs[MONTHS]]
    months[0] = 3.0  # the same number as 3
    runs = runs.assign(**{"policy.export_controls.targets": targets, MONTHS: months})
    grid = {"policy.export_controls.targets": [["CN"], ["CN", "EU"]], MONTHS: [3, 9]}
    fig = sweep_heatmap(runs, grid, "final_us_user_share", "final US share of users")
    ax = fig.axes[0]
    values = np.asarray(ax.images[0].get_array(), dtype=float)
    assert values.shape == (2, 2)
    assert texts(ax.get_yticklabels()) == ["['CN']", "['CN', 'EU']"]
    assert texts(ax.get_xticklabels()) == ["3", "9"]
    for i, fraction in enumerate(GRID[FRACTION]):
        for j, m in enumerate(GRID[MONTHS]):
            cell = runs[(runs[FRACTION] == fraction) & (runs[MONTHS] == m)]
            assert len(cell) == 2
            assert values[i, j] == pytest.approx(cell["final_us_user_share"].mean())
    plt.close(fig)


# --------------------------------------------------------------------------- the plot command


def test_cli_plot_run_folder(run_dir: Path, tmp_path: Path) -> None:
    copy = copy_without_figures(run_dir, tmp_path / "run")
    proc = plot_cli(copy)
    assert proc.returncode == 0, proc.stderr
    expected = [str(copy / "figures" / f"{stem}.png") for stem in RUN_STEMS]
    assert proc.stdout.splitlines() == expected
    for stem in RUN_STEMS:
        assert (copy / "figures" / f"{stem}.pdf").read_bytes().startswith(b"%PDF")


def test_cli_plot_batch_folder(comparison_dir: Path, tmp_path: Path) -> None:
    copy = copy_without_figures(comparison_dir, tmp_path / "compare")
    proc = plot_cli(copy)
    assert proc.returncode == 0, proc.stderr
    stems = batch_stems(copy)
    assert proc.stdout.splitlines() == [str(copy / "figures" / f"{s}.png") for s in stems]
    for stem in stems:
        assert (copy / "figures" / f"{stem}.pdf").stat().st_size > 0


@pytest.mark.parametrize("case", ["neither", "partial_run"])
def test_cli_plot_bad_folder(case: str, run_dir: Path, tmp_path: Path) -> None:
    folder = tmp_path / case
    if case == "neither":
        folder.mkdir()
        (folder / "notes.txt").write_text("not results\n")
    elif case == "partial_run":
        copy_without_figures(run_dir, folder)
        (folder / "labs.parquet").unlink()
    proc = plot_cli(folder)
    assert proc.returncode == 2, proc.stderr
    assert "Traceback" not in proc.stderr
    lines = proc.stderr.splitlines()
    assert len(lines) == 1, proc.stderr
    assert lines[0].startswith("error:")
    assert str(folder) in lines[0]
    if case == "partial_run":
        assert "labs.parquet" in lines[0]
    assert proc.stdout == ""
    assert not (folder / "figures").exists()


def test_figures_import_only_the_store_and_the_statistics() -> None:
    code = (
        "import sys, agentsim.figures\n"
        "print(','.join(m for m in ('mesa', 'agentsim.model', 'agentsim.run', "
        "'agentsim.ensemble', 'agentsim.executors', 'dask') if m in sys.modules))\n"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=120
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == ""


def test_redrawing_removes_a_figure_the_new_data_no_longer_give(
    comparison_dir: Path, tmp_path: Path
) -> None:
    folder = copy_without_figures(comparison_dir, tmp_path / "compare")
    runs = pd.read_parquet(folder / "runs.parquet")
    runs["overtake_month"] = runs["overtake_month"].astype("Float64")
    original = runs.copy()
    runs.loc[0, "overtake_month"] = 3.0  # an overtake: its Kaplan-Meier figure is drawn
    store.write_parquet(folder / "runs.parquet", runs)
    save_batch_figures(folder)
    assert (folder / "figures" / "overtake_survival.png").is_file()
    store.write_parquet(folder / "runs.parquet", original)  # the data without it
    save_batch_figures(folder)
    names = {p.name for p in (folder / "figures").iterdir()}
    assert "overtake_survival.png" not in names and "overtake_survival.pdf" not in names
    assert {"fan_us_user_share.png", "talent_flows.png"} <= names

"""Figures drawn from stored results: files written, what each figure shows, the ``plot`` command.

One small run, one paired comparison and one 2x2 sweep are made once for the module (a few hundred
researchers, a year) and stored; every figure is then drawn from what was stored, and the
matplotlib objects are checked against the stored frames.
"""

from __future__ import annotations

import importlib
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
    sweep_heatmap,
    talent_flows,
)
from agentsim.run import run
from agentsim.scenario_io import config_to_dict
from agentsim.store import read_manifest
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
BATCH_STEMS = [
    "fan_frontier_us",
    "fan_frontier_non_us",
    "fan_us_user_share",
    "fan_us_capital_share",
    "fan_us_talent_share",
    "overtake_survival",
    "talent_flows",
]
SWEEP_STEMS = [*BATCH_STEMS, "sweep_overtake", "sweep_user_share"]
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
    assert_figure_files(paths, comparison_dir / "figures", BATCH_STEMS)


def test_fan_chart_median_and_two_bands_per_scenario(comparison_dir: Path) -> None:
    runs = pd.read_parquet(comparison_dir / "runs.parquet")
    timeseries = pd.read_parquet(comparison_dir / "timeseries.parquet")
    column = "frontier_capability_us"
    fig = fan_chart(timeseries, runs, column, "US frontier (log10 FLOP)", "US frontier")
    ax = fig.axes[0]
    assert [line.get_label() for line in ax.lines] == SCENARIOS
    assert texts(ax.get_legend().get_texts()) == SCENARIOS
    bands = [c for c in ax.collections if isinstance(c, PolyCollection)]
    assert len(bands) == 2 * len(SCENARIOS)
    merged = timeseries.merge(runs[["run_id", "scenario"]], on="run_id")
    for k, (name, line) in enumerate(zip(SCENARIOS, ax.lines, strict=True)):
        mine = merged[merged["scenario"] == name]
        assert mine["run_id"].nunique() == COMPARISON_RUNS
        median = mine.groupby("date")[column].median()
        assert len(median) == STEPS + 1
        np.testing.assert_allclose(line.get_ydata(), median.to_numpy())
        for band in bands[2 * k : 2 * k + 2]:
            assert np.allclose(band.get_facecolor()[0][:3], to_rgb(line.get_color()))
    plt.close(fig)


def test_overtake_survival_starts_at_one_and_never_rises(comparison_dir: Path) -> None:
    runs = pd.read_parquet(comparison_dir / "runs.parquet")
    fig = overtake_survival(runs, STEPS)
    ax = fig.axes[0]
    assert [line.get_label() for line in ax.lines] == [
        f"{name} (n={COMPARISON_RUNS})" for name in SCENARIOS
    ]
    for line in ax.lines:
        months, alive = np.asarray(line.get_xdata()), np.asarray(line.get_ydata(), dtype=float)
        np.testing.assert_array_equal(months, np.arange(STEPS + 1))
        assert alive[0] == 1.0
        assert np.all(np.diff(alive) <= 0)
        assert np.all((alive >= 0) & (alive <= 1))
    plt.close(fig)


def test_overtake_survival_counts_overtakes_by_month(comparison_dir: Path) -> None:
    runs = pd.read_parquet(comparison_dir / "runs.parquet")
    baseline = runs["scenario"] == "baseline"
    runs.loc[baseline, "overtake_month"] = [2.0, 5.0, np.nan, np.nan]
    runs.loc[~baseline, "overtake_month"] = np.nan
    fig = overtake_survival(runs, STEPS)
    first, second = (np.asarray(line.get_ydata(), dtype=float) for line in fig.axes[0].lines)
    expected = np.array([1.0] * 2 + [0.75] * 3 + [0.5] * (STEPS - 4))
    np.testing.assert_allclose(first, expected)
    np.testing.assert_array_equal(second, np.ones(STEPS + 1))
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
    assert_figure_files(paths, sweep_dir / "figures", SWEEP_STEMS)


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
    per_point = [np.nan, 0.3, 0.1 + 0.2, np.nan]  # point = run_id // 2: (F, 3), (F, 9), ...
    runs[FRACTION] = [per_point[i // 2] for i in runs["run_id"]]
    store.write_parquet(folder / "runs.parquet", runs)
    drawn = capture_batch_figures(folder, monkeypatch)
    names = [
        "trusted_fraction=null",
        "trusted_fraction=0.3",
        "trusted_fraction=0.30000000000000004",
    ]
    groups = [runs[runs[FRACTION].isna()], runs[runs[FRACTION] == 0.3], runs[runs[FRACTION] > 0.3]]
    assert sum(len(g) for g in groups) == len(runs)
    series = pd.read_parquet(folder / "timeseries.parquet")
    for stem in BATCH_STEMS[:5]:
        ax = drawn[stem].axes[0]
        assert [line.get_label() for line in ax.lines] == names, stem
    ax = drawn["fan_us_user_share"].axes[0]
    for line, group in zip(ax.lines, groups, strict=True):
        mine = series[series["run_id"].isin(group["run_id"])]
        median = mine.groupby("date")["us_user_share"].median().to_numpy()
        np.testing.assert_allclose(line.get_ydata(), median)
    survival = [line.get_label() for line in drawn["overtake_survival"].axes[0].lines]
    assert survival == [f"{name} (n={len(g)})" for name, g in zip(names, groups, strict=True)]
    assert [len(g) for g in groups] == [4, 2, 2]
    heat = drawn["sweep_user_share"].axes[0]
    values = np.asarray(heat.images[0].get_array(), dtype=float)
    assert texts(heat.get_yticklabels()) == ["null", "0.3", "0.30000000000000004"]
    assert texts(heat.get_xticklabels()) == ["3", "9"]
    assert values.shape == (3, 2)
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
    assert proc.stdout.splitlines() == [str(copy / "figures" / f"{s}.png") for s in BATCH_STEMS]
    for stem in BATCH_STEMS:
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

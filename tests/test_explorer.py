"""The results explorer: what kind of folder it is, the replay of stored runs (Monte Carlo,
sweep, comparison, explore and run folders give back their stored series), the filters, the
tables (the numbers the command line prints), and the page in headless Chromium (a stored
comparison's scenarios, fan chart and table; a replay that reports equality; a folder that is
not a result, named in one line), with no server process left behind.

The browser tests are skipped, with the reason, where Chromium or playwright is missing.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import shutil
import sys
from pathlib import Path

import pandas as pd
import pytest

from agentsim.config import ConfigError
from agentsim.ensemble import plan_comparison, plan_monte_carlo, plan_sweep, run_batch
from agentsim.executors import InProcess
from agentsim.report import format_cell
from agentsim.scenario_io import config_to_dict, load_config
from agentsim.store import read_batch
from agentsim.tables import comparison_tables, outcome_tables

from .conftest import CONFIGS
from .servers import free_port, running_server

pytest.importorskip("solara", reason="the viz extra is not installed")
from agentsim import explorer

MONTHS = 12


def _config(name: str) -> dict:
    return config_to_dict(load_config(CONFIGS / f"{name}.yaml", {"simulation.steps": MONTHS}))


@pytest.fixture(scope="module")
def stored(tmp_path_factory) -> dict[str, Path]:
    """Small stored results, 12 months each: a comparison (3 paired seeds), a sweep (two
    strengths x trusted release off and on, 2 seeds), a Monte Carlo (2 runs), an explore
    batch (2 samples, 1 seed) and a run folder."""
    root = tmp_path_factory.mktemp("stored")
    baseline, trusted = _config("baseline"), _config("trusted_release")
    plans = {
        "compare": plan_comparison({"baseline": baseline, "trusted_release": trusted}, 3, 0),
        "sweep": plan_sweep(
            baseline,
            {"flywheel.strength": [0.3, 0.7], "policy.trusted_release.enabled": [False, True]},
            2,
            0,
        ),
        "mc": plan_monte_carlo(baseline, 2, 5),
    }
    from agentsim.explore import finish_explore, plan_explore
    from agentsim.uncertainty import load_uncertainty, uncertainty_path

    spec = load_uncertainty(uncertainty_path("default"))
    plans["explore"] = plan_explore({"baseline": baseline}, spec, 2, 1, "lhs", 0)
    folders = {}
    for name, plan in plans.items():
        result = run_batch(plan, root / name, InProcess())
        if name == "explore":
            finish_explore(result)
        folders[name] = root / name
    from agentsim.run import run
    from agentsim.store import write_run

    folders["run"] = write_run(run(load_config(CONFIGS / "baseline.yaml",
                                               {"simulation.steps": MONTHS}), seed=7),
                               root / "run")  # fmt: skip
    return folders


# --------------------------------------------------------------------------- folders


def test_each_kind_of_folder_is_named(stored, tmp_path):
    for kind in ("compare", "sweep", "mc", "explore", "run"):
        assert explorer.check_results_dir(stored[kind]) == kind
    calibration = tmp_path / "calibration"
    calibration.mkdir()
    (calibration / "manifest.json").write_text(
        json.dumps({"kind": "calibrate", "fingerprint": "x"})
    )
    assert explorer.check_results_dir(calibration) == "calibrate"


def test_a_folder_that_is_not_a_result_is_refused_in_one_line(stored, tmp_path):
    stray = tmp_path / "notes"
    stray.mkdir()
    (stray / "notes.txt").write_text("not a result")
    unfinished = tmp_path / "unfinished"
    unfinished.mkdir()
    shutil.copy(stored["mc"] / "manifest.json", unfinished / "manifest.json")
    cases = {
        None: "AGENTSIM_RESULTS_DIR: not set",
        str(tmp_path / "missing"): "folder not found",
        str(stray / "notes.txt"): "is not a folder",
        str(stray): "is not an agentsim result folder",
        str(unfinished): "holds no runs.parquet: the batch is unfinished",
    }
    for path, message in cases.items():
        with pytest.raises(ConfigError) as caught:
            explorer.check_results_dir(path)
        text = str(caught.value)
        assert message in text and len(text.splitlines()) == 1, text
        assert explorer.open_results(path or "") == text  # what the page shows


# --------------------------------------------------------------------------- replay


@pytest.mark.parametrize("kind", ["mc", "sweep", "compare", "explore"])
def test_a_replayed_run_equals_the_stored_series(stored, kind):
    results = explorer.load_results(stored[kind])
    for run_id in results.runs["run_id"].iloc[[0, -1]].tolist():
        replay = explorer.replay_run(results, run_id)
        assert replay.equal, replay.differing
        assert replay.verdict == "replayed series equal the stored ones: yes"
        assert len(replay.replayed) == MONTHS + 1
        row = results.runs[results.runs["run_id"] == run_id].iloc[0]
        assert replay.seed == int(row["seed"]) and replay.scenario == row["scenario"]


def test_a_sweep_run_is_rebuilt_at_its_grid_point(stored):
    results = explorer.load_results(stored["sweep"])
    for row in results.runs.to_dict("records"):
        overrides = explorer.run_overrides(results, row["run_id"])
        assert overrides == {key: row[key] for key in results.grid}
        config, seed = explorer.run_config(results, row["run_id"])
        assert config.flywheel.strength == row["flywheel.strength"] and seed == row["seed"]


def test_a_run_folder_replays_and_a_changed_config_does_not_match(stored):
    results = explorer.load_results(stored["run"])
    assert explorer.replay_run(results).equal
    batch = explorer.load_results(stored["mc"])
    (name, config), = batch.configs.items()  # fmt: skip
    changed = {**config, "flywheel": {**config["flywheel"], "strength": 0.95}}
    edited = dataclasses.replace(batch, manifest={**batch.manifest, "configs": {name: changed}})
    replay = explorer.replay_run(edited, 0)
    assert not replay.equal and replay.verdict.startswith(
        "replayed series equal the stored ones: no (differing: "
    )


def test_series_differences_names_the_columns_that_differ():
    a = pd.DataFrame({"step": [0, 1], "x": [1.0, float("nan")], "s": ["US", "CN"]})
    assert explorer.series_differences(a, a.copy()) == []
    b = a.assign(x=[1.0, 2.0])
    assert explorer.series_differences(a, b) == ["x"]
    assert explorer.series_differences(a, a.drop(columns="s")) == ["s"]
    assert explorer.series_differences(a, a.iloc[:1])[0].startswith("months")


def test_a_failed_run_or_a_calibration_has_nothing_to_replay(stored, tmp_path):
    (tmp_path / "manifest.json").write_text(json.dumps({"kind": "calibrate", "fingerprint": "x"}))
    calibration = explorer.load_results(tmp_path)
    with pytest.raises(ConfigError, match="a calibrate folder stores no runs to replay"):
        explorer.run_config(calibration)
    assert explorer.result_tables(calibration) == {}
    results = explorer.load_results(stored["mc"])
    runs = results.runs.copy()
    runs["error"] = pd.array(["RuntimeError: boom", None], dtype="string")
    failed = dataclasses.replace(results, runs=runs)
    with pytest.raises(ConfigError, match="failed when it was run"):
        explorer.replay_run(failed, 0)
    assert list(explorer.replayable(failed, runs).values()) == [1]


# --------------------------------------------------------------------------- filters, tables


def test_filters_by_a_swept_key_keep_its_runs_and_cut_the_table(stored):
    results = explorer.load_results(stored["sweep"])
    keys = explorer.filter_keys(results)
    assert keys == {
        "flywheel.strength": [0.3, 0.7],
        "policy.trusted_release.enabled": [False, True],
    }
    kept = explorer.filter_runs(results.runs, {"flywheel.strength": [0.7]})
    assert kept["flywheel.strength"].tolist() == [0.7] * 4
    assert explorer.filter_runs(results.runs, {"flywheel.strength": [7e-1]}).equals(kept)
    both = explorer.filter_runs(
        results.runs, {"flywheel.strength": [0.7], "policy.trusted_release.enabled": [True]}
    )
    assert both["run_id"].tolist() == [6, 7]
    assert explorer.filter_runs(results.runs, {"flywheel.strength": []}).empty
    ranged = explorer.filter_runs(results.runs, {"flywheel.strength": explorer.Range(0.5, 1.0)})
    assert ranged.equals(kept)
    table = explorer.result_tables(results, kept)["summary"]
    grid = {"flywheel.strength": [0.7], "policy.trusted_release.enabled": [False, True]}
    expected = outcome_tables(kept, "baseline", 2, 0, grid)["summary"]
    assert table.title == expected.title == "baseline: sweep of 2 grid points x 2 runs, root seed 0"
    pd.testing.assert_frame_equal(table.frame, expected.frame)
    series = explorer.series_of(results.timeseries, kept)
    assert set(series["run_id"]) == set(kept["run_id"]) and len(series) == 4 * (MONTHS + 1)


def test_a_slider_at_its_ends_keeps_every_run():
    domain = explorer.Range(0.147, 1.344)
    assert explorer.snap_range((0.1475, 1.3437), domain) == domain
    assert explorer.snap_range((0.5, 1.0), domain) == explorer.Range(0.5, 1.0)


def test_the_comparison_table_is_the_command_lines(stored):
    results = explorer.load_results(stored["compare"])
    tables = explorer.result_tables(results)
    batch = read_batch(stored["compare"])
    expected = comparison_tables(batch.runs, "baseline", "trusted_release", 3, 0)
    assert list(tables) == list(expected)
    for name in expected:
        assert tables[name].title == expected[name].title
        pd.testing.assert_frame_equal(tables[name].frame, expected[name].frame)
    page = explorer.table_html(tables["summary"])
    for value in expected["summary"].frame["difference"]:
        assert f">{format_cell(value)}</td>" in page
    assert "<script" not in explorer.table_html(
        dataclasses.replace(tables["summary"], frame=pd.DataFrame({"a": ["<script>x"]}))
    )


def test_the_figures_are_drawn_by_the_plot_functions(stored):
    compare = explorer.load_results(stored["compare"])
    sweep = explorer.load_results(stored["sweep"])
    drawn = [
        explorer.fan_figure(compare, compare.runs, "us_user_share"),
        explorer.distribution_figure(sweep, sweep.runs, "final_us_user_share"),
        explorer.heatmap_figure(sweep, sweep.runs, "final_us_user_share"),
        explorer.run_figure(explorer.load_results(stored["run"]), "frontier"),
    ]
    for fig in drawn:
        assert explorer.png(fig).startswith(b"\x89PNG")
    labels = explorer.point_labels(sweep, sweep.runs)
    assert labels[0] == "strength=0.3, enabled=false" and labels[-1] == "strength=0.7, enabled=true"
    assert "Replay" in explorer.tabs_of("sweep", sweep) and "Heatmap" in explorer.tabs_of(
        "sweep", sweep
    )


# --------------------------------------------------------------------------- exports


def test_the_exported_scenario_of_a_sweep_run_reproduces_its_stored_series(stored, tmp_path):
    from agentsim.run import run

    results = explorer.load_results(stored["sweep"])
    run_id = int(results.runs["run_id"].iloc[-1])  # the last grid point: overrides applied
    path = tmp_path / "run.yaml"
    path.write_text(explorer.scenario_yaml(results, run_id))
    config = load_config(path)
    seed = explorer.run_seed(results, run_id)
    row = results.runs[results.runs["run_id"] == run_id].iloc[0]
    assert seed == int(row["seed"]) and config.flywheel.strength == row["flywheel.strength"]
    replayed = run(config, seed=seed).model_frame.reset_index(drop=True)
    stored_series = explorer.stored_series(results, run_id)
    assert len(stored_series) == MONTHS + 1
    assert explorer.series_differences(stored_series, replayed) == []
    command = explorer.view_command(results, seed)
    assert command.splitlines() == [
        f"agentsim viz --results {results.folder}",
        f"agentsim run run.yaml --seed {seed}",
    ]


def test_a_run_folders_scenario_is_its_config(stored):
    results = explorer.load_results(stored["run"])
    assert explorer.run_seed(results) == 7
    expected = load_config(CONFIGS / "baseline.yaml", {"simulation.steps": MONTHS})
    assert explorer.run_config(results)[0] == expected
    assert "flywheel:" in explorer.scenario_yaml(results)


def test_figures_export_as_png_and_pdf_and_the_command_names_the_folder(stored, tmp_path):
    compare = explorer.load_results(stored["compare"])
    key = ("fan", compare.token, explorer.selection_key({}), "us_user_share")

    def draw():
        return explorer.fan_figure(compare, compare.runs, "us_user_share")

    shown = explorer.picture(key, draw)
    assert explorer.exported_figure(key, draw, "png") == shown  # the page's own picture
    assert shown.startswith(b"\x89PNG\r\n\x1a\n")
    pdf = explorer.exported_figure(key, draw, "pdf")
    assert pdf.startswith(b"%PDF")
    assert explorer.exported_figure(key, draw, "pdf") is pdf  # drawn once
    sweep = explorer.load_results(stored["sweep"])
    heatmap = explorer.heatmap_figure(sweep, sweep.runs, "final_us_user_share")
    assert explorer.figure_bytes(heatmap, "pdf").startswith(b"%PDF")
    with pytest.raises(ValueError):
        explorer.figure_bytes(draw(), "svg")
    assert explorer.view_command(compare) == f"agentsim viz --results {compare.folder}\n"
    spaced = tmp_path / "my results"
    shutil.copytree(stored["mc"], spaced)
    text = explorer.view_command(explorer.load_results(spaced))
    assert text == f"agentsim viz --results '{spaced}'\n"


# --------------------------------------------------------------------------- browser


@contextlib.contextmanager
def serve(folder: Path | str, log: Path):
    """The explorer for ``folder`` on a free port, served as ``agentsim viz --results`` serves
    it: yields the URL; at the end stops the server and checks that nothing it started is
    left."""
    port = free_port()
    command = [sys.executable, "-m", "solara", "run", "agentsim.explorer", "--host",
               "127.0.0.1", "--port", str(port), "--no-open", "--production"]  # fmt: skip
    with running_server(command, port, log, {explorer.RESULTS_ENV: str(folder)}) as (url, _):
        yield url


@pytest.fixture(scope="module")
def compare_page(stored, tmp_path_factory):
    with serve(stored["compare"], tmp_path_factory.mktemp("explorer") / "server.log") as url:
        yield url


def open_page(browser, url: str):
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    page.goto(url, timeout=90_000)
    return page


def test_the_explorer_shows_the_scenarios_a_fan_chart_and_the_table(
    compare_page, chromium, stored, tmp_path
):
    page = open_page(chromium, compare_page)
    try:
        page.locator(".explorer-figure img").first.wait_for(timeout=60_000)
        page.locator("table[data-table=summary]").wait_for(timeout=60_000)
        assert page.get_by_text("baseline, trusted_release").count() == 1
        assert page.get_by_text("agentsim compare: compare", exact=True).count() == 1
        source = page.locator(".explorer-figure img").first.get_attribute("src")
        assert source and source.startswith(("blob:", "data:image/png"))
        shown = page.locator("table[data-table=summary] tbody tr").all_inner_texts()
        expected = comparison_tables(
            read_batch(stored["compare"]).runs, "baseline", "trusted_release", 3, 0
        )["summary"].frame
        assert len(shown) == len(expected)
        first = shown[0].split("\t")
        assert first[0] == expected["outcome"].iloc[0]
        assert format_cell(expected["difference"].iloc[0]) in first
        assert page.get_by_role("button", name="Figure (PDF)").count() >= 1
        command = page.locator(".explorer-command").first.inner_text()
        assert command == f"agentsim viz --results {stored['compare']}"
    finally:
        page.close()


def test_a_replayed_run_reports_equality(compare_page, chromium):
    page = open_page(chromium, compare_page)
    try:
        page.get_by_role("tab", name="Replay").click()
        page.get_by_text("replayed series equal the stored ones: yes").wait_for(timeout=60_000)
        assert page.get_by_text("run 0: baseline, seed").count() >= 1
        assert page.locator(".explorer-figure img").count() == 1  # the live view
        assert page.get_by_role("button", name="Scenario of this run (run.yaml)").count() == 1
        assert page.get_by_text("agentsim run run.yaml --seed").count() >= 1
    finally:
        page.close()


def test_a_folder_that_is_not_a_result_shows_its_message(chromium, tmp_path):
    folder = tmp_path / "notes"
    folder.mkdir()
    (folder / "notes.txt").write_text("not a result")
    with pytest.raises(ConfigError) as caught:
        explorer.check_results_dir(folder)
    with serve(folder, tmp_path / "server.log") as url:
        page = open_page(chromium, url)
        try:
            message = page.locator(".explorer-message")
            message.wait_for(timeout=60_000)
            assert str(caught.value) in message.inner_text()
            page.reload()  # the page keeps running
            page.locator(".explorer-message").wait_for(timeout=60_000)
        finally:
            page.close()

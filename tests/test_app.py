"""The interactive A/B app: controls generated from the levers and the schema; the pairing of
two models on one seed, the paired ensemble and the exports (without a browser); and the page
in a real browser (headless Chromium steps A and B, moves a lever on B, runs the paired seeds
and reads back what the charts plot), with no server or worker process left behind.

The tests need the viz extra. The browser tests are skipped, with the reason, where Chromium or
playwright is missing; CI installs both.
"""

from __future__ import annotations

import contextlib
import json
import re
import subprocess
import sys
import time
import typing
from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd
import psutil
import pytest
from pydantic import BaseModel

from agentsim import observe
from agentsim.config import LEVERS, Config, ConfigError, ParameterSpec, parameter_spec
from agentsim.ensemble import replicate_seeds
from agentsim.executors import InProcess
from agentsim.run import run
from agentsim.scenario_io import (
    DEFAULT_SCENARIO,
    SCENARIO_DIR,
    dump_config,
    load_config,
    shipped_scenarios,
)

from .conftest import ROOT, chromium_browser
from .servers import free_port, running_server

pytest.importorskip("solara", reason="the viz extra is not installed")
from agentsim import app


def numeric_paths(model: type[BaseModel] = Config, prefix: str = "") -> list[str]:
    """Dotted paths of every int or float parameter in the schema (free keys as 'X')."""
    paths = []
    for name, field in model.model_fields.items():
        annotation = field.annotation
        args = typing.get_args(annotation)
        if isinstance(annotation, type) and issubclass(annotation, BaseModel):
            paths += numeric_paths(annotation, f"{prefix}{name}.")
        elif args and isinstance(args[-1], type) and issubclass(args[-1], BaseModel):
            paths += numeric_paths(args[-1], f"{prefix}{name}.X.")
        else:
            spec = parameter_spec(f"{prefix}{name}")
            if spec.type in (int, float):
                paths.append(spec.path)
    return paths


# --------------------------------------------------------------------------- controls


@pytest.fixture(scope="module")
def controls() -> dict:
    return app.lever_controls(load_config(), DEFAULT_SCENARIO)


def test_every_lever_is_a_control(controls: dict):
    assert set(controls) == {"config", "rng", *LEVERS}
    assert controls["config"] == str(DEFAULT_SCENARIO)
    baseline = load_config()
    for name, path in LEVERS.items():
        spec = parameter_spec(path)
        control = controls[name]
        expected = {bool: "Checkbox", int: "SliderInt", float: "SliderFloat"}[spec.type]
        assert control["type"] == expected, name
        assert control["label"] == app.control_label(spec)
        node = baseline
        for part in path.split("."):
            node = getattr(node, part)
        assert control["value"] == node, name  # the scenario's value


def test_every_control_range_lies_within_the_schema_bounds(controls: dict):
    for name, path in LEVERS.items():
        spec = parameter_spec(path)
        control = controls[name]
        if spec.type is bool:
            continue
        assert control["min"] < control["max"], name
        assert spec.allows(control["min"]) and spec.allows(control["max"]), name
        assert 0 < control["step"] <= control["max"] - control["min"], name
        assert control["min"] <= control["value"] <= control["max"], name
        # a closed bound is the slider's end
        if spec.lower is not None and spec.lower_inclusive:
            assert control["min"] == spec.lower, name
        if spec.upper is not None and spec.upper_inclusive:
            assert control["max"] == spec.upper, name


@pytest.mark.parametrize("path", numeric_paths())
def test_slider_range_of_every_numeric_parameter_is_inside_its_bounds(path: str):
    spec = parameter_spec(path)
    for value in (None, spec.default):
        if value is None and spec.default is None:
            continue
        low, high, step = app.slider_range(spec, value)
        assert low < high and step > 0, path
        assert spec.allows(low) and spec.allows(high), path
        if spec.type is int:
            assert all(isinstance(x, int) for x in (low, high, step)), path


def test_slider_range_rules():
    def spec(kind=float, default=1.0, lower=None, li=True, upper=None, ui=True) -> ParameterSpec:
        return ParameterSpec("x", kind, default, lower, li, upper, ui, "-", "X.")

    assert app.slider_range(spec(lower=0, upper=1)) == (0, 1, 0.001)
    assert app.slider_range(spec(lower=0, li=False, upper=1)) == (0.001, 1, 0.001)
    assert app.slider_range(spec(lower=0, upper=1, ui=False)) == (0, 0.999, 0.001)
    assert app.slider_range(spec(default=2.0, lower=0)) == (0, 20.0, 0.01)  # absent upper
    assert app.slider_range(spec(default=0.1, lower=0)) == (0, 10.0, 0.01)
    assert app.slider_range(spec(default=-2.0, upper=5)) == (-20.0, 5, 0.01)  # absent lower
    assert app.slider_range(spec(kind=int, default=3, lower=1, upper=100)) == (1, 100, 1)
    assert app.slider_range(spec(kind=int, default=3, lower=0, li=False, upper=10)) == (1, 10, 1)
    # the value lies on the grid: the baseline's 5,000 researchers on a slider from 1
    big = spec(kind=int, default=5000, lower=1, upper=2_000_000)
    assert app.slider_range(big, 5000) == (1, 2_000_000, 1)
    assert app.slider_range(big, 5001) == (1, 2_000_000, 1000)
    assert app.slider_range(spec(lower=0, upper=1), 0.0125) == (0, 1, 0.0001)
    assert app.slider_range(spec(lower=0, li=False, upper=1), 0.01) == (0.001, 1, 0.001)


def test_every_lever_of_every_shipped_scenario_lies_on_its_sliders_grid():
    for name in shipped_scenarios():
        config = load_config(name)
        for path in LEVERS.values():
            spec = parameter_spec(path)
            if spec.type is bool:
                continue
            value = app._value_at(config, path)
            low, _, step = app.slider_range(spec, value)
            steps = (value - low) / step
            assert abs(steps - round(steps)) < 1e-6, (name, path)


def test_labels_carry_the_unit():
    assert app.control_label(parameter_spec("policy.trusted_release.compliance_delay_weeks")) == (
        "Compliance delay before every release (weeks)"
    )
    assert app.control_label(parameter_spec("flywheel.strength")).startswith("Elasticity")
    assert "(" not in app.control_label(parameter_spec("policy.export_controls.price_multiplier"))


def test_page_shows_the_shipped_baseline_by_default_and_b_is_a_copy_of_a(monkeypatch):
    monkeypatch.delenv("AGENTSIM_VIZ_CONFIG", raising=False)
    monkeypatch.delenv("AGENTSIM_VIZ_CONFIG_B", raising=False)
    assert app.page_scenario() == DEFAULT_SCENARIO
    assert app.page_scenarios() == (DEFAULT_SCENARIO, DEFAULT_SCENARIO)
    monkeypatch.setenv("AGENTSIM_VIZ_CONFIG", "trusted_release")
    assert app.page_scenario() == SCENARIO_DIR / "trusted_release.yaml"
    assert app.page_scenario("combined") == SCENARIO_DIR / "combined.yaml"
    monkeypatch.setenv("AGENTSIM_VIZ_CONFIG_B", "combined")
    assert app.page_scenarios() == (
        SCENARIO_DIR / "trusted_release.yaml",
        SCENARIO_DIR / "combined.yaml",
    )


def test_app_does_not_type_bounds_by_hand():
    source = Path(app.__file__).read_text(encoding="utf-8")
    for old in ('"min": 0.001', '"max": 0.5', '"max": 2.0', '"max": 26.0', "DEFAULT_CONFIG"):
        assert old not in source


# --------------------------------------------------------------------------- the pair

SHORT = {"simulation.steps": 6, "talent.n_researchers": 500}


def short(**overrides) -> Config:
    """A quick world: six months, 500 researchers."""
    return load_config(None, overrides={**SHORT, **overrides})


def test_two_models_on_one_seed_step_identically():
    config = load_config()
    pair = app.ABPair(config, load_config(), seed=3)
    for _ in range(8):
        assert observe.indicators(pair.models["A"]) == observe.indicators(pair.models["B"])
        pair.step()
    frames = pair.frames()
    pd.testing.assert_frame_equal(frames["A"], frames["B"])
    # and they are the run `agentsim run --seed 3` makes
    expected = run(config, seed=3).model_frame.iloc[:9].reset_index(drop=True)
    pd.testing.assert_frame_equal(frames["A"], expected)


def test_a_lever_change_on_b_leaves_a_unchanged_and_replays_b_to_the_same_month():
    config = load_config()
    pair = app.ABPair(config, config, seed=1)
    for _ in range(6):
        pair.step()
    model_a = pair.models["A"]
    before = pair.frames()["A"]
    moved = load_config(None, overrides={"flywheel.strength": 0.9})
    pair.replace("B", moved)
    assert pair.models["A"] is model_a and pair.steps == 6
    frames = pair.frames()
    pd.testing.assert_frame_equal(frames["A"], before)
    assert not frames["B"]["us_user_share"].equals(frames["A"]["us_user_share"])
    expected = run(moved, seed=1).model_frame.iloc[:7].reset_index(drop=True)
    pd.testing.assert_frame_equal(frames["B"], expected)
    pair.step()
    pd.testing.assert_frame_equal(
        pair.frames()["A"], run(config, seed=1).model_frame.iloc[:8].reset_index(drop=True)
    )


def test_the_pair_refuses_sides_on_two_clocks():
    with pytest.raises(ConfigError, match="must share simulation"):
        app.ABPair(load_config(), short(), seed=0)
    pair = app.ABPair(short(), short(), seed=0)
    with pytest.raises(ConfigError, match="must share simulation"):
        pair.replace("B", load_config())
    assert pair.configs["B"].simulation.steps == 6


def test_settings_take_lever_names_and_dotted_keys():
    assert app.parse_settings("trusted_fraction=0.05; flywheel.strength = 0.3\n") == (
        "policy.trusted_release.trusted_fraction=0.05",
        "flywheel.strength=0.3",
    )
    assert app.parse_settings("  ;  ") == ()
    side = app.Side(str(DEFAULT_SCENARIO)).with_lever("flywheel_strength", 0.7)
    assert side.with_lever("trusted_release", True).levers == (
        ("trusted_release", True),
        ("flywheel_strength", 0.7),
    )
    assert side.config().flywheel.strength == 0.7


# --------------------------------------------------------------------------- session


@pytest.fixture
def session() -> app.Session:
    side = app.Side(str(DEFAULT_SCENARIO))
    made = app.Session(side, side, seed=0)
    yield made
    made.close()


def test_bad_input_shows_the_clis_message_and_keeps_the_last_good_world(session):
    session.set_lever("B", "flywheel_strength", 0.9)
    session.step()
    good = session.pair.models["B"]
    with pytest.raises(ConfigError) as cli_error:  # what `--set` prints on the command line
        load_config(None, assignments=["policy.trusted_release.trusted_fraction=2"])
    session.set_settings("B", "trusted_fraction=2")
    assert session.error == str(cli_error.value)
    assert "must be <= 1" in session.error
    assert session.pair.models["B"] is good and session.sides["B"].settings == ()
    session.step()  # the app keeps running with the last good world
    assert session.pair.steps == 2
    session.set_seed(-1)
    assert session.error == "seed: must be a whole number >= 0 (got -1)"
    session.set_scenario("B", "no_such_scenario")
    assert session.error.startswith("no_such_scenario: file not found")
    session.set_settings("B", "simulation.steps=12")
    assert "must share simulation.steps" in session.error
    assert session.pair.models["B"] is good
    session.set_scenario("B", "trusted_release")  # a good change clears the message
    assert session.error is None
    assert session.pair.configs["B"].name == "trusted_release"
    assert session.pair.steps == 2
    snapshot = session.snapshot()
    assert snapshot.values["B"]["trusted_release"] is True
    assert snapshot.values["A"]["trusted_release"] is False


def test_identical_sides_draw_identical_series_and_a_zero_difference(session):
    for _ in range(4):
        session.step()
    snapshot = session.snapshot()
    for panel in app.PANELS:
        series = {s["name"]: s["data"] for s in app.ab_option(panel, snapshot)["series"]}
        for _column, label in panel.columns:
            a = series["A" if len(panel.columns) == 1 else f"A {label}"]
            b = series["B" if len(panel.columns) == 1 else f"B {label}"]
            assert a == b and len(a) == 5
        for line in app.difference_option(panel, snapshot)["series"]:
            assert all(v in (0, None) for v in line["data"]), panel.key


def test_a_chart_option_travels_as_frame_and_moving_parts_that_rebuild_it(session):
    session.step()
    snapshot = session.snapshot()
    panel = app.PANELS[0]
    options = [app.ab_option(panel, snapshot), app.difference_option(panel, snapshot)]
    options.append(app.network_option(snapshot.edges["B"], snapshot.labs["B"], "B at step 1"))
    for option in options:
        frame, moving = app.split_option(option)
        frame, moving = json.loads(frame), json.loads(moving)
        assert set(moving) == {"title", "series"} and not set(frame) & set(moving)
        assert {**frame, **moving} == json.loads(json.dumps(option))  # nothing lost
    with pytest.raises(ValueError):  # JSON has no NaN: a chart gets null, never NaN
        app.split_option({"series": [{"data": [float("nan")]}]})


def test_the_key_series_share_one_chart_a_row_per_panel_and_a_grid_per_view(session):
    session.set_lever("B", "trusted_release", True)
    for _ in range(3):
        session.step()
    snapshot = session.snapshot()
    option = app.series_option(snapshot)
    assert len(option["grid"]) == len(option["xAxis"]) == len(option["yAxis"]) == 12
    lines = {line["id"]: line for line in option["series"]}
    assert len(lines) == len(option["series"])  # every line has its own id
    for row, panel in enumerate(app.PANELS):
        views = (("ab", app.ab_option), ("diff", app.difference_option))
        for column, (kind, build) in enumerate(views):
            index = 2 * row + column
            assert option["title"][index]["text"] == build(panel, snapshot)["title"]["text"]
            for line in build(panel, snapshot)["series"]:
                drawn = lines[f"{panel.key}-{kind}:{line['name']}"]
                assert drawn["data"] == line["data"]
                assert drawn["xAxisIndex"] == drawn["yAxisIndex"] == index
    tops = [grid["top"] for grid in option["grid"]]
    assert tops == sorted(tops) and tops[0] < tops[2]  # one row per panel, top to bottom
    assert all(legend["selectedMode"] is False for legend in option["legend"])
    # with a band: each B - A view stacks its band on its own lines, never on another row's
    diffs = [np.random.default_rng(k).normal(size=(61, len(app.KEY_COLUMNS))) for k in range(5)]
    status = app.EnsembleStatus(5, 5, 0, app.difference_band(diffs), running=False)
    banded = app.series_option(replace(snapshot, ensemble=status))
    stacks: dict[str, set[int]] = {}
    for line in banded["series"]:
        if "stack" in line:
            stacks.setdefault(line["stack"], set()).add(line["xAxisIndex"])
    assert len(stacks) == 8 and all(len(axes) == 1 for axes in stacks.values()), stacks
    table = app.series_table(replace(snapshot, ensemble=status))
    assert len(table) == snapshot.horizon + 1  # the band's months, as the page draws them
    assert table["A_us_user_share"].notna().sum() == 4  # months 0 to 3 stepped
    assert table["ensemble_p95_us_user_share"].notna().all()


def test_the_charts_redraw_when_the_world_changes_not_when_play_or_an_error_does(session):
    drawn = app.ChartsState(session.snapshot())
    session.set_seeds(7)
    session.set_settings("B", "trusted_fraction=2")  # refused: an error line, the same world
    assert app.ChartsState(session.snapshot()) == drawn
    session.step()
    stepped = app.ChartsState(session.snapshot())
    assert stepped != drawn
    session.set_lever("B", "flywheel_strength", 0.9)  # B replayed to month 1: a new world
    assert app.ChartsState(session.snapshot()) != stepped
    session.reset()
    assert app.ChartsState(session.snapshot()) != drawn  # month 0 again, but another world


def test_playing_draws_the_world_at_most_every_paint_interval_and_the_last_month_at_once(
    session, monkeypatch
):
    monkeypatch.setattr(app, "PLAY_PAINT_S", 0.05)
    drawn: list[tuple[float, int, bool, bool]] = []
    session.connect(lambda s, world: drawn.append((time.monotonic(), s.step, s.playing, world)))
    session.set_interval(0)
    session.play()
    assert drawn[0][1:] == (0, True, False)  # the pause button at once, before any step
    deadline = time.monotonic() + 60
    while (not drawn or drawn[-1][1] < session.pair.horizon or drawn[-1][2]) and (
        time.monotonic() < deadline
    ):
        time.sleep(0.01)
    worlds = [(at, step) for at, step, _, world in drawn if world]
    assert worlds[-1][1] == session.pair.horizon  # the last month is drawn
    playing = [at for at, _, still_playing, world in drawn if world and still_playing]
    gaps = np.diff([drawn[0][0], *playing])
    assert (gaps >= 0.05 * 0.9).all(), gaps  # no drawing of the world sooner than the interval


def test_typed_numbers_and_the_seed_count_refused_in_one_line(session):
    assert app.typed_number(" 12") == 12 and app.typed_number("-1") == -1
    assert app.typed_number("1.5") == "1.5" and app.typed_number("abc") == "abc"
    session.set_seeds(app.typed_number("many"))
    assert session.error == "seeds: must be a whole number >= 1 (got 'many')"
    assert session.seeds == app.DEFAULT_SEEDS
    session.set_seeds(app.typed_number("6"))
    assert session.seeds == 6 and session.error is None
    session.set_seed(app.typed_number("x1"))
    assert session.error == "seed: must be a whole number >= 0 (got 'x1')"
    session.set_seeds(0)
    assert session.error == "seeds: must be a whole number >= 1 (got 0)"


def test_a_typed_field_commits_only_a_change_and_shows_a_new_value():
    import solara

    committed: list[str] = []
    shown = solara.reactive("trusted_fraction=0.5")

    @solara.component
    def Field():  # noqa: N802
        return app.TypedField("Set on B", shown.value, committed.append)

    _, context = solara.render(Field(), handle_error=False)
    try:
        widget = context.find(app.TypedFieldWidget).widget
        assert widget.text == "trusted_fraction=0.5"
        widget.vue_commit("trusted_fraction=0.5")  # focus in and out: nothing to apply
        assert committed == []
        widget.vue_commit("trusted_fraction=0.7")  # Enter on a change: applied
        assert committed == ["trusted_fraction=0.7"]
        shown.set("flywheel.strength=0.9")  # the side changed: the field shows it
        assert widget.text == "flywheel.strength=0.9"
    finally:
        context.close()


def test_the_table_of_labs_shows_every_lab_and_column_but_the_step(session):
    session.step()
    labs = session.snapshot().labs["A"]
    table = app.lab_html(labs)
    assert table.count("<tr>") == len(labs) + 1 and "<th>step</th>" not in table
    for column in labs.columns.drop("step"):
        assert f"<th>{column}</th>" in table
    for name in labs["lab"]:
        assert f"<td>{name}</td>" in table
    cash = labs["cash ($B)"].iloc[0]
    assert f"<td>{cash:,.2f}</td>" in table
    assert app.lab_html(labs.assign(lab="<b>&")).count("&lt;b&gt;&amp;") == len(labs)


def test_exported_yaml_reproduces_each_side_and_the_command_reproduces_the_view(session, tmp_path):
    session.set_lever("B", "trusted_release", True)
    session.set_settings("B", "flywheel_strength=0.8")
    session.set_seed(7)
    for _ in range(5):
        session.step()
    live = session.pair.frames()
    for side in app.SIDES:
        path = tmp_path / f"{side.lower()}.yaml"
        path.write_text(session.scenario_yaml(side), encoding="utf-8")
        config = load_config(path)
        assert config == session.pair.configs[side]
        expected = run(config, seed=7).model_frame.iloc[:6].reset_index(drop=True)
        pd.testing.assert_frame_equal(live[side], expected)
    assert load_config(tmp_path / "b.yaml").flywheel.strength == 0.8
    assert session.command() == (
        "agentsim viz a.yaml b.yaml --seed 7\nagentsim compare a.yaml b.yaml --runs 20 --seed 7\n"
    )


def test_the_export_holds_both_scenarios_the_figures_and_the_series(session):
    import io
    import zipfile

    session.step()
    assert session.figure("png").startswith(b"\x89PNG")
    with zipfile.ZipFile(io.BytesIO(session.export_zip())) as archive:
        names = set(archive.namelist())
        assert archive.read("a.yaml").decode() == dump_config(load_config())
        series = pd.read_csv(archive.open("series.csv"))
    stems = ("ab_series", "network_a", "network_b")
    assert names == {"a.yaml", "b.yaml", "command.txt", "series.csv"} | {
        f"{stem}.{fmt}" for stem in stems for fmt in ("png", "pdf")
    }
    assert len(series) == 2 and (series["diff_us_user_share"] == 0).all()


# --------------------------------------------------------------------------- ensemble


def test_difference_band_is_the_median_and_the_5_and_95_percent_quantiles():
    columns = len(app.KEY_COLUMNS)
    diffs = [np.full((3, columns), float(k)) for k in range(21)]
    diffs[0][2, 0] = np.nan
    band = app.difference_band(diffs)
    median, low, high = band[app.KEY_COLUMNS[0]]
    assert median[:2] == [10.0, 10.0] and low[:2] == [1.0, 1.0] and high[:2] == [19.0, 19.0]
    assert median[2] == 10.5  # a pair without the month is left out of that month
    all_nan = app.difference_band([np.full((2, columns), np.nan)])
    assert all_nan[app.KEY_COLUMNS[0]] == ([None, None], [None, None], [None, None])


def test_the_paired_ensemble_runs_the_compare_plan_and_bands_its_differences():
    a, b = short(), short(**{"flywheel.strength": 0.9})
    updates: list[bool] = []
    ensemble = app.PairedEnsemble(a, b, 3, 5, executor=InProcess(), on_update=updates.append)
    assert ensemble.names == ("baseline", "baseline_B")  # as agentsim compare names them
    ensemble.run()
    status = ensemble.status()
    assert (status.done, status.pairs, status.failed, status.error) == (3, 3, 0, None)
    assert updates == [False, False, False, True]
    # the differences are those of the two sides run on compare's seeds
    diffs = []
    for seed in replicate_seeds(5, 3):
        frame_a, frame_b = run(a, seed=seed).model_frame, run(b, seed=seed).model_frame
        diffs.append((frame_b["us_user_share"] - frame_a["us_user_share"]).to_numpy())
    median, low, high = status.band["us_user_share"]
    assert median == pytest.approx(np.median(diffs, axis=0).tolist())
    assert low == pytest.approx(np.quantile(diffs, 0.05, axis=0).tolist())
    assert high == pytest.approx(np.quantile(diffs, 0.95, axis=0).tolist())


def test_the_paired_ensemble_refuses_identical_sides_and_bad_seed_counts():
    with pytest.raises(ConfigError, match=r"^paired seeds: A and B are the same scenario"):
        app.PairedEnsemble(short(), short(), 4, 0, executor=InProcess())
    with pytest.raises(ConfigError, match=r"^seeds: must be a whole number >= 1 \(got 0\)$"):
        app.PairedEnsemble(short(), short(**{"flywheel.strength": 0.9}), 0, 0)


def test_the_paired_ensemble_stops_at_the_next_pair():
    ensemble = app.PairedEnsemble(
        short(), short(**{"flywheel.strength": 0.9}), 500, 0, executor=InProcess()
    )

    def stop_at_once(final: bool) -> None:
        ensemble.stop()

    ensemble.on_update = stop_at_once
    ensemble.run()
    status = ensemble.status()
    assert status.stopped and status.done == 1 and not status.running


def test_session_runs_the_ensemble_in_the_background_and_changes_make_it_stale(session):
    session.set_lever("B", "flywheel_strength", 0.9)
    session.seeds = 2
    session.run_ensemble(executor=InProcess())
    deadline = time.monotonic() + 60
    while session.ensemble.running and time.monotonic() < deadline:
        time.sleep(0.05)
    status = session.snapshot().ensemble
    assert status.done == 2 and status.band is not None and status.seconds is not None
    names = [s["name"] for s in app.difference_option(app.PANELS[1], session.snapshot())["series"]]
    assert names == ["_low", "90% band", "median", "B - A"]
    session.set_lever("B", "flywheel_strength", 0.8)
    assert session.ensemble is None and "run the paired seeds again" in session.ensemble_note
    session.set_lever("B", "flywheel_strength", 0.5)  # now equal to A
    session.run_ensemble(executor=InProcess())
    assert session.ensemble is None and "A and B are the same scenario" in session.ensemble_note


# --------------------------------------------------------------------------- command line


@pytest.fixture
def served(monkeypatch):
    from agentsim import cli as cli_module

    calls: list[tuple] = []
    monkeypatch.setattr(cli_module, "_serve", lambda *args: calls.append(args) or 0)
    return calls


def _invoke(args: list[str]):
    from typer.testing import CliRunner

    from agentsim.cli import app as cli_app

    result = CliRunner().invoke(cli_app, args)
    return result, getattr(result, "stderr", "") or result.output


def test_viz_serves_two_scenarios_on_one_seed(served, tmp_path):
    b = tmp_path / "b.yaml"
    b.write_text(dump_config(load_config(None, overrides={"flywheel.strength": 0.9})))
    result, _ = _invoke(["viz", str(DEFAULT_SCENARIO), str(b), "--seed", "4", "--workers", "2"])
    assert result.exit_code == 0, result.output
    ((command, env),) = served
    assert command[-6:-4] == ["--host", "127.0.0.1"] or "agentsim.app" in command
    assert env["AGENTSIM_VIZ_CONFIG"] == str(DEFAULT_SCENARIO.resolve())
    assert env["AGENTSIM_VIZ_CONFIG_B"] == str(b.resolve())
    assert (env["AGENTSIM_VIZ_SEED"], env["AGENTSIM_VIZ_WORKERS"]) == ("4", "2")
    assert "serving A baseline.yaml, B b.yaml, seed 4" in result.output


def test_viz_with_one_scenario_serves_b_as_a_copy(served, monkeypatch):
    monkeypatch.setenv("AGENTSIM_VIZ_CONFIG_B", "combined")  # never inherited
    result, _ = _invoke(["viz", "trusted_release"])
    assert result.exit_code == 0, result.output
    ((_, env),) = served
    assert env["AGENTSIM_VIZ_CONFIG"] == str((SCENARIO_DIR / "trusted_release.yaml").resolve())
    assert "AGENTSIM_VIZ_CONFIG_B" not in env and env["AGENTSIM_VIZ_SEED"] == "0"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("policy:\n  trusted_release:\n    trusted_fraction: 2\n", "must be <= 1"),
        ("extends: baseline\nsimulation:\n  steps: 12\n", "must share simulation.steps"),
    ],
)
def test_viz_refuses_a_bad_scenario_b_before_any_server_starts(served, tmp_path, text, message):
    bad = tmp_path / "bad.yaml"
    bad.write_text(text if text.startswith("extends") else "extends: baseline\n" + text)
    result, stderr = _invoke(["viz", str(DEFAULT_SCENARIO), str(bad)])
    assert result.exit_code == 2
    assert message in stderr and "Traceback" not in stderr
    assert len(stderr.strip().splitlines()) == 1
    assert served == []


def test_viz_refuses_more_paired_seed_workers_than_the_batches_allow(served, monkeypatch):
    monkeypatch.setattr("os.cpu_count", lambda: 2)
    result, stderr = _invoke(["viz", "--workers", "9"])
    assert result.exit_code == 2 and served == []
    assert stderr.strip() == "error: --workers: at most 8 (4 per core of this machine's 2) (got 9)"
    result, _ = _invoke(["viz", "--workers", "8"])
    assert result.exit_code == 0, result.output


def test_the_page_server_writes_from_the_drawing_thread_and_lets_a_lost_page_go(monkeypatch):
    from agentsim import cli as cli_module

    started: list[dict] = []

    class Server:
        def __init__(self, command, env, preexec_fn):
            started.append(env)

        def wait(self, timeout=None):
            return 0

        def poll(self):
            return 0

    monkeypatch.setattr(subprocess, "Popen", Server)
    assert cli_module._serve(["solara"], {"PATH": "/bin"}) == 0
    assert started[-1]["SOLARA_SERVER_SYNC_WS_WRITE"] == "true"
    # a page whose browser went away unclosed: its session (and paired seeds) end in 20 s
    assert started[-1]["SOLARA_KERNEL_CULL_TIMEOUT"] == cli_module.PAGE_GONE_AFTER == "20s"
    cli_module._serve(["solara"], {"SOLARA_SERVER_SYNC_WS_WRITE": "false"})  # the user's wins
    assert started[-1]["SOLARA_SERVER_SYNC_WS_WRITE"] == "false"


# --------------------------------------------------------------------------- browser


HELPERS = ("multiprocessing.forkserver", "multiprocessing.resource_tracker")


def background(viz: psutil.Process) -> list[psutil.Process]:
    """Processes below the app server that run work (pool workers): everything under
    ``agentsim viz`` but the server and multiprocessing's idle helpers (its forkserver and
    resource tracker, which end with the server; pool workers are the forkserver's children)."""
    found = []
    for child in viz.children(recursive=True):
        try:
            command = " ".join(child.cmdline())
            parent = child.parent()
            parent_command = " ".join(parent.cmdline()) if parent is not None else ""
        except psutil.Error:
            continue
        if "solara" in command and "run" in command and "agentsim.app" in command:
            continue
        if any(helper in command for helper in HELPERS) and HELPERS[0] not in parent_command:
            continue
        found.append(child)
    return found


@contextlib.contextmanager
def serve(tmp_path: Path, *args: str):
    """``agentsim viz ARGS`` on a free port: yields (url, the viz process); at the end stops
    it and checks that nothing it started is left."""
    port = free_port()
    command = [sys.executable, "-m", "agentsim.cli", "viz", *args, "--port", port]
    with running_server(command, port, tmp_path / "server.log") as (url, viz):
        assert viz.children(recursive=True), "agentsim viz serves the app from a child process"
        yield url, viz


@pytest.fixture(scope="module")
def ab_server(tmp_path_factory):
    with serve(tmp_path_factory.mktemp("viz")) as served_app:  # B: a copy of the baseline
        yield served_app


@pytest.fixture
def chromium():
    """A fresh browser per test: closing it ends the test's page sessions, which the tests of
    background runs stopping with the page rely on."""
    with chromium_browser() as browser:
        yield browser


def open_page(browser, url: str):
    page = browser.new_page(viewport={"width": 1500, "height": 1100}, accept_downloads=True)
    page.goto(url, timeout=90_000)
    page.get_by_text("Labs of B at step 0", exact=True).wait_for(timeout=90_000)
    return page


#: What the page's charts hold, read from ECharts itself: chart -> series name -> data. The
#: key series share one chart, whose lines carry ids "<panel>-ab:<name>" and
#: "<panel>-diff:<name>"; they are read as the charts "<panel>-ab" and "<panel>-diff".
PLOTTED = """() => {
  const charts = {};
  for (const e of document.querySelectorAll('[data-chart]')) {
    const chart = e.__vue__ && e.__vue__.chart;
    for (const s of (chart ? chart.getOption().series : [])) {
      const [name, line] = (s.id || '').includes(':')
        ? [s.id.slice(0, s.id.indexOf(':')), s.id.slice(s.id.indexOf(':') + 1)]
        : [e.dataset.chart, s.name];
      (charts[name] = charts[name] || {})[line] = s.data;
    }
    charts[e.dataset.chart] = charts[e.dataset.chart] || {};
  }
  return charts;
}"""


def plotted(page, months: int) -> dict[str, dict[str, list]]:
    """What every chart of the page plots (chart -> series name -> data), read from ECharts in
    the browser once A's first chart shows ``months`` months."""
    deadline = time.monotonic() + 30
    while True:
        charts = page.evaluate(PLOTTED)
        shown = charts.get("frontier-ab", {}).get("A US", [])
        if sum(v is not None for v in shown) == months or time.monotonic() > deadline:
            return charts
        time.sleep(0.1)


def step(page, to: int) -> None:
    page.get_by_role("button", name="Step").click()
    page.get_by_text(f"Labs of B at step {to}", exact=True).wait_for(timeout=30_000)


def assert_no_background(viz: psutil.Process, timeout: float = 20) -> None:
    deadline = time.monotonic() + timeout
    while (left := background(viz)) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not left, f"background processes left: {[p.cmdline()[:3] for p in left]}"


def test_ab_with_identical_levers_plots_identical_series(ab_server, chromium, tmp_path):
    url, viz = ab_server
    page = open_page(chromium, url)
    labels = [app.control_label(parameter_spec(path)) for path in LEVERS.values()]
    for label in [*labels, "Seed", "Seeds"]:
        assert page.get_by_text(label, exact=True).count() >= 1, label
    for label in labels:  # one control per lever on each side
        assert page.get_by_text(label, exact=True).count() == 2, label
    assert page.get_by_text("GoogleDeepMind").count() >= 2  # the labs of A and of B
    for month in range(1, 4):
        step(page, month)
    charts = plotted(page, 4)
    expected = run(load_config(), seed=0).model_frame.iloc[:4]
    for panel in app.PANELS:
        ab, diff = charts[f"{panel.key}-ab"], charts[f"{panel.key}-diff"]
        for column, label in panel.columns:
            name = "" if len(panel.columns) == 1 else f" {label}"
            a, b = ab[f"A{name}"], ab[f"B{name}"]
            assert a == b, panel.key
            assert a[:4] == pytest.approx((expected[column] * panel.scale).tolist())
            assert a[4:] == [None] * (len(a) - 4)  # the months to come
            assert diff[f"B - A{name}"][:4] == [0, 0, 0, 0]
    assert set(charts) >= {"network-A", "network-B"}
    with page.expect_download() as download:
        page.get_by_text("Scenario B (b.yaml)").click()
    assert Path(download.value.path()).read_text() == dump_config(load_config())
    page.close()
    assert_no_background(viz)


def test_a_lever_on_b_moves_b_and_the_difference_only(ab_server, chromium):
    url, viz = ab_server
    page = open_page(chromium, url)  # a new page: its own pair, at month 0
    for month in range(1, 4):
        step(page, month)
    before = plotted(page, 4)
    trusted = app.control_label(parameter_spec(LEVERS["trusted_release"]))
    page.get_by_text(trusted, exact=True).nth(1).click()  # the B side's checkbox
    page.get_by_text("B: baseline (trusted_release=True)", exact=False).wait_for(timeout=30_000)
    after = plotted(page, 4)
    config_b = load_config(None, overrides={LEVERS["trusted_release"]: True})
    expected_b = run(config_b, seed=0).model_frame.iloc[:4]
    moved = []
    for panel in app.PANELS:
        for column, label in panel.columns:
            name = "" if len(panel.columns) == 1 else f" {label}"
            ab, diff = after[f"{panel.key}-ab"], after[f"{panel.key}-diff"]
            assert ab[f"A{name}"] == before[f"{panel.key}-ab"][f"A{name}"]  # A is untouched
            assert ab[f"B{name}"][:4] == pytest.approx((expected_b[column] * panel.scale).tolist())
            a, b = np.array(ab[f"A{name}"][:4]), np.array(ab[f"B{name}"][:4])
            assert diff[f"B - A{name}"][:4] == pytest.approx((b - a).tolist())
            moved.append(not np.array_equal(a, b))
    assert any(moved), "the lever moved nothing on B"
    # a value outside its bounds typed into B's field: the CLI's message, the last good world
    field = page.get_by_label("Set on B (KEY=VALUE; ...)")
    field.fill("trusted_fraction=2")
    field.press("Enter")
    message = "policy.trusted_release.trusted_fraction: must be <= 1.0 (got 2)"
    page.get_by_text(message, exact=False).wait_for(timeout=30_000)
    step(page, 4)
    last = plotted(page, 5)
    expected_b = run(config_b, seed=0).model_frame.iloc[:5]
    assert last["users-ab"]["B"][:5] == pytest.approx(expected_b["us_user_share"].tolist())
    page.close()
    assert_no_background(viz)


def test_what_is_typed_survives_the_redraws_of_play_and_enter_applies_it(ab_server, chromium):
    url, viz = ab_server
    page = open_page(chromium, url)
    page.get_by_role("button", name="▶").click()  # a drawing every 0.25 s from now on
    page.get_by_role("button", name="❚❚").wait_for(timeout=30_000)
    typed = {"Set on B (KEY=VALUE; ...)": "trusted_fraction=2", "Seeds": "12"}
    for label, text in typed.items():
        field = page.get_by_label(label, exact=True)
        field.fill("")
        field.press_sequentially(text, delay=60)  # about a second of typing: four drawings
        assert field.input_value() == text, label
    assert page.get_by_role("button", name="❚❚").count() == 1  # still playing
    page.get_by_label("Set on B (KEY=VALUE; ...)").press("Enter")
    message = "policy.trusted_release.trusted_fraction: must be <= 1.0 (got 2)"
    page.get_by_text(message, exact=False).wait_for(timeout=30_000)
    page.get_by_label("Seeds", exact=True).press("Enter")
    page.get_by_role("button", name="Run 12 paired seeds").wait_for(timeout=30_000)
    seeds = page.get_by_label("Seeds", exact=True)  # typed fast, Enter at once: still applied
    seeds.fill("")
    seeds.type("7")  # the browser holds this update back while the emptying is on its way
    seeds.press("Enter")
    page.get_by_role("button", name="Run 7 paired seeds").wait_for(timeout=30_000)
    page.close()
    assert_no_background(viz)


#: The progress line of 300 paired seeds once a pair has finished.
RUNNING_300 = re.compile(r"^[1-9][0-9]*/300 pairs")


def run_paired_seeds(page, seeds: int) -> None:
    field = page.get_by_label("Seeds")
    field.fill(str(seeds))
    field.press("Enter")
    page.get_by_role("button", name=f"Run {seeds} paired seeds").click()


def test_paired_seeds_progress_to_the_end_draw_the_band_and_stop_with_the_page(ab_server, chromium):
    url, viz = ab_server
    page = open_page(chromium, url)
    field = page.get_by_label("Set on B (KEY=VALUE; ...)")
    field.fill("flywheel_strength=0.9")
    field.press("Enter")
    page.get_by_text("B: baseline (flywheel.strength=0.9)", exact=False).wait_for(timeout=30_000)
    run_paired_seeds(page, 4)
    page.get_by_text("4/4 pairs, done in", exact=False).wait_for(timeout=90_000)
    assert page.locator(".v-progress-linear[aria-valuenow='100']").count() == 1
    band = plotted(page, 1)["users-diff"]
    assert set(band) == {"_low", "90% band", "median", "B - A"}
    assert sum(v is not None for v in band["median"]) == 61  # the whole horizon
    assert any(v not in (0, None) for v in band["90% band"])
    assert_no_background(viz, timeout=10)  # a finished ensemble leaves no worker
    run_paired_seeds(page, 300)  # leaving the page stops the runs
    page.get_by_text(RUNNING_300).wait_for(timeout=60_000)
    assert background(viz), "the paired seeds run in worker processes"
    page.close()
    assert_no_background(viz)


@pytest.mark.slow
def test_stopping_the_server_stops_the_paired_seeds(chromium, tmp_path):
    b = tmp_path / "b.yaml"
    b.write_text(dump_config(load_config(None, overrides={"flywheel.strength": 0.9})))
    with serve(tmp_path, str(DEFAULT_SCENARIO), str(b), "--workers", "2") as (url, viz):
        page = open_page(chromium, url)
        run_paired_seeds(page, 300)
        page.get_by_text(RUNNING_300).wait_for(timeout=60_000)
        assert background(viz)
    # serve() stopped the server and found nothing it started still running


def test_app_server_ends_when_viz_is_killed(tmp_path):
    """SIGKILL of `agentsim viz` leaves no server behind (the kernel ends its child)."""
    import signal

    port = free_port()
    viz = subprocess.Popen(
        [sys.executable, "-m", "agentsim.cli", "viz", "--port", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        cwd=ROOT,
    )
    try:
        deadline = time.monotonic() + 60
        children: list[psutil.Process] = []
        while time.monotonic() < deadline and not children:
            children = psutil.Process(viz.pid).children(recursive=True)
            time.sleep(0.2)
        assert children, "agentsim viz did not start its server"
    finally:
        viz.send_signal(signal.SIGKILL)
        viz.wait(timeout=10)
    _, alive = psutil.wait_procs(children, timeout=10)
    for orphan in alive:
        orphan.kill()
    assert not alive, f"the app server outlived a killed agentsim viz: {alive}"


def test_viz_results_serves_the_explorer_of_a_stored_batch(served, tmp_path):
    from agentsim.explorer import RESULTS_ENV

    out = tmp_path / "mc"
    made, _ = _invoke(
        ["mc", str(DEFAULT_SCENARIO), "--runs", "2", "--workers", "1", "--out", str(out),
         "--set", "simulation.steps=12", "--set", "talent.n_researchers=300"]
    )  # fmt: skip
    assert made.exit_code == 0, made.output
    result, _ = _invoke(["viz", "--results", str(out), "--port", "8799"])
    assert result.exit_code == 0, result.output
    ((command, env),) = served
    assert "agentsim.explorer" in command and command[-4:-2] == ["--port", "8799"]
    assert env[RESULTS_ENV] == str(out.resolve())
    assert "serving the mc results" in result.output


@pytest.mark.parametrize("case", ["not_results", "with_a_scenario"])
def test_viz_results_refuses_bad_input_before_any_server_starts(served, tmp_path, case):
    folder = tmp_path / "notes"
    folder.mkdir()
    (folder / "notes.txt").write_text("not a result\n")
    args = ["viz", "--results", str(folder)]
    if case == "with_a_scenario":
        args.insert(1, str(DEFAULT_SCENARIO))
    result, stderr = _invoke(args)
    assert result.exit_code == 2 and served == []
    assert len(stderr.strip().splitlines()) == 1 and "Traceback" not in stderr

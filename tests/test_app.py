"""The interactive app: controls generated from the levers and the schema, and the page in a
real browser (headless Chromium opens it, steps the model and sees the time series change).

The control tests need the viz extra. The browser test is skipped, with the reason, where
Chromium or playwright is missing; CI installs both.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
import typing
import urllib.request
from pathlib import Path

import psutil
import pytest
from pydantic import BaseModel

from agentsim.config import LEVERS, Config, ParameterSpec, parameter_spec
from agentsim.scenario_io import DEFAULT_SCENARIO, SCENARIO_DIR, load_config

from .conftest import ROOT

pytest.importorskip("solara", reason="the viz extra is not installed")
from agentsim import app

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


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


def test_labels_carry_the_unit():
    assert app.control_label(parameter_spec("policy.trusted_release.compliance_delay_weeks")) == (
        "Compliance delay before every release (weeks)"
    )
    assert app.control_label(parameter_spec("flywheel.strength")).startswith("Elasticity")
    assert "(" not in app.control_label(parameter_spec("policy.export_controls.price_multiplier"))


def test_page_shows_the_shipped_baseline_by_default(monkeypatch):
    monkeypatch.delenv("AGENTSIM_VIZ_CONFIG", raising=False)
    assert app.page_scenario() == DEFAULT_SCENARIO
    monkeypatch.setenv("AGENTSIM_VIZ_CONFIG", "trusted_release")
    assert app.page_scenario() == SCENARIO_DIR / "trusted_release.yaml"
    assert app.page_scenario("combined") == SCENARIO_DIR / "combined.yaml"


def test_app_does_not_type_bounds_by_hand():
    source = Path(app.__file__).read_text(encoding="utf-8")
    for old in ('"min": 0.001', '"max": 0.5', '"max": 2.0', '"max": 26.0', "DEFAULT_CONFIG"):
        assert old not in source


# --------------------------------------------------------------------------- browser


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def app_url(tmp_path_factory):
    port = _free_port()
    log = tmp_path_factory.mktemp("viz") / "server.log"
    with log.open("w") as sink:
        server = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "agentsim.cli",
                "viz",  # no scenario: the app shows the shipped baseline
                "--port",
                str(port),
            ],
            stdout=sink,
            stderr=subprocess.STDOUT,
            cwd=ROOT,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )
        url = f"http://127.0.0.1:{port}/"
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            try:
                with urllib.request.urlopen(url, timeout=2) as response:
                    if response.status == 200:
                        break
            except OSError:
                time.sleep(0.5)
        else:
            server.kill()
            pytest.fail(f"the app did not start:\n{log.read_text()[-2000:]}")
        children = psutil.Process(server.pid).children(recursive=True)
        assert children, "agentsim viz serves the app from a child process"
        yield url
        server.terminate()
        try:
            server.wait(timeout=10)
        except subprocess.TimeoutExpired:
            server.kill()
        _, alive = psutil.wait_procs(children, timeout=15)
        for orphan in alive:
            orphan.kill()
        assert not alive, f"the app server outlived agentsim viz: {alive}"


@pytest.mark.skipif(
    CHROMIUM is None,
    reason="Chromium is not installed (apt-get install chromium); CI installs it",
)
def test_app_renders_steps_and_updates_time_series(app_url, tmp_path):
    playwright_api = pytest.importorskip(
        "playwright.sync_api", reason="playwright is not installed"
    )
    screenshots = Path(os.environ.get("AGENTSIM_SCREENSHOTS", tmp_path))
    screenshots.mkdir(parents=True, exist_ok=True)
    with playwright_api.sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=CHROMIUM,
            args=[
                "--no-sandbox",
                "--disable-gpu",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--no-first-run",
                "--disable-quic",
            ],
        )
        try:
            page = browser.new_page(viewport={"width": 1500, "height": 1100})
            page.goto(app_url, timeout=90_000)
            page.get_by_text("Labs at step 0").wait_for(timeout=90_000)
            labels = [app.control_label(parameter_spec(path)) for path in LEVERS.values()]
            for label in [*labels, "Seed"]:
                assert page.get_by_text(label, exact=True).count() >= 1, label
            assert page.get_by_text("GoogleDeepMind").count() >= 1  # the table of labs
            plots = page.locator("img")
            plots.first.wait_for(timeout=60_000)
            before = [plots.nth(i).get_attribute("src") for i in range(plots.count())]
            assert len(before) >= 3  # network, frontier race, US shares
            page.screenshot(path=str(screenshots / "app_step0.png"), full_page=True)

            page.get_by_role("button", name="Step").click()
            page.get_by_text("Labs at step 1").wait_for(timeout=60_000)
            deadline = time.monotonic() + 30
            after = before
            while time.monotonic() < deadline and after == before:
                time.sleep(0.5)
                after = [plots.nth(i).get_attribute("src") for i in range(plots.count())]
            changed = sum(a != b for a, b in zip(before, after, strict=False))
            assert changed >= 2, "the time series did not change after a step"
            page.screenshot(path=str(screenshots / "app_step1.png"), full_page=True)
        finally:
            browser.close()
    assert (screenshots / "app_step1.png").stat().st_size > 10_000


def test_app_server_ends_when_viz_is_killed(tmp_path):
    """SIGKILL of `agentsim viz` leaves no server behind (the kernel ends its child)."""
    import signal

    port = _free_port()
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

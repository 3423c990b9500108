"""The interactive app in a real browser: headless Chromium opens the page, steps the model and
sees the time series change. Skipped, with the reason, where Chromium or the viz extra is
missing; CI installs both."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from .conftest import CONFIGS, ROOT

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
pytestmark = [
    pytest.mark.skipif(
        CHROMIUM is None,
        reason="Chromium is not installed (apt-get install chromium); CI installs it",
    ),
]
playwright_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed")
pytest.importorskip("solara", reason="the viz extra is not installed")


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
                "viz",
                str(CONFIGS / "baseline.yaml"),
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
        yield url
        server.terminate()
        try:
            server.wait(timeout=10)
        except subprocess.TimeoutExpired:
            server.kill()


def test_app_renders_steps_and_updates_time_series(app_url, tmp_path):
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
            for label in (
                "Trusted fraction of users",
                "Compliance delay (weeks)",
                "Flywheel strength (gamma)",
                "Seed",
            ):
                assert page.get_by_text(label).count() >= 1, label
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

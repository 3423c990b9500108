"""Shared fixtures: scenario paths, a cache of run summaries so paired-seed tests share runs,
and headless Chromium for the browser tests (skipped with one reason where it is missing, and
named in one line at the end of the run)."""

from __future__ import annotations

import contextlib
import shutil
from functools import lru_cache
from pathlib import Path

import pandas as pd
import pytest

from agentsim.config import Config
from agentsim.run import run
from agentsim.scenario_io import load_config

ROOT = Path(__file__).resolve().parent.parent
CONFIGS = ROOT / "configs"

#: Debian's Chromium, which the browser tests drive through playwright (CI installs it).
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
#: Why a browser test is skipped here; the summary line at the end counts these skips.
CHROMIUM_MISSING = "Chromium is not installed (apt-get install chromium); CI installs it"
#: Marks a test that needs Chromium (for tests that start playwright themselves).
needs_chromium = pytest.mark.skipif(CHROMIUM is None, reason=CHROMIUM_MISSING)
#: Chromium's switches for the tests: no sandbox (CI runs as root), no GPU, no traffic of its own.
CHROMIUM_ARGS = (
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
)


def scenario(name: str, **overrides) -> Config:
    """Load configs/<name>.yaml with dotted-key overrides."""
    return load_config(CONFIGS / f"{name}.yaml", overrides=overrides)


@lru_cache(maxsize=4096)
def _summary(name: str, overrides: tuple, seed: int) -> dict:
    return run(scenario(name, **dict(overrides)), seed=seed).summary


def summaries(name: str, seeds: range, **overrides) -> pd.DataFrame:
    """Run summaries of one scenario over seeds (cached per test process)."""
    frozen = tuple(sorted(overrides.items()))
    return pd.DataFrame([_summary(name, frozen, s) for s in seeds]).set_index("seed")


@pytest.fixture(scope="session")
def baseline() -> Config:
    return scenario("baseline")


@pytest.fixture(scope="module")
def chromium():
    """Headless Chromium (a playwright Browser) for one test module; the test is skipped with
    :data:`CHROMIUM_MISSING` where Chromium is not installed, or where playwright is not.

    Module scope, not session: playwright's sync API runs one instance per thread at a time,
    and the browser tests that start their own would meet this one in the same worker.
    """
    with chromium_browser() as browser:
        yield browser


@contextlib.contextmanager
def chromium_browser():
    """Launch headless Chromium (a playwright Browser) and close it at the end; skip the test
    with :data:`CHROMIUM_MISSING` where Chromium is not installed, or where playwright is not.
    For a module's own fixture of another scope."""
    if CHROMIUM is None:
        pytest.skip(CHROMIUM_MISSING)
    playwright_api = pytest.importorskip(
        "playwright.sync_api", reason="playwright is not installed"
    )
    with playwright_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=list(CHROMIUM_ARGS))
        try:
            yield browser
        finally:
            browser.close()


def chromium_skips(terminalreporter) -> int:
    """How many tests of this run were skipped because Chromium is missing: skips whose
    reason names Chromium (any test file's wording)."""
    count = 0
    for report in terminalreporter.stats.get("skipped", []):
        longrepr = report.longrepr
        reason = longrepr[2] if isinstance(longrepr, tuple) else str(longrepr)
        count += "chromium" in reason.lower()
    return count


@pytest.hookimpl(trylast=True)
def pytest_terminal_summary(terminalreporter, exitstatus, config) -> None:
    """One line at the end of the run when browser tests were skipped for want of Chromium,
    saying how to include them."""
    skipped = chromium_skips(terminalreporter)
    if skipped:
        tests = "test" if skipped == 1 else "tests"
        terminalreporter.write_line(
            f"{skipped} browser {tests} skipped: Chromium not found (install it with "
            "`apt-get install chromium`, then run make test again)",
            yellow=True,
            bold=True,
        )

"""The user guide's screenshots, taken in headless Chromium: the A/B view (baseline vs trusted
release, stepped a year, with a few paired seeds' band), the results explorer on a small stored
comparison, and the report page of that comparison opened offline.

Each test checks what the page shows, then saves a PNG of the window (1280 x 900) into the
folder named by AGENTSIM_SCREENSHOTS_DIR (``make screenshots`` sets it to docs/images), or into
the test's own temporary folder when it is not set, so the suite checks that the screenshots
can still be taken. The servers are started as ``agentsim viz`` starts them, and are checked to
leave no process behind. Skipped, with the reason, where Chromium or playwright is missing.
"""

from __future__ import annotations

import contextlib
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from .conftest import ROOT
from .servers import free_port, running_server

pytest.importorskip("solara", reason="the viz extra is not installed")

from agentsim.cli import app as cli
from agentsim.report import write_report

SCREENSHOTS_ENV = "AGENTSIM_SCREENSHOTS_DIR"
#: Where the screenshots go (a relative folder is read from where pytest was started).
SCREENSHOTS = (
    Path(os.environ[SCREENSHOTS_ENV]).resolve() if os.environ.get(SCREENSHOTS_ENV) else None
)
VIEWPORT = {"width": 1280, "height": 900}
#: The screenshots the user guide shows, with the section that shows each.
SHOTS = {
    "ab_view.png": "## The interactive app",
    "explorer.png": "## Exploring stored results",
    "report.png": "## Reports",
}
MAX_BYTES = 300_000  # a screenshot in docs/images stays small enough for the repository


def save(page, name: str, tmp_path: Path) -> Path:
    """Save the window of ``page`` as ``name`` in AGENTSIM_SCREENSHOTS_DIR (else ``tmp_path``)
    and check that a PNG was written."""
    folder = SCREENSHOTS or tmp_path
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    page.screenshot(path=str(path), animations="disabled", caret="hide")
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n", path
    assert 10_000 < len(data) < MAX_BYTES, (path, len(data))
    return path


@contextlib.contextmanager
def viz(log: Path, *args: str | Path):
    """``agentsim viz ARGS`` on a free port: yields the URL once the page answers; at the end
    stops it and checks that nothing it started is left."""
    port = free_port()
    command = [sys.executable, "-m", "agentsim.cli", "viz", *args, "--port", port]
    with running_server(command, port, log) as (url, _):
        yield url


@pytest.fixture(scope="module")
def compare_dir(tmp_path_factory) -> Path:
    """A small stored comparison, baseline vs trusted release: 8 paired seeds over the whole
    horizon, made by the command line in the folder's parent, so that the pages name it and
    the command that made it as a user's would (``agentsim compare ... --out comparison``)."""
    parent = tmp_path_factory.mktemp("screenshots")
    args = ["compare", "baseline", "trusted_release", "--runs", "8", "--workers", "1",
            "--out", "comparison"]  # fmt: skip
    with pytest.MonkeyPatch.context() as patch:
        patch.chdir(parent)
        patch.setattr(sys, "argv", ["agentsim", *args])  # the manifest records sys.argv
        result = CliRunner().invoke(cli, args)
    assert result.exit_code == 0, result.output
    return parent / "comparison"


@pytest.mark.screenshots  # about 20 s: the server, a year stepped month by month, 8 seeds
def test_the_ab_view(chromium, tmp_path):
    with viz(tmp_path / "server.log", "baseline", "trusted_release", "--workers", "1") as url:
        page = chromium.new_page(viewport=VIEWPORT)
        try:
            page.goto(url, timeout=90_000)
            page.get_by_text("Labs of B at step 0", exact=True).wait_for(timeout=90_000)
            title = "agentsim A/B: baseline vs trusted_release"
            assert page.get_by_text(title, exact=True).count() >= 1
            for month in range(1, 13):
                page.get_by_role("button", name="Step").click()
                page.get_by_text(f"Labs of B at step {month}", exact=True).wait_for(timeout=30_000)
            field = page.get_by_label("Seeds")
            field.fill("8")
            field.press("Enter")
            page.get_by_role("button", name="Run 8 paired seeds").click()
            page.get_by_text(re.compile(r"^8/8 pairs, done in")).wait_for(timeout=90_000)
            page.get_by_text("month 12 of 60", exact=False).first.wait_for(timeout=30_000)
            page.wait_for_timeout(500)  # the charts' redraw of the band
            save(page, "ab_view.png", tmp_path)
        finally:
            page.close()


@pytest.mark.screenshots
def test_the_results_explorer(chromium, compare_dir, tmp_path):
    with viz(tmp_path / "server.log", "--results", compare_dir) as url:
        page = chromium.new_page(viewport=VIEWPORT)
        try:
            page.goto(url, timeout=90_000)
            page.locator(".explorer-figure img").first.wait_for(timeout=60_000)
            page.locator("table[data-table=summary]").wait_for(timeout=60_000)
            assert page.get_by_text("baseline, trusted_release").count() == 1
            assert page.locator("table[data-table=summary] tbody tr").count() >= 3
            save(page, "explorer.png", tmp_path)
        finally:
            page.close()


@pytest.mark.screenshots
def test_the_report_page(chromium, compare_dir, tmp_path):
    with pytest.MonkeyPatch.context() as patch:
        patch.chdir(compare_dir.parent)  # the page names the folder as given: comparison
        report = write_report(compare_dir.name, tmp_path / "report.html")
    context = chromium.new_context(viewport=VIEWPORT, offline=True)
    try:
        page = context.new_page()
        page.goto(report.as_uri())
        page.wait_for_load_state("load")
        assert page.locator("h1").inner_text() == "agentsim compare: comparison"
        command = "agentsim compare baseline trusted_release --runs 8"
        assert page.get_by_text(command, exact=False).count() >= 1
        changed = page.locator("#scenario-changes tr", has_text="policy.trusted_release.enabled")
        assert changed.inner_text().split() == ["policy.trusted_release.enabled", "false", "true"]
        widths = page.eval_on_selector_all(
            "img", "images => images.map(i => i.complete ? i.naturalWidth : 0)"
        )
        assert widths and all(width > 0 for width in widths)
        save(page, "report.png", tmp_path)
    finally:
        context.close()


def test_the_user_guide_shows_each_screenshot_in_its_section():
    guide = (ROOT / "docs" / "user_guide.md").read_text(encoding="utf-8")
    sections = re.split(r"(?m)^(?=## )", guide)
    for name, heading in SHOTS.items():
        (section,) = [s for s in sections if s.startswith(heading + "\n")]
        assert re.search(rf"!\[[^\]]+\]\(images/{re.escape(name)}\)", section), name
        image = ROOT / "docs" / "images" / name
        assert image.is_file(), f"{image} is missing: run `make screenshots`"
        assert image.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and image.stat().st_size < MAX_BYTES


# --------------------------------------------------------------------------- the skip line

SKIPPING = """
import pytest

from tests.conftest import CHROMIUM_MISSING


@pytest.fixture
def browser():
    pytest.skip(CHROMIUM_MISSING)


def test_shared_reason(browser):
    pass


@pytest.mark.skipif(
    True, reason="Chromium is not installed (apt-get install chromium); CI installs it"
)
def test_own_reason():
    pass


def test_other_skip():
    pytest.skip("the viz extra is not installed")


def test_passes():
    pass
"""


def run_pytest(folder: Path, *args: str) -> list[str]:
    """Run pytest on ``folder`` in a new process, with the summary hook of tests/conftest.py;
    return its output's lines."""
    (folder / "conftest.py").write_text(
        "from tests.conftest import pytest_terminal_summary  # noqa: F401\n", encoding="utf-8"
    )
    (folder / "test_browser.py").write_text(SKIPPING, encoding="utf-8")
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *args, str(folder)],
        capture_output=True,
        text=True,
        cwd=folder,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout.strip().splitlines()


SKIP_LINE = re.compile(r"browser tests? skipped: Chromium not found")


def test_skips_for_want_of_chromium_are_named_in_one_line_at_the_end(tmp_path):
    lines = run_pytest(tmp_path, "-n", "1")  # skips reported by an xdist worker, as in make test
    assert [line for line in lines if SKIP_LINE.search(line)] == [
        "2 browser tests skipped: Chromium not found (install it with `apt-get install "
        "chromium`, then run make test again)"
    ]
    assert SKIP_LINE.search(lines[-2]), lines[-3:]
    assert re.match(r"1 passed, 3 skipped in ", lines[-1]), lines[-1]


def test_no_line_when_no_browser_test_was_skipped(tmp_path):
    lines = run_pytest(tmp_path, "-k", "other_skip or passes")
    assert not [line for line in lines if "Chromium" in line], lines
    assert re.match(r"1 passed, 1 skipped, 2 deselected in ", lines[-1]), lines[-1]

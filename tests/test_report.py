"""agentsim report: one self-contained HTML file per stored result folder.

Tiny batches are made through the command line (a year, 300 researchers, 3 seeds); the tests
read the report as a browser would (html.parser), compare its outcome table with summary.csv,
check that it names the caveats, that it never changes the folder it reads, and (in headless
Chromium with the network cut off) that it loads nothing from anywhere and its images show.
"""

from __future__ import annotations

import hashlib
import shutil
from html.parser import HTMLParser
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from agentsim.cli import app
from agentsim.report import changed_keys, flatten, format_cell, format_value

ROOT = Path(__file__).resolve().parents[1]
BASELINE = ROOT / "configs" / "baseline.yaml"
TRUSTED = ROOT / "configs" / "trusted_release.yaml"
SMALL = ["--set", "simulation.steps=12", "--set", "talent.n_researchers=300"]
BATCH = [*SMALL, "--runs", "3", "--workers", "1"]
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


def agentsim(*args: str | Path) -> object:
    """Run the command line in this process; return typer's result."""
    return CliRunner().invoke(app, [str(a) for a in args])


def made(*args: str | Path) -> None:
    result = agentsim(*args)
    assert result.exit_code == 0, result.output


def hashes(folder: Path) -> dict[str, str]:
    """SHA-256 of every file under ``folder`` (relative path -> digest)."""
    return {
        str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


class Page(HTMLParser):
    """What a report holds: its tables (id -> rows of cell text), the src and href of every
    element, the text of every list item, and the whole text."""

    def __init__(self, text: str) -> None:
        super().__init__(convert_charrefs=True)
        self.tables: dict[str, list[list[str]]] = {}
        self.links: list[str] = []
        self.items: list[str] = []
        self.text: list[str] = []
        self._table: str | None = None
        self._row: list[str] | None = None
        self._cell: list[str] | None = None
        self._item: list[str] | None = None
        self.feed(text)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = dict(attrs)
        self.links += [v or "" for k, v in attrs if k in ("src", "href")]
        if tag == "table":
            self._table = values.get("id") or f"table{len(self.tables)}"
            self.tables[self._table] = []
        elif tag == "tr" and self._table:
            self._row = []
        elif tag in ("td", "th") and self._row is not None:
            self._cell = []
        elif tag == "li":
            self._item = []

    def handle_endtag(self, tag: str) -> None:
        if tag in ("td", "th") and self._cell is not None and self._row is not None:
            self._row.append("".join(self._cell).strip())
            self._cell = None
        elif tag == "tr" and self._row is not None and self._table:
            self.tables[self._table].append(self._row)
            self._row = None
        elif tag == "table":
            self._table = None
        elif tag == "li" and self._item is not None:
            self.items.append(" ".join("".join(self._item).split()))
            self._item = None

    def handle_data(self, data: str) -> None:
        self.text.append(data)
        for part in (self._cell, self._item):
            if part is not None:
                part.append(data)


@pytest.fixture(scope="module")
def compare_dir(tmp_path_factory) -> tuple[Path, dict[str, str], dict[str, str]]:
    """A compare folder, its file hashes before and after `agentsim report` wrote into it."""
    out = tmp_path_factory.mktemp("report") / "cmp"
    made("compare", BASELINE, TRUSTED, *BATCH, "--out", out)
    before = hashes(out)
    result = agentsim("report", out)
    assert result.exit_code == 0, result.output
    assert result.output.strip() == f"report written to {out / 'report.html'}"
    after = hashes(out)
    return out, before, after


@pytest.fixture(scope="module")
def compare_page(compare_dir) -> Page:
    return Page((compare_dir[0] / "report.html").read_text(encoding="utf-8"))


def assert_same_table(page_rows: list[list[str]], csv: Path) -> None:
    """The report's table holds summary.csv's columns and values, formatted as the report
    formats cells."""
    expected = pd.read_csv(csv)
    header, *rows = page_rows
    assert header == list(expected.columns)
    assert len(rows) == len(expected)
    for row, (_, stored) in zip(rows, expected.iterrows(), strict=True):
        for cell, column in zip(row, expected.columns, strict=True):
            value = stored[column]
            if pd.api.types.is_numeric_dtype(expected[column]):
                assert cell == format_cell(value), (column, stored["outcome"])
            else:  # text: an empty note reads back from the CSV as missing
                assert cell == ("" if pd.isna(value) else str(value)), (column, stored["outcome"])


def test_compare_report_shows_manifest_difference_table_figures_and_caveats(
    compare_dir, compare_page
):
    out = compare_dir[0]
    import json

    manifest = json.loads((out / "manifest.json").read_text(encoding="utf-8"))
    text = " ".join(" ".join(compare_page.text).split())
    assert " ".join(manifest["command"].split()) in text
    assert manifest["git_commit"] and manifest["git_commit"] in text
    changes = {row[0]: row[1:] for row in compare_page.tables["scenario-changes"][1:]}
    assert changes["policy.trusted_release.enabled"] == ["false", "true"]
    assert "talent.n_researchers" not in changes  # set alike in A and B
    assert_same_table(compare_page.tables["outcomes"], out / "summary.csv")
    images = [link for link in compare_page.links if link.startswith("data:image/png;base64,")]
    assert len(images) >= 5
    assert not [link for link in compare_page.links if "http://" in link or "https://" in link]
    caveats = " ".join(compare_page.items)
    assert "censored" in caveats
    assert "3 runs (seeds) per scenario" in caveats
    assert "Cannot be told apart from noise at 3 seeds" in caveats


def test_report_changes_nothing_in_the_folder_it_reads(compare_dir):
    _, before, after = compare_dir
    assert "report.html" not in before
    assert {k: v for k, v in after.items() if k != "report.html"} == before


@pytest.mark.parametrize("kind", ["run", "mc", "sweep"])
def test_run_mc_and_sweep_folders_have_reports(kind, tmp_path):
    out = tmp_path / kind
    if kind == "run":
        made("run", BASELINE, *SMALL, "--out", out, "--no-figures")
    elif kind == "mc":
        made("mc", BASELINE, *BATCH, "--out", out)
    else:
        grid = "policy.trusted_release.trusted_fraction=0.01,0.05"
        made("sweep", BASELINE, "--grid", grid, *BATCH, "--out", out)
    before = hashes(out)
    target = tmp_path / "elsewhere.html"
    result = agentsim("report", out, "--out", target)
    assert result.exit_code == 0, result.output
    assert result.output.strip() == f"report written to {target}"
    assert hashes(out) == before
    page = Page(target.read_text(encoding="utf-8"))
    assert any(link.startswith("data:image/png;base64,") for link in page.links)
    assert not [link for link in page.links if "http://" in link or "https://" in link]
    if kind == "run":
        summary = {row[0]: row[2] for row in page.tables["outcomes"][1:]}
        assert summary["overtake_month"] == "never within 12 months"
        assert any("One run (seed 0)" in item for item in page.items)
    else:
        assert_same_table(page.tables["outcomes"], out / "summary.csv")


def test_a_folder_that_is_not_a_result_is_refused_in_one_line(tmp_path):
    folder = tmp_path / "notes"
    folder.mkdir()
    (folder / "notes.txt").write_text("not a result\n", encoding="utf-8")
    result = agentsim("report", folder)
    assert result.exit_code == 2
    assert len(result.output.strip().splitlines()) == 1
    assert "is not an agentsim result folder" in result.output
    assert sorted(p.name for p in folder.iterdir()) == ["notes.txt"]
    missing = agentsim("report", tmp_path / "nowhere")
    assert missing.exit_code == 2
    assert len(missing.output.strip().splitlines()) == 1
    assert not (tmp_path / "nowhere").exists()


def test_an_out_in_a_missing_folder_is_refused_in_one_line(compare_dir, tmp_path):
    target = tmp_path / "no" / "such" / "report.html"
    result = agentsim("report", compare_dir[0], "--out", target)
    assert result.exit_code == 2
    assert len(result.output.strip().splitlines()) == 1
    assert "--out" in result.output
    assert not (tmp_path / "no").exists()
    folder = agentsim("report", compare_dir[0], "--out", tmp_path)
    assert folder.exit_code == 2
    assert "is a folder" in folder.output


def test_changed_keys_are_the_dotted_keys_whose_values_differ():
    a = {"name": "a", "policy": {"on": False, "share": 0.1}, "labs": {"X": {"cash": 1.0}}}
    b = {"name": "a", "policy": {"on": True, "share": 0.1}, "labs": {"X": {"cash": 2.0}}}
    b["extra"] = [1, 2]
    assert flatten(a) == {
        "name": "a",
        "policy.on": False,
        "policy.share": 0.1,
        "labs.X.cash": 1.0,
    }
    changed = changed_keys({"A": a, "B": b})
    assert [key for key, _ in changed] == ["policy.on", "labs.X.cash", "extra"]
    assert [format_value(v) for v in changed[0][1]] == ["false", "true"]
    assert [format_value(v) for v in changed[2][1]] == ["(not set)", "[1, 2]"]


@pytest.mark.skipif(
    CHROMIUM is None,
    reason="Chromium is not installed (apt-get install chromium); CI installs it",
)
def test_the_report_opens_offline_in_a_browser_with_its_images(compare_dir):
    playwright_api = pytest.importorskip(
        "playwright.sync_api", reason="playwright is not installed"
    )
    report = compare_dir[0] / "report.html"
    requested, failed = [], []
    with playwright_api.sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=CHROMIUM,
            args=["--no-sandbox", "--disable-gpu", "--disable-background-networking"],
        )
        try:
            context = browser.new_context(offline=True)

            def route(route) -> None:
                url = route.request.url
                requested.append(url)
                if url.startswith(("file:", "data:")):
                    route.continue_()
                else:
                    route.abort()

            context.route("**/*", route)
            page = context.new_page()
            page.on("requestfailed", lambda request: failed.append(request.url))
            page.goto(report.as_uri())
            page.wait_for_load_state("load")
            widths = page.eval_on_selector_all(
                "img", "images => images.map(i => i.complete ? i.naturalWidth : 0)"
            )
        finally:
            browser.close()
    assert not failed
    assert not [url for url in requested if not url.startswith(("file:", "data:"))]
    assert len(widths) >= 5 and all(width > 0 for width in widths)

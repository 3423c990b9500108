"""Paper tables: units of every summary outcome, and one table written as CSV, Markdown and
LaTeX."""

from __future__ import annotations

import math
from pathlib import Path

import pandas as pd
import pytest

from agentsim.run import run
from agentsim.scenario_io import load_config
from agentsim.tables import latex_escape, outcome_unit, save_table


@pytest.fixture(scope="module")
def summary() -> dict:
    config = load_config(overrides={"simulation.steps": 12, "talent.n_researchers": 300})
    return run(config, seed=1).summary


def test_every_summary_outcome_has_a_unit(summary: dict):
    ids = {"seed", "steps"}
    missing = [key for key in summary if key not in ids and not outcome_unit(key)]
    assert missing == []


@pytest.mark.parametrize(
    ("outcome", "unit"),
    [
        ("final_us_user_share", "share (0-1)"),
        ("us_revenue_share_last_year", "share (0-1)"),
        ("frontier_growth_ooms_per_year", "OOM per year"),
        ("final_us_lead_ooms", "OOM"),
        ("final_best_capability_CN", "OOM (log10 FLOP)"),
        ("us_ai_rd_usd_last_year", "USD"),
        ("total_us_rd_spend", "USD"),
        ("us_ai_rd_change", "relative (last / first - 1)"),
        ("overtake_month", "months"),
        ("mean_months_between_us_generations", "months"),
        ("us_frontier_class_launches_per_year", "per year"),
        ("talent_flow_US_CN", "researchers"),
        ("us_generations", "count"),
        ("P(non-US overtake)", "probability"),
        ("overtaken", "probability"),
        ("not_an_outcome", ""),
    ],
)
def test_units(outcome: str, unit: str):
    assert outcome_unit(outcome) == unit


def test_save_table_writes_csv_markdown_and_latex(tmp_path: Path):
    frame = pd.DataFrame(
        {
            "outcome": ["final_us_user_share", "overtake_month"],
            "estimate": [0.671975, math.nan],
            "n": [40, 40],
            "note": ["", "5 events, 35 censored at month 60"],
        }
    )
    caption = "Baseline: 40 runs. 95% intervals & n runs"
    paths = save_table(tmp_path, "summary", frame, caption)
    assert [p.name for p in paths] == ["summary.csv", "summary.md", "summary.tex"]
    csv = pd.read_csv(paths[0])
    assert list(csv.columns) == ["outcome", "unit", "estimate", "n", "note"]
    assert csv["estimate"].iloc[0] == 0.671975  # full precision in the CSV
    markdown = paths[1].read_text()
    assert markdown.startswith(caption + "\n\n|")
    assert "| final_us_user_share" in markdown and "0.672" in markdown
    latex = paths[2].read_text()
    assert "\\caption{Baseline: 40 runs. 95\\% intervals \\& n runs}" in latex
    assert "final\\_us\\_user\\_share & share (0-1) & 0.672 & 40" in latex
    assert "\\label{tab:summary}" in latex and "\\toprule" in latex
    assert not list(tmp_path.glob(".*"))  # no temporary file left behind


def test_latex_escape():
    assert latex_escape("a_b 5% & $x$ #1 {y} ~ ^ \\") == (
        "a\\_b 5\\% \\& \\$x\\$ \\#1 \\{y\\} \\textasciitilde{} \\textasciicircum{} "
        "\\textbackslash{}"
    )

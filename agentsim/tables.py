"""Tables for a paper: a batch's summary as CSV, Markdown and LaTeX, with units and run counts.

:func:`outcome_unit` names the unit of every run-summary outcome; :func:`save_table` writes one
table three ways into a batch folder (each file atomically): ``<stem>.csv`` with the numbers
at full precision, ``<stem>.md`` (a caption paragraph and a pipe table, via pandas'
``to_markdown``) and ``<stem>.tex`` (a ``table`` float with a booktabs ``tabular``, via pandas'
``to_latex``), the last two with numbers to four significant digits. The caption says what the
intervals are, how many runs or pairs each row uses and which family the p-values were
corrected over, so a table copied into a paper carries its own reading instructions.
"""

from __future__ import annotations

import math
import re
from pathlib import Path
from typing import Any

import pandas as pd

from agentsim.store import write_csv, write_text

#: Units of summary outcomes, first matching pattern wins (matched against the whole name).
UNIT_RULES: tuple[tuple[str, str], ...] = (
    (r"P\(.*\)|overtaken", "probability"),
    (r".*_share(_.*)?", "share (0-1)"),
    (r".*_ooms_per_year", "OOM per year"),
    (r".*_ooms", "OOM"),
    (r".*capability.*", "OOM (log10 FLOP)"),
    (r".*_usd_.*|total_.*_spend", "USD"),
    (r".*_change", "relative (last / first - 1)"),
    (r".*month.*", "months"),
    (r".*_per_year", "per year"),
    (r"talent_flow_.*|unemployed_researchers", "researchers"),
    (r".*releases|.*generations|labs_exited|lab_relocations", "count"),
)


def outcome_unit(outcome: str) -> str:
    """The unit of a run-summary outcome (``"share (0-1)"``, ``"months"``, ``"USD"``...), by
    :data:`UNIT_RULES`; ``""`` for a name no rule covers."""
    for pattern, unit in UNIT_RULES:
        if re.fullmatch(pattern, outcome):
            return unit
    return ""


def _cell(value: Any) -> str:
    """A table cell for Markdown and LaTeX: four significant digits, '' for missing."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)


_LATEX_SPECIALS = {c: "\\" + c for c in "&%$#_{}"} | {
    "~": r"\textasciitilde{}",
    "^": r"\textasciicircum{}",
    "\\": r"\textbackslash{}",
}


def latex_escape(text: str) -> str:
    """``text`` with LaTeX's special characters escaped (for captions; pandas escapes cells)."""
    return "".join(_LATEX_SPECIALS.get(c, c) for c in text)


def with_units(frame: pd.DataFrame) -> pd.DataFrame:
    """``frame`` with a ``unit`` column after its ``outcome`` column (unchanged without one)."""
    if "outcome" not in frame or "unit" in frame:
        return frame
    position = frame.columns.get_loc("outcome") + 1
    frame = frame.copy()
    frame.insert(position, "unit", [outcome_unit(str(o)) for o in frame["outcome"]])
    return frame


def save_table(out: Path, stem: str, frame: pd.DataFrame, caption: str) -> list[Path]:
    """Write ``frame`` (with a ``unit`` column added after ``outcome``) as
    ``out/<stem>.csv``, ``.md`` and ``.tex``; return the three paths.

    ``caption`` (one or more sentences) heads the Markdown file and is the LaTeX caption; the
    LaTeX label is ``tab:<stem>``. Special characters are escaped in LaTeX. Raises ``OSError``
    when a file cannot be written (nothing half-written stays: each file is renamed into
    place whole).
    """
    out = Path(out)
    table = with_units(frame)
    text = table.map(_cell)
    paths = [out / f"{stem}.csv", out / f"{stem}.md", out / f"{stem}.tex"]
    write_csv(paths[0], table)
    write_text(paths[1], f"{caption}\n\n{text.to_markdown(index=False)}\n")
    latex = text.to_latex(
        index=False, escape=True, caption=latex_escape(caption), label=f"tab:{stem}"
    )
    write_text(paths[2], latex)
    return paths

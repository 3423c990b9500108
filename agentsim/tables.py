"""Tables for a paper: a batch's summary as CSV, Markdown and LaTeX, with units and run counts.

:func:`outcome_tables`, :func:`comparison_tables` and :func:`explore_tables` make a batch's
tables (title, caption and frame), the one source of what ``agentsim mc``, ``sweep`` and
``compare`` print and save and what ``agentsim report`` and the results explorer show.
:func:`outcome_unit` names the unit of every run-summary outcome; :func:`save_table` writes
one table three ways into a batch folder (each file atomically): ``<stem>.csv`` with the
numbers at full precision, ``<stem>.md`` (a caption paragraph and a pipe table, via pandas'
``to_markdown``) and ``<stem>.tex`` (a ``table`` float with a booktabs ``tabular``, via
pandas' ``to_latex``), the last two with numbers to four significant digits. The caption says
what the intervals are, how many runs or pairs each row uses and which family the p-values
were corrected over, so a table copied into a paper carries its own reading instructions.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
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


# --------------------------------------------------------------------------- a batch's tables

#: What the intervals and counts of an outcome table (mc, sweep) are, for its caption.
OUTCOME_TABLE_NOTE = (
    "Means with 95% t intervals over the runs where the outcome is defined; proportions with "
    "95% Wilson intervals; times to an event as Kaplan-Meier medians and restricted means to "
    "the horizon (95% intervals), runs without the event censored at the horizon. n is the "
    "number of runs a row uses."
)
#: What the statistics of a paired comparison table are, for its caption.
PAIRED_TABLE_NOTE = (
    "Differences B - A on common seeds with 95% paired t intervals; p-values from the paired "
    "t test, the exact McNemar test (overtaken) and the log-rank test stratified by seed "
    "(times to an event, compared as restricted mean months to the horizon)."
)


@dataclass(frozen=True)
class Table:
    """One table of a batch, as the command line prints and saves it and a report shows it:
    ``name`` (``summary``, ``relative``, ``survival`` or ``comparison``), ``title`` (one
    line), ``caption`` (what the numbers are) and the ``frame``."""

    name: str
    title: str
    caption: str
    frame: pd.DataFrame


def outcome_tables(
    runs: pd.DataFrame,
    name: str,
    runs_per_point: int,
    root_seed: int,
    grid: Mapping[str, Sequence[Any]] | None = None,
) -> dict[str, Table]:
    """The tables of a Monte Carlo (``grid`` empty) or a sweep: ``summary``, the outcome
    table (:func:`agentsim.analysis.outcome_table`, by the swept keys), with a unit column."""
    from agentsim.analysis import outcome_table

    grid = dict(grid or {})
    if grid:
        points = math.prod(len(values) for values in grid.values())
        title = (
            f"{name}: sweep of {points} grid points x {runs_per_point} runs, root seed {root_seed}"
        )
    else:
        title = f"{name}: {runs_per_point} runs, root seed {root_seed}"
    table = with_units(outcome_table(runs, by=list(grid)))
    return {"summary": Table("summary", title, f"{title}. {OUTCOME_TABLE_NOTE}", table)}


def comparison_tables(
    runs: pd.DataFrame, name_a: str, name_b: str, runs_per_point: int, root_seed: int
) -> dict[str, Table]:
    """The tables of a paired comparison of scenarios ``name_a`` (A) and ``name_b`` (B):

    - ``summary``: the key, time-to-event and debate outcomes' means (restricted means for
      times to an event), difference B - A with its interval,
      raw and adjusted p-values, pairs and notes (with a unit column);
    - ``relative``: the debate's outcomes as relative changes B/A - 1 with 95% intervals;
    - ``survival``: the Kaplan-Meier summaries per scenario
      (:func:`agentsim.survival.survival_table`);
    - ``comparison``: every outcome, every column of
      :func:`agentsim.analysis.paired_differences`.

    Raises as ``paired_differences``.
    """
    from agentsim.analysis import DEBATE_OUTCOMES, KEY_OUTCOMES, paired_differences
    from agentsim.survival import TIME_TO_EVENT, survival_table

    diffs = paired_differences(runs, name_a, name_b)
    family = int(diffs["tests_in_family"].iloc[0]) if len(diffs) else 0
    title = (
        f"{name_b} - {name_a}: paired differences over {runs_per_point} seeds, "
        f"root seed {root_seed}"
    )
    columns = ["outcome", "statistic", f"mean_{name_a}", f"mean_{name_b}", "difference"]
    columns += ["ci_low", "ci_high", "p_value", "p_holm", "p_bh", "n_pairs", "note"]
    shown = [*KEY_OUTCOMES, "overtaken", *TIME_TO_EVENT, *DEBATE_OUTCOMES]
    key = diffs[diffs["outcome"].isin(shown)][columns] if len(diffs) else diffs
    relative = ["relative_change", "relative_ci_low", "relative_ci_high", "n_pairs"]
    debate = (
        diffs.set_index("outcome").reindex(DEBATE_OUTCOMES).dropna(how="all").reset_index()
        if len(diffs)
        else diffs
    )
    return {
        "summary": Table(
            "summary",
            f"{title}; p adjusted over {family} outcomes",
            f"{title}. {PAIRED_TABLE_NOTE} p_holm (Holm) and p_bh (Benjamini-Hochberg) adjust "
            f"for the family of all {family} outcomes tested in comparison.csv.",
            with_units(key),
        ),
        "relative": Table(
            "relative",
            f"{name_b} vs {name_a} in the debate's units: relative change B/A - 1, 95% CI",
            "Relative changes of the paired means with 95% delta-method intervals.",
            debate[["outcome", *relative]] if len(debate) else debate,
        ),
        "survival": Table(
            "survival",
            "Times to an event: Kaplan-Meier medians and restricted means (95% CI)",
            "Runs without the event are censored at the horizon.",
            survival_table(runs, by=["scenario"]),
        ),
        "comparison": Table(
            "comparison",
            f"Every outcome tested ({len(diffs)})",
            "Effect sizes d_z with exact 95% intervals and relative changes with 95% "
            "delta-method intervals, besides the columns of the summary.",
            diffs,
        ),
    }


def explore_tables(experiments: pd.DataFrame) -> dict[str, Table]:
    """The table of an explore batch: ``summary``, its key outcomes under parameter
    uncertainty per scenario (those of :data:`agentsim.figures.EXPLORE_OUTCOMES` and
    ``overtaken``): mean and 5%, 50% and 95% quantiles over every sample and seed, failed
    runs left out, with ``n`` the runs used and a unit column."""
    from agentsim.figures import EXPLORE_OUTCOMES

    ok = experiments[experiments["error"].isna()] if "error" in experiments else experiments
    rows = []
    for scenario, group in ok.groupby("scenario", sort=False, observed=True):
        for outcome, _ in (*EXPLORE_OUTCOMES, ("overtaken", "")):
            if outcome not in group:
                continue
            values = pd.to_numeric(group[outcome].astype(object), errors="coerce").dropna()
            values = values.astype(float)
            q = values.quantile([0.05, 0.5, 0.95]).tolist() if len(values) else [math.nan] * 3
            rows.append(
                {
                    "scenario": str(scenario),
                    "outcome": outcome,
                    "n": len(values),
                    "mean": float(values.mean()) if len(values) else math.nan,
                    "p05": q[0],
                    "median": q[1],
                    "p95": q[2],
                }
            )
    frame = pd.DataFrame(rows, columns=["scenario", "outcome", "n", "mean", "p05", "median", "p95"])
    summary = Table(
        "summary",
        "Outcomes under parameter uncertainty, per scenario",
        "Mean and 5%, 50% and 95% quantiles over every sample and seed of a scenario (failed "
        "runs left out): a spread under the stated uncertainty, not a confidence interval.",
        with_units(frame),
    )
    return {"summary": summary}

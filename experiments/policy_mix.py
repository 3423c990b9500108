"""Experiment (b): export controls vs trusted release vs both vs neither.

The four scenarios on the same seeds. Writes results/experiments/policy_mix/ (runs.parquet,
timeseries.parquet, manifest.json, table.csv with every key outcome per scenario,
differences.csv with every paired difference) and prints each scenario's
mean outcomes with 95% intervals (t for means, Wilson for the overtake probability) and n
runs, then its paired difference from the baseline with its 95% t interval and n seed
pairs. Run it again with the same --out to reprint from the stored batch.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence

import pandas as pd
from _common import (
    arguments,
    execute,
    output_dir,
    planned,
    scenario,
    show,
    spread,
)

from agentsim.analysis import OVERTAKE, outcome_table, paired_differences
from agentsim.ensemble import plan_comparison
from agentsim.store import write_csv

SCENARIOS = ["baseline", "trusted_release", "export_controls", "combined"]
SHOWN = [
    "final_us_user_share",
    "final_us_capital_share",
    "final_us_talent_share",
    "final_us_lead_ooms",
    "final_best_capability_CN",
    "overtaken",
]
#: Columns of the printed differences (differences.csv has them all).
DIFFERENCE_COLUMNS = ["scenario", "outcome", "difference", "ci_low", "ci_high", "n_pairs"]


def label(outcome: str) -> str:
    """An outcome's column name in the printed means: ``final_us_user_share`` ->
    ``us_user_share``, ``overtaken`` -> ``p_overtake``."""
    if outcome in ("overtaken", OVERTAKE):
        return "p_overtake"
    return outcome.removeprefix("final_")


def main(argv: Sequence[str] | None = None) -> None:
    """Run (or reuse, or resume) the batch and print the tables (see the module's
    docstring)."""
    args = arguments(__doc__.splitlines()[0], runs=40, argv=argv, script=__file__)
    out = output_dir(args, "policy_mix")
    plan = planned(
        lambda: plan_comparison(
            {name: scenario(name, args.set_) for name in SCENARIOS}, args.runs, args.seed
        )
    )
    result = execute(plan, out, args)
    table = outcome_table(result.runs, by=["scenario"])
    means = outcome_table(result.runs, ["scenario"], SHOWN)
    diffs = pd.concat(
        [
            paired_differences(result.runs, "baseline", name).assign(scenario=name)
            for name in SCENARIOS[1:]
        ],
        ignore_index=True,
    )
    write_csv(out / "table.csv", table)
    write_csv(out / "differences.csv", diffs)
    show(
        spread(means, ["scenario"], names=label),
        f"Policy mix: mean [95% interval] per scenario (t; Wilson for p_overtake); n runs "
        f"({args.runs} seeds)",
    )
    shown = diffs[diffs["outcome"].isin(SHOWN)][DIFFERENCE_COLUMNS]
    show(
        shown,
        f"Policy mix: paired differences from the baseline, mean and 95% t interval "
        f"(ci_low, ci_high) over n_pairs seeds ({args.runs} seeds)",
    )
    print(f"\nresults: {out}", file=sys.stderr)


if __name__ == "__main__":
    main()

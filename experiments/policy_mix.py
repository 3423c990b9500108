"""Experiment (b): export controls vs trusted release vs both vs neither.

The four scenarios on the same seeds. Writes results/experiments/policy_mix/ (runs.parquet,
timeseries.parquet, manifest.json, table.csv, differences.csv) and prints each scenario's
mean outcomes with 95% intervals and its paired difference from the baseline.
"""

from __future__ import annotations

import pandas as pd
from _common import arguments, execute, output_dir, planned, scenario, show

from agentsim.analysis import outcome_table, paired_differences
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


def main() -> None:
    args = arguments(__doc__.splitlines()[0], runs=40)
    out = output_dir(args, "policy_mix")
    plan = planned(
        lambda: plan_comparison({name: scenario(name) for name in SCENARIOS}, args.runs, args.seed)
    )
    result = execute(plan, out, args.workers, args.resume)
    table = outcome_table(result.runs, by=["scenario"])
    diffs = pd.concat(
        [
            paired_differences(result.runs, "baseline", name).assign(scenario=name)
            for name in SCENARIOS[1:]
        ],
        ignore_index=True,
    )
    write_csv(out / "table.csv", table)
    write_csv(out / "differences.csv", diffs)
    shown = diffs[diffs["outcome"].isin(SHOWN)][
        ["scenario", "outcome", "difference", "ci_low", "ci_high", "effect_size_dz"]
    ]
    show(shown, f"Policy mix: paired differences from the baseline ({args.runs} seeds)")


if __name__ == "__main__":
    main()

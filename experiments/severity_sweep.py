"""Experiment (a): trusted-release severity sweep.

Trusted fraction x restricted months x compliance delay, each grid point on the same seeds.
Writes results/experiments/severity_sweep/ (runs.parquet, timeseries.parquet, manifest.json,
table.csv) and prints the mean effect of each setting on the US shares, the US lead and the
probability of a non-US overtake, one row per grid point with its number of runs.
"""

from __future__ import annotations

import pandas as pd
from _common import arguments, execute, output_dir, planned, scenario, show

from agentsim.analysis import design_groups
from agentsim.ensemble import plan_sweep
from agentsim.store import write_csv

GRID = {
    "policy.trusted_release.trusted_fraction": [0.002, 0.01, 0.05],
    "policy.trusted_release.restricted_months": [3.0, 6.0, 12.0],
    "policy.trusted_release.compliance_delay_weeks": [2.0, 4.0, 12.0],
}
OUTCOMES = [
    "final_us_user_share",
    "final_us_revenue_share",
    "final_us_capital_share",
    "final_us_talent_share",
    "final_us_lead_ooms",
    "overtaken",
]


def main() -> None:
    args = arguments(__doc__.splitlines()[0], runs=12)
    out = output_dir(args, "severity_sweep")
    plan = planned(lambda: plan_sweep(scenario("trusted_release"), GRID, args.runs, args.seed))
    result = execute(plan, out, args.workers, args.resume)
    rows = []
    for labels, point in design_groups(result.runs, by=list(GRID)):  # each run in one row
        ok = point[point["error"].isna()]
        rows.append({**labels, **ok[OUTCOMES].astype(float).mean().to_dict(), "n": len(ok)})
    table = pd.DataFrame(rows).rename(columns={k: k.rsplit(".", 1)[-1] for k in GRID})
    table = table.rename(columns={"overtaken": "p_overtake"})
    write_csv(out / "table.csv", table)
    show(table, f"Trusted-release severity ({args.runs} seeds per cell): means")


if __name__ == "__main__":
    main()

"""Experiment (c): mechanism decomposition of the trusted-release effect.

The effect of trusted release (trusted_release - baseline, same seeds) with all channels on,
and with the data flywheel, capital mobility or talent mobility switched off one at a time.
The share of an effect that runs through a channel is 1 - (effect with it off) / (effect with
all on). Writes results/experiments/decomposition/ (runs, timeseries, manifest, table.csv).
"""

from __future__ import annotations

import pandas as pd
from _common import arguments, execute, output_dir, planned, scenario, show

from agentsim.analysis import paired_differences
from agentsim.ensemble import plan_comparison
from agentsim.store import write_csv

VARIANTS = {
    "all_channels": {},
    "no_flywheel": {"policy.channels.flywheel": False},
    "no_capital_mobility": {"policy.channels.capital_mobility": False},
    "no_talent_mobility": {"policy.channels.talent_mobility": False},
}
OUTCOMES = [
    "final_frontier_capability_us",
    "final_us_lead_ooms",
    "final_us_user_share",
    "final_us_capital_share",
    "final_us_talent_share",
]


def designs() -> dict[str, dict]:
    """Both scenarios under every variant, named ``<scenario>:<variant>`` (no two alike: the
    planner refuses two names for one config)."""
    configs = {}
    for variant, switches in VARIANTS.items():
        for name in ("baseline", "trusted_release"):
            label = f"{name}:{variant}"
            configs[label] = {**scenario(name, **switches), "name": label}
    return configs


def main() -> None:
    args = arguments(__doc__.splitlines()[0], runs=40)
    out = output_dir(args, "decomposition")
    plan = planned(lambda: plan_comparison(designs(), args.runs, args.seed))
    result = execute(plan, out, args.workers, args.resume)
    rows = []
    for variant in VARIANTS:
        diffs = paired_differences(
            result.runs, f"baseline:{variant}", f"trusted_release:{variant}"
        ).set_index("outcome")
        for outcome in OUTCOMES:
            rows.append(
                {
                    "variant": variant,
                    "outcome": outcome,
                    "effect": diffs.loc[outcome, "difference"],
                    "ci_low": diffs.loc[outcome, "ci_low"],
                    "ci_high": diffs.loc[outcome, "ci_high"],
                }
            )
    table = pd.DataFrame(rows)
    full = table[table["variant"] == "all_channels"].set_index("outcome")["effect"]
    table["share_through_channel"] = [
        float("nan") if v == "all_channels" else 1 - e / full[o]
        for v, o, e in zip(table["variant"], table["outcome"], table["effect"], strict=True)
    ]
    write_csv(out / "table.csv", table)
    show(table, f"Trusted-release effect by channel ({args.runs} seeds per scenario)")


if __name__ == "__main__":
    main()

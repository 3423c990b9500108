"""Experiment (a): trusted-release severity sweep.

Trusted fraction x restricted months x compliance delay, each grid point on the same seeds,
and the baseline (no policy) on those seeds too. Prints two tables, one row per grid point:
the mean of each outcome (US shares of users, revenue, capital and talent, the US lead, the
probability of a non-US overtake) with its 95% interval (t for means, Wilson for the
probability), and the effect of the setting: the mean paired difference from the baseline
on the same seeds with its 95% t interval; n is the number of runs (or seed pairs) behind
each row.

Writes results/experiments/severity_sweep/ (the sweep: runs.parquet, timeseries.parquet,
manifest.json; table.csv with the means, effects.csv with the effects, one row per grid
point and outcome) and results/experiments/severity_sweep_baseline/ (the baseline's runs).
Run it again with the same --out to reprint from the stored batches.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from pathlib import Path

import pandas as pd
from _common import (
    arguments,
    check_overrides,
    execute,
    output_dir,
    planned,
    scenario,
    show,
    spread,
)

from agentsim.analysis import OVERTAKE, design_groups, outcome_table, paired_differences
from agentsim.ensemble import plan_monte_carlo, plan_sweep
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
#: Grid columns as printed and written (the last part of each key).
SHORT = {key: key.rsplit(".", 1)[-1] for key in GRID}


def label(outcome: str) -> str:
    """An outcome's column name in the printed tables: ``final_us_user_share`` ->
    ``user_share``, ``overtaken`` -> ``p_overtake``."""
    if outcome in ("overtaken", OVERTAKE):
        return "p_overtake"
    return outcome.removeprefix("final_us_")


def level_table(runs: pd.DataFrame) -> pd.DataFrame:
    """Estimate, 95% interval and n of every outcome at every grid point, over the sweep's
    runs that did not fail (:func:`agentsim.analysis.outcome_table`: t intervals for means,
    Wilson for the overtake probability); the grid columns by their short names."""
    return outcome_table(runs, list(GRID), OUTCOMES).rename(columns=SHORT)


def effect_table(runs: pd.DataFrame, baseline: pd.DataFrame) -> pd.DataFrame:
    """The paired effect of every grid point: for each point and outcome, the mean over
    seeds of (point - baseline) on the same seed with its 95% interval and test
    (:func:`agentsim.analysis.paired_differences`; a pair is dropped where either run
    failed).

    ``runs`` are the sweep's runs, ``baseline`` the baseline's (one run per seed). One row
    per point and outcome: the grid columns by their short names, then
    ``paired_differences``' columns (``outcome``, ``difference``, ``ci_low``, ``ci_high``,
    ``p_value``, ``n_pairs``...; p-values adjusted over the outcomes of one point). Raises
    ``ValueError`` when the baseline holds a seed twice.
    """
    frames = []
    for labels, point in design_groups(runs, by=list(GRID)):
        pair = pd.concat(
            [baseline.assign(scenario="baseline"), point.assign(scenario="point")],
            ignore_index=True,
        )
        diffs = paired_differences(pair, "baseline", "point", OUTCOMES)
        for key, value in reversed(labels.items()):
            diffs.insert(0, SHORT.get(key, key), [value] * len(diffs))
        frames.append(diffs)
    return pd.concat(frames, ignore_index=True)


def baseline_dir(out: Path) -> Path:
    """Where the baseline's batch goes: a sibling of the sweep's folder, ``<out>_baseline``."""
    return out.parent / f"{out.name}_baseline"


def main(argv: Sequence[str] | None = None) -> None:
    """Run (or reuse, or resume) both batches and print the tables (see the module's
    docstring)."""
    args = arguments(__doc__.splitlines()[0], runs=12, argv=argv, script=__file__)
    out = output_dir(args, "severity_sweep")

    def sweep():
        check_overrides(args.set_, GRID, "the experiment sweeps it")
        return plan_sweep(scenario("trusted_release", args.set_), GRID, args.runs, args.seed)

    plan = planned(sweep)
    base_plan = planned(
        lambda: plan_monte_carlo(scenario("baseline", args.set_), args.runs, args.seed)
    )
    result = execute(plan, out, args)
    base = execute(base_plan, baseline_dir(out), args)
    levels = level_table(result.runs)
    effects = effect_table(result.runs, base.runs)
    write_csv(out / "table.csv", levels)
    write_csv(out / "effects.csv", effects)
    keys = list(SHORT.values())
    show(
        spread(levels, keys, names=label),
        f"Trusted-release severity ({args.runs} seeds per cell): mean [95% interval] of each "
        "outcome (t; Wilson for p_overtake); n runs",
    )
    show(
        spread(effects, keys, value="difference", n="n_pairs", names=label),
        f"Effect of each setting: mean paired difference from the baseline (no policy, same "
        f"{args.runs} seeds) [95% t interval]; n seed pairs",
    )
    print(f"\nresults: {out}, baseline: {baseline_dir(out)}", file=sys.stderr)


if __name__ == "__main__":
    main()

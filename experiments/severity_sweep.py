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
    means_with_intervals,
    output_dir,
    paired_effect,
    planned,
    scenario,
    show,
    spread,
)

from agentsim.analysis import design_groups
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
    return "p_overtake" if outcome == "overtaken" else outcome.removeprefix("final_us_")


def level_table(runs: pd.DataFrame) -> pd.DataFrame:
    """Mean, 95% interval and n of every outcome at every grid point (one row per point and
    outcome; the grid columns by their short names, then ``outcome``, ``mean``, ``ci_low``,
    ``ci_high``, ``n``), over the sweep's runs that did not fail. See
    :func:`_common.means_with_intervals`."""
    return means_with_intervals(runs, list(GRID), OUTCOMES).rename(columns=SHORT)


def effect_table(runs: pd.DataFrame, baseline: pd.DataFrame) -> pd.DataFrame:
    """The paired effect of every grid point: for each point and outcome, the mean over
    seeds of (point - baseline) on the same seed with its 95% t interval
    (:func:`_common.paired_effect`; a pair is dropped where either run failed).

    ``runs`` are the sweep's runs, ``baseline`` the baseline's (one run per seed). One row
    per point and outcome: the grid columns by their short names, ``outcome``,
    ``difference``, ``ci_low``, ``ci_high``, ``n_pairs``. Raises ``ValueError`` when the
    baseline holds a seed twice.
    """
    rows = []
    for labels, point in design_groups(runs, by=list(GRID)):
        for outcome in OUTCOMES:
            mean, low, high, n = paired_effect(baseline, point, outcome)
            rows.append(
                {
                    **{SHORT[k]: v for k, v in labels.items()},
                    "outcome": outcome,
                    "difference": mean,
                    "ci_low": low,
                    "ci_high": high,
                    "n_pairs": n,
                }
            )
    return pd.DataFrame(rows)


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

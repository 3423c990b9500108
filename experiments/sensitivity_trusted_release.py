"""Experiment (d): what drives the trusted-release effect under parameter uncertainty.

Stage 1 screens every uncertain parameter of configs/uncertainty/default.yaml with Morris
elementary effects on the paired effect trusted release - baseline (same design points and
seeds) for the final US lead and the overtake probability. Stage 2 computes Sobol first and
total indices, with bootstrap intervals, for the --top parameters with the largest mu* on the
US lead.
Both stages report how much of the effect's variance is seed noise; an index below that
floor is flagged, not ranked. Every index is printed with its 95% interval (ci_low,
ci_high; bootstrap over the design) and n, the design points behind it (trajectories for
Morris, base samples for Sobol), each the mean of --seeds paired seeds.

Writes results/experiments/sensitivity_trusted_release/morris/ and .../sobol/ (batch folders
with indices.csv, noise.csv and figures) and prints the rankings. Run it again with the same
--out and a stage that finished is read back, one that was interrupted is resumed.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Sequence
from pathlib import Path

import pandas as pd
from _common import (
    CONFIGS,
    ROOT,
    OneLineParser,
    add_batch_options,
    execute,
    parse,
    planned,
    show,
)

from agentsim.explore import finish_sensitivity, plan_sensitivity, ranking
from agentsim.figures import save_sensitivity_figures
from agentsim.scenario_io import config_to_dict, load_config
from agentsim.store import experiment_dir
from agentsim.uncertainty import UncertaintySpec, load_uncertainty, uncertainty_path

OUTCOMES = ["final_us_lead_ooms", "overtaken"]


def arguments(argv: Sequence[str] | None = None) -> argparse.Namespace:
    """The experiment's options (``argv`` defaults to the command line); bad ones exit 2
    with one line."""
    parser = OneLineParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trajectories", type=int, default=10, help="Morris trajectories")
    parser.add_argument("--sobol-samples", type=int, default=64, help="Sobol base sample N")
    parser.add_argument("--top", type=int, default=4, help="parameters carried to Sobol")
    parser.add_argument("--seeds", type=int, default=4, help="seeds per design point")
    parser.add_argument("--seed", type=int, default=0, help="root seed")
    parser.add_argument("--uncertainty", default="default", help="uncertainty spec")
    add_batch_options(parser)
    return parse(parser, argv, __file__)


def stage(plan, out: Path, args: argparse.Namespace) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Run (or resume, or read back) one stage and return its indices and noise tables."""
    result = execute(plan, out, args)
    indices, noise = finish_sensitivity(result)
    save_sensitivity_figures(out)
    return indices, noise


def report(indices: pd.DataFrame, noise: pd.DataFrame, title: str, n: int) -> None:
    """Print the ranking of every outcome with its interval, ``n`` (the design points behind
    each index) and the seed-noise share."""
    for row in noise.itertuples():
        table = ranking(indices, row.outcome)
        table.insert(table.columns.get_loc("ci_high") + 1, "n", n)
        table["parameter"] = table["parameter"].str.replace("jurisdictions.", "", regex=False)
        if row.seed_noise_share != row.seed_noise_share:  # NaN: nothing varies
            print(f"\n{title}: {row.outcome}: the effect is the same at every design point")
            continue
        show(
            table.drop(columns=["index"]),
            f"{title}: {row.outcome} (effect of trusted release); seed noise is "
            f"{row.seed_noise_share:.1%} of the variance of the seed means; flagged rows are "
            "below that floor and not ranked",
        )


def main(argv: Sequence[str] | None = None) -> None:
    """Run (or reuse, or resume) both stages and print the rankings (see the module's
    docstring)."""
    args = arguments(argv)
    out = args.out or experiment_dir("sensitivity_trusted_release", ROOT / "results")
    spec = planned(lambda: load_uncertainty(uncertainty_path(args.uncertainty)))
    policy = planned(
        lambda: config_to_dict(load_config(CONFIGS / "trusted_release.yaml", assignments=args.set_))
    )
    base = planned(
        lambda: config_to_dict(load_config(CONFIGS / "baseline.yaml", assignments=args.set_))
    )
    start = time.perf_counter()
    morris_plan = planned(
        lambda: plan_sensitivity(
            policy, spec, "morris", args.trajectories, args.seeds, args.seed,
            ("baseline", base), OUTCOMES,
        )
    )  # fmt: skip
    morris, morris_noise = stage(morris_plan, out / "morris", args)
    screened = time.perf_counter() - start
    report(
        morris,
        morris_noise,
        f"Morris screening ({len(morris_plan.specs)} runs)",
        args.trajectories,
    )

    # the largest mu* on the US lead carry on (flags say whether seed noise could explain an
    # index; they do not stop a parameter from being looked at more closely)
    top = list(ranking(morris, OUTCOMES[0]).sort_values("estimate", ascending=False)["parameter"])
    top = top[: max(args.top, 2)]
    chosen = spec.to_dict()
    reduced = UncertaintySpec.from_dict(
        {"parameters": {name: chosen["parameters"][name] for name in top}}
    )
    sobol_plan = planned(
        lambda: plan_sensitivity(
            policy, reduced, "sobol", args.sobol_samples, args.seeds, args.seed,
            ("baseline", base), OUTCOMES,
        )
    )  # fmt: skip
    sobol, sobol_noise = stage(sobol_plan, out / "sobol", args)
    report(
        sobol,
        sobol_noise,
        f"Sobol indices of the top {len(top)} ({len(sobol_plan.specs)} runs)",
        args.sobol_samples,
    )
    total = time.perf_counter() - start
    print(f"\nMorris {screened:.0f} s, Sobol {total - screened:.0f} s; results in {out}")


if __name__ == "__main__":
    main()

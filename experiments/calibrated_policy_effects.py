"""Experiment: policy effects on the debate's outcomes, with parameter uncertainty carried through.

1. Calibrate the baseline on the 2026 back-test (configs/targets/backtest_2026.yaml, the six
   assumptions of configs/targets/backtest_2026_params.yaml) with ``agentsim calibrate``
   (``--budget``, default small); a finished calibration beside the output folder
   (``<out>_calibration``) of the same budget and seed is reused, an unfinished one resumed,
   and ``--calibration DIR`` uses any finished one.
2. Draw ``--draws`` parameter vectors from the posterior (by weight) and run the baseline,
   trusted release, export controls and both under each, on the same ``--runs`` seeds
   (common random numbers: every scenario and draw shares the seeds).
3. For each policy and each of the debate's outcomes, the relative change from the baseline:
   per posterior draw, the ratio of the seed means minus one; the table gives the median over
   draws and the 90% interval (5th-95th percentile over draws), which carries the parameter
   uncertainty and the seed noise of K seeds together. Where the baseline's mean is 0 in a
   draw (no non-US frontier-class launch, say) the relative change is undefined there, and
   the absolute change is reported beside it.

Writes results/experiments/calibrated_policy_effects_calibration/ (the calibration) and
results/experiments/calibrated_policy_effects/ (runs.parquet,
timeseries.parquet, manifest.json, effects.csv, effects.md) and prints the table. Run it
again with the same --out and it reuses the finished calibration and batch (or resumes the
one that was interrupted); a folder holding another plan stops it with one line (exit 2).
Both stages run on ``--workers`` local processes or on the Dask scheduler ``--scheduler``.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd
from _common import (
    CONFIGS,
    OneLineParser,
    add_batch_options,
    execute,
    fail,
    non_negative_int,
    output_dir,
    parse,
    planned,
    positive_int,
    scenario,
    show,
)

from agentsim.calibration import BUDGETS, POSTERIOR, markdown_table, predictive_draws
from agentsim.config import ConfigError
from agentsim.ensemble import BatchPlan, replicate_seeds
from agentsim.explore import point_runs
from agentsim.store import read_manifest, write_csv, write_text
from agentsim.uncertainty import UncertaintySpec

SCENARIOS = ["baseline", "trusted_release", "export_controls", "combined"]
#: The debate's outcomes (see docs/ODD.md, "Outcomes in the debate's units") and their labels.
OUTCOMES = {
    "us_ai_rd_usd_last_year": "US private AI R&D, last year (USD/yr)",
    "us_revenue_share_last_year": "US share of AI revenue, last year",
    "us_user_share_last_year": "US share of AI users, last year",
    "mean_months_between_us_generations": "Months between US frontier generations",
    "months_to_first_us_generation": "Months to the next US frontier generation",
    "non_us_frontier_class_launches_per_year": "Non-US frontier-class launches a year",
}
#: Columns of the printed table (effects.csv has them all).
SHOWN = [
    "policy",
    "outcome",
    "relative_change",
    "rel_low_90",
    "rel_high_90",
    "absolute_change",
    "abs_low_90",
    "abs_high_90",
    "draws_defined",
    "draws",
]
TARGETS = CONFIGS / "targets" / "backtest_2026.yaml"
PARAMS = CONFIGS / "targets" / "backtest_2026_params.yaml"


def arguments(argv: Sequence[str] | None = None) -> argparse.Namespace:
    """The experiment's options (``argv`` defaults to the command line); bad ones exit 2
    with one line."""
    parser = OneLineParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--budget",
        default="small",
        choices=list(BUDGETS),
        help="calibration budget: small, medium or large",
    )
    parser.add_argument(
        "--calibration",
        type=Path,
        default=None,
        help="use this finished calibration folder instead of calibrating",
    )
    parser.add_argument("--draws", type=positive_int, default=40, help="posterior draws (40)")
    parser.add_argument("--runs", type=positive_int, default=4, help="seeds per posterior draw (4)")
    parser.add_argument("--seed", type=non_negative_int, default=0, help="root seed (0)")
    add_batch_options(parser, overrides=False)
    return parse(parser, argv, __file__)


def calibrate(folder: Path, args: argparse.Namespace, given: bool = False) -> None:
    """Run, resume or reuse the back-test calibration in ``folder`` through the CLI
    (``agentsim calibrate``, on ``--workers`` or ``--scheduler``).

    A finished calibration is reused (one line says so) and an unfinished one resumed. Unless
    ``given`` (the folder came from ``--calibration``: any finished one will do), the folder
    must hold a calibration of this ``--budget`` and ``--seed``: another one, or a folder
    that holds something else, exits 2 with one line saying how to start fresh. Exits as
    ``agentsim calibrate`` when that fails (2 on bad input, 1 or 130/143 when stopped).
    """
    from agentsim.cli import main as agentsim

    fresh = f"to start fresh give another --out, or delete {folder}"
    if folder.is_dir() and any(folder.iterdir()):
        try:
            manifest = read_manifest(folder)
        except ConfigError:
            fail(f"--out: {folder} is not empty and holds no calibration; {fresh}")
        if manifest.get("kind") != "calibrate":
            kind = manifest.get("kind")
            fail(f"--out: {folder} holds a {kind} folder, not a calibration; {fresh}")
        if not given:
            stored = {"--budget": manifest.get("budget"), "--seed": manifest.get("root_seed")}
            for option, value in {"--budget": args.budget, "--seed": args.seed}.items():
                if stored[option] != value:
                    fail(
                        f"--out: {folder} holds a calibration made with {option} "
                        f"{stored[option]}, not {value}; {fresh}"
                    )
        if manifest.get("status") == "complete":
            print(f"reusing the finished calibration in {folder}", file=sys.stderr)
            return
        print(f"resuming the unfinished calibration in {folder}", file=sys.stderr)
        command = ["calibrate", "--resume", str(folder)]
    elif given:
        fail(f"--calibration: {folder} holds no calibration")
    else:
        command = [
            "calibrate",
            str(CONFIGS / "baseline.yaml"),
            "--targets",
            str(TARGETS),
            "--params",
            str(PARAMS),
            "--budget",
            args.budget,
            "--seed",
            str(args.seed),
            "--out",
            str(folder),
        ]
    for option, value in (
        ("--workers", args.workers),
        ("--scheduler", args.scheduler),
        ("--worker-timeout", args.worker_timeout),
    ):
        if value is not None:
            command += [option, str(value)]
    try:
        agentsim(command)
    except SystemExit as stop:
        if stop.code:
            raise SystemExit(stop.code) from None


def plan_posterior_runs(folder: Path, draws: int, runs: int, root_seed: int) -> BatchPlan:
    """Every scenario under ``draws`` posterior draws, each on the same ``runs`` seeds.

    Run id = (scenario index * draws + draw) * runs + replicate; a run's design point is its
    draw, and its grid holds the drawn parameter values.
    """
    manifest = read_manifest(folder)
    spec = UncertaintySpec.from_dict(manifest["parameters"])
    posterior = pd.read_parquet(folder / POSTERIOR)
    overrides = [tuple(o.items()) for o in predictive_draws(posterior, spec, draws, root_seed + 1)]
    return BatchPlan(
        "explore",
        {name: scenario(name) for name in SCENARIOS},
        point_runs(SCENARIOS, overrides, replicate_seeds(root_seed, runs)),
        root_seed,
        runs,
        design={"posterior": manifest["fingerprint"], "draws": draws, "seeds": runs},
    )


def effects(runs: pd.DataFrame) -> pd.DataFrame:
    """Relative (and absolute) change from the baseline, per policy and outcome: median over
    posterior draws and the 5th-95th percentile interval (see the module's docstring)."""
    ok = runs[runs["error"].isna()]
    means = ok.groupby(["scenario", "point"])[list(OUTCOMES)].mean()
    rows = []
    for policy in SCENARIOS[1:]:
        base, other = means.loc["baseline"], means.loc[policy]
        common = base.index.intersection(other.index)
        base, other = base.loc[common], other.loc[common]
        for outcome, label in OUTCOMES.items():
            a, b = base[outcome].to_numpy(float), other[outcome].to_numpy(float)
            with np.errstate(divide="ignore", invalid="ignore"):
                relative = np.where((a != 0) & np.isfinite(a), b / a - 1.0, np.nan)
            change = b - a
            finite = relative[np.isfinite(relative)]
            defined = change[np.isfinite(change)]
            low, mid, high = (
                np.quantile(finite, [0.05, 0.5, 0.95]) if finite.size else (np.nan,) * 3
            )
            alow, amid, ahigh = (
                np.quantile(defined, [0.05, 0.5, 0.95]) if defined.size else (np.nan,) * 3
            )
            rows.append(
                {
                    "policy": policy,
                    "outcome": label,
                    "relative_change": mid,
                    "rel_low_90": low,
                    "rel_high_90": high,
                    "absolute_change": amid,
                    "abs_low_90": alow,
                    "abs_high_90": ahigh,
                    "baseline_median": float(np.nanmedian(a)) if a.size else np.nan,
                    "draws_defined": int(finite.size),
                    "draws": len(common),
                }
            )
    return pd.DataFrame(rows)


def main(argv: Sequence[str] | None = None) -> None:
    """Calibrate (or reuse the calibration), run (or reuse, or resume) the batch and print the
    table (see the module's docstring)."""
    args = arguments(argv)
    out = output_dir(args, "calibrated_policy_effects")
    folder = args.calibration or out.parent / f"{out.name}_calibration"
    calibrate(folder, args, given=args.calibration is not None)
    plan = planned(lambda: plan_posterior_runs(folder, args.draws, args.runs, args.seed))
    result = execute(plan, out, args)
    table = effects(result.runs)
    write_csv(out / "effects.csv", table)
    write_text(out / "effects.md", markdown_table(table) + "\n")
    show(
        table[SHOWN],
        f"Policy effects on the calibrated posterior ({args.draws} draws x {args.runs} seeds): "
        "change from the baseline, relative and absolute, median and 90% interval over draws "
        "(draws_defined: draws whose baseline mean is not 0, over which the relative change "
        "is taken, of draws)",
    )
    print(f"\ncalibration: {folder}; results: {out}", file=sys.stderr)


if __name__ == "__main__":
    main()

"""Shared plumbing of the experiment scripts: arguments, scenario loading, running a plan."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from pathlib import Path

import pandas as pd

from agentsim.config import ConfigError
from agentsim.ensemble import BatchPlan, BatchResult
from agentsim.scenario_io import config_to_dict, load_config
from agentsim.store import experiment_dir

ROOT = Path(__file__).resolve().parent.parent
CONFIGS = ROOT / "configs"


def output_dir(args: argparse.Namespace, name: str) -> Path:
    """The folder given by --out, else results/experiments/<name> under the repository."""
    return args.out or experiment_dir(name, ROOT / "results")


def arguments(description: str, runs: int) -> argparse.Namespace:
    """Common options: runs per cell, root seed, workers, output folder, resume."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--runs", type=int, default=runs, help="runs per scenario or grid point")
    parser.add_argument("--seed", type=int, default=0, help="root seed")
    parser.add_argument("--workers", type=int, default=None, help="worker processes")
    parser.add_argument("--out", type=Path, default=None, help="output folder")
    parser.add_argument("--resume", action="store_true", help="finish an interrupted batch")
    return parser.parse_args()


def scenario(name: str, **overrides) -> dict:
    """configs/<name>.yaml with dotted overrides, as a plain dict; the name is kept unique."""
    return config_to_dict(load_config(CONFIGS / f"{name}.yaml", overrides=overrides))


def planned(design: Callable[[], BatchPlan]) -> BatchPlan:
    """Build a plan with ``design()``; exit 2 with its one-line error on bad input (a scenario
    that does not validate, points or scenarios that coincide, --runs below 1)."""
    try:
        return design()
    except ConfigError as exc:
        print(f"error: {exc}", file=sys.stderr)
        raise SystemExit(2) from None


def execute(plan: BatchPlan, out: Path, workers: int | None, resume: bool) -> BatchResult:
    """Run a plan as the batch commands do (:func:`agentsim.cli.execute_batch`): progress
    bar, output folder checked before compute, one-line errors with exit code 2 on bad input,
    and on Ctrl-C, SIGTERM, a full disk or lost workers every finished run kept and the
    command that resumes this script printed."""
    import typer

    from agentsim.cli import execute_batch

    again = ["python", *sys.argv, *([] if "--resume" in sys.argv else ["--resume"])]
    try:
        result = execute_batch(
            plan,
            None if resume else out,
            out if resume else None,
            workers,
            None,
            out.name,
            resume_command=" ".join(again),
        )
    except typer.Exit as exc:  # the batch layer's exits, outside a Typer app
        raise SystemExit(exc.exit_code) from None
    if len(result.failures):
        print(f"warning: {len(result.failures)} runs failed; see runs.parquet", file=sys.stderr)
    return result


def show(frame: pd.DataFrame, title: str) -> None:
    """Print a table with a title."""
    print(f"\n{title}")
    with pd.option_context(
        "display.width", 160, "display.max_columns", 20, "display.float_format", "{:.3f}".format
    ):
        print(frame.to_string(index=False))

"""Shared plumbing of the experiment scripts: options, scenario loading, running a plan
through the batch commands' machinery, and tables that read in a log.

A script's output folder (``--out``, default ``results/experiments/<name>``) is where its
batch lives, and running the script again with the same folder

* reuses the finished batch there when it is of the same plan (the manifest's fingerprint:
  the same scenarios, grid or design, ``--runs`` and ``--seed``), without recomputing
  anything, and says so in one line;
* resumes the unfinished batch there (a run that was interrupted) when it is of the same
  plan;
* stops with one line (exit 2) when the folder holds a batch of another plan, or holds
  something that is not a batch, and says how to start fresh.

``--resume`` is still accepted (scripts and notes written before the above used it) and
changes nothing.
"""

from __future__ import annotations

import argparse
import json
import math
import shlex
import sys
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any, NoReturn

import pandas as pd

from agentsim.config import ConfigError
from agentsim.ensemble import BatchPlan, BatchResult
from agentsim.scenario_io import config_to_dict, load_config, parse_assignments
from agentsim.store import (
    RUNS,
    experiment_dir,
    is_batch_dir,
    is_empty_batch_dir,
    read_batch,
    read_manifest,
)

ROOT = Path(__file__).resolve().parent.parent
CONFIGS = ROOT / "configs"


class OneLineParser(argparse.ArgumentParser):
    """An argument parser whose errors are one line on stderr, ``error: ...``, exit 2 (as
    every other error of the experiment scripts and the batch commands)."""

    def error(self, message: str) -> None:  # type: ignore[override]
        fail(f"{message} (see --help)")


def fail(message: str) -> NoReturn:
    """Print ``error: message`` as one line on stderr and exit 2. Never returns."""
    print(f"error: {message}", file=sys.stderr)
    raise SystemExit(2)


def positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be an integer >= 1 (got {text})")
    return value


def non_negative_int(text: str) -> int:
    value = int(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be an integer >= 0 (got {text})")
    return value


def seconds(text: str) -> float:
    value = float(text)
    if not value >= 1:
        raise argparse.ArgumentTypeError(f"must be a number of seconds >= 1 (got {text})")
    return value


def add_batch_options(parser: argparse.ArgumentParser, overrides: bool = True) -> None:
    """Add the options that say where and how a batch runs, as the batch commands name them:
    ``--workers``, ``--scheduler``, ``--worker-timeout``, ``--out``, ``--resume`` (accepted,
    does nothing: see the module's docstring) and, with ``overrides``, ``--set``."""
    parser.add_argument(
        "--workers",
        type=positive_int,
        default=None,
        help="local worker processes (default: all cores; 1 runs in-process)",
    )
    parser.add_argument(
        "--scheduler",
        default=None,
        help="Dask scheduler address (tcp://HOST:PORT), or 'local' to start a LocalCluster",
    )
    parser.add_argument(
        "--worker-timeout",
        type=seconds,
        default=None,
        help="seconds to wait for Dask workers to join (or come back) before giving up "
        "(default 600); finished runs are kept",
    )
    parser.add_argument(
        "--out",
        type=Path,
        default=None,
        help="output folder; run again with the same folder to reuse a finished batch or "
        "resume an unfinished one",
    )
    parser.add_argument(
        "--resume",
        action="store_true",
        help="accepted for older commands; does nothing (a second run resumes by itself)",
    )
    if overrides:
        parser.add_argument(
            "--set",
            dest="set_",
            action="append",
            default=[],
            metavar="KEY=VALUE",
            help="override a config value of every scenario (dotted key, YAML value; "
            "repeatable), e.g. --set simulation.steps=120",
        )


def parse(
    parser: argparse.ArgumentParser, argv: Sequence[str] | None, script: str | Path
) -> argparse.Namespace:
    """Parse ``argv`` (default: the command line) and record in ``args.command`` the command
    that runs ``script`` again with them (what an interrupted batch says to run to resume).
    Bad options exit 2 with one line when ``parser`` is a :class:`OneLineParser`."""
    argv = list(sys.argv[1:] if argv is None else argv)
    args = parser.parse_args(argv)
    path = Path(script).resolve()
    try:
        shown = str(path.relative_to(Path.cwd()))
    except ValueError:
        shown = str(path)
    args.command = shlex.join(["python", shown, *argv])
    return args


def arguments(
    description: str,
    runs: int,
    argv: Sequence[str] | None = None,
    script: str | Path | None = None,
) -> argparse.Namespace:
    """The common options of a batch experiment: ``--runs`` (runs per scenario or grid point,
    default ``runs``), ``--seed`` (root seed, default 0) and :func:`add_batch_options`.

    ``argv`` defaults to the command line; ``script`` (default ``sys.argv[0]``) is the script
    the rerun command names. Bad options exit 2 with one line."""
    parser = OneLineParser(description=description)
    parser.add_argument(
        "--runs", type=positive_int, default=runs, help=f"runs per scenario or grid point ({runs})"
    )
    parser.add_argument("--seed", type=non_negative_int, default=0, help="root seed (0)")
    add_batch_options(parser)
    return parse(parser, argv, script or sys.argv[0])


def output_dir(args: argparse.Namespace, name: str) -> Path:
    """The folder given by --out, else results/experiments/<name> under the repository."""
    return args.out or experiment_dir(name, ROOT / "results")


def scenario(name: str, assignments: Iterable[str] = (), **overrides: Any) -> dict:
    """configs/<name>.yaml with dotted ``overrides``, then ``assignments`` (``--set``
    expressions, which win over an override of the same key), as a plain dict.

    Raises :class:`ConfigError` for a file, override or assignment that does not validate."""
    return config_to_dict(
        load_config(CONFIGS / f"{name}.yaml", overrides=overrides, assignments=list(assignments))
    )


def check_overrides(assignments: Iterable[str], fixed: Iterable[str], why: str) -> None:
    """Refuse (:class:`ConfigError`, key ``--set``) an assignment of a key the experiment
    sets itself (``fixed``: dotted keys it varies), or one inside it: the experiment would
    silently override it, or be overridden. ``why`` says what the experiment does with them.
    Raises as :func:`agentsim.scenario_io.parse_assignments` for a malformed expression."""
    given = parse_assignments(assignments)
    for key in given:
        for mine in fixed:
            if key == mine or key.startswith(f"{mine}.") or mine.startswith(f"{key}."):
                raise ConfigError("--set", f"{key}: {why}; it cannot be set")


def planned(design: Callable[[], BatchPlan]) -> BatchPlan:
    """Build a plan with ``design()``; exit 2 with its one-line error on bad input (a scenario
    that does not validate, points or scenarios that coincide, a bad ``--set``)."""
    try:
        return design()
    except ConfigError as exc:
        fail(str(exc))


def _plain(value: Any) -> Any:
    """``value`` as the manifest stores it (JSON types), for comparing."""
    return json.loads(json.dumps(value, sort_keys=True, default=str))


def plan_differences(plan: BatchPlan, manifest: dict[str, Any]) -> list[str]:
    """What makes the batch a manifest records another plan than ``plan``, in words, e.g.
    ``["--runs 2, not 3"]``: the command that made it, runs per point, root seed, grid,
    design, scenario configs. Empty when none of these differ."""
    kind = manifest.get("kind")
    if kind != plan.kind:  # made by another command: nothing else compares
        return [f"it is a {kind} folder, not a {plan.kind} batch"]
    said = []
    if manifest.get("runs_per_point") != plan.runs:
        said.append(f"--runs {manifest.get('runs_per_point')}, not {plan.runs}")
    if manifest.get("root_seed") != plan.root_seed:
        said.append(f"--seed {manifest.get('root_seed')}, not {plan.root_seed}")
    if _plain(manifest.get("grid") or {}) != _plain(plan.grid):
        said.append("another grid")
    if _plain(manifest.get("design") or {}) != _plain(plan.design):
        said.append("another design")
    stored = manifest.get("configs") or {}
    mine = _plain(plan.configs)
    if set(stored) != set(mine):
        names = sorted(stored)
        shown = ", ".join(names[:3]) + (", ..." if len(names) > 3 else "")
        said.append(f"other scenarios: it holds {shown}")
    else:
        names = sorted(n for n in mine if _plain(stored[n]) != mine[n])
        if names:
            shown = ", ".join(names[:3]) + (", ..." if len(names) > 3 else "")
            said.append(f"other scenario settings ({shown}: a config file or --set changed)")
    return said


#: What :func:`stored_state` says of an output folder.
NEW, FINISHED, UNFINISHED = "new", "finished", "unfinished"


def stored_state(plan: BatchPlan, out: Path) -> str:
    """What ``out`` holds for ``plan``: :data:`NEW` (missing or empty, or not a folder: the
    batch layer says why it cannot be written), :data:`FINISHED` (a finished batch of this
    plan, whose results can be read back) or :data:`UNFINISHED` (a batch of this plan that
    stopped before it finished: resume it).

    Raises :class:`ConfigError` (key ``--out``) when ``out`` holds a batch of another plan
    (naming what differs, see :func:`plan_differences`), something that is not a batch, or a
    manifest that cannot be read; each message says how to start fresh.
    """
    out = Path(out)
    fresh = f"to start fresh give another --out, or delete {out}"
    if not out.is_dir() or is_empty_batch_dir(out):
        return NEW
    if not is_batch_dir(out):
        raise ConfigError("--out", f"{out} is not empty and holds no batch; {fresh}")
    try:
        manifest = read_manifest(out)
    except ConfigError:
        raise ConfigError("--out", f"{out}/manifest.json cannot be read; {fresh}") from None
    if not isinstance(manifest, dict) or manifest.get("fingerprint") != plan.fingerprint():
        said = plan_differences(plan, manifest if isinstance(manifest, dict) else {})
        why = "; ".join(said) if said else "its manifest records another fingerprint"
        raise ConfigError("--out", f"{out} holds a batch of another plan ({why}); {fresh}")
    if manifest.get("finished") and (out / RUNS).is_file():
        return FINISHED
    return UNFINISHED


def execute(
    plan: BatchPlan, out: Path, args: argparse.Namespace, label: str | None = None
) -> BatchResult:
    """Run ``plan`` in ``out`` as the batch commands do (:func:`agentsim.cli.execute_batch`),
    or read back or resume what ``out`` holds of it (see :func:`stored_state`).

    ``args`` holds ``workers``, ``scheduler``, ``worker_timeout`` and ``command`` (see
    :func:`parse`); ``label`` names the batch on the progress lines (default ``out.name``).
    As the batch commands: progress on stderr, the folder and the executor checked before
    compute, one-line errors with exit code 2 on bad input (here also a folder holding
    another plan), and on Ctrl-C, SIGTERM, a full disk or lost workers every finished run
    kept and the command that resumes it printed (this script again), exit 130, 143 or 1.
    A finished batch is read back, not recomputed (one line on stderr says so). Returns the
    batch; failed runs are reported in a warning line, and the tables leave them out.
    """
    import typer

    from agentsim.cli import execute_batch

    out = Path(out)
    try:
        state = stored_state(plan, out)
    except ConfigError as exc:
        fail(str(exc))
    if state == FINISHED:
        try:
            result = read_batch(out)
        except ConfigError as exc:
            fail(str(exc))
        print(
            f"reusing the finished batch in {out} ({len(result.runs)} runs of this plan, "
            f"finished {result.manifest.get('finished')}); to compute it again give another "
            "--out, or delete the folder",
            file=sys.stderr,
        )
    else:
        if state == UNFINISHED:
            print(f"resuming the unfinished batch in {out}", file=sys.stderr)
        resume = state == UNFINISHED
        try:
            result = execute_batch(
                plan,
                None if resume else out,
                out if resume else None,
                args.workers,
                args.scheduler,
                label or out.name,
                resume_command=getattr(args, "command", None),
                worker_timeout=args.worker_timeout,
            )
        except typer.Exit as exc:  # the batch layer's exits, outside a Typer app
            raise SystemExit(exc.exit_code) from None
    if len(result.failures):
        print(
            f"warning: {len(result.failures)} of {len(result.runs)} runs failed (left out of "
            f"the tables); see {out / RUNS}",
            file=sys.stderr,
        )
    return result


# --------------------------------------------------------------------------- tables


def fmt(value: Any) -> str:
    """A table cell for a log: floats to 3 significant digits, "n/a" for a missing value,
    anything else as ``str``."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "n/a"
    if isinstance(value, float):
        return f"{value:.3g}"
    return str(value)


def interval(mean: float, low: float, high: float) -> str:
    """``mean [low, high]`` at 3 significant digits (see :func:`fmt`)."""
    return f"{fmt(mean)} [{fmt(low)}, {fmt(high)}]"


def spread(
    long: pd.DataFrame,
    keys: Sequence[str],
    value: str = "estimate",
    low: str = "ci_low",
    high: str = "ci_high",
    n: str = "n",
    names: Callable[[str], str] = str,
) -> pd.DataFrame:
    """A long table (one row per ``keys`` and ``outcome``) as a wide one for printing: one row
    per ``keys``, one column per outcome (named ``names(outcome)``) holding ``value [low,
    high]`` as text, then ``n``: the fewest observations behind any cell of the row."""
    rows = []
    for key, group in long.groupby(list(keys), sort=False, dropna=False):
        key = key if isinstance(key, tuple) else (key,)
        row = dict(zip(keys, key, strict=True))
        for r in group.itertuples(index=False):
            row[names(r.outcome)] = interval(getattr(r, value), getattr(r, low), getattr(r, high))
        row["n"] = int(group[n].min())
        rows.append(row)
    return pd.DataFrame(rows)


def show(frame: pd.DataFrame, title: str) -> None:
    """Print a table with a title, for a log: plain text at full width (no column name or
    cell is cut, however wide), floats to 3 significant digits, "n/a" where missing."""
    print(f"\n{title}")
    if not len(frame):
        print("(no rows)")
        return
    print(frame.map(fmt).to_string(index=False))

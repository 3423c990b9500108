"""The ``agentsim`` command line: run, Monte Carlo, sweep, compare and validate scenarios.

Bad input (malformed YAML, unknown key, wrong type, out-of-range value, missing file, bad
``--set``) prints one line naming the key and the rule to stderr and exits with code 2.

A thin layer: each command imports what it needs when it runs, so ``agentsim --help`` and
``agentsim validate`` load neither the model (Mesa) nor pandas, matplotlib, scipy or Dask.
Results are written by :mod:`agentsim.store` only.
"""

from __future__ import annotations

import os
import sys
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

if TYPE_CHECKING:
    from rich.console import Console

app = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    help="Agent-based simulation of the frontier-AI race.",
)


def _print_version(value: bool) -> None:
    if value:
        from importlib.metadata import PackageNotFoundError, version

        try:
            number = version("agentsim")
        except PackageNotFoundError:  # run from a source tree without installing
            from agentsim import __version__ as number
        sys.stdout.write(f"agentsim {number}\n")
        raise typer.Exit()


@app.callback()
def _program(
    version: Annotated[
        bool,
        typer.Option(
            "--version", callback=_print_version, is_eager=True, help="Print the version."
        ),
    ] = False,
) -> None:
    """Agent-based simulation of the frontier-AI race."""


@cache
def console(stderr: bool = False) -> Console:
    """The rich console on stdout (or stderr), made on first use."""
    from rich.console import Console

    return Console(stderr=stderr, highlight=False)


SetOption = Annotated[
    list[str] | None,
    typer.Option(
        "--set",
        metavar="KEY=VALUE",
        help="Override a config key by its dotted path (repeatable), e.g. "
        "--set policy.trusted_release.trusted_fraction=0.02",
    ),
]


def say(message: str) -> None:
    """Print a plain line to stdout (no markup, no wrapping: paths stay intact)."""
    console().print(message, markup=False, soft_wrap=True, highlight=False)


def fail(message: str) -> None:
    """Print a one-line error and exit with code 2."""
    console(stderr=True).print(f"error: {message}", markup=False, soft_wrap=True)
    raise typer.Exit(code=2)


def _load(config: Path, assignments: list[str] | None, steps: int | None = None):
    """The validated config, or a one-line error and exit 2.

    ``steps`` (``--steps``) is validated with the config, as ``simulation.steps``; giving it
    together with ``--set simulation.steps`` is refused once both are otherwise valid.
    """
    from agentsim.config import ConfigError
    from agentsim.scenario_io import check_distinct, load_config, parse_assignment

    assignments = assignments or []
    overrides = {} if steps is None else {"simulation.steps": steps}
    try:
        cfg = load_config(config, overrides=overrides, assignments=assignments)
        if steps is not None:
            given = [parse_assignment(e) for e in assignments]
            check_distinct(
                "--steps",
                [("simulation.steps", steps), *given],
                [f"--steps {steps}", *assignments],
            )
    except ConfigError as exc:
        if steps is not None and exc.key == "simulation.steps" and f"(got {steps})" in exc.rule:
            fail(f"--steps: {exc.rule}")
        fail(str(exc))
    return cfg


@app.command()
def run(
    config: Annotated[Path, typer.Argument(help="Scenario YAML file.")],
    seed: Annotated[int, typer.Option(min=0, help="Root seed.")] = 0,
    steps: Annotated[
        int | None,
        typer.Option(help="Months to run (default: the config's simulation.steps)."),
    ] = None,
    set_: SetOption = None,
    out_dir: Annotated[
        Path | None,
        typer.Option("--out", help="Output folder (default: a new folder under results/)."),
    ] = None,
    overwrite: Annotated[bool, typer.Option(help="Replace an existing run folder.")] = False,
    figures: Annotated[bool, typer.Option(help="Draw the run's figures.")] = True,
) -> None:
    """Run one simulation and write its results (Parquet, JSON, CSV, YAML) and figures."""
    from agentsim.config import ConfigError
    from agentsim.run import AuditError
    from agentsim.run import run as run_model
    from agentsim.store import check_run_dir, default_run_dir, write_run

    cfg = _load(config, set_, steps)
    target = out_dir if out_dir is not None else default_run_dir(cfg.name, seed)
    try:
        check_run_dir(target, overwrite)
    except ConfigError as exc:
        fail(str(exc))
    try:
        with console(stderr=True).status(f"running {cfg.name} (seed {seed})", spinner="dots"):
            result = run_model(cfg, seed=seed, audit=True)
    except AuditError as exc:
        console(stderr=True).print(f"error: accounting check failed: {exc}", markup=False)
        raise typer.Exit(code=1) from None
    try:
        written = write_run(result, target, overwrite=overwrite)
    except ConfigError as exc:  # the folder changed while the model ran
        fail(str(exc))
    except OSError as exc:
        from agentsim.store import os_reason

        console(stderr=True).print(
            f"error: cannot write {exc.filename or target}: {os_reason(exc)}; the results were "
            "not written (nothing was replaced)",
            markup=False,
            soft_wrap=True,
        )
        raise typer.Exit(code=1) from None
    drawn = None
    if figures:
        from agentsim.figures import save_run_figures

        try:
            save_run_figures(written)
        except Exception as exc:  # the results are written; say why the figures are not
            drawn = f"{exc.__class__.__name__}: {exc}".splitlines()[0]
    _print_summary(result.summary, cfg.name)
    say(f"results written to {written}")
    if drawn is not None:
        console(stderr=True).print(
            f"error: the figures could not be drawn ({drawn})", markup=False, soft_wrap=True
        )
        raise typer.Exit(code=1)


def _print_summary(summary: dict, name: str) -> None:
    from rich.table import Table

    table = Table(title=f"{name}: run summary (seed {summary['seed']})", show_header=True)
    table.add_column("outcome")
    table.add_column("value", justify="right")
    # (label, summary key, format, scale); a missing value prints "n/a", except the month of
    # an event, where it means the event did not happen: "never"
    rows = [
        ("frontier growth (OOM/year)", "frontier_growth_ooms_per_year", "{:.2f}", 1),
        ("final US lead (OOM)", "final_us_lead_ooms", "{:.2f}", 1),
        ("first month a non-US lab leads", "overtake_month", "{}", 1),
        ("US share of users", "final_us_user_share", "{:.1%}", 1),
        ("US share of revenue", "final_us_revenue_share", "{:.1%}", 1),
        ("US share of invested capital", "final_us_capital_share", "{:.1%}", 1),
        ("US share of talent (skill-weighted)", "final_us_talent_share", "{:.1%}", 1),
        ("US frontier releases", "us_frontier_releases", "{}", 1),
        ("non-US frontier releases", "non_us_frontier_releases", "{}", 1),
        ("US R&D spend (USD bn)", "total_us_rd_spend", "{:,.0f}", 1e9),
        ("non-US R&D spend (USD bn)", "total_non_us_rd_spend", "{:,.0f}", 1e9),
    ]
    for label, key, fmt, scale in rows:
        table.add_row(label, summary_cell(key, summary.get(key), fmt, scale))
    console().print(table)


def summary_cell(key: str, value, fmt: str = "{}", scale: float = 1) -> str:
    """One summary value as printed: "never" for the month of an event that did not happen
    (a key of :data:`agentsim.survival.TIME_TO_EVENT`), "n/a" for any other missing (None or
    NaN) value, else ``fmt`` of ``value / scale``."""
    from agentsim.survival import TIME_TO_EVENT

    if value is None or (isinstance(value, float) and value != value):
        return "never" if key in TIME_TO_EVENT else "n/a"
    return fmt.format(value / scale if scale != 1 else value)


#: Most local worker processes per core (``--workers``): more only adds memory and switching.
MAX_WORKERS_PER_CORE = 4


def execute_batch(
    plan,
    out_dir: Path | None,
    resume: Path | None,
    workers: int | None,
    scheduler: str | None,
    label: str,
    resume_command: str | None = None,
    worker_timeout: float | None = None,
):
    """Run a batch plan with a progress bar and return the result (the batch commands and the
    experiment scripts run their batches through here).

    ``resume`` is the folder to resume, else the batch goes to ``out_dir`` (default: a new
    folder under ``results/``). Everything that can be checked is checked before workers
    start: the output folder (free, writable), the scheduler address. Bad input exits 2 with
    one line. A batch stopped by Ctrl-C or SIGTERM, by a full disk, or by lost workers keeps
    every finished chunk, prints ``resume_command`` (default: ``agentsim KIND --resume DIR``)
    and exits 130 or 143 (a signal) or 1. ``worker_timeout`` (seconds) bounds the wait for
    Dask workers.
    """
    from agentsim.config import ConfigError
    from agentsim.ensemble import run_with_progress
    from agentsim.executors import (
        BatchInterrupted,
        ExecutorError,
        signals_as_exceptions,
    )
    from agentsim.store import (
        default_batch_dir,
    )

    target = resume or out_dir or default_batch_dir(plan.kind, label, plan.root_seed)
    try:
        executor = _executor_for(target, resume is not None, workers, scheduler, worker_timeout)
    except ConfigError as exc:
        fail(str(exc))
    resume_hint = f"resume with: {resume_command or f'agentsim {plan.kind} --resume {target}'}"

    def kept() -> str:
        from agentsim.store import completed_run_ids

        return f"{len(completed_run_ids(target))} of {len(plan.specs)} runs are saved in {target}"

    try:
        with signals_as_exceptions():
            result = run_with_progress(
                plan,
                target,
                executor,
                resume=resume is not None,
                label=label,
                console=console(stderr=True),
            )
    except ConfigError as exc:
        fail(str(exc))
    except BatchInterrupted as exc:
        _stopped(str(exc), target, resume_hint, exc.exit_code, kept)
    except ExecutorError as exc:
        _stopped(str(exc), target, resume_hint, 1, kept)
    except OSError as exc:
        _stopped(_os_failure(exc, target), target, resume_hint, 1, kept)
    return result


def _check_workers(workers: int | None, more: str = "; use --scheduler for more") -> None:
    """Refuse more than :data:`MAX_WORKERS_PER_CORE` local workers a core (``ConfigError``;
    ``more`` ends the message)."""
    from agentsim.config import ConfigError

    cores = os.cpu_count() or 1
    if workers is not None and workers > MAX_WORKERS_PER_CORE * cores:
        raise ConfigError(
            "--workers",
            f"at most {MAX_WORKERS_PER_CORE * cores} ({MAX_WORKERS_PER_CORE} per core of this "
            f"machine's {cores}) (got {workers}){more}",
        )


def _executor_for(
    target: Path,
    resume: bool,
    workers: int | None,
    scheduler: str | None,
    worker_timeout: float | None,
):
    """The executor of a batch or calibration writing into ``target``, once everything that
    can be checked before workers start is checked: ``--workers`` and ``--scheduler`` not
    both, at most :data:`MAX_WORKERS_PER_CORE` workers a core, the folder writable, not held
    by another command and (unless ``resume``) new or empty. Raises :class:`ConfigError`."""
    from agentsim.config import ConfigError
    from agentsim.executors import make_executor
    from agentsim.store import check_unlocked, check_writable, is_empty_batch_dir

    if workers is not None and scheduler is not None and scheduler != "local":
        raise ConfigError("--workers", "give either --workers or --scheduler ADDRESS, not both")
    _check_workers(workers)
    check_writable(target)
    check_unlocked(target)
    if not resume and not is_empty_batch_dir(target):
        raise ConfigError("--out", f"{target} is not empty; choose another folder or --resume")
    timeout = {} if worker_timeout is None else {"worker_timeout": worker_timeout}
    return make_executor(workers, scheduler, **timeout)


def _os_failure(exc: OSError, target: Path) -> str:
    """An OS error of a batch in one line: where it could not write and why (disk full,
    permission denied, read-only), or what else failed."""
    import errno

    from agentsim.store import os_reason

    where = exc.filename or target
    if exc.errno in (errno.ENOSPC, errno.EDQUOT):
        return f"cannot write {where}: {os_reason(exc)} (free some space)"
    if exc.errno in (errno.EACCES, errno.EPERM, errno.EROFS):
        return f"cannot write {where}: {os_reason(exc)}"
    return f"{exc.__class__.__name__}: {os_reason(exc)} ({where})"


def _stopped(why: str, target: Path, resume_hint: str, code: int, kept) -> None:
    """Say that a batch or calibration stopped, what it kept and how to resume; exit with
    ``code``. ``kept()`` says what the folder holds; one that stopped before writing anything
    (no manifest yet) has nothing to resume."""
    from agentsim.store import is_batch_dir

    if not is_batch_dir(target):
        console(stderr=True).print(
            f"error: {why}; nothing was written", markup=False, soft_wrap=True
        )
        raise typer.Exit(code=code)
    try:
        held = kept()
    except Exception:  # the folder may be unreadable: say what we can
        held = f"what finished is kept in {target}"
    console(stderr=True).print(f"error: {why}; {held}; {resume_hint}", markup=False, soft_wrap=True)
    raise typer.Exit(code=code)


def _report_failures(result) -> None:
    failures = result.failures
    if len(failures):
        console(stderr=True).print(
            f"{len(failures)} of {len(result.runs)} runs failed:", markup=False, soft_wrap=True
        )
        for message, group in failures.groupby("error"):
            seeds = ", ".join(str(s) for s in group["seed"].head(5))
            console(stderr=True).print(
                f"  {len(group)} x {message} (seeds {seeds})", markup=False, soft_wrap=True
            )
        raise typer.Exit(code=1)


def _print_frame(frame, title: str) -> None:
    """Print a table: a rich table in a terminal; piped or logged, plain text at full width,
    so no column name or cell is cut (a log or a file has no screen width)."""
    import pandas as pd
    from rich.table import Table

    out = console()
    if not out.is_terminal:
        text = frame.map(_fmt).to_string(index=False) if len(frame) else "(no rows)"
        sys.stdout.write(f"{title}\n{text}\n\n")
        sys.stdout.flush()
        return
    table = Table(title=title)
    for column in frame.columns:
        numeric = pd.api.types.is_numeric_dtype(frame[column])
        table.add_column(str(column), justify="right" if numeric else "left")
    for _, row in frame.iterrows():
        table.add_row(*[_fmt(v) for v in row])
    out.print(table)


def _save_table(out: Path, table) -> None:
    """Save a batch's summary table (a :class:`agentsim.tables.Table`) as summary.csv, .md
    and .tex in ``out``; one line and exit 2 when it cannot be written (the batch itself is
    already stored)."""
    from agentsim.store import os_reason
    from agentsim.tables import save_table

    try:
        save_table(out, "summary", table.frame, table.caption)
    except OSError as exc:
        fail(f"{out}: cannot write the summary table ({os_reason(exc)}); the runs are stored")


def _fmt(value) -> str:
    """A table cell: "n/a" for a missing (None or NaN) value, floats to 4 significant digits."""
    if value is None or (isinstance(value, float) and value != value):
        return "n/a"
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)


def _grid(expressions: list[str], assignments: list[str] | None = None) -> dict:
    """The ``--grid`` expressions as key -> values; a key given twice, or also given to
    ``--set``, is refused (one line, exit 2)."""
    from agentsim.config import ConfigError
    from agentsim.scenario_io import check_distinct, parse_assignment, parse_grid

    try:
        grid = parse_grid(expressions)
        given = [parse_assignment(e) for e in assignments or []]
        check_distinct(
            "--grid",
            [*given, *((key, None) for key in grid)],
            [*(assignments or []), *expressions],
        )
    except ConfigError as exc:
        fail(str(exc))
    return grid


WorkersOption = Annotated[
    int | None,
    typer.Option(min=1, help="Local worker processes (default: all cores; 1 runs in-process)."),
]
SeedOption = Annotated[int | None, typer.Option(min=0, help="Root seed (default 0).")]
WorkerTimeoutOption = Annotated[
    float | None,
    typer.Option(
        min=1,
        help="Seconds to wait for Dask workers to join (or come back) before giving up "
        "(default 600); finished runs are kept.",
    ),
]
SchedulerOption = Annotated[
    str | None,
    typer.Option(
        help="Dask scheduler address (tcp://HOST:PORT), or 'local' to start a LocalCluster."
    ),
]
OutOption = Annotated[
    Path | None, typer.Option("--out", help="Output folder (default: a new folder under results/).")
]
ResumeOption = Annotated[
    Path | None, typer.Option(help="Resume the batch in this folder: run only the runs it lacks.")
]


def _resumed(kind: str, resume: Path, given: dict[str, object]):
    """The manifest of the batch to resume, refusing options that would change it.

    A resumed batch is made again from its folder alone: ``given`` maps each option that
    shapes a batch (``--set``, ``--out``, ``--runs``, ``--seed``, ``--grid``, a config file)
    to the value given, None when not given. Any given one is refused (one line, exit 2),
    except ``--runs`` and ``--seed`` equal to the stored ones; so is a folder made by another
    command.
    """
    from agentsim.config import ConfigError
    from agentsim.store import read_manifest

    try:
        manifest = read_manifest(resume)
    except ConfigError as exc:
        fail(str(exc))
    made_by = manifest.get("kind")
    if made_by != kind:
        fail(
            f"--resume: {resume} is a {made_by} folder; resume it with: "
            f"agentsim {made_by} --resume {resume}"
        )
    stored = {"--runs": manifest.get("runs_per_point"), "--seed": manifest.get("root_seed")}
    for option, value in given.items():
        if option in stored and value is not None and value != stored[option]:
            fail(f"--resume: {resume} was made with {option} {stored[option]}, not {value}")
        if option not in stored and value not in (None, [], ()):
            fail(
                f"{option}: cannot be combined with --resume (a batch resumes as it was made; "
                f"its settings are in {resume}/manifest.json)"
            )
    return manifest


def _resume_options(
    set_: list[str] | None, out_dir: Path | None, runs: int | None, seed: int | None
) -> dict[str, object]:
    return {"--set": set_, "--out": out_dir, "--runs": runs, "--seed": seed}


def _plan(make, *args):
    """``make(*args)`` (a batch planner), or one line and exit 2 on bad input."""
    from agentsim.config import ConfigError

    try:
        return make(*args)
    except ConfigError as exc:
        fail(str(exc))


@app.command()
def mc(
    config: Annotated[Path | None, typer.Argument(help="Scenario YAML file.")] = None,
    runs: Annotated[int | None, typer.Option(help="Runs (default 100).")] = None,
    seed: SeedOption = None,
    workers: WorkersOption = None,
    scheduler: SchedulerOption = None,
    worker_timeout: WorkerTimeoutOption = None,
    set_: SetOption = None,
    out_dir: OutOption = None,
    resume: ResumeOption = None,
) -> None:
    """Monte Carlo: RUNS runs of one scenario on seeds spawned from the root seed."""
    from agentsim.ensemble import plan_monte_carlo
    from agentsim.scenario_io import config_to_dict
    from agentsim.tables import outcome_tables

    if resume is not None:
        given = {"CONFIG": config, **_resume_options(set_, out_dir, runs, seed)}
        manifest = _resumed("mc", resume, given)
        cfg = next(iter(manifest["configs"].values()))
        runs, seed = manifest["runs_per_point"], manifest["root_seed"]
    elif config is None:
        fail("CONFIG: give a scenario file, or --resume DIR")
    else:
        cfg = config_to_dict(_load(config, set_))
    runs = 100 if runs is None else runs
    seed = 0 if seed is None else seed
    plan = _plan(plan_monte_carlo, cfg, runs, seed)
    result = execute_batch(
        plan,
        out_dir,
        resume,
        workers,
        scheduler,
        cfg.get("name", "scenario"),
        worker_timeout=worker_timeout,
    )
    summary = outcome_tables(result.runs, cfg.get("name", "scenario"), runs, seed)["summary"]
    _save_table(result.out, summary)
    _print_frame(summary.frame.drop(columns="unit"), summary.title)
    say(f"results written to {result.out} (this table as summary.csv, .md and .tex)")
    _report_failures(result)


@app.command()
def sweep(
    config: Annotated[Path | None, typer.Argument(help="Scenario YAML file.")] = None,
    grid: Annotated[
        list[str] | None,
        typer.Option(
            metavar="KEY=V1,V2,...",
            help="A swept key and its values (repeatable; the grid is their product).",
        ),
    ] = None,
    runs: Annotated[int | None, typer.Option(help="Runs per grid point (default 20).")] = None,
    seed: SeedOption = None,
    workers: WorkersOption = None,
    scheduler: SchedulerOption = None,
    worker_timeout: WorkerTimeoutOption = None,
    set_: SetOption = None,
    out_dir: OutOption = None,
    resume: ResumeOption = None,
) -> None:
    """Parameter sweep: the cartesian grid times RUNS replicates, on common seeds."""
    from agentsim.analysis import OVERTAKE
    from agentsim.ensemble import plan_sweep
    from agentsim.scenario_io import config_to_dict
    from agentsim.tables import outcome_tables

    if resume is not None:
        given = {"CONFIG": config, "--grid": grid, **_resume_options(set_, out_dir, runs, seed)}
        manifest = _resumed("sweep", resume, given)
        cfg = next(iter(manifest["configs"].values()))
        axes = manifest["grid"]
        runs, seed = manifest["runs_per_point"], manifest["root_seed"]
    elif config is None:
        fail("CONFIG: give a scenario file, or --resume DIR")
    elif not grid:
        fail("--grid: give at least one KEY=V1,V2,... expression")
    else:
        cfg = config_to_dict(_load(config, set_))
        axes = _grid(grid, set_)
    runs = 20 if runs is None else runs
    seed = 0 if seed is None else seed
    plan = _plan(plan_sweep, cfg, axes, runs, seed)
    result = execute_batch(
        plan,
        out_dir,
        resume,
        workers,
        scheduler,
        cfg.get("name", "scenario"),
        worker_timeout=worker_timeout,
    )
    name = cfg.get("name", "scenario")
    summary = outcome_tables(result.runs, name, runs, seed, plan.grid)["summary"]
    _save_table(result.out, summary)
    table = summary.frame.drop(columns="unit")
    shown = ["final_us_user_share", "final_us_lead_ooms", OVERTAKE]
    _print_frame(table[table["outcome"].isin(shown)], summary.title)
    say(f"results written to {result.out} (every outcome in summary.csv, .md and .tex)")
    _report_failures(result)


@app.command()
def compare(
    config_a: Annotated[Path | None, typer.Argument(help="First scenario (A).")] = None,
    config_b: Annotated[Path | None, typer.Argument(help="Second scenario (B).")] = None,
    runs: Annotated[int | None, typer.Option(help="Runs (paired seeds; default 50).")] = None,
    seed: SeedOption = None,
    workers: WorkersOption = None,
    scheduler: SchedulerOption = None,
    worker_timeout: WorkerTimeoutOption = None,
    set_: SetOption = None,
    out_dir: OutOption = None,
    resume: ResumeOption = None,
) -> None:
    """Paired comparison of two scenarios on common seeds: B - A with 95% CIs and effect sizes."""
    from agentsim.ensemble import plan_comparison
    from agentsim.scenario_io import config_to_dict
    from agentsim.store import write_csv
    from agentsim.tables import comparison_tables

    if resume is not None:
        given = {
            "CONFIG_A": config_a,
            "CONFIG_B": config_b,
            **_resume_options(set_, out_dir, runs, seed),
        }
        manifest = _resumed("compare", resume, given)
        configs = manifest["configs"]
        runs, seed = manifest["runs_per_point"], manifest["root_seed"]
    elif config_a is None or config_b is None:
        fail("CONFIG_A CONFIG_B: give two scenario files, or --resume DIR")
    else:
        a = config_to_dict(_load(config_a, set_))
        b = config_to_dict(_load(config_b, set_))
        name_a, name_b = a.get("name", "A"), b.get("name", "B")
        if name_a == name_b:
            b = {**b, "name": f"{name_b}_B"}
        configs = {name_a: a, b["name"]: b}
    runs = 50 if runs is None else runs
    seed = 0 if seed is None else seed
    name_a, name_b = list(configs)
    plan = _plan(plan_comparison, configs, runs, seed)
    result = execute_batch(
        plan,
        out_dir,
        resume,
        workers,
        scheduler,
        f"{name_a}_vs_{name_b}",
        worker_timeout=worker_timeout,
    )
    tables = comparison_tables(result.runs, name_a, name_b, runs, seed)
    write_csv(result.out / "comparison.csv", tables["comparison"].frame)
    write_csv(result.out / "survival.csv", tables["survival"].frame)
    _save_table(result.out, tables["summary"])
    summary = tables["summary"]
    _print_frame(summary.frame.drop(columns=["unit", "note"]), summary.title)
    _print_frame(tables["relative"].frame, tables["relative"].title)
    survival = tables["survival"].frame
    if len(survival):
        reached = survival.groupby("outcome")["events"].transform("sum") > 0
        _print_frame(
            survival[reached].drop(columns=["horizon"]),
            f"{tables['survival'].title}; {tables['survival'].caption.lower()}",
        )
    say(
        f"results written to {result.out} (this table as summary.csv, .md and .tex; "
        "every outcome in comparison.csv; survival.csv)"
    )
    _report_failures(result)


@app.command()
def rerun(
    results: Annotated[
        Path,
        typer.Argument(help="A finished batch folder (mc, sweep, compare, explore, sensitivity)."),
    ],
    out_dir: Annotated[
        Path | None, typer.Option("--out", help="A new or empty folder for the replayed batch.")
    ] = None,
    workers: WorkersOption = None,
    scheduler: SchedulerOption = None,
    worker_timeout: WorkerTimeoutOption = None,
) -> None:
    """Replay a batch from its manifest and compare it run by run: exit 0 when identical, 3
    when it differs (rerun_report.csv in --out says where)."""
    from agentsim.config import ConfigError
    from agentsim.rerun import (
        DIFFERS_EXIT_CODE,
        REPORT,
        compare_batches,
        environment_note,
        prepare,
        verdict,
        write_report,
    )

    try:
        stored, plan = prepare(results, out_dir)
    except ConfigError as exc:
        fail(str(exc))
    label = f"rerun {results.name}"
    result = execute_batch(
        plan, out_dir, None, workers, scheduler, label, worker_timeout=worker_timeout
    )
    try:
        report = compare_batches(stored, result.out)  # both read back by read_batch
        write_report(result, report, results)
    except OSError as exc:
        console(stderr=True).print(
            f"error: {_os_failure(exc, result.out)}; the replayed runs are kept in {result.out}",
            markup=False,
            soft_wrap=True,
        )
        raise typer.Exit(code=1) from None
    note = environment_note(stored.manifest, results)
    if note is not None:
        console(stderr=True).print(f"warning: {note}", markup=False, soft_wrap=True)
    say(verdict(report))
    say(f"results written to {result.out} (run by run in {REPORT})")
    if not report["identical"].all():
        raise typer.Exit(code=DIFFERS_EXIT_CODE)


UncertaintyOption = Annotated[
    str | None,
    typer.Option(
        "--uncertainty",
        metavar="SPEC",
        help="Uncertainty spec: a YAML file or a shipped spec's name (default: 'default').",
    ),
]
SeedsOption = Annotated[
    int | None, typer.Option(help="Seeds per parameter sample (paired across scenarios).")
]


def _spec(uncertainty: str | None):
    """The uncertainty spec named by ``--uncertainty``, or one line and exit 2."""
    from agentsim.config import ConfigError
    from agentsim.uncertainty import load_uncertainty, uncertainty_path

    try:
        return load_uncertainty(uncertainty_path(uncertainty or "default"))
    except ConfigError as exc:
        fail(str(exc))


def _uncertain_configs(scenarios: list[Path], set_: list[str] | None) -> dict[str, dict]:
    """Validated scenarios by name (a repeated name gets a suffix)."""
    from agentsim.scenario_io import config_to_dict

    configs: dict[str, dict] = {}
    for path in scenarios:
        config = config_to_dict(_load(path, set_))
        name, n = config.get("name", "scenario"), 2
        while name in configs:
            name, n = f"{config.get('name', 'scenario')}_{n}", n + 1
        configs[name] = {**config, "name": name}
    return configs


@app.command()
def explore(
    scenarios: Annotated[
        list[Path] | None, typer.Argument(help="Scenario YAML files (each runs every sample).")
    ] = None,
    uncertainty: UncertaintyOption = None,
    samples: Annotated[int | None, typer.Option(help="Parameter samples (default 64).")] = None,
    seeds: SeedsOption = None,
    design: Annotated[
        str | None, typer.Option(help="Sampling design: lhs (default), sobol or random.")
    ] = None,
    seed: SeedOption = None,
    workers: WorkersOption = None,
    scheduler: SchedulerOption = None,
    worker_timeout: WorkerTimeoutOption = None,
    set_: SetOption = None,
    out_dir: OutOption = None,
    resume: ResumeOption = None,
) -> None:
    """Explore under uncertainty: N parameter samples x every scenario x K paired seeds."""
    from agentsim.explore import finish_explore, plan_explore
    from agentsim.uncertainty import UncertaintySpec

    if resume is not None:
        given = {
            "SCENARIO": scenarios,
            "--uncertainty": uncertainty,
            "--samples": samples,
            "--seeds": seeds,
            "--design": design,
            **_resume_options(set_, out_dir, None, seed),
        }
        manifest = _resumed("explore", resume, given)
        configs, stored = manifest["configs"], manifest["design"]
        spec = _plan(UncertaintySpec.from_dict, stored["uncertainty"])
        samples, seeds, design = stored["samples"], stored["seeds"], stored["design"]
        seed = manifest["root_seed"]
    elif not scenarios:
        fail("SCENARIO: give at least one scenario file, or --resume DIR")
    else:
        configs = _uncertain_configs(scenarios, set_)
        spec = _spec(uncertainty)
    samples = 64 if samples is None else samples
    seeds = 4 if seeds is None else seeds
    design = design or "lhs"
    seed = 0 if seed is None else seed
    plan = _plan(plan_explore, configs, spec, samples, seeds, design, seed)
    label = "_".join(configs)
    result = execute_batch(
        plan, out_dir, resume, workers, scheduler, label, worker_timeout=worker_timeout
    )
    table = finish_explore(result)
    say(
        f"{samples} samples x {len(configs)} scenarios x {seeds} seeds: {len(table)} runs, "
        f"{int(table['error'].notna().sum())} failed"
    )
    say(f"results written to {result.out} (experiments.parquet)")
    _report_failures(result)


@app.command()
def sensitivity(
    scenario: Annotated[Path | None, typer.Argument(help="Scenario YAML file.")] = None,
    uncertainty: UncertaintyOption = None,
    method: Annotated[str | None, typer.Option(help="morris (default) or sobol.")] = None,
    outcome: Annotated[
        str | None,
        typer.Option(help="Summary outcome(s), comma-separated (default: final_us_lead_ooms)."),
    ] = None,
    against: Annotated[
        Path | None,
        typer.Option(help="Baseline scenario: analyse the paired effect SCENARIO - BASELINE."),
    ] = None,
    samples: Annotated[
        int | None,
        typer.Option(help="Morris trajectories (default 10) or Sobol base sample (power of 2)."),
    ] = None,
    seeds: SeedsOption = None,
    seed: SeedOption = None,
    workers: WorkersOption = None,
    scheduler: SchedulerOption = None,
    worker_timeout: WorkerTimeoutOption = None,
    set_: SetOption = None,
    out_dir: OutOption = None,
    resume: ResumeOption = None,
) -> None:
    """Global sensitivity: Morris screening or Sobol indices of outcomes or of a policy effect."""
    from agentsim.explore import finish_sensitivity, plan_sensitivity, ranking
    from agentsim.uncertainty import UncertaintySpec

    if resume is not None:
        given = {
            "SCENARIO": scenario,
            "--uncertainty": uncertainty,
            "--method": method,
            "--outcome": outcome,
            "--against": against,
            "--samples": samples,
            "--seeds": seeds,
            **_resume_options(set_, out_dir, None, seed),
        }
        manifest = _resumed("sensitivity", resume, given)
        stored = manifest["design"]
        configs = manifest["configs"]
        config = configs[stored["scenario"]]
        base = (stored["against"], configs[stored["against"]]) if stored["against"] else None
        spec = _plan(UncertaintySpec.from_dict, stored["uncertainty"])
        method, outcomes = stored["method"], stored["outcomes"]
        samples, seeds, seed = stored["samples"], stored["seeds"], manifest["root_seed"]
    elif scenario is None:
        fail("SCENARIO: give a scenario file, or --resume DIR")
    else:
        from agentsim.scenario_io import config_to_dict

        config = config_to_dict(_load(scenario, set_))
        base = None
        if against is not None:
            baseline = config_to_dict(_load(against, set_))
            base = (baseline.get("name", "baseline"), baseline)
        spec = _spec(uncertainty)
        method = method or "morris"
        outcomes = (outcome or "final_us_lead_ooms").split(",")
    samples = (10 if method == "morris" else 64) if samples is None else samples
    seeds = 4 if seeds is None else seeds
    seed = 0 if seed is None else seed
    plan = _plan(plan_sensitivity, config, spec, method, samples, seeds, seed, base, outcomes)
    label = plan.design["scenario"] + (f"_vs_{plan.design['against']}" if base else "")
    result = execute_batch(
        plan, out_dir, resume, workers, scheduler, label, worker_timeout=worker_timeout
    )
    _report_failures(result)
    from agentsim.config import ConfigError

    try:
        indices, noise = finish_sensitivity(result)
    except ConfigError as exc:
        fail(str(exc))
    _sensitivity_figures(result.out)
    for row in noise.itertuples():
        if row.seed_noise_share != row.seed_noise_share:  # NaN: nothing varies
            say(f"{row.outcome}: the same at every design point; nothing to rank")
            continue
        shown = ranking(indices, row.outcome)
        effect = f" (effect vs {plan.design['against']})" if base else ""
        _print_frame(
            shown,
            f"{row.outcome}{effect}: {method}, seed noise {row.seed_noise_share:.1%} of the "
            "variance; flagged indices are below the noise floor and not ranked",
        )
    say(f"results written to {result.out} (indices.csv, noise.csv, figures/)")


def _sensitivity_figures(out: Path) -> None:
    """Draw the sensitivity figures; a drawing failure is reported, the indices stay."""
    from agentsim.figures import save_sensitivity_figures

    try:
        save_sensitivity_figures(out)
    except Exception as exc:  # the indices are written; say why the figures are not
        reason = f"{exc.__class__.__name__}: {exc}".splitlines()[0]
        console(stderr=True).print(
            f"error: the figures could not be drawn ({reason})", markup=False, soft_wrap=True
        )
        raise typer.Exit(code=1) from None


@app.command()
def discover(
    results: Annotated[Path, typer.Argument(help="An explore folder.")],
    outcome: Annotated[str, typer.Option(help="The summary outcome to explain.")],
    where: Annotated[str, typer.Option(help="The condition of interest, e.g. '> 0.5' or 'true'.")],
    scenario: Annotated[
        str | None, typer.Option(help="Which scenario's runs (needed when there are several).")
    ] = None,
    peel_alpha: Annotated[
        float, typer.Option(help="Share of cases PRIM peels off per step.")
    ] = 0.05,
    out_dir: Annotated[
        Path | None, typer.Option("--out", help="Where to write (default: RESULTS/discovery).")
    ] = None,
) -> None:
    """Scenario discovery (PRIM): which parameter ranges make the condition likely."""
    from agentsim.config import ConfigError
    from agentsim.discovery import discover as find_boxes
    from agentsim.discovery import read_explore, save_discovery

    target = out_dir or results / "discovery"
    try:
        experiments, parameters = read_explore(results)
        found = find_boxes(
            experiments, parameters, outcome, where, scenario=scenario, peel_alpha=peel_alpha
        )
        paths = save_discovery(found, target, source=results)
    except ConfigError as exc:
        fail(str(exc))
    for line in found.describe():
        say(line)
    say(f"results written to {target}")
    for path in paths:
        if path.suffix in (".csv", ".png"):
            say(str(path))


@app.command()
def plot(
    results: Annotated[
        Path,
        typer.Argument(
            help="A run or batch folder (run, mc, sweep, compare, explore or sensitivity output)."
        ),
    ],
    out_dir: Annotated[
        Path | None,
        typer.Option("--out", help="Where to write the figures (default: RESULTS/figures)."),
    ] = None,
) -> None:
    """Draw figures (PNG and PDF) from stored results, whichever command made them."""
    from agentsim.config import ConfigError
    from agentsim.figures import (
        save_batch_figures,
        save_explore_figures,
        save_run_figures,
        save_sensitivity_figures,
    )
    from agentsim.store import is_batch_dir, is_run_dir, read_manifest

    if not results.is_dir():
        fail(f"{results}: folder not found")
    batch = is_batch_dir(results)
    if not batch and not is_run_dir(results):
        fail(f"{results}: holds neither a run (summary.json) nor a batch (manifest.json)")
    try:
        if batch:
            paths = save_batch_figures(results, out_dir)
            kind = read_manifest(results).get("kind")
            if kind == "sensitivity":
                paths += save_sensitivity_figures(results, out_dir)
            elif kind == "explore":
                paths += save_explore_figures(results, out_dir)
        else:
            paths = save_run_figures(results, out_dir)
    except ConfigError as exc:
        fail(str(exc))
    except Exception as exc:  # find out which step failed, and say so in one line
        fail(_plot_failure(results, batch, exc))
    for path in paths:
        if path.suffix == ".png":
            say(str(path))


def _plot_failure(results: Path, batch: bool, exc: Exception) -> str:
    """Why drawing the figures of ``results`` failed, in one line: results that cannot be
    read, a stored config that validation now refuses (such as dates the figures cannot
    show), or the drawing itself."""
    from agentsim.config import ConfigError
    from agentsim.scenario_io import load_config, validate_config
    from agentsim.store import read_batch, read_run

    def first_line(err: BaseException) -> str:
        return f"{err.__class__.__name__}: {err}".splitlines()[0]

    try:
        stored = read_batch(results) if batch else read_run(results)
    except Exception as err:
        return f"{results}: cannot read stored results ({first_line(err)})"
    try:
        if batch:
            for config in stored.manifest.get("configs", {}).values():
                validate_config(config)
        else:
            load_config(results / "config.yaml")
    except ConfigError as err:
        return (
            f"{results}: the stored config is not valid ({err}); drawing its figures failed "
            f"({first_line(exc)})"
        )
    return (
        f"{results}: the results were read, but the figures could not be drawn ({first_line(exc)})"
    )


@app.command()
def report(
    results: Annotated[
        Path,
        typer.Argument(
            help="A result folder (run, mc, sweep, compare, explore, sensitivity or calibrate)."
        ),
    ],
    out: Annotated[
        Path | None,
        typer.Option("--out", help="The HTML file to write (default: RESULTS/report.html)."),
    ] = None,
) -> None:
    """One self-contained HTML report of stored results: manifest, tables, figures, caveats.

    The figures are embedded and the page loads nothing from any address, so it opens offline.
    """
    from agentsim.config import ConfigError
    from agentsim.report import write_report
    from agentsim.store import os_reason

    try:
        path = write_report(results, out)
    except ConfigError as exc:
        fail(str(exc))
    except OSError as exc:
        fail(f"{out or results}: cannot write the report ({os_reason(exc)})")
    except Exception as exc:  # a damaged stored file: say which folder, in one line
        reason = f"{exc.__class__.__name__}: {exc}".splitlines()[0]
        fail(f"{results}: cannot read the stored results ({reason})")
    say(f"report written to {path}")


@app.command()
def viz(
    config: Annotated[
        Path | None, typer.Argument(help="Scenario A, a YAML file (default: the baseline).")
    ] = None,
    config_b: Annotated[
        Path | None, typer.Argument(help="Scenario B, a YAML file (default: a copy of A).")
    ] = None,
    seed: SeedOption = None,
    workers: WorkersOption = None,
    port: Annotated[int, typer.Option(min=1, max=65535, help="Port on 127.0.0.1.")] = 8765,
    results: Annotated[
        Path | None,
        typer.Option(
            "--results",
            help="Explore a stored result folder (run, mc, sweep, compare, explore, "
            "sensitivity or calibrate) instead of the A/B app.",
        ),
    ] = None,
) -> None:
    """Serve the interactive A/B app on http://127.0.0.1:PORT: scenarios A and B on common
    random numbers (one seed, stepped together), their difference, and a paired ensemble.
    With --results DIR, serve the results explorer of a stored folder instead."""
    import os

    from agentsim.config import ConfigError
    from agentsim.ensemble import check_same_clock
    from agentsim.scenario_io import DEFAULT_SCENARIO, scenario_path

    if results is not None:
        if config is not None or config_b is not None or seed is not None or workers is not None:
            fail("--results: explore a result folder, or give scenarios (and --seed, --workers)")
        try:
            from agentsim.explorer import RESULTS_ENV, check_results_dir
        except ImportError:
            fail("viz: the explorer needs the viz extra: pip install 'agentsim[viz]'")
        try:
            kind = check_results_dir(results)  # a bad folder stops here, with one line
        except ConfigError as exc:
            fail(str(exc))
        env = {k: v for k, v in os.environ.items() if not k.startswith("AGENTSIM_VIZ_")}
        env[RESULTS_ENV] = str(results.resolve())
        say(f"serving the {kind} results in {results} on http://127.0.0.1:{port} (Ctrl-C to stop)")
        raise typer.Exit(_serve(_solara_command("agentsim.explorer", port), env))

    try:
        _check_workers(workers, more="")  # the paired seeds' pool, before the server starts
    except ConfigError as exc:
        fail(str(exc))
    paths, configs = [], {}
    for given in (config, config_b):
        if given is None and paths:
            break
        try:
            path = (scenario_path(given) if given is not None else DEFAULT_SCENARIO).resolve()
        except ConfigError as exc:
            fail(str(exc))
        cfg = _load(path, None)  # bad input stops here, with one line
        _check_model_starts(cfg, path)
        paths.append(path)
        configs.setdefault(str(path), cfg)
    try:
        check_same_clock(configs, "CONFIG_B")
    except ConfigError as exc:
        fail(str(exc))
    try:
        import solara  # noqa: F401
    except ImportError:
        fail("viz: the app needs the viz extra: pip install 'agentsim[viz]'")
    env = {k: v for k, v in os.environ.items() if not k.startswith("AGENTSIM_VIZ_")}
    env.update(AGENTSIM_VIZ_CONFIG=str(paths[0]), AGENTSIM_VIZ_SEED=str(seed or 0))
    if len(paths) > 1:
        env["AGENTSIM_VIZ_CONFIG_B"] = str(paths[1])
    if workers is not None:
        env["AGENTSIM_VIZ_WORKERS"] = str(workers)
    shown = f"A {paths[0].name}, B {paths[-1].name}" + ("" if len(paths) > 1 else " (a copy)")
    say(f"serving {shown}, seed {seed or 0}, on http://127.0.0.1:{port} (Ctrl-C to stop)")
    raise typer.Exit(_serve(_solara_command("agentsim.app", port), env))


def _solara_command(page: str, port: int) -> list[str]:
    """The command that serves a Solara page module (``agentsim.app``, the A/B view, or
    ``agentsim.explorer``, the results explorer) on 127.0.0.1:``port``."""
    return [
        *(sys.executable, "-m", "solara", "run", page, "--host", "127.0.0.1"),
        *("--port", str(port), "--no-open", "--production"),
    ]


def _check_model_starts(cfg, path: Path) -> None:
    """Build the scenario's model and step it once before any server starts, so a scenario
    that validates but that the model cannot run fails here, in one line (exit 2)."""
    from agentsim.model import AIRaceModel

    try:
        AIRaceModel(cfg, rng=0).step()
    except Exception as exc:
        reason = f"{exc.__class__.__name__}: {exc}".splitlines()[0][:300]
        fail(f"{path}: the model cannot start from this scenario ({reason})")


#: How long the app server keeps the session of a page whose browser went away without
#: closing it (Solara's kernel cull timeout): a page that comes back sooner finds its session.
PAGE_GONE_AFTER = "20s"


def _serve(command: list[str], env: dict[str, str]) -> int:
    """Run the app server as a child that ends with this process; return the exit code.

    Ctrl-C (exit 0) and SIGTERM (exit 143) stop the server before this process exits, and on
    Linux the kernel ends the server if this process is killed outright.
    """
    import functools
    import os
    import signal
    import subprocess

    from agentsim.executors import exit_with_parent, stop_process

    def terminate(signum: int, frame: object) -> None:
        raise SystemExit(128 + signum)

    previous = signal.signal(signal.SIGTERM, terminate)
    # Solara's own settings; a value set in the environment wins:
    # - write each message to the page's socket from the thread that drew it, rather than
    #   handing every message to the event loop (it falls back to the event loop where the
    #   socket does not allow it): a step of the A/B view sends about ten messages;
    # - let a page's session go PAGE_GONE_AFTER after its browser went away without closing
    #   it (killed, or its machine asleep): its paired seeds stop then (the default is a day).
    env = {
        "SOLARA_SERVER_SYNC_WS_WRITE": "true",
        "SOLARA_KERNEL_CULL_TIMEOUT": PAGE_GONE_AFTER,
        **env,
    }
    server = subprocess.Popen(
        command, env=env, preexec_fn=functools.partial(exit_with_parent, os.getpid())
    )
    try:
        return server.wait()
    except KeyboardInterrupt:
        return 0
    except SystemExit as stop:
        return int(stop.code or 0)
    finally:
        stop_process(server, timeout=10)
        signal.signal(signal.SIGTERM, previous)


BudgetOption = Annotated[
    str | None,
    typer.Option(
        help="small (the tests' and docs' size: minutes on two cores), medium or large: "
        "particles per generation and generations of ABC-SMC."
    ),
]


@app.command()
def calibrate(
    scenario: Annotated[
        Path | None, typer.Argument(help="Scenario YAML file to calibrate.")
    ] = None,
    targets: Annotated[
        Path | None, typer.Option(help="Targets YAML: outcomes, values and tolerances.")
    ] = None,
    params: Annotated[
        Path | None,
        typer.Option(help="Parameters to fit and their priors (an uncertainty spec's format)."),
    ] = None,
    budget: BudgetOption = None,
    seed: SeedOption = None,
    workers: WorkersOption = None,
    scheduler: SchedulerOption = None,
    worker_timeout: WorkerTimeoutOption = None,
    out_dir: OutOption = None,
    resume: Annotated[
        Path | None,
        typer.Option(help="Resume the calibration in this folder from its last generation."),
    ] = None,
) -> None:
    """Calibrate: fit the parameters in --params so the outcomes match --targets (ABC-SMC)."""
    from agentsim.calibration import build_problem, problem_from_data, run_calibration
    from agentsim.config import ConfigError
    from agentsim.executors import BatchInterrupted, ExecutorError, signals_as_exceptions
    from agentsim.store import batch_lock, read_manifest

    try:
        if resume is not None:
            given = {"SCENARIO": scenario, "--targets": targets, "--params": params}
            given |= {"--out": out_dir}
            manifest = read_manifest(resume)
            if manifest.get("kind") != "calibrate":
                raise ConfigError(
                    "--resume",
                    f"{resume} is a {manifest.get('kind')} folder; resume it with: "
                    f"agentsim {manifest.get('kind')} --resume {resume}",
                )
            stored = {"--budget": manifest.get("budget"), "--seed": manifest.get("root_seed")}
            for option, value in {"--budget": budget, "--seed": seed}.items():
                if value is not None and value != stored[option]:
                    raise ConfigError(
                        "--resume", f"{resume} was made with {option} {stored[option]}, not {value}"
                    )
            for option, value in given.items():
                if value is not None:
                    raise ConfigError(
                        option,
                        f"cannot be combined with --resume (a calibration resumes as it was "
                        f"made; its settings are in {resume}/manifest.json)",
                    )
            problem, scenario_ref, budget_name = problem_from_data(manifest)
            target = resume
        else:
            for option, value in (
                ("SCENARIO", scenario),
                ("--targets", targets),
                ("--params", params),
            ):
                if value is None:
                    raise ConfigError(option, "is required (or give --resume DIR)")
            budget_name = "small" if budget is None else budget
            problem, target, scenario_ref = build_problem(
                scenario, targets, params, out_dir, budget_name, 0 if seed is None else seed
            )
        executor = _executor_for(target, resume is not None, workers, scheduler, worker_timeout)
    except ConfigError as exc:
        fail(str(exc))
    resume_hint = f"resume with: agentsim calibrate --resume {target}"

    def kept() -> str:
        from agentsim.calibration import evaluations_frame

        done = evaluations_frame(target)
        count = done["generation"].nunique() if len(done) else 0
        return f"finished generations kept: {count} in {target}"

    err = console(stderr=True)
    try:
        with signals_as_exceptions(), executor, _calibration_progress(err) as progress:
            target.mkdir(parents=True, exist_ok=True)
            with batch_lock(target):
                result = run_calibration(
                    problem,
                    target,
                    executor,
                    scenario_ref=scenario_ref,
                    budget_name=budget_name,
                    resume=resume is not None,
                    command=" ".join(["agentsim", *sys.argv[1:]]),
                    on_progress=progress.generation,
                    on_stage=progress.stage,
                )
    except ConfigError as exc:
        fail(str(exc))
    except BatchInterrupted as exc:
        _stopped(str(exc), target, resume_hint, exc.exit_code, kept)
    except ExecutorError as exc:
        _stopped(str(exc), target, resume_hint, 1, kept)
    except OSError as exc:
        _stopped(_os_failure(exc, target), target, resume_hint, 1, kept)
    fit = result.fit
    shown = fit[["target", "value", "predictive_median", "predictive_low", "predictive_high"]]
    shown = shown.assign(within=fit["within_tolerance"], reached=fit["reached"])
    _print_frame(
        shown.rename(
            columns={
                "predictive_median": "median",
                "predictive_low": "5%",
                "predictive_high": "95%",
            }
        ),
        f"Fit: {int(fit['within_tolerance'].sum())} of {len(fit)} targets within tolerance "
        "(posterior-predictive median and 90% interval; details in fit_report.md)",
    )
    posterior = result.parameters[
        ["parameter", "posterior_median", "posterior_low", "posterior_high", "note"]
    ]
    _print_frame(
        posterior.rename(
            columns={"posterior_median": "median", "posterior_low": "5%", "posterior_high": "95%"}
        ),
        "Posterior (median and 90% interval)",
    )
    for row in fit[~fit["reached"]].itertuples(index=False):
        say(
            f"target {row.target} is outside the model's reach inside this prior "
            f"(closest simulated: {row.closest:.4g}, target {row.value:.4g})"
        )
    say(
        f"{result.evaluations} evaluations in {result.generations} generations; results written "
        f"to {result.out} (fit_report.md, posterior.parquet, calibrated.yaml)"
    )


class _calibration_progress:  # noqa: N801 - used as a context manager, like a function
    """A progress bar per ABC-SMC generation (accepted particles of the population) and a line
    per stage, on ``console``; in a log (not a terminal) a line per finished generation."""

    def __init__(self, console_) -> None:
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            Progress,
            TextColumn,
            TimeElapsedColumn,
        )

        self.console = console_
        self.bar = Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("accepted, {task.fields[evaluations]} simulations"),
            TimeElapsedColumn(),
            console=console_,
            transient=True,
            disable=not console_.is_terminal,
        )
        self.task = None
        self.current = -1

    def __enter__(self) -> _calibration_progress:
        self.bar.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        self.bar.__exit__(*exc)

    def generation(self, generation: int, accepted: int, wanted: int, evaluations: int) -> None:
        if not self.console.is_terminal:  # a log: a line per finished generation
            if accepted >= wanted:
                self.console.print(
                    f"generation {generation}: {accepted} particles accepted of "
                    f"{evaluations} simulations",
                    markup=False,
                    highlight=False,
                )
            return
        if generation != self.current:
            if self.task is not None:
                self.bar.remove_task(self.task)
            self.current = generation
            self.task = self.bar.add_task(f"generation {generation}", total=wanted, evaluations=0)
        self.bar.update(self.task, completed=accepted, evaluations=evaluations)

    def stage(self, text: str) -> None:
        self.console.print(text, markup=False, highlight=False)


@app.command()
def validate(
    config: Annotated[Path, typer.Argument(help="Scenario YAML file.")],
    set_: SetOption = None,
) -> None:
    """Validate a scenario and print the fully resolved config."""
    from agentsim.scenario_io import dump_config

    cfg = _load(config, set_)
    sys.stdout.write(dump_config(cfg))


def main(argv: list[str] | None = None) -> None:
    """The ``agentsim`` program: the Typer app, with usage errors (a missing argument, an
    unknown option, a value of the wrong type) as one line and exit code 2, like every other
    bad input. ``argv`` defaults to the process's arguments; none at all prints the help."""
    args = sys.argv[1:] if argv is None else list(argv)
    try:
        code = app(args=args or ["--help"], prog_name="agentsim", standalone_mode=False)
    except typer.Abort:  # Ctrl-C at a prompt
        code = 130
    except typer.TyperException as exc:  # click's usage and parameter errors
        message = " ".join(exc.format_message().split())
        context = getattr(exc, "ctx", None)
        hint = f" (see {context.command_path} --help)" if context is not None else ""
        console(stderr=True).print(f"error: {message}{hint}", markup=False, soft_wrap=True)
        code = getattr(exc, "exit_code", 2)
    raise SystemExit(code if isinstance(code, int) else 0)


if __name__ == "__main__":
    main()

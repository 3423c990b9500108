"""The ``agentsim`` command line: run, Monte Carlo, sweep, compare and validate scenarios.

Bad input (malformed YAML, unknown key, wrong type, out-of-range value, missing file, bad
``--set``) prints one line naming the key and the rule to stderr and exits with code 2.

A thin layer: each command imports what it needs when it runs, so ``agentsim --help`` and
``agentsim validate`` load neither the model (Mesa) nor pandas, matplotlib, scipy or Dask.
Results are written by :mod:`agentsim.store` only.
"""

from __future__ import annotations

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
    written = write_run(result, target, overwrite=overwrite)
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


#: Summary keys that hold the month of an event; None there means it never happened.
EVENT_MONTHS = frozenset({"overtake_month", "trusted_release_repealed_month"})


def summary_cell(key: str, value, fmt: str = "{}", scale: float = 1) -> str:
    """One summary value as printed: "never" for the month of an event that did not happen,
    "n/a" for any other missing (None or NaN) value, else ``fmt`` of ``value / scale``."""
    if value is None or (isinstance(value, float) and value != value):
        return "never" if key in EVENT_MONTHS else "n/a"
    return fmt.format(value / scale if scale != 1 else value)


def _run_batch(
    plan,
    out_dir: Path | None,
    resume: Path | None,
    workers: int | None,
    scheduler: str | None,
    label: str,
):
    """Run a batch plan with a progress bar; return the result or exit 2 on bad input."""
    from agentsim.config import ConfigError
    from agentsim.ensemble import run_with_progress
    from agentsim.executors import make_executor
    from agentsim.store import default_batch_dir

    if workers is not None and scheduler is not None and scheduler != "local":
        fail("--workers: give either --workers or --scheduler ADDRESS, not both")
    target = resume or out_dir or default_batch_dir(plan.kind, label, plan.root_seed)
    try:
        result = run_with_progress(
            plan,
            target,
            make_executor(workers, scheduler),
            resume=resume is not None,
            label=label,
            console=console(stderr=True),
        )
    except ConfigError as exc:
        fail(str(exc))
    except OSError as exc:
        fail(f"{scheduler or 'executor'}: cannot start or reach workers ({exc})")
    return result


def _report_failures(result) -> None:
    failures = result.failures
    if len(failures):
        console(stderr=True).print(
            f"{len(failures)} of {len(result.runs)} runs failed:", markup=False
        )
        for message, group in failures.groupby("error"):
            seeds = ", ".join(str(s) for s in group["seed"].head(5))
            console(stderr=True).print(f"  {len(group)} x {message} (seeds {seeds})", markup=False)
        raise typer.Exit(code=1)


def _print_frame(frame, title: str) -> None:
    import pandas as pd
    from rich.table import Table

    table = Table(title=title)
    for column in frame.columns:
        numeric = pd.api.types.is_numeric_dtype(frame[column])
        table.add_column(str(column), justify="right" if numeric else "left")
    for _, row in frame.iterrows():
        table.add_row(*[_fmt(v) for v in row])
    console().print(table)


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
SchedulerOption = Annotated[
    str | None,
    typer.Option(
        help="Dask scheduler address (tcp://HOST:PORT), or 'local' to start a LocalCluster."
    ),
]
RootSeedOption = Annotated[int, typer.Option("--seed", min=0, help="Root seed.")]
RunsOption = Annotated[int, typer.Option(help="Runs (replicates) per scenario or grid point.")]
OutOption = Annotated[
    Path | None, typer.Option("--out", help="Output folder (default: a new folder under results/).")
]
ResumeOption = Annotated[
    Path | None, typer.Option(help="Resume the batch in this folder: run only the runs it lacks.")
]


def _batch_config(
    config: Path | None, set_: list[str] | None, resume: Path | None = None
) -> tuple[dict, dict | None]:
    """The config of a batch, from CONFIG or from the manifest of the batch being resumed."""
    from agentsim.config import ConfigError
    from agentsim.scenario_io import config_to_dict
    from agentsim.store import read_manifest

    if config is not None:
        return config_to_dict(_load(config, set_)), None
    if resume is None:
        fail("CONFIG: give a scenario file, or --resume DIR")
    try:
        manifest = read_manifest(resume)
    except ConfigError as exc:
        fail(str(exc))
    return next(iter(manifest["configs"].values())), manifest


@app.command()
def mc(
    config: Annotated[Path | None, typer.Argument(help="Scenario YAML file.")] = None,
    runs: Annotated[int | None, typer.Option(help="Runs (default 100).")] = None,
    seed: Annotated[int | None, typer.Option(min=0, help="Root seed (default 0).")] = None,
    workers: WorkersOption = None,
    scheduler: SchedulerOption = None,
    set_: SetOption = None,
    out_dir: OutOption = None,
    resume: ResumeOption = None,
) -> None:
    """Monte Carlo: RUNS runs of one scenario on seeds spawned from the root seed."""
    from agentsim.analysis import outcome_table
    from agentsim.config import ConfigError
    from agentsim.ensemble import plan_monte_carlo

    cfg, manifest = _batch_config(config, set_, resume)
    if manifest is not None:  # resumed from the folder alone: it says how many runs, which seed
        for option, given, stored in (
            ("--runs", runs, manifest["runs_per_point"]),
            ("--seed", seed, manifest["root_seed"]),
        ):
            if given is not None and given != stored:
                fail(f"--resume: {resume} was made with {option} {stored}, not {given}")
        runs, seed = manifest["runs_per_point"], manifest["root_seed"]
    runs = 100 if runs is None else runs
    seed = 0 if seed is None else seed
    try:
        plan = plan_monte_carlo(cfg, runs, seed)
    except ConfigError as exc:
        fail(str(exc))
    result = _run_batch(plan, out_dir, resume, workers, scheduler, cfg.get("name", "scenario"))
    _print_frame(outcome_table(result.runs), f"{cfg.get('name')}: {runs} runs, root seed {seed}")
    say(f"results written to {result.out}")
    _report_failures(result)


@app.command()
def sweep(
    config: Annotated[Path, typer.Argument(help="Scenario YAML file.")],
    grid: Annotated[
        list[str],
        typer.Option(
            metavar="KEY=V1,V2,...",
            help="A swept key and its values (repeatable; the grid is their product).",
        ),
    ],
    runs: RunsOption = 20,
    seed: RootSeedOption = 0,
    workers: WorkersOption = None,
    scheduler: SchedulerOption = None,
    set_: SetOption = None,
    out_dir: OutOption = None,
    resume: ResumeOption = None,
) -> None:
    """Parameter sweep: the cartesian grid times RUNS replicates, on common seeds."""
    from agentsim.analysis import outcome_table
    from agentsim.config import ConfigError
    from agentsim.ensemble import plan_sweep

    cfg, _ = _batch_config(config, set_)
    try:
        plan = plan_sweep(cfg, _grid(grid, set_), runs, seed)
    except ConfigError as exc:
        fail(str(exc))
    result = _run_batch(plan, out_dir, resume, workers, scheduler, cfg.get("name", "scenario"))
    table = outcome_table(result.runs, by=list(plan.grid))
    _print_frame(
        table[
            table["outcome"].isin(
                ["final_us_user_share", "final_us_lead_ooms", "P(non-US overtake)"]
            )
        ],
        "sweep",
    )
    say(f"results written to {result.out}")
    _report_failures(result)


@app.command()
def compare(
    config_a: Annotated[Path, typer.Argument(help="First scenario (A).")],
    config_b: Annotated[Path, typer.Argument(help="Second scenario (B).")],
    runs: RunsOption = 50,
    seed: RootSeedOption = 0,
    workers: WorkersOption = None,
    scheduler: SchedulerOption = None,
    set_: SetOption = None,
    out_dir: OutOption = None,
    resume: ResumeOption = None,
) -> None:
    """Paired comparison of two scenarios on common seeds: B - A with 95% CIs and effect sizes."""
    from agentsim.analysis import KEY_OUTCOMES, paired_differences
    from agentsim.config import ConfigError
    from agentsim.ensemble import plan_comparison
    from agentsim.store import write_csv

    a, _ = _batch_config(config_a, set_)
    b, _ = _batch_config(config_b, set_)
    name_a, name_b = a.get("name", "A"), b.get("name", "B")
    if name_a == name_b:
        name_b = f"{name_b}_B"
        b = {**b, "name": name_b}
    try:
        plan = plan_comparison({name_a: a, name_b: b}, runs, seed)
    except ConfigError as exc:
        fail(str(exc))
    result = _run_batch(plan, out_dir, resume, workers, scheduler, f"{name_a}_vs_{name_b}")
    diffs = paired_differences(result.runs, name_a, name_b)
    write_csv(result.out / "comparison.csv", diffs)
    shown = diffs[diffs["outcome"].isin([*KEY_OUTCOMES, "overtaken"])]
    _print_frame(shown, f"{name_b} - {name_a}: paired differences over {runs} seeds")
    say(f"results written to {result.out} (all outcomes in comparison.csv)")
    _report_failures(result)


@app.command()
def plot(
    results: Annotated[
        Path, typer.Argument(help="A run or batch folder (run, mc, sweep or compare output).")
    ],
    out_dir: Annotated[
        Path | None,
        typer.Option("--out", help="Where to write the figures (default: RESULTS/figures)."),
    ] = None,
) -> None:
    """Draw figures (PNG and PDF) from stored results, whichever command made them."""
    from agentsim.config import ConfigError
    from agentsim.figures import save_batch_figures, save_run_figures
    from agentsim.store import is_batch_dir, is_run_dir

    if not results.is_dir():
        fail(f"{results}: folder not found")
    batch = is_batch_dir(results)
    if not batch and not is_run_dir(results):
        fail(f"{results}: holds neither a run (summary.json) nor a batch (manifest.json)")
    try:
        if batch:
            paths = save_batch_figures(results, out_dir)
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
def viz(
    config: Annotated[
        Path | None, typer.Argument(help="Scenario YAML file (default: the baseline).")
    ] = None,
    port: Annotated[int, typer.Option(min=1, max=65535, help="Port on 127.0.0.1.")] = 8765,
) -> None:
    """Serve the interactive app (Mesa SolaraViz) on http://127.0.0.1:PORT."""
    import os

    from agentsim.config import ConfigError
    from agentsim.scenario_io import DEFAULT_SCENARIO, scenario_path

    try:
        path = (scenario_path(config) if config is not None else DEFAULT_SCENARIO).resolve()
    except ConfigError as exc:
        fail(str(exc))
    _load(path, None)  # bad input stops here, with one line
    try:
        import solara  # noqa: F401
    except ImportError:
        fail("viz: the app needs the viz extra: pip install 'agentsim[viz]'")
    env = {**os.environ, "AGENTSIM_VIZ_CONFIG": str(path)}
    command = [
        sys.executable,
        "-m",
        "solara",
        "run",
        "agentsim.app",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--no-open",
        "--production",
    ]
    say(f"serving {path.name} on http://127.0.0.1:{port} (Ctrl-C to stop)")
    raise typer.Exit(_serve(command, env))


def _serve(command: list[str], env: dict[str, str]) -> int:
    """Run the app server as a child that ends with this process; return the exit code.

    Ctrl-C (exit 0) and SIGTERM (exit 143) stop the server before this process exits, and on
    Linux the kernel ends the server if this process is killed outright.
    """
    import functools
    import os
    import signal
    import subprocess

    from agentsim.executors import exit_with_parent

    def terminate(signum: int, frame: object) -> None:
        raise SystemExit(128 + signum)

    previous = signal.signal(signal.SIGTERM, terminate)
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
        if server.poll() is None:
            server.terminate()
            try:
                server.wait(timeout=10)
            except subprocess.TimeoutExpired:
                server.kill()
                server.wait()
        signal.signal(signal.SIGTERM, previous)


@app.command()
def validate(
    config: Annotated[Path, typer.Argument(help="Scenario YAML file.")],
    set_: SetOption = None,
) -> None:
    """Validate a scenario and print the fully resolved config."""
    from agentsim.scenario_io import dump_config

    cfg = _load(config, set_)
    sys.stdout.write(dump_config(cfg))


if __name__ == "__main__":
    app()

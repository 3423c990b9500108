"""The ``agentsim`` command line: run and validate scenarios.

Bad input (malformed YAML, unknown key, wrong type, out-of-range value, missing file, bad
``--set``) prints one line naming the key and the rule to stderr and exits with code 2.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from agentsim.config import ConfigError, dump_config, load_config

app = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    help="Agent-based simulation of the frontier-AI race.",
)
err = Console(stderr=True, highlight=False)
out = Console(highlight=False)

SetOption = Annotated[
    list[str] | None,
    typer.Option(
        "--set",
        metavar="KEY=VALUE",
        help="Override a config key by its dotted path (repeatable), e.g. "
        "--set policy.trusted_release.trusted_fraction=0.02",
    ),
]


def fail(message: str) -> None:
    """Print a one-line error and exit with code 2."""
    err.print(f"error: {message}", markup=False, soft_wrap=True)
    raise typer.Exit(code=2)


def _load(config: Path, assignments: list[str] | None):
    try:
        return load_config(config, assignments=assignments or [])
    except ConfigError as exc:
        fail(str(exc))


@app.command()
def run(
    config: Annotated[Path, typer.Argument(help="Scenario YAML file.")],
    seed: Annotated[int, typer.Option(min=0, help="Root seed.")] = 0,
    steps: Annotated[
        int | None,
        typer.Option(min=1, help="Months to run (default: the config's simulation.steps)."),
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
    from agentsim.run import AuditError
    from agentsim.run import run as run_model
    from agentsim.store import check_run_dir, default_run_dir, write_run

    cfg = _load(config, set_)
    target = out_dir if out_dir is not None else default_run_dir(cfg.name, seed)
    try:
        check_run_dir(target, overwrite)
    except ConfigError as exc:
        fail(str(exc))
    try:
        with err.status(f"running {cfg.name} (seed {seed})", spinner="dots"):
            result = run_model(cfg, seed=seed, steps=steps, audit=True)
    except AuditError as exc:
        err.print(f"error: accounting check failed: {exc}", markup=False)
        raise typer.Exit(code=1) from None
    written = write_run(result, target, overwrite=overwrite)
    if figures:
        from agentsim.figures import save_run_figures

        save_run_figures(written)
    _print_summary(result.summary, cfg.name)
    out.print(f"results written to {written}")


def _print_summary(summary: dict, name: str) -> None:
    table = Table(title=f"{name}: run summary (seed {summary['seed']})", show_header=True)
    table.add_column("outcome")
    table.add_column("value", justify="right")
    rows = [
        ("frontier growth (OOM/year)", summary["frontier_growth_ooms_per_year"], "{:.2f}"),
        ("final US lead (OOM)", summary["final_us_lead_ooms"], "{:.2f}"),
        ("first month a non-US lab leads", summary["overtake_month"], "{}"),
        ("US share of users", summary["final_us_user_share"], "{:.1%}"),
        ("US share of revenue", summary["final_us_revenue_share"], "{:.1%}"),
        ("US share of invested capital", summary["final_us_capital_share"], "{:.1%}"),
        ("US share of talent (skill-weighted)", summary["final_us_talent_share"], "{:.1%}"),
        ("US frontier releases", summary["us_frontier_releases"], "{}"),
        ("non-US frontier releases", summary["non_us_frontier_releases"], "{}"),
        ("US R&D spend (USD bn)", summary["total_us_rd_spend"] / 1e9, "{:,.0f}"),
        ("non-US R&D spend (USD bn)", summary["total_non_us_rd_spend"] / 1e9, "{:,.0f}"),
    ]
    for label, value, fmt in rows:
        table.add_row(label, "never" if value is None else fmt.format(value))
    out.print(table)


@app.command()
def validate(
    config: Annotated[Path, typer.Argument(help="Scenario YAML file.")],
    set_: SetOption = None,
) -> None:
    """Validate a scenario and print the fully resolved config."""
    cfg = _load(config, set_)
    sys.stdout.write(dump_config(cfg))


if __name__ == "__main__":
    app()

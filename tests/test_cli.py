"""The command line, run as a real process: exit codes, one-line errors and the files it writes."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
import yaml

from agentsim.scenario_io import load_config

ROOT = Path(__file__).resolve().parents[1]
BASELINE = ROOT / "configs" / "baseline.yaml"

RUN_FILES = {
    "model.parquet",
    "labs.parquet",
    "summary.json",
    "flows.csv",
    "config.yaml",
    "network.parquet",
    "events.parquet",
}
MODEL_COLUMNS = [
    "step",
    "date",
    "frontier_capability_us",
    "frontier_capability_non_us",
    "leader_jurisdiction",
    "us_user_share",
    "us_revenue_share",
    "us_capital_share",
    "us_talent_share",
    "us_rd_spend",
    "non_us_rd_spend",
    "us_compute_spend",
    "us_research_spend",
    "us_investment",
    "non_us_investment",
    "us_frontier_releases",
    "non_us_frontier_releases",
]
LAB_COLUMNS = {"capability", "cash", "capacity", "users", "revenue", "researchers", "jurisdiction"}
FAST = ["--steps", "2", "--no-figures"]


def cli(*args: str | Path, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "NO_COLOR": "1", "COLUMNS": "80"}
    return subprocess.run(
        [sys.executable, "-m", "agentsim.cli", *map(str, args)],
        capture_output=True,
        text=True,
        cwd=cwd or ROOT,
        env=env,
        timeout=120,
    )


def assert_usage_error(proc: subprocess.CompletedProcess[str], *fragments: str) -> str:
    """Exit code 2 and exactly one stderr line, ``error: ...``, holding every fragment."""
    assert proc.returncode == 2, proc.stderr
    assert "Traceback" not in proc.stderr
    lines = proc.stderr.splitlines()
    assert len(lines) == 1, proc.stderr
    line = lines[0]
    assert line.startswith("error: "), line
    for fragment in fragments:
        assert fragment in line, line
    return line


def snapshot(folder: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()
    }


def hidden(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name.startswith("."))


# --------------------------------------------------------------------------- bad input


@pytest.fixture(scope="module")
def bad_files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("bad")
    malformed = folder / "malformed.yaml"
    malformed.write_text("name: x\nresearch:\n  noise: [0.1, 0.2\n", encoding="utf-8")
    typo = folder / "typo.yaml"
    typo.write_text(
        f"extends: {BASELINE}\npolicy:\n  trusted_release:\n    trusted_fracton: 0.02\n",
        encoding="utf-8",
    )
    return {"malformed": malformed, "typo": typo, "missing": folder / "no_such_scenario.yaml"}


CASES = {
    # case: (config, --set expressions, fragments the error line must hold)
    "malformed-yaml": ("malformed", [], ["malformed.yaml", "malformed YAML", "line"]),
    "unknown-key-in-file": (
        "typo",
        [],
        [
            "policy.trusted_release.trusted_fracton",
            "unknown key",
            "did you mean 'trusted_fraction'",
        ],
    ),
    "unknown-key-in-set": (
        None,
        ["policy.trusted_release.trusted_fracton=0.02"],
        [
            "policy.trusted_release.trusted_fracton",
            "unknown key",
            "did you mean 'trusted_fraction'",
        ],
    ),
    "wrong-type": (None, ["simulation.steps=many"], ["simulation.steps", "integer", "many"]),
    "out-of-range": (
        None,
        ["policy.trusted_release.trusted_fraction=1.5"],
        ["policy.trusted_release.trusted_fraction", "<= 1", "1.5"],
    ),
    "missing-file": ("missing", [], ["no_such_scenario.yaml", "not found"]),
    "bad-set": (None, ["simulation.steps"], ["--set", "KEY=VALUE", "simulation.steps"]),
    "unknown-jurisdiction": (
        None,
        ["labs.NewLab.jurisdiction=XX"],
        ["labs.NewLab.jurisdiction", "must be one of", "XX"],
    ),
}


def case_args(case: str, bad_files: dict[str, Path]) -> tuple[list[str | Path], list[str]]:
    which, sets, fragments = CASES[case]
    config = bad_files[which] if which else BASELINE
    args: list[str | Path] = [config]
    for expression in sets:
        args += ["--set", expression]
    return args, fragments


@pytest.mark.parametrize("case", list(CASES))
def test_validate_bad_input_is_one_line_exit_2(case: str, bad_files: dict[str, Path]):
    args, fragments = case_args(case, bad_files)
    proc = cli("validate", *args)
    assert_usage_error(proc, *fragments)
    assert proc.stdout == ""


@pytest.mark.parametrize(
    "case",
    [
        "malformed-yaml",
        "unknown-key-in-set",
        "wrong-type",
        "out-of-range",
        "missing-file",
        "bad-set",
    ],
)
def test_run_bad_input_is_one_line_exit_2_and_writes_nothing(case: str, bad_files, tmp_path):
    args, fragments = case_args(case, bad_files)
    out = tmp_path / "run"
    proc = cli("run", *args, *FAST, "--out", out)
    assert_usage_error(proc, *fragments)
    assert not out.exists()
    assert list(tmp_path.iterdir()) == []


# --------------------------------------------------------------------------- a run


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("cli_run") / "baseline"
    proc = cli("run", BASELINE, "--steps", "3", "--out", out, "--no-figures")
    assert proc.returncode == 0, proc.stderr
    assert "Traceback" not in proc.stderr
    assert str(out) in proc.stdout.replace("\n", "")
    return out


def test_run_writes_the_result_files(run_dir: Path):
    assert {p.name for p in run_dir.iterdir()} == RUN_FILES
    assert not (run_dir / "figures").exists()
    assert hidden(run_dir) == []
    assert hidden(run_dir.parent) == []
    assert [p.name for p in run_dir.parent.iterdir()] == [run_dir.name]


def test_run_model_frame_contract(run_dir: Path):
    model = pd.read_parquet(run_dir / "model.parquet")
    assert list(model.columns) == MODEL_COLUMNS
    assert len(model) == 4
    assert model["step"].tolist() == [0, 1, 2, 3]
    assert pd.to_datetime(model["date"]).dt.strftime("%Y-%m").tolist() == [
        "2026-01",
        "2026-02",
        "2026-03",
        "2026-04",
    ]
    shares = model[["us_user_share", "us_revenue_share", "us_capital_share", "us_talent_share"]]
    assert ((shares >= 0) & (shares <= 1)).all().all()


def test_run_lab_frame_and_other_files(run_dir: Path):
    baseline = load_config(BASELINE)
    labs = pd.read_parquet(run_dir / "labs.parquet")
    assert LAB_COLUMNS <= set(labs.columns)
    assert len(labs) == 4 * len(baseline.labs)
    assert set(labs["jurisdiction"]) == set(baseline.jurisdictions)
    summary = yaml.safe_load((run_dir / "summary.json").read_text(encoding="utf-8"))
    assert summary["seed"] == 0 and summary["steps"] == 3
    flows = pd.read_csv(run_dir / "flows.csv", index_col=0)
    assert sorted(flows.index) == sorted(baseline.jurisdictions)  # in the model's order
    assert list(flows.columns) == list(flows.index)
    stored = load_config(run_dir / "config.yaml")
    assert stored.simulation.steps == 3  # the stored config says what was run
    stored.simulation.steps = baseline.simulation.steps
    assert stored == baseline


def test_rerun_into_non_empty_folder_without_overwrite_keeps_files(run_dir: Path):
    before = snapshot(run_dir)
    proc = cli("run", BASELINE, *FAST, "--out", run_dir)
    assert_usage_error(proc, "--out", "--overwrite")
    assert snapshot(run_dir) == before
    assert hidden(run_dir.parent) == []


def test_failing_run_into_existing_folder_leaves_it_intact(run_dir: Path):
    before = snapshot(run_dir)
    for flags in ([], ["--overwrite"]):
        proc = cli("run", BASELINE, *FAST, "--set", "simulation.steps", "--out", run_dir, *flags)
        assert_usage_error(proc, "--set")
        assert snapshot(run_dir) == before
    assert hidden(run_dir.parent) == []


def test_out_that_is_a_file_is_refused(tmp_path: Path):
    target = tmp_path / "results.txt"
    target.write_text("keep me\n", encoding="utf-8")
    proc = cli("run", BASELINE, *FAST, "--out", target)
    assert_usage_error(proc, "--out", "not a folder")
    assert target.read_text(encoding="utf-8") == "keep me\n"


def test_overwrite_replaces_the_run(tmp_path: Path):
    out = tmp_path / "run"
    (out / "figures").mkdir(parents=True)  # an earlier run: its files and its figures
    (out / "summary.json").write_text('{"seed": 0, "steps": 2}\n', encoding="utf-8")
    (out / "config.yaml").write_text("name: old\n", encoding="utf-8")
    (out / "figures" / "stale.png").write_text("old figure\n", encoding="utf-8")
    proc = cli(
        "run",
        BASELINE,
        *FAST,
        "--seed",
        "7",
        "--out",
        out,
        "--overwrite",
        "--set",
        "research.noise=0.11",
    )
    assert proc.returncode == 0, proc.stderr
    assert {p.name for p in out.iterdir()} == RUN_FILES  # stale file gone with the old run
    assert len(pd.read_parquet(out / "model.parquet")) == 3
    assert load_config(out / "config.yaml").research.noise == 0.11
    assert yaml.safe_load((out / "summary.json").read_text(encoding="utf-8"))["seed"] == 7
    assert hidden(out) == [] and hidden(tmp_path) == []


def test_run_into_empty_existing_folder_is_allowed(tmp_path: Path):
    out = tmp_path / "empty"
    out.mkdir()
    proc = cli("run", BASELINE, *FAST, "--out", out)
    assert proc.returncode == 0, proc.stderr
    assert {p.name for p in out.iterdir()} == RUN_FILES
    assert hidden(tmp_path) == []


def test_run_with_figures(tmp_path: Path):
    out = tmp_path / "with_figures"
    proc = cli("run", BASELINE, "--steps", "2", "--out", out)
    assert proc.returncode == 0, proc.stderr
    assert RUN_FILES <= {p.name for p in out.iterdir()}
    pngs = sorted(p.stem for p in (out / "figures").glob("*.png"))
    pdfs = sorted(p.stem for p in (out / "figures").glob("*.pdf"))
    assert pngs and pngs == pdfs
    for figure in (out / "figures").iterdir():
        assert figure.stat().st_size > 0
    assert hidden(out) == [] and hidden(out / "figures") == [] and hidden(tmp_path) == []


# --------------------------------------------------------------------------- validate


def test_validate_prints_resolved_yaml_with_overrides():
    proc = cli(
        "validate",
        ROOT / "configs" / "trusted_release.yaml",
        "--set",
        "policy.trusted_release.trusted_fraction=0.02",
        "--set",
        "labs.NewLab.jurisdiction=EU",
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr == ""
    data = yaml.safe_load(proc.stdout)
    assert data["name"] == "trusted_release"
    assert data["policy"]["trusted_release"]["enabled"] is True
    assert data["policy"]["trusted_release"]["trusted_fraction"] == 0.02
    assert data["labs"]["NewLab"]["jurisdiction"] == "EU"
    assert "extends" not in data
    assert data["simulation"]["steps"] == 60


def test_help_lists_commands():
    proc = cli("--help")
    assert proc.returncode == 0
    assert "run" in proc.stdout and "validate" in proc.stdout


def test_stored_config_records_the_steps_run(tmp_path: Path):
    out = tmp_path / "short"
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "agentsim.cli",
            "run",
            str(BASELINE),
            "--steps",
            "2",
            "--no-figures",
            "--out",
            str(out),
        ],
        capture_output=True,
        text=True,
        cwd=ROOT,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    assert load_config(out / "config.yaml").simulation.steps == 2
    mask = os.umask(0)
    os.umask(mask)
    assert (out / "summary.json").stat().st_mode & 0o777 == 0o666 & ~mask


# --------------------------------------------------------------------------- import cost

HEAVY = ("mesa", "matplotlib", "scipy", "dask", "pandas", "agentsim.model", "agentsim.run")


def imported_by(*args: str) -> tuple[str, list[str]]:
    """Run the command line in a fresh interpreter; its stdout and the heavy modules it loaded."""
    probe = (
        "import sys\n"
        "from agentsim.cli import app\n"
        f"try:\n    app({list(args)!r})\nexcept SystemExit as exit:\n    assert not exit.code\n"
        f"print('HEAVY=' + ','.join(m for m in {HEAVY!r} if m in sys.modules))\n"
    )
    proc = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, cwd=ROOT, timeout=120
    )
    assert proc.returncode == 0, proc.stderr
    *output, last = proc.stdout.splitlines()
    assert last.startswith("HEAVY="), proc.stdout
    return "\n".join(output), [m for m in last.removeprefix("HEAVY=").split(",") if m]


@pytest.mark.parametrize(
    "args",
    [["--help"], ["validate", str(BASELINE)], ["mc", "--help"], ["plot", "--help"]],
    ids=["help", "validate", "mc-help", "plot-help"],
)
def test_light_commands_do_not_import_the_model_or_heavy_libraries(args: list[str]):
    output, heavy = imported_by(*args)
    assert output  # the command did its work
    assert heavy == []


def test_importing_the_package_is_lazy():
    code = (
        "import sys, agentsim\n"
        "assert agentsim.__version__ and 'run' in agentsim.__all__\n"
        "print(','.join(m for m in sys.modules if m.split('.')[0] in "
        "('mesa', 'pandas', 'matplotlib', 'scipy', 'dask', 'pydantic')))\n"
        "from agentsim.run import collect\n"  # the submodule, then the public name
        "print(agentsim.run.__name__, agentsim.simulate.__name__, agentsim.Config.__name__)\n"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=120
    )
    assert proc.returncode == 0, proc.stderr
    first, second = proc.stdout.splitlines()
    assert first == ""
    assert second == "run simulate Config"  # agentsim.run is the function, not the submodule


# --------------------------------------------------------------------------- exact reading


@pytest.mark.parametrize(
    ("sets", "fragments"),
    [
        (["research.noise=0.1", "research.noise=0.2"], ["--set", "research.noise is given twice"]),
        (["research={noise: 0.1}", "research.noise=0.2"], ["--set", "given twice"]),
        (["simulation.steps=yes"], ["simulation.steps", "must be an integer", "'yes'"]),
        (
            ["policy.export_controls.capacity_cap_h100e=no"],
            ["policy.export_controls.capacity_cap_h100e", "must be a number", "'no'"],
        ),
        (["simulation.start=9990-01"], ["simulation.start", "1900-01 to 2200-12", "9990-01"]),
        (["simulation.start=0000-01"], ["simulation.start", "1900-01 to 2200-12"]),
        (["labs.Metaa=!remove"], ["labs.Metaa", "no such key", "did you mean 'Meta'"]),
    ],
    ids=["set-twice", "set-overlap", "yes", "no", "start-9990", "start-0000", "remove-missing"],
)
def test_inexact_input_is_one_line_exit_2_and_writes_nothing(sets, fragments, tmp_path: Path):
    args: list[str | Path] = [BASELINE]
    for expression in sets:
        args += ["--set", expression]
    assert_usage_error(cli("validate", *args), *fragments)
    out = tmp_path / "run"
    assert_usage_error(cli("run", *args, *FAST, "--out", out), *fragments)
    assert not out.exists()


def test_zero_padded_set_value_is_decimal():
    proc = cli("validate", BASELINE, "--set", "simulation.steps=036")
    assert proc.returncode == 0, proc.stderr
    assert yaml.safe_load(proc.stdout)["simulation"]["steps"] == 36


def test_set_of_a_section_merges_and_replace_replaces():
    merged = cli("validate", BASELINE, "--set", "research={noise: 0.1}")
    assert merged.returncode == 0, merged.stderr
    research = yaml.safe_load(merged.stdout)["research"]
    assert research["noise"] == 0.1
    assert research["base_rate_ooms_per_month"] == 0.035  # calibrated, not the code default
    replaced = cli("validate", BASELINE, "--set", "research=!replace {noise: 0.1}")
    assert yaml.safe_load(replaced.stdout)["research"]["base_rate_ooms_per_month"] == 0.04


@pytest.mark.parametrize(
    ("flags", "fragments"),
    [
        (["--steps", "601"], ["--steps: must be <= 600", "601"]),
        (["--steps", "0"], ["--steps: must be >= 1"]),
        (["--steps", "3", "--set", "simulation.steps=4"], ["--steps", "given twice"]),
    ],
)
def test_run_steps_are_validated_with_the_config(flags, fragments, tmp_path: Path):
    out = tmp_path / "run"
    assert_usage_error(cli("run", BASELINE, "--no-figures", *flags, "--out", out), *fragments)
    assert not out.exists()


def test_sweep_refuses_a_key_given_twice(tmp_path: Path):
    small = ["--runs", "1", "--workers", "1", "--set", "talent.n_researchers=100"]
    for grids, sets in (
        (["research.noise=0.1,0.2", "research.noise=0.3"], []),
        (["research.noise=0.1,0.2"], ["--set", "research.noise=0.3"]),
    ):
        args = [a for g in grids for a in ("--grid", g)]
        out = tmp_path / "sweep"
        proc = cli("sweep", BASELINE, *args, *small, *sets, "--out", out)
        assert_usage_error(proc, "--grid", "research.noise is given twice")
        assert not out.exists()


# --------------------------------------------------------------------------- printing


def test_summary_prints_na_for_a_missing_value_and_never_for_an_event():
    from agentsim.cli import summary_cell

    assert summary_cell("final_us_lead_ooms", None) == "n/a"
    assert summary_cell("final_us_lead_ooms", float("nan")) == "n/a"
    assert summary_cell("total_us_rd_spend", None, "{:,.0f}", 1e9) == "n/a"
    assert summary_cell("overtake_month", None) == "never"
    assert summary_cell("trusted_release_repealed_month", None) == "never"
    assert summary_cell("overtake_month", 0) == "0"
    assert summary_cell("total_us_rd_spend", 2.5e9, "{:,.1f}", 1e9) == "2.5"


def test_run_summary_table_with_undefined_values():
    from agentsim import cli as command_line

    summary = {
        "seed": 0,
        "frontier_growth_ooms_per_year": 0.5,
        "final_us_lead_ooms": None,
        "overtake_month": None,
        "final_us_user_share": 0.5,
        "final_us_revenue_share": None,
        "final_us_capital_share": 0.5,
        "final_us_talent_share": 0.5,
        "us_frontier_releases": 0,
        "non_us_frontier_releases": 1,
        "total_us_rd_spend": None,
        "total_non_us_rd_spend": 1e9,
    }
    with command_line.console().capture() as captured:
        command_line._print_summary(summary, "x")
    rows = {
        line.split("│")[1].strip(): line.split("│")[2].strip()
        for line in captured.get().splitlines()
        if line.count("│") == 3
    }
    assert rows["final US lead (OOM)"] == "n/a"
    assert rows["first month a non-US lab leads"] == "never"
    assert rows["US share of revenue"] == "n/a"
    assert rows["US R&D spend (USD bn)"] == "n/a"


def test_batch_tables_print_na_for_missing_values():
    from agentsim.cli import _fmt

    assert _fmt(float("nan")) == "n/a" and _fmt(None) == "n/a"
    assert _fmt(0.123456) == "0.1235" and _fmt("x") == "x"


# --------------------------------------------------------------------------- plot names the cause


def far_future(run_dir: Path, target: Path) -> Path:
    """A copy of a stored run whose config and dates run past year 9999 (as a run started at
    9999-11 would have been stored before the calendar was bounded)."""
    import shutil

    shutil.copytree(run_dir, target)
    config = (target / "config.yaml").read_text(encoding="utf-8")
    (target / "config.yaml").write_text(
        config.replace("start: 2026-01", "start: 9999-11"), encoding="utf-8"
    )
    for name in ("model.parquet", "labs.parquet"):
        frame = pd.read_parquet(target / name)
        dates = pd.date_range(pd.Timestamp("9999-11-01"), periods=12, freq="MS")  # to 10000
        frame["date"] = dates[pd.factorize(frame["date"], sort=True)[0]]
        frame.to_parquet(target / name)
    return target


def test_plot_names_the_real_cause_of_a_failure(run_dir: Path, tmp_path: Path):
    folder = far_future(run_dir, tmp_path / "far")
    assert "9999-11" in (folder / "config.yaml").read_text(encoding="utf-8")
    proc = cli("plot", folder)
    line = assert_usage_error(proc, "simulation.start", "1900-01 to 2200-12", "9999-11")
    assert "cannot read stored results" not in line


def test_plot_of_unreadable_results_says_so(run_dir: Path, tmp_path: Path):
    import shutil

    folder = shutil.copytree(run_dir, tmp_path / "broken")
    (folder / "model.parquet").write_bytes(b"not parquet")
    assert_usage_error(cli("plot", folder), "cannot read stored results", str(folder))


def test_run_whose_figures_fail_keeps_its_results_and_says_why(tmp_path: Path, monkeypatch):
    from typer.testing import CliRunner

    from agentsim import figures
    from agentsim.cli import app

    def broken(*args, **kwargs):
        raise OverflowError("no room")

    monkeypatch.setattr(figures, "save_run_figures", broken)
    out = tmp_path / "run"
    result = CliRunner().invoke(app, ["run", str(BASELINE), "--steps", "1", "--out", str(out)])
    assert result.exit_code == 1
    assert "the figures could not be drawn (OverflowError: no room)" in result.output
    assert RUN_FILES <= {p.name for p in out.iterdir()}


def test_compare_refuses_scenarios_on_different_clocks(tmp_path: Path) -> None:
    """Paired differences between runs of different lengths mix the policy with the horizon."""
    short = tmp_path / "short_trusted.yaml"
    short.write_text(
        f"extends: {ROOT / 'configs' / 'trusted_release.yaml'}\nsimulation: {{steps: 24}}\n",
        encoding="utf-8",
    )
    out = tmp_path / "cmp"
    proc = cli("compare", ROOT / "configs" / "baseline.yaml", short, "--runs", "2", "--out", out)
    assert_usage_error(proc, "compare", "simulation.steps", "24", "60")
    assert not out.exists()


def test_version_prints_the_package_version() -> None:
    from agentsim import __version__

    proc = cli("--version")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == f"agentsim {__version__}"


def test_piped_tables_are_printed_in_full(tmp_path: Path) -> None:
    """Piped or logged (not a terminal), a table keeps every column name and cell whole."""
    proc = cli(
        "compare", ROOT / "configs" / "baseline.yaml", ROOT / "configs" / "trusted_release.yaml",
        "--runs", "2", "--workers", "1", "--out", tmp_path / "cmp",
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    for name in (
        "mean_trusted_release",
        "mean_months_between_us_frontier_releases",
        "non_us_frontier_class_launches_per_year",
        "relative_ci_high",
    ):
        assert name in proc.stdout
    assert "…" not in proc.stdout and "..." not in proc.stdout


def test_a_logged_batch_prints_progress_lines(tmp_path: Path) -> None:
    """Not in a terminal there is no bar: a line at every tenth of the runs instead."""
    proc = cli(
        "mc", ROOT / "configs" / "baseline.yaml", "--runs", "10", "--set", "simulation.steps=3",
        "--workers", "1", "--out", tmp_path / "mc",
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    lines = [line for line in proc.stderr.splitlines() if "runs/s" in line]
    assert lines and lines[-1].startswith("mc baseline: 10/10 runs (100%)")

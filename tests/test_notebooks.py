"""Every notebook in notebooks/ executes without error, in a kernel of this interpreter.

Each notebook runs in place (working folder notebooks/, as in Jupyter) through nbclient, the
executor behind ``pytest --nbmake``. Stored results come from temporary folders: a short run
and a small paired batch for explore_run.ipynb (``AGENTSIM_RESULTS_DIR``), and an empty
folder for sensitivity_walkthrough.ipynb (``AGENTSIM_SENSITIVITY_DIR``), so it takes its own
small-run path. Nothing is read from or written to results/.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

nbformat = pytest.importorskip("nbformat", reason="the dev extra is not installed")
nbclient = pytest.importorskip("nbclient", reason="the dev extra is not installed")
psutil = pytest.importorskip("psutil", reason="the dev extra is not installed")

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))
#: Seconds one cell may take.
CELL_TIMEOUT = 300
#: A line each notebook must print, where it says which path it took.
PRINTS = {"sensitivity_walkthrough.ipynb": "running a small Morris screening"}
#: A cell appended to each notebook: the kernel's interpreter prefix (the venv's, if any).
PREFIX_CELL = "import sys; print(sys.prefix)"


@pytest.fixture(scope="module")
def stored_results(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """What ``make run`` stores for explore_run.ipynb, made small: a one-year baseline run
    and a two-seed paired comparison."""
    from typer.testing import CliRunner

    from agentsim.cli import app

    out = tmp_path_factory.mktemp("results")
    baseline = ROOT / "configs" / "baseline.yaml"
    policy = ROOT / "configs" / "trusted_release.yaml"
    for command in (
        ["run", baseline, "--steps", "12", "--no-figures", "--out", out / "baseline"],
        [
            "compare",
            baseline,
            policy,
            "--runs",
            "2",
            "--workers",
            "1",
            "--set",
            "simulation.steps=12",
            "--out",
            out / "comparison",
        ],
    ):
        result = CliRunner().invoke(app, [str(a) for a in command])
        assert result.exit_code == 0, result.output
    return out


def kernels() -> list[int]:
    """Process ids of the Jupyter kernels this test process started and that still run."""
    found = []
    for child in psutil.Process().children(recursive=True):
        try:
            if any("ipykernel" in part for part in child.cmdline()):
                found.append(child.pid)
        except (psutil.NoSuchProcess, psutil.ZombieProcess, psutil.AccessDenied):
            continue
    return found


def test_notebooks_found() -> None:
    names = {path.name for path in NOTEBOOKS}
    assert {"explore_run.ipynb", "sensitivity_walkthrough.ipynb"} <= names


@pytest.mark.slow
@pytest.mark.parametrize("path", NOTEBOOKS, ids=[path.name for path in NOTEBOOKS])
def test_notebook_executes(
    path: Path,
    stored_results: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # The kernel inherits this process's environment.
    monkeypatch.setenv("AGENTSIM_RESULTS_DIR", str(stored_results))
    empty = tmp_path / "sensitivity"
    empty.mkdir()
    monkeypatch.setenv("AGENTSIM_SENSITIVITY_DIR", str(empty))
    before = set(kernels())

    notebook = nbformat.read(path, as_version=4)
    assert all(
        not cell.get("outputs") and cell.get("execution_count") is None
        for cell in notebook.cells
        if cell.cell_type == "code"
    ), f"{path.name} is committed with outputs: clear them"
    notebook.cells.append(nbformat.v4.new_code_cell(PREFIX_CELL))
    # Kernel "python3" with argv "python": jupyter_client starts it with sys.executable.
    client = nbclient.NotebookClient(
        notebook, timeout=CELL_TIMEOUT, kernel_name="python3", allow_errors=False
    )
    try:
        client.execute(cwd=str(path.parent))  # starts and shuts down its own kernel
    except nbclient.exceptions.CellExecutionError as exc:
        pytest.fail(f"{path.name} failed:\n{exc}", pytrace=False)

    printed = [
        "".join(out.get("text", "") for out in cell.outputs if out.output_type == "stream")
        for cell in notebook.cells
        if cell.cell_type == "code"
    ]
    assert Path(printed[-1].strip()) == Path(sys.prefix), "the kernel is not this interpreter's"
    assert PRINTS.get(path.name, "") in "".join(printed)
    assert not (set(kernels()) - before), "a kernel is still running"
    assert not list(empty.iterdir()), "the walkthrough wrote into the stored-results folder"

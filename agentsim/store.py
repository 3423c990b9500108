"""Result storage: every read and write of run and batch folders, always atomic.

Every file is written under a temporary name in its destination folder and renamed into place,
so a crash never leaves a half-written file; a run folder is assembled in a temporary sibling
and swapped in whole, so an existing run is never mixed with a new one.

A **run folder** holds :data:`RUN_FILES` (see :func:`write_run` and :func:`read_run`).

A **batch folder** (Monte Carlo, sweep or comparison) holds ``manifest.json`` (how the batch
was made), and while it runs, ``parts/``: one Parquet file per finished chunk of runs, holding
the chunk's time series with the chunk's run rows in the file's metadata, so a chunk is saved by
one atomic rename. :func:`gather` merges the parts into ``runs.parquet`` (one row per run) and
``timeseries.parquet`` (one row per run and month) and removes ``parts/``; :func:`read_batch`
reads a finished batch folder (also as ``agentsim.read_batch``). :func:`batch_lock` keeps two
processes from writing one batch folder at once.

**Dtypes of runs.parquet** (:func:`runs_frame`): ``run_id``, ``replicate`` and ``seed`` are
int64 (never missing); ``scenario``, ``error``, ``traceback`` and any column holding text are
``string``; booleans are ``boolean`` and integers ``Int64`` (pandas' nullable types, whether or
not a value is missing, so a failed run's outcome is ``<NA>`` and the column keeps its type);
other numbers are float64, NaN where missing (the model's own "undefined"). The run summary's
boolean and integer outcomes and ``point`` are declared (:data:`BOOLEAN_COLUMNS`,
:data:`INTEGER_COLUMNS`), so their type never depends on the values a batch happens to hold:
an overtake month that no run reached is still ``Int64``. A sweep's keys take the type of the
values in its grid (:func:`grid_kinds`). Other columns (outcomes declared nowhere, a design's
parameters) take the type of the Python values they hold: all booleans, all integers, numbers
(float64), anything else text; a column with no value at all is float64.

**timeseries.parquet** starts with ``run_id``, then each run's ``scenario`` (categorical),
``point`` and, in a sweep, each swept key (:data:`KEY_COLUMNS` and the manifest's grid keys,
named and typed as in runs.parquet), then the model frame's columns, so a table of time series
groups by scenario or swept value without a merge.

Batches stored before these rules (booleans and integers as float64, no keys in the time
series) read the same way: :func:`read_batch` gives their declared columns and swept keys
today's dtypes and adds the keys to the time series in memory, without changing the files; a
resumed one is gathered by these rules.

This module knows file layouts only: it never imports the model or runs anything.
"""

from __future__ import annotations

import errno
import json
import math
import os
import shutil
import socket
import sys
import tempfile
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from agentsim.config import ConfigError
from agentsim.scenario_io import dump_config

if TYPE_CHECKING:
    from agentsim.run import RunResult

try:  # POSIX; elsewhere the lock file itself is the lock
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None  # type: ignore[assignment]

#: Files of a run folder.
RUN_FILES = (
    "model.parquet",
    "labs.parquet",
    "summary.json",
    "flows.csv",
    "config.yaml",
    "network.parquet",
    "events.parquet",
)
#: Files of a batch folder.
MANIFEST = "manifest.json"
RUNS = "runs.parquet"
TIMESERIES = "timeseries.parquet"
PARTS = "parts"
LOCK = ".lock"
#: Marks a folder of figures drawn by agentsim (lists them), so drawing again may replace them.
FIGURES_MARKER = "figures.json"
#: Default root of new result folders (relative to the working directory).
RESULTS_ROOT = Path("results")

#: Columns of a runs frame that always come first, in this order, as int64 (ids) or text.
ID_COLUMNS = ("run_id", "replicate", "seed")
TEXT_COLUMNS = ("scenario", "error", "traceback")
#: Columns of a runs frame that hold integers (``Int64``), whatever values a batch holds: the
#: design point and the run summary's integer outcomes (:func:`agentsim.observe.summarize`).
#: A name ending in ``_`` stands for every column it begins (one per pair of jurisdictions).
INTEGER_COLUMNS = (
    "point",
    "steps",
    "overtake_month",
    "non_us_lead_months",
    "us_frontier_releases",
    "non_us_frontier_releases",
    "trusted_release_repealed_month",
    "labs_exited",
    "lab_relocations",
    "unemployed_researchers",
    "us_generations",
    "talent_flow_",
)
#: Columns of a runs frame that hold booleans (``boolean``): the summary's boolean outcomes.
BOOLEAN_COLUMNS = ("overtaken",)
#: Columns of the runs table that every row of a batch's time series carries (after
#: ``run_id``), with a sweep's keys.
KEY_COLUMNS = ("scenario", "point")
#: The pandas dtype of each kind of runs column.
DTYPES = {"bool": "boolean", "int": "Int64", "float": "float64", "text": "string"}
_RUNS_KEY = b"agentsim.runs"  # Parquet metadata key of a part's run rows


# --------------------------------------------------------------------------- atomic writes


def atomic_write(path: Path, write: Callable[[Path], None]) -> None:
    """Call ``write(tmp)`` on a temporary file beside ``path``, then rename it to ``path``.

    The parent folder is created when missing. If ``write`` raises, the temporary file is
    removed and the exception propagates; ``path`` is then untouched.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    os.chmod(tmp, 0o666 & ~_umask())  # as a plain open() would create it
    try:
        write(Path(tmp))
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def write_bytes(path: Path, data: bytes) -> None:
    """Write bytes atomically."""
    atomic_write(path, lambda tmp: tmp.write_bytes(data))


def write_text(path: Path, text: str) -> None:
    """Write UTF-8 text atomically."""
    atomic_write(path, lambda tmp: tmp.write_text(text, encoding="utf-8"))


def write_json(path: Path, data: Any) -> None:
    """Write JSON atomically (NaN written as null, numpy scalars as Python numbers)."""
    write_text(path, json.dumps(_jsonable(data), indent=2) + "\n")


def write_parquet(path: Path, frame: pd.DataFrame) -> None:
    """Write a data frame to Parquet atomically (without its index)."""
    atomic_write(path, lambda tmp: frame.to_parquet(tmp, index=False))


def write_csv(path: Path, frame: pd.DataFrame, index: bool = False) -> None:
    """Write a data frame (a results table) to CSV atomically."""
    atomic_write(path, lambda tmp: frame.to_csv(tmp, index=index))


def write_figure(figure: Any, stem: Path, formats: Sequence[str] = ("png", "pdf")) -> list[Path]:
    """Save a matplotlib figure as ``stem.<format>`` for each format, atomically.

    ``figure`` is anything with matplotlib's ``savefig(path, format=..., bbox_inches=...)``.
    Returns the paths written, in the order of ``formats``. The figure is not closed.
    """
    paths = []
    for ext in formats:
        path = Path(stem).with_suffix(f".{ext}")
        atomic_write(
            path, lambda tmp, ext=ext: figure.savefig(tmp, format=ext, bbox_inches="tight")
        )
        paths.append(path)
    return paths


def _jsonable(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    if isinstance(value, float) and value != value:
        return None
    if isinstance(value, np.generic):
        return _jsonable(value.item())
    return value


# --------------------------------------------------------------------------- folders


def _unique(base: Path) -> Path:
    candidate, n = base, 1
    while candidate.exists():
        n += 1
        candidate = base.with_name(f"{base.name}_{n}")
    return candidate


def default_run_dir(config_name: str, seed: int, root: Path = RESULTS_ROOT) -> Path:
    """A new folder ``root/<name>_<YYYYmmdd-HHMMSS>_seed<seed>`` (``_2``, ``_3``... if taken)."""
    stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
    return _unique(Path(root) / f"{config_name}_{stamp}_seed{seed}")


def default_batch_dir(kind: str, label: str, root_seed: int, root: Path = RESULTS_ROOT) -> Path:
    """A new folder for a batch: ``root/<kind>_<label>_<YYYYmmdd-HHMMSS>_seed<root_seed>``."""
    return default_run_dir(f"{kind}_{label}", root_seed, root)


def experiment_dir(name: str, root: Path = RESULTS_ROOT) -> Path:
    """The fixed folder of a named experiment: ``root/experiments/<name>``."""
    return Path(root) / "experiments" / name


#: What a run folder and a batch folder may hold besides their own files: figures, the lock,
#: tables the batch commands add, discovery output and a calibration's files.
_RESULT_EXTRAS = frozenset(
    {
        "figures",
        LOCK,
        PARTS,
        RUNS,
        TIMESERIES,
        "comparison.csv",
        "survival.csv",
        # a batch's table (agentsim.tables.save_table), its report and a replay's report
        "summary.csv",
        "summary.md",
        "summary.tex",
        "report.html",
        "rerun_report.csv",
        "experiments.parquet",
        "indices.csv",
        "noise.csv",
        "discovery",
        # a calibration folder (agentsim.calibration.CALIBRATION_FILES)
        "calibration.db",
        "evaluations",
        "posterior.parquet",
        "predictive.parquet",
        "fit_report.md",
        "fit_report.csv",
        "posterior_summary.csv",
        "calibrated.yaml",
    }
)


def is_result_dir(path: Path) -> bool:
    """Whether ``path`` is a folder agentsim wrote and nothing else did: a run folder (its
    ``summary.json`` a run summary, its ``config.yaml`` and model table present) or a batch
    folder (its ``manifest.json`` a batch manifest), holding no file or folder agentsim does
    not write there (see :func:`foreign_entries`)."""
    path = Path(path)
    return _is_run_or_batch(path) and not foreign_entries(path)


def _is_run_or_batch(path: Path) -> bool:
    try:
        if (path / MANIFEST).is_file():
            manifest = json.loads((path / MANIFEST).read_text(encoding="utf-8"))
            return isinstance(manifest, dict) and {"kind", "fingerprint"} <= set(manifest)
        if all((path / name).is_file() for name in ("summary.json", "config.yaml")):
            summary = json.loads((path / "summary.json").read_text(encoding="utf-8"))
            return isinstance(summary, dict) and {"seed", "steps"} <= set(summary)
    except (OSError, ValueError):
        return False
    return False


def foreign_entries(path: Path) -> list[str]:
    """Names in a run or batch folder that agentsim does not write there (sorted)."""
    known = set(RUN_FILES) | {MANIFEST} | _RESULT_EXTRAS
    return sorted(
        p.name
        for p in Path(path).iterdir()
        if p.name not in known and not (p.name.startswith(".") and p.name.endswith(".tmp"))
    )


def check_unlocked(out: Path) -> None:
    """Refuse a folder that a running batch holds (its lock is taken), naming the holder.

    Raises :class:`ConfigError` (key ``--out``). A folder without a lock, or whose holder has
    died, passes; nothing is created or changed.
    """
    path = Path(out) / LOCK
    if not path.is_file() or fcntl is None:
        return
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except OSError as exc:
        if exc.errno in (errno.EAGAIN, errno.EACCES):
            raise _in_use(path) from None
    finally:
        os.close(fd)


def check_writable(out: Path, key: str = "--out") -> None:
    """Refuse an output path that cannot be written, before any compute is spent.

    Walks up from ``out`` to the nearest folder that exists and makes (then removes) a
    temporary folder there, so a read-only file system, a missing permission or a path under
    a file is found now rather than when the results are ready. Nothing is left behind.
    Raises :class:`ConfigError` (key ``key``) naming the folder and the reason.
    """
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise ConfigError(key, f"{out} exists and is not a folder")
    existing = out
    while not existing.exists():
        if existing.parent == existing:
            break
        existing = existing.parent
    if not existing.is_dir():
        raise ConfigError(key, f"{out} is under {existing}, which is a file, not a folder")
    try:
        probe = tempfile.mkdtemp(prefix=".agentsim-probe.", dir=existing)
    except OSError as exc:
        raise ConfigError(key, f"cannot write in {existing} ({os_reason(exc)})") from None
    os.rmdir(probe)


def os_reason(exc: OSError) -> str:
    """An OS error as people read it: "No space left on device", "Permission denied"..."""
    return exc.strerror or exc.__class__.__name__


def check_run_dir(out: Path, overwrite: bool) -> None:
    """Refuse an output folder that a new run may not take, before the run starts.

    ``out`` may be new or empty. A non-empty folder is replaced only with ``overwrite``, and
    only when it is itself an agentsim result holding nothing else (:func:`is_result_dir`)
    and no batch is running in it: ``--overwrite`` never deletes a folder of other files (a
    home folder, a project). Raises :class:`ConfigError` (key ``--out`` or ``--overwrite``)
    when ``out`` is a symbolic link, a file, a non-empty folder without ``overwrite``, a
    folder a running batch holds, a non-empty folder that is not a result or holds other
    files, or not writable (:func:`check_writable`).
    """
    out = Path(os.path.abspath(out))
    if out.is_symlink():
        raise ConfigError("--out", f"{out} is a symbolic link; give the folder it points to")
    if out.exists() and not out.is_dir():
        raise ConfigError("--out", f"{out} exists and is not a folder")
    if out.is_dir() and any(out.iterdir()):
        if not overwrite:
            raise ConfigError(
                "--out", f"{out} is not empty; choose another folder or pass --overwrite"
            )
        check_unlocked(out)
        if not _is_run_or_batch(out):
            raise ConfigError(
                "--overwrite",
                f"{out} is not an agentsim result folder (no run summary, no batch manifest); "
                "--overwrite replaces results only, so nothing was deleted",
            )
        foreign = foreign_entries(out)
        if foreign:
            raise ConfigError(
                "--overwrite",
                f"{out} holds files agentsim did not write ({', '.join(foreign[:3])}); "
                "--overwrite replaces results only, so nothing was deleted",
            )
    check_writable(out)


def check_figures_dir(out: Path, names: Iterable[str]) -> None:
    """Refuse to draw figures into a folder that holds files agentsim did not draw.

    ``names`` are the file names about to be written. ``out`` may be new, empty, a figures
    folder drawn before (it holds :data:`FIGURES_MARKER`) or a folder holding only files of
    those names (figures drawn by an earlier version). Raises :class:`ConfigError` (key
    ``--out``) otherwise, and as :func:`check_writable`.
    """
    out = Path(out)
    if out.is_dir() and not (out / FIGURES_MARKER).is_file():
        ours = set(names)
        foreign = sorted(p.name for p in out.iterdir() if p.name not in ours)
        if foreign:
            raise ConfigError(
                "--out",
                f"{out} holds files agentsim did not draw (e.g. {foreign[0]}); choose a new "
                "or empty folder",
            )
    check_writable(out)


# --------------------------------------------------------------------------- run folders


def write_run(
    result: RunResult,
    out: Path,
    overwrite: bool = False,
    extras: Callable[[Path], None] | None = None,
) -> Path:
    """Write a run's files to ``out`` (see :data:`RUN_FILES`); ``extras(tmpdir)`` may add more.

    The folder is built in a temporary sibling and renamed into place; with ``overwrite`` an
    existing folder is swapped out only after the new one is complete. Returns ``out``.
    Raises :class:`ConfigError` as :func:`check_run_dir` does.
    """
    out = Path(os.path.abspath(out))
    check_run_dir(out, overwrite)
    out.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{out.name}.", suffix=".tmp", dir=out.parent))
    os.chmod(staging, 0o777 & ~_umask())
    try:
        write_parquet(staging / "model.parquet", result.model_frame)
        write_parquet(staging / "labs.parquet", result.lab_frame)
        write_json(staging / "summary.json", result.summary)
        write_csv(staging / "flows.csv", result.flows, index=True)
        write_text(staging / "config.yaml", dump_config(result.config))
        write_parquet(staging / "network.parquet", result.network)
        write_parquet(staging / "events.parquet", result.events)
        if extras is not None:
            extras(staging)
        if out.exists():
            old = out.with_name(f".{out.name}.old-{os.getpid()}")
            os.replace(out, old)
            os.replace(staging, out)
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.replace(staging, out)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return out


def read_run(path: Path) -> dict[str, Any]:
    """Read a stored run folder.

    Returns a dict with ``model`` (one row per month), ``labs`` (one row per lab and month),
    ``network`` (aggregated ties) and ``events`` (one row per event) as data frames, ``summary``
    (dict), ``flows`` (jurisdiction x jurisdiction frame of researcher moves) and ``config``
    (the resolved YAML text). Raises
    :class:`ConfigError` when a file of :data:`RUN_FILES` is missing.
    """
    path = Path(path)
    missing = [name for name in RUN_FILES if not (path / name).is_file()]
    if missing:
        raise ConfigError(str(path), f"is not a run folder (missing {', '.join(missing)})")
    return {
        "model": _read_parquet(path / "model.parquet"),
        "labs": _read_parquet(path / "labs.parquet"),
        "summary": _read_json(path / "summary.json"),
        "flows": pd.read_csv(path / "flows.csv", index_col=0),
        "config": (path / "config.yaml").read_text(encoding="utf-8"),
        "network": _read_parquet(path / "network.parquet"),
        "events": _read_parquet(path / "events.parquet"),
    }


# --------------------------------------------------------------------------- batch folders


@dataclass
class BatchResult:
    """A batch folder and what it holds.

    ``runs`` has one row per run (see :func:`runs_frame`), ``timeseries`` one row per run and
    month (``run_id``, the run's keys: ``scenario``, ``point`` and a sweep's keys, then the
    model frame's columns), ``manifest`` the parsed manifest.
    """

    out: Path
    runs: pd.DataFrame
    timeseries: pd.DataFrame
    manifest: dict[str, Any]

    @property
    def failures(self) -> pd.DataFrame:
        """Rows of runs that raised (``error`` set)."""
        return self.runs[self.runs["error"].notna()]


def is_batch_dir(path: Path) -> bool:
    """Whether ``path`` holds a batch manifest."""
    return (Path(path) / MANIFEST).is_file()


def is_run_dir(path: Path) -> bool:
    """Whether ``path`` holds a run summary."""
    return (Path(path) / "summary.json").is_file()


def read_manifest(out: Path, key: str = "--resume") -> dict[str, Any]:
    """The manifest of a batch folder.

    Raises :class:`ConfigError` (key ``key``) when there is none, it cannot be parsed or it is
    not a JSON object.
    """
    path = Path(out) / MANIFEST
    if not path.is_file():
        raise ConfigError(key, f"{out} holds no {MANIFEST}: not a batch folder")
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ConfigError(key, f"{path} cannot be read ({exc.__class__.__name__})") from None
    if not isinstance(manifest, dict):
        raise ConfigError(key, f"{path} is not a batch manifest (not a JSON object)")
    return manifest


def write_manifest(out: Path, manifest: Mapping[str, Any]) -> None:
    """Write a batch folder's manifest atomically."""
    write_json(Path(out) / MANIFEST, dict(manifest))


def read_batch(out: str | Path) -> BatchResult:
    """Read a finished batch folder (Monte Carlo, sweep, comparison, explore or sensitivity).

    ``out`` is the folder (a string or a path). Returns a :class:`BatchResult` with

    - ``runs``: one row per run, in run-id order: ``run_id``, ``replicate``, ``seed``,
      ``scenario``, ``point``, a sweep's keys or a design's parameters, every summary outcome,
      ``error`` and ``traceback`` (missing for a run that succeeded; a failed run's outcomes
      are missing). Booleans are ``boolean``, integers ``Int64``, other numbers float64 (see
      the module's notes on dtypes);
    - ``timeseries``: one row per successful run and month, sorted by run and month:
      ``run_id``, the run's ``scenario`` (categorical), ``point`` and a sweep's keys, then the
      model frame's columns; empty when no run succeeded;
    - ``manifest``: the parsed ``manifest.json`` (how the batch was made);
    - ``out``: the folder, and ``failures``: the rows of runs that failed.

    A batch stored by an older version reads the same way: its declared boolean and integer
    columns get today's dtypes and its time series the keys, in memory (the files stay as
    they are).

    Raises :class:`ConfigError` (one line, key: the folder) when ``out`` does not exist or is
    not a folder, when it holds no ``manifest.json`` (not a batch folder: a run folder is
    named as one, to read with :func:`read_run`) or one that cannot be read, when it holds no
    ``runs.parquet`` (a batch that is still running or was stopped: resume it first), and
    when a stored file is damaged.
    """
    out = Path(out)
    key = str(out)
    if not out.exists():
        raise ConfigError(key, "does not exist")
    if not out.is_dir():
        raise ConfigError(key, "is not a folder")
    if not is_batch_dir(out) and is_run_dir(out):
        raise ConfigError(
            key, f"is a run folder, not a batch folder (no {MANIFEST}); read it with read_run"
        )
    manifest = read_manifest(out, key)
    if not (out / RUNS).is_file():
        kind = manifest.get("kind") if isinstance(manifest.get("kind"), str) else "<command>"
        raise ConfigError(
            key,
            f"holds no {RUNS}: the batch is unfinished (still running, or stopped); finish it "
            f"with agentsim {kind} --resume {out}",
        )
    runs = _read_parquet(out / RUNS)
    timeseries = _read_parquet(out / TIMESERIES) if (out / TIMESERIES).is_file() else None
    runs, timeseries = _current(runs, _frame_or_empty(timeseries), manifest)
    return BatchResult(out, runs, timeseries, manifest)


def batch_keys(manifest: Mapping[str, Any] | None) -> list[str]:
    """The runs columns that a batch's time series carries: :data:`KEY_COLUMNS`, then the keys
    of the manifest's ``grid`` (a sweep's swept keys)."""
    return list(dict.fromkeys([*KEY_COLUMNS, *grid_kinds(manifest)]))


def grid_kinds(manifest: Mapping[str, Any] | None) -> dict[str, str]:
    """The kind of each swept key of a batch (its ``grid`` in the manifest), from the Python
    types of the values it was swept over: ``restricted_months=3,9`` is an integer column in
    every batch of that grid, whichever of its runs are stored."""
    grid = (manifest or {}).get("grid")
    if not isinstance(grid, dict):
        return {}
    return {
        key: _value_kind(values if isinstance(values, list) else [values])
        for key, values in grid.items()
        if isinstance(key, str)
    }


def _frame_or_empty(frame: pd.DataFrame | None) -> pd.DataFrame:
    return frame if frame is not None else pd.DataFrame()


def is_empty_batch_dir(out: Path) -> bool:
    """Whether ``out`` is missing or holds nothing but the folder lock."""
    out = Path(out)
    return not out.exists() or all(p.name == LOCK for p in out.iterdir())


def prepare_batch_dir(out: Path) -> None:
    """Create ``out/parts`` and remove temporary files a killed writer left behind."""
    out = Path(out)
    (out / PARTS).mkdir(parents=True, exist_ok=True)
    for stale in [*out.glob(".*.tmp"), *(out / PARTS).glob(".*.tmp")]:
        stale.unlink(missing_ok=True)


@contextmanager
def batch_lock(out: Path) -> Iterator[None]:
    """Hold an exclusive lock on a batch folder (creating the folder) while the block runs.

    The lock is ``out/.lock``, holding the holder's pid, host, start time and command line.
    It is an ``flock`` where the file system supports one, so a holder that dies (even by
    SIGKILL) releases it at once; elsewhere the file itself is the lock, and a lock left by a
    dead process on this host is reclaimed. The file is removed on exit, and a folder this
    call created is removed again if the block left it empty.

    Raises :class:`ConfigError` (key ``--out``) when ``out`` is a file, and at once when a
    live process holds the lock (naming its pid and host).
    """
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise ConfigError("--out", f"{out} exists and is not a folder")
    created = not out.exists()
    out.mkdir(parents=True, exist_ok=True)
    path = out / LOCK
    fd = _acquire(path)
    try:
        yield
    finally:
        path.unlink(missing_ok=True)  # before unlocking: a waiter then sees a new inode
        os.close(fd)
        if created:
            try:
                out.rmdir()  # only if the block wrote nothing
            except OSError:
                pass


def lock_holder(out: Path) -> dict[str, Any] | None:
    """Who holds (or last held) the lock of a batch folder: ``pid``, ``host``, ``since`` and
    ``command``, or None when there is no readable lock file."""
    try:
        holder = json.loads((Path(out) / LOCK).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return holder if isinstance(holder, dict) else None


def _in_use(path: Path) -> ConfigError:
    holder = lock_holder(path.parent) or {}
    who = f"process {holder.get('pid', '?')} on {holder.get('host', '?')}"
    if holder.get("since"):
        who += f" since {holder['since']}"
    return ConfigError(
        "--out",
        f"{path.parent} is in use by another batch ({who}); wait for it to finish, or end it",
    )


def _holder_text() -> bytes:
    holder = {
        "pid": os.getpid(),
        "host": socket.gethostname(),
        "since": datetime.now().astimezone().isoformat(timespec="seconds"),
        "command": " ".join(sys.argv)[:500],
    }
    return (json.dumps(holder) + "\n").encode()


def _acquire(path: Path) -> int:
    """Take the lock file at ``path``; return its open descriptor."""
    while True:
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o666)
        try:
            if fcntl is None:
                raise OSError(errno.ENOLCK, "no flock")
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as exc:
            os.close(fd)
            if exc.errno in (errno.EAGAIN, errno.EACCES):
                raise _in_use(path) from None
            if exc.errno in (errno.ENOLCK, errno.EOPNOTSUPP, errno.ENOSYS):
                return _acquire_by_file(path)
            raise
        try:  # the holder may have removed the file between our open and our lock
            if os.fstat(fd).st_ino == os.stat(path).st_ino:
                os.ftruncate(fd, 0)
                os.write(fd, _holder_text())
                return fd
        except FileNotFoundError:
            pass
        os.close(fd)


def _acquire_by_file(path: Path) -> int:
    """The lock where the file system has no ``flock`` (some network file systems): the lock
    file exists while a batch holds it. A file left by a dead process of this host is
    reclaimed; one from another host is honoured (its process cannot be checked from here)."""
    for _ in range(3):
        try:
            fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_EXCL, 0o666)
        except FileExistsError:
            holder = lock_holder(path.parent) or {}
            pid = holder.get("pid")
            if holder.get("host") == socket.gethostname() and isinstance(pid, int):
                if not _alive(pid):
                    path.unlink(missing_ok=True)  # stale: its holder died without cleaning up
                    continue
            raise _in_use(path) from None
        os.write(fd, _holder_text())
        return fd
    raise _in_use(path)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


# --------------------------------------------------------------------------- parts


def encode_part(rows: Sequence[Mapping[str, Any]], timeseries: pd.DataFrame) -> bytes:
    """A chunk's results as the bytes of one part file.

    ``rows`` are the chunk's run rows (dicts of scalars; numpy scalars allowed), ``timeseries``
    its time series (``run_id`` first). Encoding happens where the chunk ran (a worker), so the
    process that saves it only writes bytes. Raises ``TypeError`` for a row value that is not a
    scalar, list or dict.
    """
    import pyarrow as pa
    import pyarrow.parquet as pq

    table = pa.Table.from_pandas(timeseries, preserve_index=False, nthreads=1)
    text = json.dumps(list(rows), default=_json_default, separators=(",", ":"))
    metadata = {**(table.schema.metadata or {}), _RUNS_KEY: text.encode()}
    sink = pa.BufferOutputStream()
    pq.write_table(table.replace_schema_metadata(metadata), sink)
    return sink.getvalue().to_pybytes()


def _json_default(value: Any) -> Any:
    if isinstance(value, np.generic):
        return value.item()
    raise TypeError(f"cannot store a {type(value).__name__} in a runs row")


def part_path(out: Path, first_run_id: int) -> Path:
    """Where the part whose lowest run id is ``first_run_id`` is saved."""
    return Path(out) / PARTS / f"part-{first_run_id:07d}.parquet"


def write_part(out: Path, first_run_id: int, data: bytes) -> Path:
    """Save a part (bytes from :func:`encode_part`) atomically; return its path."""
    path = part_path(out, first_run_id)
    write_bytes(path, data)
    return path


def _part_files(out: Path) -> list[Path]:
    return sorted((Path(out) / PARTS).glob("part-*.parquet"))


def _part_rows(path: Path) -> list[dict[str, Any]]:
    import pyarrow.parquet as pq

    with _readable(path):
        metadata = pq.read_schema(path).metadata or {}
        return json.loads(metadata[_RUNS_KEY])


def _read_json(path: Path) -> Any:
    """A stored JSON file, failing with a one-line error that names a damaged file."""
    with _readable(path):
        return json.loads(Path(path).read_text(encoding="utf-8"))


def _read_parquet(path: Path, **options: Any) -> pd.DataFrame:
    """``pandas.read_parquet``, failing with a one-line error that names a damaged file."""
    with _readable(path):
        return pd.read_parquet(path, **options)


@contextmanager
def _readable(path: Path) -> Iterator[None]:
    """Turn a failure to read a stored results file into a one-line :class:`ConfigError`
    naming the file: a damaged part is removed by the user and its runs run again on resume."""
    import pyarrow as pa

    try:
        yield
    except (OSError, ValueError, KeyError, TypeError, pa.ArrowException) as exc:
        reason = f"{exc.__class__.__name__}: {exc}".splitlines()[0]
        reason = reason if len(reason) <= 160 else reason[:157] + "..."
        if Path(path).parent.name == PARTS:
            raise ConfigError(
                str(path),
                f"cannot be read ({reason}); remove it and resume again to run its runs again "
                f"(rm '{path}', then --resume the folder)",
            ) from None
        raise ConfigError(str(path), f"cannot read stored results ({reason})") from None


def completed_run_ids(out: Path) -> set[int]:
    """Run ids already saved in ``out`` (in part files or the gathered runs file)."""
    done: set[int] = set()
    for path in _part_files(out):
        done.update(int(row["run_id"]) for row in _part_rows(path))
    gathered = Path(out) / RUNS
    if gathered.is_file():
        done.update(_read_parquet(gathered, columns=["run_id"])["run_id"].tolist())
    return done


def _missing(value: Any) -> bool:
    return value is None or value is pd.NA or (isinstance(value, float) and math.isnan(value))


_NUMBER_TYPES = (bool, int, float, np.bool_, np.number)


def declared_kind(name: str) -> str | None:
    """The kind (``"bool"``, ``"int"`` or ``"text"``) that a runs column always has, or None
    when its values decide (see the module's notes on dtypes)."""
    if name in TEXT_COLUMNS:
        return "text"
    if name in BOOLEAN_COLUMNS:
        return "bool"
    if name in INTEGER_COLUMNS or any(
        prefix.endswith("_") and name.startswith(prefix) for prefix in INTEGER_COLUMNS
    ):
        return "int"
    return None


def _value_kind(values: Sequence[Any]) -> str:
    """The kind of a column from the Python types of its values (missing values aside)."""
    types = {type(v) for v in values if not _missing(v)}
    if not types:
        return "float"
    if all(issubclass(t, bool | np.bool_) for t in types):
        return "bool"
    if all(issubclass(t, int | np.integer) and not issubclass(t, bool) for t in types):
        return "int"
    if all(issubclass(t, _NUMBER_TYPES) for t in types):
        return "float"
    return "text"


def _as_kind(values: Sequence[Any], kind: str) -> Any:
    """``values`` as an array of ``kind`` (missing values as NA, NaN for floats).

    Raises ``ValueError`` for a value the kind cannot hold exactly: a boolean column takes
    booleans and the numbers 0 and 1 (as older batches stored them), an integer column
    integers and whole floats (not booleans), a float column numbers.
    """

    def check(ok: Callable[[Any], bool]) -> None:
        for v in values:
            if not _missing(v) and not ok(v):
                raise ValueError(f"{v!r} is not a {kind}")

    number = _NUMBER_TYPES
    if kind == "bool":
        check(lambda v: isinstance(v, bool | np.bool_) or (isinstance(v, number) and v in (0, 1)))
        return pd.array([None if _missing(v) else bool(v) for v in values], dtype="boolean")
    if kind == "int":
        check(
            lambda v: (
                (isinstance(v, int | np.integer) and not isinstance(v, bool))
                or (isinstance(v, float | np.floating) and float(v).is_integer())
            )
        )
        return pd.array([None if _missing(v) else int(v) for v in values], dtype="Int64")
    if kind == "float":
        check(lambda v: isinstance(v, number))
        return np.array([math.nan if _missing(v) else float(v) for v in values], dtype=np.float64)
    return pd.array([None if _missing(v) else str(v) for v in values], dtype="string")


def typed_column(name: str, values: Sequence[Any], kind: str | None = None) -> Any:
    """The values of runs column ``name`` as an array of its dtype (see the module's notes).

    The declared kind (:func:`declared_kind`) wins, then ``kind`` (a swept key's, from the
    plan's values: :func:`grid_kinds`); a value it cannot hold (text in an integer column,
    say, from a hand-made file) makes the values decide, and text holds anything.
    """
    first = declared_kind(name) or kind
    for candidate in dict.fromkeys([first, _value_kind(values), "text"]):
        if candidate is None:
            continue
        try:
            return _as_kind(values, candidate)
        except (TypeError, ValueError, OverflowError):
            continue
    raise AssertionError("text holds any value")  # pragma: no cover


def runs_frame(
    rows: Iterable[Mapping[str, Any]], kinds: Mapping[str, str] | None = None
) -> pd.DataFrame:
    """The runs table: one row per run, sorted by ``run_id``, with dtypes by the module's rules.

    Columns: ``run_id``, ``replicate``, ``seed`` (int64), then the other keys in order of first
    appearance, then ``error`` and ``traceback`` (text, missing for runs that did not fail).
    Each other column is typed by :func:`typed_column` (with its kind in ``kinds``, if any):
    booleans ``boolean``, integers ``Int64``, other numbers float64 (NaN where missing), text
    ``string``; a value missing from a row (a failed run's outcomes) is missing. The same rows
    give the same frame in any order or grouping.
    """
    kinds = kinds or {}
    rows = sorted(rows, key=lambda row: int(row["run_id"]))
    names: dict[str, None] = dict.fromkeys(ID_COLUMNS)
    for row in rows:
        names.update(dict.fromkeys(row))
    for name in ("error", "traceback"):
        names.pop(name, None)
        names[name] = None
    columns: dict[str, Any] = {}
    for name in names:
        values = [row.get(name) for row in rows]
        if name in ID_COLUMNS:
            columns[name] = np.array(values, dtype=np.int64)
        else:
            columns[name] = typed_column(name, values, kinds.get(name))
    return pd.DataFrame(columns, index=pd.RangeIndex(len(rows)))


def _records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    """Rows of a stored runs frame as dicts (missing values as None)."""
    return [
        {k: (None if _missing(v) else v) for k, v in row.items()}
        for row in frame.to_dict("records")
    ]


def _current(
    runs: pd.DataFrame, timeseries: pd.DataFrame, manifest: Mapping[str, Any] | None
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Stored results in today's layout: runs columns of a known kind (declared, or a swept
    key's) in its dtype, as a batch of an older version did not store them (booleans and
    integers as float64), and the batch's keys in the time series. Frames already in that
    layout come back as they are."""
    kinds = grid_kinds(manifest)
    changed = {}
    for name in runs.columns:
        kind = declared_kind(name) or kinds.get(name)
        if kind is not None and name not in ID_COLUMNS and runs[name].dtype != DTYPES[kind]:
            changed[name] = typed_column(name, runs[name].tolist(), kind)
    if changed:
        runs = runs.assign(**changed)
    return runs, with_keys(timeseries, runs, batch_keys(manifest))


def with_keys(timeseries: pd.DataFrame, runs: pd.DataFrame, keys: Sequence[str]) -> pd.DataFrame:
    """``timeseries`` with each of ``keys`` (columns of ``runs``) right after ``run_id``, taken
    from each row's run: ``scenario`` categorical (categories in run-id order), the others in
    their runs dtype. Keys the runs lack are skipped; a key already in the time series is
    replaced (missing for a row whose run is not in ``runs``)."""
    keys = [key for key in dict.fromkeys(keys) if key in runs.columns and key != "run_id"]
    if timeseries.empty or "run_id" not in timeseries.columns or not keys:
        return timeseries
    present = [key for key in keys if key in timeseries.columns]
    if present == keys and list(timeseries.columns[1 : len(keys) + 1]) == keys:
        return timeseries  # already carries them (a batch gathered by this version)
    series = timeseries.drop(columns=present)
    by_run = runs.drop_duplicates("run_id").set_index("run_id")[keys]
    taken = by_run.reindex(series["run_id"].to_numpy()).reset_index(drop=True)
    taken.index = series.index
    if "scenario" in taken:
        order = pd.unique(runs.sort_values("run_id")["scenario"].dropna().astype(object))
        taken["scenario"] = pd.Categorical(taken["scenario"].astype(object), categories=order)
    position = list(series.columns).index("run_id") + 1
    return pd.concat([series.iloc[:, :position], taken, series.iloc[:, position:]], axis=1)


def gather(out: Path) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Merge part files (and earlier gathered files) into ``runs.parquet`` and
    ``timeseries.parquet``, then remove ``parts/``.

    Returns ``(runs, timeseries)``: runs as :func:`runs_frame` builds them, time series sorted
    by ``run_id`` and ``step``, carrying each run's keys after ``run_id`` (:func:`with_keys`:
    ``scenario``, ``point`` and the keys of the manifest's grid, when the folder has a
    manifest; a swept key is typed by the values of the grid: :func:`grid_kinds`). A run
    saved twice (a part and the gathered file) appears once. With no parts, existing gathered
    files are left as they are and returned as :func:`read_batch` reads them.
    """
    import pyarrow as pa
    import pyarrow.parquet as pq

    out = Path(out)
    manifest = read_manifest(out) if is_batch_dir(out) else None
    keys = batch_keys(manifest)
    parts = _part_files(out)
    if not parts and (out / RUNS).is_file():  # already gathered: nothing to merge
        timeseries = _read_parquet(out / TIMESERIES) if (out / TIMESERIES).is_file() else None
        shutil.rmtree(out / PARTS, ignore_errors=True)
        return _current(_read_parquet(out / RUNS), _frame_or_empty(timeseries), manifest)
    rows: list[dict[str, Any]] = []
    tables = []
    for path in parts:
        with _readable(path):
            table = pq.ParquetFile(path).read(use_threads=False)
            rows += json.loads((table.schema.metadata or {})[_RUNS_KEY])
        if table.num_rows:
            metadata = {k: v for k, v in table.schema.metadata.items() if k != _RUNS_KEY}
            # the keys come from the runs table below, whatever a part held
            table = table.drop_columns([key for key in keys if key in table.column_names])
            tables.append(table.replace_schema_metadata(metadata))
    series = [pa.concat_tables(tables, promote_options="default").to_pandas()] if tables else []
    if (out / RUNS).is_file():
        rows += _records(_read_parquet(out / RUNS))
    if (out / TIMESERIES).is_file():
        series.append(_read_parquet(out / TIMESERIES))
    unique = {int(row["run_id"]): row for row in reversed(rows)}  # a part wins over older files
    runs = runs_frame(unique.values(), grid_kinds(manifest))
    nonempty = [frame.drop(columns=keys, errors="ignore") for frame in series if len(frame)]
    timeseries = (
        pd.concat(nonempty, ignore_index=True)
        .drop_duplicates(["run_id", "step"])
        .sort_values(["run_id", "step"], kind="stable")
        .reset_index(drop=True)
        if nonempty
        else pd.DataFrame()
    )
    timeseries = with_keys(timeseries, runs, keys)
    write_parquet(out / RUNS, runs)
    write_parquet(out / TIMESERIES, timeseries)
    shutil.rmtree(out / PARTS, ignore_errors=True)
    return runs, timeseries

"""Result storage: the only place that writes results, always atomically.

Every file is written under a temporary name in its destination folder and renamed into place,
so a crash never leaves a half-written file; a run folder is assembled in a temporary sibling
and swapped in whole, so an existing run is never mixed with a new one.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

import pandas as pd

from agentsim.config import ConfigError
from agentsim.run import RunResult
from agentsim.scenario_io import dump_config

RUN_FILES = (
    "model.parquet",
    "labs.parquet",
    "summary.json",
    "flows.csv",
    "config.yaml",
    "network.parquet",
)


def atomic_write(path: Path, write: Callable[[Path], None]) -> None:
    """Call ``write(tmp)`` on a temporary file beside ``path``, then rename it to ``path``."""
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


def write_text(path: Path, text: str) -> None:
    """Write text atomically."""
    atomic_write(path, lambda tmp: tmp.write_text(text, encoding="utf-8"))


def write_json(path: Path, data: Any) -> None:
    """Write JSON atomically (NaN written as null)."""
    write_text(path, json.dumps(_jsonable(data), indent=2) + "\n")


def write_parquet(path: Path, frame: pd.DataFrame) -> None:
    """Write a data frame to Parquet atomically."""
    atomic_write(path, lambda tmp: frame.to_parquet(tmp, index=False))


def _jsonable(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, float) and value != value:
        return None
    if hasattr(value, "item"):
        return value.item()
    return value


def default_run_dir(config_name: str, seed: int, root: Path = Path("results")) -> Path:
    """A new folder under ``root`` named after the scenario, the time and the seed."""
    stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
    base = root / f"{config_name}_{stamp}_seed{seed}"
    candidate, n = base, 1
    while candidate.exists():
        n += 1
        candidate = base.with_name(f"{base.name}_{n}")
    return candidate


def check_run_dir(out: Path, overwrite: bool) -> None:
    """Refuse to replace an existing run unless asked to (raises :class:`ConfigError`)."""
    if out.exists() and not out.is_dir():
        raise ConfigError("--out", f"{out} exists and is not a folder")
    if out.is_dir() and any(out.iterdir()) and not overwrite:
        raise ConfigError("--out", f"{out} is not empty; choose another folder or pass --overwrite")


def write_run(
    result: RunResult,
    out: Path,
    overwrite: bool = False,
    extras: Callable[[Path], None] | None = None,
) -> Path:
    """Write a run's files to ``out`` (see :data:`RUN_FILES`); ``extras(tmpdir)`` may add more.

    The folder is built in a temporary sibling and renamed into place; with ``overwrite`` an
    existing folder is swapped out only after the new one is complete.
    """
    out = Path(out)
    check_run_dir(out, overwrite)
    out.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{out.name}.", suffix=".tmp", dir=out.parent))
    os.chmod(staging, 0o777 & ~_umask())
    try:
        write_parquet(staging / "model.parquet", result.model_frame)
        write_parquet(staging / "labs.parquet", result.lab_frame)
        write_json(staging / "summary.json", result.summary)
        atomic_write(staging / "flows.csv", lambda tmp: result.flows.to_csv(tmp))
        write_text(staging / "config.yaml", dump_config(result.config))
        write_parquet(staging / "network.parquet", result.network)
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
    """Read a stored run: frames, summary, flows and the resolved config text."""
    path = Path(path)
    missing = [name for name in RUN_FILES if not (path / name).is_file()]
    if missing:
        raise ConfigError(str(path), f"is not a run folder (missing {', '.join(missing)})")
    return {
        "model": pd.read_parquet(path / "model.parquet"),
        "labs": pd.read_parquet(path / "labs.parquet"),
        "summary": json.loads((path / "summary.json").read_text(encoding="utf-8")),
        "flows": pd.read_csv(path / "flows.csv", index_col=0),
        "config": (path / "config.yaml").read_text(encoding="utf-8"),
        "network": pd.read_parquet(path / "network.parquet"),
    }

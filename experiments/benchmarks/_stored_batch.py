"""What the benchmarks of a stored batch (the explorer's and the report's) share: their
options, the batch they reuse or make in a scratch folder that is removed at the end, and
the printing of their figures against their targets (and to JSON)."""

from __future__ import annotations

import argparse
import contextlib
import json
import shutil
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path


def options(description: str, runs: int) -> argparse.Namespace:
    """The command line: --runs (default ``runs``), --workers, --repeats, --batch, --json."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--runs", type=int, default=runs)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--batch", type=Path, default=None, help="Reuse (or make) this folder.")
    parser.add_argument("--json", type=Path, default=None)
    return parser.parse_args()


@contextlib.contextmanager
def scratch_batch(
    args: argparse.Namespace,
    name: str,
    make: Callable[[Path, int, int], float],
    made: str,
) -> Iterator[tuple[Path, Path]]:
    """(a scratch folder, the batch): ``args.batch`` when it holds a finished batch, else one
    made by ``make(folder, runs, workers)`` (which returns its seconds) into ``args.batch`` or
    the scratch folder's ``name``; ``made`` says what ``runs`` counts. The scratch folder is
    removed at the end."""
    scratch = Path(tempfile.mkdtemp(prefix=f"bench_{name}."))
    try:
        batch = args.batch or scratch / name
        if not (batch / "runs.parquet").is_file():
            seconds = make(batch, args.runs, args.workers)
            print(f"made {batch} ({args.runs} {made}) in {seconds:.1f} s")
        yield scratch, batch
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def report(
    results: dict[str, float], targets: dict[str, tuple[str, float]], to_json: Path | None
) -> None:
    """Print each figure (seconds or KiB), with its target met or not, and write them to
    ``to_json`` when given."""
    for key, value in results.items():
        rule = targets.get(key)
        verdict = ""
        if rule is not None:
            op, bound = rule
            ok = value <= bound if op == "<=" else value >= bound
            verdict = f"  (target {op} {bound}: {'met' if ok else 'NOT met'})"
        print(f"{key:>14}: {value:.2f}{verdict}")
    if to_json is not None:
        to_json.write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")

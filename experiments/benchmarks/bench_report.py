"""Time ``agentsim report`` on a 40-run comparison of the shipped scenarios.

Makes the comparison once (baseline against trusted release, 40 paired seeds, the default
horizon, on WORKERS workers; or reuses ``--batch DIR`` when it holds one), then prints, against
its target:

- ``report_s``: wall time of ``agentsim report DIR --out FILE`` in a fresh process, start-up
  included, as a user runs it (target <= 5 s);
- ``in_process_s``: :func:`agentsim.report.write_report` called in a process that has
  already imported the report's modules (tables, figures), so the drawing and the tables
  alone;
- ``report_kib``: the size of the HTML file.

Each timing is the best of ``--repeats``. The batch folder is left as it was (the report goes
to a temporary file), and a temporary batch is removed at the end.

    .venv/bin/python experiments/benchmarks/bench_report.py [--runs 40] [--workers 2]
        [--repeats 3] [--batch DIR] [--json OUT]
"""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

from _stored_batch import options, report, scratch_batch

ROOT = Path(__file__).resolve().parents[2]
CONFIGS = ROOT / "configs"
TARGETS = {"report_s": ("<=", 5.0)}


def make_comparison(out: Path, runs: int, workers: int) -> float:
    """Run ``agentsim compare`` of the baseline and trusted release into ``out``; seconds."""
    start = time.perf_counter()
    subprocess.run(
        [
            sys.executable, "-m", "agentsim.cli", "compare",
            str(CONFIGS / "baseline.yaml"), str(CONFIGS / "trusted_release.yaml"),
            "--runs", str(runs), "--workers", str(workers), "--out", str(out),
        ],
        check=True, cwd=ROOT, stdout=subprocess.DEVNULL,
    )  # fmt: skip
    return time.perf_counter() - start


def timed_report(batch: Path, target: Path) -> float:
    """Seconds of ``agentsim report`` in a fresh process."""
    start = time.perf_counter()
    subprocess.run(
        [sys.executable, "-m", "agentsim.cli", "report", str(batch), "--out", str(target)],
        check=True, cwd=ROOT, stdout=subprocess.DEVNULL,
    )  # fmt: skip
    return time.perf_counter() - start


def main() -> None:
    """Measure, print the figures against their targets and (with --json) write them."""
    args = options(__doc__.splitlines()[0], runs=40)
    with scratch_batch(args, "comparison", make_comparison, "runs per scenario") as (
        scratch,
        batch,
    ):
        target = scratch / "report.html"
        best = min(timed_report(batch, target) for _ in range(args.repeats))

        from agentsim.report import write_report

        write_report(batch, target)  # imports everything once
        in_process = float("inf")
        for _ in range(args.repeats):
            start = time.perf_counter()
            write_report(batch, target)
            in_process = min(in_process, time.perf_counter() - start)
        results = {
            "report_s": best,
            "in_process_s": in_process,
            "report_kib": target.stat().st_size / 1024,
        }
    report(results, TARGETS, args.json)


if __name__ == "__main__":
    main()

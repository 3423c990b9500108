"""Time Monte Carlo batches of the baseline and the command line's start-up, as ratios.

Prints, against its target:

- batch overhead per run: wall time of a batch on the in-process executor over the time of
  bare ``run()`` calls of the same runs, minus 1 (target <= 0.03);
- throughput of RUNS baseline runs on a process pool of WORKERS workers, pool start-up
  included (target >= 20 runs/s);
- parallel efficiency: in-process time over WORKERS x the pool's time (target >= 0.9);
- start-up of ``agentsim --help`` and ``agentsim validate configs/baseline.yaml``, each in a
  fresh process, and whether either imported mesa, matplotlib, scipy or dask (target
  <= 0.4 s, none).

Each timing is the best of ``--repeats`` (the bare runs and the batches alternate, and take
turns going first, so a busy machine or an ageing process slows both alike); the overhead is
also given in CPU time of this process, which other processes on the machine hardly disturb,
and as the time the batch spends outside ``run()``, which does not depend on run-to-run
variation of the model's own time. ``--full`` adds a Dask LocalCluster batch and worker
memory over a batch of ``--big`` runs.

    .venv/bin/python experiments/benchmarks/bench_montecarlo.py [--runs 200] [--workers 2]
        [--repeats 4] [--full] [--big 1000] [--json OUT]
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import psutil

from agentsim import ensemble, store
from agentsim.ensemble import plan_monte_carlo, run_batch
from agentsim.executors import DaskCluster, InProcess, ProcessPool
from agentsim.run import run
from agentsim.scenario_io import config_to_dict, load_config, validate_config

ROOT = Path(__file__).resolve().parents[2]
BASELINE = ROOT / "configs" / "baseline.yaml"
HEAVY = ("mesa", "matplotlib", "scipy", "dask")
TARGETS = {
    "overhead_per_run": ("<=", 0.03),
    "runs_per_s": (">=", 20.0),
    "efficiency": (">=", 0.9),
    "help_s": ("<=", 0.4),
    "validate_s": ("<=", 0.4),
}


def timed_batch(plan, executor, sample_memory: bool = False) -> tuple[float, float, list[float]]:
    """Wall and CPU time (this process) of one batch into a fresh folder, and worker memory
    (MiB, summed over the worker processes) sampled every 0.5 s when asked."""
    out = Path(tempfile.mkdtemp(prefix="agentsim-bench-"))
    samples: list[float] = []
    stop = threading.Event()

    def sample() -> None:
        me = psutil.Process(os.getpid())
        while not stop.wait(0.5):
            children = me.children(recursive=True)
            samples.append(sum(c.memory_info().rss for c in children if c.is_running()) / 2**20)

    watcher = threading.Thread(target=sample, daemon=True)
    start, cpu = time.perf_counter(), time.process_time()
    try:
        with executor:  # workers start before the sampling thread does
            if sample_memory:
                watcher.start()
            run_batch(plan, out / "batch", executor)
    finally:
        elapsed, cpu = time.perf_counter() - start, time.process_time() - cpu
        stop.set()
        shutil.rmtree(out, ignore_errors=True)
    return elapsed, cpu, samples


class RunClock:
    """Adds up the wall time spent inside ``run()`` by in-process batches (wraps the function
    the batch calls, while in use as a context manager)."""

    def __init__(self) -> None:
        self.seconds = 0.0
        self._original = ensemble.run_model

    def __enter__(self) -> RunClock:
        def clocked(*args, **kwargs):
            start = time.perf_counter()
            try:
                return self._original(*args, **kwargs)
            finally:
                self.seconds += time.perf_counter() - start

        ensemble.run_model = clocked
        return self

    def __exit__(self, *exc: object) -> None:
        ensemble.run_model = self._original


def timed_bare(plan) -> tuple[float, float]:
    """Wall and CPU time of ``run()`` for every run of the plan, one after another, nothing
    stored."""
    config = validate_config(next(iter(plan.configs.values())))
    start, cpu = time.perf_counter(), time.process_time()
    for spec in plan.specs:
        run(config, seed=spec.seed)
    return time.perf_counter() - start, time.process_time() - cpu


def command_start(args: list[str], repeats: int = 5) -> tuple[float, list[str]]:
    """Median wall time of ``agentsim ARGS`` in a fresh process, and the heavy modules that
    the same command imports (checked in one more process)."""
    script = Path(sys.executable).parent / "agentsim"
    command = [str(script)] if script.is_file() else [sys.executable, "-m", "agentsim.cli"]
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        subprocess.run([*command, *args], capture_output=True, check=True, cwd=ROOT)
        times.append(time.perf_counter() - start)
    probe = (
        "import sys\nfrom agentsim.cli import app\n"
        f"try:\n    app({args!r})\nexcept SystemExit:\n    pass\n"
        f"print('HEAVY=' + ','.join(m for m in {HEAVY!r} if m in sys.modules))"
    )
    out = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True, cwd=ROOT
    )
    last = out.stdout.splitlines()[-1].removeprefix("HEAVY=")
    heavy = [m for m in last.split(",") if m]
    return statistics.median(times), heavy


def verdict(name: str, value: float) -> str:
    """``ok`` or ``MISSED`` against the target of ``name``."""
    op, target = TARGETS[name]
    met = value <= target if op == "<=" else value >= target
    return f"(target {op} {target:g}: {'ok' if met else 'MISSED'})"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=200, help="runs per timed batch")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=4)
    parser.add_argument("--full", action="store_true", help="also Dask and worker memory")
    parser.add_argument("--big", type=int, default=1000, help="runs of the memory batch")
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args()
    config = config_to_dict(load_config(BASELINE))
    plan = plan_monte_carlo(config, args.runs, 0)
    run(validate_config(config), seed=0)  # warm caches and lazy imports before timing

    bare, in_process, pool, bare_cpu, in_process_cpu, outside = [], [], [], [], [], []
    for repeat in range(args.repeats):
        # alternate which goes first: a process slows a little as it ages, which would
        # otherwise always be charged to the same side
        for side in ("bare", "batch") if repeat % 2 == 0 else ("batch", "bare"):
            if side == "bare":
                wall, cpu = timed_bare(plan)
                bare.append(wall)
                bare_cpu.append(cpu)
                continue
            with RunClock() as clock:
                wall, cpu, _ = timed_batch(plan, InProcess())
            in_process.append(wall)
            in_process_cpu.append(cpu)
            outside.append((wall - clock.seconds) / clock.seconds)
        pool.append(timed_batch(plan, ProcessPool(args.workers))[0])
    t_bare, t_one, t_pool = min(bare), min(in_process), min(pool)
    cpu_overhead = min(in_process_cpu) / min(bare_cpu) - 1
    outside_run = statistics.median(outside)
    help_s, help_heavy = command_start(["--help"])
    validate_s, validate_heavy = command_start(["validate", str(BASELINE)])
    results: dict[str, object] = {
        "runs": args.runs,
        "workers": args.workers,
        "cores": os.cpu_count() or 0,
        "bare_run_ms": 1000 * t_bare / args.runs,
        "bare_s": bare,
        "in_process_s": in_process,
        "pool_s": pool,
        "overhead_per_run": t_one / t_bare - 1,
        "overhead_per_run_cpu": cpu_overhead,
        "outside_run_per_run": outside_run,
        "runs_per_s": args.runs / t_pool,
        "efficiency": t_one / (args.workers * t_pool),
        "help_s": help_s,
        "validate_s": validate_s,
        "help_heavy_imports": help_heavy,
        "validate_heavy_imports": validate_heavy,
    }
    print(f"baseline, {args.runs} runs, best of {args.repeats}; {results['cores']} cores")
    print(f"  bare run(): {results['bare_run_ms']:.1f} ms a run ({t_bare:.2f} s)")
    print(
        f"  batch overhead per run (in-process {t_one:.2f} s vs bare): "
        f"{results['overhead_per_run']:+.3f} {verdict('overhead_per_run', t_one / t_bare - 1)}; "
        f"in CPU time of this process {cpu_overhead:+.3f}"
    )
    print(
        f"    of which outside run() (the batch's own work, measured inside the batch): "
        f"{outside_run:+.3f} ({1000 * outside_run * t_bare / args.runs:.2f} ms a run)"
    )
    print(
        f"  {args.workers} workers (process pool, start-up included): {t_pool:.2f} s, "
        f"{results['runs_per_s']:.1f} runs/s {verdict('runs_per_s', args.runs / t_pool)}"
    )
    print(
        f"  parallel efficiency, {args.workers} workers vs 1: {results['efficiency']:.2f} "
        f"{verdict('efficiency', t_one / (args.workers * t_pool))}"
    )
    for label, key, heavy in (
        ("agentsim --help", "help_s", help_heavy),
        ("agentsim validate", "validate_s", validate_heavy),
    ):
        value = float(results[key])  # type: ignore[arg-type]
        print(
            f"  {label}: {value:.2f} s {verdict(key, value)}; heavy imports: "
            f"{', '.join(heavy) or 'none'}"
        )

    if args.full:
        big = plan_monte_carlo(config, args.big, 0)
        dask_s, _, _ = timed_batch(plan, DaskCluster("local", args.workers))
        big_s, _, memory = timed_batch(big, ProcessPool(args.workers), sample_memory=True)
        results.update(
            {
                "dask_local_s": dask_s,
                "dask_over_pool": dask_s / t_pool,
                f"pool_{args.big}_s": big_s,
                "worker_memory_mib_first_last_max": [memory[0], memory[-1], max(memory)]
                if memory
                else [],
            }
        )
        print(f"  Dask LocalCluster: {dask_s:.2f} s ({dask_s / t_pool:.2f}x the process pool)")
        print(f"  {args.big} runs on the pool: {big_s:.1f} s ({args.big / big_s:.1f} runs/s)")
        if memory:
            print(
                f"  worker memory (all workers, MiB): first {memory[0]:.0f}, last "
                f"{memory[-1]:.0f}, max {max(memory):.0f} over {len(memory)} samples"
            )
    if args.json:
        store.write_json(args.json, results)


if __name__ == "__main__":
    main()

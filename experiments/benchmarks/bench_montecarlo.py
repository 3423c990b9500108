"""Time Monte Carlo batches of the baseline: 1,000 runs on 2 workers, throughput per worker,
efficiency of 2 workers against 1, Dask LocalCluster against the process pool, and worker
memory over the batch.

    .venv/bin/python experiments/benchmarks/bench_montecarlo.py [--runs 1000] [--small 200]
        [--workers 2] [--json OUT]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import tempfile
import threading
import time
from pathlib import Path

import psutil

from agentsim.executors import DaskCluster, InProcess, ProcessPool
from agentsim.montecarlo import plan_monte_carlo, run_batch
from agentsim.scenario_io import config_to_dict, load_config

ROOT = Path(__file__).resolve().parents[2]


def timed(plan, executor, sample_memory: bool = False) -> tuple[float, list[float]]:
    """Wall time of one batch, and worker memory (MiB, summed) sampled every 0.5 s."""
    out = Path(tempfile.mkdtemp(prefix="agentsim-bench-"))
    samples: list[float] = []
    stop = threading.Event()

    def sample() -> None:
        me = psutil.Process(os.getpid())
        while not stop.wait(0.5):
            children = me.children(recursive=True)
            samples.append(sum(c.memory_info().rss for c in children if c.is_running()) / 2**20)

    watcher = threading.Thread(target=sample, daemon=True)
    if sample_memory:
        watcher.start()
    start = time.perf_counter()
    try:
        run_batch(plan, out / "batch", executor)
    finally:
        elapsed = time.perf_counter() - start
        stop.set()
        shutil.rmtree(out, ignore_errors=True)
    return elapsed, samples


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=1000)
    parser.add_argument("--small", type=int, default=200, help="runs for the ratio measurements")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args()
    config = config_to_dict(load_config(ROOT / "configs" / "baseline.yaml"))
    big, small = plan_monte_carlo(config, args.runs, 0), plan_monte_carlo(config, args.small, 0)

    results: dict[str, float | list[float] | int] = {
        "workers": args.workers,
        "cores": os.cpu_count() or 0,
    }
    one, _ = timed(small, InProcess())
    pool_small, _ = timed(small, ProcessPool(args.workers))
    dask_small, _ = timed(small, DaskCluster("local", args.workers))
    pool_big, memory = timed(big, ProcessPool(args.workers), sample_memory=True)
    results.update(
        {
            f"in_process_{args.small}_s": one,
            f"pool_{args.small}_s": pool_small,
            f"dask_local_{args.small}_s": dask_small,
            f"pool_{args.runs}_s": pool_big,
            "runs_per_s_per_worker": args.runs / pool_big / args.workers,
            "efficiency_vs_1_worker": one / (args.workers * pool_small),
            "dask_over_pool": dask_small / pool_small,
            "worker_memory_mib_first_last_max": [memory[0], memory[-1], max(memory)]
            if memory
            else [],
        }
    )
    print(
        f"{args.runs} runs, {args.workers} workers (process pool): {pool_big:.1f} s wall, "
        f"{results['runs_per_s_per_worker']:.2f} runs/s per worker"
    )
    print(
        f"{args.small} runs: in-process {one:.1f} s, pool {pool_small:.1f} s "
        f"(efficiency {results['efficiency_vs_1_worker']:.2f}), Dask LocalCluster "
        f"{dask_small:.1f} s ({results['dask_over_pool']:.2f}x the pool)"
    )
    if memory:
        print(
            f"worker memory (all workers, MiB): first {memory[0]:.0f}, last {memory[-1]:.0f}, "
            f"max {max(memory):.0f} over {len(memory)} samples"
        )
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()

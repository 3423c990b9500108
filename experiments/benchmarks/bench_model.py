"""Time the model: one default run (5,000 researchers, 100 investors, all labs, 60 steps) and
runs with 20,000 and 100,000 researchers. Reports build and step time separately (median of
repeats), per-step cost, and the cost ratio per researcher against the default.

    .venv/bin/python experiments/benchmarks/bench_model.py [--repeats 5] [--json OUT]
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import time
from pathlib import Path

from agentsim import AIRaceModel, load_config
from agentsim.run import collect

ROOT = Path(__file__).resolve().parents[2]


def time_run(n_researchers: int, seed: int) -> tuple[float, float, float]:
    cfg = load_config(
        ROOT / "configs" / "baseline.yaml", overrides={"talent.n_researchers": n_researchers}
    )
    t0 = time.perf_counter()
    model = AIRaceModel(cfg, rng=seed)
    t1 = time.perf_counter()
    for _ in range(cfg.simulation.steps):
        model.step()
    t2 = time.perf_counter()
    collect(model)
    t3 = time.perf_counter()
    return t1 - t0, t2 - t1, t3 - t2


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--json", type=Path, default=None, help="write the figures here")
    args = parser.parse_args()
    sizes = (5_000, 20_000, 100_000)
    rows = []
    time_run(1_000, 0)  # warm imports and caches
    for n in sizes:
        repeats = args.repeats if n <= 20_000 else max(2, args.repeats // 2)
        samples = [time_run(n, seed) for seed in range(repeats)]
        build = statistics.median(s[0] for s in samples)
        step = statistics.median(s[1] for s in samples)
        tables = statistics.median(s[2] for s in samples)
        rows.append(
            {
                "researchers": n,
                "build_s": build,
                "steps_s": step,
                "collect_s": tables,
                "total_s": build + step + tables,
                "ms_per_step": 1e3 * step / 60,
            }
        )
    base = rows[0]
    print(
        f"python {platform.python_version()} on {platform.machine()}, "
        f"median of {args.repeats} runs (100,000: {max(2, args.repeats // 2)})"
    )
    print(
        f"{'researchers':>11} {'build s':>8} {'60 steps s':>10} {'tables s':>8} "
        f"{'total s':>8} {'ms/step':>8} {'cost/researcher vs 5k':>22}"
    )
    for row in rows:
        ratio = (row["total_s"] / row["researchers"]) / (base["total_s"] / base["researchers"])
        row["per_researcher_ratio"] = ratio
        print(
            f"{row['researchers']:>11,} {row['build_s']:>8.3f} {row['steps_s']:>10.3f} "
            f"{row['collect_s']:>8.3f} {row['total_s']:>8.3f} {row['ms_per_step']:>8.2f} "
            f"{ratio:>22.2f}"
        )
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(rows, indent=2))


if __name__ == "__main__":
    main()

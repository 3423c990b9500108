"""Time the model: the default run, a pure-Mesa reference of the same size, scaling and memory.

Reports (median CPU time of repeats, this process only):

- one default run (60 steps, 5,000 researchers): build, steps and tables;
- the ratio of 120 steps of agentsim to 120 steps of a same-size pure-Mesa model, built here:
  every lab, investor and researcher a plain Mesa agent whose ``step`` does the same kind of
  work in Python (researchers search for jobs, investors re-weight portfolios, labs grow),
  activated with ``AgentSet.shuffle_do`` (target <= 0.08);
- 500,000 researchers: run time and peak resident memory of a fresh process (targets <= 2 s,
  <= 400 MiB);
- the cost slopes in researchers, labs and investors from least-squares fits (cost should be
  linear: the fit's R^2 is printed).

    .venv/bin/python experiments/benchmarks/bench_model.py [--repeats 5] [--json OUT]
"""

from __future__ import annotations

import argparse
import json
import math
import platform
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

import mesa
import numpy as np

from agentsim import AIRaceModel
from agentsim.run import collect
from agentsim.scenario_io import Replace, load_config

DEFAULT_STEPS = 60


def cpu() -> float:
    """CPU seconds used by this process."""
    return time.process_time()


def time_run(overrides: dict, seed: int, steps: int = DEFAULT_STEPS) -> tuple[float, float, float]:
    """(build, steps, tables) CPU seconds of one run of the baseline with ``overrides``."""
    cfg = load_config(None, overrides={"simulation.steps": steps, **overrides})
    t0 = cpu()
    model = AIRaceModel(cfg, rng=seed)
    t1 = cpu()
    for _ in range(steps):
        model.step()
    t2 = cpu()
    collect(model)
    t3 = cpu()
    return t1 - t0, t2 - t1, t3 - t2


# --------------------------------------------------------------------------- reference model


class RefLab(mesa.Agent):
    """A lab of the reference model: capability grows with staff, cash with users, pays wages."""

    def __init__(self, model: RefModel) -> None:
        super().__init__(model)
        self.capability = 26.0 + model.random.random()
        self.cash = 1e9
        self.pay_scale = 3e5
        self.human_capital = 0.0
        self.wage_bill = 0.0

    def step(self) -> None:
        """Grow capability from last month's staff; earn; reset the month's sums."""
        growth = (1 + self.human_capital / 400) ** 0.5 * self.model.random.lognormvariate(0, 0.3)
        self.capability += 0.04 * growth
        self.cash += 1e6 * self.capability - self.wage_bill
        self.human_capital = 0.0
        self.wage_bill = 0.0


class RefInvestor(mesa.Agent):
    """An investor of the reference model: a softmax portfolio over labs."""

    def __init__(self, model: RefModel) -> None:
        super().__init__(model)
        self.weights = [1.0 / len(model.labs)] * len(model.labs)

    def step(self) -> None:
        """Move the portfolio toward a softmax of capability."""
        scores = [math.exp(lab.capability - 30.0) for lab in self.model.labs]
        total = sum(scores)
        self.weights = [
            0.85 * w + 0.15 * s / total for w, s in zip(self.weights, scores, strict=True)
        ]


class RefResearcher(mesa.Agent):
    """A researcher of the reference model: the per-researcher work agentsim does each month.

    Every month each researcher draws whether to search (5% do, comparing three labs with the
    current employer), is paid the employer's offer for its skill, and adds its skill and pay
    to the employer's human capital and wage bill, as agentsim's array phases do.
    """

    def __init__(self, model: RefModel) -> None:
        super().__init__(model)
        self.skill = model.random.lognormvariate(0, 1)
        self.pay_factor = self.skill**0.6
        self.employer = model.random.choice(model.labs)
        self.salary = 0.0

    def step(self) -> None:
        """Search (sometimes), then get paid and count towards the employer."""
        rng = self.model.random
        if rng.random() < 0.05:
            best, best_utility = self.employer, self.utility(self.employer)
            for lab in rng.sample(self.model.labs, 3):
                utility = self.utility(lab) - 0.2
                if utility > best_utility:
                    best, best_utility = lab, utility
            self.employer = best
        self.salary = self.employer.pay_scale * self.pay_factor
        self.employer.human_capital += self.skill
        self.employer.wage_bill += self.salary / 12

    def utility(self, lab: RefLab) -> float:
        """Log pay plus closeness to the frontier."""
        return math.log(lab.pay_scale * self.pay_factor) + lab.capability - 30.0


class RefModel(mesa.Model):
    """Same counts as agentsim's default world, every agent a plain Mesa agent."""

    def __init__(self, labs: int, investors: int, researchers: int, rng: int = 0) -> None:
        super().__init__(rng=rng)
        self.labs = [RefLab(self) for _ in range(labs)]
        for _ in range(investors):
            RefInvestor(self)
        for _ in range(researchers):
            RefResearcher(self)

    def step(self) -> None:
        """Labs, then investors, then researchers, each in random order."""
        for kind in (RefLab, RefInvestor, RefResearcher):
            self.agents_by_type[kind].shuffle_do("step")


def time_reference(labs: int, investors: int, researchers: int, steps: int, seed: int) -> float:
    """CPU seconds of build + ``steps`` steps of the reference model."""
    t0 = cpu()
    model = RefModel(labs, investors, researchers, rng=seed)
    for _ in range(steps):
        model.step()
    return cpu() - t0


# --------------------------------------------------------------------------- scaling


def fit_slope(x: list[float], y: list[float]) -> tuple[float, float, float]:
    """Least-squares line y = a + b x: (a, b, R^2)."""
    xs, ys = np.asarray(x, float), np.asarray(y, float)
    b, a = np.polyfit(xs, ys, 1)
    residual = ys - (a + b * xs)
    r2 = 1.0 - float(residual @ residual) / float(((ys - ys.mean()) ** 2).sum())
    return float(a), float(b), r2


def listing(sizes: list[int], seconds: list[float]) -> str:
    """'size: seconds' pairs for printing."""
    return ", ".join(f"{n:,}: {t:.3f} s" for n, t in zip(sizes, seconds, strict=True))


def world_with_labs(copies: int) -> dict:
    """Overrides that copy every baseline lab ``copies`` times (same jurisdictions)."""
    base = load_config(None)
    labs = {}
    for k in range(copies):
        for name, lab in base.labs.items():
            labs[f"{name}_{k}"] = lab.model_dump(mode="json")
    return {"labs": Replace(labs)}  # replace the baseline's labs, not merge into them


def large_run_in_fresh_process(researchers: int) -> dict:
    """Run time and peak RSS of one run with ``researchers`` in a new interpreter."""
    code = (
        "import resource, time, json;"
        "from agentsim.scenario_io import load_config;"
        "from agentsim.run import run;"
        f"cfg = load_config(None, overrides={{'talent.n_researchers': {researchers}}});"
        "t = time.perf_counter(); run(cfg, seed=0); t = time.perf_counter() - t;"
        "print(json.dumps({'seconds': t, "
        "'peak_rss_mib': resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return json.loads(out.stdout)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--json", type=Path, default=None, help="write the figures here")
    args = parser.parse_args()
    report: dict = {"python": platform.python_version(), "repeats": args.repeats}
    time_run({"talent.n_researchers": 1_000}, 0)  # warm imports and caches

    samples = [time_run({}, seed) for seed in range(args.repeats)]
    build, steps, tables = (statistics.median(s[i] for s in samples) for i in range(3))
    report["default_run"] = {
        "build_s": build,
        "steps_s": steps,
        "tables_s": tables,
        "total_s": statistics.median(sum(s) for s in samples),
    }
    print(f"python {report['python']}, median CPU of {args.repeats} runs")
    print(
        f"default run (60 steps, 5,000 researchers): {1e3 * report['default_run']['total_s']:.1f} "
        f"ms (build {1e3 * build:.1f}, steps {1e3 * steps:.1f}, tables {1e3 * tables:.1f}); "
        "target <= 50 ms"
    )

    base = load_config(None)
    counts = (len(base.labs), base.capital.n_investors, base.talent.n_researchers)
    ours = statistics.median(sum(time_run({}, s, steps=120)) for s in range(args.repeats))
    reference = statistics.median(time_reference(*counts, 120, s) for s in range(3))
    report["reference"] = {"agentsim_120_s": ours, "pure_mesa_120_s": reference}
    report["reference"]["ratio"] = ours / reference
    print(
        f"120 steps: agentsim {ours:.3f} s, pure-Mesa model of the same size {reference:.3f} s, "
        f"ratio {ours / reference:.3f} (target <= 0.08)"
    )

    per_copy = len(base.labs)
    for kind, sizes, world in (
        ("researchers", [5_000, 20_000, 50_000, 100_000], lambda n: {"talent.n_researchers": n}),
        ("investors", [100, 1_000, 5_000, 10_000], lambda n: {"capital.n_investors": n}),
        ("labs", [k * per_copy for k in (1, 2, 4, 8)], lambda n: world_with_labs(n // per_copy)),
    ):
        seconds = [statistics.median(sum(time_run(world(n), s)) for s in range(3)) for n in sizes]
        a, b, r2 = fit_slope(sizes, seconds)
        report[kind] = {"sizes": sizes, "seconds": seconds, "slope_s": b, "r2": r2}
        print(
            f"{kind}: {listing(sizes, seconds)}; slope {1e6 * b:.2f} us per {kind[:-1]} and run, "
            f"intercept {1e3 * a:.1f} ms, R^2 {r2:.4f}"
        )

    large = large_run_in_fresh_process(500_000)
    report["500k"] = large
    print(
        f"500,000 researchers (fresh process): {large['seconds']:.2f} s (target <= 2 s), "
        f"peak RSS {large['peak_rss_mib']:.0f} MiB (target <= 400 MiB)"
    )
    report["peak_rss_this_process_mib"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()

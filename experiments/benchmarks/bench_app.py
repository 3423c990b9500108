"""Time the A/B app (``agentsim viz A B``) in a real browser against the model and the CLI.

Reports (wall-clock seconds, medians of repeats) for A = the baseline, B = trusted release:

- the whole horizon played in the browser, per month (play interval 0, from a click on play
  until every chart and both networks show the last month and the browser has painted it,
  divided by the months), against stepping the two models through the horizon without the page
  (target: <= 2x). While playing, the page draws the world every ``PLAY_PAINT_S`` and as soon
  as play stops; every month's values are in the charts drawn after it;
- one A/B step from a click on Step until the page has painted it (the latency a user sees),
  against stepping the two models one month without the page. It cannot come near 2x: the
  browser paints once per display frame (16.7 ms at 60 Hz), about six times a step of the
  default world (2.7 ms on a 2-core machine);
- the paired ensemble of 20 seeds in the app (a click on "Run 20 paired seeds" until the page
  shows 20/20 pairs), cold (the server's first: it starts the pool's forkserver) and warm,
  against ``agentsim compare A B --runs 20`` with the same workers (a process pool) from the
  shell (target: <= 1.15x).

Needs the viz extra, playwright and Chromium (``shutil.which("chromium")``); not a test.

    .venv/bin/python experiments/benchmarks/bench_app.py [--repeats 3] [--workers N] [--json OUT]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from agentsim.model import AIRaceModel
from agentsim.scenario_io import dump_config, load_config

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))  # the tests' page-server helpers
from tests.servers import free_port, running_server  # noqa: E402

PLOTTED = """() => Object.fromEntries([...document.querySelectorAll('[data-chart]')].map(
    e => [e.dataset.chart, ((e.__vue__ && e.__vue__.option && e.__vue__.option.series) || [])
        .map(s => (s.data || []).filter(v => v !== null).length)]))"""
PAINTED = "() => new Promise(r => requestAnimationFrame(() => requestAnimationFrame(r)))"
#: In the page: click the button named ``button``, look at every animation frame until every
#: chart shows ``months`` months (the last series of each) and both networks the step
#: ``months - 1``, then wait for the next frame (the one that paints them); the milliseconds
#: taken, on the page's own clock (no round trip to the benchmark between the click and the
#: paint, and no busy polling to take a core from the page or its server).
CLICK_UNTIL_SHOWN = """async ([button, months]) => {
  const click = [...document.querySelectorAll('button')]
    .find(b => b.textContent.trim() === button);
  const charts = [...document.querySelectorAll('[data-chart]')];
  const shown = () => charts.every(e => {
    const option = e.__vue__.option;
    if (e.dataset.chart.startsWith('network')) {
      return option.title.text.endsWith(` ${months - 1}`);
    }
    const data = option.series[option.series.length - 1].data;
    return data.filter(v => v !== null).length === months;
  });
  const start = performance.now();
  click.click();
  await new Promise(done => {
    const poll = () => (shown() ? done() : requestAnimationFrame(poll));
    requestAnimationFrame(poll);
  });
  await new Promise(r => requestAnimationFrame(r));
  return performance.now() - start;
}"""


def model_step_times(config_a, config_b, steps: int, repeats: int) -> tuple[float, float]:
    """(median seconds of one step of both models, median seconds of ``steps`` steps)."""
    per_step, whole = [], []
    for _ in range(repeats):
        a, b = AIRaceModel(config_a, rng=0), AIRaceModel(config_b, rng=0)
        start = time.perf_counter()
        for _ in range(steps):
            t = time.perf_counter()
            a.step()
            b.step()
            per_step.append(time.perf_counter() - t)
        whole.append(time.perf_counter() - start)
    return statistics.median(per_step), statistics.median(whole)


def compare_time(a: Path, b: Path, runs: int, workers: int, folder: Path, repeats: int) -> float:
    """Median wall seconds of ``agentsim compare A B --runs RUNS --workers W`` from a shell."""
    times = []
    for i in range(repeats):
        out = folder / f"compare{i}"
        command = [sys.executable, "-m", "agentsim.cli", "compare", str(a), str(b)]
        command += ["--runs", str(runs), "--workers", str(workers), "--out", str(out)]
        start = time.perf_counter()
        subprocess.run(command, check=True, capture_output=True, cwd=ROOT)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def wait_charts(page, months: int, timeout: float = 60) -> None:
    """Until every chart of the page plots ``months`` months (and the band, if any), painted."""
    deadline = time.perf_counter() + timeout
    while time.perf_counter() < deadline:
        charts = page.evaluate(PLOTTED)
        lines = [
            counts[-1]
            for name, counts in charts.items()
            if not name.startswith("network") and counts
        ]
        if lines and all(count == months for count in lines):
            page.evaluate(PAINTED)
            return
        time.sleep(0.002)
    raise TimeoutError(f"the charts did not reach {months} months")


def browser_times(
    url: str, steps: int, horizon: int, seeds: int, repeats: int
) -> dict[str, object]:
    """Step, play and paired-ensemble timings in headless Chromium."""
    from playwright.sync_api import sync_playwright

    results: dict[str, object] = {}
    with sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=shutil.which("chromium"), args=["--no-sandbox", "--disable-gpu"]
        )
        try:
            page = browser.new_page(viewport={"width": 1500, "height": 1100})
            page.goto(url, timeout=90_000)
            page.get_by_text("Labs of B at step 0", exact=True).wait_for(timeout=90_000)
            wait_charts(page, 1)
            step_times = []
            for month in range(1, steps + 1):
                time.sleep(0.2)  # the page idle, as after a user's click
                step_times.append(page.evaluate(CLICK_UNTIL_SHOWN, ["Step", month + 1]) / 1000)
            results["step_s"] = statistics.median(step_times)
            page.get_by_role("slider").first.focus()  # the play interval: to 0 ms
            page.keyboard.press("Home")
            play_times = []
            for _ in range(repeats):
                page.get_by_role("button", name="Reset").click()
                page.get_by_text("Labs of B at step 0", exact=True).wait_for()
                wait_charts(page, 1)
                time.sleep(0.5)
                play_times.append(page.evaluate(CLICK_UNTIL_SHOWN, ["▶", horizon + 1]) / 1000)
            results["play_s"] = statistics.median(play_times)
            field = page.get_by_label("Seeds", exact=True)  # the page's default is 20
            field.fill(str(seeds))
            field.press("Enter")
            ensemble = []
            for i in range(repeats + 1):  # the first is cold (the server's first pool)
                start = time.perf_counter()
                page.get_by_role("button", name=f"Run {seeds} paired seeds").click()
                page.get_by_role("button", name="Stop").wait_for(timeout=60_000)
                page.get_by_text(f"{seeds}/{seeds} pairs, done in", exact=False).wait_for(
                    timeout=600_000
                )
                wall = time.perf_counter() - start
                shown = page.get_by_text(f"{seeds}/{seeds} pairs, done in").inner_text()
                ensemble.append((wall, float(re.search(r"done in ([\d.]+) s", shown)[1])))
                print(f"  ensemble {'cold' if i == 0 else 'warm'}: {wall:.2f} s", flush=True)
            results["ensemble_cold_s"] = ensemble[0][0]
            results["ensemble_warm_s"] = statistics.median(w for w, _ in ensemble[1:])
            results["ensemble_thread_s"] = [s for _, s in ensemble]
        finally:
            browser.close()
    return results


def main() -> None:
    """Measure, print the ratios and (with --json) write them."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--steps", type=int, default=10, help="A/B steps timed in the browser")
    parser.add_argument("--seeds", type=int, default=20)
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()

    folder = Path(tempfile.mkdtemp(prefix="bench-app-"))
    try:
        config_a, config_b = load_config(), load_config("trusted_release")
        a, b = folder / "a.yaml", folder / "b.yaml"
        a.write_text(dump_config(config_a), encoding="utf-8")
        b.write_text(dump_config(config_b), encoding="utf-8")
        horizon = config_a.simulation.steps
        model_step, model_run = model_step_times(config_a, config_b, horizon, args.repeats)
        print(f"model: one A/B step {1000 * model_step:.1f} ms, {horizon} steps {model_run:.2f} s")
        compare = compare_time(a, b, args.seeds, args.workers, folder, args.repeats)
        print(f"agentsim compare --runs {args.seeds} --workers {args.workers}: {compare:.2f} s")

        port = free_port()
        command = [sys.executable, "-m", "agentsim.cli", "viz", str(a), str(b)]
        command += ["--port", str(port), "--workers", str(args.workers)]
        with running_server(command, port, folder / "server.log") as (url, _):
            app = browser_times(url, args.steps, horizon, args.seeds, args.repeats)
    finally:
        shutil.rmtree(folder, ignore_errors=True)

    report = {
        "machine": f"{platform.machine()}, {os.cpu_count()} cores",
        "python": platform.python_version(),
        "workers": args.workers,
        "model_step_s": model_step,
        "model_run_s": model_run,
        "compare_s": compare,
        **app,
        "play_ratio": app["play_s"] / model_run,
        "step_ratio": app["step_s"] / model_step,
        "ensemble_cold_ratio": app["ensemble_cold_s"] / compare,
        "ensemble_warm_ratio": app["ensemble_warm_s"] / compare,
    }
    print(
        f"horizon played in the browser: {app['play_s']:.3f} s, "
        f"{1000 * app['play_s'] / horizon:.1f} ms a month, "
        f"{report['play_ratio']:.2f}x stepping the two models through it (target <= 2x)\n"
        f"one A/B step clicked in the browser: {1000 * app['step_s']:.0f} ms until painted, "
        f"{report['step_ratio']:.0f}x stepping the two models one month\n"
        f"paired ensemble of {args.seeds} seeds in the app: cold {app['ensemble_cold_s']:.2f} s "
        f"({report['ensemble_cold_ratio']:.2f}x compare), warm {app['ensemble_warm_s']:.2f} s "
        f"({report['ensemble_warm_ratio']:.2f}x compare; target <= 1.15x)"
    )
    if args.json:
        args.json.write_text(json.dumps(report, indent=2), encoding="utf-8")


if __name__ == "__main__":
    main()

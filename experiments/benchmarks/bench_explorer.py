"""Time the results explorer (``agentsim viz --results DIR``) on a 1,000-run Monte Carlo.

Makes the batch once (the baseline, 1,000 runs of 24 months with 300 researchers, on WORKERS
workers; or reuses ``--batch DIR`` when it holds one), then serves the explorer as the command
line does (``python -m solara run agentsim.explorer --production`` with the folder in
``AGENTSIM_RESULTS_DIR``) and opens it in headless Chromium. Prints, against its target:

- ``server_start_s``: from starting the server to its first HTTP 200;
- ``first_view_s``: from the page request (a new browser, nothing cached) to the first fan
  chart and the outcome table both shown (target <= 3 s), best of the repeats;
- ``cold_view_s``: the same for the very first page after the server answered (the folder
  possibly still being read and drawn ahead);
- ``first_figure_s`` and ``first_table_s``: the same, to each of the two;
- ``second_view_s``: a second page in the same browser (its scripts cached);
- ``baseline_s``: the page request to the one-line message of a folder that is not a result
  (a second server): the framework's own page start on this machine, for comparison.

Each page timing is the best of ``--repeats`` (a new browser each time). A temporary batch is
removed at the end; ``--batch`` is left as it is.

    .venv/bin/python experiments/benchmarks/bench_explorer.py [--runs 1000] [--workers 2]
        [--repeats 3] [--batch DIR] [--json OUT]
"""

from __future__ import annotations

import contextlib
import shutil
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))  # the tests' page-server helpers
from _stored_batch import options, report, scratch_batch  # noqa: E402

from tests.servers import free_port, running_server  # noqa: E402

CONFIGS = ROOT / "configs"
TARGETS = {"first_view_s": ("<=", 3.0)}
FIGURE = ".explorer-figure img"
TABLE = "table.explorer-table"
MESSAGE = ".explorer-message"


def make_batch(out: Path, runs: int, workers: int) -> float:
    """Run ``agentsim mc`` of the baseline (24 months, 300 researchers) into ``out``; seconds."""
    start = time.perf_counter()
    made = subprocess.run(
        [
            sys.executable, "-m", "agentsim.cli", "mc", str(CONFIGS / "baseline.yaml"),
            "--runs", str(runs), "--set", "simulation.steps=24",
            "--set", "talent.n_researchers=300", "--workers", str(workers), "--out", str(out),
        ],
        cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    if made.returncode:
        raise SystemExit(f"agentsim mc failed:\n{made.stderr[-2000:]}")
    return time.perf_counter() - start


@contextlib.contextmanager
def serve(folder: Path, log: Path):
    """The explorer of ``folder`` on a free port: yields (url, seconds to the first HTTP 200,
    polled every 0.3 s); the server and whatever it started are stopped at the end."""
    port = free_port()
    command = [sys.executable, "-m", "solara", "run", "agentsim.explorer", "--host",
               "127.0.0.1", "--port", str(port), "--no-open", "--production"]  # fmt: skip
    start = time.perf_counter()
    env = {"AGENTSIM_RESULTS_DIR": str(folder)}
    with running_server(command, port, log, env=env) as (url, _):
        yield url, time.perf_counter() - start


def _launch(playwright):
    return playwright.chromium.launch(
        executable_path=shutil.which("chromium") or shutil.which("chromium-browser"),
        args=["--no-sandbox", "--disable-gpu", "--disable-background-networking"],
    )


def time_page(playwright, url: str, selectors: list[str]) -> tuple[list[float], float]:
    """Seconds from the page request to each selector shown (a new browser), and a second
    page's seconds to all of them in the same browser."""
    browser = _launch(playwright)
    try:
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        start = time.perf_counter()
        page.goto(url, timeout=120_000, wait_until="commit")
        seen = []
        for selector in selectors:
            page.locator(selector).first.wait_for(timeout=120_000)
            seen.append(time.perf_counter() - start)
        again = browser.new_page(viewport={"width": 1400, "height": 1000})
        start = time.perf_counter()
        again.goto(url, timeout=120_000, wait_until="commit")
        for selector in selectors:
            again.locator(selector).first.wait_for(timeout=120_000)
        return seen, time.perf_counter() - start
    finally:
        browser.close()


def main() -> None:
    """Measure, print the figures against their targets and (with --json) write them."""
    args = options(__doc__.splitlines()[0], runs=1000)
    from playwright.sync_api import sync_playwright

    with scratch_batch(args, "mc", make_batch, "runs") as (scratch, batch):
        not_a_result = scratch / "not_a_result"
        not_a_result.mkdir()
        with sync_playwright() as playwright:
            with serve(batch, scratch / "server.log") as (url, started):
                runs = [time_page(playwright, url, [FIGURE, TABLE]) for _ in range(args.repeats)]
            with serve(not_a_result, scratch / "baseline.log") as (url, _):
                baseline = min(
                    time_page(playwright, url, [MESSAGE])[0][0] for _ in range(args.repeats)
                )
    results = {
        "server_start_s": started,
        "first_view_s": min(max(seen) for seen, _ in runs),
        "cold_view_s": max(runs[0][0]),
        "first_figure_s": min(seen[0] for seen, _ in runs),
        "first_table_s": min(seen[1] for seen, _ in runs),
        "second_view_s": min(again for _, again in runs),
        "baseline_s": baseline,
    }
    report(results, TARGETS, args.json)


if __name__ == "__main__":
    main()

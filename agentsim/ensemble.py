"""Batches of runs: Monte Carlo, parameter sweeps and paired scenario comparisons.

A batch is a :class:`BatchPlan`: named base configs and a list of :class:`RunSpec` (run id,
seed, scenario, grid values). Seeds come from one root seed through
``numpy.random.SeedSequence``: replicate r always gets the seed of child r, whatever the
executor, worker count, chunk size or order of completion, so scenarios and grid points share
seeds (common random numbers) and a batch is reproducible.

:func:`run_batch` sends the plan's runs to an executor (:mod:`agentsim.executors`) in chunks;
:func:`run_chunk` runs one chunk where the executor puts it and encodes its results there. Each
finished chunk is saved at once by :mod:`agentsim.store` (one part file, renamed into place),
so a killed batch loses at most the chunks in flight, and ``resume=True`` runs only the runs
that are missing. At the end the parts are gathered into ``runs.parquet`` (booleans and
integers keep their types, missing where a run failed) and ``timeseries.parquet`` (each row
with its run's scenario, point and swept keys); :mod:`agentsim.store` says how.
:func:`run_with_progress` adds a progress bar.
"""

from __future__ import annotations

import contextlib
import hashlib
import itertools
import json
import math
import platform
import subprocess
import sys
import time
import traceback
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from agentsim import store
from agentsim.config import Config, ConfigError, quote
from agentsim.run import run as run_model
from agentsim.scenario_io import apply_overrides, validate_config
from agentsim.store import BatchResult

__all__ = [
    "BatchPlan",
    "BatchResult",
    "ChunkResult",
    "RunSpec",
    "chunk_sizes",
    "failed_chunk",
    "plan_comparison",
    "plan_monte_carlo",
    "plan_sweep",
    "replicate_seeds",
    "run_batch",
    "run_chunk",
    "run_with_progress",
]

#: Most runs in one chunk (a killed batch loses at most this many runs per worker).
MAX_CHUNK = 25
#: Seconds between rewrites of the manifest's list of completed runs while a batch runs (the
#: part files are the record; the list is for people looking at a running batch).
MANIFEST_INTERVAL_S = 10.0
#: ``error`` of a run given up because the worker process running it died each time it was
#: tried (see :meth:`agentsim.executors.ProcessPool.imap_unordered`).
WORKER_DIED = "worker process died while running this run"


@dataclass(frozen=True)
class RunSpec:
    """One run of a batch: which scenario (a key of the plan's configs), which grid point
    (``(dotted key, value)`` pairs applied as overrides), which replicate and seed.

    ``point`` is the index of the run's design point in the plan (the scenario of a comparison,
    the grid point of a sweep, 0 for a Monte Carlo); it is stored with the run, so tables never
    pool runs of different points, whatever values their keys hold.
    """

    run_id: int
    replicate: int
    seed: int
    scenario: str = ""
    grid: tuple[tuple[str, Any], ...] = ()
    point: int = 0


@dataclass
class BatchPlan:
    """What a batch runs: named base configs (as dicts), the specs, and how it was asked for.

    ``kind`` is ``"mc"``, ``"sweep"``, ``"compare"``, ``"explore"`` or ``"sensitivity"``;
    ``runs`` the replicates per scenario, grid point or parameter sample; ``grid`` the swept
    keys and their values (sweeps only); ``design`` how the design points of an explore or
    sensitivity batch were drawn (uncertainty spec, design, sizes: see
    :mod:`agentsim.explore`), stored in the manifest.
    """

    kind: str
    configs: dict[str, dict[str, Any]]
    specs: list[RunSpec]
    root_seed: int
    runs: int
    grid: dict[str, list[Any]] = field(default_factory=dict)
    design: dict[str, Any] = field(default_factory=dict)

    def fingerprint(self) -> str:
        """SHA-256 (hex) of everything that determines the results: kind, configs, grid, root
        seed, runs and (when there is one) the design. A batch folder resumes only under the
        same fingerprint."""
        content = {
            "kind": self.kind,
            "configs": self.configs,
            "grid": self.grid,
            "root_seed": self.root_seed,
            "runs": self.runs,
        }
        if self.design:  # absent from older plans, whose fingerprints stay as they were
            content["design"] = self.design
        text = json.dumps(content, sort_keys=True, default=str)
        return hashlib.sha256(text.encode()).hexdigest()


def replicate_seeds(root_seed: int, runs: int) -> list[int]:
    """Seeds of replicates 0..runs-1: child r of ``SeedSequence(root_seed)``, as an integer in
    [0, 2**63). The first k seeds do not depend on ``runs``."""
    seeds = []
    for r in range(runs):
        state = np.random.SeedSequence(root_seed, spawn_key=(r,)).generate_state(2, np.uint32)
        seeds.append((int(state[0]) << 31) ^ int(state[1]))
    return seeds


def plan_monte_carlo(config: dict[str, Any], runs: int, root_seed: int) -> BatchPlan:
    """``runs`` replicates of one scenario (run id = replicate; one design point, point 0).

    Raises :class:`ConfigError` (key ``--runs``) unless ``runs`` is an integer >= 1, and (key
    ``--seed``) if two replicates would get the same seed.
    """
    _check_runs(runs)
    seeds = _distinct_seeds(root_seed, runs)
    specs = [
        RunSpec(run_id=r, replicate=r, seed=s, scenario=config.get("name", ""))
        for r, s in enumerate(seeds)
    ]
    return BatchPlan("mc", {config.get("name", "scenario"): config}, specs, root_seed, runs)


def plan_sweep(
    config: dict[str, Any], grid: dict[str, list[Any]], runs: int, root_seed: int
) -> BatchPlan:
    """The cartesian product of ``grid`` (dotted key -> values) times ``runs`` replicates.

    Every grid point uses the same seeds; run id = point index * runs + replicate. Every value
    and point is validated before anything runs, and every point must be a different scenario:
    two points are the same when their validated configs are equal apart from ``name`` (so
    ``0.01`` and ``0.010``, ``3`` and ``3.0`` for a number, or two spellings of one value are
    one point), and such a design is refused rather than run twice on the same seeds and pooled.

    Raises :class:`ConfigError` for an empty grid, a key without values, an unknown key, a
    value out of bounds, two values of one key that validate to the same point (naming the key
    and both values), two grid points that resolve to the same config (naming both points), and
    as :func:`plan_monte_carlo` for ``runs`` and seeds.
    """
    _check_runs(runs, math.prod(len(list(v)) for v in grid.values()) if grid else 1)
    if not grid:
        raise ConfigError("--grid", "give at least one KEY=V1,V2,... expression")
    keys = list(grid)
    for key in keys:  # validate every value once, before anything runs
        values = list(grid[key])
        if not values:
            raise ConfigError(key, "give at least one grid value")
        seen: dict[str, int] = {}
        for i, value in enumerate(values):
            same = seen.setdefault(
                _identity(validate_config(apply_overrides(config, {key: value}))), i
            )
            if same != i:
                raise ConfigError(
                    key,
                    f"grid values {same + 1} and {i + 1} ({quote(values[same])} and "
                    f"{quote(value)}) give one config once validated (names aside); list each "
                    "value once",
                )
    seeds = _distinct_seeds(root_seed, runs)
    specs = []
    points: dict[str, tuple[tuple[str, Any], ...]] = {}
    for g, values in enumerate(itertools.product(*(grid[k] for k in keys))):
        point = tuple(zip(keys, values, strict=True))
        identity = _identity(validate_config(apply_overrides(config, dict(point))))
        earlier = points.setdefault(identity, point)
        if earlier != point:  # keys that overlap (a section and a key inside it) can meet
            raise ConfigError(
                "--grid",
                f"points {_show_point(earlier)} and {_show_point(point)} resolve to the same "
                "config; sweep keys that do not overlap",
            )
        specs += [
            RunSpec(
                run_id=g * runs + r,
                replicate=r,
                seed=seeds[r],
                scenario=config.get("name", ""),
                grid=point,
                point=g,
            )
            for r in range(runs)
        ]
    return BatchPlan(
        "sweep",
        {config.get("name", "scenario"): config},
        specs,
        root_seed,
        runs,
        grid={k: list(v) for k, v in grid.items()},
    )


def plan_comparison(configs: dict[str, dict[str, Any]], runs: int, root_seed: int) -> BatchPlan:
    """Each named scenario on the same ``runs`` seeds (paired, common random numbers); run id
    = scenario index * runs + replicate.

    Every scenario is validated before anything runs, and two scenarios that resolve to the
    same config apart from their names are refused: on common seeds every paired difference
    between them is exactly 0, which says nothing about the scenarios and usually means a
    mistake (the same file twice, or a ``--set`` that makes two files equal).

    Raises :class:`ConfigError` with fewer than two scenarios, for an invalid scenario, for
    scenarios on different clocks (:func:`check_same_clock`), for two scenarios that resolve
    to the same config (naming both), and as :func:`plan_monte_carlo` for ``runs`` and seeds.
    """
    _check_runs(runs, len(configs))
    if len(configs) < 2:
        raise ConfigError("compare", "needs two scenarios with different names")
    seen: dict[str, str] = {}
    validated = {name: validate_config(config) for name, config in configs.items()}
    check_same_clock(validated, "compare")
    for name, config in validated.items():
        same = seen.setdefault(_identity(config), name)
        if same != name:
            raise ConfigError(
                "compare",
                f"scenarios {quote(same)} and {quote(name)} resolve to the same config (apart "
                "from the name); on common seeds every difference would be 0",
            )
    seeds = _distinct_seeds(root_seed, runs)
    specs = [
        RunSpec(run_id=i * runs + r, replicate=r, seed=seeds[r], scenario=name, point=i)
        for i, name in enumerate(configs)
        for r in range(runs)
    ]
    return BatchPlan("compare", dict(configs), specs, root_seed, runs)


def check_same_clock(configs: Mapping[str, Mapping[str, Any] | Config], key: str) -> None:
    """Refuse scenarios that are compared on common seeds but run on different clocks.

    ``configs`` maps scenario names to scenario mappings (or validated configs). Paired
    differences between runs of different lengths or start months mix the policy with the
    horizon (summary outcomes such as last-year shares or growth a year measure other
    years), so every scenario must share
    ``simulation.steps`` and ``simulation.start``. Raises :class:`ConfigError` (``key``)
    naming the first two that differ.
    """
    first_name, first = None, None
    for name, config in configs.items():
        simulation = (config if isinstance(config, Config) else validate_config(config)).simulation
        clock = (simulation.steps, simulation.start)
        if first is None:
            first_name, first = name, clock
        elif clock != first:
            raise ConfigError(
                key,
                f"scenarios compared on common seeds must share simulation.steps and "
                f"simulation.start: {quote(first_name)} runs {first[0]} months from {first[1]}, "
                f"{quote(name)} {clock[0]} months from {clock[1]} (use --set simulation.steps=N "
                "or files with the same simulation section)",
            )


#: Most runs one batch may plan (a bound on memory before anything runs).
MAX_RUNS = 10_000_000


def _check_runs(runs: int, points: int = 1) -> None:
    if not isinstance(runs, int) or isinstance(runs, bool) or runs < 1:
        raise ConfigError("--runs", f"must be an integer >= 1 (got {quote(runs)})")
    check_batch_size(runs * points)


def check_batch_size(total: int) -> None:
    """Refuse (key ``--runs``) a batch of more than :data:`MAX_RUNS` runs."""
    if total > MAX_RUNS:
        raise ConfigError(
            "--runs", f"the batch would hold {total:,} runs, more than the {MAX_RUNS:,} allowed"
        )


def _distinct_seeds(root_seed: int, runs: int) -> list[int]:
    """:func:`replicate_seeds`, refused (key ``--seed``) if two replicates would share a seed."""
    seeds = replicate_seeds(root_seed, runs)
    first: dict[int, int] = {}
    for r, seed in enumerate(seeds):
        same = first.setdefault(seed, r)
        if same != r:
            raise ConfigError(
                "--seed",
                f"root seed {root_seed} gives replicates {same} and {r} the same seed; "
                "choose another root seed",
            )
    return seeds


def _identity(config: Config) -> str:
    """What makes a validated config one scenario: every value but the name, as JSON text."""
    return json.dumps(config.model_dump(exclude={"name"}), sort_keys=True, default=repr)


def _show_point(point: tuple[tuple[str, Any], ...]) -> str:
    return "{" + ", ".join(f"{key}={quote(value)}" for key, value in point) + "}"


# --------------------------------------------------------------------------- worker side


@dataclass(frozen=True)
class ChunkResult:
    """What a worker sends back for a chunk: its run ids and its part file's bytes."""

    run_ids: tuple[int, ...]
    part: bytes

    @property
    def first_run_id(self) -> int:
        """The lowest run id of the chunk (names its part file)."""
        return min(self.run_ids)


def run_chunk(configs: dict[str, dict[str, Any]], specs: Sequence[RunSpec]) -> ChunkResult:
    """Run a chunk of specs (in a worker) and encode its results as one part.

    Each scenario and grid point is validated once per chunk. A run that raises becomes a row
    with its ``error`` (class and message) and ``traceback``; it never stops the chunk. Rows
    hold ``run_id``, ``replicate``, ``seed``, ``scenario``, ``point`` (the design point's
    index), the grid values and the run summary (without its seed); the time series is the
    model frame with ``run_id`` first. Every run is audited step by step (accounting and
    conservation, :func:`agentsim.run.run` with ``audit=True``): a run that breaks an invariant
    is a failed run, recorded with its seed and the :class:`~agentsim.run.AuditError`.
    """
    rows: list[dict[str, Any]] = []
    series: list[pd.DataFrame] = []
    ids: list[int] = []
    validated: dict[str, Config] = {}
    for spec in specs:
        row = _spec_row(spec)
        try:
            key = repr((spec.scenario, spec.point, spec.grid))
            config = validated.get(key)
            if config is None:
                overrides = dict(spec.grid)
                config = validate_config(apply_overrides(configs[spec.scenario], overrides))
                validated[key] = config
            result = run_model(config, seed=spec.seed, audit=True)
        except Exception as exc:  # recorded, reported, never stops the batch
            row["error"] = f"{exc.__class__.__name__}: {exc}"
            row["traceback"] = traceback.format_exc(limit=8)
            rows.append(row)
            continue
        summary = dict(result.summary)
        summary.pop("seed", None)
        row.update(summary)
        row["error"] = None
        rows.append(row)
        series.append(result.model_frame)
        ids.append(spec.run_id)
    if series:
        timeseries = pd.concat(series, ignore_index=True)
        lengths = [len(frame) for frame in series]
        timeseries.insert(0, "run_id", np.repeat(np.asarray(ids, dtype=np.int64), lengths))
    else:
        timeseries = pd.DataFrame()
    return ChunkResult(tuple(row["run_id"] for row in rows), store.encode_part(rows, timeseries))


def _spec_row(spec: RunSpec) -> dict[str, Any]:
    """The part of a run's row that its spec gives: ids, seed, scenario, point, grid values."""
    row: dict[str, Any] = {
        "run_id": spec.run_id,
        "replicate": spec.replicate,
        "seed": spec.seed,
        "scenario": spec.scenario,
        "point": spec.point,
    }
    row.update(spec.grid)
    return row


def failed_chunk(specs: Sequence[RunSpec], error: str, detail: str) -> ChunkResult:
    """A chunk whose every run failed without running to the end, as :func:`run_chunk` records
    a failed run: each row holds the spec's ids, seed and grid values, ``error`` and, in
    ``traceback``, ``detail``; the part has no time series."""
    rows = [{**_spec_row(spec), "error": error, "traceback": detail} for spec in specs]
    return ChunkResult(
        tuple(row["run_id"] for row in rows), store.encode_part(rows, pd.DataFrame())
    )


def _split_chunk(chunk: tuple) -> list[tuple]:
    """A chunk of runs as chunks of one run each (for an executor whose worker keeps dying)."""
    configs, specs = chunk
    return [({spec.scenario: configs[spec.scenario]}, [spec]) for spec in specs]


def _worker_died(chunk: tuple, reason: str) -> ChunkResult:
    """The result of a chunk given up because its worker died each time it ran: failed runs."""
    _, specs = chunk
    return failed_chunk(specs, WORKER_DIED, f"{WORKER_DIED}: {reason}")


# --------------------------------------------------------------------------- orchestration


def chunk_sizes(todo: int, workers: int, chunk_size: int | None = None) -> list[int]:
    """Sizes of the chunks that ``todo`` runs are cut into (they sum to ``todo``; ValueError
    for a ``chunk_size`` below 1).

    A fixed ``chunk_size`` gives equal chunks. Otherwise one worker gets chunks of
    :data:`MAX_CHUNK`; several workers get guided sizes: a share of what is left (a quarter of
    it per worker, at most :data:`MAX_CHUNK`), shrinking to single runs at the end, so the
    workers finish together.
    """
    if chunk_size is not None:
        if chunk_size < 1:
            raise ValueError(f"chunk_size must be >= 1 (got {chunk_size})")
        return [min(chunk_size, todo - i) for i in range(0, todo, chunk_size)]
    workers = max(workers, 1)
    sizes, left = [], todo
    while left > 0:
        size = MAX_CHUNK if workers == 1 else math.ceil(left / (4 * workers))
        size = max(1, min(MAX_CHUNK, size, left))
        sizes.append(size)
        left -= size
    return sizes


def _chunks(
    plan: BatchPlan, todo: list[RunSpec], sizes: list[int]
) -> Iterator[tuple[dict[str, dict[str, Any]], list[RunSpec]]]:
    start = 0
    for size in sizes:
        specs = todo[start : start + size]
        start += size
        names = dict.fromkeys(spec.scenario for spec in specs)
        yield {name: plan.configs[name] for name in names}, specs


def run_batch(
    plan: BatchPlan,
    out: Path,
    executor: Any,
    resume: bool = False,
    chunk_size: int | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> BatchResult:
    """Run the plan's missing runs on ``executor``, saving each chunk as it finishes.

    Without ``resume`` the folder must be new or empty; with it, it must hold a batch of the
    same plan (same :meth:`BatchPlan.fingerprint`). ``progress(done, total)`` is called before
    the first chunk and after each one. Returns the gathered results.

    A chunk whose worker process keeps dying is split into single runs, and a run that still
    kills its worker is recorded as a failed run (``error`` :data:`WORKER_DIED`), so the batch
    goes on (see :meth:`agentsim.executors.ProcessPool.imap_unordered`).

    Raises :class:`ConfigError` for a non-empty folder, a resumed folder without a manifest or
    of another plan, or a folder another batch is writing; errors of the executor (a cluster
    that cannot start: :class:`agentsim.executors.ExecutorError`) propagate before anything is
    written. An interrupt (``KeyboardInterrupt``,
    :class:`agentsim.executors.BatchInterrupted`) or an executor failing in the middle (a
    lost Dask scheduler) stops the workers without waiting for their chunks and propagates;
    every chunk saved so far stays in ``parts/`` (listed in the manifest), nothing is
    gathered, and the folder's lock is released, so ``resume=True`` finishes the batch.
    """
    out = Path(out)
    fingerprint = plan.fingerprint()
    # start the workers before writing anything: a dead cluster leaves no trace
    with executor, store.batch_lock(out):
        return _run_batch(plan, out, executor, fingerprint, resume, chunk_size, progress)


def _run_batch(
    plan: BatchPlan,
    out: Path,
    executor: Any,
    fingerprint: str,
    resume: bool,
    chunk_size: int | None,
    progress: Callable[[int, int], None] | None,
) -> BatchResult:
    if resume:
        manifest = store.read_manifest(out)
        if manifest.get("fingerprint") != fingerprint:
            raise ConfigError(
                "--resume", f"{out} was made with another config, grid, seed or number of runs"
            )
    else:
        if not store.is_empty_batch_dir(out):
            raise ConfigError("--out", f"{out} is not empty; choose another folder or --resume")
        manifest = _new_manifest(plan, fingerprint)
    store.prepare_batch_dir(out)
    done = store.completed_run_ids(out)
    manifest["completed_run_ids"] = sorted(done)
    store.write_manifest(out, manifest)
    todo = [spec for spec in plan.specs if spec.run_id not in done]
    sizes = chunk_sizes(len(todo), getattr(executor, "workers", 1), chunk_size)
    total, finished = len(plan.specs), len(done)
    if progress is not None:
        progress(finished, total)
    listed = time.monotonic() - MANIFEST_INTERVAL_S  # the first chunk is listed at once
    results = executor.imap_unordered(
        run_chunk, _chunks(plan, todo, sizes), split=_split_chunk, give_up=_worker_died
    )
    try:
        for chunk in results:
            store.write_part(out, chunk.first_run_id, chunk.part)
            done.update(chunk.run_ids)
            finished += len(chunk.run_ids)
            if time.monotonic() - listed >= MANIFEST_INTERVAL_S:
                manifest["completed_run_ids"] = sorted(done)
                store.write_manifest(out, manifest)
                listed = time.monotonic()
            if progress is not None:
                progress(finished, total)
    except BaseException:
        # interrupted, or the executor failed: the saved parts stay (a resume runs the rest),
        # the manifest lists them (read from the parts: a signal may land between a part's
        # rename and the bookkeeping after it), and the executor's exit stops the workers
        results.close()
        with contextlib.suppress(Exception):
            manifest["completed_run_ids"] = sorted(store.completed_run_ids(out))
            store.write_manifest(out, manifest)
        raise
    runs, timeseries = store.gather(out)
    missing = sorted({spec.run_id for spec in plan.specs} - set(runs["run_id"].astype(int)))
    if missing:  # a part vanished while the batch ran: never report a short batch as whole
        manifest["completed_run_ids"] = runs["run_id"].astype(int).tolist()
        store.write_manifest(out, manifest)
        shown = ", ".join(map(str, missing[:5])) + (", ..." if len(missing) > 5 else "")
        raise ConfigError(
            str(out),
            f"{len(missing)} of {len(plan.specs)} runs are missing after the batch (run ids "
            f"{shown}: their saved results were removed while it ran); --resume to run them",
        )
    manifest["completed_run_ids"] = runs["run_id"].astype(int).tolist()
    manifest["failed_run_ids"] = runs.loc[runs["error"].notna(), "run_id"].astype(int).tolist()
    manifest["finished"] = _now()
    store.write_manifest(out, manifest)
    return BatchResult(out, runs, timeseries, manifest)


def _new_manifest(plan: BatchPlan, fingerprint: str) -> dict[str, Any]:
    return {
        "kind": plan.kind,
        "fingerprint": fingerprint,
        "root_seed": plan.root_seed,
        "runs_per_point": plan.runs,
        "total_runs": len(plan.specs),
        "grid": plan.grid,
        "design": plan.design,
        "configs": plan.configs,
        "config_hashes": {
            name: hashlib.sha256(json.dumps(cfg, sort_keys=True).encode()).hexdigest()
            for name, cfg in plan.configs.items()
        },
        **environment(),
        "started": _now(),
        "finished": None,
        "completed_run_ids": [],
        "failed_run_ids": [],
    }


def environment() -> dict[str, Any]:
    """What a result folder's manifest records of where it was made.

    ``command``: this process's command line; ``versions``: Python and the main packages;
    ``packages``: every installed distribution and its version (a lock list, sorted by
    name); ``git_commit`` and ``git_dirty`` (whether tracked files differ from that commit),
    both None outside a git checkout.
    """
    versions = {"python": platform.python_version()}
    for package in ("agentsim", "mesa", "numpy", "pandas", "networkx", "pydantic", "dask"):
        try:
            versions[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            versions[package] = None
    packages = {}
    for dist in metadata.distributions():
        name = dist.metadata["Name"]
        if name:
            packages[name] = dist.version
    here = Path(__file__).resolve().parent
    git = _git(["rev-parse", "HEAD"], here)
    status = _git(["status", "--porcelain", "--untracked-files=no"], here) if git else None
    return {
        "command": " ".join([Path(sys.argv[0]).name, *sys.argv[1:]]) if sys.argv else "",
        "versions": versions,
        "packages": dict(sorted(packages.items(), key=lambda item: item[0].lower())),
        "git_commit": git,
        "git_dirty": None if status is None else bool(status),
    }


def _git(args: list[str], where: Path) -> str | None:
    """Output of ``git ARGS`` run in ``where`` (stripped), or None when git fails."""
    try:
        done = subprocess.run(
            ["git", *args], capture_output=True, text=True, cwd=where, timeout=5, check=False
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return done.stdout.strip() if done.returncode == 0 else None


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


# --------------------------------------------------------------------------- progress


def run_with_progress(
    plan: BatchPlan,
    out: Path,
    executor: Any,
    resume: bool = False,
    label: str = "",
    console: Any = None,
) -> BatchResult:
    """:func:`run_batch` with a progress bar (runs done, elapsed, ETA) on ``console``.

    ``console`` is a ``rich.console.Console`` (default: one on stderr); the bar is shown only
    when it is a terminal and disappears when the batch ends; otherwise (a log)
    :class:`ProgressLines` prints a line at every tenth of the batch. The executor's workers start
    before the bar's refresh thread does. Raises as :func:`run_batch`.
    """
    from rich.console import Console
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )

    console = console if console is not None else Console(stderr=True, highlight=False)
    columns = (
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("runs"),
        TimeElapsedColumn(),
        TextColumn("ETA"),
        TimeRemainingColumn(),
    )
    name = f"{plan.kind} {label}".strip()
    if not console.is_terminal:  # a log: a line at every tenth of the batch instead of a bar
        lines = ProgressLines(  # whole lines: a log has no width to wrap at
            name, lambda text: console.print(text, markup=False, soft_wrap=True, highlight=False)
        )
        with executor:
            return run_batch(plan, out, executor, resume=resume, progress=lines)
    with executor:  # workers first: a process pool may fork only while no thread runs
        bar = Progress(*columns, console=console, transient=True)
        with bar:
            task = bar.add_task(name, total=None)

            def update(done: int, total: int) -> None:
                bar.update(task, completed=done, total=total)

            return run_batch(plan, out, executor, resume=resume, progress=update)


class ProgressLines:
    """Progress for a log (no terminal): one line each time another tenth of the runs is done,
    with the runs done, the rate since the start and the time left at that rate. Called as
    ``progress(done, total)`` by :func:`run_batch`; the first call (runs already stored, on a
    resume) sets the start."""

    STEPS = 10

    def __init__(self, name: str, write: Callable[[str], None]) -> None:
        self.name = name
        self.write = write
        self.start: tuple[float, int] | None = None
        self.shown = -1

    def __call__(self, done: int, total: int) -> None:
        now = time.perf_counter()
        if self.start is None:
            self.start = (now, done)
            self.shown = done * self.STEPS // max(total, 1)
            return
        tenth = done * self.STEPS // max(total, 1)
        if tenth <= self.shown:
            return
        self.shown = tenth
        began, first = self.start
        rate = (done - first) / max(now - began, 1e-9)
        left = (total - done) / rate if rate > 0 else float("nan")
        self.write(
            f"{self.name}: {done}/{total} runs ({100 * done / max(total, 1):.0f}%), "
            f"{rate:.1f} runs/s, ETA {left:.0f} s"
        )

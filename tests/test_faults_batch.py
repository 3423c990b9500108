"""Batches under faults: pool workers that die, interrupts, orphan processes, Dask failures.

Covers the fault handling of :mod:`agentsim.executors` and :func:`agentsim.ensemble.run_batch`
through the Python API (the command line's messages and exit codes are tested with it). Faults
are injected by a chunk function that kills its own worker process; interrupts by signals sent
to a batch running in a child process; Dask faults by real schedulers bound to 127.0.0.1.
"""

from __future__ import annotations

import functools
import http.server
import json
import os
import pickle
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

import agentsim.ensemble as ensemble
from agentsim import store
from agentsim.config import ConfigError
from agentsim.ensemble import WORKER_DIED, plan_monte_carlo, run_batch
from agentsim.executors import (
    MAX_RETRIES,
    BatchInterrupted,
    DaskCluster,
    ExecutorError,
    InProcess,
    ProcessPool,
    check_scheduler,
    make_executor,
    signals_as_exceptions,
)
from agentsim.scenario_io import config_to_dict
from tests.conftest import scenario

ROOT = Path(__file__).resolve().parents[1]
LINUX = pytest.mark.skipif(sys.platform != "linux", reason="Linux /proc and parent-death signal")
METHODS = [
    "fork",
    pytest.param("forkserver", marks=pytest.mark.slow),
]

#: A quick batch: 8 runs of a small world over a year.
RUNS, SEED = 8, 3
SMALL = {"talent.n_researchers": 300, "simulation.steps": 12}
#: A batch long enough to interrupt: runs of about a third of a second, one per chunk.
LONG_RUNS, LONG = 16, {"talent.n_researchers": 300, "simulation.steps": 240}


def config(**overrides: Any) -> dict[str, Any]:
    return config_to_dict(scenario("baseline", **{**SMALL, **overrides}))


def read_results(folder: Path) -> tuple[pd.DataFrame, pd.DataFrame]:
    runs = pd.read_parquet(folder / "runs.parquet")
    runs = runs.sort_values("run_id", kind="stable").reset_index(drop=True)
    series = pd.read_parquet(folder / "timeseries.parquet")
    series = series.sort_values(["run_id", "step"], kind="stable").reset_index(drop=True)
    return runs, series


def read_manifest(folder: Path) -> dict[str, Any]:
    return json.loads((folder / "manifest.json").read_text(encoding="utf-8"))


def assert_same_results(folder: Path, reference: Path) -> None:
    for got, expected in zip(read_results(folder), read_results(reference), strict=True):
        pd.testing.assert_frame_equal(got, expected)


def parts(folder: Path) -> list[Path]:
    return sorted((folder / "parts").glob("part-*.parquet"))


@pytest.fixture(scope="module")
def reference(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The quick batch, run in this process without faults."""
    out = tmp_path_factory.mktemp("reference") / "batch"
    run_batch(plan_monte_carlo(config(), RUNS, SEED), out, InProcess())
    return out


@pytest.fixture(scope="module")
def long_reference(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The long batch, run in this process without faults."""
    out = tmp_path_factory.mktemp("long_reference") / "batch"
    run_batch(plan_monte_carlo(config(**LONG), LONG_RUNS, SEED), out, InProcess())
    return out


# --------------------------------------------------------------------------- dead workers


def claim(marker: str) -> bool:
    """Whether this call is the first, across processes, to claim ``marker``."""
    try:
        os.close(os.open(marker, os.O_CREAT | os.O_EXCL | os.O_WRONLY))
    except FileExistsError:
        return False
    return True


def die(how: str) -> None:
    if how == "kill":
        os.kill(os.getpid(), signal.SIGKILL)
    os._exit(1)


def faulty_chunk(
    fault: str, marker: str, bad: frozenset[int], fn: Any, configs: Any, specs: Any
) -> Any:
    """Run ``fn(configs, specs)`` unless the chunk holds a bad run id: then the worker dies,
    every time (``always-kill``: SIGKILL) or only the first time any process gets here
    (``once-exit``: exit code 1)."""
    if any(spec.run_id in bad for spec in specs):
        if fault.startswith("always") or claim(marker):
            die(fault.split("-")[1])
    return fn(configs, specs)


class FaultyPool(ProcessPool):
    """A process pool whose chunks run through :func:`faulty_chunk`."""

    def __init__(self, method: str, fault: str, marker: Path, bad: set[int]) -> None:
        super().__init__(2, method)
        self.fault = (fault, str(marker), frozenset(bad))

    def imap_unordered(self, fn, chunks, **options):  # type: ignore[override]
        return super().imap_unordered(
            functools.partial(faulty_chunk, *self.fault, fn), chunks, **options
        )


@pytest.mark.parametrize("method", METHODS)
def test_a_worker_that_dies_once_costs_nothing(method, reference, tmp_path):
    """The pool breaks once; a fresh pool reruns what was in flight; nothing is lost."""
    marker = tmp_path / "died"
    plan = plan_monte_carlo(config(), RUNS, SEED)
    pool = FaultyPool(method, "once-exit", marker, {3})
    result = run_batch(plan, tmp_path / "batch", pool, chunk_size=2)
    assert marker.exists(), "the fault was not injected"
    assert result.failures.empty, result.failures["error"].tolist()
    assert_same_results(tmp_path / "batch", reference)
    manifest = read_manifest(tmp_path / "batch")
    assert manifest["completed_run_ids"] == list(range(RUNS))
    assert manifest["failed_run_ids"] == []
    assert pool._pool is None


@pytest.mark.parametrize("method", METHODS)
def test_a_run_that_always_kills_its_worker_is_a_failed_run(method, reference, tmp_path):
    """Its chunk is tried, split into single runs, and the run that still kills its worker
    becomes a failed row with its seed; the other runs, its chunk's included, are intact."""
    plan = plan_monte_carlo(config(), RUNS, SEED)
    pool = FaultyPool(method, "always-kill", tmp_path / "unused", {3})
    result = run_batch(plan, tmp_path / "batch", pool, chunk_size=4)

    runs, series = read_results(tmp_path / "batch")
    ref_runs, ref_series = read_results(reference)
    assert runs["run_id"].tolist() == list(range(RUNS))
    failed = runs[runs["error"].notna()]
    assert failed["run_id"].tolist() == [3]
    row = failed.iloc[0]
    assert row["error"] == WORKER_DIED
    assert row["seed"] == plan.specs[3].seed
    assert row["replicate"] == 3
    assert "SIGKILL" in row["traceback"]
    assert f"died on each of {MAX_RETRIES + 1} tries" in row["traceback"]
    assert pd.isna(row["final_us_user_share"])
    good = runs["run_id"] != 3
    pd.testing.assert_frame_equal(
        runs[good].reset_index(drop=True), ref_runs[good].reset_index(drop=True)
    )
    pd.testing.assert_frame_equal(
        series, ref_series[ref_series["run_id"] != 3].reset_index(drop=True)
    )
    assert result.failures["run_id"].tolist() == [3]
    manifest = read_manifest(tmp_path / "batch")
    assert manifest["failed_run_ids"] == [3]
    assert manifest["completed_run_ids"] == list(range(RUNS))


def nap_or_die(seconds: float) -> float:
    """A chunk: sleep ``seconds``, or kill the worker at once when ``seconds`` is negative."""
    if seconds < 0:
        die("exit")
    time.sleep(seconds)
    return seconds


def test_only_the_chunk_whose_worker_died_is_blamed():
    """Chunks running beside a dying one are run again but never given up."""
    given_up: list[tuple] = []
    chunks = [(0.4,), (-1.0,), (0.3,), (0.2,), (0.1,)]
    with ProcessPool(2, "fork") as pool:
        results = list(
            pool.imap_unordered(
                nap_or_die, chunks, give_up=lambda chunk, why: given_up.append((chunk, why))
            )
        )
    assert sorted(r for r in results if r is not None) == [0.1, 0.2, 0.3, 0.4]
    assert [chunk for chunk, _ in given_up] == [(-1.0,)]
    assert "exit code 1" in given_up[0][1]


def test_a_chunk_that_keeps_killing_its_worker_without_a_fallback_raises():
    with ProcessPool(2, "fork") as pool:
        with pytest.raises(ExecutorError, match=f"died on each of {MAX_RETRIES + 1} tries"):
            list(pool.imap_unordered(nap_or_die, [(0.1,), (-1.0,)]))
    assert pool._pool is None


# --------------------------------------------------------------------------- interrupts


def test_signals_become_batch_interrupted_while_active():
    before = {s: signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM)}
    for signum, code in ((signal.SIGTERM, 143), (signal.SIGINT, 130)):
        with pytest.raises(BatchInterrupted) as caught:
            with signals_as_exceptions():
                os.kill(os.getpid(), signum)
                time.sleep(5)  # the handler raises before this ends
        assert caught.value.signum == signum
        assert caught.value.exit_code == code
        assert str(caught.value) == f"interrupted by {signal.Signals(signum).name}"
        assert {s: signal.getsignal(s) for s in before} == before
    assert not issubclass(BatchInterrupted, Exception)  # `except Exception` never swallows it
    copy = pickle.loads(pickle.dumps(BatchInterrupted(15)))
    assert (copy.signum, copy.exit_code) == (15, 143)


@pytest.mark.parametrize(
    "interrupt",
    [BatchInterrupted(signal.SIGTERM), KeyboardInterrupt()],
    ids=["BatchInterrupted", "KeyboardInterrupt"],
)
def test_an_interrupted_batch_keeps_its_chunks_and_resumes(
    interrupt, reference, tmp_path, monkeypatch
):
    """Chunks saved before the interrupt stay (and are listed), nothing is gathered, the lock
    is released, and a resume gives the uninterrupted batch."""
    original, calls = ensemble.run_model, []

    def interrupted_at_run_5(config, seed=0, **kwargs):
        calls.append(seed)
        if len(calls) == 5:
            raise interrupt
        return original(config, seed=seed, **kwargs)

    monkeypatch.setattr(ensemble, "run_model", interrupted_at_run_5)
    plan = plan_monte_carlo(config(), RUNS, SEED)
    out = tmp_path / "batch"
    with pytest.raises(type(interrupt)):
        run_batch(plan, out, InProcess(), chunk_size=2)
    assert [p.name for p in parts(out)] == ["part-0000000.parquet", "part-0000002.parquet"]
    assert not (out / store.LOCK).exists()
    assert not (out / "runs.parquet").exists()
    manifest = read_manifest(out)
    assert manifest["completed_run_ids"] == [0, 1, 2, 3]
    assert manifest["finished"] is None
    monkeypatch.setattr(ensemble, "run_model", original)
    run_batch(plan, out, InProcess(), resume=True)
    assert_same_results(out, reference)


def test_an_interrupt_stops_the_pool_without_waiting_for_its_chunks():
    pool = ProcessPool(2, "fork")
    timer = threading.Timer(0.5, os.kill, (os.getpid(), signal.SIGTERM))
    start = time.monotonic()
    with pytest.raises(BatchInterrupted), signals_as_exceptions():
        with pool:
            workers = [p.pid for p in pool._pool._processes.values()]
            timer.start()
            list(pool.imap_unordered(time.sleep, [(60,), (60,), (60,)]))
    timer.join()
    assert time.monotonic() - start < 20
    assert pool._pool is None
    assert not [pid for pid in workers if alive(pid, None)]


# --------------------------------------------------------------------------- orphans


def start_time(pid: int) -> int | None:
    """The start time of a process (clock ticks after boot); None when it is gone or a
    zombie (it exited and waits to be reaped)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = stat.rsplit(")", 1)[1].split()
    return None if fields[0] in ("Z", "X") else int(fields[19])


def alive(pid: int, started: int | None) -> bool:
    now = start_time(pid)
    return now is not None and (started is None or now == started)


def descendants(pid: int) -> dict[int, int]:
    """Every process below ``pid``, with its start time (so a reused pid is not mistaken)."""
    found: dict[int, int] = {}
    todo = [pid]
    while todo:
        parent = todo.pop()
        for task in Path(f"/proc/{parent}/task").glob("*"):
            try:
                children = (task / "children").read_text().split()
            except OSError:
                continue
            for child in map(int, children):
                started = start_time(child)
                if child not in found and started is not None:
                    found[child] = started
                    todo.append(child)
    return found


BATCH_SCRIPT = """
import json, sys
from pathlib import Path
from agentsim.ensemble import plan_monte_carlo, run_batch
from agentsim.executors import BatchInterrupted, DaskCluster, ProcessPool, signals_as_exceptions

kind, out, config, runs, seed = sys.argv[1:]
plan = plan_monte_carlo(json.loads(Path(config).read_text()), int(runs), int(seed))
executor = DaskCluster("local", 2) if kind == "dask" else ProcessPool(2, kind)
try:
    with signals_as_exceptions():
        run_batch(plan, Path(out), executor, chunk_size=1)
except BatchInterrupted as exc:
    sys.exit(exc.exit_code)
"""

#: Processes each kind of batch runs below its own: the pool's two workers; a forkserver
#: with its two workers and a resource tracker; Dask's two worker processes.
EXPECTED_BELOW = {"fork": 2, "forkserver": 4, "dask": 2}


@pytest.fixture
def children() -> Iterator[list[subprocess.Popen]]:
    """Processes a test starts; any still running at the end are killed."""
    procs: list[subprocess.Popen] = []
    yield procs
    for proc in procs:
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=30)


def wait_for(condition, timeout: float, what: str, proc: subprocess.Popen | None = None):
    deadline = time.monotonic() + timeout
    while not (value := condition()):
        if proc is not None and proc.poll() is not None:
            raise AssertionError(f"the batch ended (code {proc.returncode}) before {what}")
        assert time.monotonic() < deadline, f"no {what} within {timeout} s"
        time.sleep(0.02)
    return value


#: Executor and signal pairs: every signal on the default start method (fork), the outright
#: kill and SIGTERM on forkserver, and SIGTERM and a terminal's Ctrl-C on Dask.
SIGNAL_CASES = [
    ("fork", "SIGTERM"),
    ("fork", "SIGINT"),
    ("fork", "SIGINT-group"),
    ("fork", "SIGKILL"),
    ("forkserver", "SIGTERM"),
    ("forkserver", "SIGKILL"),
    ("dask", "SIGTERM"),
    ("dask", "SIGINT-group"),
]


@LINUX
@pytest.mark.slow
@pytest.mark.parametrize(("kind", "sig"), SIGNAL_CASES)
def test_a_signalled_batch_leaves_no_process_and_resumes(
    kind, sig, long_reference, tmp_path, children
):
    """The batch's process gets the signal (``-group``: every process of its group does, as
    Ctrl-C in a terminal does)."""
    signum = signal.Signals[sig.removesuffix("-group")]
    plan = plan_monte_carlo(config(**LONG), LONG_RUNS, SEED)
    config_file = tmp_path / "config.json"
    config_file.write_text(json.dumps(plan.configs[next(iter(plan.configs))]), encoding="utf-8")
    out = tmp_path / "batch"
    log = tmp_path / "batch.log"  # a file: a process that outlived the batch holds no pipe
    with log.open("w") as sink:
        proc = subprocess.Popen(
            [sys.executable, "-c", BATCH_SCRIPT, kind, str(out), str(config_file),
             str(LONG_RUNS), str(SEED)],
            cwd=ROOT,
            stdout=sink,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )  # fmt: skip
    children.append(proc)
    wait_for(lambda: (out / "parts").is_dir() and parts(out), 300, "saved chunk", proc)
    below = wait_for(
        lambda: len(d := descendants(proc.pid)) >= EXPECTED_BELOW[kind] and d,
        30,
        f"{EXPECTED_BELOW[kind]} processes below the batch",
        proc,
    )
    if sig.endswith("-group"):
        os.killpg(proc.pid, signum)
    else:
        os.kill(proc.pid, signum)
    sent = time.monotonic()
    proc.wait(timeout=30)
    stopped = time.monotonic() - sent
    expected = -signum if signum == signal.SIGKILL else 128 + signum
    assert proc.returncode == expected, log.read_text()
    deadline = time.monotonic() + 10  # a few seconds, with room for a loaded machine
    while left := {pid for pid, started in below.items() if alive(pid, started)}:
        assert time.monotonic() < deadline, f"processes outlived the batch: {left}"
        time.sleep(0.05)
    if signum == signal.SIGKILL:
        return
    assert stopped < 15, f"the batch took {stopped:.1f} s to stop"
    saved = parts(out)
    assert saved and not (out / "runs.parquet").exists()
    assert not (out / store.LOCK).exists()
    assert read_manifest(out)["completed_run_ids"] == sorted(store.completed_run_ids(out))
    assert len(store.completed_run_ids(out)) < LONG_RUNS
    run_batch(plan, out, InProcess(), resume=True)
    assert_same_results(out, long_reference)


# --------------------------------------------------------------------------- Dask addresses


@pytest.mark.parametrize(
    "address",
    [
        "foo",
        "tcp://127.0.0.1",
        "127.0.0.1",
        "foo://127.0.0.1:8786",
        "inproc://127.0.0.1:8786",
        "tcp://127.0.0.1:0",
        "tcp://127.0.0.1:99999",
        "tcp://:8786",
        "tcp://a b:8786",
        "",
        "tcp://127.0.0.1:8786/path",
        "tcp://127.0.0.1:port",
    ],
)
def test_a_malformed_scheduler_address_is_a_config_error(address: str):
    for make in (lambda: make_executor(scheduler=address), lambda: DaskCluster(address)):
        with pytest.raises(ConfigError) as caught:
            make()
        assert caught.value.key == "--scheduler"
        assert "\n" not in str(caught.value)
        assert "tcp://HOST:PORT" in str(caught.value)


@pytest.mark.parametrize(
    ("address", "checked"),
    [
        ("local", "local"),
        ("tcp://127.0.0.1:8786", "tcp://127.0.0.1:8786"),
        ("127.0.0.1:8786", "tcp://127.0.0.1:8786"),
        ("tls://scheduler.example.org:8786", "tls://scheduler.example.org:8786"),
        ("tcp://[::1]:8786", "tcp://[::1]:8786"),
    ],
)
def test_well_formed_scheduler_addresses_are_accepted(
    address: str, checked: str, monkeypatch: pytest.MonkeyPatch
):
    monkeypatch.setenv("DASK_DISTRIBUTED__COMM__TLS__CA_FILE", "ca.pem")
    monkeypatch.setenv("DASK_DISTRIBUTED__COMM__TLS__CLIENT__CERT", "client.pem")
    import dask.config

    dask.config.refresh()
    try:
        assert check_scheduler(address) == checked
        assert make_executor(scheduler=address).address == checked
    finally:
        monkeypatch.undo()
        dask.config.refresh()


def test_a_tls_address_without_client_certificates_is_one_line():
    import dask.config

    dask.config.refresh()
    with pytest.raises(ConfigError, match="needs the client's certificates") as caught:
        check_scheduler("tls://scheduler.example.org:8786")
    assert caught.value.key == "--scheduler" and "\n" not in str(caught.value)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def assert_not_a_scheduler(address: str, tmp_path: Path, within: float, **options: Any) -> str:
    """Running a batch on ``address`` fails within ``within`` seconds with one line, and
    writes nothing."""
    plan = plan_monte_carlo(config(), 2, SEED)
    start = time.monotonic()
    with pytest.raises(ExecutorError) as caught:
        run_batch(plan, tmp_path / "out", DaskCluster(address, **options))
    assert time.monotonic() - start < within
    message = str(caught.value)
    assert message.startswith(f"{address}: not a Dask scheduler or not reachable ("), message
    assert "\n" not in message
    assert not (tmp_path / "out").exists()
    return message


def test_a_closed_port_is_not_a_scheduler(tmp_path: Path):
    address = f"tcp://127.0.0.1:{free_port()}"
    assert "ConnectionRefusedError" in assert_not_a_scheduler(address, tmp_path, within=5)


def test_a_web_server_is_not_a_scheduler(tmp_path: Path):
    """A web server waits for a request: the handshake never comes, and that is found in
    ``connect_timeout`` seconds (Dask itself would wait, or read its reply as a length)."""
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), http.server.SimpleHTTPRequestHandler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        address = f"tcp://127.0.0.1:{server.server_address[1]}"
        message = assert_not_a_scheduler(address, tmp_path, within=10, connect_timeout=1)
        assert "no Dask handshake within 1 s" in message
    finally:
        server.shutdown()
        server.server_close()


def test_a_service_that_speaks_first_is_not_a_scheduler(tmp_path: Path):
    """A banner read as a Dask frame would be a length of exabytes: refused before reading."""
    listener = socket.create_server(("127.0.0.1", 0))

    def serve() -> None:
        while True:
            try:
                conn, _ = listener.accept()
            except OSError:
                return
            with conn:
                conn.sendall(b"HTTP/1.0 400 Bad Request\r\n\r\n")
                time.sleep(0.5)

    threading.Thread(target=serve, daemon=True).start()
    try:
        address = f"tcp://127.0.0.1:{listener.getsockname()[1]}"
        message = assert_not_a_scheduler(address, tmp_path, within=5)
        assert "something other than a Dask handshake" in message
    finally:
        listener.close()


# --------------------------------------------------------------------------- Dask workers


@pytest.fixture
def empty_cluster() -> Iterator[Any]:
    """A Dask scheduler on 127.0.0.1 without workers (in this process; workers added by a
    test are threads of this process)."""
    from distributed import LocalCluster

    cluster = LocalCluster(
        n_workers=0,
        processes=False,
        threads_per_worker=1,
        protocol="tcp://",
        host="127.0.0.1",
        dashboard_address=None,
    )
    try:
        yield cluster
    finally:
        cluster.close()


def test_no_workers_is_reported_once_then_given_up(empty_cluster, tmp_path):
    said: list[str] = []
    plan = plan_monte_carlo(config(), 2, SEED)
    executor = DaskCluster(empty_cluster.scheduler_address, worker_timeout=1.5, on_wait=said.append)
    start = time.monotonic()
    with pytest.raises(ExecutorError) as caught:
        run_batch(plan, tmp_path / "out", executor)
    assert 1.5 <= time.monotonic() - start < 15
    assert str(caught.value) == (
        f"{empty_cluster.scheduler_address}: no Dask workers joined within 1.5 s"
    )
    assert said == ["waiting for Dask workers (0 connected) ..."]
    assert not (tmp_path / "out").exists()


def test_a_worker_that_joins_late_runs_the_batch(empty_cluster, reference, tmp_path):
    said: list[str] = []
    plan = plan_monte_carlo(config(), RUNS, SEED)
    executor = DaskCluster(empty_cluster.scheduler_address, worker_timeout=60, on_wait=said.append)
    joins = threading.Timer(1.0, empty_cluster.scale, (1,))
    joins.start()
    try:
        run_batch(plan, tmp_path / "batch", executor, chunk_size=3)
    finally:
        joins.join()
    assert said == ["waiting for Dask workers (0 connected) ..."]
    assert_same_results(tmp_path / "batch", reference)


class FaultyDask(DaskCluster):
    """A local Dask cluster whose chunks run through :func:`faulty_chunk` (at most
    ``allowed_failures`` worker deaths per task before Dask gives up on it)."""

    def __init__(self, faults: list[tuple[str, Path, set[int]]], allowed_failures: int):
        super().__init__("local", 2)
        self.faults = [(fault, str(marker), frozenset(bad)) for fault, marker, bad in faults]
        self.allowed_failures = allowed_failures

    def _start(self) -> None:
        import dask
        import distributed  # noqa: F401 - its defaults first

        with dask.config.set({"distributed.scheduler.allowed-failures": self.allowed_failures}):
            super()._start()

    def imap_unordered(self, fn, chunks, **options):  # type: ignore[override]
        for fault in self.faults:
            fn = functools.partial(faulty_chunk, *fault, fn)
        return super().imap_unordered(fn, chunks, **options)


@pytest.mark.slow
def test_dask_workers_that_die_are_retried_then_their_runs_fail(reference, tmp_path):
    """Dask reruns a chunk whose worker died; a run whose worker dies every time is split
    from its chunk and recorded as failed when Dask gives up on it (KilledWorker)."""
    plan = plan_monte_carlo(config(), RUNS, SEED)
    executor = FaultyDask(
        [("once-exit", tmp_path / "died", {6}), ("always-kill", tmp_path / "unused", {3})],
        allowed_failures=1,
    )
    run_batch(plan, tmp_path / "batch", executor, chunk_size=2)
    assert (tmp_path / "died").exists()
    runs, series = read_results(tmp_path / "batch")
    ref_runs, ref_series = read_results(reference)
    failed = runs.loc[runs["error"].notna(), "run_id"].tolist()
    # Dask counts a worker's death against every task queued on that worker, so with one
    # allowed failure a healthy run queued beside run 3 may be given up as well; it is then
    # recorded as failed (never as a wrong result), and the rest match the reference
    assert 3 in failed and len(failed) <= 2, failed
    assert (runs.loc[failed, "error"] == WORKER_DIED).all()
    assert "KilledWorker" in runs.loc[3, "traceback"], runs.loc[3, "traceback"]
    good = ~runs["run_id"].isin(failed)
    pd.testing.assert_frame_equal(
        runs[good].reset_index(drop=True), ref_runs[good].reset_index(drop=True)
    )
    pd.testing.assert_frame_equal(
        series, ref_series[~ref_series["run_id"].isin(failed)].reset_index(drop=True)
    )
    assert read_manifest(tmp_path / "batch")["failed_run_ids"] == failed


@pytest.mark.slow
def test_losing_every_worker_mid_batch_is_given_up(empty_cluster, tmp_path):
    said: list[str] = []
    plan = plan_monte_carlo(config(**LONG), LONG_RUNS, SEED)
    empty_cluster.scale(1)
    executor = DaskCluster(empty_cluster.scheduler_address, worker_timeout=2, on_wait=said.append)

    def retire_all(done: int, total: int) -> None:
        if done:
            empty_cluster.scale(0)

    out = tmp_path / "batch"
    with pytest.raises(ExecutorError, match="no Dask workers joined within 2 s"):
        run_batch(plan, out, executor, chunk_size=1, progress=retire_all)
    assert said == ["waiting for Dask workers (0 connected) ..."]
    assert parts(out)
    assert not (out / store.LOCK).exists()
    assert read_manifest(out)["completed_run_ids"] == sorted(store.completed_run_ids(out))


def start_dask(*args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [str(Path(sys.executable).parent / "dask"), *args, "--no-dashboard"],
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )


@pytest.mark.slow
def test_losing_the_scheduler_keeps_the_saved_chunks(long_reference, tmp_path, children):
    """The scheduler is killed after the first chunk is saved: an ExecutorError naming it, the
    saved chunks kept, the lock released; a resume gives the uninterrupted batch."""
    scheduler = start_dask("scheduler", "--host", "127.0.0.1", "--port", "0")
    children.append(scheduler)
    address = None
    for line in scheduler.stderr:
        if found := re.search(r"Scheduler at:\s+(tcp://\S+)", line):
            address = found.group(1)
            break
    assert address is not None, "the scheduler did not start"
    threading.Thread(target=scheduler.stderr.read, daemon=True).start()  # keep its pipe open
    worker = start_dask("worker", address, "--nworkers", "1", "--nthreads", "1")
    children.append(worker)

    def kill_scheduler(done: int, total: int) -> None:
        if done and scheduler.poll() is None:
            scheduler.kill()

    plan = plan_monte_carlo(config(**LONG), LONG_RUNS, SEED)
    out = tmp_path / "batch"
    executor = DaskCluster(address, worker_timeout=60)
    start = time.monotonic()
    with pytest.raises(ExecutorError) as caught:
        run_batch(plan, out, executor, chunk_size=1, progress=kill_scheduler)
    assert time.monotonic() - start < 60
    message = str(caught.value)
    assert message.startswith(f"lost the Dask scheduler at {address}: "), message
    assert "\n" not in message
    saved = store.completed_run_ids(out)
    assert 0 < len(saved) < LONG_RUNS
    assert not (out / store.LOCK).exists()
    assert not (out / "runs.parquet").exists()
    assert read_manifest(out)["completed_run_ids"] == sorted(saved)
    run_batch(plan, out, InProcess(), resume=True)
    assert_same_results(out, long_reference)

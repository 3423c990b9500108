"""Interchangeable executors for batches of runs: in-process, a local process pool, Dask.

Each executor is a context manager whose :meth:`imap_unordered` applies a function to chunks of
work and yields results as they finish. Work is sent in chunks, so workers import the package
once and take many runs each; no process is started per run. Entering an executor that is
already entered only counts the nesting: the workers start at the outermost ``with`` and stop
when it ends. Leaving it on an exception (an interrupt, a lost scheduler) stops the workers at
once, without waiting for the chunks they are running.

Faults: a pool worker that dies is replaced and its chunk run again (a chunk that keeps killing
its worker is split and, run by run, given up: see :meth:`ProcessPool.imap_unordered`); a Dask
scheduler that cannot be reached, has no workers, or is lost raises :class:`ExecutorError`.
:func:`signals_as_exceptions` turns SIGINT and SIGTERM into :class:`BatchInterrupted`.
"""

from __future__ import annotations

import multiprocessing
import os
import re
import signal
import socket
import struct
import subprocess
import sys
import threading
import time
import warnings
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import (
    FIRST_COMPLETED,
    CancelledError,
    Future,
    ProcessPoolExecutor,
    wait,
)
from concurrent.futures.process import BrokenProcessPool
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, Protocol, Self

#: Module the forkserver imports once, before it forks the pool's workers.
PRELOAD = "agentsim.ensemble"
#: Times a chunk is run again after the worker process running it died; then it is split into
#: single runs (each with as many retries), and a run that still kills its worker is given up.
MAX_RETRIES = 2
#: Seconds a Dask batch waits for a worker to join (at the start, or after losing them all).
WORKER_TIMEOUT_S = 600.0
#: Seconds to connect to a Dask scheduler and hear its handshake.
CONNECT_TIMEOUT_S = 10.0
#: Seconds between looks at a Dask cluster while no chunk finishes.
POLL_S = 1.0
#: Protocols a Dask scheduler address may name.
SCHEDULER_PROTOCOLS = ("tcp", "tls", "ws", "wss")

#: What an executor does with a chunk that keeps killing its worker: split it into smaller
#: chunks, or give it up (its result, made from the chunk and the reason).
Splitter = Callable[[tuple], list[tuple]]
GiveUp = Callable[[tuple, str], Any]


class ExecutorError(RuntimeError):
    """The workers cannot be started, reached or kept (one-line message naming the executor)."""

    def __init__(self, message: str) -> None:
        super().__init__(_one_line(message, 400))


class BatchInterrupted(BaseException):
    """SIGINT or SIGTERM arrived while :func:`signals_as_exceptions` was active.

    ``signum`` is the signal's number, ``exit_code`` the shell's code for it (128 + signum:
    130 for SIGINT, 143 for SIGTERM). A ``BaseException``, as ``KeyboardInterrupt``, so that
    ``except Exception`` (a run recorded as failed, a library's fallback) never swallows it.
    """

    def __init__(self, signum: int) -> None:
        self.signum = int(signum)
        self.exit_code = 128 + self.signum
        super().__init__(f"interrupted by {_signal_name(self.signum)}")

    def __reduce__(self) -> tuple[type, tuple[int]]:
        return type(self), (self.signum,)


@contextmanager
def signals_as_exceptions() -> Iterator[None]:
    """While active, SIGINT raises ``BatchInterrupted(2)`` and SIGTERM ``BatchInterrupted(15)``
    in the main thread; the previous handlers are restored on exit. Elsewhere than in the main
    thread (where Python cannot set handlers) it does nothing."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def interrupt(signum: int, frame: object) -> None:
        raise BatchInterrupted(signum)

    previous: dict[int, Any] = {}
    try:
        for signum in (signal.SIGINT, signal.SIGTERM):
            previous[signum] = signal.signal(signum, interrupt)
        yield
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, signal.SIG_DFL if handler is None else handler)


class Executor(Protocol):
    """What a batch needs from an executor."""

    workers: int

    def __enter__(self) -> Executor: ...

    def __exit__(self, *exc: object) -> None: ...

    def imap_unordered(
        self,
        fn: Callable[..., Any],
        chunks: Iterable[tuple],
        *,
        split: Splitter | None = None,
        give_up: GiveUp | None = None,
    ) -> Iterator[Any]:
        """Yield ``fn(*chunk)`` for every chunk, in order of completion.

        A chunk whose worker process keeps dying is replaced by ``split(chunk)`` (when that
        gives more than one chunk), else by ``give_up(chunk, reason)`` as its result, else
        :class:`ExecutorError` is raised.
        """
        ...


class _Nested:
    """Start on the outermost ``__enter__``, stop on the matching ``__exit__`` (at once, without
    waiting for running work, when it is left on an exception)."""

    _depth = 0

    def __enter__(self) -> Self:
        if self._depth == 0:
            self._start()
        self._depth += 1
        return self

    def __exit__(self, exc_type: object, *exc: object) -> None:
        self._depth -= 1
        if self._depth == 0:
            self._stop(abort=exc_type is not None)

    def _start(self) -> None:
        """Start the workers."""

    def _stop(self, abort: bool = False) -> None:
        """Stop the workers (``abort``: without waiting for their work)."""


class InProcess(_Nested):
    """Runs every chunk in this process, one after another (``--workers 1``)."""

    workers = 1

    def imap_unordered(
        self,
        fn: Callable[..., Any],
        chunks: Iterable[tuple],
        *,
        split: Splitter | None = None,
        give_up: GiveUp | None = None,
    ) -> Iterator[Any]:
        """Yield ``fn(*chunk)`` for each chunk in turn (no worker can die but this process)."""
        for chunk in chunks:
            yield fn(*chunk)


# --------------------------------------------------------------------------- pool workers


def _ready() -> bool:
    return True


def exit_with_parent(parent: int | None) -> None:
    """In a child process (pool worker, app server): on Linux, have the kernel kill it when the
    process that started it dies, so a batch or app killed with SIGKILL leaves no process
    behind. ``parent`` is the expected parent's pid (None when a forkserver is the parent)."""
    if sys.platform != "linux":
        return
    import ctypes

    try:
        ctypes.CDLL(None, use_errno=True).prctl(1, int(signal.SIGKILL))  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):  # pragma: no cover - no prctl
        return
    if parent is not None and os.getppid() != parent:  # it died before the call above
        os._exit(1)


def stop_process(process: subprocess.Popen, timeout: float = 15) -> None:
    """Stop a child process (an app server): SIGTERM, up to ``timeout`` seconds for it to
    end, then SIGKILL; returns once it has ended. Nothing happens to one already ended."""
    if process.poll() is not None:
        return
    process.terminate()
    try:
        process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


#: In a pool worker: the pool's shared slots (see :class:`ProcessPool`) and the slot of the
#: chunk it is running (-1: none).
_slots: Any = None
_slot = -1


def _init_worker(parent: int | None, slots: Any) -> None:
    """Set up a pool worker: die with its parent; ignore SIGINT (the batch's process handles
    Ctrl-C and stops the pool); on SIGTERM (the pool stopping it) clear its slot and exit."""
    global _slots
    exit_with_parent(parent)
    if parent is None:
        _leave_forkserver()
    _slots = slots
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, _terminated)


def _leave_forkserver() -> None:
    """Close this worker's copy of the forkserver's "alive" pipe.

    The forkserver exits when every holder of that pipe's write end has closed it, and a
    forked worker receives a copy (to start processes of its own, which pool workers never
    do). Without this the workers, whose parent is the forkserver, and the forkserver, kept
    alive by its workers, would outlive a batch killed with SIGKILL; with it the forkserver
    exits when the batch's process dies, and the kernel then kills its workers.
    """
    try:
        from multiprocessing import forkserver

        server = forkserver._forkserver
        fd = server._forkserver_alive_fd
        if fd is not None:
            server._forkserver_alive_fd = None
            os.close(fd)
    except (AttributeError, OSError):  # pragma: no cover - another Python's internals
        pass


def _terminated(signum: int, frame: object) -> None:
    if _slots is not None and _slot >= 0:
        _slots[_slot] = 0  # stopped by the pool: not the chunk's fault
    os._exit(128 + signum)


def _tracked(slot: int, fn: Callable[..., Any], *args: Any) -> Any:
    """Run ``fn(*args)`` in a pool worker with the worker's pid in ``slot`` meanwhile."""
    global _slot
    _slot = slot
    if _slots is not None:
        _slots[slot] = os.getpid()
    try:
        return fn(*args)
    finally:
        if _slots is not None:
            _slots[slot] = 0
        _slot = -1


def start_method() -> str:
    """How the pool starts its workers: ``fork`` on Linux while this process runs a single
    thread (instant: workers share the already imported package), else ``forkserver`` (a
    server imports the package once and forks each worker from it)."""
    if sys.platform == "linux" and threading.active_count() == 1:
        return "fork"
    return "forkserver"


@dataclass(eq=False)
class _Work:
    """A chunk on its way through the pool: its order, its slot while submitted, its deaths
    (compared by identity: two chunks may hold equal work)."""

    chunk: tuple
    order: int
    slot: int = -1
    deaths: list[str] = field(default_factory=list)


class ProcessPool(_Nested):
    """A local pool of ``workers`` processes (default: one per core), all started on entry.

    ``method`` is the start method (``"fork"`` or ``"forkserver"``; default: chosen by
    :func:`start_method` at each start). On Linux the workers, and a forkserver, die with the
    process that started them, even when it is killed. A worker that dies is replaced: see
    :meth:`imap_unordered`.
    """

    def __init__(self, workers: int | None = None, method: str | None = None) -> None:
        if method not in (None, "fork", "forkserver"):
            raise ValueError(f"method must be 'fork' or 'forkserver' (got {method!r})")
        self.workers = workers or os.cpu_count() or 1
        self.method = method
        self._pool: ProcessPoolExecutor | None = None
        # one slot per chunk in flight: the pid of the worker running it, 0 when none is
        self._slots: Any = None

    def _start(self) -> None:
        method = self.method or start_method()
        context = multiprocessing.get_context(method)
        forked = method == "fork"
        if not forked:
            context.set_forkserver_preload([PRELOAD])
        self._slots = context.RawArray("q", 2 * self.workers)
        self._pool = ProcessPoolExecutor(
            max_workers=self.workers,
            mp_context=context,
            initializer=_init_worker,
            initargs=(os.getpid() if forked else None, self._slots),
        )
        try:
            with warnings.catch_warnings():
                # Python warns about fork() whenever the process has other OS threads; the only
                # ones here are native pools (BLAS, Arrow's allocator) that reset themselves in
                # a forked child. Python threads, which could hold a lock, were ruled out above.
                warnings.filterwarnings(
                    "ignore", ".*use of fork\\(\\) may lead", DeprecationWarning
                )
                # start every worker now, before the caller starts threads (a progress bar)
                for future in [self._pool.submit(_ready) for _ in range(self.workers)]:
                    future.result()
        except BrokenProcessPool as exc:
            self._stop(abort=True)
            raise ExecutorError(f"process pool: its workers died on start ({exc})") from None
        except BaseException:
            self._stop(abort=True)
            raise

    def _stop(self, abort: bool = False) -> None:
        pool = self._pool
        if pool is None:
            return
        if abort:  # kill the workers first: shutdown alone waits for their chunks
            for process in _pool_processes(pool):
                try:
                    process.kill()
                except (OSError, ValueError):  # already gone
                    pass
        pool.shutdown(wait=True, cancel_futures=True)
        self._pool = None

    def imap_unordered(
        self,
        fn: Callable[..., Any],
        chunks: Iterable[tuple],
        *,
        split: Splitter | None = None,
        give_up: GiveUp | None = None,
    ) -> Iterator[Any]:
        """Keep about two chunks per worker in flight; yield results as they finish.

        Chunks are taken from ``chunks`` in order, so earlier chunks start first.

        When a worker dies (killed, out of memory, a crash in native code) the pool breaks:
        results that had arrived are yielded, a fresh pool is started, and the chunks that were
        in flight are submitted again, first. A chunk whose own worker died (rather than
        one stopped with the pool) more than :data:`MAX_RETRIES` times is replaced by
        ``split(chunk)`` when that gives several chunks (each with its own retries), else
        ``give_up(chunk, reason)`` is yielded as its result; without them, or when workers
        keep dying while running nothing, :class:`ExecutorError` is raised.
        """
        assert self._pool is not None, "use the executor as a context manager"
        queue = iter(chunks)
        orders = iter(range(sys.maxsize))
        backlog: deque[_Work] = deque()  # chunks to run again, before new ones
        running: dict[Future, _Work] = {}
        free = list(range(len(self._slots)))
        unexplained = 0  # pool breaks in a row that no chunk caused
        while True:
            broken = False
            while len(running) < len(self._slots):
                if backlog:
                    work = backlog.popleft()
                else:
                    chunk = next(queue, None)
                    if chunk is None:
                        break
                    work = _Work(chunk, next(orders))
                work.slot = free.pop()
                self._slots[work.slot] = 0
                try:
                    future = self._pool.submit(_tracked, work.slot, fn, *work.chunk)
                except BrokenProcessPool:
                    free.append(work.slot)
                    backlog.appendleft(work)
                    broken = True
                    break
                running[future] = work
            if not running and not broken:
                return
            if not broken:
                done, _ = wait(running, return_when=FIRST_COMPLETED)
                for future in sorted(done, key=lambda f: running[f].order):
                    if isinstance(future.exception(), BrokenProcessPool):
                        broken = True
                        continue
                    free.append(running.pop(future).slot)
                    unexplained = 0
                    yield future.result()
            if not broken:
                continue
            finished, lost, died = self._restart(running, free)
            yield from finished
            if finished:
                unexplained = 0
            culprits = [work for work in lost if work.slot in died]
            if not culprits:
                unexplained += 1
                if unexplained > MAX_RETRIES:
                    raise ExecutorError(
                        f"process pool: workers died {unexplained} times in a row while "
                        "running no chunk of their own"
                    )
            retry: list[_Work] = []
            for work in lost:
                if work in culprits:
                    work.deaths.append(died[work.slot])
                if len(work.deaths) <= MAX_RETRIES:
                    retry.append(work)
                    continue
                pieces = split(work.chunk) if split is not None else [work.chunk]
                if len(pieces) > 1:
                    retry += [_Work(piece, work.order) for piece in pieces]
                    continue
                reason = (
                    f"its worker process died on each of {len(work.deaths)} tries "
                    f"({'; '.join(work.deaths)})"
                )
                if give_up is None:
                    raise ExecutorError(f"process pool: a chunk of work failed: {reason}")
                yield give_up(work.chunk, reason)
            backlog.extendleft(reversed(retry))

    def _restart(
        self, running: dict[Future, _Work], free: list[int]
    ) -> tuple[list[Any], list[_Work], dict[int, str]]:
        """Replace a broken pool. Returns the results that had arrived (in order), the work
        that was lost (in order), and for each slot whose worker died on its own while running
        it (not stopped with the pool), how it died."""
        pool = self._pool
        assert pool is not None
        processes = {process.pid: process for process in _pool_processes(pool)}
        pool.shutdown(wait=True)  # the broken pool has stopped (and joined) all its workers
        self._pool = None
        died = {}
        for slot, pid in enumerate(self._slots):
            if pid:
                process = processes.get(pid)
                code = process.exitcode if process is not None else None
                died[slot] = f"pid {pid}: {_exit_status(code)}"
        finished, lost = [], []
        for future, work in sorted(running.items(), key=lambda item: item[1].order):
            free.append(work.slot)
            if isinstance(future.exception(), BrokenProcessPool):
                lost.append(work)
            else:
                finished.append(future.result())  # arrived before the pool broke
        running.clear()
        self._start()
        return finished, lost, died


def _pool_processes(pool: ProcessPoolExecutor) -> list[Any]:
    """The pool's worker processes (``multiprocessing.Process``), as far as they are known."""
    for _ in range(3):  # the pool's manager thread may change the mapping meanwhile
        try:
            return list((getattr(pool, "_processes", None) or {}).values())
        except RuntimeError:
            continue
    return []


def _exit_status(code: int | None) -> str:
    if code is None:
        return "exit status unknown"
    if code < 0:
        return f"killed by {_signal_name(-code)}"
    return f"exit code {code}"


def _signal_name(signum: int) -> str:
    try:
        return signal.Signals(signum).name
    except ValueError:
        return f"signal {signum}"


# --------------------------------------------------------------------------- Dask


def check_scheduler(address: str) -> str:
    """A Dask scheduler address as the executor uses it: ``"local"``, or
    ``PROTOCOL://HOST:PORT`` with a protocol of :data:`SCHEDULER_PROTOCOLS` (``HOST:PORT``
    alone means ``tcp://``; an IPv6 host is written in brackets).

    Raises :class:`~agentsim.config.ConfigError` (key ``--scheduler``) for anything else.
    """
    from agentsim.config import ConfigError, quote

    if address == "local":
        return address
    text = str(address).strip()
    protocol, sep, rest = text.rpartition("://")
    if not sep:
        protocol, rest = "tcp", text
    expected = "give tcp://HOST:PORT (or tls://, ws://, wss://), or 'local'"
    if protocol not in SCHEDULER_PROTOCOLS:
        raise ConfigError(
            "--scheduler",
            f"{quote(address)} names an unknown protocol {quote(protocol)}; {expected}",
        )
    match = re.fullmatch(r"(\[[0-9A-Fa-f:.]+\]|[^\s:/\[\]]+):([0-9]{1,5})", rest)
    if match is None or not 1 <= int(match.group(2)) <= 65535:
        raise ConfigError(
            "--scheduler", f"{quote(address)} is not a HOST:PORT address (port 1-65535); {expected}"
        )
    if protocol in ("tls", "wss") and not _client_tls_configured():
        raise ConfigError(
            "--scheduler",
            f"a {protocol}:// address needs the client's certificates in Dask's configuration "
            "(DASK_DISTRIBUTED__COMM__TLS__CA_FILE, ...__CLIENT__CERT, ...__CLIENT__KEY)",
        )
    return f"{protocol}://{match.group(1)}:{int(match.group(2))}"


def _client_tls_configured() -> bool:
    """Whether Dask's configuration names a CA file and a client certificate (what a
    ``tls://`` client needs); False when Dask is not installed."""
    try:
        import dask.config
    except ImportError:  # pragma: no cover - depends on the install
        return False
    ca_file = dask.config.get("distributed.comm.tls.ca-file", default=None)
    cert = dask.config.get("distributed.comm.tls.client.cert", default=None)
    return bool(ca_file) and bool(cert)


@contextmanager
def _quiet(logger: str | None) -> Iterator[None]:
    """Keep a logger to critical messages while the block runs (None: change nothing)."""
    if logger is None:
        yield
        return
    import logging

    log = logging.getLogger(logger)
    level = log.level
    log.setLevel(logging.CRITICAL)
    try:
        yield
    finally:
        log.setLevel(level)


def _print_wait(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def _one_line(text: object, limit: int = 200) -> str:
    """``text`` on one line, at most ``limit`` characters."""
    line = " ".join(str(text).split())
    return line if len(line) <= limit else line[: limit - 3] + "..."


def _describe(exc: BaseException) -> str:
    """An exception as ``Class: first line of its message`` (or the line giving a reason)."""
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    reasons = [line for line in lines if "reason:" in line]
    name = type(exc).__name__
    line = (reasons or lines or [""])[0].rstrip(":.")
    return _one_line(f"{name}: {line}" if line else name)


def _probe(address: str, timeout: float) -> None:
    """Connect to a ``tcp://`` address and read the handshake a Dask scheduler sends first.

    Something else listening there (a web server, which waits for a request; a service that
    sends a banner, which Dask would read as the length of a message exabytes long) is found
    in at most ``timeout`` seconds, without Dask allocating anything. Raises ``OSError``.
    """
    host, port = address.removeprefix("tcp://").rsplit(":", 1)
    with socket.create_connection((host.strip("[]"), int(port)), timeout=timeout) as sock:
        deadline = time.monotonic() + timeout

        def read(n: int) -> bytes:
            data = b""
            while len(data) < n:
                sock.settimeout(max(deadline - time.monotonic(), 0.001))
                try:
                    part = sock.recv(n - len(data))
                except TimeoutError:
                    raise TimeoutError(f"no Dask handshake within {timeout:g} s") from None
                if not part:
                    raise ConnectionError("closed the connection without a Dask handshake")
                data += part
            return data

        (size,) = struct.unpack("<Q", read(8))
        if not 8 < size <= 1 << 20:
            raise ConnectionError("sent something other than a Dask handshake")
        message = read(size)
    try:
        import msgpack
        from distributed.protocol.utils import unpack_frames

        handshake = msgpack.loads(unpack_frames(message)[0])
    except Exception:
        handshake = None
    if not isinstance(handshake, dict):
        raise ConnectionError("sent something other than a Dask handshake")


class DaskCluster(_Nested):
    """A Dask distributed cluster: ``address`` of a running scheduler, or "local" to start a
    LocalCluster of ``workers`` single-threaded processes.

    ``address`` is checked at once (:func:`check_scheduler`: ``ConfigError``). On entry a
    scheduler that cannot be reached within ``connect_timeout`` seconds, or that is not a Dask
    scheduler, raises :class:`ExecutorError`, as does Dask not being installed. While the
    cluster has no worker (at the start, or having lost them all), ``on_wait(message)`` is
    called once (default: print it on stderr) and the batch waits at most ``worker_timeout``
    seconds for one to join before raising :class:`ExecutorError`; a scheduler lost in the
    middle of a batch raises :class:`ExecutorError` too.
    """

    def __init__(
        self,
        address: str,
        workers: int | None = None,
        *,
        worker_timeout: float = WORKER_TIMEOUT_S,
        connect_timeout: float = CONNECT_TIMEOUT_S,
        on_wait: Callable[[str], None] | None = _print_wait,
    ) -> None:
        self.address = check_scheduler(address)
        self.workers = workers or os.cpu_count() or 1
        self.worker_timeout = float(worker_timeout)
        self.connect_timeout = float(connect_timeout)
        self.on_wait = on_wait
        self._client: Any = None
        self._cluster: Any = None
        self._futures: dict[Any, tuple] = {}

    def _start(self) -> None:
        try:
            from dask.distributed import Client, LocalCluster
        except ImportError as exc:  # pragma: no cover - depends on the install
            raise ExecutorError("Dask is not installed: pip install 'agentsim[dist]'") from exc
        try:
            if self.address == "local":
                try:
                    self._cluster = LocalCluster(
                        n_workers=self.workers,
                        threads_per_worker=1,
                        processes=True,
                        dashboard_address=None,
                        preload=[__name__],  # dask_setup: its workers leave Ctrl-C to us
                    )
                    self._client = Client(self._cluster)
                except (OSError, RuntimeError, TimeoutError) as exc:
                    raise ExecutorError(
                        f"local Dask cluster: cannot start ({_describe(exc)})"
                    ) from None
            else:
                try:
                    if self.address.startswith("tcp://"):
                        _probe(self.address, self.connect_timeout)
                    self._client = Client(self.address, timeout=self.connect_timeout)
                except (OSError, TimeoutError, ValueError, MemoryError) as exc:
                    raise ExecutorError(
                        f"{self.address}: not a Dask scheduler or not reachable ({_describe(exc)})"
                    ) from None
                self.workers = self._wait_for_workers()
        except BaseException:
            self._stop(abort=True)
            raise

    def _count_workers(self) -> int:
        try:
            try:  # the count alone, not every worker's details
                info = self._client.scheduler_info(n_workers=0)
            except TypeError:  # pragma: no cover - Dask before 2025
                info = self._client.scheduler_info()
            return int(info.get("n_workers", len(info.get("workers", ()))))
        except (OSError, TimeoutError) as exc:
            raise self._lost(exc) from None

    def _wait_for_workers(self, count: int | None = None) -> int:
        """The number of workers, once there is one; waits at most ``worker_timeout`` s."""
        count = self._count_workers() if count is None else count
        if count:
            return count
        if self.on_wait is not None:
            self.on_wait("waiting for Dask workers (0 connected) ...")
        deadline = time.monotonic() + self.worker_timeout
        while True:
            time.sleep(max(min(POLL_S / 4, deadline - time.monotonic()), 0))
            count = self._count_workers()
            if count:
                return count
            if time.monotonic() >= deadline:
                raise ExecutorError(
                    f"{self.address}: no Dask workers joined within {self.worker_timeout:g} s"
                )

    def _lost(self, exc: BaseException) -> ExecutorError:
        return ExecutorError(f"lost the Dask scheduler at {self.address}: {_describe(exc)}")

    def _stop(self, abort: bool = False) -> None:
        futures, self._futures = list(self._futures), {}
        client, self._client = self._client, None
        cluster, self._cluster = self._cluster, None
        # stopping early (an interrupt, a lost scheduler), Dask logs the connection it cancels:
        # the caller reports what happened, once
        with _quiet("distributed.client" if abort else None):
            if client is not None:
                if abort and futures:
                    try:
                        client.cancel(futures, force=True)
                    except Exception:  # the scheduler may be gone; closing follows
                        pass
                try:
                    client.close(timeout=self.connect_timeout)
                except Exception:  # a client of a lost scheduler may fail to close
                    pass
            if cluster is not None:
                cluster.close(timeout=self.connect_timeout)

    def imap_unordered(
        self,
        fn: Callable[..., Any],
        chunks: Iterable[tuple],
        *,
        split: Splitter | None = None,
        give_up: GiveUp | None = None,
    ) -> Iterator[Any]:
        """Submit every chunk; yield results as the cluster finishes them.

        A chunk the scheduler gives up on because it killed its workers (``KilledWorker``) is
        replaced by ``split(chunk)`` when that gives several chunks, else ``give_up(chunk,
        reason)`` is yielded as its result (without them the error propagates). Raises
        :class:`ExecutorError` when the scheduler is lost, or when no worker is connected
        for ``worker_timeout`` seconds.
        """
        from dask.distributed import TimeoutError as DaskTimeout
        from dask.distributed import wait as dask_wait
        from distributed import KilledWorker

        client = self._client
        pending = self._futures
        for chunk in chunks:
            pending[client.submit(fn, *chunk, pure=False)] = chunk
        while pending:
            try:
                done = dask_wait(list(pending), timeout=POLL_S, return_when="FIRST_COMPLETED").done
            except (DaskTimeout, TimeoutError):
                done = set()
            except (OSError, CancelledError) as exc:
                raise self._lost(exc) from None
            if not done:
                count = self._count_workers()
                if not count:
                    self.workers = self._wait_for_workers(count)
                continue
            for future in done:
                chunk = pending.pop(future)
                if future.status == "error" and (split or give_up):
                    exc = future.exception()
                    if isinstance(exc, KilledWorker):
                        pieces = split(chunk) if split is not None else [chunk]
                        if len(pieces) > 1:
                            for piece in pieces:
                                pending[client.submit(fn, *piece, pure=False)] = piece
                        elif give_up is not None:
                            yield give_up(chunk, f"Dask gave up on it: {_describe(exc)}")
                        else:
                            future.result()
                        continue
                try:
                    result = future.result()  # raises the chunk's own error, if any
                except (OSError, CancelledError) as exc:
                    raise self._lost(exc) from None
                yield result


def dask_setup(worker: Any) -> None:
    """Dask's preload hook, run in each worker process of a local cluster as it starts: ignore
    SIGINT. Ctrl-C reaches every process of the terminal's group; the batch's process handles
    it and closes the cluster, while workers that took it would die noisily and slowly."""
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGINT, signal.SIG_IGN)


def make_executor(
    workers: int | None = None,
    scheduler: str | None = None,
    *,
    worker_timeout: float = WORKER_TIMEOUT_S,
    on_wait: Callable[[str], None] | None = _print_wait,
) -> Executor:
    """Dask when a scheduler is named; in-process for one worker; else a local process pool.

    Raises :class:`~agentsim.config.ConfigError` (``--scheduler``) for a malformed scheduler
    address; ``worker_timeout`` and ``on_wait`` go to :class:`DaskCluster`.
    """
    if scheduler is not None:
        return DaskCluster(scheduler, workers, worker_timeout=worker_timeout, on_wait=on_wait)
    if workers == 1:
        return InProcess()
    return ProcessPool(workers)

"""Interchangeable executors for batches of runs: in-process, a local process pool, Dask.

Each executor is a context manager whose :meth:`imap_unordered` applies a function to chunks of
work and yields results as they finish. Work is sent in chunks, so workers import the package
once and take many runs each; no process is started per run. Entering an executor that is
already entered only counts the nesting: the workers start at the outermost ``with`` and stop
when it ends.
"""

from __future__ import annotations

import multiprocessing
import os
import sys
import threading
import warnings
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from typing import Any, Protocol, Self

#: Module the forkserver imports once, before it forks the pool's workers.
PRELOAD = "agentsim.ensemble"


class Executor(Protocol):
    """What a batch needs from an executor."""

    workers: int

    def __enter__(self) -> Executor: ...

    def __exit__(self, *exc: object) -> None: ...

    def imap_unordered(self, fn: Callable[..., Any], chunks: Iterable[tuple]) -> Iterator[Any]:
        """Yield ``fn(*chunk)`` for every chunk, in order of completion."""
        ...


class _Nested:
    """Start on the outermost ``__enter__``, stop on the matching ``__exit__``."""

    _depth = 0

    def __enter__(self) -> Self:
        if self._depth == 0:
            self._start()
        self._depth += 1
        return self

    def __exit__(self, *exc: object) -> None:
        self._depth -= 1
        if self._depth == 0:
            self._stop()

    def _start(self) -> None:
        """Start the workers."""

    def _stop(self) -> None:
        """Stop the workers."""


class InProcess(_Nested):
    """Runs every chunk in this process, one after another (``--workers 1``)."""

    workers = 1

    def imap_unordered(self, fn: Callable[..., Any], chunks: Iterable[tuple]) -> Iterator[Any]:
        """Yield ``fn(*chunk)`` for each chunk in turn."""
        for chunk in chunks:
            yield fn(*chunk)


def _ready() -> bool:
    return True


def exit_with_parent(parent: int | None) -> None:
    """In a child process (pool worker, app server): on Linux, have the kernel kill it when the
    process that started it dies, so a batch or app killed with SIGKILL leaves no process
    behind. ``parent`` is the expected parent's pid (None when a forkserver is the parent)."""
    if sys.platform != "linux":
        return
    import ctypes
    import signal

    try:
        ctypes.CDLL(None, use_errno=True).prctl(1, int(signal.SIGKILL))  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):  # pragma: no cover - no prctl
        return
    if parent is not None and os.getppid() != parent:  # it died before the call above
        os._exit(1)


def start_method() -> str:
    """How the pool starts its workers: ``fork`` on Linux while this process runs a single
    thread (instant: workers share the already imported package), else ``forkserver`` (a
    server imports the package once and forks each worker from it)."""
    if sys.platform == "linux" and threading.active_count() == 1:
        return "fork"
    return "forkserver"


class ProcessPool(_Nested):
    """A local pool of ``workers`` processes (default: one per core), all started on entry.

    On Linux the workers die with the process that started them, even when it is killed.
    """

    def __init__(self, workers: int | None = None) -> None:
        self.workers = workers or os.cpu_count() or 1
        self._pool: ProcessPoolExecutor | None = None

    def _start(self) -> None:
        context = multiprocessing.get_context(start_method())
        forked = context.get_start_method() == "fork"
        if not forked:
            context.set_forkserver_preload([PRELOAD])
        self._pool = ProcessPoolExecutor(
            max_workers=self.workers,
            mp_context=context,
            initializer=exit_with_parent,
            initargs=(os.getpid() if forked else None,),
        )
        with warnings.catch_warnings():
            # Python warns about fork() whenever the process has other OS threads; the only
            # ones here are native pools (BLAS, Arrow's allocator) that reset themselves in a
            # forked child. Python threads, which could hold a lock, were ruled out above.
            warnings.filterwarnings("ignore", ".*use of fork\\(\\) may lead", DeprecationWarning)
            # start every worker now, before the caller starts threads (a progress bar)
            for future in [self._pool.submit(_ready) for _ in range(self.workers)]:
                future.result()

    def _stop(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None

    def imap_unordered(self, fn: Callable[..., Any], chunks: Iterable[tuple]) -> Iterator[Any]:
        """Keep about two chunks per worker in flight; yield results as they finish.

        Chunks are taken from ``chunks`` in order, so earlier chunks start first.
        """
        assert self._pool is not None, "use the executor as a context manager"
        pending: set = set()
        queue = iter(chunks)
        for chunk in queue:
            pending.add(self._pool.submit(fn, *chunk))
            if len(pending) >= 2 * self.workers:
                break
        while pending:
            done, pending = wait(pending, return_when=FIRST_COMPLETED)
            for future in done:
                next_chunk = next(queue, None)
                if next_chunk is not None:
                    pending.add(self._pool.submit(fn, *next_chunk))
                yield future.result()


class DaskCluster(_Nested):
    """A Dask distributed cluster: ``address`` of a running scheduler, or "local" to start a
    LocalCluster of ``workers`` single-threaded processes. Raises ``RuntimeError`` on entry
    when Dask is not installed, ``OSError`` when the scheduler cannot be reached."""

    def __init__(self, address: str, workers: int | None = None) -> None:
        self.address = address
        self.workers = workers or os.cpu_count() or 1
        self._client: Any = None
        self._cluster: Any = None

    def _start(self) -> None:
        try:
            from dask.distributed import Client, LocalCluster
        except ImportError as exc:  # pragma: no cover - depends on the install
            raise RuntimeError("Dask is not installed: pip install 'agentsim[dist]'") from exc
        try:
            if self.address == "local":
                self._cluster = LocalCluster(
                    n_workers=self.workers,
                    threads_per_worker=1,
                    processes=True,
                    dashboard_address=None,
                )
                self._client = Client(self._cluster)
            else:
                self._client = Client(self.address, timeout="10s")
                self.workers = max(len(self._client.scheduler_info().get("workers", {})), 1)
        except BaseException:
            self._stop()
            raise

    def _stop(self) -> None:
        if self._client is not None:
            self._client.close()
            self._client = None
        if self._cluster is not None:
            self._cluster.close()
            self._cluster = None

    def imap_unordered(self, fn: Callable[..., Any], chunks: Iterable[tuple]) -> Iterator[Any]:
        """Submit every chunk; yield results as the cluster finishes them."""
        from dask.distributed import as_completed

        futures = [self._client.submit(fn, *chunk, pure=False) for chunk in chunks]
        for future in as_completed(futures):
            yield future.result()


def make_executor(workers: int | None = None, scheduler: str | None = None) -> Executor:
    """Dask when a scheduler is named; in-process for one worker; else a local process pool."""
    if scheduler is not None:
        return DaskCluster(scheduler, workers)
    if workers == 1:
        return InProcess()
    return ProcessPool(workers)

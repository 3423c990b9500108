"""Interchangeable executors for batches of runs: in-process, a local process pool, Dask.

Each executor is a context manager whose :meth:`imap_unordered` applies a function to chunks of
work and yields results as they finish. Work is sent in chunks, so workers import the package
once and take many runs each; no process is started per run.
"""

from __future__ import annotations

import multiprocessing
import os
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from typing import Any, Protocol


class Executor(Protocol):
    """What a batch needs from an executor."""

    workers: int

    def __enter__(self) -> Executor: ...

    def __exit__(self, *exc: object) -> None: ...

    def imap_unordered(self, fn: Callable[..., Any], chunks: Iterable[tuple]) -> Iterator[Any]:
        """Yield ``fn(*chunk)`` for every chunk, in order of completion."""
        ...


class InProcess:
    """Runs every chunk in this process, one after another (``--workers 1``)."""

    workers = 1

    def __enter__(self) -> InProcess:
        return self

    def __exit__(self, *exc: object) -> None:
        return None

    def imap_unordered(self, fn: Callable[..., Any], chunks: Iterable[tuple]) -> Iterator[Any]:
        """Yield ``fn(*chunk)`` for each chunk in turn."""
        for chunk in chunks:
            yield fn(*chunk)


class ProcessPool:
    """A local pool of worker processes (forkserver start, package preloaded once)."""

    def __init__(self, workers: int | None = None) -> None:
        self.workers = workers or os.cpu_count() or 1
        self._pool: ProcessPoolExecutor | None = None

    def __enter__(self) -> ProcessPool:
        context = multiprocessing.get_context("forkserver")
        context.set_forkserver_preload(["agentsim.montecarlo"])
        self._pool = ProcessPoolExecutor(max_workers=self.workers, mp_context=context)
        return self

    def __exit__(self, *exc: object) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)

    def imap_unordered(self, fn: Callable[..., Any], chunks: Iterable[tuple]) -> Iterator[Any]:
        """Keep about two chunks per worker in flight; yield results as they finish."""
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


class DaskCluster:
    """A Dask distributed cluster: ``address`` of a running scheduler, or "local" to start one."""

    def __init__(self, address: str, workers: int | None = None) -> None:
        self.address = address
        self.workers = workers or os.cpu_count() or 1
        self._client: Any = None
        self._cluster: Any = None

    def __enter__(self) -> DaskCluster:
        try:
            from dask.distributed import Client, LocalCluster
        except ImportError as exc:  # pragma: no cover - depends on the install
            raise RuntimeError("Dask is not installed: pip install 'agentsim[dist]'") from exc
        if self.address == "local":
            self._cluster = LocalCluster(
                n_workers=self.workers, threads_per_worker=1, processes=True, dashboard_address=None
            )
            self._client = Client(self._cluster)
        else:
            self._client = Client(self.address, timeout="10s")
            self.workers = max(len(self._client.scheduler_info().get("workers", {})), 1)
        return self

    def __exit__(self, *exc: object) -> None:
        if self._client is not None:
            self._client.close()
        if self._cluster is not None:
            self._cluster.close()

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

"""Serving the app's pages in tests: a free port, a server started and waited for, and, at
the end, the server and everything it started stopped, with a check that nothing is left."""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import time
import urllib.request
from collections.abc import Iterator, Sequence
from pathlib import Path

import psutil
import pytest

from agentsim.executors import stop_process

from .conftest import ROOT


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def running_server(
    command: Sequence[str], port: int, log: Path, env: dict[str, str] | None = None
) -> Iterator[tuple[str, psutil.Process]]:
    """Run ``command`` (output to ``log``) and yield (its URL on ``port``, its process) once
    the page answers; fail with the log's tail if it does not within 90 s. At the end stop it
    and whatever it started, and fail if any of those outlived it."""
    with log.open("w") as sink:
        server = subprocess.Popen(
            [str(part) for part in command],
            stdout=sink,
            stderr=subprocess.STDOUT,
            cwd=ROOT,
            env={**os.environ, "PYTHONUNBUFFERED": "1", **(env or {})},
        )
        process = psutil.Process(server.pid)
        url = f"http://127.0.0.1:{port}/"
        try:
            deadline = time.monotonic() + 90
            while time.monotonic() < deadline:
                try:
                    with urllib.request.urlopen(url, timeout=2) as response:
                        if response.status == 200:
                            break
                except OSError:
                    time.sleep(0.3)
            else:
                pytest.fail(f"{command[2:4]} did not start:\n{log.read_text()[-2000:]}")
            yield url, process
        finally:
            try:
                children = process.children(recursive=True)
            except psutil.NoSuchProcess:
                children = []
            stop_process(server)
            _, alive = psutil.wait_procs(children, timeout=15)
            for orphan in alive:
                orphan.kill()
            assert not alive, f"processes outlived {command[2:4]}: {alive}"

"""``dask scheduler`` and ``dask worker`` as processes on 127.0.0.1, as a user starts
them by hand; every one is stopped by its pid."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import psutil

from helpers import SRC, free_port

BIN = Path(sys.executable).parent


def stop(procs: list[subprocess.Popen[bytes]]) -> None:
    """SIGTERM the processes, last started first; SIGKILL those still there after 10 s."""
    for proc in reversed(procs):
        if proc.poll() is None:
            os.kill(proc.pid, signal.SIGTERM)
    for proc in reversed(procs):
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.kill(proc.pid, signal.SIGKILL)
            proc.wait()


def listening(procs: list[subprocess.Popen[bytes]]) -> set[str]:
    """The addresses the processes listen on."""
    found = set()
    for proc in procs:
        for conn in psutil.Process(proc.pid).net_connections(kind="inet"):
            if conn.status == psutil.CONN_LISTEN:
                found.add(conn.laddr.ip)
    return found


def children_left() -> list[list[str]]:
    """The command lines of this process's children still running, but for Python's
    resource tracker (it lives as long as this interpreter)."""
    left = [p.cmdline() for p in psutil.Process().children(recursive=True)]
    return [c for c in left if "resource_tracker" not in " ".join(c)]


def wait_for(address: str, workers: int) -> None:
    from distributed import Client

    with Client(address, timeout="20s") as client:  # type: ignore[no-untyped-call]
        client.wait_for_workers(workers, timeout=60)


class Cluster:
    """A scheduler on a free port of 127.0.0.1; :meth:`worker` adds a worker."""

    def __init__(self, tmp: Path) -> None:
        self.tmp, self.address = tmp, f"tcp://127.0.0.1:{free_port()}"
        self.procs: list[subprocess.Popen[bytes]] = []
        self.workers: dict[str, subprocess.Popen[bytes]] = {}
        port = self.address.rsplit(":", 1)[1]
        # Its HTTP server (health, metrics; the dashboard with bokeh) binds 0.0.0.0 unless
        # told, even with --no-dashboard; so do the workers'.
        loopback = ["--dashboard-address", "127.0.0.1:0"]
        self._start(["scheduler", "--host", "127.0.0.1", "--port", port, *loopback], {})

    def _start(self, args: list[str], env: dict[str, str]) -> subprocess.Popen[bytes]:
        environ = {**os.environ, "PYTHONPATH": str(SRC), **env}
        log = (self.tmp / f"dask-{len(self.procs)}.log").open("wb")
        proc = subprocess.Popen([str(BIN / "dask"), *args], env=environ, stdout=log, stderr=log)
        self.procs.append(proc)
        return proc

    def worker(self, pythonpath: str = str(SRC)) -> str:
        port = free_port()
        args = ["worker", self.address, "--host", "127.0.0.1", "--worker-port", str(port)]
        args += ["--no-nanny", "--nthreads", "1", "--dashboard-address", "127.0.0.1:0"]
        self.workers[f"tcp://127.0.0.1:{port}"] = self._start(args, {"PYTHONPATH": pythonpath})
        return f"tcp://127.0.0.1:{port}"

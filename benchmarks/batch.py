"""Batches in-process, on a LocalCluster, and on a scheduler and workers started by hand.

    python benchmarks/batch.py [--size 256] [--iterations 60] [--parts local,cluster,scaling]

local:   8 items (4 photos × 2 paintings) in-process, then with --workers 2: wall time,
         items per hour, CPU seconds and CPU efficiency (CPU seconds / wall / cores).
cluster: a scheduler and 2 workers (1 thread each) started by hand on 127.0.0.1: the same
         batch, then again with one worker killed while its first item runs.
scaling: items per hour per worker at 512 px, and the client's and scheduler's cost per
         item (a no-op task with an item's bytes, and the client's writing), for a model
         of N machines.
Every figure is printed with the load average; other work on the machine slows them.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / "src" / "painterly" / "data"
BIN = Path(sys.executable).parent
ENV = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
CORES = len(os.sched_getaffinity(0))


def load() -> str:
    one, five, fifteen = os.getloadavg()
    return f"load {one:.1f} {five:.1f} {fifteen:.1f}"


def photos(tmp: Path) -> Path:
    folder = tmp / "photos"
    folder.mkdir()
    for name in ("tubingen.jpg", "shipwreck.jpg", "starry_night.jpg", "the_scream.jpg"):
        shutil.copy(DATA / name, folder / name)
    return folder


def cli_batch(args: list[str]) -> tuple[float, float, int]:
    """Run ``painterly batch`` as a process: (wall s, CPU s of it and its children, rc)."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    cmd = [sys.executable, "-m", "painterly", "batch", *args, "-q"]
    rc = subprocess.run(cmd, env=ENV, check=False).returncode
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu, rc


def manifest(out: Path) -> list[dict[str, Any]]:
    return [json.loads(x) for x in (out / "manifest.jsonl").read_text().splitlines()]


def part_local(tmp: Path, common: list[str]) -> None:
    folder = photos(tmp)
    styles = ["--styles", str(DATA / "starry_night.jpg"), str(DATA / "the_scream.jpg")]
    for label, extra in (("in-process", []), ("--workers 2", ["--workers", "2"])):
        out = tmp / f"out-{len(extra)}"
        print(f"{label}: starting ({load()})", flush=True)
        wall, cpu, rc = cli_batch([str(folder), *styles, "-o", str(out), *common, *extra])
        items = sum(x["state"] == "done" for x in manifest(out))
        print(
            f"{label}: {items} items in {wall:.0f} s = {items / wall * 3600:.0f} items/h, "
            f"CPU {cpu:.0f} s, efficiency {cpu / wall / CORES:.0%} of {CORES} cores, rc {rc} "
            f"({load()})",
            flush=True,
        )


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class HandCluster:
    """``dask scheduler`` and two ``dask worker --nthreads 1`` on 127.0.0.1."""

    def __init__(self, tmp: Path, workers: int = 2, threads: int = 1) -> None:
        port = free_port()
        self.address = f"tcp://127.0.0.1:{port}"
        self.log = (tmp / "dask.log").open("ab")
        self.procs = [self._spawn("scheduler", "--host", "127.0.0.1", "--port", str(port))]
        self.workers: dict[str, subprocess.Popen[bytes]] = {}
        for _ in range(workers):
            wport = free_port()
            self.workers[f"tcp://127.0.0.1:{wport}"] = self._spawn(
                "worker", self.address, "--host", "127.0.0.1", "--worker-port", str(wport),
                "--nthreads", str(threads), "--no-nanny", "--no-dashboard",
            )  # fmt: skip
        self.procs += self.workers.values()
        from distributed import Client

        with Client(self.address, timeout="30s") as client:  # type: ignore[no-untyped-call]
            client.wait_for_workers(workers, timeout=120)

    def _spawn(self, *args: str) -> subprocess.Popen[bytes]:
        return subprocess.Popen(
            [str(BIN / "dask"), *args], env=ENV, stdout=self.log, stderr=self.log
        )

    def stop(self) -> None:
        """Workers first, then the scheduler; SIGKILL whatever is still there after 10 s."""
        for proc in reversed(self.procs):
            if proc.poll() is None:
                os.kill(proc.pid, signal.SIGTERM)
        for proc in reversed(self.procs):
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.kill(proc.pid, signal.SIGKILL)
                proc.wait()


def _killer(cluster: HandCluster) -> Any:
    """A progress callback that kills the worker of the first item 2 s into it."""
    killed: list[str] = []

    def progress(info: Any) -> None:
        if info.worker and not killed:
            time.sleep(2)
            killed.append(info.worker)
            os.kill(cluster.workers[info.worker].pid, signal.SIGKILL)

    return progress


def part_cluster(tmp: Path, size: int, iterations: int) -> None:
    from painterly.batch import batch

    folder = photos(tmp)
    styles = [str(DATA / "starry_night.jpg"), str(DATA / "the_scream.jpg")]
    for kill in (False, True):
        cluster = HandCluster(tmp)
        progress = _killer(cluster) if kill else None
        out = tmp / f"cluster-{kill}"
        started = time.perf_counter()
        try:
            result = batch([folder], styles, out, cluster=cluster.address, progress=progress,
                           size=size, iterations=iterations, seed=0)  # fmt: skip
        finally:
            cluster.stop()
        wall = time.perf_counter() - started
        lines = manifest(out)
        lost = [x for x in lines if x["state"] == "failed"]
        workers = sorted({x["worker"] for x in lines if x["state"] == "done"})
        label = "one worker killed" if kill else "2 workers"
        print(
            f"hand-started cluster, {label}: {len(result.done)} done, {len(result.failed)} "
            f"failed in {wall:.0f} s ({len(result.done) / wall * 3600:.0f} items/h); manifest: "
            f"{len(lines)} lines, {len(lost)} lost attempts "
            f"{[(x['item'], x['worker'], x['error']) for x in lost]}, done on {workers} ({load()})",
            flush=True,
        )


def noop(content: bytes, style: bytes, size: int) -> bytes:
    return b"x" * size


def part_scaling(tmp: Path, iterations: int) -> None:
    from distributed import Client, LocalCluster

    from painterly.batch import batch

    folder = photos(tmp)
    style = str(DATA / "starry_night.jpg")
    out = tmp / "scale"
    started = time.perf_counter()
    result = batch([folder / "tubingen.jpg", folder / "shipwreck.jpg"], [style], out,
                   workers=1, size=512, iterations=iterations, seed=0)  # fmt: skip
    wall = time.perf_counter() - started
    per_item = sum(x["seconds"] for x in manifest(out)) / len(result.done)
    png = max((out / f"{n}.png").stat().st_size for n in result.done)
    print(
        f"512 px, {iterations} steps, 1 worker × {CORES} threads: {per_item:.1f} s per item "
        f"= {3600 / per_item:.0f} items/h/worker (wall {wall:.0f} s with start) ({load()})"
    )
    # The client's own cost per item: hash the inputs, write the pair and the manifest line.
    from painterly.batch import plan
    from painterly.config import Config
    from painterly.record import write_pair

    t0 = time.perf_counter()
    for _ in range(20):
        plan([folder / "tubingen.jpg"], [style], "cross", Config(size=512))
        write_pair(tmp / "pair.png", (out / f"{result.done[0]}.png").read_bytes(), {"x": 1})
    client_cost = (time.perf_counter() - t0) / 20
    content, paint = (folder / "tubingen.jpg").read_bytes(), Path(style).read_bytes()
    options = {"threads_per_worker": 1, "host": "127.0.0.1", "dashboard_address": "127.0.0.1:0"}
    cluster = LocalCluster(n_workers=2, **options)  # type: ignore[no-untyped-call]
    with Client(cluster) as client:  # type: ignore[no-untyped-call]
        client.gather(client.map(noop, [content] * 4, [paint] * 4, [png] * 4, pure=False))
        t0 = time.perf_counter()
        futures = client.map(noop, [content] * 200, [paint] * 200, [png] * 200, pure=False)
        client.gather(futures)
        sched_cost = (time.perf_counter() - t0) / 200
    cluster.close()
    limit = 1 / (client_cost + sched_cost)
    print(
        f"client per item {client_cost * 1000:.1f} ms, scheduler round trip per item "
        f"{sched_cost * 1000:.1f} ms (with {len(content) + len(paint) + png} bytes moved) "
        f"→ at most {limit * 3600:.0f} items/h through one client; it stops scaling near "
        f"{per_item * limit:.0f} workers of this speed ({load()})"
    )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--size", type=int, default=256)
    parser.add_argument("--iterations", type=int, default=60)
    parser.add_argument("--parts", default="local,cluster,scaling")
    args = parser.parse_args()
    common = ["--size", str(args.size), "--iterations", str(args.iterations), "--seed", "0"]
    print(f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}, {CORES} cores, {load()}")
    with tempfile.TemporaryDirectory() as tmp:
        parts = args.parts.split(",")
        if "local" in parts:
            (Path(tmp) / "local").mkdir()
            part_local(Path(tmp) / "local", common)
        if "cluster" in parts:
            (Path(tmp) / "cluster").mkdir()
            part_cluster(Path(tmp) / "cluster", args.size, args.iterations)
        if "scaling" in parts:
            (Path(tmp) / "scaling").mkdir()
            part_scaling(Path(tmp) / "scaling", args.iterations)


if __name__ == "__main__":
    main()

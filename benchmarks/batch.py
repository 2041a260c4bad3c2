"""Batches in-process, on a LocalCluster, and on a scheduler and workers started by hand.

    python benchmarks/batch.py [--size 256] [--iterations N] [--parts local,cluster,scaling]

Every item uses painterly's defaults (200 steps over the scales) unless --iterations.
local:   8 items (4 photos × 2 paintings; --contents 1: 2 items) in-process, then with
         --workers 2 (1 thread each): wall time, items per hour, CPU seconds and CPU
         efficiency (CPU seconds / wall / cores).
cluster: a scheduler and 2 workers (1 thread each) started by hand on 127.0.0.1: the same
         batch, then again with one worker SIGKILLed --kill-after seconds into its first
         item; the time, the workers' CPU seconds and the manifest's lines.
scaling: items per hour per worker at 512 px (one item on one worker with every core),
         and the client's and scheduler's cost per item (a no-op task with an item's
         bytes, and the client's hashing and writing), for a model of N machines.
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
import threading
import time
from pathlib import Path
from typing import Any

import psutil

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / "src" / "painterly" / "data"
BIN = Path(sys.executable).parent
ENV = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
CORES = len(os.sched_getaffinity(0))


def load() -> str:
    one, five, fifteen = os.getloadavg()
    return f"load {one:.1f} {five:.1f} {fifteen:.1f}"


CONTENTS = ["tubingen.jpg", "shipwreck.jpg", "starry_night.jpg", "the_scream.jpg"]


def photos(tmp: Path) -> Path:
    """A folder of the first --contents bundled images (4: 8 items with 2 paintings)."""
    folder = tmp / "photos"
    folder.mkdir()
    for name in CONTENTS:
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
        scheduler = [
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--dashboard-address",
            "127.0.0.1:0",
        ]
        self.procs = [self._spawn("scheduler", *scheduler)]
        self.workers: dict[str, subprocess.Popen[bytes]] = {}
        for _ in range(workers):
            wport = free_port()
            self.workers[f"tcp://127.0.0.1:{wport}"] = self._spawn(
                "worker", self.address, "--host", "127.0.0.1", "--worker-port", str(wport),
                "--nthreads", str(threads), "--no-nanny", "--dashboard-address", "127.0.0.1:0",
            )  # fmt: skip
        self.procs += self.workers.values()
        self.cpu: dict[str, float] = {}
        from distributed import Client

        with Client(self.address, timeout="30s") as client:  # type: ignore[no-untyped-call]
            client.wait_for_workers(workers, timeout=120)

    def _spawn(self, *args: str) -> subprocess.Popen[bytes]:
        return subprocess.Popen(
            [str(BIN / "dask"), *args], env=ENV, stdout=self.log, stderr=self.log
        )

    def cpu_of(self, worker: str) -> float:
        """A worker's CPU seconds so far (kept, for a worker about to be killed)."""
        try:
            times = psutil.Process(self.workers[worker].pid).cpu_times()
            self.cpu[worker] = times.user + times.system
        except psutil.NoSuchProcess:
            pass
        return self.cpu.get(worker, 0.0)

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


def _killer(cluster: HandCluster, after: float) -> tuple[Any, list[str]]:
    """A progress callback that SIGKILLs the worker of the first item ``after`` seconds
    after the item started there; and the list that names the killed worker."""
    killed: list[str] = []

    def kill(worker: str) -> None:
        cluster.cpu_of(worker)  # its CPU seconds until now
        os.kill(cluster.workers[worker].pid, signal.SIGKILL)
        killed.append(worker)
        print(f"  SIGKILLed worker {worker} {after:.0f} s into its first item", flush=True)

    def progress(info: Any) -> None:
        if info.worker and not killed and not timers:
            timers.append(threading.Timer(after, kill, (info.worker,)))
            timers[0].start()

    timers: list[threading.Timer] = []
    return progress, killed


def part_cluster(tmp: Path, options: dict[str, Any], kill_after: float) -> None:
    from painterly.batch import batch

    folder = photos(tmp)
    styles = [str(DATA / "starry_night.jpg"), str(DATA / "the_scream.jpg")]
    for kill in (False, True):
        cluster = HandCluster(tmp)
        before = {w: cluster.cpu_of(w) for w in cluster.workers}
        progress, killed = _killer(cluster, kill_after) if kill else (None, [])
        out = tmp / f"cluster-{kill}"
        print(f"hand-started cluster, {'one worker killed' if kill else '2 workers'}: "
              f"starting ({load()})", flush=True)  # fmt: skip
        started = time.perf_counter()
        try:
            result = batch([folder], styles, out, cluster=cluster.address, progress=progress,
                           seed=0, **options)  # fmt: skip
            wall = time.perf_counter() - started
            cpu = sum(cluster.cpu_of(w) - before[w] for w in cluster.workers)
        finally:
            cluster.stop()
        lines = manifest(out)
        label = f"one worker SIGKILLed {kill_after:.0f} s into an item" if kill else "2 workers"
        print(
            f"hand-started cluster, {label}: {len(result.done)} done, {len(result.failed)} "
            f"failed in {wall:.0f} s = {len(result.done) / wall * 3600:.0f} items/h, workers' "
            f"CPU {cpu:.0f} s, efficiency {cpu / wall / CORES:.0%} of {CORES} cores; "
            f"manifest: {len(lines)} lines ({load()})",
            flush=True,
        )
        for x in lines:
            if x["state"] == "failed" or x["attempt"] > 1:
                print(f"  {x['item']} attempt {x['attempt']} {x['state']} on {x['worker']} "
                      f"after {x['seconds']:.0f} s: {x['error']}", flush=True)  # fmt: skip
        if killed:
            survivor = sum(x["state"] == "done" and x["worker"] != killed[0] for x in lines)
            print(f"  items done by the surviving worker: {survivor}", flush=True)


def noop(content: bytes, style: bytes, size: int) -> bytes:
    return b"x" * size


def part_scaling(tmp: Path, options: dict[str, Any]) -> None:
    from distributed import Client, LocalCluster

    from painterly.batch import batch

    folder = photos(tmp)
    style = str(DATA / "starry_night.jpg")
    out = tmp / "scale"
    print(f"512 px on 1 worker × {CORES} threads: starting ({load()})", flush=True)
    started = time.perf_counter()
    result = batch([folder / "tubingen.jpg"], [style], out, workers=1, seed=0,
                   **{**options, "size": 512})  # fmt: skip
    wall = time.perf_counter() - started
    per_item = sum(x["seconds"] for x in manifest(out)) / len(result.done)
    png = max((out / f"{n}.png").stat().st_size for n in result.done)
    steps = json.loads((out / f"{result.done[0]}.json").read_text())["steps"]
    print(
        f"512 px, {steps} steps, 1 worker × {CORES} threads: {per_item:.0f} s per item "
        f"= {3600 / per_item:.1f} items/h/worker (wall {wall:.0f} s with start) ({load()})",
        flush=True,
    )
    # The client's own cost per item: hash the inputs, write the pair and the manifest line.
    from painterly.batch import plan
    from painterly.config.settings import Config
    from painterly.transfer.result import write_pair

    t0 = time.perf_counter()
    for _ in range(20):
        plan([folder / "tubingen.jpg"], [style], "cross", Config(size=512))
        write_pair(tmp / "pair.png", (out / f"{result.done[0]}.png").read_bytes(), {"x": 1})
    client_cost = (time.perf_counter() - t0) / 20
    content, paint = (folder / "tubingen.jpg").read_bytes(), Path(style).read_bytes()
    local = {"threads_per_worker": 1, "host": "127.0.0.1", "dashboard_address": "127.0.0.1:0"}
    cluster = LocalCluster(n_workers=2, **local)  # type: ignore[no-untyped-call]
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
    parser.add_argument("--iterations", type=int, default=None, help="default: painterly's")
    parser.add_argument("--kill-after", type=float, default=20.0, help="seconds into an item")
    parser.add_argument("--parts", default="local,cluster,scaling")
    parser.add_argument("--contents", type=int, default=4, help="photos (× 2 paintings)")
    args = parser.parse_args()
    del CONTENTS[args.contents :]
    steps = {"iterations": args.iterations} if args.iterations else {}
    common = ["--size", str(args.size), "--seed", "0"]
    common += ["--iterations", str(args.iterations)] if args.iterations else []
    print(f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}, {CORES} cores, {load()}")
    with tempfile.TemporaryDirectory() as tmp:
        parts = args.parts.split(",")
        if "local" in parts:
            (Path(tmp) / "local").mkdir()
            part_local(Path(tmp) / "local", common)
        if "cluster" in parts:
            (Path(tmp) / "cluster").mkdir()
            part_cluster(Path(tmp) / "cluster", {"size": args.size, **steps}, args.kill_after)
        if "scaling" in parts:
            (Path(tmp) / "scaling").mkdir()
            part_scaling(Path(tmp) / "scaling", steps)


if __name__ == "__main__":
    main()

"""Batches in-process, on a LocalCluster, and on a scheduler and workers started by hand.

    python -m benchmarks batch [--size 256] [--iterations N] [--parts local,cluster,scaling]

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
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import psutil

from painterly.files.samples import bundled

from . import harness
from .harness import Results, free_port

BIN = Path(sys.executable).parent
# The children import painterly from this tree's sources, installed or not.
ENV = {**os.environ, "PYTHONPATH": str(harness.ROOT / "src")}
CORES = harness.cores()
CONTENTS = ("tubingen.jpg", "shipwreck.jpg", "starry_night.jpg", "the_scream.jpg")


def load() -> str:
    return f"load {harness.load()}"


def photos(tmp: Path, count: int) -> Path:
    """A folder of the first ``count`` bundled images (4: 8 items with 2 paintings)."""
    folder = tmp / "photos"
    folder.mkdir()
    for name in CONTENTS[:count]:
        shutil.copy(bundled(name), folder / name)
    return folder


def cli_batch(args: list[str]) -> harness.Child:
    """Run ``painterly batch ARGS -q`` as a process, measured (it may fail)."""
    return harness.run_child(harness.painterly_argv("batch", *args, "-q"), env=ENV, check=False)


def manifest(out: Path) -> list[dict[str, Any]]:
    return [json.loads(x) for x in (out / "manifest.jsonl").read_text().splitlines()]


def part_local(results: Results, tmp: Path, contents: int, common: list[str]) -> None:
    folder = photos(tmp, contents)
    styles = ["--styles", str(bundled("starry_night.jpg")), str(bundled("the_scream.jpg"))]
    for label, extra in (("in-process", []), ("--workers 2", ["--workers", "2"])):
        out = tmp / f"out-{len(extra)}"
        print(f"{label}: starting ({load()})", flush=True)
        child = cli_batch([str(folder), *styles, "-o", str(out), *common, *extra])
        wall, cpu, rc = child.seconds, child.cpu_seconds, child.returncode
        items = sum(x["state"] == "done" for x in manifest(out))
        results.add(
            "local",
            {
                "run": label,
                "items": items,
                "wall": wall,
                "cpu": cpu,
                "rc": rc,
                "cores": CORES,
                "load": harness.load(),
            },
        )
        print(
            f"{label}: {items} items in {wall:.0f} s = {items / wall * 3600:.0f} items/h, "
            f"CPU {cpu:.0f} s, efficiency {cpu / wall / CORES:.0%} of {CORES} cores, rc {rc} "
            f"({load()})",
            flush=True,
        )


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
                "worker",
                self.address,
                "--host",
                "127.0.0.1",
                "--worker-port",
                str(wport),
                "--nthreads",
                str(threads),
                "--no-nanny",
                "--dashboard-address",
                "127.0.0.1:0",
            )
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


def part_cluster(
    results: Results, tmp: Path, contents: int, options: dict[str, Any], kill_after: float
) -> None:
    from painterly.batch import batch

    folder = photos(tmp, contents)
    styles = [str(bundled("starry_night.jpg")), str(bundled("the_scream.jpg"))]
    for kill in (False, True):
        cluster = HandCluster(tmp)
        before = {w: cluster.cpu_of(w) for w in cluster.workers}
        progress, killed = _killer(cluster, kill_after) if kill else (None, [])
        out = tmp / f"cluster-{kill}"
        print(
            f"hand-started cluster, {'one worker killed' if kill else '2 workers'}: "
            f"starting ({load()})",
            flush=True,
        )
        started = time.perf_counter()
        try:
            result = batch(
                [folder], styles, out, cluster=cluster.address, progress=progress, seed=0, **options
            )
            wall = time.perf_counter() - started
            cpu = sum(cluster.cpu_of(w) - before[w] for w in cluster.workers)
        finally:
            cluster.stop()
        lines = manifest(out)
        label = f"one worker SIGKILLed {kill_after:.0f} s into an item" if kill else "2 workers"
        results.add(
            "cluster",
            {
                "run": label,
                "done": len(result.done),
                "failed": len(result.failed),
                "cores": CORES,
                "wall": wall,
                "cpu": cpu,
                "manifest": lines,
                "load": harness.load(),
            },
        )
        print(
            f"hand-started cluster, {label}: {len(result.done)} done, {len(result.failed)} "
            f"failed in {wall:.0f} s = {len(result.done) / wall * 3600:.0f} items/h, workers' "
            f"CPU {cpu:.0f} s, efficiency {cpu / wall / CORES:.0%} of {CORES} cores; "
            f"manifest: {len(lines)} lines ({load()})",
            flush=True,
        )
        for x in lines:
            if x["state"] == "failed" or x["attempt"] > 1:
                print(
                    f"  {x['item']} attempt {x['attempt']} {x['state']} on {x['worker']} "
                    f"after {x['seconds']:.0f} s: {x['error']}",
                    flush=True,
                )
        if killed:
            survivor = sum(x["state"] == "done" and x["worker"] != killed[0] for x in lines)
            print(f"  items done by the surviving worker: {survivor}", flush=True)


def noop(content: bytes, style: bytes, size: int) -> bytes:
    return b"x" * size


def part_scaling(results: Results, tmp: Path, contents: int, options: dict[str, Any]) -> None:
    from distributed import Client, LocalCluster

    from painterly.batch import batch

    folder = photos(tmp, contents)
    style = str(bundled("starry_night.jpg"))
    out = tmp / "scale"
    print(f"512 px on 1 worker × {CORES} threads: starting ({load()})", flush=True)
    started = time.perf_counter()
    result = batch(
        [folder / "tubingen.jpg"], [style], out, workers=1, seed=0, **{**options, "size": 512}
    )
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
    from painterly.files.pairs import write_pair

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
    results.add(
        "scaling",
        {
            "steps": steps,
            "per_item": per_item,
            "client": client_cost,
            "scheduler": sched_cost,
            "bytes": len(content) + len(paint) + png,
            "items_per_hour_limit": limit * 3600,
            "workers_limit": per_item * limit,
            "load": harness.load(),
        },
    )
    print(
        f"client per item {client_cost * 1000:.1f} ms, scheduler round trip per item "
        f"{sched_cost * 1000:.1f} ms (with {len(content) + len(paint) + png} bytes moved) "
        f"→ at most {limit * 3600:.0f} items/h through one client; it stops scaling near "
        f"{per_item * limit:.0f} workers of this speed ({load()})"
    )


def parser() -> argparse.ArgumentParser:
    p = harness.parser("batch", __doc__)
    p.add_argument("--size", type=int, default=256)
    p.add_argument("--iterations", type=int, default=None, help="default: painterly's")
    p.add_argument("--kill-after", type=float, default=20.0, help="seconds into an item")
    p.add_argument("--parts", default="local,cluster,scaling")
    p.add_argument("--contents", type=int, default=4, help="photos (× 2 paintings)")
    return p


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    steps = {"iterations": args.iterations} if args.iterations else {}
    common = ["--size", str(args.size), "--seed", "0"]
    common += ["--iterations", str(args.iterations)] if args.iterations else []
    parts = args.parts.split(",")
    title = f"Batches, {CORES} cores"
    with (
        harness.recording("batch", vars(args), title) as results,
        tempfile.TemporaryDirectory() as folder,
    ):
        tmp = Path(folder)
        if "local" in parts:
            (tmp / "local").mkdir()
            part_local(results, tmp / "local", args.contents, common)
        if "cluster" in parts:
            (tmp / "cluster").mkdir()
            options = {"size": args.size, **steps}
            part_cluster(results, tmp / "cluster", args.contents, options, args.kill_after)
        if "scaling" in parts:
            (tmp / "scaling").mkdir()
            part_scaling(results, tmp / "scaling", args.contents, steps)
    return 0

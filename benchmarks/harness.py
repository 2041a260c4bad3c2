"""What every benchmark shares: the machine's facts, its images, timed rounds, children's
peak memory, free ports and the results file.

A figure is only worth the machine it was measured on, so each run records that machine
(:class:`Facts`: CPU, cores, AMX and bf16 support, torch, the git revision and whether the
tree was dirty, the load at the start, the date) and writes it with its rows into
``benchmarks/results/NAME-DATE-REV.json`` (see :func:`recording`).

This machine's speed swings within seconds, so timings that are compared run in
interleaved rounds (:func:`interleaved`), one call of each per round, and a ratio is
taken within each round (:func:`paired_ratios`) before the median over rounds.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any

from painterly.errors import PainterlyError
from painterly.files import samples
from painterly.files.atomic import atomic_write

ROOT = Path(__file__).resolve().parents[1]
RESULTS = Path(__file__).resolve().parent / "results"
# A folder (or several, separated as in PATH) of images and clips that replace or add to
# the bundled samples: the full-size originals the benchmark pages were measured on.
IMAGES_VARIABLE = "PAINTERLY_BENCH_IMAGES"
# Environment settings that change what a step costs; recorded with every run.
RECORDED_ENV = (
    IMAGES_VARIABLE,
    "THP_MEM_ALLOC_ENABLE",
    "PAINTERLY_KEEP_FREED",
    "OMP_NUM_THREADS",
    "CUDA_VISIBLE_DEVICES",
)
# The CPU flags that decide how fast bf16 convolutions are (Linux's names).
BF16_FLAGS = ("avx512_bf16", "amx_bf16")
AMX_FLAGS = ("amx_tile", "amx_bf16")


class BenchmarkError(PainterlyError):
    """A benchmark cannot run as asked (a missing image, a failed child)."""


# The machine


@dataclass(frozen=True)
class Facts:
    """The machine and the tree a run was measured on, as they were at its start."""

    date: str  # UTC, ISO 8601
    cpu: str
    cores: int  # usable by this process
    cores_total: int
    amx: bool  # AMX tiles with bf16 (oneDNN's fastest bf16 path)
    bf16: bool  # native bf16 arithmetic (AVX-512 BF16 or AMX)
    cpu_flags: tuple[str, ...]  # those of BF16_FLAGS and AMX_FLAGS present
    torch: str
    torch_cpu_capability: str
    torch_threads: int
    cuda: str | None  # the first GPU's name, if any
    python: str
    memory_gib: float
    rev: str
    dirty: bool
    changed: tuple[str, ...]  # the paths `git status` lists
    load: tuple[float, float, float]
    env: dict[str, str] = field(default_factory=dict)

    def summary(self) -> str:
        """One line for a report's header."""
        hardware = "AMX" if self.amx else "bf16" if self.bf16 else "no native bf16"
        gpu = f", {self.cuda}" if self.cuda else ""
        tree = f"{self.rev}{' (dirty)' if self.dirty else ''}"
        return (
            f"{self.date}, {self.cpu} ({hardware}), {self.cores} of {self.cores_total} cores, "
            f"{self.torch_threads} threads, torch {self.torch}{gpu}, {tree}, "
            f"load {'/'.join(f'{x:.1f}' for x in self.load)}"
        )


def machine() -> Facts:
    """The facts of this machine and tree now (imports torch)."""
    import torch

    load = os.getloadavg()
    cpu, flags = _cpuinfo()
    rev, changed = _git()
    return Facts(
        date=datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        cpu=cpu,
        cores=cores(),
        cores_total=os.cpu_count() or 1,
        amx=all(f in flags for f in AMX_FLAGS),
        bf16=any(f in flags for f in BF16_FLAGS),
        cpu_flags=tuple(f for f in dict.fromkeys((*BF16_FLAGS, *AMX_FLAGS)) if f in flags),
        torch=torch.__version__,
        torch_cpu_capability=torch.backends.cpu.get_cpu_capability(),
        torch_threads=torch.get_num_threads(),
        cuda=torch.cuda.get_device_name(0) if torch.cuda.is_available() else None,
        python=platform.python_version(),
        memory_gib=round(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30, 1),
        rev=rev,
        dirty=bool(changed),
        changed=changed,
        load=(round(load[0], 2), round(load[1], 2), round(load[2], 2)),
        env={k: os.environ[k] for k in RECORDED_ENV if k in os.environ},
    )


def cores() -> int:
    """The cores this process may run on."""
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


def load() -> str:
    """The load average over 1, 5 and 15 minutes, as ``1.0/1.2/1.3``."""
    return "/".join(f"{x:.1f}" for x in os.getloadavg())


def _cpuinfo() -> tuple[str, set[str]]:
    """The CPU's model name and flags (Linux); elsewhere what ``platform`` says."""
    model, flags = "", set[str]()
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            key, _, value = line.partition(":")
            if key.strip() == "model name" and not model:
                model = value.strip()
            elif key.strip() == "flags" and not flags:
                flags = set(value.split())
    return model or platform.processor() or platform.machine() or "unknown CPU", flags


def _git() -> tuple[str, tuple[str, ...]]:
    """The tree's short revision and the paths that differ from it (``unknown`` and none
    outside a git checkout)."""
    try:
        rev = _git_out("rev-parse", "--short=7", "HEAD").strip()
        status = _git_out("status", "--porcelain").splitlines()
    except (OSError, subprocess.CalledProcessError):
        return "unknown", ()
    return rev, tuple(line[3:] for line in status if line.strip())


def _git_out(*args: str) -> str:
    cmd = ["git", "-C", str(ROOT), *args]
    return subprocess.run(cmd, capture_output=True, text=True, check=True).stdout


# Images


def image(name: str) -> Path:
    """The image ``name`` (``.jpg`` when it has no suffix): from the folders in
    ``$PAINTERLY_BENCH_IMAGES`` where set and it is there, else painterly's bundled copy,
    else ``name`` itself as a path.

    >>> image("tubingen").name
    'tubingen.jpg'
    """
    file = name if Path(name).suffix else f"{name}.jpg"
    for folder in _image_folders():
        if (folder / file).is_file():
            return folder / file
    if file in (*samples.BUNDLED, *samples.MASKS):
        return samples.bundled(file)
    if Path(name).is_file():
        return Path(name)
    raise BenchmarkError(
        f"image '{name}' is not bundled: set {IMAGES_VARIABLE} to a folder that holds {file}"
    )


def clip(name: str) -> Path:
    """The folder of frames ``name`` from ``$PAINTERLY_BENCH_IMAGES`` (no clip is
    bundled; the synthetic one is made from the bundled photo)."""
    for folder in _image_folders():
        if (folder / name).is_dir():
            return folder / name
    raise BenchmarkError(
        f"clip '{name}' is not bundled: set {IMAGES_VARIABLE} to a folder that holds {name}/"
    )


def images_source() -> str:
    """Where :func:`image` looks first: the folders of the variable, or ``bundled``."""
    return os.environ.get(IMAGES_VARIABLE) or "bundled"


def _image_folders() -> list[Path]:
    value = os.environ.get(IMAGES_VARIABLE, "")
    return [Path(part) for part in value.split(os.pathsep) if part]


# Timed rounds


def timed(fn: Callable[[], object]) -> float:
    """Seconds one call of ``fn`` takes."""
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def interleaved(fns: Mapping[str, Callable[[], object]], repeats: int) -> dict[str, list[float]]:
    """Seconds of each of ``fns`` over ``repeats`` rounds, one call of each per round
    (after one warm-up call each), so that a changing load falls on all alike."""
    for fn in fns.values():
        fn()
    times: dict[str, list[float]] = {name: [] for name in fns}
    for _ in range(repeats):
        for name, fn in fns.items():
            times[name].append(timed(fn))
    return times


def paired_ratios(numerators: Sequence[float], denominators: Sequence[float]) -> list[float]:
    """Each round's ratio of two timings taken in the same round of :func:`interleaved`
    (a machine whose speed drifts between rounds slows both of a round alike)."""
    return [a / b for a, b in zip(numerators, denominators, strict=True)]


def median_ratio(numerators: Sequence[float], denominators: Sequence[float]) -> float:
    """The median of :func:`paired_ratios`.

    >>> median_ratio([2.0, 3.0, 9.0], [1.0, 1.0, 3.0])
    3.0
    """
    return statistics.median(paired_ratios(numerators, denominators))


# Children


@dataclass(frozen=True)
class Child:
    """A finished child process: its wall and CPU seconds and its peak memory."""

    argv: tuple[str, ...]
    returncode: int
    seconds: float
    cpu_seconds: float  # user + system, its own and its waited-for children's
    peak_gib: float  # the largest resident set of it and its waited-for children
    stdout: str = ""
    stderr: str = ""


def run_child(
    argv: Sequence[str],
    *,
    env: Mapping[str, str] | None = None,
    capture: bool = False,
    check: bool = True,
) -> Child:
    """Run ``argv`` to its end and measure it with ``wait4``: the peak is this child's
    own (``RUSAGE_CHILDREN`` would give the largest of every child so far). ``capture``
    keeps its output (through files, which cannot fill up as a pipe does); ``check``
    raises ``CalledProcessError`` when it fails."""
    with _output(capture) as out, _output(capture) as err:
        start = time.perf_counter()
        proc = subprocess.Popen(
            list(argv), env=None if env is None else dict(env), stdout=out, stderr=err
        )
        _, status, usage = os.wait4(proc.pid, 0)
        seconds = time.perf_counter() - start
        proc.returncode = os.waitstatus_to_exitcode(status)
        child = Child(
            tuple(argv),
            proc.returncode,
            seconds,
            usage.ru_utime + usage.ru_stime,
            usage.ru_maxrss / 2**20,  # KiB on Linux
            _read(out),
            _read(err),
        )
    if check and child.returncode:
        raise subprocess.CalledProcessError(child.returncode, argv, child.stdout, child.stderr)
    return child


@contextlib.contextmanager
def _output(capture: bool) -> Iterator[IO[str] | None]:
    if not capture:
        yield None
        return
    with tempfile.TemporaryFile("w+") as file:
        yield file


def _read(file: IO[str] | None) -> str:
    if file is None:
        return ""
    file.seek(0)
    return file.read()


def parser(name: str, doc: str | None) -> argparse.ArgumentParser:
    """The options parser of benchmark ``name``, its module's docstring as the help."""
    return argparse.ArgumentParser(
        prog=f"python -m benchmarks {name}",
        description=doc,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )


def painterly_argv(*args: str) -> list[str]:
    """The command line of painterly's CLI in this interpreter."""
    return [sys.executable, "-m", "painterly", *args]


def benchmark_argv(name: str, *args: str) -> list[str]:
    """The command line of benchmark ``name`` in this interpreter; run it with
    :func:`child_env`, which finds this package from any folder."""
    return [sys.executable, "-m", "benchmarks", name, *args]


def child_env(extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """This process's environment with this repository first on ``PYTHONPATH`` (and
    ``extra`` on top)."""
    env = {**os.environ, **(extra or {})}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    return env


def wait_for_studio(port: int, server: subprocess.Popen[bytes], seconds: float = 60) -> None:
    """Wait until the studio ``server`` started on ``port`` answers, or raise."""
    deadline = time.monotonic() + seconds
    while True:
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/api/options", timeout=5).read()
            return
        except OSError:
            if time.monotonic() > deadline or server.poll() is not None:
                raise BenchmarkError(f"the studio did not start in {seconds:.0f} s") from None
            time.sleep(0.2)


def free_port() -> int:
    """A TCP port free on 127.0.0.1 at the moment of asking."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


# Results


class Results:
    """The results of one run of a benchmark: its machine facts, its options and the
    rows it measured, written by :meth:`save` into ``RESULTS/NAME-DATE-REV.json``."""

    def __init__(self, name: str, options: Mapping[str, Any], facts: Facts) -> None:
        self.name, self.options, self.facts = name, dict(options), facts
        self.rows: list[dict[str, Any]] = []

    def add(self, section: str, row: Mapping[str, Any]) -> None:
        """Keep one measured row of ``section``."""
        self.rows.append({"section": section, **row})

    def save(self, complete: bool = True, folder: Path = RESULTS) -> Path:
        """Write the results file (``complete``: the run got to its end) and return it."""
        stamp = self.facts.date.replace(":", "")
        path = folder / f"{self.name}-{stamp}-{self.facts.rev}.json"
        for n in range(2, 1000):
            if not path.exists():
                break
            path = folder / f"{self.name}-{stamp}-{self.facts.rev}-{n}.json"
        folder.mkdir(parents=True, exist_ok=True)
        text = json.dumps(self.as_json(complete), indent=2, default=str) + "\n"
        atomic_write(path, lambda part: part.write_text(text))
        return path

    def as_json(self, complete: bool = True) -> dict[str, Any]:
        """What the results file holds."""
        return {
            "benchmark": self.name,
            "complete": complete,
            "argv": sys.argv[1:],
            "options": self.options,
            "images": images_source(),
            "machine": asdict(self.facts),
            "rows": self.rows,
        }


@contextlib.contextmanager
def recording(name: str, options: Mapping[str, Any], title: str) -> Iterator[Results]:
    """Print the report's header (``title`` and the machine's facts), then collect the
    run's rows and save them when it ends, also when it fails part-way (marked
    ``"complete": false``); the file's path goes to stderr."""
    results = Results(name, options, machine())
    print(f"# {title}\n\n{results.facts.summary()}\n", flush=True)
    try:
        yield results
    except BaseException:
        print(f"results so far: {results.save(complete=False)}", file=sys.stderr)
        raise
    print(f"results: {results.save()}", file=sys.stderr)

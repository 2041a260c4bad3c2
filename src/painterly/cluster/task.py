"""One item of a batch as a self-contained task: image bytes and a config in, the
encoded image and its record out.

A task needs no shared file system: the client reads the inputs and sends their
bytes; wherever the task runs (this process or a Dask worker on another machine), it
writes them to a private temporary folder, runs the transfer, and returns a PNG and
the record, which the client writes. It never raises for a problem with its item: an
unreadable image or missing weights come back as an :class:`Outcome` with an error.
"""

from __future__ import annotations

import re
import tempfile
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import torch

from ..config.settings import Config, parse_mask
from ..engine.targets import FeatureCache
from ..errors import PainterlyError, WeightsError
from ..files import images
from ..transfer.run import ProgressFn, run

# Targets kept by one worker process between its items (its styles' features stay).
WORKER_CACHE_BYTES = 1 << 30
_worker_cache: FeatureCache | None = None
_one_at_a_time = threading.Lock()  # one item per process, using all its threads


class Work(Protocol):
    """What the runners run: an item of a batch (:class:`Task`) or a chunk of a clip."""

    @property
    def key(self) -> str: ...

    @property
    def name(self) -> str: ...

    def execute(
        self, cache: FeatureCache | None, progress: ProgressFn | None, worker: str
    ) -> Outcome: ...


@dataclass(frozen=True)
class Task:
    """What a worker needs to run one item."""

    key: str  # the item's digest: its inputs' and config's
    name: str  # the output's stem, e.g. "tubingen__starry_night"
    config: Config  # resolved, seed included
    content: tuple[str, bytes]  # (file name, bytes)
    styles: tuple[tuple[str, bytes], ...]
    files: Mapping[str, tuple[str, bytes]] = field(default_factory=dict)  # option → file
    inputs: Mapping[str, Any] = field(default_factory=dict)  # the record's "inputs"
    history: bool = False  # keep the loss history in the record
    keep_stopped: bool = False  # a run stopped early returns what it reached

    def execute(
        self, cache: FeatureCache | None, progress: ProgressFn | None, worker: str
    ) -> Outcome:
        return run_task(self, cache, progress, worker)


@dataclass
class Outcome:
    """A finished task: the PNG and record, or a one-line error."""

    key: str
    worker: str
    seconds: float
    image: bytes | None = None
    record: dict[str, Any] | None = None
    error: str | None = None
    missing_weights: bool = False
    cache: tuple[int, int] = (0, 0)  # target features (computed, reused) during the item
    frames: tuple[bytes, ...] = ()  # a chunk of a clip: its PNG frames, in order

    @property
    def ok(self) -> bool:
        return self.error is None


def run_task(
    task: Task,
    cache: FeatureCache | None = None,
    progress: ProgressFn | None = None,
    worker: str = "local",
) -> Outcome:
    """Run one task here; ``cache`` shares target features with the next tasks.

    Raises :class:`KeyboardInterrupt` when ``progress`` stopped the run.
    """
    started = time.perf_counter()
    before = (cache.misses, cache.hits) if cache else (0, 0)
    with tempfile.TemporaryDirectory(prefix="painterly-task-") as tmp:
        folder = Path(tmp)
        try:
            image, record = _transfer(task, folder, cache, progress)
        except PainterlyError as exc:
            missing = isinstance(exc, WeightsError)
            error = _one_line(str(exc), folder)
            return Outcome(task.key, worker, _since(started), error=error, missing_weights=missing)
        except (RuntimeError, ValueError, OSError, MemoryError) as exc:
            error = _one_line(f"{type(exc).__name__}: {exc}", folder)
            return Outcome(task.key, worker, _since(started), error=error)
    after = (cache.misses, cache.hits) if cache else (0, 0)
    used = (after[0] - before[0], after[1] - before[1])
    return Outcome(task.key, worker, _since(started), image, record, cache=used)


def _one_line(message: str, folder: Path) -> str:
    """The first line of an error, naming input files as the user named them."""
    lines = re.sub(re.escape(str(folder)) + r"/[^/]+/", "", message).splitlines()
    return lines[0] if lines else "unknown error"


def _since(started: float) -> float:
    return round(time.perf_counter() - started, 3)


def _transfer(
    task: Task, folder: Path, cache: FeatureCache | None, progress: ProgressFn | None
) -> tuple[bytes, dict[str, Any]]:
    content = _place(folder / "content", *task.content)
    styles = [_place(folder / f"style{i}", *s) for i, s in enumerate(task.styles)]
    placed = {name: str(_place(folder / name, *f)) for name, f in task.files.items()}
    cfg = _with_files(task.config, placed) if placed else task.config
    result = run(cfg, content, styles, progress=progress, cache=cache)
    if result.interrupted and not task.keep_stopped:
        raise KeyboardInterrupt
    out = images.save_image(result.image, folder / "out.png")
    record = result.record(dict(task.inputs))
    record["config"] = task.config.to_json()  # the user's paths, not the worker's copies
    record["output"] = {"bit_depth": 8, "quality": 95}
    if task.history:
        record["history"] = result.history
    return out.read_bytes(), record


def input_files(cfg: Config) -> dict[str, str]:
    """The files a config names that a worker needs: option → path (``masks.N`` for the
    Nth style mask)."""
    chosen = {"content_mask": cfg.content_mask, "init": cfg.init}
    chosen |= {f"masks.{n}": str(parse_mask(spec)[1]) for n, spec in enumerate(cfg.masks)}
    return {o: str(v) for o, v in chosen.items() if v is not None and Path(v).is_file()}


def read_files(cfg: Config) -> dict[str, tuple[str, bytes]]:
    """:func:`input_files` as (file name, bytes), for a :class:`Task`."""
    return {o: (Path(f).name, Path(f).read_bytes()) for o, f in input_files(cfg).items()}


def _with_files(cfg: Config, placed: Mapping[str, str]) -> Config:
    """The config naming the worker's copies of its files."""
    masks = []
    for n, spec in enumerate(cfg.masks):
        index, path = parse_mask(spec)
        masks.append(f"{index}={placed.get(f'masks.{n}', path)}")
    simple = {o: p for o, p in placed.items() if not o.startswith("masks.")}
    return cfg.replace(**simple, masks=tuple(masks))


def _place(folder: Path, name: str, data: bytes) -> Path:
    """Write an input's bytes under its own file name (errors then name that file)."""
    folder.mkdir()
    path = folder / name
    path.write_bytes(data)
    return path


def run_on_worker(task: Work, watch: Callable[[Any], ProgressFn] | None = None) -> Outcome:
    """The Dask task: run with the worker's threads, one item at a time per worker
    process, sharing the process's targets between items; ``watch(worker)`` makes the
    run's progress callback."""
    from distributed import get_worker

    worker = get_worker()
    with _one_at_a_time:
        torch.set_num_threads(max(1, worker.state.nthreads))  # Dask sets OMP_NUM_THREADS=1
        progress = watch(worker) if watch is not None else None
        return task.execute(_process_cache(), progress, worker.address)


def _process_cache() -> FeatureCache:
    global _worker_cache
    if _worker_cache is None:
        _worker_cache = FeatureCache(max_bytes=WORKER_CACHE_BYTES)
    return _worker_cache

"""Self-contained work (a batch's item, an experiment's run, a chunk of a clip): input
files as bytes and a config in, one encoded file and its record out; and the identity
by which a finished result is found again.

Work needs no shared file system: the client reads the inputs and sends their bytes
(:func:`ship`); wherever the work runs (this process or a Dask worker on another
machine), :func:`run_work` writes them to a private temporary folder (:func:`place`),
runs it, and returns the file and the record, which the client writes as a pair. It
never raises for a problem with its inputs: an unreadable image or missing weights
come back as an :class:`Outcome` with an error.

A result is resumed by its :func:`resume_key` (the inputs' SHA-256 and the config's)
and counts as finished only when :func:`finished` reads its pair back whole.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import tempfile
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import torch

from ..config.settings import Config, parse_mask
from ..engine.targets import FeatureCache
from ..errors import PainterlyError, WeightsError
from ..files import images
from ..files.pairs import read_pair
from ..nn.weights import sha256_of
from ..transfer.run import ProgressFn, run

# Targets kept by one worker process between its items (its styles' features stay).
WORKER_CACHE_BYTES = 1 << 30
_worker_cache: FeatureCache | None = None
_one_at_a_time = threading.Lock()  # one item per process, using all its threads

Shipped = tuple[str, bytes]  # an input file as it travels: (file name, bytes)
Make = Callable[[Path], tuple[bytes, dict[str, Any]]]  # folder → (file, record)


def ship(path: str | os.PathLike[str]) -> Shipped:
    """An input file as work carries it: its name (errors name it) and its bytes."""
    path = Path(path)
    return path.name, path.read_bytes()


def digest(data: bytes) -> str:
    """The SHA-256 of an input's bytes, as :func:`resume_key` takes it."""
    return hashlib.sha256(data).hexdigest()


def config_hash(cfg: Config) -> str:
    """A short digest of a resolved config (a batch manifest's ``config``)."""
    return hashlib.sha256(json.dumps(cfg.to_json(), sort_keys=True).encode()).hexdigest()[:16]


def resume_key(inputs: Sequence[str], cfg: Config, **settings: Any) -> str:
    """What makes a result what it is: the SHA-256 of its inputs' content hashes (in
    order), the config, the content of the files the config names (masks, an init
    image) and ``settings`` beside the config (a clip's, as JSON data). A result whose
    record holds the same key is reused by :func:`finished`."""
    files = {o: sha256_of(Path(f)) for o, f in input_files(cfg).items()}
    data: list[Any] = [list(inputs), cfg.to_json(), files]
    if settings:
        data.append(settings)
    return hashlib.sha256(json.dumps(data, sort_keys=True, default=str).encode()).hexdigest()


def finished(path: Path, key: str) -> dict[str, Any] | None:
    """The record of the finished result at ``path`` made for ``key``: its pair read back
    whole (:func:`painterly.files.pairs.read_pair`, by the SHA-256 its record holds) with
    ``inputs.key`` equal to ``key``; else ``None``."""
    record = read_pair(path)
    if record is None or record.get("inputs", {}).get("key") != key:
        return None
    return record


class Work(Protocol):
    """What the runners run: a batch's item or a grid's run (:class:`Task`), or a chunk
    of a clip; each runs through :func:`run_work`."""

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

    key: str  # what the runner's events name it by: unique among the tasks of one run
    name: str  # the output's stem, e.g. "tubingen__starry_night"
    config: Config  # resolved, seed included
    content: Shipped
    styles: tuple[Shipped, ...]
    files: Mapping[str, Shipped] = field(default_factory=dict)  # option → file
    inputs: Mapping[str, Any] = field(default_factory=dict)  # the record's "inputs"
    history: bool = False  # keep the loss history in the record
    keep_stopped: bool = False  # a run stopped early returns what it reached

    def execute(
        self, cache: FeatureCache | None, progress: ProgressFn | None, worker: str
    ) -> Outcome:
        return run_task(self, cache, progress, worker)


@dataclass
class Outcome:
    """Finished work: its encoded result (a PNG; a chunk's frames as a zip of PNGs) and
    record, or a one-line error."""

    key: str
    worker: str
    seconds: float
    image: bytes | None = None
    record: dict[str, Any] | None = None
    error: str | None = None
    missing_weights: bool = False
    cache: tuple[int, int] = (0, 0)  # target features (computed, reused) during the item

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
    return run_work(
        task.key, worker, cache, lambda folder: _transfer(task, folder, cache, progress)
    )


def run_work(key: str, worker: str, cache: FeatureCache | None, make: Make) -> Outcome:
    """The scaffold of all work: ``make(folder)`` in a private temporary folder returns
    the encoded result and its record; a problem with the inputs comes back as an
    outcome with a one-line error naming files as the user named them, and the target
    features ``cache`` computed and reused meanwhile are counted."""
    started = time.perf_counter()
    before = (cache.misses, cache.hits) if cache else (0, 0)
    with tempfile.TemporaryDirectory(prefix="painterly-task-") as tmp:
        folder = Path(tmp)
        try:
            data, record = make(folder)
        except PainterlyError as exc:
            missing = isinstance(exc, WeightsError)
            error = _one_line(str(exc), folder)
            return Outcome(key, worker, _since(started), error=error, missing_weights=missing)
        except (RuntimeError, ValueError, OSError, MemoryError) as exc:
            error = _one_line(f"{type(exc).__name__}: {exc}", folder)
            return Outcome(key, worker, _since(started), error=error)
    after = (cache.misses, cache.hits) if cache else (0, 0)
    used = (after[0] - before[0], after[1] - before[1])
    return Outcome(key, worker, _since(started), data, record, cache=used)


def _one_line(message: str, folder: Path) -> str:
    """The first line of an error, naming input files as the user named them."""
    lines = re.sub(re.escape(str(folder)) + r"/[^/]+/", "", message).splitlines()
    return lines[0] if lines else "unknown error"


def _since(started: float) -> float:
    return round(time.perf_counter() - started, 3)


def _transfer(
    task: Task, folder: Path, cache: FeatureCache | None, progress: ProgressFn | None
) -> tuple[bytes, dict[str, Any]]:
    content = place(folder / "content", task.content)
    styles = [place(folder / f"style{i}", s) for i, s in enumerate(task.styles)]
    placed = {name: str(place(folder / name, f)) for name, f in task.files.items()}
    cfg = _with_files(task.config, placed) if placed else task.config
    result = run(cfg, content, styles, progress=progress, cache=cache)
    if result.interrupted and not task.keep_stopped:
        raise KeyboardInterrupt
    out = images.save_image(result.image, folder / "out.png")
    record = result.record(dict(task.inputs))
    record["config"] = task.config.to_json()  # the user's paths, not the worker's copies
    record["output"] = {"bit_depth": 8, "quality": 95}
    if task.history:
        record["history"] = result.history_dicts()
    return out.read_bytes(), record


def input_files(cfg: Config) -> dict[str, str]:
    """The files a config names that a worker needs: option → path (``masks.N`` for the
    Nth style mask)."""
    chosen = {"content_mask": cfg.content_mask, "init": cfg.init}
    chosen |= {f"masks.{n}": str(parse_mask(spec)[1]) for n, spec in enumerate(cfg.masks)}
    return {o: str(v) for o, v in chosen.items() if v is not None and Path(v).is_file()}


def read_files(cfg: Config) -> dict[str, Shipped]:
    """:func:`input_files` shipped, for a :class:`Task`."""
    return {o: ship(f) for o, f in input_files(cfg).items()}


def _with_files(cfg: Config, placed: Mapping[str, str]) -> Config:
    """The config naming the worker's copies of its files."""
    masks = []
    for n, spec in enumerate(cfg.masks):
        index, path = parse_mask(spec)
        masks.append(f"{index}={placed.get(f'masks.{n}', path)}")
    simple = {o: p for o, p in placed.items() if not o.startswith("masks.")}
    return cfg.replace(**simple, masks=tuple(masks))


def place(folder: Path, shipped: Shipped) -> Path:
    """Write a shipped input into a new ``folder`` under its own file name (errors then
    name that file)."""
    name, data = shipped
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

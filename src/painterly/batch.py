"""Batches: every photo × every painting (or in pairs, or all paintings blended), one
output image and record per item, resumable, in this process or on a Dask cluster.

With a fast model (``model=``) each photo is one item, ``<content stem>__<model
stem>.png``, painted in one pass of the network. ``DIR/<content stem>__<style
stem>.png`` and its record are written as a pair (see
:func:`painterly.files.pairs.write_pair`) by the process that called :func:`batch`,
wherever the item ran; ``DIR/manifest.jsonl`` gets one line per item and attempt. An
item is skipped when its pair exists for the same inputs and config, compared by
their SHA-256, so a stopped batch resumes and a changed option reruns what it changes.
"""

from __future__ import annotations

import glob
import json
import logging
import os
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from PIL import Image

from .cluster import runners
from .cluster.model_task import ModelTask, model_key, pass_settings
from .cluster.runners import Event, Finished, Lost, Started, Stepped
from .cluster.task import Shipped, Task, config_hash, finished, read_files, resume_key, ship
from .config.settings import Config, check_style_weights, make_config
from .engine.loop import costs
from .errors import ConfigError, ImageError
from .fast.apply import style_mix
from .fast.model import load_model
from .files import atomic
from .files.images import readable_extensions
from .files.pairs import write_pair
from .files.paths import check_readable
from .nn import weights
from .transfer.run import Progress
from .transfer.schedule import schedule

log = logging.getLogger(__name__)
MODES = ("cross", "pairs", "blend")


@dataclass(frozen=True)
class Item:
    """One output of a batch."""

    name: str
    content: Path
    styles: tuple[Path, ...]
    digests: tuple[str, ...]  # SHA-256 of the content, then of each style
    key: str  # digest of the inputs and the config: what makes the output what it is
    config: Config  # with the item's seed
    work: float  # planned pixel-steps, for the time left
    model: Path | None = None  # the fast model that paints it (no styles then)

    @property
    def image(self) -> str:
        return f"{self.name}.png"


@dataclass(frozen=True)
class BatchProgress:
    """What a batch's progress callback receives after each event."""

    total: int  # items in the batch
    done: int  # run now
    reused: int  # finished by an earlier run
    failed: int
    in_flight: int
    work: float  # fraction of this run's planned pixel-steps done, 0–1
    item: str | None = None  # the item that just moved
    step: Progress | None = None  # its step, when it runs in this process
    message: str | None = None  # a line worth showing: an item done, failed or rerun
    worker: str | None = None  # where the item that just started runs


@dataclass
class BatchResult:
    out: Path
    manifest: Path
    done: list[str] = field(default_factory=list)
    reused: list[str] = field(default_factory=list)
    failed: dict[str, str] = field(default_factory=dict)
    skipped: dict[str, str] = field(default_factory=dict)  # input entry → why not an input
    seconds: float = 0.0


BatchProgressFn = Callable[[BatchProgress], None]


def batch(
    contents: Sequence[str | os.PathLike[str]],
    styles: Sequence[str | os.PathLike[str]],
    out: str | os.PathLike[str],
    *,
    mode: str = "cross",
    model: str | os.PathLike[str] | None = None,
    workers: int | None = None,
    cluster: str | None = None,
    progress: BatchProgressFn | None = None,
    preset: str = "default",
    **options: Any,
) -> BatchResult:
    """Stylise every content image with every style image into folder ``out``.

    ``contents`` and ``styles`` are files, folders or glob patterns. ``mode``:
    ``"cross"`` (every content × every style), ``"pairs"`` (in order) or ``"blend"``
    (all styles in each item, weighed by ``style_weights``). ``workers=N`` runs on a
    Dask ``LocalCluster`` of N processes; ``cluster="tcp://HOST:8786"`` on a running
    scheduler. With ``model`` (a fast model file, see :func:`painterly.train`) and no
    ``styles``, each photo is painted in one pass of it, with ``size``,
    ``style_weights``, ``preserve_colors`` and ``strength``; its file goes to each
    worker. Other options are :class:`Config`'s fields. Problems that would fail
    every item raise before anything runs; an item that fails is reported in the
    result and the manifest, and the others go on.

    >>> painterly.batch(["photos/"], ["starry.jpg"], "out/", size=256)  # doctest: +SKIP
    """
    runners.check_places(workers, cluster)
    cfg = make_config(preset, **options)
    photos = expand(contents, "content")
    skipped = dict(photos.skipped)
    if model is not None:
        items = plan_with_model(photos.paths, styles, mode, Path(model), cfg)
    else:
        paintings = expand(styles, "style")
        items = plan(photos.paths, paintings.paths, mode, cfg)
        skipped |= paintings.skipped
        if cluster is None:
            weights.resolve(cfg.weights)  # on a cluster, each worker's own weights count
    folder = atomic.check_folder(out, "batch output")
    for why in skipped.values():  # once the batch is accepted: a refusal is one line
        log.warning("%s: skipped", why)
    ledger = _Ledger(folder, items, cfg, progress, skipped)
    if not ledger.todo:
        return ledger.result
    runner = runners.open_runner(workers, cluster)
    try:
        atomic.make_folder(folder, "batch output")
        runner.run(ledger.tasks(read_files(cfg)), ledger.handle)
    finally:
        runner.close()
    return ledger.result


@dataclass
class Found:
    """The input files that patterns name, and the entries passed over, each with why."""

    paths: list[Path] = field(default_factory=list)
    skipped: dict[str, str] = field(default_factory=dict)  # entry → why it is not an input


def expand(patterns: Sequence[str | os.PathLike[str]], what: str) -> Found:
    """Files, the images in folders, and the files glob patterns match, in order; each
    file once, however its path is spelled. A folder entry or glob match that is not a
    readable file (a folder named ``x.png``, a dangling link), and a file in a folder
    that Pillow reads but whose extension is not an image's, is skipped with its reason."""
    if isinstance(patterns, (str, os.PathLike)):
        patterns = [patterns]
    if not patterns:
        raise ConfigError(f"no {what} images given: name files, folders or quoted globs")
    found, seen = Found(), set()
    readable = readable_extensions()
    for pattern in patterns:
        path = Path(pattern)
        if path.is_dir():
            entries = sorted(p for p in path.iterdir() if p.suffix.lower() in readable)
            found.skipped |= {
                str(p): why for p in path.iterdir() if (why := _misnamed(p, readable))
            }
        elif path.is_file():
            entries = [path]
        else:
            entries = sorted(Path(p) for p in glob.glob(str(pattern)))
        matches = []
        for entry in entries:
            why = _unreadable(entry, what)
            if why is not None:
                found.skipped[str(entry)] = why
            elif entry.resolve() not in seen:
                seen.add(entry.resolve())
                matches.append(entry)
        if not entries:
            raise ConfigError(
                f"no {what} image matches '{pattern}': check the path, or quote a glob"
            )
        found.paths += matches
    if not found.paths:
        first = next(iter(found.skipped.values()))
        raise ConfigError(f"no readable {what} image: {first}")
    return found


def _unreadable(path: Path, what: str) -> str | None:
    """Why ``path`` is not a file to read (see :func:`check_readable`), else ``None``."""
    try:
        check_readable(path, what)
        with path.open("rb"):
            return None
    except ImageError as exc:
        return str(exc)
    except OSError as exc:
        return f"{what} '{path}' cannot be read ({exc.strerror}): check its permissions"


def _misnamed(path: Path, readable: frozenset[str]) -> str | None:
    """Why a folder's file that is not read as an image (by its extension) should be,
    when Pillow recognises it: its format and the extension to give it."""
    if path.suffix.lower() in readable or not path.is_file():
        return None
    try:
        with Image.open(path) as img:
            fmt = img.format
    except (OSError, ValueError, Image.DecompressionBombError):
        return None
    ext = next((e for e, f in Image.registered_extensions().items() if f == fmt), "")
    return (
        f"'{path}' is a {fmt} image, but folders are read for image extensions only: "
        f"rename it to {path.stem}{ext} to include it"
    )


def plan(
    contents: Sequence[str | os.PathLike[str]],
    styles: Sequence[str | os.PathLike[str]],
    mode: str,
    cfg: Config,
) -> list[Item]:
    """The items of a batch, each with its key, seed and planned work."""
    if mode not in MODES:
        raise ConfigError(f"unknown batch mode '{mode}': use one of {', '.join(MODES)}")
    photos, paintings = expand(contents, "content").paths, expand(styles, "style").paths
    if mode == "pairs" and len(photos) != len(paintings):
        raise ConfigError(
            f"--pairs needs as many styles as contents: got {len(photos)} contents and "
            f"{len(paintings)} styles"
        )
    combos: list[tuple[Path, tuple[Path, ...]]]
    if mode == "cross":
        combos = [(c, (s,)) for c in photos for s in paintings]
    elif mode == "pairs":
        combos = [(c, (s,)) for c, s in zip(photos, paintings, strict=True)]
    else:
        combos = [(c, tuple(paintings)) for c in photos]
    check_style_weights(cfg, len(combos[0][1]))
    digests = {p: weights.sha256_of(p) for p in {*photos, *paintings}}
    items = [_item(c, s, digests, cfg) for c, s in combos]
    _check_names(items)
    return items


def plan_with_model(
    contents: Sequence[Path],
    styles: Sequence[str | os.PathLike[str]],
    mode: str,
    model: Path,
    cfg: Config,
) -> list[Item]:
    """One item per photo, painted by ``model``; the model and the style weights are
    checked here, before anything runs."""
    if styles:
        raise ConfigError("give style images or a model, not both")
    if mode != "cross":
        raise ConfigError(
            f"--{mode} is for style images: a model's styles mix with --style-weights"
        )
    style_mix(load_model(model), cfg.style_weights)
    digests = {p: weights.sha256_of(p) for p in {*contents, model}}
    items = []
    for content in contents:
        hashes = (digests[content], digests[model])
        key = model_key(hashes, pass_settings(cfg))
        name = f"{content.stem}__{model.stem}"
        items.append(Item(name, content, (), hashes, key, cfg, 1.0, model))
    _check_names(items)
    return items


def _item(content: Path, styles: tuple[Path, ...], digests: dict[Path, str], cfg: Config) -> Item:
    hashes = (digests[content], *(digests[s] for s in styles))
    key = resume_key(hashes, cfg)
    seeded = cfg if cfg.seed is not None else cfg.replace(seed=int(key[:8], 16))
    name = f"{content.stem}__{'+'.join(s.stem for s in styles)}"
    return Item(name, content, styles, hashes, key, seeded, _work(seeded, content))


def _work(cfg: Config, content: Path) -> float:
    """The item's planned pixel-steps (1 when it has a time budget or an unreadable
    photo: the time left is then counted in items)."""
    try:
        with Image.open(content) as img:
            width, height = img.size
    except (OSError, ValueError, Image.DecompressionBombError):
        return 1.0
    if cfg.time is not None:
        return 1.0
    return float(sum(costs(schedule(cfg, height, width))))


def _check_names(items: Sequence[Item]) -> None:
    seen: dict[str, Item] = {}
    for item in items:
        other = seen.setdefault(item.image, item)
        if other is not item:
            raise ConfigError(
                f"'{other.content}' and '{item.content}' would both write '{item.image}': "
                "rename one, or run them as two batches"
            )


class _Ledger:
    """Turns the runner's events into written pairs, manifest lines and progress."""

    def __init__(
        self,
        folder: Path,
        items: Sequence[Item],
        cfg: Config,
        progress: BatchProgressFn | None,
        skipped: dict[str, str],
    ) -> None:
        self.folder, self.progress = folder, progress
        self.manifest = folder / "manifest.jsonl"
        self.result = BatchResult(folder, self.manifest, skipped=skipped)
        self.config = config_hash(cfg)
        self.items = {i.key: i for i in items}
        self.todo = [i for i in items if finished(folder / i.image, i.key) is None]
        waiting = {i.key for i in self.todo}
        self.result.reused = [i.name for i in items if i.key not in waiting]
        self.planned = sum(i.work for i in self.todo) or 1.0
        self.worked = 0.0
        self.attempts: dict[str, int] = {}
        self.running: dict[str, float] = {}  # key → its current step's share of its work
        self.began: dict[str, float] = {}  # key → when its current attempt started
        self.started = time.perf_counter()
        self.models: dict[Path, Shipped] = {}  # a model's file, read once for all items

    def tasks(self, files: dict[str, Shipped]) -> Iterator[Task | ModelTask]:
        """The tasks still to run, each input read as its turn comes."""
        self._report(None)
        for item in self.todo:
            try:
                content, styles = ship(item.content), tuple(ship(s) for s in item.styles)
                if item.model is not None and item.model not in self.models:
                    self.models[item.model] = ship(item.model)
            except OSError as exc:
                self._end(item, "", 0.0, f"cannot read an input ({exc.strerror}): check it")
                continue
            inputs = {
                "content": str(item.content),
                "styles": [str(s) for s in item.styles],
                "sha256": list(item.digests),
                "key": item.key,
            }
            if item.model is not None:
                inputs["model"] = str(item.model)
                shipped = self.models[item.model]
                settings = pass_settings(item.config)
                yield ModelTask(item.key, item.name, content, shipped, settings, inputs)
            else:
                yield Task(item.key, item.name, item.config, content, styles, files, inputs)

    def handle(self, event: Event) -> None:
        if isinstance(event, Started):
            self.attempts[event.key] = self.attempts.get(event.key, 0) + 1
            self.running[event.key] = 0.0
            self.began[event.key] = time.perf_counter()
            self._report(self.items[event.key].name, worker=event.worker)
        elif isinstance(event, Stepped):
            self.running[event.key] = event.step.work
            self._report(self.items[event.key].name, event.step)
        elif isinstance(event, Lost):
            item = self.items[event.key]
            lasted = time.perf_counter() - self.began.get(event.key, time.perf_counter())
            self._line(item, "failed", event.worker, lasted, event.reason)
            self.running.pop(event.key, None)
            self._report(item.name, message=f"{item.name}: {event.reason}; running it again")
        elif isinstance(event, Finished):
            outcome = event.outcome
            item = self.items[outcome.key]
            if outcome.ok:
                assert outcome.image is not None and outcome.record is not None
                write_pair(self.folder / item.image, outcome.image, outcome.record)
            self._end(item, outcome.worker, outcome.seconds, outcome.error, outcome.cache)

    def _end(
        self,
        item: Item,
        worker: str,
        seconds: float,
        error: str | None,
        targets: tuple[int, int] = (0, 0),
    ) -> None:
        self.running.pop(item.key, None)
        self.worked += item.work
        self._line(item, "failed" if error else "done", worker, seconds, error, targets)
        if error:
            self.result.failed[item.name] = error
        else:
            self.result.done.append(item.name)
        self.result.seconds = time.perf_counter() - self.started
        state = f"failed: {error}" if error else f"done in {seconds:.1f} s"
        self._report(item.name, message=f"{item.image} {state}")

    def _line(
        self,
        item: Item,
        state: str,
        worker: str,
        seconds: float,
        error: str | None,
        targets: tuple[int, int] = (0, 0),
    ) -> None:
        if state == "failed" and item.key not in self.attempts:
            self.attempts[item.key] = 1
        line = {
            "item": item.name,
            "image": item.image,
            "attempt": self.attempts.get(item.key, 1),
            "state": state,
            "seconds": round(seconds, 3),
            "worker": worker,
            "error": error,
            "content": {"path": str(item.content), "sha256": item.digests[0]},
            "styles": [
                {"path": str(s), "sha256": d}
                for s, d in zip(item.styles, item.digests[1 : 1 + len(item.styles)], strict=True)
            ],
            "config": self.config,
            "seed": item.config.seed,
            "key": item.key,
            "model": {"path": str(item.model), "sha256": item.digests[1]} if item.model else None,
            "targets": {"computed": targets[0], "reused": targets[1]},  # feature targets
            "at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        }
        with self.manifest.open("a") as handle:
            handle.write(json.dumps(line) + "\n")

    def _report(
        self,
        item: str | None,
        step: Progress | None = None,
        message: str | None = None,
        worker: str | None = None,
    ) -> None:
        if self.progress is None:
            return
        current = sum(self.items[k].work * share for k, share in self.running.items())
        result = self.result
        self.progress(
            BatchProgress(
                total=len(self.items),
                done=len(result.done),
                reused=len(result.reused),
                failed=len(result.failed),
                in_flight=len(self.running),
                work=min((self.worked + current) / self.planned, 1.0),
                item=item,
                step=step,
                message=message,
                worker=worker,
            )
        )

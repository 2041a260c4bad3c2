"""Clips on a cluster: several clips (inputs × styles) at once, and long clips split
into chunks that overlap by a few frames, on the runners of :mod:`painterly.cluster.runners`
(this process, a Dask ``LocalCluster``, or a running scheduler).

Each chunk is one piece of work: its input frames (PNG bytes at the working size), the
styles and the settings go to a worker, which stylises them as :mod:`painterly.video.render`
does a clip (the chunk's first frame gets the full run, the others start from the
frame before). So the first frames of a chunk, which the chunk before it also
stylised, are its run-in: the chunk's own frames are warm-started from them. Where two
chunks hold a frame, the two paintings are cross-faded (the later chunk's share rising
linearly across the overlap).

A chunk runs through the batch task's scaffold (:func:`painterly.cluster.task.run_work`)
and comes back as one file, a zip of its PNG frames, with its record. The caller writes
them as a pair (:func:`painterly.files.pairs.write_pair`) into
``<work>/.painterly-chunks/NNN/frames.zip`` before the next event is handled. A chunk is
done when that pair reads back whole for the clip's resume key
(:mod:`painterly.video.resume`: the clip's and styles' SHA-256, the config and the
clip's settings), so the same call again runs only the missing chunks. When all are
there, the frames are stitched into the output and the chunks removed.

A chunk's frames are read from the clip when a worker is free to take it, and the
stitched frames are written one at a time: the client holds a chunk's frames at once,
whatever the length of the clip.
"""

from __future__ import annotations

import io
import itertools
import json
import os
import shutil
import zipfile
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from ..cluster import runners
from ..cluster.runners import Event, Finished, Lost, Runner, Started
from ..cluster.task import Outcome, Shipped, digest, finished, place, run_work, ship
from ..config.settings import Config, make_config
from ..engine.targets import FeatureCache
from ..errors import ConfigError
from ..files.pairs import write_json, write_pair
from ..nn import weights
from ..transfer.run import ProgressFn
from . import clips, encoding
from .chunking import Chunking, seam_errors, spans, stitch
from .render import VideoResult, VideoSettings, render, settings_json, work_folder
from .resume import clip_identity, open_state, resolved

CHUNKS = ".painterly-chunks"
STATE = ".painterly-chunks.json"


@dataclass(frozen=True)
class ChunkTask:
    """A chunk of a clip as self-contained work for :mod:`painterly.cluster.runners`."""

    key: str  # the clip's output and the chunk's index
    name: str
    config: Config
    settings: VideoSettings
    frames: tuple[bytes, ...]  # PNG, at the working size
    styles: tuple[Shipped, ...]
    resume: str  # the chunk's resume key, kept in its record

    def execute(
        self, cache: FeatureCache | None, progress: ProgressFn | None, worker: str
    ) -> Outcome:
        """Stylise the chunk here; its frames come back as a zip of PNGs."""
        return run_work(self.key, worker, cache, self._render)

    def _render(self, folder: Path) -> tuple[bytes, dict[str, Any]]:
        (folder / "in").mkdir()
        for t, data in enumerate(self.frames):
            (folder / "in" / f"{t + 1:06d}.png").write_bytes(data)
        styles = [place(folder / f"style{i}", s) for i, s in enumerate(self.styles)]
        result = render(self.config, self.settings, folder / "in", styles, folder / "out")
        if result.interrupted:
            raise KeyboardInterrupt
        frames = sorted((folder / "out").glob("*.png"))
        record = {"inputs": {"key": self.resume}, "per_frame": result.record["per_frame"]}
        return _zip(frames), record


@dataclass(frozen=True)
class ClipJob:
    """One clip to make: an input, its styles (blended), and the output."""

    source: str
    styles: tuple[Path, ...]
    output: Path


@dataclass(frozen=True)
class ChunkProgress:
    """What the progress callback receives at each chunk's event."""

    output: Path
    chunk: int  # 0-based
    chunks: int
    state: str  # "started", "lost", "done", "failed" or "kept" (from an earlier run)
    worker: str = ""
    message: str = ""


ChunkProgressFn = Callable[[ChunkProgress], None]


def plan_jobs(
    sources: Sequence[str], styles: Sequence[Path], output: Path, each_style: bool
) -> list[ClipJob]:
    """Every input with the styles blended, or (``each_style``) with each style alone;
    with more than one clip, each output's name gets the input's and style's names."""
    groups = [(s,) for s in styles] if each_style else [tuple(styles)]
    jobs = []
    for source in sources:
        for group in groups:
            parts = [output.stem]
            parts += [_stem(source)] if len(sources) > 1 else []
            parts += [group[0].stem] if len(groups) > 1 else []
            jobs.append(ClipJob(source, group, output.with_name("-".join(parts) + output.suffix)))
    names = [job.output for job in jobs]
    if len(set(names)) < len(names):
        raise ConfigError("two inputs or styles have the same name: rename one of them")
    return jobs


def _stem(source: str) -> str:
    path = Path(source)
    return path.parent.name if "*" in path.name or "?" in path.name else path.stem


@dataclass
class _Clip:
    """The client's side of one clip: its frames, chunks, and what is done."""

    job: ClipJob
    kind: str
    clip: clips.Clip
    spans: list[tuple[int, int]]
    work: Path
    state: dict[str, Any]
    identity: dict[str, Any]  # its resume key, input and settings (its record's start)
    styles: tuple[Shipped, ...] = ()

    def chunk(self, i: int) -> Path:
        """Where chunk ``i`` is kept: a zip of its frames, its record beside it."""
        return self.work / CHUNKS / f"{i:03d}" / "frames.zip"

    def resume(self, i: int) -> str:
        return f"{self.identity['key']}#{i}"

    def done(self, i: int) -> bool:
        return finished(self.chunk(i), self.resume(i)) is not None

    @property
    def stitched(self) -> bool:
        """A folder output stitched by an earlier run (its state stays, marked so)."""
        return bool(self.state.get("finished"))

    def key(self, i: int) -> str:
        return f"{self.job.output}#{i}"

    def save(self) -> None:
        write_json(self.work / STATE, self.state)


def render_chunked(
    cfg: Config,
    settings: VideoSettings,
    jobs: Sequence[ClipJob],
    runner: Runner,
    chunking: Chunking | None,
    span: tuple[int | None, int | None] = (None, None),
    fps: float | None = None,
    progress: ChunkProgressFn | None = None,
) -> list[VideoResult]:
    """Make every clip of ``jobs`` from chunks run on ``runner`` (closed by the caller;
    ``chunking=None``: a clip is one chunk). Raises :class:`KeyboardInterrupt` when
    stopped: the finished chunks stay."""
    if cfg.content_mask is not None or Path(cfg.init).is_file():
        raise ConfigError("--init FILE and --mask are not taken with --workers or --cluster")
    opened = [_open(cfg, settings, job, chunking, span, fps) for job in jobs]
    owners: dict[str, tuple[_Clip, int]] = {}
    tasks = _tasks(cfg, settings, opened, owners, progress)
    runner.run(tasks, lambda event: _handle(event, owners, progress))
    return [_finish(c, settings) for c in opened]


def _tasks(
    cfg: Config,
    settings: VideoSettings,
    opened: Sequence[_Clip],
    owners: dict[str, tuple[_Clip, int]],
    progress: ChunkProgressFn | None,
) -> Iterator[ChunkTask]:
    """The chunks still to run, each one's frames read as the runner takes it."""
    for c in opened:
        for i, (first, end) in enumerate(c.spans):
            if c.stitched or c.done(i):
                _tell(progress, c, i, "kept")
                continue
            frames = tuple(_png(f) for f in itertools.islice(c.clip.frames(first), end - first))
            name = f"{c.job.output.stem}-{i:03d}"
            owners[c.key(i)] = (c, i)
            yield ChunkTask(c.key(i), name, cfg, settings, frames, c.styles, c.resume(i))


def _open(
    cfg: Config,
    settings: VideoSettings,
    job: ClipJob,
    chunking: Chunking | None,
    span: tuple[int | None, int | None],
    fps: float | None,
) -> _Clip:
    kind = encoding.check_output(job.output)
    if not job.styles:
        raise ConfigError("no style image given: give at least one")
    styles = []
    for path in job.styles:
        try:
            styles.append(ship(path))
        except OSError as exc:
            raise ConfigError(f"cannot read style '{path}' ({exc.strerror})") from None
    clip = clips.open_clip(job.source, cfg.size, span, fps)
    cut = [chunking.length, chunking.overlap] if chunking else None
    entries = [
        {"path": resolved(str(path)), "sha256": digest(data)}
        for path, (_, data) in zip(job.styles, styles, strict=True)
    ]
    identity = clip_identity(cfg, settings_json(settings), clip, entries, span, fps, chunking=cut)
    work = work_folder(job.output)
    state = _open_state(work, identity)
    chunks = spans(clip.count, chunking) if chunking else [(0, clip.count)]
    if kind == "folder":
        encoding.note_folder(clip, job.output)
    return _Clip(job, kind, clip, chunks, work, state, identity, tuple(styles))


def _open_state(work: Path, identity: dict[str, Any]) -> dict[str, Any]:
    """The chunks' state of an earlier run of the same clip, or a new one."""
    fresh = {"identity": identity, "chunks": {}, "lost": [], "failed": {}}
    state = open_state(work / STATE, fresh, "chunks", work / CHUNKS)
    write_json(work / STATE, state)
    return state


def _zip(frames: Sequence[Path]) -> bytes:
    """PNG frames as one file: a zip of them, in order (stored: PNG is compressed)."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_STORED) as archive:
        for frame in frames:
            archive.write(frame, frame.name)
    return buffer.getvalue()


def _png(frame: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(frame).save(buffer, format="PNG")
    return buffer.getvalue()


def _tell(progress: ChunkProgressFn | None, c: _Clip, i: int, state: str, **more: str) -> None:
    if progress is not None:
        progress(ChunkProgress(c.job.output, i, len(c.spans), state, **more))


def _handle(
    event: Event, owners: dict[str, tuple[_Clip, int]], progress: ChunkProgressFn | None
) -> None:
    if isinstance(event, Started):
        c, i = owners[event.key]
        entry = c.state["chunks"].setdefault(str(i), {"attempts": 0})
        entry.update(attempts=entry["attempts"] + 1, worker=event.worker)
        c.save()
        _tell(progress, c, i, "started", worker=event.worker)
    elif isinstance(event, Lost):
        c, i = owners[event.key]
        c.state["lost"].append({"chunk": i, "worker": event.worker, "reason": event.reason})
        c.save()
        _tell(progress, c, i, "lost", worker=event.worker, message=event.reason)
    elif isinstance(event, Finished):
        c, i = owners[event.outcome.key]
        _settle(c, i, event.outcome)
        state = "done" if event.outcome.ok else "failed"
        _tell(progress, c, i, state, worker=event.outcome.worker, message=event.outcome.error or "")


def _settle(c: _Clip, i: int, outcome: Outcome) -> None:
    """Write a finished chunk once (a second result for it is ignored), or its error."""
    if not outcome.ok or outcome.image is None or outcome.record is None:
        c.state["failed"][str(i)] = outcome.error or "no frames came back"
    elif not c.done(i):
        c.chunk(i).parent.mkdir(exist_ok=True)
        write_pair(c.chunk(i), outcome.image, outcome.record)
        c.state["failed"].pop(str(i), None)
        entry = c.state["chunks"].setdefault(str(i), {"attempts": 1})
        entry.update(worker=outcome.worker, seconds=round(outcome.seconds, 3), written=True)
    c.save()


def _finish(c: _Clip, settings: VideoSettings) -> VideoResult:
    """Stitch a clip whose chunks are all there, write it and its record."""
    if c.stitched:
        record = json.loads(c.job.output.with_suffix(".json").read_text())
        return VideoResult(c.job.output, record["frames_written"], False, record)
    if not all(c.done(i) for i in range(len(c.spans))):
        record = {**c.identity, "failed_chunks": c.state["failed"]}
        return VideoResult(c.job.output, 0, False, record)
    frames = stitch(c.spans, (_unzip(c.chunk(i)) for i in range(len(c.spans))))
    files = []
    for t, frame in enumerate(frames):
        files.append(c.work / f"{t + 1:06d}.png")
        Image.fromarray(frame).save(files[-1])
    if c.kind != "folder":
        encoding.write_clip(files, c.job.output, c.clip)
    record = _record(c, files, settings)
    write_json(c.job.output.with_suffix(".json"), record)
    shutil.rmtree(c.work / CHUNKS, ignore_errors=True)
    if c.kind == "folder":
        c.state["finished"] = True
        c.save()
    else:
        shutil.rmtree(c.work, ignore_errors=True)
    return VideoResult(c.job.output, len(files), False, record)


def _unzip(chunk: Path) -> list[np.ndarray]:
    """The frames of a chunk kept by :func:`_zip`, in order."""
    with zipfile.ZipFile(chunk) as archive:
        names = sorted(archive.namelist())
        return [np.array(Image.open(io.BytesIO(archive.read(n))).convert("RGB")) for n in names]


def _record(c: _Clip, files: Sequence[Path], settings: VideoSettings) -> dict[str, Any]:
    inputs = (clips.as_float(f) for f in c.clip.frames())
    outputs = (clips.as_float(np.array(Image.open(f).convert("RGB"))) for f in files)
    return {
        **c.identity,
        "flow": settings.flow.to_json(),
        "size": [c.clip.shape[1], c.clip.shape[0]],
        "fps": float(c.clip.fps),
        **({} if c.clip.steady else {"frame_times": list(c.clip.times)}),
        "frames_written": len(files),
        "output": str(c.job.output),
        "chunk_spans": [list(s) for s in c.spans],
        **seam_errors(zip(inputs, outputs, strict=True), c.spans, settings.flow),
        "chunks": c.state["chunks"],
        "lost": c.state["lost"],
    }


def videos(  # noqa: PLR0913 - keywords only: the library face of 'painterly video'
    sources: Sequence[str | os.PathLike[str]],
    styles: Sequence[str | os.PathLike[str]],
    output: str | os.PathLike[str],
    *,
    each_style: bool = False,
    workers: int | None = None,
    cluster: str | None = None,
    chunking: Chunking | None = None,
    frames: str | None = None,
    fps: float | None = None,
    settings: VideoSettings | None = None,
    progress: ChunkProgressFn | None = None,
    preset: str = "default",
    **options: Any,
) -> list[VideoResult]:
    """Stylise several clips (each input, with the styles blended or ``each_style``
    alone), in this process (whole clips unless ``chunking`` is given) or in chunks
    (``Chunking()`` unless given) on ``workers`` local Dask processes or on the
    scheduler at ``cluster``; other options are :func:`painterly.video.render`'s.

    >>> videos(["a.mp4", "b.mp4"], ["starry.jpg"], "out.mp4", workers=2)  # doctest: +SKIP
    """
    runners.check_places(workers, cluster)
    cfg = make_config(preset, **options)
    span = clips.parse_range(frames) if frames else (None, None)
    if chunking is None and (workers is not None or cluster is not None):
        chunking = Chunking()
    jobs = plan_jobs([str(s) for s in sources], [Path(s) for s in styles], Path(output), each_style)
    if cluster is None:
        weights.resolve(cfg.weights)  # on a cluster, each worker's own weights count
    runner = runners.open_runner(workers, cluster)
    try:
        return render_chunked(
            cfg,
            settings or VideoSettings(),
            jobs,
            runner,
            chunking,
            span,
            fps,
            progress,
        )
    finally:
        runner.close()

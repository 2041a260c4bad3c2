"""Stylised video that does not flicker, after Ruder, Dosovitskiy and Brox (2016).

The first frame gets the full coarse-to-fine run. Each later frame starts from the
stylised frame before it, warped along the optical flow of the input frames (the
photo where that frame saw nothing), and is held to it by the temporal loss of
:mod:`painterly.video.temporal`, so it needs few steps at the final size. Options: long-term
consistency (frames t−1, t−2 and t−4) and further passes in alternating directions.

The clip is read as a stream (:meth:`painterly.video.clips.Clip.frames`): a pass holds
only the input frames its neighbours need (a backward pass, a block of them). Frames
are written as they finish, into the output folder or ``<output>.frames/`` beside a
video output, with a state file; the same call again continues after the last
finished frame (:mod:`painterly.video.resume`). An interruption keeps the frames done
and encodes them.
"""

from __future__ import annotations

import contextlib
import itertools
import os
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from .._version import __version__
from ..config.settings import Config, make_config
from ..engine.targets import FeatureCache
from ..errors import ConfigError
from ..files import images
from ..files.pairs import write_json
from ..transfer import colors
from ..transfer.inputs import ImageLike
from ..transfer.result import Result
from ..transfer.run import run
from . import clips, encoding, flow
from .clips import Clip
from .resume import clip_identity, open_state, style_entries
from .temporal import Neighbours, TemporalLoss, neighbours, warm_start

STATE = ".painterly-video.json"
LONG_TERM = (1, 2, 4)  # the neighbours of long-term consistency, closest first


@dataclass(frozen=True)
class VideoSettings:
    """What a clip adds to :class:`Config` (defaults chosen in ``benchmarks/video.py``)."""

    # Weight of the temporal loss (0: warm start only). Chosen at 384 px on 10 frames of
    # Sintel and 12 of a pan (README): 200 flickered least but raised the pan's style
    # error by 20% (new picture at the edge is held near the photo), 50 by 7%, for a
    # warping error still a sixteenth of each frame alone's.
    temporal_weight: float = 50.0
    frame_iterations: int = 20  # steps of each warm-started frame, at the final size only
    long_term: bool = False  # also hold each frame to frames t−2 and t−4
    passes: int = 1  # further passes run over the clip in alternating directions
    warm_start: bool = True  # False: every frame on its own (for comparisons)
    flow: flow.FlowSettings = field(default_factory=flow.FlowSettings)

    def __post_init__(self) -> None:
        if not np.isfinite(self.temporal_weight) or self.temporal_weight < 0:
            raise ConfigError(f"temporal weight must be ≥ 0, got {self.temporal_weight}")
        if self.frame_iterations < 1:
            raise ConfigError(f"frame iterations must be ≥ 1, got {self.frame_iterations}")
        if self.passes < 1:
            raise ConfigError(f"passes must be ≥ 1, got {self.passes}")
        if self.flow.preset not in flow.DIS_PRESETS:
            raise ConfigError(
                f"flow preset '{self.flow.preset}' is not one of {', '.join(flow.DIS_PRESETS)}"
            )


@dataclass(frozen=True)
class FrameProgress:
    """What a clip's progress callback receives after each frame."""

    done: int  # frames finished, over all passes
    total: int
    frame: int  # 0-based index of the frame just finished
    pass_: int  # 1-based
    seconds: float  # this frame's time
    losses: dict[str, float]


FrameProgressFn = Callable[[FrameProgress], bool | None]  # return False to stop


@dataclass
class VideoResult:
    """A finished (or interrupted) clip: its output and its record."""

    output: Path
    frames: int  # frames written
    interrupted: bool
    record: dict[str, Any]


def video(
    source: str | os.PathLike[str],
    styles: Sequence[ImageLike],
    output: str | os.PathLike[str],
    *,
    frames: str | None = None,
    fps: float | None = None,
    settings: VideoSettings | None = None,
    progress: FrameProgressFn | None = None,
    preset: str = "default",
    **options: Any,
) -> VideoResult:
    """Stylise a clip (a video file, a folder or a glob of frames) into ``output``
    (``.mp4``, ``.webm``, ``.gif`` or a folder of PNGs). ``frames`` picks ``"A:B"``
    (from 0, B excluded), ``fps`` resamples; other options are :class:`Config`'s.

    >>> video("clip.mp4", ["starry_night.jpg"], "out.mp4", size=384)  # doctest: +SKIP
    """
    cfg = make_config(preset, **options)
    span = clips.parse_range(frames) if frames else (None, None)
    return render(
        cfg, settings or VideoSettings(), source, styles, Path(output), span, fps, progress
    )


@dataclass
class _Job:
    """A clip being stylised: its inputs, where its frames go, and what is done."""

    cfg: Config
    settings: VideoSettings
    clip: Clip
    styles: list[torch.Tensor]
    work: Path
    state: dict[str, Any]
    cache: FeatureCache = field(default_factory=FeatureCache)

    def path(self, t: int) -> Path:
        return self.work / f"{t + 1:06d}.png"

    def painting(self, t: int, frame: np.ndarray) -> torch.Tensor:
        """Frame ``t``'s stylised picture as written, without the blend with its input
        ``frame``."""
        saved = images.load_image(self.path(t))
        s = self.cfg.strength
        if s >= 1 or s <= 0:
            return saved
        return ((saved - (1 - s) * clips.to_tensor(frame)) / s).clamp(0, 1)


def render(
    cfg: Config,
    settings: VideoSettings,
    source: str | os.PathLike[str],
    styles: Sequence[ImageLike],
    out: Path,
    span: tuple[int | None, int | None] = (None, None),
    fps: float | None = None,
    progress: FrameProgressFn | None = None,
) -> VideoResult:
    """Stylise a clip for a resolved config; see :func:`video`."""
    kind = encoding.check_output(out)
    style_images = [images.load_image(s) for s in styles]
    if not style_images:
        raise ConfigError("no style image given: give at least one")
    clip = clips.open_clip(source, cfg.size, span, fps)
    entries = style_entries(styles, style_images)
    identity = clip_identity(cfg, settings_json(settings), clip, entries, span, fps)
    job = _Job(cfg, settings, clip, style_images, work_folder(out), _open_state(out, identity))
    if kind == "folder":
        encoding.note_folder(clip, out)
    started = time.perf_counter()
    interrupted = _run_passes(job, progress)
    done = _frames_done(job)
    if kind != "folder" and done:
        encoding.write_clip([job.path(t) for t in range(done)], out, clip)
    record = _record(job, out, done, interrupted, time.perf_counter() - started)
    write_json(out.with_suffix(".json"), record)
    if kind != "folder" and not interrupted:
        _remove_work(job)
    return VideoResult(out, done, interrupted, record)


def work_folder(out: Path) -> Path:
    """Where the frames of ``out`` are written as they finish: the output itself for a
    folder, else ``<output>.frames`` beside it."""
    is_folder = encoding.check_output(out) == "folder"
    return out if is_folder else out.with_name(out.name + ".frames")


def settings_json(settings: VideoSettings) -> dict[str, Any]:
    """A clip's settings as JSON data, for its identity and record."""
    data = asdict(settings)
    data["flow"] = settings.flow.to_json()
    return data


def _open_state(out: Path, identity: dict[str, Any]) -> dict[str, Any]:
    """The state of an earlier run of the same clip, or a new one."""
    fresh = {"identity": identity, "pass": 1, "done": 0, "frames": []}
    work = work_folder(out)
    return open_state(work / STATE, fresh, "frames", work)


def _save_state(job: _Job) -> None:
    write_json(job.work / STATE, job.state)


def _run_passes(job: _Job, progress: FrameProgressFn | None) -> bool:
    """Stylise the remaining frames of every pass; True if interrupted."""
    try:
        while job.state["pass"] <= job.settings.passes:
            pass_ = job.state["pass"]
            if not _run_pass(job, pass_, progress):
                return True
            job.state.update({"pass": pass_ + 1, "done": 0})
            _save_state(job)
    except KeyboardInterrupt:
        return True
    return False


def _run_pass(job: _Job, pass_: int, progress: FrameProgressFn | None) -> bool:
    """The frames of a pass not yet done, each with the input frames of the frames just
    before it in the pass (all its neighbours need); False if the run was stopped."""
    done = job.state["done"]
    reach = max(LONG_TERM) if job.settings.long_term else 1
    recent: dict[int, np.ndarray] = {}  # t → input frame, of the last frames of the pass
    skip = max(0, done - reach)
    for position, (t, frame) in enumerate(_in_order(job.clip, pass_, skip), start=skip):
        if position >= done and not _one_frame(job, pass_, t, frame, recent, progress):
            return False
        recent[t] = frame
        if len(recent) > reach:
            del recent[next(iter(recent))]
    return True


def _in_order(clip: Clip, pass_: int, skip: int) -> Iterator[tuple[int, np.ndarray]]:
    """``(t, frame)`` of a pass in its direction (odd passes forwards), from its
    position ``skip`` on."""
    if pass_ % 2:
        return enumerate(clip.frames(skip), start=skip)
    return clip.backwards(skip)


def _one_frame(
    job: _Job,
    pass_: int,
    t: int,
    frame: np.ndarray,
    recent: dict[int, np.ndarray],
    progress: FrameProgressFn | None,
) -> bool:
    """Stylise, write and record one frame; False if the run was stopped."""
    started = time.perf_counter()
    result = _stylise(job, pass_, t, frame, recent)
    if result is None:  # the first frame of a later pass: kept as it is
        losses: dict[str, float] = {}
    elif result.interrupted:
        return False
    else:
        images.save_image(result.image, job.path(t))
        losses = result.final_losses
    seconds = time.perf_counter() - started
    entry = {"frame": t, "pass": pass_, "seconds": round(seconds, 3), "losses": losses}
    job.state["frames"].append(entry)
    job.state["done"] += 1
    _save_state(job)
    if progress is None:
        return True
    count = job.clip.count
    done = (pass_ - 1) * count + job.state["done"]
    info = FrameProgress(done, count * job.settings.passes, t, pass_, seconds, losses)
    return progress(info) is not False


def _stylise(
    job: _Job, pass_: int, t: int, frame: np.ndarray, recent: dict[int, np.ndarray]
) -> Result | None:
    """Frame ``t`` of a pass; ``recent``: the input frames of the frames done before it
    in the pass, closest last."""
    cfg, settings = job.cfg, job.settings
    photo = clips.to_tensor(frame)
    before = list(reversed(recent))
    if not settings.warm_start or (pass_ == 1 and not before):
        return run(cfg, photo, job.styles, cache=job.cache)
    if not before:
        return None
    steps = LONG_TERM if settings.long_term else LONG_TERM[:1]
    chosen = [before[j - 1] for j in steps if j <= len(before)]
    near = neighbours(
        frame, [(recent[n], job.painting(n, recent[n])) for n in chosen], settings.flow
    )
    own = job.painting(t, frame) if pass_ > 1 else None
    start = warm_start(photo, near, own)
    loss = _temporal_loss(cfg, near, settings.temporal_weight)
    # A warm start is already near the answer: a few steps at the final size only, and
    # a time budget (--time) is the first frame's alone.
    warm = cfg.replace(scales=1, iterations=settings.frame_iterations, time=None)
    return run(warm, photo, job.styles, cache=job.cache, start=start, extra_loss=loss)


def _temporal_loss(cfg: Config, near: Neighbours, weight: float) -> TemporalLoss | None:
    if weight <= 0:
        return None
    targets = near.warped
    if cfg.preserve_colors == "luminance":  # the optimised pixels are grey luminance
        targets = colors.grey(colors.luminance(targets))
    return TemporalLoss(targets, near.weights, weight)


def _frames_done(job: _Job) -> int:
    """How many frames, from the first on, are on disk."""
    done = 0
    while done < job.clip.count and job.path(done).is_file():
        done += 1
    return done


def _record(job: _Job, out: Path, done: int, interrupted: bool, seconds: float) -> dict[str, Any]:
    clip = job.clip
    errors = flow.mean_errors(flow.pair_errors(_scored(job, done), job.settings.flow), 2)
    return {
        "painterly": __version__,
        "torch": torch.__version__,
        **job.state["identity"],
        "flow": job.settings.flow.to_json(),
        "size": [clip.shape[1], clip.shape[0]],
        "fps": float(clip.fps),
        **({} if clip.steady else {"frame_times": list(clip.times)}),
        "frames_total": clip.count,
        "frames_written": done,
        "output": str(out),
        "warping_error": errors[0],
        "warping_error_input": errors[1],
        "seconds_this_run": round(seconds, 3),
        "interrupted": interrupted,
        "per_frame": job.state["frames"],
    }


def _scored(job: _Job, done: int) -> Iterator[tuple[np.ndarray, list[np.ndarray]]]:
    """The first ``done`` input frames, each with its output and itself (the floor)."""
    for t, frame in enumerate(itertools.islice(job.clip.frames(), done)):
        now = clips.as_float(frame)
        yield now, [clips.as_float(clips.to_array(images.load_image(job.path(t)))), now]


def _remove_work(job: _Job) -> None:
    for t in range(job.clip.count):
        job.path(t).unlink(missing_ok=True)
    (job.work / STATE).unlink(missing_ok=True)
    with contextlib.suppress(OSError):  # the user put something else there: leave it
        job.work.rmdir()

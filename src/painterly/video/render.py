"""Stylised video that does not flicker, after Ruder, Dosovitskiy and Brox (2016).

The first frame gets the full coarse-to-fine run. Each later frame starts from the
stylised frame before it, warped along the optical flow of the input frames (the
photo where that frame saw nothing), and is held to it by the temporal loss of
:mod:`painterly.video.temporal`, so it needs few steps at the final size. Options: long-term
consistency (frames t−1, t−2 and t−4) and further passes in alternating directions.

Frames are written as they finish, into the output folder or ``<output>.frames/``
beside a video output, with a state file; the same call again continues after the
last finished frame. An interruption keeps the frames done and encodes them.
"""

from __future__ import annotations

import contextlib
import json
import os
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from .._version import __version__
from ..config.settings import Config, make_config
from ..engine.targets import FeatureCache
from ..errors import ConfigError, OutputError
from ..files import atomic, images
from ..files.pairs import write_json
from ..transfer import colors
from ..transfer.inputs import ImageLike
from ..transfer.result import Result
from ..transfer.run import run
from . import clips, flow
from .clips import Clip
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

    def painting(self, t: int) -> torch.Tensor:
        """Frame ``t``'s stylised picture as written, without the blend with the photo."""
        saved = images.load_image(self.path(t))
        s = self.cfg.strength
        if s >= 1 or s <= 0:
            return saved
        return ((saved - (1 - s) * clips.to_tensor(self.clip.frames[t])) / s).clamp(0, 1)


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
    kind = clips.check_output(out)
    style_images = [images.load_image(s) for s in styles]
    if not style_images:
        raise ConfigError("no style image given: give at least one")
    clip = clips.read_clip(source, cfg.size, span, fps)
    identity = clip_identity(cfg, settings, source, styles, span, fps)
    job = _Job(cfg, settings, clip, style_images, work_folder(out), _open_state(out, identity))
    started = time.perf_counter()
    interrupted = _run_passes(job, progress)
    done = _frames_done(job)
    if kind != "folder" and done:
        clips.write_clip([job.path(t) for t in range(done)], out, clip.fps, clip)
    record = _record(job, out, done, interrupted, time.perf_counter() - started)
    write_json(out.with_suffix(".json"), record)
    if kind != "folder" and not interrupted:
        _remove_work(job)
    return VideoResult(out, done, interrupted, record)


def clip_identity(
    cfg: Config,
    settings: VideoSettings,
    source: str | os.PathLike[str],
    styles: Sequence[ImageLike],
    span: tuple[int | None, int | None],
    fps: float | None,
) -> dict[str, Any]:
    """What must agree for a run to continue the frames of an earlier one."""
    return {
        "input": str(source),
        "frames": list(span),
        "resample_fps": fps,
        "styles": [str(s) if isinstance(s, (str, os.PathLike)) else "image" for s in styles],
        "config": cfg.to_json(),
        "video": _settings_json(settings),
    }


def work_folder(out: Path) -> Path:
    """Where the frames of ``out`` are written as they finish: the output itself for a
    folder, else ``<output>.frames`` beside it."""
    return out if clips.check_output(out) == "folder" else out.with_name(out.name + ".frames")


def _settings_json(settings: VideoSettings) -> dict[str, Any]:
    data = asdict(settings)
    data["flow"] = settings.flow.to_json()
    return data


def _open_state(out: Path, identity: dict[str, Any]) -> dict[str, Any]:
    """The state of an earlier run of the same clip, or a new one."""
    fresh = {"identity": identity, "pass": 1, "done": 0, "frames": []}
    work = work_folder(out)
    return open_state(work / STATE, fresh, "frames", work)


def open_state(state_file: Path, fresh: dict[str, Any], what: str, make: Path) -> dict[str, Any]:
    """The state an earlier run with the same ``identity`` (in ``fresh``) saved in
    ``state_file``, or ``fresh`` for a new run, after creating the folder ``make``; a
    folder holding another clip's ``what`` (or anything else) is refused."""
    work = state_file.parent
    identity = json.loads(json.dumps(fresh["identity"]))
    if state_file.is_file():
        state: dict[str, Any] = json.loads(state_file.read_text())
        if state.get("identity") != identity:
            raise OutputError(
                f"'{work}' holds {what} of another clip or other settings: "
                "delete it, or choose another output"
            )
        return state
    if work.is_dir() and any(work.iterdir()):
        raise OutputError(f"output folder '{work}' is not empty: choose a new or empty folder")
    atomic.make_folder(make, "output")
    return fresh


def _save_state(job: _Job) -> None:
    write_json(job.work / STATE, job.state)


def _order(job: _Job, pass_: int) -> list[int]:
    """The frames of a pass in its direction: odd passes forwards, even ones backwards."""
    frames = list(range(len(job.clip.frames)))
    return frames if pass_ % 2 else frames[::-1]


def _run_passes(job: _Job, progress: FrameProgressFn | None) -> bool:
    """Stylise the remaining frames of every pass; True if interrupted."""
    count, passes = len(job.clip.frames), job.settings.passes
    try:
        while job.state["pass"] <= passes:
            pass_, order = job.state["pass"], _order(job, job.state["pass"])
            for position in range(job.state["done"], count):
                if not _one_frame(job, pass_, order, position, progress):
                    return True
            job.state.update({"pass": pass_ + 1, "done": 0})
            _save_state(job)
    except KeyboardInterrupt:
        return True
    return False


def _one_frame(
    job: _Job, pass_: int, order: list[int], position: int, progress: FrameProgressFn | None
) -> bool:
    """Stylise, write and record one frame; False if the run was stopped."""
    started = time.perf_counter()
    t = order[position]
    result = _stylise(job, pass_, t, order[:position][::-1])
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
    job.state["done"] = position + 1
    _save_state(job)
    if progress is not None:
        count = len(job.clip.frames)
        info = FrameProgress(
            (pass_ - 1) * count + position + 1,
            count * job.settings.passes,
            t,
            pass_,
            seconds,
            losses,
        )
        if progress(info) is False:
            return False
    return True


def _stylise(job: _Job, pass_: int, t: int, before: list[int]) -> Result | None:
    """Frame ``t`` of a pass; ``before``: the frames already done in it, closest first."""
    cfg, settings = job.cfg, job.settings
    photo = clips.to_tensor(job.clip.frames[t])
    if not settings.warm_start or (pass_ == 1 and not before):
        return run(cfg, photo, job.styles, cache=job.cache)
    if not before:
        return None
    steps = LONG_TERM if settings.long_term else LONG_TERM[:1]
    chosen = [before[j - 1] for j in steps if j <= len(before)]
    near = neighbours(
        job.clip.frames[t],
        [(job.clip.frames[n], job.painting(n)) for n in chosen],
        settings.flow,
    )
    own = job.painting(t) if pass_ > 1 else None
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
    while done < len(job.clip.frames) and job.path(done).is_file():
        done += 1
    return done


def _record(job: _Job, out: Path, done: int, interrupted: bool, seconds: float) -> dict[str, Any]:
    outputs = [clips.as_float(clips.to_array(images.load_image(job.path(t)))) for t in range(done)]
    inputs = [clips.as_float(f) for f in job.clip.frames[:done]]
    errors = flow.warping_errors(inputs, [outputs, inputs], job.settings.flow)
    return {
        "painterly": __version__,
        "torch": torch.__version__,
        **job.state["identity"],
        "flow": job.settings.flow.to_json(),
        "size": [int(job.clip.frames[0].shape[1]), int(job.clip.frames[0].shape[0])],
        "fps": float(job.clip.fps),
        "frames_total": len(job.clip.frames),
        "frames_written": done,
        "output": str(out),
        "warping_error": errors[0],
        "warping_error_input": errors[1],
        "seconds_this_run": round(seconds, 3),
        "interrupted": interrupted,
        "per_frame": job.state["frames"],
    }


def _remove_work(job: _Job) -> None:
    for t in range(len(job.clip.frames)):
        job.path(t).unlink(missing_ok=True)
    (job.work / STATE).unlink(missing_ok=True)
    with contextlib.suppress(OSError):  # the user put something else there: leave it
        job.work.rmdir()

"""A clip painted by a fast model: each frame in one pass of the network, no
optimisation, so no warm start and no temporal loss (a model's own steadiness is what
the record's warping error measures).

It reads and writes clips as :func:`~painterly.video.render.video` does: a video file,
a folder or a glob of frames in, read as a stream (one frame at a time, resized as it
is decoded); ``.mp4``, ``.webm``, ``.gif`` or a folder of PNGs out, with the sound from
the first frame's time and each frame's own time where the rate varies. Frames are
written as they finish with a state file, and the same call again continues after the
last finished frame of the same clip, known by its content
(:mod:`painterly.video.resume`).
"""

from __future__ import annotations

import contextlib
import itertools
import os
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from .._version import __version__
from ..cluster.model_task import pass_settings
from ..config.settings import make_config
from ..fast.apply import style_mix, stylize_with_model
from ..fast.model import FastModel, load_model
from ..files import images
from ..files.pairs import write_json
from ..nn.weights import sha256_of
from . import clips, encoding, flow
from .clips import Clip
from .render import STATE, FrameProgress, FrameProgressFn, VideoResult, work_folder
from .resume import clip_identity, open_state, resolved


@dataclass
class _Job:
    """A clip being painted: the model, the pass's settings, where the frames go."""

    model: FastModel
    settings: dict[str, Any]  # the keyword arguments of stylize_with_model
    clip: Clip
    work: Path
    state: dict[str, Any]

    def path(self, t: int) -> Path:
        return self.work / f"{t + 1:06d}.png"


def video_with_model(
    model: str | os.PathLike[str],
    source: str | os.PathLike[str],
    output: str | os.PathLike[str],
    *,
    frames: str | None = None,
    fps: float | None = None,
    progress: FrameProgressFn | None = None,
    preset: str = "default",
    **options: Any,
) -> VideoResult:
    """Paint every frame of ``source`` with the fast ``model`` into ``output``. Of the
    :class:`~painterly.Config` fields in ``options``, a pass takes ``size``,
    ``style_weights``, ``preserve_colors`` and ``strength``, as
    :func:`~painterly.fast.apply.stylize_with_model` does; ``frames`` and ``fps`` as
    for :func:`~painterly.video.render.video`.

    >>> video_with_model("starry.safetensors", "clip.mp4", "out.mp4", size=384)  # doctest: +SKIP
    """
    cfg = make_config(preset, **options)
    out = Path(output)
    kind = encoding.check_output(out)
    loaded = load_model(model)
    style_mix(loaded, cfg.style_weights)  # a bad mix is refused before the clip is read
    span = clips.parse_range(frames) if frames else (None, None)
    clip = clips.open_clip(source, cfg.size, span, fps)
    settings = pass_settings(cfg)
    del settings["size"]  # the clip is read at it
    # Only what a pass takes makes its frames: the key's config is the defaults but
    # for the size, and the model stands where the styles would.
    entry = {"path": resolved(str(model)), "sha256": sha256_of(Path(model))}
    identity = clip_identity(make_config(size=cfg.size), settings, clip, [entry], span, fps)
    work = work_folder(out)
    fresh = {"identity": identity, "done": 0, "frames": []}
    job = _Job(loaded, settings, clip, work, open_state(work / STATE, fresh, "frames", work))
    if kind == "folder":
        encoding.note_folder(clip, out)
    started = time.perf_counter()
    interrupted = _paint_frames(job, progress)
    done = job.state["done"]
    if kind != "folder" and done:
        encoding.write_clip([job.path(t) for t in range(done)], out, clip)
    record = _record(job, entry, out, interrupted, time.perf_counter() - started)
    write_json(out.with_suffix(".json"), record)
    if kind != "folder" and not interrupted:
        _remove_work(job)
    return VideoResult(out, done, interrupted, record)


def _paint_frames(job: _Job, progress: FrameProgressFn | None) -> bool:
    """Paint the frames not done yet, read from the first of them on, each written and
    recorded as it finishes; True if the run was stopped (by ``progress`` or Ctrl-C)."""
    count = job.clip.count
    try:
        for t, frame in enumerate(job.clip.frames(job.state["done"]), start=job.state["done"]):
            began = time.perf_counter()
            picture = stylize_with_model(job.model, clips.to_tensor(frame), **job.settings)
            images.save_image(picture, job.path(t))
            seconds = time.perf_counter() - began
            job.state["frames"].append({"frame": t, "seconds": round(seconds, 3)})
            job.state["done"] = t + 1
            write_json(job.work / STATE, job.state)
            if (
                progress is not None
                and progress(FrameProgress(t + 1, count, t, 1, seconds, {})) is False
            ):
                return True
    except KeyboardInterrupt:
        return True
    return False


def _record(
    job: _Job, model: dict[str, str], out: Path, interrupted: bool, seconds: float
) -> dict[str, Any]:
    clip, done = job.clip, job.state["done"]
    settings = flow.FlowSettings()
    errors = flow.mean_errors(flow.pair_errors(_scored(job, done), settings), 2)
    return {
        "painterly": __version__,
        "torch": torch.__version__,
        **job.state["identity"],
        "model": model,
        "settings": job.settings,
        "flow": settings.to_json(),
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
    """The first ``done`` input frames, each with its painting and itself (the floor)."""
    for t, frame in enumerate(itertools.islice(job.clip.frames(), done)):
        now = clips.as_float(frame)
        yield now, [clips.as_float(clips.to_array(images.load_image(job.path(t)))), now]


def _remove_work(job: _Job) -> None:
    for t in range(job.clip.count):
        job.path(t).unlink(missing_ok=True)
    (job.work / STATE).unlink(missing_ok=True)
    with contextlib.suppress(OSError):  # the user put something else there: leave it
        job.work.rmdir()

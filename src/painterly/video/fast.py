"""A clip painted by a fast model: each frame in one pass of the network, no
optimisation, so no warm start and no temporal loss (a model's own steadiness is what
the record's warping error measures).

It reads and writes clips as :func:`~painterly.video.render.video` does (a video file, a
folder or a glob of frames in; ``.mp4``, ``.webm``, ``.gif`` or a folder of PNGs out,
the sound kept), writes the frames as they finish with a state file, and the same call
again continues after the last finished frame.
"""

from __future__ import annotations

import contextlib
import os
import time
from pathlib import Path
from typing import Any

import torch

from .._version import __version__
from ..config.settings import make_config
from ..fast.apply import style_mix, stylize_with_model
from ..fast.model import FastModel, load_model
from ..files import images
from ..files.pairs import write_json
from ..nn.weights import sha256_of
from . import clips, flow
from .render import STATE, FrameProgress, FrameProgressFn, VideoResult, open_state, work_folder


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
    kind = clips.check_output(out)
    loaded = load_model(model)
    style_mix(loaded, cfg.style_weights)  # a bad mix is refused before the clip is read
    span = clips.parse_range(frames) if frames else (None, None)
    clip = clips.read_clip(source, cfg.size, span, fps)
    weights = None if cfg.style_weights is None else list(cfg.style_weights)
    settings = {
        "style_weights": weights,
        "preserve_colors": cfg.preserve_colors,
        "strength": cfg.strength,
    }
    identity = {
        "input": str(source),
        "frames": list(span),
        "resample_fps": fps,
        "size": cfg.size,
        "model": {"path": str(model), "sha256": sha256_of(Path(model))},
        "settings": settings,
    }
    work = work_folder(out)
    state = open_state(
        work / STATE, {"identity": identity, "done": 0, "frames": []}, "frames", work
    )
    started = time.perf_counter()
    interrupted = _paint_frames(loaded, clip, work, state, settings, progress)
    done = state["done"]
    paths = [_frame_path(work, t) for t in range(done)]
    if kind != "folder" and done:
        clips.write_clip(paths, out, clip.fps, clip)
    record = _record(state, clip, paths, out, interrupted, time.perf_counter() - started)
    write_json(out.with_suffix(".json"), record)
    if kind != "folder" and not interrupted:
        _remove_work(work, paths)
    return VideoResult(out, done, interrupted, record)


def _frame_path(work: Path, t: int) -> Path:
    return work / f"{t + 1:06d}.png"


def _paint_frames(
    model: FastModel,
    clip: clips.Clip,
    work: Path,
    state: dict[str, Any],
    settings: dict[str, Any],
    progress: FrameProgressFn | None,
) -> bool:
    """Paint the frames not done yet, each written and recorded as it finishes; True
    if the run was stopped (by ``progress`` or Ctrl-C)."""
    count = len(clip.frames)
    try:
        for t in range(state["done"], count):
            began = time.perf_counter()
            picture = stylize_with_model(model, clip.frames[t], **settings)
            images.save_image(picture, _frame_path(work, t))
            seconds = time.perf_counter() - began
            state["frames"].append({"frame": t, "seconds": round(seconds, 3)})
            state["done"] = t + 1
            write_json(work / STATE, state)
            if (
                progress is not None
                and progress(FrameProgress(t + 1, count, t, 1, seconds, {})) is False
            ):
                return True
    except KeyboardInterrupt:
        return True
    return False


def _record(
    state: dict[str, Any],
    clip: clips.Clip,
    paths: list[Path],
    out: Path,
    interrupted: bool,
    seconds: float,
) -> dict[str, Any]:
    outputs = [clips.as_float(clips.to_array(images.load_image(p))) for p in paths]
    inputs = [clips.as_float(f) for f in clip.frames[: len(paths)]]
    settings = flow.FlowSettings()
    errors = flow.warping_errors(inputs, [outputs, inputs], settings)
    return {
        "painterly": __version__,
        "torch": torch.__version__,
        **state["identity"],
        "flow": settings.to_json(),
        "size": [int(clip.frames[0].shape[1]), int(clip.frames[0].shape[0])],
        "fps": float(clip.fps),
        "frames_total": len(clip.frames),
        "frames_written": len(paths),
        "output": str(out),
        "warping_error": errors[0],
        "warping_error_input": errors[1],
        "seconds_this_run": round(seconds, 3),
        "interrupted": interrupted,
        "per_frame": state["frames"],
    }


def _remove_work(work: Path, paths: list[Path]) -> None:
    for path in paths:
        path.unlink(missing_ok=True)
    (work / STATE).unlink(missing_ok=True)
    with contextlib.suppress(OSError):  # the user put something else there: leave it
        work.rmdir()

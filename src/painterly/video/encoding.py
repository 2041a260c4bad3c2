"""Clips out: H.264 ``.mp4``, VP9 ``.webm``, ``.gif``, or a folder of PNGs.

A video output is encoded from the finished PNG frames one at a time, at the clip's
rate or, for a clip whose frames are not evenly spaced, at each frame's own time. The
sound of a video input is carried over into ``.mp4`` (AAC) and ``.webm`` (Opus), cut to
the sample from the first chosen frame's time for as long as the frames last; a
``.gif`` and a folder have no sound, and say so.
"""

from __future__ import annotations

import itertools
import logging
from collections.abc import Sequence
from fractions import Fraction
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import OutputError
from ..files import atomic, images
from .clips import Clip, require_av

log = logging.getLogger(__name__)

VIDEO_OUTPUTS = {".mp4": ("mp4", "libx264", "aac"), ".webm": ("webm", "libvpx-vp9", "libopus")}
OUTPUT_KINDS = (*VIDEO_OUTPUTS, ".gif", "a folder")
TIME_BASE = Fraction(1, 90000)  # of a video output whose frames keep their own times

Sound = tuple[Path, float, float]  # the file, the first frame's time in it, the seconds


def check_output(path: Path) -> str:
    """The kind of output ``path`` asks for (an extension, or ``folder``), before any
    work: a known kind in an existing folder."""
    kind = path.suffix.lower()
    if path.is_dir() or (not kind and not path.exists()):
        kind = "folder"
    elif not kind:
        raise OutputError(f"output '{path}' is a file, not a folder: choose another output")
    elif kind not in (*VIDEO_OUTPUTS, ".gif"):
        raise OutputError(
            f"output '{path}' has extension '{path.suffix}': use one of "
            f"{', '.join(OUTPUT_KINDS)} (a name without extension)"
        )
    atomic.check_folder(path.parent, "output", create=False)
    return kind


def note_folder(clip: Clip, out: Path) -> None:
    """Say, in a line each, what a folder of frames leaves out of ``clip``: its sound,
    and the times of frames that are not evenly spaced (the record keeps them)."""
    if clip.audio is not None:
        log.warning("a folder of frames has no sound: the audio of '%s' is left out", clip.audio)
    if not clip.steady:
        log.warning(
            "'%s' has a variable frame rate and a folder of frames keeps no times: "
            "each frame's time is in '%s' (frame_times)",
            clip.name,
            out.with_suffix(".json"),
        )


def write_clip(files: Sequence[Path], out: Path, clip: Clip) -> None:
    """Encode the PNG ``files``, the first frames of ``clip``, into ``out`` (.mp4, .webm
    or .gif) atomically, with the clip's sound where the format holds it."""
    kind = out.suffix.lower()
    times = None if clip.steady else clip.times[: len(files)]
    if times is not None:
        log.info("'%s' has a variable frame rate: each frame keeps its time", clip.name)
    if kind == ".gif":
        if clip.audio is not None:
            log.warning("a GIF has no sound: the audio of '%s' is left out", clip.audio)
        images.atomic_write(out, lambda tmp: _write_gif(files, tmp, clip.fps, times))
        return
    sound = (clip.audio, clip.start, clip.seconds(len(files))) if clip.audio else None
    codecs = VIDEO_OUTPUTS[kind]
    images.atomic_write(out, lambda tmp: _encode(files, tmp, codecs, clip.fps, times, sound))


def _write_gif(
    files: Sequence[Path], tmp: Path, fps: Fraction, times: Sequence[float] | None
) -> None:
    from PIL import Image

    # Pillow holds a GIF's frames until it is written: GIFs are short clips.
    frames = [Image.open(f).convert("RGB") for f in files]
    tick = 1 / float(fps)
    stamps = list(times) if times is not None else [i * tick for i in range(len(files))]
    stamps.append(stamps[-1] + tick)
    # GIF counts in 10 ms, and 20 ms is the floor browsers keep.
    durations = [max(20, round(1000 * (b - a))) for a, b in itertools.pairwise(stamps)]
    frames[0].save(
        tmp, format="GIF", save_all=True, append_images=frames[1:], duration=durations, loop=0
    )


def _encode(
    files: Sequence[Path],
    tmp: Path,
    codecs: tuple[str, str, str],
    fps: Fraction,
    times: Sequence[float] | None,
    sound: Sound | None,
) -> None:
    av = require_av()
    fmt, codec, audio_codec = codecs
    first = _even(_png(files[0]))
    with av.open(str(tmp), "w", format=fmt) as container:
        video = container.add_stream(codec, rate=fps)
        video.width, video.height = first.shape[1], first.shape[0]
        video.pix_fmt = "yuv420p"
        video.options = {"crf": "18"} if codec == "libx264" else {"crf": "30", "b:v": "0"}
        if times is not None:
            video.codec_context.time_base = TIME_BASE
        audio = _audio_stream(container, sound[0], audio_codec) if sound else None
        for i, file in enumerate(files):
            frame = av.VideoFrame.from_ndarray(_even(_png(file)), format="rgb24")
            if times is not None:
                frame.pts, frame.time_base = round(times[i] / TIME_BASE), TIME_BASE
            container.mux(video.encode(frame))
        container.mux(video.encode())
        if audio is not None and sound is not None:
            _copy_audio(container, audio, *sound)


def _png(path: Path) -> np.ndarray:
    from PIL import Image

    with Image.open(path) as img:
        return np.asarray(img.convert("RGB"))


def _even(frame: np.ndarray) -> np.ndarray:
    """YUV 4:2:0 needs even sides: repeat the last row or column where one is odd."""
    h, w = frame.shape[:2]
    return np.pad(frame, ((0, h % 2), (0, w % 2), (0, 0)), mode="edge")


def _audio_stream(container: Any, source: Path, codec: str) -> Any:
    av = require_av()
    with av.open(str(source)) as found:
        rate = found.streams.audio[0].rate or 48000
    stream = container.add_stream(codec, rate=48000 if codec == "libopus" else rate)
    stream.layout = "stereo"
    return stream


def _copy_audio(container: Any, stream: Any, source: Path, start: float, seconds: float) -> None:
    """Encode the sound of ``source`` from ``start`` (on the source's timeline) for
    ``seconds``, cut to the sample; sound that begins after ``start`` begins as late."""
    av = require_av()
    resampler = av.AudioResampler(format="fltp", layout="stereo", rate=stream.rate)
    cut = _Cut(container, stream, round(start * stream.rate), round(seconds * stream.rate))
    with av.open(str(source)) as found:
        for frame in found.decode(found.streams.audio[0]):
            if frame.time is None or frame.time + frame.samples / frame.sample_rate <= start:
                continue
            if cut.at is None:
                cut.at = round(frame.time * stream.rate)
            if cut.at >= cut.end:
                break
            for out in resampler.resample(frame):
                cut.put(out.to_ndarray())
        if cut.at is not None:
            for out in resampler.resample(None):
                cut.put(out.to_ndarray())
    container.mux(stream.encode())


class _Cut:
    """Resampled sound in, the samples from ``begin`` to ``end`` (counted at the output's
    rate on the source's timeline) encoded; ``at``: where the next samples begin."""

    def __init__(self, container: Any, stream: Any, begin: int, length: int) -> None:
        self.container, self.stream = container, stream
        self.begin, self.end = begin, begin + length
        self.at: int | None = None
        self.packed = stream.codec_context.name == "libopus"  # Opus takes interleaved samples

    def put(self, samples: np.ndarray) -> None:
        """``samples``: 2×n planar float32, beginning at :attr:`at`."""
        assert self.at is not None
        lo, hi = max(self.begin - self.at, 0), min(self.end - self.at, samples.shape[1])
        if hi > lo:
            av = require_av()
            kept = np.ascontiguousarray(samples[:, lo:hi])
            if self.packed:
                frame = av.AudioFrame.from_ndarray(kept.T.reshape(1, -1), "flt", "stereo")
            else:
                frame = av.AudioFrame.from_ndarray(kept, "fltp", "stereo")
            frame.rate, frame.time_base = self.stream.rate, Fraction(1, self.stream.rate)
            frame.pts = self.at + lo - self.begin
            self.container.mux(self.stream.encode(frame))
        self.at += samples.shape[1]

"""Clips in and out: a video file (decoded by PyAV, so any format FFmpeg reads), a folder
or glob of frames; written as H.264 ``.mp4``, VP9 ``.webm``, ``.gif`` or a folder of PNGs.

Frames are held as ``H×W×3`` uint8 RGB arrays at the working size. The audio of a
video input is carried over into ``.mp4`` (AAC) and ``.webm`` (Opus), trimmed to the
frames chosen; a ``.gif`` has no sound.
"""

from __future__ import annotations

import glob
import logging
import os
import re
from collections.abc import Sequence
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np
import torch

from ..errors import ImageError, OutputError, require
from ..files import atomic, images

log = logging.getLogger(__name__)

VIDEO_OUTPUTS = {".mp4": ("mp4", "libx264", "aac"), ".webm": ("webm", "libvpx-vp9", "libopus")}
OUTPUT_KINDS = (*VIDEO_OUTPUTS, ".gif", "a folder")
FOLDER_FPS = Fraction(24)  # the rate of a folder of frames unless --fps says otherwise


@dataclass
class Clip:
    """Frames at the working size, their rate, and where their sound comes from."""

    frames: list[np.ndarray]  # H×W×3 uint8 RGB
    fps: Fraction
    audio: Path | None = None  # a file whose first audio stream goes with the frames
    start: float = 0.0  # time of the first frame in that file, in seconds

    @property
    def duration(self) -> float:
        return len(self.frames) / float(self.fps)


def parse_range(spec: str) -> tuple[int | None, int | None]:
    """``"A:B"`` → frames A to B−1, counted from 0 (either may be left out, as in Python)."""
    first, sep, last = spec.partition(":")
    try:
        if not sep:
            raise ValueError
        return (int(first) if first.strip() else None, int(last) if last.strip() else None)
    except ValueError:
        raise ImageError(f"frames '{spec}' is not A:B: write e.g. 0:48 or 10: ") from None


def read_clip(
    source: str | os.PathLike[str],
    size: int | None,
    frames: tuple[int | None, int | None] = (None, None),
    fps: float | None = None,
) -> Clip:
    """Read a video file, a folder of frames or a glob of them; ``fps`` resamples a video
    (or sets a folder's rate), ``frames`` picks a range after that, and every frame is
    resized so that its longest side is ``size`` (``None``: kept as it is)."""
    if fps is not None and not 0 < fps < 1000:
        raise ImageError(f"fps must be between 0 and 1000, got {fps}: try 12 or 24")
    text = str(source)
    path = Path(text)
    if path.is_dir() or (not path.exists() and glob.has_magic(text)):
        files = (
            _frame_files(path) if path.is_dir() else sorted(map(Path, glob.glob(text)), key=_nat)
        )
        clip = Clip(_read_frames(text, files), Fraction(fps or FOLDER_FPS))
    elif path.is_file():
        clip = _read_video(path, fps)
    else:
        raise ImageError(f"input '{text}' does not exist: give a video, a folder or a glob")
    first, last = frames
    chosen = clip.frames[first:last]
    if not chosen:
        raise ImageError(f"input '{text}' has no frames in {first}:{last}: widen --frames")
    clip.start += (range(len(clip.frames))[first:last].start) / float(clip.fps)
    clip.frames = chosen if size is None else [_resize(f, size) for f in chosen]
    return clip


def _nat(path: Path) -> list[Any]:
    """Natural order: ``frame_2`` before ``frame_10``."""
    return [int(p) if p.isdigit() else p for p in re.split(r"(\d+)", path.name)]


def _frame_files(folder: Path) -> list[Path]:
    readable = images.readable_extensions()
    found = [p for p in folder.iterdir() if p.suffix.lower() in readable]
    return sorted(found, key=_nat)


def _read_frames(source: str, files: Sequence[Path]) -> list[np.ndarray]:
    if not files:
        raise ImageError(f"input '{source}' holds no frames: give a folder or glob of images")
    out: list[np.ndarray] = []
    for file in files:
        frame = to_array(images.load_image(file))
        if out and frame.shape != out[0].shape:
            raise ImageError(
                f"frame '{file.name}' is {frame.shape[1]}×{frame.shape[0]} but "
                f"'{files[0].name}' is {out[0].shape[1]}×{out[0].shape[0]}: "
                "give frames of one size"
            )
        out.append(frame)
    return out


def _read_video(path: Path, fps: float | None) -> Clip:
    av = require_av()
    try:
        with av.open(str(path)) as container:
            if not container.streams.video:
                raise ImageError(f"input '{path}' holds no video frames: give another file")
            stream = container.streams.video[0]
            rate = Fraction(stream.average_rate or stream.guessed_rate or FOLDER_FPS)
            frames = [f.to_ndarray(format="rgb24") for f in container.decode(stream)]
            has_audio = bool(container.streams.audio)
    except av.FFmpegError as exc:
        raise ImageError(
            f"input '{path}' is not a video FFmpeg can read ({exc.strerror}): "
            "give a video file, a folder of frames or a quoted glob"
        ) from None
    if not frames:
        raise ImageError(f"input '{path}' holds no video frames: give another file")
    clip = Clip(frames, rate, path if has_audio else None)
    return clip if fps is None else _resample(clip, Fraction(fps).limit_denominator(1001))


def _resample(clip: Clip, fps: Fraction) -> Clip:
    """The frames nearest to each tick of the new rate (dropped or repeated)."""
    count = max(1, int(clip.duration * fps))
    picks = [min(len(clip.frames) - 1, round(k * clip.fps / fps)) for k in range(count)]
    return Clip([clip.frames[i] for i in picks], fps, clip.audio, clip.start)


def _resize(frame: np.ndarray, size: int) -> np.ndarray:
    h, w = frame.shape[:2]
    hw = images.fit_size(h, w, size)
    if hw == (h, w):
        return frame
    return to_array(images.resize(to_tensor(frame), hw))


def to_tensor(frame: np.ndarray) -> torch.Tensor:
    """``H×W×3`` uint8 → ``1×3×H×W`` float tensor in [0, 1]."""
    return torch.from_numpy(np.ascontiguousarray(frame)).permute(2, 0, 1)[None].float() / 255


def to_array(image: torch.Tensor) -> np.ndarray:
    """``1×3×H×W`` tensor in [0, 1] → ``H×W×3`` uint8."""
    return np.array(images.tensor_to_pil(image))


def as_float(frame: np.ndarray) -> np.ndarray:
    """uint8 frame → float32 in [0, 1], as :mod:`painterly.video.flow` takes it."""
    return frame.astype(np.float32) / 255


def require_av() -> ModuleType:
    """PyAV, or an error with the command that installs it."""
    return require("av", "video needs PyAV and OpenCV", "video")


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


def write_clip(files: Sequence[Path], out: Path, fps: Fraction, audio: Clip | None) -> None:
    """Encode the PNG ``files`` into ``out`` (.mp4, .webm or .gif) atomically, with the
    sound of ``audio`` (its file, start and duration) where the format holds it."""
    kind = out.suffix.lower()
    if kind == ".gif":
        if audio is not None and audio.audio is not None:
            log.warning("a GIF has no sound: the audio of '%s' is left out", audio.audio)
        images.atomic_write(out, lambda tmp: _write_gif(files, tmp, fps))
        return
    fmt, codec, sound = VIDEO_OUTPUTS[kind]
    images.atomic_write(out, lambda tmp: _encode(files, tmp, fmt, codec, sound, fps, audio))


def _write_gif(files: Sequence[Path], tmp: Path, fps: Fraction) -> None:
    from PIL import Image

    frames = [Image.open(f).convert("RGB") for f in files]
    duration = max(20, round(1000 / float(fps)))  # GIF counts in 10 ms; 20 ms is the floor
    frames[0].save(
        tmp, format="GIF", save_all=True, append_images=frames[1:], duration=duration, loop=0
    )


def _encode(
    files: Sequence[Path],
    tmp: Path,
    fmt: str,
    codec: str,
    sound: str,
    fps: Fraction,
    audio: Clip | None,
) -> None:
    av = require_av()
    first = np.asarray(_even(_png(files[0])))
    with av.open(str(tmp), "w", format=fmt) as container:
        video = container.add_stream(codec, rate=fps)
        video.width, video.height = first.shape[1], first.shape[0]
        video.pix_fmt = "yuv420p"
        video.options = {"crf": "18"} if codec == "libx264" else {"crf": "30", "b:v": "0"}
        audio_out = _audio_stream(container, audio, sound)
        for file in files:
            frame = av.VideoFrame.from_ndarray(_even(_png(file)), format="rgb24")
            container.mux(video.encode(frame))
        container.mux(video.encode())
        if audio_out is not None and audio is not None:
            _copy_audio(container, audio_out, audio, len(files) / float(fps))


def _png(path: Path) -> np.ndarray:
    from PIL import Image

    with Image.open(path) as img:
        return np.asarray(img.convert("RGB"))


def _even(frame: np.ndarray) -> np.ndarray:
    """YUV 4:2:0 needs even sides: repeat the last row or column where one is odd."""
    h, w = frame.shape[:2]
    return np.pad(frame, ((0, h % 2), (0, w % 2), (0, 0)), mode="edge")


def _audio_stream(container: Any, audio: Clip | None, codec: str) -> Any:
    if audio is None or audio.audio is None:
        return None
    av = require_av()
    with av.open(str(audio.audio)) as source:
        rate = source.streams.audio[0].rate or 48000
    if codec == "libopus":
        rate = 48000
    stream = container.add_stream(codec, rate=rate)
    stream.layout = "stereo"
    return stream


def _copy_audio(container: Any, stream: Any, clip: Clip, duration: float) -> None:
    """Decode the source's sound from ``clip.start`` for ``duration`` s and encode it."""
    av = require_av()
    assert clip.audio is not None
    fmt = "flt" if stream.codec_context.name == "libopus" else "fltp"
    resampler = av.AudioResampler(format=fmt, layout="stereo", rate=stream.rate)
    end, written = clip.start + duration, 0
    with av.open(str(clip.audio)) as source:
        for frame in source.decode(source.streams.audio[0]):
            if frame.time is None or frame.time < clip.start:
                continue
            if frame.time >= end:
                break
            for out in resampler.resample(frame):
                out.pts, written = written, written + out.samples
                out.time_base = Fraction(1, stream.rate)
                container.mux(stream.encode(out))
    for out in resampler.resample(None):
        out.pts = written
        out.time_base = Fraction(1, stream.rate)
        container.mux(stream.encode(out))
    container.mux(stream.encode())

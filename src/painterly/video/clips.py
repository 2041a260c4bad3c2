"""Clips in: a video file (decoded by PyAV, so any format FFmpeg reads), a folder or
glob of frames, read as a stream.

:func:`open_clip` looks a clip up without decoding it (a video's packets give each
frame's time) and returns a :class:`Clip`: the frames chosen (``--fps``, ``--frames``),
their times, and where their sound is. Its frames come from :meth:`Clip.frames`, one
at a time, from the first one asked for (a video seeks to the keyframe before it) to
the last one chosen, each resized to the working size as it is decoded: the length of
a clip costs no memory. Frames are ``H×W×3`` uint8 RGB arrays.

Times are the source's: a video's first frame need not be at 0 s (MPEG-TS, clips cut by
stream copy), and the sound is taken from the first chosen frame's time on the same
timeline. A clip whose frames are not evenly spaced keeps each frame's time
(:attr:`Clip.times`); ``--fps`` resamples it to an even rate by those times.
"""

from __future__ import annotations

import bisect
import dataclasses
import functools
import glob
import hashlib
import itertools
import logging
import os
import re
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from types import ModuleType
from typing import Any, Protocol

import numpy as np
import torch
from PIL import Image

from ..errors import ImageError, require
from ..files import images
from ..nn.weights import sha256_of

log = logging.getLogger(__name__)
FOLDER_FPS = Fraction(24)  # the rate of a folder of frames unless --fps says otherwise
BACKWARDS_BLOCK = 32  # frames held at once to read a clip backwards

Read = Callable[[], np.ndarray]  # a decoded frame's pixels, converted when first asked


class _Source(Protocol):
    """Where a clip's frames come from: ``decode(lo, hi)`` yields ``(index, read)`` for
    the source's frames from ``lo`` to ``hi`` (included), in order."""

    def decode(self, lo: int, hi: int) -> Iterator[tuple[int, Read]]: ...

    def digest(self, picks: Sequence[int]) -> str: ...


@dataclass(frozen=True)
class Clip:
    """The frames chosen from a source, their times, and where their sound comes from."""

    name: str  # the input as given, for messages
    source: _Source
    picks: tuple[int, ...]  # the source's frame shown as each frame of the clip
    times: tuple[float, ...]  # each frame's time in seconds, from the first one's
    fps: Fraction  # the rate (a variable-rate clip's average)
    start: float  # the first frame's time in the source, where its sound is cut from
    size: int | None  # the working size: the longest side (None: as decoded)
    shape: tuple[int, int]  # (H, W) of a frame at the working size
    audio: Path | None = None  # a file whose first audio stream goes with the frames

    @property
    def count(self) -> int:
        return len(self.picks)

    @property
    def steady(self) -> bool:
        """Whether every frame is within half a frame of its tick at :attr:`fps`."""
        tick = 1 / float(self.fps)
        return all(abs(t - i * tick) <= tick / 2 for i, t in enumerate(self.times))

    def seconds(self, count: int | None = None) -> float:
        """How long the first ``count`` frames (all) last: to the last one's time and
        one tick more."""
        count = self.count if count is None else count
        return self.times[count - 1] + 1 / float(self.fps) if count else 0.0

    def resized(self, size: int | None) -> Clip:
        """The same frames at another working size (``None``: as decoded); ``self`` must
        be as decoded."""
        h, w = self.shape if size is None else images.fit_size(*self.shape, size)
        return dataclasses.replace(self, size=size, shape=(h, w))

    def digest(self) -> str:
        """The SHA-256 of what the frames are read from (a video file, or the frame files
        chosen), as :func:`painterly.cluster.task.resume_key` takes it."""
        return self.source.digest(self.picks)

    def frames(self, first: int = 0) -> Iterator[np.ndarray]:
        """The frames from ``first`` on, decoded one at a time and resized to the working
        size. A frame the decoder never gives is shown as the one before it."""
        picks = self.picks[first:]
        if not picks:
            return
        fit = _Fit(self.size)
        wanted, latest = 0, None
        for index, read in self.source.decode(picks[0], picks[-1]):
            while wanted < len(picks) and picks[wanted] < index and latest is not None:
                yield fit(*latest)
                wanted += 1
            while wanted < len(picks) and picks[wanted] <= index:
                yield fit(index, read)
                wanted += 1
            if wanted == len(picks):
                return
            latest = (index, read)
        if latest is None:
            raise ImageError(
                f"input '{self.name}' ended before frame {first + wanted}: re-encode it "
                "(ffmpeg -i IN OUT.mp4) or give a smaller --frames"
            )
        log.warning(
            "input '%s' ended %d frames early: its last frame is shown in their place",
            self.name,
            len(picks) - wanted,
        )
        for _ in range(len(picks) - wanted):
            yield fit(*latest)

    def backwards(self, skip: int = 0) -> Iterator[tuple[int, np.ndarray]]:
        """``(t, frame)`` from the last frame to the first, leaving out the last ``skip``;
        read forwards a block of frames at a time."""
        end = self.count - skip
        while end > 0:
            first = max(0, end - BACKWARDS_BLOCK)
            held = list(itertools.islice(self.frames(first), end - first))
            for t in range(end - 1, first - 1, -1):
                yield t, held[t - first]
            end = first


class _Fit:
    """A frame at the working size, the last one kept (a frame shown twice, as ``--fps``
    may ask, is converted once)."""

    def __init__(self, size: int | None) -> None:
        self.size = size
        self.last: tuple[int, np.ndarray] | None = None

    def __call__(self, index: int, read: Read) -> np.ndarray:
        if self.last is None or self.last[0] != index:
            frame = read()
            self.last = (index, frame if self.size is None else _resize(frame, self.size))
        return self.last[1]


def parse_range(spec: str) -> tuple[int | None, int | None]:
    """``"A:B"`` → frames A to B−1, counted from 0 (either may be left out, as in Python)."""
    first, sep, last = spec.partition(":")
    try:
        if not sep:
            raise ValueError
        return (int(first) if first.strip() else None, int(last) if last.strip() else None)
    except ValueError:
        raise ImageError(f"frames '{spec}' is not A:B: write e.g. 0:48 or 10: ") from None


def open_clip(
    source: str | os.PathLike[str],
    size: int | None,
    frames: tuple[int | None, int | None] = (None, None),
    fps: float | None = None,
) -> Clip:
    """A video file, a folder of frames or a glob of them, as a :class:`Clip`: ``fps``
    resamples a video by its frames' times (or sets a folder's rate), ``frames`` picks
    a range after that, and every frame is resized so that its longest side is ``size``
    (``None``: kept as it is). Nothing but the first chosen frame is decoded here."""
    if fps is not None and not 0 < fps < 1000:
        raise ImageError(f"fps must be between 0 and 1000, got {fps}: try 12 or 24")
    text = str(source)
    path = Path(text)
    audio, rate = None, Fraction(fps or FOLDER_FPS)
    if path.is_dir() or (not path.exists() and glob.has_magic(text)):
        files = (
            _frame_files(path) if path.is_dir() else sorted(map(Path, glob.glob(text)), key=_nat)
        )
        if not files:
            raise ImageError(f"input '{text}' holds no frames: give a folder or glob of images")
        found: _Source = _Files(tuple(files))
        ticks = [(i, Fraction(i) / rate) for i in range(len(files))]
    elif path.is_file():
        video, stamps, own = _probe(path)
        found, audio = video, (path if video.has_audio else None)
        if fps is None:
            rate, ticks = own, list(enumerate(stamps))
        else:
            rate = Fraction(fps).limit_denominator(1001)
            ticks = _resampled(stamps, own, rate)
    else:
        raise ImageError(f"input '{text}' does not exist: give a video, a folder or a glob")
    picks, times = _choose(text, ticks, frames)
    if isinstance(found, _Files):
        found.check(picks)
    start = float(times[0])
    first = Clip(text, found, picks, (), rate, start, size, (0, 0), audio)
    shape = next(first.frames()).shape[:2]
    relative = tuple(float(t - times[0]) for t in times)
    return Clip(text, found, picks, relative, rate, start, size, (shape[0], shape[1]), audio)


def _resampled(
    stamps: Sequence[Fraction], own: Fraction, rate: Fraction
) -> list[tuple[int, Fraction]]:
    """``(source frame, time)`` at each tick of ``rate`` from the first frame's time, for
    as long as the source lasts (its last frame: one tick of its ``own`` rate): the frame
    nearest in time (frames dropped, or repeated)."""
    count = max(1, int((stamps[-1] - stamps[0] + 1 / own) * rate))
    ticks = [stamps[0] + k / rate for k in range(count)]
    return [(_nearest(stamps, t), t) for t in ticks]


def _nearest(stamps: Sequence[Fraction], t: Fraction) -> int:
    i = bisect.bisect_left(stamps, t)
    if i == len(stamps):
        return i - 1
    return i - 1 if i > 0 and t - stamps[i - 1] <= stamps[i] - t else i


def _choose(
    text: str, ticks: list[tuple[int, Fraction]], frames: tuple[int | None, int | None]
) -> tuple[tuple[int, ...], list[Fraction]]:
    first, last = frames
    chosen = ticks[first:last]
    if not chosen:
        raise ImageError(f"input '{text}' has no frames in {first}:{last}: widen --frames")
    return tuple(p for p, _ in chosen), [t for _, t in chosen]


def _nat(path: Path) -> list[Any]:
    """Natural order: ``frame_2`` before ``frame_10``."""
    return [int(p) if p.isdigit() else p for p in re.split(r"(\d+)", path.name)]


def _frame_files(folder: Path) -> list[Path]:
    readable = images.readable_extensions()
    found = [p for p in folder.iterdir() if p.suffix.lower() in readable]
    return sorted(found, key=_nat)


@dataclass(frozen=True)
class _Files:
    """A folder's or a glob's frames, one file each."""

    files: tuple[Path, ...]

    def check(self, picks: Sequence[int]) -> None:
        """Refuse, before any work, chosen files that are no images or not of one size
        (their headers only are read)."""
        size = None
        for i in sorted(set(picks)):
            file = self.files[i]
            try:
                with Image.open(file) as img:
                    found = img.size
            except (OSError, ValueError, Image.DecompressionBombError):
                found = None
            if found is None:
                images.load_image(file)  # raises, naming what is wrong with it
                continue
            size = size or (found, file)
            if found != size[0]:
                raise ImageError(
                    f"frame '{file.name}' is {found[0]}×{found[1]} but '{size[1].name}' is "
                    f"{size[0][0]}×{size[0][1]}: give frames of one size"
                )

    def decode(self, lo: int, hi: int) -> Iterator[tuple[int, Read]]:
        for i in range(lo, hi + 1):
            yield i, functools.partial(_load, self.files[i])

    def digest(self, picks: Sequence[int]) -> str:
        sha = hashlib.sha256()
        for i in sorted(set(picks)):
            sha.update(sha256_of(self.files[i]).encode())
        return sha.hexdigest()


def _load(file: Path) -> np.ndarray:
    return to_array(images.load_image(file))


@dataclass(frozen=True)
class _Video:
    """A video file's first video stream: its frames are found by their timestamps
    (``pts``, in presentation order), or by their place where it has none."""

    path: Path
    pts: tuple[int, ...] | None
    has_audio: bool

    def decode(self, lo: int, hi: int) -> Iterator[tuple[int, Read]]:
        av, pts = require_av(), self.pts
        for seek in (True, False) if lo > 0 and pts is not None else (False,):
            with av.open(str(self.path)) as container:
                stream = container.streams.video[0]
                if seek and pts is not None:  # to the keyframe at or before frame lo
                    container.seek(pts[lo], stream=stream, backward=True)
                found = self._indexed(container.decode(stream))
                head = next(found, None)
                if seek and (head is None or head[0] > lo):
                    continue  # the seek landed after frame lo: read from the start
                for index, frame in itertools.chain([head] if head else [], found):
                    if index > hi:
                        return
                    if index >= lo:
                        yield index, functools.partial(frame.to_ndarray, format="rgb24")
            return

    def _indexed(self, decoded: Iterator[Any]) -> Iterator[tuple[int, Any]]:
        """Each decoded frame with its index among the stream's frames."""
        av = require_av()
        try:
            for position, frame in enumerate(decoded):
                if self.pts is None:
                    yield position, frame
                    continue
                index = bisect.bisect_left(self.pts, frame.pts if frame.pts is not None else -1)
                if index < len(self.pts) and self.pts[index] == frame.pts:
                    yield index, frame
        except av.FFmpegError as exc:
            raise ImageError(
                f"input '{self.path}' cannot be decoded past a point ({exc.strerror}): "
                "re-encode it (ffmpeg -i IN OUT.mp4) or give a smaller --frames"
            ) from None

    def digest(self, picks: Sequence[int]) -> str:
        return sha256_of(self.path)


def _probe(path: Path) -> tuple[_Video, list[Fraction], Fraction]:
    """A video file's stream, each frame's time (from its packets, nothing decoded) and
    its rate."""
    av = require_av()
    try:
        with av.open(str(path)) as container:
            if not container.streams.video:
                raise ImageError(f"input '{path}' holds no video frames: give another file")
            stream = container.streams.video[0]
            rate = Fraction(stream.average_rate or stream.guessed_rate or FOLDER_FPS)
            base = Fraction(stream.time_base or Fraction(1, 90000))
            # Each frame's timestamp, not its packet: a clip's length costs no memory.
            stamps = [p.pts for p in container.demux(stream) if p.size and not p.is_discard]
            has_audio = bool(container.streams.audio)
    except av.FFmpegError as exc:
        raise ImageError(
            f"input '{path}' is not a video FFmpeg can read ({exc.strerror}): "
            "give a video file, a folder of frames or a quoted glob"
        ) from None
    if not stamps:
        raise ImageError(f"input '{path}' holds no video frames: give another file")
    if any(s is None for s in stamps):  # no timestamps: frames in order, at the rate
        return _Video(path, None, has_audio), [i / rate for i in range(len(stamps))], rate
    pts = tuple(sorted(stamps))
    return _Video(path, pts, has_audio), [p * base for p in pts], rate


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

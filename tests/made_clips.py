"""Clips made with PyAV for the tests that read them (the video mode's, a fast model's):
frames at given times with a tone beside them, and what an output holds.

Import it as ``from made_clips import make_clip`` (the tests folder is on ``sys.path``).
"""

from __future__ import annotations

from collections.abc import Sequence
from fractions import Fraction
from pathlib import Path

import av
import numpy as np

from painterly.files.samples import moving_clip

RATE = 22050  # of the test clips' sound


def make_clip(
    path: Path,
    times: Sequence[float],
    offset: float = 0.0,
    fmt: str | None = None,
    sound: bool = True,
) -> Path:
    """A 32×32 H.264 clip (a keyframe every 4 frames) whose frames are shown at ``offset +
    times`` (seconds on the file's timeline), with a 440 Hz tone from ``offset`` to one
    frame after the last."""
    frames = moving_clip(len(times), 32, pan=0.1, zoom=0.0, thing=False)
    base = Fraction(1, 1000)
    with av.open(str(path), "w", format=fmt) as container:
        stream = container.add_stream("libx264", rate=12)
        stream.width, stream.height, stream.pix_fmt = 32, 32, "yuv420p"
        stream.codec_context.time_base = base
        stream.codec_context.gop_size = 4  # a keyframe every 4 frames, to seek to
        audio = container.add_stream("aac", rate=RATE) if sound else None
        for t, frame in zip(times, frames, strict=True):
            picture = av.VideoFrame.from_ndarray(np.ascontiguousarray(frame[:32, :32]), "rgb24")
            picture.pts, picture.time_base = round((offset + t) * 1000), base
            container.mux(stream.encode(picture))
        container.mux(stream.encode())
        if audio is not None:
            seconds = np.arange(round(RATE * (times[-1] + 1 / 12))) / RATE
            wave = (0.3 * np.sin(2 * np.pi * 440 * seconds)).astype(np.float32)
            tone = np.repeat(wave[None], 2, 0)
            chunk = av.AudioFrame.from_ndarray(tone, format="fltp", layout="stereo")
            chunk.rate, chunk.time_base = RATE, Fraction(1, RATE)
            chunk.pts = round(offset * RATE)
            container.mux(audio.encode(chunk))
            container.mux(audio.encode())
    return path


def frame_times(path: Path) -> list[float]:
    with av.open(str(path)) as container:
        return [float(f.time) for f in container.decode(container.streams.video[0])]


def audio_seconds(path: Path) -> float:
    with av.open(str(path)) as container:
        if not container.streams.audio:
            return 0.0
        stream = container.streams.audio[0]
        return sum(f.samples for f in container.decode(stream)) / stream.rate

"""Clips in and out, through the whole run: sound kept when a clip's times do not start
at 0, frames that keep their own times, and clips read as streams (nothing decoded
past the last frame chosen, nothing ahead of the frame being stylised).

Clips are 32×32, made here with PyAV, and runs take a few steps with the real weights."""

from __future__ import annotations

import importlib
import json
import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import av
import pytest
from PIL import Image
from test_render import write_frames

from made_clips import audio_seconds, frame_times, make_clip
from painterly.files.samples import moving_clip
from painterly.video import clips
from painterly.video.chunking import Chunking
from painterly.video.parallel import videos
from painterly.video.render import FrameProgress, VideoSettings

video = importlib.import_module("painterly.video.render")
FAST: dict[str, Any] = {"size": 32, "iterations": 4, "scales": 1, "seed": 0}
QUICK = VideoSettings(frame_iterations=2)


@pytest.mark.parametrize(
    ("name", "fmt", "offset", "output"),
    [("late.mkv", None, 1.0, "out.mp4"), ("broadcast.ts", "mpegts", 1.4, "out.webm")],
)
def test_sound_is_kept_when_the_clips_times_do_not_start_at_zero(
    tmp_path: Path, style_path: Path, name: str, fmt: str | None, offset: float, output: str
) -> None:
    # 1.4 s: where FFmpeg's MPEG-TS muxer starts a stream; each stream has its own delay.
    source = make_clip(tmp_path / name, [t / 12 for t in range(6)], offset, fmt)
    out = tmp_path / output
    result = video.video(source, [style_path], out, frames="1:5", settings=QUICK, **FAST)
    assert result.frames == 4 and len(frame_times(out)) == 4
    assert audio_seconds(out) == pytest.approx(4 / 12, abs=0.05)  # AAC pads to 1024 samples


def test_a_folder_output_says_it_leaves_the_sound_out(
    tmp_path: Path, style_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    source = make_clip(tmp_path / "in.mkv", [t / 12 for t in range(2)], 1.0)
    with caplog.at_level(logging.WARNING):
        video.video(source, [style_path], tmp_path / "painted", settings=QUICK, **FAST)
    said = [r.getMessage() for r in caplog.records if r.name.startswith("painterly")]
    assert said == [f"a folder of frames has no sound: the audio of '{source}' is left out"]


def test_frames_at_uneven_times_keep_them(
    tmp_path: Path, style_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    times = [0.0, 1 / 12, 4 / 12, 5 / 12, 9 / 12]  # a camera that dropped frames
    source = make_clip(tmp_path / "uneven.mkv", times, offset=0.5)
    out = tmp_path / "out.mp4"
    video.video(source, [style_path], out, settings=QUICK, **FAST)
    assert frame_times(out) == pytest.approx(times, abs=0.002)
    assert audio_seconds(out) == pytest.approx(10 / 12, abs=0.05)
    with caplog.at_level(logging.WARNING):
        video.video(source, [style_path], tmp_path / "painted", settings=QUICK, **FAST)
    assert any("variable frame rate" in r.getMessage() for r in caplog.records)
    record = json.loads((tmp_path / "painted.json").read_text())
    assert record["frame_times"] == pytest.approx(times, abs=0.002)
    steady = video.video(
        source, [style_path], tmp_path / "steady.mp4", fps=12, settings=QUICK, **FAST
    )
    assert steady.frames == 10  # resampled by the frames' times: dropped ones repeated
    assert frame_times(tmp_path / "steady.mp4") == pytest.approx([t / 12 for t in range(10)])


class _Counted:
    """A PyAV container that counts the video frames its decoders give."""

    def __init__(self, container: Any, decoded: list[int]) -> None:
        self._container, self._decoded = container, decoded

    def __enter__(self) -> _Counted:
        self._container.__enter__()
        return self

    def __exit__(self, *exc: object) -> Any:
        return self._container.__exit__(*exc)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._container, name)

    def decode(self, *args: Any, **kwargs: Any) -> Iterator[Any]:
        for frame in self._container.decode(*args, **kwargs):
            if isinstance(frame, av.VideoFrame):
                self._decoded.append(1)
            yield frame


@pytest.fixture
def decoded(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """One entry for each video frame any decoder gives from now on."""
    seen: list[int] = []
    real = av.open
    monkeypatch.setattr(av, "open", lambda *a, **k: _Counted(real(*a, **k), seen))
    return seen


def test_a_clip_is_decoded_as_it_is_stylised_and_not_past_its_last_frame(
    tmp_path: Path, style_path: Path, decoded: list[int]
) -> None:
    source = make_clip(tmp_path / "long.mp4", [t / 12 for t in range(24)], sound=False)
    decoded.clear()
    when: list[int] = []

    def note(info: FrameProgress) -> None:
        when.append(len(decoded))

    out = tmp_path / "out.mp4"
    video.video(source, [style_path], out, frames="0:2", settings=QUICK, progress=note, **FAST)
    assert when[0] <= 2  # the first frame was stylised before the second was decoded
    assert len(decoded) <= 6  # twice two frames (stylised, scored) and a look at the first
    decoded.clear()
    video.video(source, [style_path], tmp_path / "end", frames="20:22", settings=QUICK, **FAST)
    assert len(decoded) <= 12  # each read seeks to the keyframe at frame 20


def corrupt_after(folder: Path, count: int, good: int) -> Path:
    """A folder of ``count`` frames of which those from ``good`` on are not images."""
    write_frames(folder, moving_clip(good, 32, pan=0.1, zoom=0.0, thing=False))
    for t in range(good, count):
        (folder / f"f{t}.png").write_text("not a frame")
    return folder


def test_frames_after_the_last_chosen_are_never_read(tmp_path: Path, style_path: Path) -> None:
    folder = corrupt_after(tmp_path / "frames", 8, good=4)
    result = video.video(folder, [style_path], tmp_path / "a", frames="0:4", settings=QUICK, **FAST)
    assert result.frames == 4
    chunks = {"chunking": Chunking(2, 1), "settings": QUICK, **FAST}
    (chunked,) = videos([folder], [style_path], tmp_path / "b", frames="1:4", **chunks)
    assert chunked.frames == 3 and sorted(p.name for p in (tmp_path / "b").glob("*.png")) == [
        "000001.png",
        "000002.png",
        "000003.png",
    ]
    Image.open(tmp_path / "b" / "000003.png").verify()


def test_a_clip_read_from_a_frame_or_backwards_gives_the_same_frames(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(clips, "BACKWARDS_BLOCK", 3)
    source = make_clip(tmp_path / "clip.mp4", [t / 12 for t in range(10)], sound=False)
    clip = clips.open_clip(source, 24)
    forwards = list(clip.frames())
    assert len(forwards) == 10 and forwards[0].shape == (24, 24, 3)
    assert all((a == b).all() for a, b in zip(clip.frames(6), forwards[6:], strict=True))
    back = list(clip.backwards(skip=1))
    assert [t for t, _ in back] == list(range(8, -1, -1))
    assert all((frame == forwards[t]).all() for t, frame in back)

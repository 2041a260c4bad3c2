"""Stylised clips: temporal consistency, resuming, formats, audio and bad input.

Clips are 48 px wide and runs take a few steps, with the real weights."""

from __future__ import annotations

import importlib
import json
import os
import signal
from fractions import Fraction
from pathlib import Path
from typing import Any

import av
import numpy as np
import pytest
from PIL import Image

from helpers import FailsWith
from made_clips import audio_seconds
from painterly.cli import main
from painterly.files.samples import moving_clip
from painterly.video import clips
from painterly.video.render import FrameProgress, VideoSettings

video = importlib.import_module(
    "painterly.video.render"
)  # the module: painterly.video.render is the function
FAST = {"size": 48, "iterations": 8, "seed": 0}
QUICK = VideoSettings(frame_iterations=4)


def write_frames(folder: Path, frames: list[np.ndarray]) -> Path:
    folder.mkdir(exist_ok=True)
    for t, frame in enumerate(frames):
        Image.fromarray(frame).save(folder / f"f{t}.png")
    return folder


def write_video(path: Path, frames: list[np.ndarray], fps: int = 12, sound: bool = True) -> Path:
    """An H.264 .mp4 of ``frames`` (cut to even sides) with, if asked, a 440 Hz tone as
    long as the clip."""
    frames = [f[: f.shape[0] // 2 * 2, : f.shape[1] // 2 * 2].copy() for f in frames]
    with av.open(str(path), "w") as container:
        stream = container.add_stream("libx264", rate=fps)
        stream.height, stream.width = frames[0].shape[:2] if frames else (32, 48)
        stream.pix_fmt = "yuv420p"
        audio = container.add_stream("aac", rate=22050) if sound else None
        for frame in frames:
            container.mux(stream.encode(av.VideoFrame.from_ndarray(frame, format="rgb24")))
        container.mux(stream.encode())
        container.start_encoding()  # the header, even with no frames
        if audio is not None:
            t = np.arange(int(22050 * len(frames) / fps)) / 22050
            tone = (0.3 * np.sin(2 * np.pi * 440 * t)).astype(np.float32)[None]
            chunk = av.AudioFrame.from_ndarray(
                np.repeat(tone, 2, 0), format="fltp", layout="stereo"
            )
            chunk.rate, chunk.pts = 22050, 0
            container.mux(audio.encode(chunk))
            container.mux(audio.encode())
    return path


@pytest.fixture
def panning(tmp_path: Path) -> Path:
    return write_frames(tmp_path / "pan", moving_clip(4, 48, pan=0.1, zoom=0.0, thing=False))


@pytest.fixture
def movie(tmp_path: Path) -> Path:
    return write_video(tmp_path / "in.mp4", moving_clip(6, 48, pan=0.1, zoom=0.0, thing=False))


def frame_count(path: Path) -> int:
    return clips.open_clip(path, None).count


def test_temporal_mode_flickers_less_than_frames_alone(
    panning: Path, tmp_path: Path, style_path: Path
) -> None:
    alone = video.video(
        panning, [style_path], tmp_path / "a", settings=VideoSettings(warm_start=False), **FAST
    )
    steady = video.video(panning, [style_path], tmp_path / "c", settings=QUICK, **FAST)
    assert steady.frames == alone.frames == 4
    assert steady.record["warping_error"] < 0.7 * alone.record["warping_error"]
    assert "extra" in steady.record["per_frame"][1]["losses"]  # the temporal term ran


def test_interrupted_run_resumes_at_the_next_frame(
    panning: Path, tmp_path: Path, style_path: Path
) -> None:
    out = tmp_path / "out.webm"
    seen: list[int] = []

    def stop_after_two(info: FrameProgress) -> bool:
        seen.append(info.frame)
        return info.done < 2

    first = video.video(panning, [style_path], out, settings=QUICK, progress=stop_after_two, **FAST)
    assert first.interrupted and first.frames == 2 and frame_count(out) == 2
    assert (tmp_path / "out.webm.frames").is_dir()
    seen.clear()

    def note(info: FrameProgress) -> None:
        seen.append(info.frame)

    second = video.video(panning, [style_path], out, settings=QUICK, progress=note, **FAST)
    assert seen == [2, 3]  # frames 0 and 1 were kept, not redone
    assert not second.interrupted and frame_count(out) == 4
    assert [f["frame"] for f in second.record["per_frame"]] == [0, 1, 2, 3]
    assert not (tmp_path / "out.webm.frames").exists()


def test_passes_go_back_and_forth_and_resume_inside_the_backward_pass(
    tmp_path: Path, style_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(clips, "BACKWARDS_BLOCK", 2)  # the backward pass in blocks
    clip = write_frames(tmp_path / "in", moving_clip(5, 32, pan=0.1, zoom=0.0, thing=False))
    settings = VideoSettings(frame_iterations=2, passes=2, long_term=True)
    options = {**FAST, "size": 32, "iterations": 4}
    seen: list[tuple[int, int]] = []

    def stop_at_seven(info: FrameProgress) -> bool:
        seen.append((info.pass_, info.frame))
        return info.done < 7

    def note(info: FrameProgress) -> None:
        seen.append((info.pass_, info.frame))

    out = tmp_path / "out"
    first = video.video(
        clip, [style_path], out, settings=settings, progress=stop_at_seven, **options
    )
    assert first.interrupted and seen == [(1, t) for t in range(5)] + [(2, 4), (2, 3)]
    assert "extra" in first.record["per_frame"][4]["losses"]  # held to frames 3, 2 and 0
    seen.clear()
    second = video.video(clip, [style_path], out, settings=settings, progress=note, **options)
    assert seen == [(2, 2), (2, 1), (2, 0)] and not second.interrupted
    assert [f["frame"] for f in second.record["per_frame"]] == [0, 1, 2, 3, 4, 4, 3, 2, 1, 0]


def test_sigterm_keeps_the_frames_done_and_writes_the_video(
    movie: Path, tmp_path: Path, style_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    saved = video._save_state

    def save_then_terminate(job: Any) -> None:
        saved(job)
        if job.state["done"] == 3:
            os.kill(os.getpid(), signal.SIGTERM)

    monkeypatch.setattr(video, "_save_state", save_then_terminate)
    out = tmp_path / "out.mp4"
    argv = [
        "video",
        str(movie),
        str(style_path),
        "-o",
        str(out),
        "--size",
        "48",
        "--iterations",
        "8",
    ]
    assert main([*argv, "--frame-iterations", "4", "-q"]) == 130
    assert frame_count(out) == 3
    assert json.loads(out.with_suffix(".json").read_text())["interrupted"] is True
    assert signal.getsignal(signal.SIGTERM) is signal.SIG_DFL


def test_audio_is_carried_over_and_trimmed_to_the_frames(
    movie: Path, tmp_path: Path, style_path: Path
) -> None:
    out = tmp_path / "out.mp4"
    result = video.video(movie, [style_path], out, frames="1:5", settings=QUICK, **FAST)
    assert result.frames == 4 and frame_count(out) == 4
    assert audio_seconds(out) == pytest.approx(4 / 12, abs=0.06)
    with av.open(str(out)) as container:
        assert container.streams.video[0].codec_context.name == "h264"
        assert container.streams.video[0].average_rate == Fraction(12)


@pytest.mark.parametrize("name", ["out.gif", "out.webm", "frames"])
def test_gif_webm_and_folder_outputs_hold_every_frame(
    name: str, panning: Path, tmp_path: Path, style_path: Path
) -> None:
    out = tmp_path / name
    result = video.video(str(panning / "*.png"), [style_path], out, settings=QUICK, **FAST)
    assert result.frames == 4 and frame_count(out) == 4
    assert out.with_suffix(".json").is_file()
    if name == "frames":
        assert sorted(p.name for p in out.glob("*.png"))[0] == "000001.png"


@pytest.mark.parametrize("suffix", [".ppm", ".pgm", ".tga"])
def test_a_folder_of_any_format_pillow_reads_is_a_clip(tmp_path: Path, suffix: str) -> None:
    frames = moving_clip(3, 48, pan=0.1, zoom=0.0, thing=False)
    folder = tmp_path / "frames"
    folder.mkdir()
    for t, frame in enumerate(frames):
        picture = Image.fromarray(frame)
        (picture.convert("L") if suffix == ".pgm" else picture).save(folder / f"f{t}{suffix}")
    (folder / "notes.txt").write_text("not a frame")
    read = list(clips.open_clip(folder, None).frames())
    assert len(read) == 3 and read[0].shape == frames[0].shape
    if suffix == ".pgm":  # grey frames come in as RGB with equal channels
        assert (read[1][..., 0] == read[1][..., 2]).all()
    else:  # lossless: the pixels written
        assert all((a == b).all() for a, b in zip(read, frames, strict=True))


def test_fps_resamples_and_frames_picks_a_range(movie: Path) -> None:
    clip = clips.open_clip(movie, 24, (None, None), fps=6)
    assert clip.count == 3 and clip.fps == 6 and clip.picks == (0, 2, 4)
    assert clip.shape == (22, 24) and next(clip.frames()).shape == (22, 24, 3)  # 48×44, halved
    assert clips.open_clip(movie, None, clips.parse_range("2:")).count == 4


def test_video_score_prints_the_warping_error_and_its_floor(
    panning: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # The input with every other frame darker by 15 levels (none is that dark): each
    # pair of frames differs by that in all three channels on top of the input's own
    # error, the floor.
    frames = [np.asarray(Image.open(panning / f"f{t}.png"), np.int16) for t in range(4)]
    dimmed = [(f - 15 * (t % 2)).astype(np.uint8) for t, f in enumerate(frames)]
    assert main(["video-score", str(panning), str(write_frames(tmp_path / "dim", dimmed))]) == 0
    line = capsys.readouterr().out
    error, floor = (float(w.rstrip(";")) for w in line.split() if w[0].isdigit() and "." in w)
    assert line.startswith("warping error") and 0 < floor < 0.01
    assert error == pytest.approx(floor + 3 * (15 / 255) ** 2, rel=0.05)


def test_bad_inputs_fail_with_one_line_and_write_nothing(
    tmp_path: Path, panning: Path, style_path: Path, fails_with: FailsWith
) -> None:
    fake = tmp_path / "fake.mp4"
    fake.write_text("not a video")
    empty = write_video(tmp_path / "empty.mp4", [], sound=False)
    mixed = write_frames(tmp_path / "mixed", [np.zeros((8, 8, 3), np.uint8)] * 2)
    Image.new("RGB", (9, 8)).save(mixed / "f9.png")
    (tmp_path / "none").mkdir()
    out = tmp_path / "o.mp4"
    cases = [
        (fake, out, "is not a video FFmpeg can read"),
        (empty, out, "holds no video frames"),
        (mixed, out, "give frames of one size"),
        (tmp_path / "none", out, "holds no frames"),
        (panning, tmp_path / "o.avi", "has extension '.avi'"),
        (f"{panning}/*.png --fps 0", out, "fps must be between 0 and 1000"),
        (panning, fake / "o.mp4", "does not exist"),
    ]
    for source, target, message in cases:
        source, *more = str(source).split()
        fails_with(["video", source, str(style_path), "-o", str(target), *more], message)
        assert not target.exists() and not target.with_name(target.name + ".frames").exists()
    plain = tmp_path / "plain"
    plain.write_text("")
    fails_with(
        ["video", str(panning), str(style_path), "-o", str(plain)], "is a file, not a folder"
    )
    assert plain.read_text() == "" and not (tmp_path / "plain.json").exists()
    plain.unlink()
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "empty.mp4",
        "fake.mp4",
        "mixed",
        "none",
        "pan",
    ]

"""``painterly video --model``: each frame of a clip through a fast model, with the
video module's readers and writers, resumable, and its bad options refused."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from PIL import Image
from safetensors import safe_open
from safetensors.torch import save_file

from helpers import DATA, FailsWith
from made_clips import audio_seconds, frame_times, make_clip
from painterly.cli import main
from painterly.errors import OutputError
from painterly.fast.apply import stylize_with_model
from painterly.fast.model import load_model
from painterly.files import images
from painterly.files.samples import moving_clip
from painterly.video import clips
from painterly.video.fast import video_with_model
from painterly.video.render import FrameProgress


@pytest.fixture
def frames(tmp_path: Path) -> Path:
    folder = tmp_path / "pan"
    folder.mkdir()
    for t, frame in enumerate(moving_clip(4, 48, pan=0.1, zoom=0.0, thing=False)):
        Image.fromarray(frame).save(folder / f"f{t}.png")
    return folder


def test_each_frame_is_the_models_painting_of_it(
    tmp_path: Path, frames: Path, tiny_model: Path
) -> None:
    out = tmp_path / "painted"
    argv = ["video", str(frames), "--model", str(tiny_model), "-o", str(out), "--size", "48"]
    assert main([*argv, "--style-weights", "0.5", "0.5", "--strength", "0.7", "-q"]) == 0
    written = sorted(out.glob("*.png"))
    assert len(written) == 4
    model = load_model(tiny_model)
    for t, path in enumerate(written):
        photo = images.load_image(frames / f"f{t}.png")
        want = stylize_with_model(model, photo, style_weights=[0.5, 0.5], strength=0.7)
        kept = images.load_image(images.save_image(want, tmp_path / "want.png"))
        assert torch.equal(images.load_image(path), kept)
    record = json.loads(out.with_suffix(".json").read_text())
    assert record["frames_written"] == 4 and record["warping_error"] > 0
    assert record["settings"]["style_weights"] == [0.5, 0.5]


def test_a_video_output_is_encoded_and_its_frames_removed(
    tmp_path: Path, frames: Path, tiny_model: Path
) -> None:
    out = tmp_path / "painted.mp4"
    result = video_with_model(tiny_model, frames, out, size=48)
    assert result.frames == 4 and not result.interrupted
    clip = clips.open_clip(out, None)
    assert clip.count == 4 and clip.shape[1] == 48  # H.264: even sides
    assert sorted(p.name for p in tmp_path.iterdir()) == ["painted.json", "painted.mp4", "pan"]


def test_a_stopped_clip_goes_on_from_its_last_frame(
    tmp_path: Path, frames: Path, tiny_model: Path
) -> None:
    out = tmp_path / "painted"
    stopped = video_with_model(tiny_model, frames, out, size=48, progress=lambda i: i.done < 2)
    assert stopped.interrupted and stopped.frames == 2
    first = (out / "000001.png").read_bytes()
    seen: list[int] = []

    def note(info: FrameProgress) -> None:
        seen.append(info.frame)

    done = video_with_model(tiny_model, frames, out, size=48, progress=note)
    assert not done.interrupted and done.frames == 4 and seen == [2, 3]
    assert (out / "000001.png").read_bytes() == first  # kept, not painted again
    assert len(json.loads(out.with_suffix(".json").read_text())["per_frame"]) == 4


def test_a_clip_is_known_by_its_content_not_its_path(
    tmp_path: Path, frames: Path, tiny_model: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    out = tmp_path / "painted"
    video_with_model(tiny_model, frames, out, size=48, progress=lambda i: i.done < 2)
    monkeypatch.chdir(tmp_path)
    done = video_with_model(tiny_model, "./pan/", out, size=48)
    assert done.frames == 4 and [e["frame"] for e in done.record["per_frame"]] == [0, 1, 2, 3]
    other = tmp_path / "other.safetensors"
    with safe_open(str(tiny_model), framework="pt") as handle:
        meta = handle.metadata()
        tensors = {k: handle.get_tensor(k) for k in handle.keys()}  # noqa: SIM118
    first = next(iter(tensors))
    tensors[first] = tensors[first] + 0.01  # other weights: another model
    save_file(tensors, str(other), metadata=meta)
    with pytest.raises(OutputError, match=r"other styles .*tiny\.safetensors"):
        video_with_model(other, frames, out, size=48)


def test_frames_picks_a_span_of_the_clip(tmp_path: Path, frames: Path, tiny_model: Path) -> None:
    out = tmp_path / "painted"
    result = video_with_model(tiny_model, frames, out, frames="1:3", size=32)
    assert result.frames == 2 and result.record["frames"] == [1, 3]
    model = load_model(tiny_model)
    photo = clips.to_tensor(next(clips.open_clip(frames, 32).frames(1)))  # as read at 32 px
    want = images.save_image(stylize_with_model(model, photo), tmp_path / "want.png")
    assert torch.equal(images.load_image(out / "000001.png"), images.load_image(want))


def test_frames_keep_their_times_and_the_sound_its_start(tmp_path: Path, tiny_model: Path) -> None:
    times = [0.0, 1 / 12, 4 / 12, 5 / 12, 9 / 12]  # a camera that dropped frames
    source = make_clip(tmp_path / "uneven.mkv", times, offset=0.5)
    out = tmp_path / "out.mp4"
    result = video_with_model(tiny_model, source, out, frames="1:", size=32)
    assert frame_times(out) == pytest.approx([t - times[1] for t in times[1:]], abs=0.002)
    assert audio_seconds(out) == pytest.approx(10 / 12 - times[1], abs=0.05)
    assert result.record["frame_times"] == pytest.approx(frame_times(out), abs=0.002)


@pytest.mark.parametrize(
    ("styles", "extra", "message"),
    [
        (["starry_night.jpg"], [], "give STYLE images or --model, one of the two"),
        ([], ["--workers", "2"], "without --workers"),
        ([], ["--style-weights", "1"], "give exactly 2"),
    ],
)
def test_bad_model_options_are_one_line(
    tmp_path: Path,
    frames: Path,
    tiny_model: Path,
    fails_with: FailsWith,
    styles: list[str],
    extra: list[str],
    message: str,
) -> None:
    out = tmp_path / "painted"
    paintings = [str(DATA / s) for s in styles]
    argv = ["video", str(frames), *paintings, "--model", str(tiny_model), "-o", str(out)]
    fails_with([*argv, *extra], message)
    assert not out.exists()

"""Continuing a clip: the same clip however its path is typed, and a refusal that says
what differs (and never to delete the frames done) when a folder holds another run's.

Clips are 32 px wide and runs take a few steps, with the real weights."""

from __future__ import annotations

import importlib
import json
from pathlib import Path
from typing import Any

import pytest
from test_render import write_frames

from painterly.errors import OutputError
from painterly.files.samples import moving_clip
from painterly.video.render import FrameProgress, VideoSettings

video = importlib.import_module("painterly.video.render")
FAST: dict[str, Any] = {"size": 32, "iterations": 4, "scales": 1, "seed": 0}
QUICK = VideoSettings(frame_iterations=2)


def run(source: str | Path, out: Path, stop_after: int = 0, **options: Any) -> list[int]:
    """The frames a run stylised (stopped after ``stop_after`` of them, if given)."""
    seen: list[int] = []

    def note(info: FrameProgress) -> bool:
        seen.append(info.frame)
        return not stop_after or len(seen) < stop_after

    style = Path(__file__).parents[2] / "src/painterly/data/starry_night.jpg"
    video.video(source, [style], out, settings=QUICK, progress=note, **{**FAST, **options})
    return seen


@pytest.fixture
def clip(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    return write_frames(tmp_path / "frames", moving_clip(3, 32, pan=0.1, zoom=0.0, thing=False))


@pytest.mark.parametrize("output", ["painted", "painted.mp4"])
def test_the_same_clip_typed_another_way_continues(clip: Path, output: str) -> None:
    out = Path(output)
    assert run("./frames", out, stop_after=1) == [0]
    assert run("frames/", out, stop_after=1) == [1]
    assert run(str(clip.resolve()), out) == [2]


def test_another_run_in_the_folder_is_refused_saying_what_differs(clip: Path) -> None:
    out = Path("painted")
    assert run("frames", out, stop_after=1) == [0]
    with pytest.raises(OutputError) as refused:
        run("frames", out, size=40, frames="0:2")
    said = str(refused.value)
    assert "--frames all (now 0:2); other options: size 32 (now 40):" in said
    assert "input" not in said and "version" not in said
    assert "delete" not in said and "choose another output" in said
    assert [p.name for p in out.glob("*.png")] == ["000001.png"]  # the frame done is kept


def test_a_clip_whose_content_changed_is_another_clip(clip: Path) -> None:
    out = Path("painted")
    assert run("frames", out, stop_after=1) == [0]
    (clip / "f1.png").write_bytes((clip / "f2.png").read_bytes())
    with pytest.raises(OutputError, match=r"an earlier version of .*frames' \(its content"):
        run("frames", out)
    assert [p.name for p in out.glob("*.png")] == ["000001.png"]


def test_frames_of_an_earlier_painterly_are_refused_and_kept(clip: Path) -> None:
    out = Path("painted")
    out.mkdir()
    (out / "000001.png").write_bytes((clip / "f0.png").read_bytes())
    old = {"identity": {"input": "frames", "frames": [None, None]}, "pass": 1, "done": 1}
    (out / ".painterly-video.json").write_text(json.dumps(old))
    with pytest.raises(OutputError, match="an earlier version of painterly") as refused:
        run("frames", out)
    assert "delete" not in str(refused.value) and (out / "000001.png").is_file()

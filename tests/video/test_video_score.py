"""``painterly video-score`` on a clip of odd sides against its own video, which was
made even (and so is cropped back), with or without the record beside it."""

from __future__ import annotations

from pathlib import Path

import pytest
from test_render import write_frames

from painterly.cli import main
from painterly.files.samples import moving_clip


def scores(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[float, float]:
    assert main(["video-score", *argv]) == 0
    line = capsys.readouterr().out
    error, floor = (float(w.rstrip(";")) for w in line.split() if w[0].isdigit() and "." in w)
    return error, floor


@pytest.mark.parametrize(("width", "height"), [(33, 21), (34, 21)])
@pytest.mark.parametrize("record", [True, False])
def test_video_score_crops_an_output_made_even_back_to_the_input(
    tmp_path: Path,
    style_path: Path,
    capsys: pytest.CaptureFixture[str],
    width: int,
    height: int,
    record: bool,
) -> None:
    frames = [f[:height, :width] for f in moving_clip(3, 40, pan=0.1, zoom=0.0, thing=False)]
    source = write_frames(tmp_path / "odd", frames)
    out = tmp_path / "out.mp4"
    made = ["video", str(source), str(style_path), "-o", str(out), "--size", str(width)]
    assert main([*made, "--iterations", "4", "--frame-iterations", "2", "-q"]) == 0
    if not record:
        out.with_suffix(".json").unlink()
    error, floor = scores(capsys, str(source), str(out))
    assert floor == scores(capsys, str(source), str(source))[1]  # at the input's own size
    assert floor < error < 0.1

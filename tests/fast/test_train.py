"""Training: the loss falls, a stopped training resumes at its step, bad photos."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest

from helpers import DATA, FailsWith
from painterly.fast.model import load_model
from painterly.fast.train import TrainProgress, train

TINY: dict[str, Any] = {"size": 64, "batch": 2, "network": "small", "hold_out": 0}


@pytest.fixture
def photos(tmp_path: Path) -> Path:
    folder = tmp_path / "photos"
    folder.mkdir()
    shutil.copy(DATA / "tubingen.jpg", folder)
    shutil.copy(DATA / "tubingen.jpg", folder / "tubingen_copy.jpg")
    return folder


def test_a_tiny_model_learns(tmp_path: Path, photos: Path) -> None:
    out = tmp_path / "m.safetensors"
    done = train([DATA / "starry_night.jpg"], photos, out, steps=16, lr=3e-3, **TINY)
    rows = json.loads(done.record.read_text())["curve"]["rows"]
    first, last = [r[2] for r in rows[:4]], [r[2] for r in rows[-4:]]
    assert sum(last) < 0.8 * sum(first)
    assert load_model(out).training["steps"] == 16
    assert done.preview is not None and done.preview.exists()


def test_a_stopped_training_resumes_at_its_step(tmp_path: Path, photos: Path) -> None:
    out = tmp_path / "m.safetensors"

    def stop_at_three(info: TrainProgress) -> None:
        if info.step == 3 and not info.saving:
            raise KeyboardInterrupt

    style = [DATA / "starry_night.jpg"]
    stopped = train(style, photos, out, steps=5, progress=stop_at_three, **TINY)
    assert stopped.interrupted and stopped.steps == 3
    seen: list[int] = []
    done = train(style, photos, out, steps=5, progress=lambda i: seen.append(i.step), **TINY)
    assert not done.interrupted and done.steps == 5
    assert seen[0] == 4  # the first step after the checkpoint's
    rows = json.loads(done.record.read_text())["curve"]["rows"]
    assert [r[0] for r in rows] == [1, 2, 3, 4, 5]


def test_a_corrupt_photo_is_skipped_with_a_warning(
    tmp_path: Path, photos: Path, caplog: pytest.LogCaptureFixture
) -> None:
    (photos / "broken.jpg").write_bytes(b"not a jpeg")
    done = train([DATA / "starry_night.jpg"], photos, tmp_path / "m.safetensors", steps=1, **TINY)
    warnings = [r for r in caplog.records if "broken.jpg" in r.getMessage()]
    assert len(warnings) == 1 and "skipped" in warnings[0].getMessage()
    record = json.loads(done.record.read_text())
    assert [Path(p).name for p in record["photos"]["skipped"]] == ["broken.jpg"]


def test_no_photos_fail_in_one_line(tmp_path: Path, fails_with: FailsWith) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    out = tmp_path / "m.safetensors"
    argv = ["train", str(DATA / "starry_night.jpg"), "--photos", str(empty), "-o", str(out)]
    fails_with(argv, "no photos found")
    (empty / "broken.png").write_bytes(b"junk")
    fails_with(argv, "could be read")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["empty"]

"""A stopped run continues from its checkpoint: from a finished scale to the same
picture, within a scale to the planned steps, and never from another run's."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import pytest
import torch

import painterly
from painterly import Progress
from painterly.transfer import resume
from painterly.transfer.resume import Checkpoint

# Three scales of 3, 4 and 5 steps, fp32 and a seed: a run that can be repeated exactly.
SMALL: dict[str, Any] = {
    "size": 128,
    "seed": 1,
    "iterations": 12,
    "scales": 3,
    "precision": "fp32",
    "stop_tolerance": 0.0,
}


def _stop_at(step: int) -> Any:
    def progress(info: Progress) -> bool:
        return info.tiles is not None or info.step < step

    return progress


def _run(content: Path, style: Path, **options: Any) -> painterly.Result:
    return painterly.stylize(content, [style], **{**SMALL, **options})


def test_a_run_stopped_at_a_scales_end_continues_to_the_same_picture(
    tmp_path: Path, content_path: Path, style_path: Path
) -> None:
    whole = _run(content_path, style_path)
    steps = [r.scale for r in whole.history]
    first_scale = steps.count(0)
    checkpoint = Checkpoint(tmp_path / "run.resume.safetensors")
    assert first_scale == 3
    stopped = _run(content_path, style_path, progress=_stop_at(first_scale), checkpoint=checkpoint)
    assert stopped.interrupted and len(stopped.history) == first_scale
    assert checkpoint.path.is_file()
    continued = _run(content_path, style_path, checkpoint=checkpoint)
    assert not continued.interrupted
    assert [r.step for r in continued.history] == list(range(1, len(whole.history) + 1))
    assert continued.image.shape == whole.image.shape
    assert float((continued.image - whole.image).abs().max()) < 1e-5


def test_a_run_continues_within_a_scale_to_its_planned_steps(
    tmp_path: Path, content_path: Path, style_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    checkpoint = Checkpoint(tmp_path / "run.resume.safetensors", every=0.0)  # every step
    stopped = _run(content_path, style_path, progress=_stop_at(5), checkpoint=checkpoint)
    assert len(stopped.history) == 5
    with caplog.at_level(logging.WARNING):
        continued = _run(content_path, style_path, checkpoint=checkpoint)
    assert "continuing from the checkpoint" in caplog.text and "step 2 of 4" in caplog.text
    assert len(continued.history) == 12
    assert continued.history[:5] == stopped.history  # the steps before are kept, not redone
    assert [r.scale for r in continued.history] == [0] * 3 + [1] * 4 + [2] * 5
    assert continued.final_losses["style"] < stopped.final_losses["style"]


def test_another_runs_checkpoint_is_not_used_and_what_differs_is_said(
    tmp_path: Path, content_path: Path, style_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    checkpoint = Checkpoint(tmp_path / "run.resume.safetensors")
    _run(content_path, style_path, progress=_stop_at(4), checkpoint=checkpoint)
    with caplog.at_level(logging.WARNING):
        other = _run(content_path, style_path, style_weight=77.0, checkpoint=checkpoint)
    assert "starting afresh" in caplog.text and "style_weight was" in caplog.text
    assert "77.0" in caplog.text
    assert len(other.history) == 12 and other.history[0].step == 1


def test_a_damaged_checkpoint_starts_afresh(
    tmp_path: Path, content_path: Path, style_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    checkpoint = Checkpoint(tmp_path / "run.resume.safetensors")
    checkpoint.path.write_bytes(b"not a checkpoint")
    with caplog.at_level(logging.WARNING):
        result = _run(content_path, style_path, iterations=3, scales=1, checkpoint=checkpoint)
    assert "cannot be read" in caplog.text and len(result.history) == 3


def test_the_key_names_each_changed_field() -> None:
    a = resume.RunKey({"size": 512, "seed": 0}, "abc")
    b = resume.RunKey({"size": 1024, "seed": 0}, "abd")
    assert a.differences(a) == []
    assert b.differences(a) == ["size was 512, now 1024", "the images differ"]


def test_a_snapshot_survives_the_file(tmp_path: Path) -> None:
    key = resume.RunKey({"size": 64}, "0" * 64)
    image = torch.rand(1, 3, 8, 12)
    checkpoint = Checkpoint(tmp_path / "c.safetensors")
    resume.save(checkpoint, key, resume.Snapshot(2, 3, image, [], (0.5, 96), 12.5, 7))
    snap = resume.load(checkpoint, key)
    assert snap is not None
    assert (snap.scale, snap.done, snap.curvature, snap.elapsed, snap.seed) == (
        2,
        3,
        (0.5, 96),
        12.5,
        7,
    )
    assert torch.equal(snap.image, image)
    assert painterly.Checkpoint is Checkpoint  # the public name

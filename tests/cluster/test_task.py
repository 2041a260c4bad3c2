"""A batch task carries the files its config names (masks, an init image) as bytes, and
the worker's copies replace the paths."""

from __future__ import annotations

import dataclasses
from pathlib import Path

from PIL import Image

from painterly.cluster.task import Task, read_files, run_task
from painterly.config.settings import Config


def test_masks_and_init_travel_as_bytes_and_the_run_uses_the_copies(
    tmp_path: Path, content_path: Path, style_path: Path
) -> None:
    sky = tmp_path / "sky.png"
    Image.new("L", (64, 48), 255).save(sky)
    cfg = Config(size=48, iterations=2, scales=1, seed=0, masks=(f"0={sky}",), init=str(sky))
    files = read_files(cfg)
    assert files == {
        "masks.0": ("sky.png", sky.read_bytes()),
        "init": ("sky.png", sky.read_bytes()),
    }
    task = Task("k", "n", cfg, (content_path.name, content_path.read_bytes()),
                ((style_path.name, style_path.read_bytes()),), files)  # fmt: skip
    sky.unlink()  # the worker has no file system in common with the client
    outcome = run_task(task)
    assert outcome.ok, outcome.error
    assert outcome.record is not None and list(outcome.record["config"]["masks"]) == [f"0={sky}"]
    stopped = run_task(dataclasses.replace(task, keep_stopped=True), progress=lambda p: False)
    assert stopped.ok and stopped.record is not None and stopped.record["interrupted"]

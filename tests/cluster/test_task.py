"""Work as tasks: a batch task carries the files its config names (masks, an init
image) as bytes and the worker's copies replace the paths; the resume key and the
finished-pair check; the scaffold's one-line errors."""

from __future__ import annotations

import dataclasses
from pathlib import Path

from PIL import Image

from painterly.cluster.task import (
    Task,
    digest,
    finished,
    place,
    read_files,
    resume_key,
    run_task,
    run_work,
    ship,
)
from painterly.config.settings import Config
from painterly.files.images import load_image
from painterly.files.pairs import write_pair


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


def test_resume_key_is_the_inputs_content_and_the_config(tmp_path: Path) -> None:
    sky = tmp_path / "sky.png"
    Image.new("L", (8, 8), 255).save(sky)
    cfg = Config(size=48, masks=(f"0={sky}",))
    key = resume_key(["a", "b"], cfg)
    assert key == resume_key(["a", "b"], Config(size=48, masks=(f"0={sky}",)))
    assert key != resume_key(["b", "a"], cfg)  # which input is the photo counts
    assert key != resume_key(["a", "b"], cfg.replace(size=64))
    assert key != resume_key(["a", "b"], cfg, video={"passes": 2})
    Image.new("L", (8, 8), 0).save(sky)  # the same mask path, other content
    assert key != resume_key(["a", "b"], cfg)


def test_finished_reads_the_pair_back_for_its_key(tmp_path: Path) -> None:
    image = tmp_path / "out.png"
    assert finished(image, "k") is None
    write_pair(image, b"picture", {"inputs": {"key": "k"}})
    record = finished(image, "k")
    assert record is not None and record["output"]["sha256"] == digest(b"picture")
    assert finished(image, "other") is None  # made for other inputs or options
    image.write_bytes(b"pictur")  # the file is there, but not the one recorded
    assert finished(image, "k") is None


def test_work_that_fails_comes_back_as_one_line_naming_the_users_file(tmp_path: Path) -> None:
    photo = tmp_path / "photo.jpg"
    photo.write_bytes(b"not a jpeg")

    def make(folder: Path) -> tuple[bytes, dict[str, object]]:
        load_image(place(folder / "content", ship(photo)))
        raise AssertionError("unreachable")

    outcome = run_work("k", "here", None, make)
    assert not outcome.ok and outcome.worker == "here" and outcome.image is None
    assert outcome.error is not None and "'photo.jpg'" in outcome.error
    assert "painterly-task-" not in outcome.error and "\n" not in outcome.error

"""A result's record: what reproduces the run, written beside the image as a pair:
both from one run, or neither."""

from __future__ import annotations

import hashlib
import json
import os
import threading
from pathlib import Path
from typing import Any

import pytest
import torch
from PIL import Image

from painterly.config.settings import Config
from painterly.engine.loop import StepRecord
from painterly.errors import ConfigError, SavedElsewhere
from painterly.files import atomic
from painterly.files import pairs as records
from painterly.files.pairs import write_json
from painterly.transfer.result import Result


def result(**changes: object) -> Result:
    painting = torch.ones(1, 3, 6, 8)
    photo = torch.zeros(1, 3, 6, 8)
    fields: dict[str, object] = {
        "image": painting.clone(),
        "history": [
            StepRecord(1, 0, 0.5, {"total": 4.0, "style": 1.0}),
            StepRecord(2, 0, 1.0, {"total": 2.0, "style": 0.5}),
        ],
        "config": Config(size=64, seed=3),
        "seed": 3,
        "weights": {"source": "test"},
        "elapsed": 1.23456,
        "interrupted": False,
        "device": "cpu",
        "precision": "fp32",
        "painting": painting,
        "photo": photo,
    }
    fields.update(changes)
    return Result(**fields)  # type: ignore[arg-type]


def test_save_writes_the_image_and_a_record_that_rebuilds_the_config(tmp_path: Path) -> None:
    out = result().save(tmp_path / "out.png", inputs={"content": "photo.jpg"})
    record = json.loads((tmp_path / "out.json").read_text())
    assert Image.open(out).size == (8, 6)
    assert record["output"].pop("sha256") == hashlib.sha256(out.read_bytes()).hexdigest()
    assert record["size"] == [8, 6] and record["steps"] == 2 and record["seed"] == 3
    assert record["final_losses"] == {"total": 2.0, "style": 0.5}
    assert record["seconds"] == 1.235 and record["inputs"] == {"content": "photo.jpg"}
    assert record["output"] == {"path": "out.png", "bit_depth": 8, "quality": 95}
    values: dict[str, Any] = {
        k: tuple(v) if isinstance(v, list) else v for k, v in record["config"].items()
    }
    rebuilt = Config(**values)
    assert rebuilt == Config(size=64, seed=3)


def test_strength_blends_again_without_running() -> None:
    half = result().with_strength(0.25)
    torch.testing.assert_close(half.image, torch.full((1, 3, 6, 8), 0.25))
    assert half.config.strength == 0.25 and half.history == result().history
    with pytest.raises(ConfigError) as info:
        result(painting=None).with_strength(0.5)
    assert info.value.field == "strength"


def test_a_run_stopped_before_its_first_step_has_no_losses(tmp_path: Path) -> None:
    early = result(history=[], interrupted=True)
    assert early.final_losses == {}
    early.save(tmp_path / "early.png")
    assert json.loads((tmp_path / "early.json").read_text())["interrupted"] is True


def test_write_json_leaves_no_partial_file(tmp_path: Path) -> None:
    write_json(tmp_path / "r.json", {"a": [1, 2]})
    assert json.loads((tmp_path / "r.json").read_text()) == {"a": [1, 2]}
    assert [p.name for p in tmp_path.iterdir()] == ["r.json"]


def pair(tmp_path: Path, level: float, note: str) -> Path:
    image = torch.full((1, 3, 8, 8), level)
    return records.save_pair(image, tmp_path / "out.png", {"note": note})


def test_pair_is_written_with_the_images_checksum(tmp_path: Path) -> None:
    out = pair(tmp_path, 0.5, "first")
    data = json.loads(out.with_suffix(".json").read_text())
    assert data["note"] == "first"
    assert data["output"]["sha256"] == hashlib.sha256(out.read_bytes()).hexdigest()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.json", "out.png"]


def test_no_room_for_the_record_keeps_the_old_pair(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    out = pair(tmp_path, 0.5, "old")
    before = out.read_bytes(), out.with_suffix(".json").read_text()
    real = atomic.write_part

    def full(path: Path, write: object) -> Path:
        if path.suffix == ".json":
            raise OSError(28, "No space left on device")
        return real(path, write)  # type: ignore[arg-type]

    monkeypatch.setattr(atomic, "write_part", full)
    with pytest.raises(OSError):
        pair(tmp_path, 0.9, "new")
    assert (out.read_bytes(), out.with_suffix(".json").read_text()) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.json", "out.png"]


def test_failed_record_rename_rolls_the_image_back(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    out = pair(tmp_path, 0.5, "old")
    old_image = out.read_bytes()
    real = os.replace

    def fail_on_json(src: str | Path, dst: str | Path) -> None:
        if str(dst).endswith(".json"):
            raise OSError(5, "Input/output error")
        real(src, dst)

    monkeypatch.setattr(os, "replace", fail_on_json)
    with pytest.raises(OSError):
        pair(tmp_path, 0.9, "new")
    assert out.read_bytes() == old_image
    assert json.loads(out.with_suffix(".json").read_text())["note"] == "old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.json", "out.png"]


def test_concurrent_writers_leave_one_whole_pair(tmp_path: Path) -> None:
    def write(i: int) -> None:
        for _ in range(5):
            pair(tmp_path, i / 10, f"writer {i}")

    threads = [threading.Thread(target=write, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    out = tmp_path / "out.png"
    data = json.loads(out.with_suffix(".json").read_text())
    assert data["output"]["sha256"] == hashlib.sha256(out.read_bytes()).hexdigest()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.json", "out.png"]


def test_a_failed_write_saves_the_pair_in_the_temporary_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    real = os.replace
    wanted = tmp_path / "out.png"

    def full(src: str | Path, dst: str | Path) -> None:
        if Path(dst).parent == tmp_path:
            raise OSError(28, "No space left on device")
        real(src, dst)

    monkeypatch.setattr(os, "replace", full)
    image = torch.full((1, 3, 8, 8), 0.25)
    with pytest.raises(SavedElsewhere, match="the disk is full") as info:
        records.save_pair_or_fallback(image, wanted, {"note": "kept"})
    spare = Path(info.value.path)
    assert spare.parent != tmp_path and spare.exists()
    assert json.loads(spare.with_suffix(".json").read_text())["note"] == "kept"
    assert not wanted.exists()
    spare.unlink()
    spare.with_suffix(".json").unlink()

"""A result's record: what reproduces the run, written beside the image."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import torch
from PIL import Image

from painterly.config import Config
from painterly.errors import ConfigError
from painterly.record import Result, read_pair, write_json, write_pair


def result(**changes: object) -> Result:
    painting = torch.ones(1, 3, 6, 8)
    photo = torch.zeros(1, 3, 6, 8)
    fields: dict[str, object] = {
        "image": painting.clone(),
        "history": [
            {"step": 1, "scale": 0, "total": 4.0, "style": 1.0},
            {"step": 2, "scale": 0, "total": 2.0, "style": 0.5},
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


def test_pair_is_read_back_only_with_its_own_image(tmp_path: Path) -> None:
    image = tmp_path / "a.png"
    write_pair(image, b"pixels", {"seed": 3, "output": {"bit_depth": 8}})
    record = read_pair(image)
    assert record is not None and record["seed"] == 3
    assert record["output"]["path"] == "a.png" and record["output"]["bit_depth"] == 8
    image.write_bytes(b"other pixels")  # an image that is not the record's
    assert read_pair(image) is None
    image.unlink()
    assert read_pair(image) is None


def test_interrupted_or_unreadable_record_marks_no_pair(tmp_path: Path) -> None:
    image = tmp_path / "b.png"
    write_pair(image, b"x", {"interrupted": True})
    assert read_pair(image) is None
    image.with_suffix(".json").write_text("{not json")
    assert read_pair(image) is None
    assert not list(tmp_path.glob("*.part"))

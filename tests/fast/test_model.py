"""The model file: saved and loaded alike, and each bad file refused in one line."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from safetensors.torch import save_file

from helpers import DATA, FailsWith
from painterly.errors import ModelError
from painterly.fast.apply import stylize_with_model
from painterly.fast.model import FastModel, Style, load_model, save_model
from painterly.fast.network import Shape, TransformNet


def _model(styles: int = 2) -> FastModel:
    torch.manual_seed(0)
    net = TransformNet(Shape(8, 1), styles)
    return FastModel(net, tuple(Style(f"s{i}", "0" * 64) for i in range(styles)))


def test_save_and_load_give_the_same_paintings(tmp_path: Path) -> None:
    model = _model()
    path = save_model(model, tmp_path / "m.safetensors")
    loaded = load_model(path)
    assert [s.name for s in loaded.styles] == ["s0", "s1"]
    photo = DATA / "tubingen.jpg"
    for weights in (0, 1, [0.5, 0.5]):
        want = stylize_with_model(model, photo, style_weights=weights, size=64)
        got = stylize_with_model(loaded, photo, style_weights=weights, size=64)
        assert torch.equal(want, got)


def test_style_index_out_of_range_is_refused(tmp_path: Path) -> None:
    model = load_model(save_model(_model(), tmp_path / "m.safetensors"))
    with pytest.raises(ModelError, match="style index 2 is out of range"):
        stylize_with_model(model, DATA / "tubingen.jpg", style_weights=2, size=32)


def test_not_a_model_is_refused(tmp_path: Path, fails_with: FailsWith) -> None:
    out = tmp_path / "out.png"
    photo = str(DATA / "tubingen.jpg")
    fails_with(["stylize", photo, "--model", str(photo), "-o", str(out)], "is not a safetensors")
    other = tmp_path / "other.safetensors"
    save_file({"w": torch.zeros(2)}, str(other), {"format": "pt"})
    fails_with(["stylize", photo, "--model", str(other), "-o", str(out)], "not a painterly")
    assert not out.exists() and list(tmp_path.iterdir()) == [other]


def test_unknown_architecture_version_is_refused(tmp_path: Path, fails_with: FailsWith) -> None:
    model = _model()
    path = tmp_path / "m.safetensors"
    tensors = {k: v.contiguous() for k, v in model.net.state_dict().items()}
    save_file(tensors, str(path), {**model.metadata(), "architecture_version": "99"})
    out = tmp_path / "out.png"
    fails_with(
        ["stylize", str(DATA / "tubingen.jpg"), "--model", str(path), "-o", str(out)],
        "version 99",
    )
    assert not out.exists()


def test_style_weights_of_the_wrong_count_fail(tmp_path: Path, fails_with: FailsWith) -> None:
    path = save_model(_model(), tmp_path / "m.safetensors")
    out = tmp_path / "out.png"
    argv = ["stylize", str(DATA / "tubingen.jpg"), "--model", str(path), "-o", str(out)]
    fails_with([*argv, "--style-weights", "1", "0", "1"], "give exactly 2")
    assert not out.exists()

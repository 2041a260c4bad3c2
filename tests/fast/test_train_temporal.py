"""The temporal term: zero where the painting follows the motion, its analytic value
where it does not, and a training with it paints moved photos more alike."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest
import torch

from helpers import DATA
from painterly.errors import ConfigError
from painterly.fast.model import load_model
from painterly.fast.network import Shape, TransformNet
from painterly.fast.settings import TrainSettings
from painterly.fast.temporal import Warp, temporal_term
from painterly.fast.train import train
from painterly.files import images


def _net() -> TransformNet:
    torch.manual_seed(0)
    net = TransformNet(Shape(8, 1), 1).eval()
    with torch.no_grad():  # away from the identity norms, so that the painting varies
        for p in net.parameters():
            p.add_(0.2 * torch.randn_like(p))
    return net


def _term(net: TransformNet, photos: torch.Tensor, warp: Warp) -> float:
    style = torch.ones(len(photos), 1)
    with torch.no_grad():
        return float(temporal_term(net(warp.apply(photos), style), net(photos, style), warp))


def test_the_identity_warp_costs_nothing() -> None:
    photos = torch.rand(2, 3, 32, 32, generator=torch.Generator().manual_seed(1))
    assert _term(_net(), photos, Warp.identity(2)) < 1e-10
    moved = Warp.random(2, torch.Generator().manual_seed(2))
    assert _term(_net(), photos, moved) > 1e-4


def test_a_pixelwise_painter_follows_a_whole_pixel_shift() -> None:
    # f(W(x)) = W(f(x)) inside the crop; outside, the edge the input repeats is not
    # what the painting's edge would be, and the mask leaves it out.
    photos = torch.rand(1, 3, 24, 24, generator=torch.Generator().manual_seed(3))
    warp = Warp.shift(1, 2.0, -1.0, 24)
    mask = warp.inside(photos)
    assert float(mask.sum()) == (24 - 2) * (24 - 1)

    def paint(x: torch.Tensor) -> torch.Tensor:
        return torch.sigmoid(3 * x - 1)

    assert float(temporal_term(paint(warp.apply(photos)), paint(photos), warp)) < 1e-10


def test_a_painting_that_ignores_the_motion_costs_its_warping_error() -> None:
    # A ramp of slope 1/23 per pixel shifted by 2 px differs by 2/23 in each channel.
    ramp = (torch.arange(24.0) / 23).expand(1, 3, 24, 24)
    warp = Warp.shift(1, 2.0, 0.0, 24)
    assert float(temporal_term(ramp, ramp, warp)) == pytest.approx(3 * (2 / 23) ** 2, rel=1e-5)


def test_the_weight_must_be_a_number_at_least_zero() -> None:
    for bad in (-1.0, float("nan")):
        with pytest.raises(ConfigError, match="temporal_weight must be a number"):
            TrainSettings(temporal_weight=bad)


def test_training_with_the_term_lowers_it(tmp_path: Path) -> None:
    photos = tmp_path / "photos"
    photos.mkdir()
    shutil.copy(DATA / "tubingen.jpg", photos)
    tiny: dict[str, Any] = {
        "size": 32,
        "batch": 2,
        "network": "small",
        "hold_out": 0,
        "steps": 8,
        "lr": 3e-3,
    }
    photo = images.load_image(DATA / "tubingen.jpg", 64)
    crops = torch.cat([photo[..., :32, :32], photo[..., -32:, -32:]]).repeat(2, 1, 1, 1)
    terms = {}
    for weight in (0.0, 300.0):
        out = tmp_path / f"m{weight:g}.safetensors"
        train([DATA / "starry_night.jpg"], photos, out, temporal_weight=weight, **tiny)
        model = load_model(out)
        assert model.training["temporal_weight"] == weight
        columns = json.loads(out.with_suffix(".json").read_text())["curve"]["columns"]
        assert ("temporal" in columns) == bool(weight)
        terms[weight] = _term(model.net, crops, Warp.random(4, torch.Generator().manual_seed(5)))
    assert terms[300.0] < 0.5 * terms[0.0]

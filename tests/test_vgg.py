"""The feature extractor: average pooling keeps the activations' magnitudes."""

from __future__ import annotations

from pathlib import Path

import torch

import painterly
from painterly import images
from painterly.vgg import VGG19Features
from painterly.weights import load_weights


def test_calibrated_average_pooling_keeps_magnitudes(content_path: Path) -> None:
    x = images.resize(images.load_image(content_path), (96, 128))
    weights = load_weights()
    layer = ["block5_conv1"]
    peak = VGG19Features(weights, layer, "max")
    plain = VGG19Features(weights, layer, "avg")
    scaled = VGG19Features(weights, layer, "avg")
    gains = scaled.calibrate_pooling(x)
    assert len(gains) == 4 and all(g > 1 for g in gains.values())
    with torch.no_grad():
        ref = peak(x)["block5_conv1"].mean()
        low = plain(x)["block5_conv1"].mean()
        kept = scaled(x)["block5_conv1"].mean()
    assert low < 0.5 * ref
    assert 0.7 * ref < kept < 1.4 * ref


def test_average_pooling_runs(content_path: Path, style_path: Path) -> None:
    result = painterly.stylize(content_path, [style_path], iterations=5, size=64, pooling="avg")
    assert result.history[-1]["total"] < result.history[0]["total"]

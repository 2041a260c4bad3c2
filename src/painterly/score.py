"""A yardstick independent of any run's weights, to compare results.

* content error: ``||F(x) - F(c)||^2 / ||F(c)||^2`` at ``block4_conv2``;
* style error: the mean over the five ``blockB_conv1`` layers of
  ``||G(x) - G(s)||_F / ||G(s)||_F`` with ``G = F F^T / M``.

The content image is resized to the output's size and each style image to the
output's pixel count (aspect kept); the network runs in float32.
"""

from __future__ import annotations

import math
import os
from collections.abc import Sequence
from dataclasses import dataclass

import torch

from . import images
from .config import STYLE_LAYERS
from .losses import gram_per_position
from .vgg import VGG19Features
from .weights import load_weights

CONTENT_LAYER = "block4_conv2"
Source = str | os.PathLike[str] | torch.Tensor


@dataclass(frozen=True)
class Score:
    content_err: float
    style_err: float  # mean over style images
    style_errs: tuple[float, ...]  # one per style image


def same_pixel_count(image: torch.Tensor, hw: tuple[int, int]) -> torch.Tensor:
    """Resize ``image`` to about ``hw[0]*hw[1]`` pixels, keeping its aspect ratio."""
    h, w = image.shape[-2:]
    scale = math.sqrt(hw[0] * hw[1] / (h * w))
    return images.resize(image, (max(1, round(h * scale)), max(1, round(w * scale))))


def score(
    output: Source, content: Source, styles: Sequence[Source], weights: str | None = None
) -> Score:
    """Score an output against its content and style images (lower is better)."""
    net = VGG19Features(load_weights(weights), [CONTENT_LAYER, *STYLE_LAYERS])
    x = images.load_image(output)
    hw = (x.shape[-2], x.shape[-1])
    with torch.no_grad():
        fx = net(x)
        fc = net(images.resize(images.load_image(content), hw))[CONTENT_LAYER]
        content_err = float((fx[CONTENT_LAYER] - fc).pow(2).sum() / fc.pow(2).sum())
        errs = []
        for style in styles:
            fs = net(same_pixel_count(images.load_image(style), hw))
            per_layer = []
            for layer in STYLE_LAYERS:
                gx, gs = gram_per_position(fx[layer]), gram_per_position(fs[layer])
                per_layer.append(float(torch.linalg.norm(gx - gs) / torch.linalg.norm(gs)))
            errs.append(sum(per_layer) / len(per_layer))
    return Score(content_err, sum(errs) / len(errs), tuple(errs))

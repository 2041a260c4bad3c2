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

from ..config.settings import STYLE_LAYERS
from ..engine.losses import gram_per_position
from ..engine.memory import check_forward_fits
from ..errors import ImageError
from ..files import images
from ..nn.layers import deepest, min_side
from ..nn.vgg import VGG19Features
from ..nn.weights import load_weights

CONTENT_LAYER = "block4_conv2"
Source = str | os.PathLike[str] | torch.Tensor


@dataclass(frozen=True)
class Score:
    content_err: float
    style_err: float  # mean over style images
    style_errs: tuple[float, ...]  # one per style image


def same_pixel_count(image: torch.Tensor, hw: tuple[int, int], shorter: int = 1) -> torch.Tensor:
    """Resize ``image`` to about ``hw[0]*hw[1]`` pixels, keeping its aspect ratio, with
    its shorter side at least ``shorter`` pixels."""
    h, w = image.shape[-2:]
    scale = math.sqrt(hw[0] * hw[1] / (h * w))
    side = max(round(max(h, w) * scale), images.side_for(h, w, shorter))
    return images.resize(image, images.fit_size(h, w, side))


def score(
    output: Source, content: Source, styles: Sequence[Source], weights: str | None = None
) -> Score:
    """Score an output against its content and style images (lower is better).

    Raises :class:`ImageError` for an output smaller than the deepest layer needs
    (16 px a side) and :class:`ConfigError` for one too large for the memory available.
    """
    layers = [CONTENT_LAYER, *STYLE_LAYERS]
    x = images.load_image(output)
    hw = (x.shape[-2], x.shape[-1])
    _check_size(output, hw, layers)
    net = VGG19Features(load_weights(weights), layers)
    need = min_side(STYLE_LAYERS)
    with torch.no_grad():
        fx = net(x)
        fc = net(images.resize(images.load_image(content, max(hw)), hw))[CONTENT_LAYER]
        content_err = float((fx[CONTENT_LAYER] - fc).pow(2).sum() / fc.pow(2).sum())
        errs = []
        for style in styles:
            fs = net(same_pixel_count(images.load_image(style, max(hw)), hw, need))
            per_layer = []
            for layer in STYLE_LAYERS:
                gx, gs = gram_per_position(fx[layer]), gram_per_position(fs[layer])
                per_layer.append(float(torch.linalg.norm(gx - gs) / torch.linalg.norm(gs)))
            errs.append(sum(per_layer) / len(per_layer))
    return Score(content_err, sum(errs) / len(errs), tuple(errs))


def _check_size(output: Source, hw: tuple[int, int], layers: Sequence[str]) -> None:
    need = min_side(layers)
    name = "the output" if isinstance(output, torch.Tensor) else f"output '{output}'"
    if min(hw) < need:
        raise ImageError(
            f"{name} is {hw[1]}×{hw[0]} px: scoring needs at least {need}×{need} px "
            f"(layer {deepest(layers)}); score a larger image"
        )
    check_forward_fits(*hw, layers, f"scoring {name}")

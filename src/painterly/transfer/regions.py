"""Regions of the output: a style per region, and a content weight per position.

Style masks give guided Gram matrices (Gatys et al. 2017, section 4): the features
of the image being optimised are weighted by the mask, resized to each layer, before
the Gram matrix, so each style's statistics are matched inside its own region only.
Soft (grey) masks blend. A style given no mask covers what the masks leave
uncovered; where no style covers a part, that part keeps the photo's content only.
"""

from __future__ import annotations

import os
from collections.abc import Sequence

import torch
from torch.nn import functional as F

from ..config.settings import parse_mask
from ..errors import ConfigError
from ..files import images
from ..nn.layers import INDEX, layer_shapes

MIN_MASS = 1e-3  # a region covering less than 0.1% of the image is an error


def load_mask(
    path: str | os.PathLike[str], hw: tuple[int, int], field: str = "masks"
) -> torch.Tensor:
    """A mask image as ``1×1×H×W`` weights in [0, 1] (white = 1) at the size ``hw``.

    The mask must have the photo's aspect ratio (within 2%), so it is never stretched.
    """
    mask = images.load_image(path).mean(1, keepdim=True)
    h, w = mask.shape[-2:]
    if abs((w / h) / (hw[1] / hw[0]) - 1) > 0.02:
        raise ConfigError(
            f"mask '{path}' is {w}×{h} but the photo is {hw[1]}×{hw[0]}: "
            "draw the mask at the photo's aspect ratio",
            field,
        )
    return resize_mask(mask, hw)


def resize_mask(mask: torch.Tensor, hw: tuple[int, int]) -> torch.Tensor:
    """Resize a ``1×1×H×W`` mask, averaging when shrinking."""
    if tuple(mask.shape[-2:]) == hw:
        return mask
    return F.interpolate(mask, size=hw, mode="bilinear", antialias=True).clamp(0, 1)


def style_masks(
    specs: Sequence[str], n_styles: int, hw: tuple[int, int]
) -> list[torch.Tensor] | None:
    """One mask per style image at the photo's size ``hw``, or ``None`` without masks.

    Styles without a mask share the part the given masks leave uncovered.
    """
    if not specs:
        return None
    given: dict[int, torch.Tensor] = {}
    for spec in specs:
        index, path = parse_mask(spec)
        if index >= n_styles:
            raise ConfigError(
                f"mask '{spec}' names style {index}, but there are {n_styles} style images: "
                f"use an index from 0 to {n_styles - 1}",
                "masks",
            )
        if index in given:
            raise ConfigError(f"style {index} has two masks: give one mask per style", "masks")
        given[index] = load_mask(path, hw)
    rest = (1 - sum(given.values(), torch.zeros(1, 1, *hw))).clamp(0, 1)
    masks = [given.get(i, rest) for i in range(n_styles)]
    for i, mask in enumerate(masks):
        if float(mask.mean()) < MIN_MASS:
            what = f"the mask of style {i}" if i in given else f"what the masks leave for style {i}"
            raise ConfigError(f"{what} is empty (black): paint the style's region white", "masks")
    return masks


def content_mask(path: str | os.PathLike[str], hw: tuple[int, int]) -> torch.Tensor:
    """A content mask at size ``hw``: white keeps more of the photo, black less."""
    mask = load_mask(path, hw, "content_mask")
    if float(mask.mean()) < MIN_MASS:
        raise ConfigError(
            f"content mask '{path}' is black everywhere: paint white what to keep", "content_mask"
        )
    return mask


def at_layers(
    mask: torch.Tensor, hw: tuple[int, int], layers: Sequence[str], mean_one: bool = False
) -> dict[str, torch.Tensor]:
    """``{layer: 1×1×h×w mask}`` at each layer's resolution for an image of size ``hw``.

    With ``mean_one`` each is divided by its mean, so that a content mask changes where
    the content counts, not how much it counts in all.
    """
    shapes = layer_shapes(*hw)
    scaled = resize_mask(mask, hw)
    out = {}
    for layer in layers:
        _, _, h, w = shapes[INDEX[layer]]
        at_layer = resize_mask(scaled, (h, w))
        out[layer] = at_layer / at_layer.mean() if mean_one else at_layer
    return out

"""What VGG-19 sees, as numbers: feature maps, Gram (correlation) matrices and what
each layer keeps of an image. ``painterly.explain.figures`` draws them.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch

from ..config.settings import STYLE_LAYERS
from ..engine.losses import gram_matrix, gram_per_position
from ..errors import ConfigError
from ..files import images
from ..nn.layers import CONV_NAMES, check_layer, deepest, min_side
from ..nn.vgg import VGG19Features
from ..nn.weights import load_weights
from ..transfer.inputs import ImageLike
from ..transfer.result import Result
from ..transfer.run import stylize

FIRST_TEN = CONV_NAMES[:10]  # block1_conv1 … block4_conv2
# Content reconstructions of Gatys et al. (2015), figure 1: one layer per block.
CONTENT_ROW = ("block1_conv2", "block2_conv2", "block3_conv2", "block4_conv2", "block5_conv2")


def feature_maps(
    image: ImageLike, layers: Sequence[str], size: int = 256, weights: str | None = None
) -> dict[str, torch.Tensor]:
    """``{layer: N×h×w}`` activations of ``image`` (longest side ``size``) in float32."""
    for layer in layers:
        check_layer(layer)
    x = images.resize_longest(images.load_image(image, size), size)
    need = min_side(layers)
    if min(x.shape[-2:]) < need:
        side = images.side_for(x.shape[-2], x.shape[-1], need)
        raise ConfigError(
            f"at {{field}} {size} the image is {x.shape[-1]}×{x.shape[-2]} px, under the {need} "
            f"px on each side that layer {deepest(layers)} needs: use {{field}} {side} or more",
            "size",
        )
    net = VGG19Features(load_weights(weights), layers)
    with torch.no_grad():
        feats = net(x)
    return {layer: feats[layer][0].float() for layer in layers}


def top_filters(maps: torch.Tensor, count: int) -> list[int]:
    """Indices of the ``count`` filters with the highest mean activation, strongest first."""
    means = maps.mean(dim=(1, 2))
    return [int(i) for i in torch.argsort(means, descending=True)[:count]]


def correlation(features: torch.Tensor) -> torch.Tensor:
    """The normalised Gram matrix ``G_ij / sqrt(G_ii G_jj)`` (1 on the diagonal; 0 where a
    filter never fires) of an ``N×h×w`` or ``1×N×h×w`` feature map."""
    gram = gram_per_position(features)
    norms = gram.diagonal().clamp_min(0).sqrt()
    scale = norms[:, None] * norms[None, :]
    return torch.where(scale > 0, gram / scale.clamp_min(1e-12), torch.zeros_like(gram))


@dataclass(frozen=True)
class Pair:
    """Two filters and the correlation of their responses."""

    first: int
    second: int
    value: float


def strongest_pairs(matrix: torch.Tensor, count: int = 10) -> list[Pair]:
    """The ``count`` largest off-diagonal entries of a symmetric matrix, each pair once."""
    n = matrix.shape[0]
    rows, cols = torch.triu_indices(n, n, offset=1)
    values = matrix[rows, cols]
    order = torch.argsort(values, descending=True)[:count]
    return [Pair(int(rows[i]), int(cols[i]), float(values[i])) for i in order]


def toy_features() -> torch.Tensor:
    """The worked example: two filters, "red" and "blue", each a 3×2 output map.

    "red" fires on the left column, "blue" mostly where "red" does, a little elsewhere.
    """
    red = torch.tensor([[1.0, 0.0], [1.0, 0.0], [1.0, 0.0]])
    blue = torch.tensor([[1.0, 0.0], [0.5, 0.0], [1.0, 0.5]])
    return torch.stack([red, blue])


def toy_gram() -> dict[str, torch.Tensor]:
    """The toy case's Gram matrix ``F Fᵀ``, its per-position form ``F Fᵀ / M`` and its
    correlation matrix."""
    feats = toy_features()
    return {
        "features": feats,
        "gram": gram_matrix(feats),
        "per_position": gram_per_position(feats),
        "correlation": correlation(feats),
    }


def reconstruct(
    image: ImageLike,
    content_layer: str | None = None,
    style_layers: Sequence[str] | None = None,
    size: int = 160,
    iterations: int = 150,
    seed: int = 0,
) -> Result:
    """What one layer keeps of ``image``: optimise white noise for the content loss at
    ``content_layer`` alone, or for the style loss on ``style_layers`` alone."""
    if (content_layer is None) == (style_layers is None):
        raise ValueError("give either a content layer or style layers")
    content: tuple[str, ...] = ()
    style: tuple[str, ...] = ()
    if content_layer is not None:
        content = (check_layer(content_layer),)
    else:
        assert style_layers is not None
        style = tuple(check_layer(layer) for layer in style_layers)
    return stylize(
        image,
        [image],
        content_weight=1.0 if content else 0.0,
        style_weight=1.0 if style else 0.0,
        content_layers=content,
        style_layers=style,
        size=size,
        iterations=iterations,
        seed=seed,
        init="noise",
    )


def style_rows() -> list[tuple[str, ...]]:
    """Style reconstructions of Gatys et al. (2015), figure 1: the first 1, 2, … 5 of the
    five style layers."""
    return [STYLE_LAYERS[: i + 1] for i in range(len(STYLE_LAYERS))]

"""How an image is cut into tiles whose features equal the whole image's.

A tile answers for a *core* of the image; the network reads the core plus a *halo* on
every side that lies inside the image. The halo is as wide as zero padding at a cut
edge can reach into the features of the deepest layer used, so the core's features (and
their gradients) are the whole image's. Cores start on the grid of that layer's
stride (16 px for ``block5_conv1``: four poolings), so each pooling window of a tile is
a pooling window of the whole image. At the image's own border a tile has no halo: the
network pads it exactly as it pads the whole image.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from ..errors import ConfigError
from ..nn.layers import INDEX, LAYERS
from .losses import Window


def receptive_field(deepest: str) -> int:
    """Input pixels across that one feature of ``deepest`` sees (3×3 convolutions and
    2×2 poolings): 156 for ``block5_conv1``, 84 for ``block4_conv2``."""
    field, jump = 1, 1
    for layer in LAYERS[: INDEX[deepest] + 1]:
        field += (2 if layer.kind == "conv" else 1) * jump
        jump *= 1 if layer.kind == "conv" else 2
    return field


def stride(layer: str) -> int:
    """Input pixels per feature of ``layer`` along each side: 2 per pooling up to it."""
    return 1 << sum(each.kind == "pool" for each in LAYERS[: INDEX[layer] + 1])


def grid(deepest: str) -> int:
    """The stride of ``deepest``: tile edges on multiples of it keep pooling aligned."""
    return stride(deepest)


def reach(deepest: str) -> int:
    """How far (input pixels) padding at a cut edge changes the features of ``deepest``:
    each 3×3 convolution spreads it by one of its pixels, each pooling halves it
    (rounded up). 80 for ``block5_conv1``, 40 for ``block4_conv2``."""
    spread = 0  # in pixels of the current layer
    for layer in LAYERS[: INDEX[deepest] + 1]:
        spread = spread + 1 if layer.kind == "conv" else -(-spread // 2)
    return spread * grid(deepest)


def halo(deepest: str) -> int:
    """The margin a tile reads beyond its core on each side: :func:`reach` rounded up
    to the :func:`grid`."""
    step = grid(deepest)
    return -(-reach(deepest) // step) * step


def check_tile(tile: int, deepest: str) -> None:
    """Refuse a tile smaller than the halo: it would read more halo than core."""
    if tile < halo(deepest):
        raise ConfigError(
            f"tile {tile} px is smaller than the {halo(deepest)} px halo that {deepest} "
            f"needs: set {{field}} to {halo(deepest)} or more",
            "tile",
        )


@dataclass(frozen=True)
class Span:
    """One axis of a tile: the core ``[start, stop)`` and the read ``[low, high)``."""

    start: int
    stop: int
    low: int
    high: int

    def at(self, stride: int) -> tuple[slice, slice]:
        """The core at a layer of ``stride``: in the tile's own features and in the
        whole image's."""
        first, last = self.start // stride, self.stop // stride
        offset = self.low // stride
        return slice(first - offset, last - offset), slice(first, last)


@dataclass(frozen=True)
class Tile:
    """A core of the image and the crop the network reads for it."""

    rows: Span
    cols: Span

    @property
    def crop(self) -> tuple[slice, slice]:
        """The rows and columns of the image that the network reads for this tile."""
        return slice(self.rows.low, self.rows.high), slice(self.cols.low, self.cols.high)

    def cut(self, image: torch.Tensor) -> torch.Tensor:
        """The crop of ``image`` (…×H×W), a view."""
        rows, cols = self.crop
        return image[..., rows, cols]

    def at(self, stride: int) -> tuple[Window, Window]:
        """The core at a layer of ``stride``: ``(in the tile's features, in the image's)``."""
        (rows, image_rows), (cols, image_cols) = self.rows.at(stride), self.cols.at(stride)
        return (rows, cols), (image_rows, image_cols)


def _spans(length: int, tile: int, margin: int) -> list[Span]:
    spans = []
    for start in range(0, length, tile):
        stop = min(start + tile, length)
        spans.append(Span(start, stop, max(0, start - margin), min(length, stop + margin)))
    return spans


def split(height: int, width: int, tile: int, deepest: str) -> list[Tile]:
    """Tiles covering an image of ``height``×``width`` with cores of ``tile`` px (rounded
    down to the grid), row by row; the last row and column take what is left.

    >>> parts = split(256, 160, 96, "block5_conv1")  # cores 96, 96, 64 × 96, 64
    >>> [(t.rows.start, t.rows.low, t.rows.high) for t in parts[::2]]  # (core, crop)
    [(0, 0, 176), (96, 16, 256), (192, 112, 256)]
    """
    check_tile(tile, deepest)
    step = grid(deepest)
    side = max(step, tile // step * step)
    margin = halo(deepest)
    columns = _spans(width, side, margin)
    return [Tile(rows, cols) for rows in _spans(height, side, margin) for cols in columns]

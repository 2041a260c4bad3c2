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

from ..nn.layers import check_tile, grid, halo
from .losses import Window


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

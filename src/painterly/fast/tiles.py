"""A large image through the network in tiles, normalised by the whole image's statistics.

A convolution's output near a tile's edge depends on pixels beyond it, so each tile is
read with a halo as wide as the network's receptive radius, and only its core is kept.
Instance normalisation is the harder part: each normalisation divides by statistics of
the whole map. They are accumulated over the tiles' cores one normalisation at a time,
each pass using the exact statistics of those before it: the tiled painting equals the
whole one up to float rounding, for a cost of about seven whole passes (each statistic's
pass stops at its normalisation) and the memory of one tile.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from .network import STRIDE, Norms, Shape, TransformNet


def receptive_radius(shape: Shape) -> int:
    """How far (input pixels) an output pixel sees: the 9×9 convolutions at full
    resolution, the strided 3×3 ones at 1/2, the residual blocks at 1/4, the
    upsampling convolutions back at 1/2 and 1."""
    return 4 + 1 + 2 + 8 * shape.blocks + 2 + 1 + 4


def halo(shape: Shape) -> int:
    """The halo each tile is read with: the receptive radius plus a margin for the
    nearest-neighbour upsampling, rounded up to a multiple of :data:`STRIDE`."""
    need = receptive_radius(shape) + STRIDE
    return -(-need // STRIDE) * STRIDE


@dataclass(frozen=True)
class Tile:
    """``region`` (rows, columns) is read; ``window`` is its core within the region,
    ``core`` the same pixels in the image."""

    region: tuple[slice, slice]
    window: tuple[slice, slice]
    core: tuple[slice, slice]


def split(height: int, width: int, side: int, margin: int) -> list[Tile]:
    """Cores of ``side`` px (a multiple of :data:`STRIDE`) covering the image, each
    read with ``margin`` px around it where the image has them."""
    side = max(STRIDE, side // STRIDE * STRIDE)
    tiles = []
    for top in range(0, height, side):
        for left in range(0, width, side):
            bottom, right = min(height, top + side), min(width, left + side)
            r0, c0 = max(0, top - margin), max(0, left - margin)
            r1, c1 = min(height, bottom + margin), min(width, right + margin)
            tiles.append(
                Tile(
                    region=(slice(r0, r1), slice(c0, c1)),
                    window=(slice(top - r0, bottom - r0), slice(left - c0, right - c0)),
                    core=(slice(top, bottom), slice(left, right)),
                )
            )
    return tiles


def whole_statistics(
    net: TransformNet, x: torch.Tensor, mix: torch.Tensor, tiles: list[Tile]
) -> list[tuple[torch.Tensor, torch.Tensor]]:
    """The ``(mean, var)`` of every normalisation in a whole pass of ``x``, accumulated
    over the tiles' cores in float64."""
    stats: list[tuple[torch.Tensor, torch.Tensor]] = []
    for index in range(net.shape.norms):
        total = squares = None
        count = 0
        for tile in tiles:
            norms = Norms(mix, stats, window=tile.window)
            part = net.statistics(x[(..., *tile.region)], norms, index).double()
            sums, sq = part.sum((2, 3)), part.pow(2).sum((2, 3))
            total = sums if total is None else total + sums
            squares = sq if squares is None else squares + sq
            count += part.shape[-2] * part.shape[-1]
        assert total is not None and squares is not None
        mean = total / count
        var = (squares / count - mean.pow(2)).clamp_min(0)
        stats.append((mean[..., None, None].float(), var[..., None, None].float()))
    return stats


def tiled_forward(net: TransformNet, x: torch.Tensor, mix: torch.Tensor, side: int) -> torch.Tensor:
    """The network's painting of ``x`` (sides multiples of :data:`STRIDE`) computed in
    tiles of ``side`` px; the same as ``net.run(x, Norms(mix))`` up to rounding."""
    tiles = split(x.shape[-2], x.shape[-1], side, halo(net.shape))
    stats = whole_statistics(net, x, mix, tiles)
    out = x.new_empty(x.shape[0], 3, x.shape[-2], x.shape[-1])
    for tile in tiles:
        part = net.run(x[(..., *tile.region)], Norms(mix, stats))
        out[(..., *tile.core)] = part[(..., *tile.window)]
    return out

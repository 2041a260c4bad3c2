"""The temporal term of a training: the painting of a moved photo should be the moved
painting (Huang et al. 2017, "Real-time neural style transfer for videos"; Gao et al.
2018, ReCoNet), so that a clip's frames, which are moved copies of each other, are
painted alike and do not flicker.

The motion is a random small warp of each training crop (a shift, a rotation and a
scale about its centre), so no clip is needed: ``y' = f(W(x))`` is compared with
``W(f(x))`` over the pixels that ``W`` takes from inside the crop. The term is Lai et
al.'s warping error (2018, section 5.1; :func:`painterly.video.flow.warping_error`) of
that two-frame clip: ``Σ_p M(p) Σ_c (y'(p) − W(y)(p))² / Σ_p M(p)``, ``M`` the mask of
those pixels, averaged over the batch.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch.nn import functional as F

# The largest motion a warp makes: a shift of 4 % of the crop's side, 3 degrees of
# rotation, 4 % of zoom. Consecutive frames of a clip move by about that much; larger
# warps would teach the network invariances a clip does not need.
MAX_SHIFT = 0.04
MAX_DEGREES = 3.0
MAX_ZOOM = 0.04


@dataclass(frozen=True)
class Warp:
    """An affine warp of each image of a batch as ``F.affine_grid`` takes it: ``theta``
    (``B×2×3``) maps each output pixel's normalised position to where it samples its
    input (``align_corners=False``)."""

    theta: torch.Tensor

    @staticmethod
    def identity(batch: int) -> Warp:
        return Warp(torch.eye(2, 3).expand(batch, 2, 3).clone())

    @staticmethod
    def random(batch: int, generator: torch.Generator) -> Warp:
        """Independent random warps within :data:`MAX_SHIFT`, :data:`MAX_DEGREES` and
        :data:`MAX_ZOOM`, drawn from ``generator``."""
        draw = 2 * torch.rand(batch, 4, generator=generator) - 1
        shift = 2 * MAX_SHIFT * draw[:, :2]  # normalised coordinates span 2
        angle = math.radians(MAX_DEGREES) * draw[:, 2]
        zoom = 1 + MAX_ZOOM * draw[:, 3]
        cos, sin = torch.cos(angle) / zoom, torch.sin(angle) / zoom
        rows = [torch.stack([cos, -sin, shift[:, 0]], 1), torch.stack([sin, cos, shift[:, 1]], 1)]
        return Warp(torch.stack(rows, 1))

    @staticmethod
    def shift(batch: int, dx: float, dy: float, side: int) -> Warp:
        """A translation by ``(dx, dy)`` pixels of a ``side``-px square: the result at
        ``p`` is the input at ``p + (dx, dy)``."""
        theta = Warp.identity(batch).theta
        theta[:, 0, 2], theta[:, 1, 2] = 2 * dx / side, 2 * dy / side
        return Warp(theta)

    def take(self, rows: list[int]) -> Warp:
        """The warps of the images ``rows`` of the batch."""
        return Warp(self.theta[rows])

    def grid(self, image: torch.Tensor) -> torch.Tensor:
        theta = self.theta.to(image.device, image.dtype)
        return F.affine_grid(theta, list(image.shape), align_corners=False)

    def apply(self, image: torch.Tensor) -> torch.Tensor:
        """``image`` (``B×C×H×W``) warped, bilinear; outside the image its edge repeats."""
        return F.grid_sample(
            image, self.grid(image), mode="bilinear", padding_mode="border", align_corners=False
        )

    def inside(self, image: torch.Tensor) -> torch.Tensor:
        """``B×1×H×W``: 1 where the warp samples between the image's outer pixel centres
        (all four bilinear neighbours inside), else 0."""
        grid = self.grid(image)
        h, w = image.shape[-2:]
        x = ((grid[..., 0] + 1) * w - 1) / 2  # pixel coordinates, 0 … w − 1 inside
        y = ((grid[..., 1] + 1) * h - 1) / 2
        eps = 1e-4  # a warp's own rounding must not drop the edge of an identity
        within = (x >= -eps) & (x <= w - 1 + eps) & (y >= -eps) & (y <= h - 1 + eps)
        return within[:, None].to(image.dtype)


def temporal_term(moved_painting: torch.Tensor, painting: torch.Tensor, warp: Warp) -> torch.Tensor:
    """The batch's mean warping error between the painting of the moved photos and the
    moved paintings (``B×3×H×W`` each), over the pixels the warp takes from inside.

    Zero when the painting commutes with the warp (the identity, or a pixelwise painter
    under a whole-pixel shift); the gradient flows into both paintings.
    """
    target = warp.apply(painting)
    mask = warp.inside(painting)
    error = (mask * (moved_painting - target).square()).sum((1, 2, 3))
    return (error / mask.sum((1, 2, 3)).clamp_min(1.0)).mean()

"""The temporal loss of Ruder, Dosovitskiy and Brox (2016), "Artistic style transfer for
videos", and the warm start of a frame from its stylised neighbours.

A neighbour's stylised frame is warped to the current frame along the flow of the
input frames (:mod:`painterly.video.flow`); the loss is
``weight * Σ_j Σ_p c_j(p) |x(p) − ω_j(p)|² / D`` with ``D = 3·H·W`` (their eq. 7,
and eq. 8 for several neighbours), ``c_j`` the weights that are 0 where the flow is
not trusted. Pictures are ``1×3×H×W`` tensors in [0, 1].
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from . import flow
from .clips import as_float


class TemporalLoss(nn.Module):
    """The weighted squared difference to warped neighbours, at whatever size the
    optimised image has (targets and weights are resized to it, once per size)."""

    targets: torch.Tensor
    weights: torch.Tensor

    def __init__(self, targets: torch.Tensor, weights: torch.Tensor, weight: float) -> None:
        super().__init__()
        self.register_buffer("targets", targets)  # J×3×H×W
        self.register_buffer("weights", weights)  # J×1×H×W
        self.weight = weight
        self._sized: dict[tuple[int, int], tuple[torch.Tensor, torch.Tensor]] = {}

    def forward(self, image: torch.Tensor) -> torch.Tensor:
        targets, weights = self._at(image)
        return self.weight * (weights * (image - targets).square()).sum() / image.numel()

    def _at(self, image: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        hw = (image.shape[-2], image.shape[-1])
        if hw not in self._sized:
            targets, weights = self.targets, self.weights
            if hw != tuple(targets.shape[-2:]):
                targets = nn.functional.interpolate(targets, hw, mode="area")
                weights = nn.functional.interpolate(weights, hw, mode="area")
            self._sized[hw] = (targets.to(image), weights.to(image))
        return self._sized[hw]


@dataclass
class Neighbours:
    """The stylised neighbours of a frame warped to it, their weights ``c_j`` and the
    mask of pixels the closest one covers (the rest are disoccluded)."""

    warped: torch.Tensor  # J×3×H×W
    weights: torch.Tensor  # J×1×H×W
    covered: torch.Tensor  # 1×1×H×W


def neighbours(
    frame: np.ndarray,
    others: Sequence[tuple[np.ndarray, torch.Tensor]],
    settings: flow.FlowSettings,
) -> Neighbours:
    """Warp each stylised neighbour (its input frame, its picture) to ``frame``, closest
    first; with several, each counts only where no closer one is trusted."""
    now = as_float(frame)
    warped, masks, covered = [], [], None
    for index, (input_frame, picture) in enumerate(others):
        then = as_float(input_frame)
        to_then, to_now = flow.flow(now, then, settings), flow.flow(then, now, settings)
        warped.append(flow.warp(_hwc(picture), to_then))
        masks.append(flow.trusted(to_then, to_now))
        if index == 0:
            covered = flow.consistent(to_then, to_now)
    assert covered is not None, "a frame needs at least one neighbour"
    return Neighbours(
        torch.from_numpy(np.stack(warped)).permute(0, 3, 1, 2).contiguous(),
        torch.from_numpy(np.stack(flow.closest_first(masks)))[:, None],
        torch.from_numpy(covered)[None, None],
    )


def warm_start(
    photo: torch.Tensor, near: Neighbours, own: torch.Tensor | None = None
) -> torch.Tensor:
    """The closest neighbour warped where it covers the frame, the photo where it does
    not. A later pass (``own``: this frame's picture from the last pass) blends half of
    the warped neighbour in where it is trusted (Ruder et al., section 3.3, δ = 0.5)."""
    warped, covered = near.warped[:1], near.covered
    if own is None:
        return covered * warped + (1 - covered) * photo
    trust = 0.5 * near.weights[:1]
    return trust * warped + (1 - trust) * own


def _hwc(picture: torch.Tensor) -> np.ndarray:
    return np.ascontiguousarray(picture[0].permute(1, 2, 0).float().numpy())

"""The temporal loss and the warm start, on values known in advance."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from painterly.video.flow import FlowSettings
from painterly.video.temporal import Neighbours, TemporalLoss, neighbours, warm_start


def test_temporal_loss_weighs_the_squared_difference_per_pixel() -> None:
    targets = torch.zeros(1, 3, 4, 6)
    weights = torch.zeros(1, 1, 4, 6)
    weights[..., :3] = 1.0  # half the pixels are trusted
    loss = TemporalLoss(targets, weights, weight=10.0)
    assert float(loss(torch.ones(1, 3, 4, 6))) == pytest.approx(10.0 * 0.5)
    assert float(loss(torch.ones(1, 3, 2, 3))) == pytest.approx(10.0 * 0.5)  # a coarser scale


def test_warm_start_takes_the_warped_frame_where_it_is_seen_and_the_photo_elsewhere() -> None:
    covered = torch.zeros(1, 1, 2, 2)
    covered[..., 0] = 1.0
    near = Neighbours(torch.ones(1, 3, 2, 2), covered.clone(), covered)
    start = warm_start(torch.zeros(1, 3, 2, 2), near)
    assert start[..., 0].min() == 1.0 and start[..., 1].max() == 0.0
    later = warm_start(torch.zeros(1, 3, 2, 2), near, own=torch.zeros(1, 3, 2, 2))
    assert later[..., 0].min() == 0.5 and later[..., 1].max() == 0.0  # δ = 0.5 where trusted


def test_neighbours_of_a_still_scene_are_the_pictures_themselves() -> None:
    rng = np.random.default_rng(0)
    frame = (rng.uniform(0, 1, (24, 32, 3)) * 255).astype(np.uint8)
    picture = torch.rand(1, 3, 24, 32)
    near = neighbours(frame, [(frame, picture), (frame, picture)], FlowSettings())
    assert torch.allclose(near.warped[0], picture[0], atol=0.02)
    assert near.weights[0].mean() > 0.9  # closest first: the nearer frame takes the pixels
    assert near.weights[1].max() == 0.0

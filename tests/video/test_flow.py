"""Flow, warping and the occlusion tests, on flows whose answers are known."""

from __future__ import annotations

import numpy as np
import pytest

from painterly.video import flow


def texture(h: int = 32, w: int = 48, seed: int = 0) -> np.ndarray:
    """A smooth random texture (H×W×3 in [0, 1]) that DIS can follow."""
    rng = np.random.default_rng(seed)
    ys, xs = np.mgrid[0:h, 0:w].astype(np.float32)
    out = np.zeros((h, w, 3), np.float32)
    for _ in range(12):
        fy, fx, phase = rng.uniform(0.1, 0.5), rng.uniform(0.1, 0.5), rng.uniform(0, 6)
        out += rng.uniform(0, 1, 3) * np.sin(fy * ys + fx * xs + phase)[..., None]
    return np.asarray((out - out.min()) / (out.max() - out.min()), dtype=np.float32)


def shift_flow(h: int, w: int, dx: float, dy: float = 0.0) -> np.ndarray:
    f = np.zeros((h, w, 2), np.float32)
    f[..., 0], f[..., 1] = dx, dy
    return f


def test_warp_along_a_pure_shift_recovers_the_first_frame() -> None:
    a = texture()
    b = np.roll(a, 3, axis=1)  # the scene moves 3 px right: a(p) = b(p + 3)
    back = flow.warp(b, shift_flow(32, 48, 3))
    assert np.allclose(back[:, : 48 - 3], a[:, : 48 - 3], atol=1e-6)


def test_warp_keeps_a_single_channel_shape() -> None:
    mask = np.ones((8, 10), np.float32)
    assert flow.warp(mask, shift_flow(8, 10, 1.5)).shape == (8, 10)


def test_occlusion_mask_of_a_shift_is_one_inside_and_zero_where_pixels_leave() -> None:
    h, w, d = 16, 20, 4
    mask = flow.consistent(shift_flow(h, w, d), shift_flow(h, w, -d))
    assert mask[:, : w - d].min() == 1.0
    assert mask[:, w - d :].max() == 0.0
    assert flow.trusted(shift_flow(h, w, d), shift_flow(h, w, -d)).sum() == h * (w - d)


def test_forward_backward_mismatch_marks_disocclusion() -> None:
    h, w = 16, 20
    backward = shift_flow(h, w, -2)
    backward[:, 8:12] = 0.0  # in b, these pixels did not come from where a says
    mask = flow.consistent(shift_flow(h, w, 2), backward)
    assert mask[:, 6:10].max() == 0.0  # p + 2 lands in the mismatching band
    assert mask[:, :5].min() == 1.0 and mask[:, 11:17].min() == 1.0


def test_motion_boundaries_lie_where_the_flow_jumps() -> None:
    f = shift_flow(10, 20, 0.0)
    f[:, 10:, 0] = 5.0  # the right half moves, the left half stands still
    edges = flow.motion_boundaries(f)
    assert edges[:, 9:11].min() == 1.0
    assert edges[:, :8].max() == 0.0 and edges[:, 12:].max() == 0.0
    assert flow.trusted(f, -f)[:, 9:11].max() == 0.0


def test_closest_first_weights_count_each_pixel_once() -> None:
    near = np.array([[1.0, 0.0, 0.0]])
    mid = np.array([[1.0, 1.0, 0.0]])
    far = np.array([[1.0, 1.0, 1.0]])
    got = flow.closest_first([near, mid, far])
    assert [g.tolist() for g in got] == [[[1, 0, 0]], [[0, 1, 0]], [[0, 0, 1]]]


def test_dis_finds_a_shift() -> None:
    a = texture(48, 64)
    b = np.roll(a, 2, axis=1)
    f = flow.flow(a, b)
    assert f.shape == (48, 64, 2)
    assert np.median(f[8:-8, 8:-8, 0]) == pytest.approx(2.0, abs=0.25)
    assert np.median(np.abs(f[8:-8, 8:-8, 1])) < 0.25


def test_warping_error_is_zero_for_a_steady_clip_and_grows_with_flicker() -> None:
    frames = [np.roll(texture(32, 48), t, axis=1) for t in range(4)]
    rng = np.random.default_rng(1)
    flicker = [np.clip(f + rng.normal(0, 0.1, f.shape), 0, 1).astype(np.float32) for f in frames]
    steady, noisy = flow.warping_errors(frames, [frames, flicker])
    assert steady < 1e-3
    assert noisy > 0.02
    assert flow.warping_error(frames[:1], frames[:1]) == 0.0

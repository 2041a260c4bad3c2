"""Loss functions against hand-computed values."""

from __future__ import annotations

import torch

from painterly.engine import losses
from painterly.engine.losses import (
    ContentLoss,
    GramStyleLoss,
    content_loss,
    gram_distance,
    gram_matrix,
    gram_per_position,
    positions_by_filters,
    style_layer_loss,
    total_variation,
)

# The toy case: two filters ("red" and "blue"), each a 3×2 map of outputs.
RED = [[1.0, 2.0], [0.0, 1.0], [3.0, 0.0]]
BLUE = [[0.0, 1.0], [2.0, 1.0], [1.0, 1.0]]


def toy() -> torch.Tensor:
    return torch.tensor([RED, BLUE])  # N=2 filters, 3×2 positions (M=6)


def test_gram_of_toy_case_by_hand() -> None:
    # red·red = 1+4+0+1+9+0 = 15, red·blue = 0+2+0+1+3+0 = 6, blue·blue = 0+1+4+1+1+1 = 8
    assert torch.equal(gram_matrix(toy()), torch.tensor([[15.0, 6.0], [6.0, 8.0]]))


def test_gram_is_symmetric_and_channels_last_safe() -> None:
    x = torch.rand(1, 8, 5, 7)
    g1 = gram_matrix(x)
    g2 = gram_matrix(x.contiguous(memory_format=torch.channels_last))
    torch.testing.assert_close(g1, g1.T)
    torch.testing.assert_close(g1, g2)
    assert positions_by_filters(x).shape == (35, 8)


def test_gram_per_position_does_not_grow_with_the_image() -> None:
    # red·red = 1+4+0+1+9+0 = 15, red·blue = 0+2+0+1+3+0 = 6, blue·blue = 0+1+4+1+1+1 = 8
    expected = torch.tensor([[15.0, 6.0], [6.0, 8.0]]) / 6
    torch.testing.assert_close(gram_per_position(toy()), expected)
    twice = torch.cat([toy(), toy()], dim=-1)  # the same texture over twice the positions
    torch.testing.assert_close(gram_per_position(twice), expected)
    half = gram_per_position(toy()[None].to(torch.bfloat16))
    assert half.dtype == torch.float32


def test_style_layer_loss_by_hand() -> None:
    target = torch.tensor([[10.0, 6.0], [6.0, 9.0]])
    # G - A = [[5, 0], [0, -1]]: sum of squares 26, over 4 N^2 M^2 = 4*4*36
    loss = style_layer_loss(gram_matrix(toy()), target, n=2, m=6)
    assert abs(loss.item() - 26 / 576) < 1e-7


def test_content_loss_by_hand() -> None:
    assert content_loss(torch.tensor([1.0, 2.0, 3.0]), torch.tensor([1.0, 0.0, 0.0])) == 6.5


def test_gram_distance_gradient_is_exact() -> None:
    x = torch.randn(40, 5, dtype=torch.float64, requires_grad=True)
    a = torch.randn(5, 5, dtype=torch.float64)
    a = a + a.T
    assert torch.autograd.gradcheck(lambda t: gram_distance(t, a), (x,))
    expected = style_layer_loss(x.T @ x, a, n=5, m=1)
    torch.testing.assert_close(gram_distance(x, a), expected)


def test_style_module_matches_formula_for_same_size_images() -> None:
    style, image = torch.rand(1, 4, 6, 5), torch.rand(1, 4, 6, 5)
    module = GramStyleLoss(style)
    expected = style_layer_loss(gram_matrix(image), gram_matrix(style), n=4, m=30)
    torch.testing.assert_close(module(image), expected)
    assert module(style).item() < 1e-10


def test_content_module_holds_target_as_buffer() -> None:
    module = ContentLoss(torch.ones(1, 2, 3, 3))
    assert "target" in dict(module.named_buffers())
    assert module(torch.ones(1, 2, 3, 3)).item() == 0


def test_total_variation_is_zero_for_flat_image() -> None:
    assert total_variation(torch.full((1, 3, 8, 8), 0.3)).item() == 0
    assert total_variation(torch.rand(1, 3, 8, 8)).item() > 0


def test_trace_sqrt_gradient_and_psd_sqrt() -> None:
    from painterly.engine.losses import psd_sqrt, trace_sqrt

    a = torch.randn(5, 5, dtype=torch.float64)
    s = a @ a.T + 0.1 * torch.eye(5, dtype=torch.float64)
    root = psd_sqrt(s)
    torch.testing.assert_close(root @ root, s)
    assert torch.autograd.gradcheck(
        lambda m: trace_sqrt((m + m.T) / 2, 0.01), (s.clone().requires_grad_(True),)
    )


def test_wasserstein_of_gaussians_by_hand() -> None:
    from painterly.engine.losses import W2StyleLoss, trace_sqrt, wasserstein2

    # 1-D Gaussians: W2^2 = (m1 - m2)^2 + (s1 - s2)^2
    one = torch.ones(1, 1, dtype=torch.float64)
    value = wasserstein2(
        torch.tensor([1.0]).double(), 4 * one, torch.tensor([3.0]).double(), 9 * one, 3 * one
    )
    assert abs(value.item() - (4 + 1)) < 1e-6
    features = torch.rand(1, 6, 8, 8)
    loss = W2StyleLoss(features, relative=True)
    assert abs(loss(features).item()) < 1e-3  # only the smoothing shift remains
    assert loss(features + 0.5).item() > 0.1
    assert abs(trace_sqrt(torch.eye(3, dtype=torch.float64) * 4, 0.0).item() - 6) < 1e-9


def test_gram_distance_of_bf16_features_stays_bf16_and_close() -> None:
    torch.manual_seed(0)
    x = torch.rand(300, 16).bfloat16()
    a = torch.rand(16, 16) * 60
    a = a + a.T
    wide = x.float().requires_grad_(True)
    narrow = x.clone().requires_grad_(True)
    exact, fast = gram_distance(wide, a), gram_distance(narrow, a)
    exact.backward()  # type: ignore[no-untyped-call]
    fast.backward()  # type: ignore[no-untyped-call]
    assert fast.dtype == torch.float32  # the loss itself is taken in float32
    assert narrow.grad is not None and narrow.grad.dtype == torch.bfloat16
    assert wide.grad is not None
    torch.testing.assert_close(fast, exact, rtol=1e-2, atol=0)
    error = (narrow.grad.float() - wide.grad).norm() / wide.grad.norm()
    assert float(error) < 0.01  # bf16 rounding of the gradient, nothing more


def test_positions_keep_bf16_only_when_asked() -> None:
    x = torch.rand(1, 4, 3, 5).bfloat16()
    assert positions_by_filters(x).dtype == torch.float32
    assert positions_by_filters(x, keep_bf16=True).dtype == torch.bfloat16
    assert positions_by_filters(x.float(), keep_bf16=True).dtype == torch.float32


def test_gram_of_bf16_values_on_the_bf16_units_is_the_float32_gram() -> None:
    torch.manual_seed(0)
    flat = torch.randn(4096, 64).relu().bfloat16().float()  # every value a bf16 number
    exact = flat.double().T @ flat.double()
    before = losses._ONEDNN_MATMUL.fp32_precision if losses._ONEDNN_MATMUL else None
    fast = losses.gram_of(flat, from_bf16=True)
    assert fast.dtype == torch.float32
    # float32 accumulation: errors of float32's rounding, not bf16's (which are 1e-3)
    assert float((fast.double() - exact).abs().max() / exact.abs().max()) < 2e-5
    after = losses._ONEDNN_MATMUL.fp32_precision if losses._ONEDNN_MATMUL else None
    assert after == before  # the process-wide setting is put back

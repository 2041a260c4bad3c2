"""The pixel optimisers: L-BFGS against torch's, its capped step, and gradient
descent's and Adam's first steps."""

from __future__ import annotations

import pytest
import torch

from painterly.objective import LossTerms
from painterly.optimize import GD_FIRST_STEP, MAX_PIXEL_STEP, PixelOptimizer


def quadratic(x: torch.Tensor, target: torch.Tensor, scale: torch.Tensor) -> LossTerms:
    """``sum(scale * (x - target)**2) / 2``, its gradient left in ``x.grad``."""
    total = 0.5 * (scale * (x - target).pow(2)).sum()
    total.backward()  # type: ignore[no-untyped-call]
    zero = total.new_zeros(())
    return LossTerms(total.detach(), zero, zero, zero)


def problem() -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    gen = torch.Generator().manual_seed(0)
    x = torch.rand(1, 3, 4, 4, generator=gen).requires_grad_(True)
    target = x.detach() + 2.0 * torch.rand(x.shape, generator=gen)  # far: steps get capped
    scale = 0.5 + torch.rand(x.shape, generator=gen)
    return x, target, scale


def test_lbfgs_takes_torch_lbfgs_steps() -> None:
    # Near its target no step is capped: the steps are torch's L-BFGS (lr 1, one
    # evaluation per step, no line search) to float rounding.
    x, target, scale = problem()
    target = x.detach() + 0.01 * (target - x.detach())
    mine = PixelOptimizer(x, "lbfgs", None, history=5)
    y = x.detach().clone().requires_grad_(True)
    theirs = torch.optim.LBFGS(
        [y], lr=1.0, max_iter=1, history_size=5, tolerance_grad=0.0, tolerance_change=0.0
    )

    def closure() -> torch.Tensor:
        theirs.zero_grad()
        return quadratic(y, target, scale).total

    for _ in range(8):
        mine.step(lambda: quadratic(x, target, scale))
        theirs.step(closure)  # type: ignore[no-untyped-call]
        torch.testing.assert_close(x.detach(), y.detach(), rtol=1e-5, atol=1e-7)
    assert mine.lbfgs is not None and len(mine.lbfgs.pairs) == 5  # the history is full


def test_capped_lbfgs_remembers_the_real_move() -> None:
    x, target, scale = problem()
    opt = PixelOptimizer(x, "lbfgs", None, history=10)
    assert opt.lbfgs is not None
    capped, losses = 0, []
    for _ in range(12):
        before = x.detach().clone()
        losses.append(float(opt.step(lambda: quadratic(x, target, scale)).total))
        moved = (x.detach() - before).flatten()
        assert opt.lbfgs.last_move is not None
        torch.testing.assert_close(opt.lbfgs.last_move, moved, rtol=1e-5, atol=1e-7)
        assert float(moved.abs().max()) <= MAX_PIXEL_STEP + 1e-6
        capped += abs(float(moved.abs().max()) - MAX_PIXEL_STEP) < 1e-6
    assert capped >= 3  # the cap acted, and the curvature pairs stayed true:
    assert losses[-1] < 1e-3 * losses[0]


def test_gradient_descent_first_step_moves_pixels_by_its_constant() -> None:
    x, target, scale = problem()
    opt = PixelOptimizer(x, "gd", None, history=0)
    before = x.detach().clone()
    first = opt.step(lambda: quadratic(x, target, scale))
    assert float((x.detach() - before).abs().max()) == pytest.approx(GD_FIRST_STEP, rel=1e-5)
    second = opt.step(lambda: quadratic(x, target, scale))
    assert float(second.total) < float(first.total)


def test_adam_moves_each_pixel_by_its_rate_at_first() -> None:
    x, target, scale = problem()
    opt = PixelOptimizer(x, "adam", 0.05, history=0)
    before = x.detach().clone()
    opt.step(lambda: quadratic(x, target, scale))
    # Adam's first step is lr * sign(gradient): every pixel moves towards its target by lr.
    torch.testing.assert_close(x.detach() - before, torch.full_like(before, 0.05))


def test_lbfgs_given_a_scale_takes_a_full_first_step() -> None:
    x, target, scale = problem()
    target = x.detach() + 0.01 * (target - x.detach())  # near: no step is capped
    opt = PixelOptimizer(x, "lbfgs", None, history=5, gamma=0.5)
    before = x.detach().clone()
    opt.step(lambda: quadratic(x, target, scale))
    # The gradient at the start is scale * (x - target); the move is -gamma times it.
    torch.testing.assert_close(x.detach() - before, -0.5 * scale * (before - target))

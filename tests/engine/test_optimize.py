"""The pixel optimisers: L-BFGS against torch's, its capped step, its preconditioner
and bounds, and gradient descent's and Adam's first steps."""

from __future__ import annotations

from functools import partial

import pytest
import torch

from painterly.engine.objective import LossTerms
from painterly.engine.optimize import (
    GD_FIRST_STEP,
    KNEE,
    LONGEST,
    MAX_PIXEL_STEP,
    PixelOptimizer,
    Spectral,
)


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
    mine = PixelOptimizer(x, "lbfgs", lr=None, history=5)
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
    opt = PixelOptimizer(x, "lbfgs", lr=None, history=10)
    assert opt.lbfgs is not None
    capped, losses = 0, []
    for _ in range(12):
        before = x.detach().clone()
        losses.append(float(opt.step(lambda: quadratic(x, target, scale)).total))
        moved = (x.detach() - before).flatten()
        assert opt.lbfgs.last_move is not None
        # x + d rounds to x's float grid: the move differs from d by an ulp of x.
        ulp = 2 * torch.finfo(x.dtype).eps * float(x.detach().abs().max())
        torch.testing.assert_close(opt.lbfgs.last_move, moved, rtol=1e-5, atol=ulp)
        assert float(moved.abs().max()) <= MAX_PIXEL_STEP + 1e-6
        capped += abs(float(moved.abs().max()) - MAX_PIXEL_STEP) < 1e-6
    assert capped >= 3  # the cap acted, and the curvature pairs stayed true:
    assert losses[-1] < 1e-3 * losses[0]


def test_gradient_descent_first_step_moves_pixels_by_its_constant() -> None:
    x, target, scale = problem()
    opt = PixelOptimizer(x, "gd", lr=None, history=0)
    before = x.detach().clone()
    first = opt.step(lambda: quadratic(x, target, scale))
    assert float((x.detach() - before).abs().max()) == pytest.approx(GD_FIRST_STEP, rel=1e-5)
    second = opt.step(lambda: quadratic(x, target, scale))
    assert float(second.total) < float(first.total)


def test_adam_moves_each_pixel_by_its_rate_at_first() -> None:
    x, target, scale = problem()
    opt = PixelOptimizer(x, "adam", lr=0.05, history=0)
    before = x.detach().clone()
    opt.step(lambda: quadratic(x, target, scale))
    # Adam's first step is lr * sign(gradient): every pixel moves towards its target by lr.
    torch.testing.assert_close(x.detach() - before, torch.full_like(before, 0.05))


def test_lbfgs_given_a_scale_takes_a_full_first_step() -> None:
    x, target, scale = problem()
    target = x.detach() + 0.01 * (target - x.detach())  # near: no step is capped
    opt = PixelOptimizer(x, "lbfgs", lr=None, history=5, gamma=0.5)
    before = x.detach().clone()
    opt.step(lambda: quadratic(x, target, scale))
    # The gradient at the start is scale * (x - target); the move is -gamma times it.
    torch.testing.assert_close(x.detach() - before, -0.5 * scale * (before - target))


@pytest.mark.parametrize("height, width", [(9, 14), (8, 14), (9, 13), (8, 13)])
def test_spectral_preconditioner_is_symmetric_positive_and_favours_broad_changes(
    height: int, width: int
) -> None:
    gen = torch.Generator().manual_seed(1)
    shape = torch.Size((1, 3, height, width))
    m = Spectral(shape, torch.device("cpu"), torch.float64)
    n = shape.numel()
    # As a matrix (column j is M applied to the j-th unit vector): symmetric, every
    # eigenvalue between 1 and the largest gain.
    matrix = torch.stack([m(e) for e in torch.eye(n, dtype=torch.float64)], dim=1)
    torch.testing.assert_close(matrix, matrix.T, rtol=0, atol=1e-12)
    eigenvalues = torch.linalg.eigvalsh(matrix)
    assert float(eigenvalues.min()) > 1 - 1e-9
    assert float(eigenvalues.max()) < 1 + (LONGEST / KNEE) ** 2 + 1e-9
    flat = torch.ones(n, dtype=torch.float64)  # a change of the mean colour
    torch.testing.assert_close(m(flat), (1 + (LONGEST / KNEE) ** 2) * flat)
    checker = torch.tensor([[(-1.0) ** (i + j) for j in range(width)] for i in range(height)])
    fine = checker.double().expand(shape).flatten()  # pixel-level detail: about 1
    assert float(fine.dot(m(fine))) / float(fine.dot(fine)) < 1.01
    v = torch.randn(n, generator=gen, dtype=torch.float64)
    assert m(v).dtype == torch.float64 and m(v.float()).shape == (n,)


def test_preconditioned_lbfgs_scales_its_start_by_the_last_pair() -> None:
    x, target, scale = problem()
    target = x.detach() + 0.01 * (target - x.detach())
    opt = PixelOptimizer(x, "lbfgs", lr=None, history=5, precondition=True)
    assert opt.lbfgs is not None
    for _ in range(3):
        opt.step(lambda: quadratic(x, target, scale))
    s, y, _ = opt.lbfgs.pairs[-1]
    m = Spectral(x.shape, x.device)
    assert opt.lbfgs.gamma == pytest.approx(float(y.dot(s)) / float(y.dot(m(y))), rel=1e-5)


def smoothness(x: torch.Tensor, target: torch.Tensor) -> LossTerms:
    """A quadratic whose broad errors have little curvature: the squared differences of
    neighbouring pixels, plus a little of the squared error itself."""
    e = x - target
    total = 0.5 * (e.diff(dim=-1).pow(2).sum() + e.diff(dim=-2).pow(2).sum())
    total = total + 0.5e-3 * e.pow(2).sum()
    total.backward()  # type: ignore[no-untyped-call]
    zero = total.new_zeros(())
    return LossTerms(total.detach(), zero, zero, zero)


def test_preconditioned_lbfgs_corrects_broad_errors_in_fewer_steps() -> None:
    gen = torch.Generator().manual_seed(2)
    ramp = torch.linspace(0.2, 0.8, 32).view(1, 1, 1, 32).expand(1, 3, 32, 32)
    target = ramp + 0.05 * torch.rand(1, 3, 32, 32, generator=gen)  # mostly a broad error
    ends = {}
    for precondition in (False, True):
        x = torch.full_like(target, 0.5).requires_grad_(True)
        opt = PixelOptimizer(x, "lbfgs", lr=None, history=10, precondition=precondition)
        losses = [float(opt.step(partial(smoothness, x, target)).total) for _ in range(25)]
        assert losses[-1] < losses[0]
        ends[precondition] = losses[-1]
    assert ends[True] < 0.1 * ends[False]


@pytest.mark.parametrize("precondition", [False, True])
def test_bounded_lbfgs_keeps_pixels_in_range_and_remembers_the_clipped_move(
    precondition: bool,
) -> None:
    x, target, scale = problem()  # the targets lie above 1: the moves get clipped
    # As a run takes its steps: a carried curvature scale, and both options on.
    opt = PixelOptimizer(
        x, "lbfgs", lr=None, history=10, gamma=0.5, precondition=precondition, bounded=True
    )
    assert opt.lbfgs is not None
    for _ in range(40):
        before = x.detach().clone()
        opt.step(lambda: quadratic(x, target, scale))
        assert float(x.detach().min()) >= 0.0 and float(x.detach().max()) <= 1.0
        assert opt.lbfgs.last_move is not None
        torch.testing.assert_close(opt.lbfgs.last_move, (x.detach() - before).flatten())
    # Every pixel whose target lies above 1 ends at 1, the best it can do in range.
    assert bool((x.detach()[target > 1] > 0.999).all())

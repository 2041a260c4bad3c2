"""Optimisers over the pixels of an image: L-BFGS, Adam, and the plain gradient
descent ``X_new = X - alpha * dL/dX`` that the article derives."""

from __future__ import annotations

from collections import deque
from collections.abc import Callable

import torch

from .objective import LossTerms

# Evaluates the objective at the image and adds its gradient to ``image.grad`` (a tiled
# evaluation fills it part by part).
Closure = Callable[[], LossTerms]
DEFAULT_LR = {"adam": 0.02}
GD_FIRST_STEP = 0.02  # gd without --lr: alpha makes the first step move pixels this much
# L-BFGS without a line search can take a wild step when its first curvature pairs
# come from tiny steps; no pixel moves more than this (on a 0–1 scale) in one step.
MAX_PIXEL_STEP = 0.2
# The preconditioner's gain at a wavelength of λ pixels is 1 + (min(λ, LONGEST) / KNEE)²:
# 1 for pixel-level detail, about 2 at 24 px, 29 for anything of 128 px and more. The
# knee and ceiling were chosen by a sweep over three pairs (benchmarks/race.py); the
# result is flat near them, so neither needs tuning per image.
KNEE, LONGEST = 24.0, 128.0


class Spectral:
    """A preconditioner for images: the operator that multiplies each spatial frequency
    of a 1×C×H×W tensor by the gain above, so broad changes (the colour of a sky, the
    tone of a wall) take as few steps as fine ones.

    The gradient of a style loss through VGG is mostly fine detail; plain L-BFGS starts
    from the identity and learns the broad directions one pair at a time. The operator is
    real, symmetric and positive definite (a circulant with positive gains that depend
    only on the frequency's magnitude), so L-BFGS with it as its initial inverse Hessian
    still steps downhill. Being a circulant, it treats the image as wrapping around at
    its edges: a broad change near one edge spills a little into the opposite one, which
    the curvature pairs correct in the steps after.
    """

    def __init__(
        self, shape: torch.Size, device: torch.device, dtype: torch.dtype = torch.float32
    ) -> None:
        height, width = shape[-2], shape[-1]
        fy = torch.fft.fftfreq(height, device=device, dtype=dtype).view(-1, 1)
        fx = torch.fft.rfftfreq(width, device=device, dtype=dtype).view(1, -1)
        cycles = (fy * fy + fx * fx).sqrt()  # per pixel; 0 at the mean colour
        wavelength = LONGEST / (cycles * LONGEST).clamp(min=1.0)
        self.gains = 1.0 + (wavelength / KNEE).pow(2)
        self.shape = shape

    def __call__(self, v: torch.Tensor) -> torch.Tensor:
        """The operator applied to ``v``, a flat vector of the image's size."""
        spectrum = torch.fft.rfft2(v.reshape(self.shape)) * self.gains
        smooth: torch.Tensor = torch.fft.irfft2(spectrum, s=self.shape[-2:])
        return smooth.flatten()


def _identity(v: torch.Tensor) -> torch.Tensor:
    return v


class LBFGS:
    """Limited-memory BFGS (Nocedal & Wright, algorithm 7.4) over one tensor: one
    evaluation per step, no line search, unit steps after a first step of at most
    ``1 / sum(|g|)``: the steps of ``torch.optim.LBFGS(lr=1, max_iter=1)``.

    Written out rather than borrowed from torch because the first torch optimiser of a
    process imports ``torch._dynamo`` (about 1.4 s of CPU time, a large part of a short
    ``--time`` budget), and so that the pixel cap keeps the curvature pairs true: each
    pair's ``s`` is the move the image really made.

    Two options a run of painterly turns on: ``precondition`` starts the inverse Hessian
    from ``gamma`` times :class:`Spectral` instead of ``gamma`` times the identity (with
    ``gamma = sᵀy / yᵀMy``), and ``bounded`` keeps the pixels in [0, 1], clipping each
    move (the pair then holds the clipped move). A pixel beyond the range is clipped
    when the picture is saved; as it goes, its loss is counted where it is not.
    """

    def __init__(
        self,
        image: torch.Tensor,
        history: int,
        *,
        gamma: float | None = None,
        precondition: bool = False,
        bounded: bool = False,
    ) -> None:
        self.image = image
        self.bounded = bounded
        self.precondition: Callable[[torch.Tensor], torch.Tensor] = (
            Spectral(image.shape, image.device, image.dtype) if precondition else _identity
        )
        # (s, y, 1 / yᵀs) of the last ``history`` steps, oldest first
        self.pairs: deque[tuple[torch.Tensor, torch.Tensor, float]] = deque(maxlen=history)
        # The initial inverse Hessian is gamma times the identity; a caller that knows
        # its scale (see Loop) gives it, and the first step is then -gamma * M g.
        self.given = gamma
        self.gamma = 1.0 if gamma is None else gamma
        self.last_grad: torch.Tensor | None = None
        self.last_move: torch.Tensor | None = None

    def step(self, closure: Callable[[], torch.Tensor]) -> None:
        """Evaluate (``closure`` leaves the gradient in ``image.grad``) and move."""
        closure()
        assert self.image.grad is not None
        grad = self.image.grad.detach().flatten()
        if self.last_grad is not None and self.last_move is not None:
            self._remember(self.last_move, grad - self.last_grad)
        move = self._direction(grad)
        if (self.last_grad is None and self.given is None) or float(grad.dot(move)) > 0:
            # The first step, or a restart where the pairs no longer give a descent
            # direction (torch would stand still from then on): steepest descent, short.
            self.pairs.clear()
            self.gamma = 1.0
            move = grad.neg().mul_(min(1.0, 1.0 / max(float(grad.abs().sum()), 1e-30)))
        if self.bounded:  # clipped first, so a pixel pushed past a bound cannot set the cap
            now = self.image.detach().flatten()
            move = (now + move).clamp_(0.0, 1.0).sub_(now)
        largest = float(move.abs().max())
        if largest > MAX_PIXEL_STEP:  # shrinking a move keeps it inside the bounds
            move.mul_(MAX_PIXEL_STEP / largest)
        with torch.no_grad():
            self.image.add_(move.view_as(self.image))
        self.last_grad, self.last_move = grad.clone(), move

    def _remember(self, s: torch.Tensor, y: torch.Tensor) -> None:
        ys = float(y.dot(s))
        if ys > 1e-10:  # keep only pairs of positive curvature
            self.pairs.append((s, y, 1.0 / ys))
            self.gamma = ys / float(y.dot(self.precondition(y)))

    def _direction(self, grad: torch.Tensor) -> torch.Tensor:
        """``-H grad`` by the two-loop recursion over the stored pairs."""
        q = grad.neg()
        alphas = []
        for s, y, rho in reversed(self.pairs):
            alpha = float(s.dot(q)) * rho
            q.add_(y, alpha=-alpha)
            alphas.append(alpha)
        q = self.precondition(q).mul_(self.gamma)
        for (s, y, rho), alpha in zip(self.pairs, reversed(alphas), strict=True):
            beta = float(y.dot(q)) * rho
            q.add_(s, alpha=alpha - beta)
        return q


class PixelOptimizer:
    """One step = one forward and backward pass of the network."""

    def __init__(
        self,
        image: torch.Tensor,
        kind: str,
        *,
        lr: float | None,
        history: int,
        gamma: float | None = None,
        precondition: bool = False,
        bounded: bool = False,
    ) -> None:
        self.image = image
        self.kind = kind
        self.lr: float | None = lr if lr is not None else DEFAULT_LR.get(kind)
        self.lbfgs = None
        if kind == "lbfgs":
            self.lbfgs = LBFGS(
                image, history, gamma=gamma, precondition=precondition, bounded=bounded
            )
        self.adam: torch.optim.Adam | None = None
        if kind == "adam":
            self.adam = torch.optim.Adam([image], lr=self.lr or DEFAULT_LR["adam"])

    def step(self, evaluate: Closure) -> LossTerms:
        """Evaluate the objective and its gradient at the current image (``evaluate``)
        and move the image one step."""
        seen: list[LossTerms] = []

        def closure() -> torch.Tensor:
            self.image.grad = None
            terms = evaluate()  # fills the image's gradient
            seen.append(terms)
            return terms.total.detach()

        if self.lbfgs is not None:
            self.lbfgs.step(closure)
        elif self.adam is not None:
            self.adam.step(closure)
        else:
            closure()
            with torch.no_grad():
                assert self.image.grad is not None
                if self.lr is None:  # alpha fixed once, from the first gradient
                    self.lr = GD_FIRST_STEP / max(float(self.image.grad.abs().max()), 1e-30)
                self.image.sub_(self.lr * self.image.grad)
        return seen[0]

"""Optimisers over the pixels of an image: L-BFGS, Adam, and the plain gradient
descent ``X_new = X - alpha * dL/dX`` that the article derives."""

from __future__ import annotations

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


class PixelOptimizer:
    """One step = one forward and backward pass of the network."""

    def __init__(self, image: torch.Tensor, kind: str, lr: float | None, history: int) -> None:
        self.image = image
        self.kind = kind
        self.lr: float | None = lr if lr is not None else DEFAULT_LR.get(kind)
        self.torch_opt: torch.optim.Optimizer | None
        if kind == "lbfgs":
            # max_iter=1 makes each call one iteration with one evaluation; the history
            # persists across calls. Tolerances are off: painterly stops on its own terms.
            self.torch_opt = torch.optim.LBFGS(
                [image],
                lr=1.0,
                max_iter=1,
                history_size=history,
                tolerance_grad=0.0,
                tolerance_change=0.0,
            )
        elif kind == "adam":
            self.torch_opt = torch.optim.Adam([image], lr=self.lr or DEFAULT_LR["adam"])
        else:
            self.torch_opt = None

    def step(self, evaluate: Closure) -> LossTerms:
        """Evaluate the objective and its gradient at the current image (``evaluate``)
        and move the image one step."""
        seen: list[LossTerms] = []

        def closure() -> torch.Tensor:
            if self.torch_opt is not None:
                self.torch_opt.zero_grad(set_to_none=True)
            terms = evaluate()  # fills the image's gradient
            seen.append(terms)
            return terms.total.detach()

        if self.kind == "lbfgs":
            self._capped_lbfgs_step(closure)
        elif self.torch_opt is not None:
            self.torch_opt.step(closure)  # type: ignore[arg-type]
        else:
            self.image.grad = None
            closure()
            with torch.no_grad():
                assert self.image.grad is not None
                if self.lr is None:  # alpha fixed once, from the first gradient
                    self.lr = GD_FIRST_STEP / max(float(self.image.grad.abs().max()), 1e-30)
                self.image.sub_(self.lr * self.image.grad)
        return seen[0]

    def _capped_lbfgs_step(self, closure: Callable[[], torch.Tensor]) -> None:
        assert self.torch_opt is not None
        before = self.image.detach().clone()
        self.torch_opt.step(closure)  # type: ignore[arg-type]
        with torch.no_grad():
            moved = self.image - before
            largest = float(moved.abs().max())
            if largest > MAX_PIXEL_STEP:
                shrink = MAX_PIXEL_STEP / largest
                self.image.copy_(before + moved * shrink)
                # L-BFGS computes its next curvature pair from s = t*d: keep it true.
                state = self.torch_opt.state[self.image]
                state["t"] = state["t"] * shrink

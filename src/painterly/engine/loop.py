"""The optimisation loop: steps of an optimiser over the pixels at one scale after
another, with the history of losses, progress reports and early stops."""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

import torch

from ..config.settings import Config
from ..errors import ConfigError
from .evaluator import ScaleStep
from .optimize import PixelOptimizer


@dataclass(frozen=True)
class Progress:
    """What a progress callback receives after each optimiser step (and, during a
    tiled step, after each tile pass)."""

    step: int  # 1-based, over all scales
    total: int  # planned steps; with a time budget, unknown in advance (0)
    scale: int  # 0-based index into the schedule
    scales: int
    size: tuple[int, int]  # (height, width) at this scale
    losses: dict[str, float]
    elapsed: float
    work: float  # fraction of the planned work done (steps weighted by their pixels), 0–1
    # The current picture, 1×3×H×W in [0, 1], as the result would show it (not a copy).
    image: torch.Tensor = field(repr=False)
    # During a tiled step: (tile passes done, passes in the step; a step makes two
    # passes over its tiles); ``step`` then counts the steps finished. None after a step.
    tiles: tuple[int, int] | None = None


ProgressFn = Callable[[Progress], bool | None]  # return False to stop early
# Called after each step with the loop, the scale's index and the pixels reached.
StepFn = Callable[["Loop", int, torch.Tensor], None]
Plan = list[tuple[tuple[int, int], int]]  # [((height, width), steps)], coarse to fine


@dataclass(frozen=True)
class StepRecord:
    """One step of a run's history."""

    step: int  # 1-based, over all scales
    scale: int  # 0-based index into the schedule
    time: float  # seconds from the run's start to the end of this step
    losses: dict[str, float]  # total, content, style, tv (and extra, if any)

    def as_dict(self) -> dict[str, float]:
        """The step as a record's JSON has it: ``step``, ``scale``, the losses, ``time``."""
        return {"step": self.step, "scale": self.scale, **self.losses, "time": self.time}

    @classmethod
    def from_dict(cls, data: Mapping[str, float]) -> StepRecord:
        """The step a record's JSON keeps (see :meth:`as_dict`)."""
        losses = {k: float(v) for k, v in data.items() if k not in ("step", "scale", "time")}
        return cls(int(data["step"]), int(data["scale"]), float(data.get("time", 0.0)), losses)


@dataclass(frozen=True)
class Stage:
    """One scale as the loop takes it: up to ``steps`` steps at ``size``, in tiles of
    ``tile`` px (None: whole), until ``deadline`` seconds after the run's start (None:
    all the steps) once ``minimum`` steps are done."""

    size: tuple[int, int]
    steps: int
    tile: int | None = None
    deadline: float | None = None
    minimum: int = 1


def costs(plan: Plan) -> list[int]:
    """Each scale's planned cost: its steps times its pixels (its pixel-steps)."""
    return [steps * h * w for (h, w), steps in plan]


def _as_is(x: torch.Tensor) -> torch.Tensor:
    return x


class _Average:
    """Exponential moving average of the iterates (crowsonkb's trick against the last
    steps' noise): with ``decay`` 0 it is simply the current image."""

    def __init__(self, x: torch.Tensor, decay: float) -> None:
        self.decay, self.steps = decay, 0
        self.mean = x.detach().clone() if decay else x.detach()

    def update(self, x: torch.Tensor) -> None:
        self.steps += 1
        if self.decay:
            # Bias-corrected, so early steps are not pulled towards the start image.
            rate = max(1.0 - self.decay, 1.0 / self.steps)
            self.mean.lerp_(x.detach(), rate)

    @property
    def value(self) -> torch.Tensor:
        return self.mean if self.decay else self.mean.detach()


WEIGHTS = {"style": "style_weight", "content": "content_weight", "tv": "tv_weight"}
FLOAT32_MAX = float(torch.finfo(torch.float32).max)


def nonfinite_loss(cfg: Config, losses: dict[str, float], step: int) -> ConfigError:
    """The error for a NaN or infinite loss, naming its cause: a weight so large that
    its term overflows float32, a term that is NaN or infinite itself, or (later in a
    run) too large a step of the optimiser."""
    for part, name in WEIGHTS.items():
        weight, value = getattr(cfg, name), losses[part]
        if math.isfinite(value) and abs(weight * value) > FLOAT32_MAX:
            return ConfigError(
                f"the {part} weight {weight:g} is too large: times the {part} loss "
                f"({value:.3g}) it overflows float32; lower {{field}} (what counts is the "
                "ratio of the weights)",
                name,
            )
    broken = [part for part in WEIGHTS if not math.isfinite(losses[part])]
    if broken or step == 1:
        part = broken[0] if broken else "total"
        return ConfigError(
            f"the {part} loss is NaN or infinite at step {step}: check the images and weights"
        )
    if cfg.optimizer == "lbfgs":
        return ConfigError(
            f"the loss became NaN or infinite at step {step}: try {{field}} adam", "optimizer"
        )
    return ConfigError(f"the loss became NaN or infinite at step {step}: lower {{field}}", "lr")


def collapsed(cfg: Config, losses: dict[str, float], step: int, precision: str) -> ConfigError:
    """The error for pixels (or their gradient) that became NaN or infinite at a step
    whose loss was finite: the largest weighted term's gradient overflowed
    ``precision``, which a weight far above the others causes; else too large a step."""
    terms = {part: abs(getattr(cfg, name) * losses[part]) for part, name in WEIGHTS.items()}
    part = max(terms, key=lambda p: terms[p])
    others = sum(v for p, v in terms.items() if p != part)
    name = WEIGHTS[part]
    if terms[part] > 1e6 * max(others, 1.0):  # one term outweighs all the others
        return ConfigError(
            f"the pixels became NaN at step {step}: with the {part} weight "
            f"{getattr(cfg, name):g} the gradient of the {part} term ({terms[part]:.3g}) "
            f"cannot be represented in {precision}; lower {{field}} (what counts is the "
            "ratio of the weights)",
            name,
        )
    if cfg.optimizer == "lbfgs":
        return ConfigError(f"the pixels became NaN at step {step}: try {{field}} adam", "optimizer")
    return ConfigError(f"the pixels became NaN at step {step}: lower {{field}}", "lr")


def _finite(x: torch.Tensor) -> bool:
    """Whether the pixels and the gradient just taken at them are all finite."""
    with torch.no_grad():
        ok = torch.isfinite(x).all()
        if x.grad is not None:
            ok &= torch.isfinite(x.grad).all()
    return bool(ok)


class Loop:
    """Runs the optimiser at one scale after another of ``plan``, keeping the history
    and reporting progress; ``present`` turns the optimised pixels into the picture a
    progress callback sees. A run continued from a checkpoint passes the ``done`` steps'
    records, L-BFGS's ``curvature`` then and its ``started`` time moved back by the
    seconds spent; ``on_step`` sees the pixels after each step (to keep checkpoints)."""

    def __init__(
        self,
        cfg: Config,
        plan: Plan,
        *,
        progress: ProgressFn | None = None,
        present: Callable[[torch.Tensor], torch.Tensor] = _as_is,
        started: float | None = None,
        history: int | None = None,
        done: Sequence[StepRecord] = (),
        curvature: tuple[float, int] | None = None,
        on_step: StepFn | None = None,
    ) -> None:
        self.cfg, self.progress, self.present = cfg, progress, present
        self.on_step = on_step
        self.lbfgs_history = cfg.lbfgs_history if history is None else history
        self.total = sum(steps for _, steps in plan)  # steps planned
        self.planned = sum(costs(plan))  # pixel-steps planned
        self.history: list[StepRecord] = list(done)
        pixels = [h * w for (h, w), _ in plan]
        self.worked = sum(pixels[r.scale] for r in done if r.scale < len(pixels))  # pixel-steps
        self.stopped = False
        self.curvature = curvature  # (L-BFGS's gamma, pixels)
        self.started = time.perf_counter() if started is None else started

    def elapsed(self) -> float:
        """Seconds since the run started."""
        return time.perf_counter() - self.started

    def optimize(
        self, step: ScaleStep, start: torch.Tensor, stage: Stage, *, scale: int, scales: int
    ) -> torch.Tensor:
        """Take the steps of ``stage`` from ``start``; return the picture reached."""
        x = start.to(step.evaluator.device).contiguous().requires_grad_(True)
        opt = PixelOptimizer(
            x,
            self.cfg.optimizer,
            lr=self.cfg.lr,
            history=self.lbfgs_history,
            gamma=self._gamma(x),
            precondition=self.cfg.precondition,
            bounded=True,
        )
        average = _Average(x, self.cfg.average)

        def on_tile(done: int, total: int) -> None:
            self._tile_report(done, total, scale, scales, average.value)

        totals: list[float] = []
        deadline = stage.deadline
        try:
            for done in range(stage.steps if deadline is None else 1_000_000):
                if done >= stage.minimum and deadline is not None and self.elapsed() >= deadline:
                    break  # at least ``minimum`` steps per scale, whatever the budget
                terms = opt.step(lambda: step.loss_and_grad(x, on_tile))
                losses = terms.as_floats()
                if not math.isfinite(losses["total"]):
                    raise nonfinite_loss(self.cfg, losses, len(self.history) + 1)
                if not _finite(x):  # a finite loss, but its gradient overflowed
                    precision = step.evaluator.precision
                    raise collapsed(self.cfg, losses, len(self.history) + 1, precision)
                average.update(x)
                self._report(losses, scale, scales, average.value)
                totals.append(losses["total"])
                if self.on_step is not None:
                    self.on_step(self, scale, average.value)
                if self.stopped or self._levelled(totals):
                    break
        except KeyboardInterrupt:
            self.stopped = True
        if opt.lbfgs is not None and opt.lbfgs.pairs:
            self.curvature = (opt.lbfgs.gamma, x.numel())
        return average.value

    def steps_at(self, scale: int) -> int:
        """The steps taken so far at the scale ``scale``."""
        return sum(1 for record in self.history if record.scale == scale)

    def _gamma(self, x: torch.Tensor) -> float | None:
        """L-BFGS's scale of the inverse Hessian at the last scale, carried to this one.

        Each layer's loss is a ratio of sums over positions, so a pixel's gradient and
        curvature fall as the pixels grow: the inverse Hessian grows with their number.
        Carried over, the first step at a new scale is a full one; torch's first step,
        ``1 / sum(|g|)``, hardly moves the image.
        """
        if self.curvature is None or not self.cfg.carry_scale:
            return None
        gamma, pixels = self.curvature
        return gamma * x.numel() / pixels

    def _levelled(self, totals: list[float]) -> bool:
        """Whether the loss at this scale fell by less than ``cfg.stop_tolerance`` (a
        fraction of its value) over the last ``cfg.stop_window`` steps."""
        window, tolerance = self.cfg.stop_window, self.cfg.stop_tolerance
        if tolerance == 0 or len(totals) <= window:
            return False
        before, now = totals[-1 - window], totals[-1]
        return before - now < tolerance * abs(before)

    def _work(self, elapsed: float, pixels: float) -> float:
        if self.cfg.time is not None:
            return min(elapsed / self.cfg.time, 1.0)
        return min((self.worked + pixels) / max(self.planned, 1), 1.0)

    def _report(self, losses: dict[str, float], scale: int, scales: int, x: torch.Tensor) -> None:
        elapsed = self.elapsed()
        self.worked += x.shape[-2] * x.shape[-1]
        self.history.append(StepRecord(len(self.history) + 1, scale, elapsed, losses))
        self._send(losses, scale, scales, x, elapsed, self._work(elapsed, 0), None)

    def _tile_report(self, done: int, total: int, scale: int, scales: int, x: torch.Tensor) -> None:
        """A tile pass of a step ended: the work moves on within the step."""
        elapsed = self.elapsed()
        pixels = x.shape[-2] * x.shape[-1] * done / total
        losses = dict(self.history[-1].losses) if self.history else {}
        work = self._work(elapsed, pixels)
        self._send(losses, scale, scales, x, elapsed, work, (done, total))

    def _send(
        self,
        losses: dict[str, float],
        scale: int,
        scales: int,
        x: torch.Tensor,
        elapsed: float,
        work: float,
        tiles: tuple[int, int] | None,
    ) -> None:
        if self.progress is None:
            return
        info = Progress(
            len(self.history),
            0 if self.cfg.time is not None else self.total,
            scale,
            scales,
            (x.shape[-2], x.shape[-1]),
            losses,
            elapsed,
            work,
            self.present(x.detach()),
            tiles,
        )
        if self.progress(info) is False:
            self.stopped = True

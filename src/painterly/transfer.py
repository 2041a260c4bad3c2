"""Style transfer: the article's ``stylize`` with its seven parameters, run over a
coarse-to-fine schedule of sizes."""

from __future__ import annotations

import logging
import math
import os
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import torch

from . import images, regions
from .config import Config, check_style_weights, make_config
from .errors import ConfigError
from .inputs import ImageLike, Inputs, blend, prepare, style_size, warn_upscale
from .layers import deepest
from .memory import check_fits
from .objective import LossTerms, Objective, objective_for
from .optimize import PixelOptimizer
from .record import Result
from .runtime import autocast, pick_device, resolve_precision
from .targets import FeatureCache
from .vgg import VGG19Features
from .weights import LoadedWeights, load_weights

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Progress:
    """What a progress callback receives after each optimiser step."""

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


ProgressFn = Callable[[Progress], bool | None]  # return False to stop early


def stylize(
    content: ImageLike,
    styles: Sequence[ImageLike],
    content_weight: float | None = None,
    style_weight: float | None = None,
    iterations: int | None = None,
    style_weights: Sequence[float] | None = None,
    layer_weights: Sequence[float] | None = None,
    *,
    progress: ProgressFn | None = None,
    preset: str = "default",
    **options: Any,
) -> Result:
    """Stylise ``content`` with ``styles``; the article's seven parameters come first.

    A parameter left at ``None`` takes the preset's value, else :class:`Config`'s
    default. Other options are :class:`Config`'s fields (``size``, ``init``, ``seed``,
    ``optimizer``, ``content_layers``, ``style_layers``, …).

    >>> result = stylize("photo.jpg", ["painting.jpg"], iterations=100)  # doctest: +SKIP
    >>> result.save("out.png")  # doctest: +SKIP
    """
    cfg = make_config(
        preset,
        content_weight=content_weight,
        style_weight=style_weight,
        iterations=iterations,
        style_weights=_tuple(style_weights),
        layer_weights=_tuple(layer_weights),
        **options,
    )
    return run(cfg, content, styles, progress=progress)


def _tuple(values: Sequence[float] | None) -> tuple[float, ...] | None:
    return None if values is None else tuple(float(v) for v in values)


MIN_SCALE_SIDE = 64  # coarser scales than this are dropped from the schedule


def schedule(cfg: Config, height: int, width: int) -> list[tuple[tuple[int, int], int]]:
    """[((h, w), steps)] from coarse to fine; sizes grow by √2, steps are split evenly.

    Scales whose longest side would fall under 64 px are left out.
    """
    sides = [round(cfg.size / math.sqrt(2) ** (cfg.scales - 1 - i)) for i in range(cfg.scales)]
    sides = [s for s in sides if s >= min(MIN_SCALE_SIDE, cfg.size)]
    sizes = [images.fit_size(height, width, side) for side in sides]
    base, extra = divmod(cfg.iterations, len(sizes))
    return [(hw, base + (1 if i >= len(sizes) - extra else 0)) for i, hw in enumerate(sizes)]


def deadlines(plan: list[tuple[tuple[int, int], int]]) -> list[float]:
    """Fraction of a time budget by which each scale must end: a scale's share is
    proportional to its planned steps times its pixels (its planned cost)."""
    costs = [steps * h * w for (h, w), steps in plan]
    total, done, ends = sum(costs), 0, []
    for cost in costs:
        done += cost
        ends.append(done / total)
    return ends


def run(
    cfg: Config,
    content: ImageLike,
    styles: Sequence[ImageLike],
    progress: ProgressFn | None = None,
    cache: FeatureCache | None = None,
) -> Result:
    """Run a transfer for a resolved :class:`Config`; ``cache`` shares the targets'
    features with other runs (see :mod:`painterly.targets`)."""
    started = time.perf_counter()
    if isinstance(styles, (str, os.PathLike)):
        styles = [styles]
    image_weights = check_style_weights(cfg, len(styles))
    device = pick_device(cfg.device)
    precision = resolve_precision(cfg.precision, device)
    inputs = prepare(cfg, content, styles)
    plan = schedule(cfg, *inputs.photo.shape[-2:])
    warn_upscale(cfg, inputs.styles, plan[-1][0])
    layers = [*cfg.content_layers, *cfg.style_layers]
    history = cfg.lbfgs_history if cfg.optimizer == "lbfgs" else 2  # Adam: two moments
    check_fits(*plan[-1][0], deepest(layers), precision, cfg.size, history, device)
    weights = load_weights(cfg.weights)
    net = _network(cfg, weights, inputs, plan[0][0], device)
    if cfg.channels_last:
        net.to_channels_last()
    seed = cfg.seed if cfg.seed is not None else int.from_bytes(os.urandom(4), "little")
    generator = torch.Generator().manual_seed(seed)
    engine = _Engine(cfg, net, device, precision, progress, plan, started)
    engine.present, engine.cache = inputs.present, cache
    image: torch.Tensor | None = None
    ends = deadlines(plan)
    for index, (hw, steps) in enumerate(plan):
        start = _start_image(cfg, inputs, hw, image, generator)
        objective = _objective(cfg, engine, inputs, image_weights, hw, plan)
        deadline = None if cfg.time is None else cfg.time * ends[index]
        image = engine.optimise(objective, start, steps, index, len(plan), deadline)
        if engine.stopped:
            break
    assert image is not None
    painting = inputs.painting(image.detach().cpu().clamp(0, 1))
    photo = images.resize(inputs.photo, (painting.shape[-2], painting.shape[-1]))
    return Result(
        image=blend(painting, photo, cfg.strength),
        history=engine.history,
        config=cfg,
        seed=seed,
        weights={"source": weights.spec.name, "path": str(weights.path), "sha256": weights.sha256},
        elapsed=time.perf_counter() - engine.started,
        interrupted=engine.stopped,
        device=str(device),
        precision=precision,
        painting=painting,
        photo=photo,
    )


def evaluate(
    image: ImageLike, content: ImageLike, styles: Sequence[ImageLike], cfg: Config | None = None
) -> dict[str, float]:
    """The objective of ``cfg`` (default: painterly's defaults) at ``image``, in float32,
    with targets made at the image's size as a run of that size makes them."""
    cfg = (cfg or Config()).replace(size=1 << 30, scales=1, precision="fp32")
    x = images.load_image(image)
    hw = (x.shape[-2], x.shape[-1])
    device = pick_device(cfg.device)
    inputs = prepare(cfg, content, styles)
    net = _network(cfg, load_weights(cfg.weights), inputs, hw, device)
    engine = _Engine(cfg, net, device, "fp32", None, [], time.perf_counter())
    weights = check_style_weights(cfg, len(styles))
    objective = _objective(cfg, engine, inputs, weights, hw, [(hw, 1)])
    with torch.no_grad():
        terms: LossTerms = objective(net(x.to(device)), x.to(device))
    return terms.as_floats()


def _network(
    cfg: Config,
    weights: LoadedWeights,
    inputs: Inputs,
    hw: tuple[int, int],
    device: torch.device,
) -> VGG19Features:
    """The network a config needs, average pooling calibrated on the photo at ``hw``."""
    layers = [*cfg.content_layers, *cfg.style_layers]
    net = VGG19Features(weights, layers, cfg.pooling, cfg.padding).to(device)
    if cfg.pooling == "avg":
        net.calibrate_pooling(images.resize(inputs.content, hw).to(device))
    return net


def _start_image(
    cfg: Config,
    inputs: Inputs,
    hw: tuple[int, int],
    previous: torch.Tensor | None,
    generator: torch.Generator,
) -> torch.Tensor:
    if previous is not None:  # coarse-to-fine: start from the last scale's result
        return images.resize(previous.detach().cpu().clamp(0, 1), hw)
    if cfg.init == "content":
        return images.resize(inputs.content, hw)
    if cfg.init == "noise":
        return torch.rand((1, 3, *hw), generator=generator)
    return images.resize(inputs.start(images.load_image(cfg.init)), hw)


def _objective(
    cfg: Config,
    engine: _Engine,
    inputs: Inputs,
    image_weights: tuple[float, ...],
    hw: tuple[int, int],
    plan: list[tuple[tuple[int, int], int]],
) -> Objective:
    final = plan[-1][0]
    content_feats = engine.features(images.resize(inputs.content, hw), cfg.content_layers)
    style_feats = [
        engine.features(images.resize(s, style_size(cfg, s, hw, final)), cfg.style_layers)
        for s in inputs.styles
    ]
    masks = None
    if inputs.style_masks is not None:
        masks = [regions.at_layers(m, hw, cfg.style_layers) for m in inputs.style_masks]
    weights = None
    if inputs.content_mask is not None:
        weights = regions.at_layers(inputs.content_mask, hw, cfg.content_layers, mean_one=True)
    # The content loss sums over positions, the style loss does not: scaling b by the
    # pixel ratio keeps the balance of the final size at every coarser scale (relative
    # losses need no such correction).
    ratio = (final[0] * final[1]) / (hw[0] * hw[1])
    scale = 1.0 if cfg.normalize else ratio
    objective = objective_for(cfg, content_feats, style_feats, image_weights, scale, masks, weights)
    return objective.to(engine.device)


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


class _Engine:
    """Runs the optimiser at one scale after another, keeping history and progress."""

    def __init__(
        self,
        cfg: Config,
        net: VGG19Features,
        device: torch.device,
        precision: str,
        progress: ProgressFn | None,
        plan: list[tuple[tuple[int, int], int]],
        started: float,
    ) -> None:
        self.cfg, self.net, self.device, self.precision = cfg, net, device, precision
        self.progress = progress
        self.total = sum(steps for _, steps in plan)  # steps planned
        self.planned = sum(steps * h * w for (h, w), steps in plan)  # pixel-steps planned
        self.worked = 0  # pixel-steps done
        self.history: list[dict[str, float]] = []
        self.stopped = False
        self.started = started
        # The picture a progress callback sees for the optimised pixels.
        self.present: Callable[[torch.Tensor], torch.Tensor] = lambda x: x
        self.cache: FeatureCache | None = None

    def features(self, image: torch.Tensor, layers: Sequence[str]) -> dict[str, torch.Tensor]:
        """The features of a target image, from the shared cache when there is one."""
        if self.cache is None:
            return self._compute(image, layers)
        cfg = self.cfg
        gains = tuple(self.net.pool_gains.values()) if cfg.pooling == "avg" else ()
        network = (cfg.weights, cfg.pooling, gains, cfg.padding, self.precision, str(self.device))
        return self.cache.features(
            image, network, layers, lambda x: self._compute(x, sorted(self.net.wanted))
        )

    def _compute(self, image: torch.Tensor, layers: Sequence[str]) -> dict[str, torch.Tensor]:
        with torch.no_grad(), autocast(self.device, self.precision):
            feats = self.net(self.layout(image.to(self.device)))
        return {k: feats[k].float() for k in layers}

    def layout(self, image: torch.Tensor) -> torch.Tensor:
        """The network's input in the memory layout of its weights."""
        if self.cfg.channels_last:
            return image.contiguous(memory_format=torch.channels_last)
        return image

    def optimise(
        self,
        objective: Objective,
        start: torch.Tensor,
        steps: int,
        scale: int,
        scales: int,
        deadline: float | None = None,
    ) -> torch.Tensor:
        """Run up to ``steps`` steps, or until ``deadline`` seconds after the start."""
        x = start.to(self.device).contiguous().requires_grad_(True)
        opt = PixelOptimizer(x, self.cfg.optimizer, self.cfg.lr, self.cfg.lbfgs_history)

        def evaluate() -> Any:
            with autocast(self.device, self.precision):
                feats = self.net(self.layout(x))
            return objective(feats, x)

        average = _Average(x, self.cfg.average)
        try:
            for done in range(steps if deadline is None else 1_000_000):
                if done and deadline is not None and time.perf_counter() - self.started >= deadline:
                    break  # at least one step per scale, whatever the budget
                terms = opt.step(evaluate)
                losses = terms.as_floats()
                if not math.isfinite(losses["total"]):
                    raise ConfigError(
                        "the loss became NaN or infinite: lower the learning rate ({field})", "lr"
                    )
                average.update(x)
                self._report(losses, scale, scales, average.value)
                if self.stopped:
                    break
        except KeyboardInterrupt:
            self.stopped = True
        return average.value

    def _report(self, losses: dict[str, float], scale: int, scales: int, x: torch.Tensor) -> None:
        elapsed = time.perf_counter() - self.started
        self.worked += x.shape[-2] * x.shape[-1]
        if self.cfg.time is not None:
            work = min(elapsed / self.cfg.time, 1.0)
        else:
            work = min(self.worked / max(self.planned, 1), 1.0)
        self.history.append(
            {"step": len(self.history) + 1, "scale": scale, **losses, "time": elapsed}
        )
        if self.progress is not None:
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
            )
            if self.progress(info) is False:
                self.stopped = True

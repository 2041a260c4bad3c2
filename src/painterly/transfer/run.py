"""Style transfer: the article's ``stylize`` with its seven parameters, run over a
coarse-to-fine schedule of sizes."""

from __future__ import annotations

import logging
import math
import os
import time
from collections.abc import Sequence
from typing import Any

import torch

from ..config.settings import Config, check_style_weights, make_config
from ..engine.evaluator import Extractor, build_network
from ..engine.loop import Loop, Plan, costs
from ..engine.loop import Progress as Progress
from ..engine.loop import ProgressFn as ProgressFn
from ..engine.memory import MemoryPlan, check_fits
from ..engine.objective import LossTerms, Objective, PixelLoss, objective_for
from ..engine.precision import pick_device, resolve_precision
from ..engine.targets import FeatureCache
from ..errors import ConfigError
from ..files import images
from ..nn.layers import deepest, halo, min_side
from ..nn.weights import load_weights
from . import regions
from .inputs import (
    ImageLike,
    Inputs,
    blend,
    check_style_sizes,
    prepare,
    style_size,
    warn_upscale,
)
from .result import Result

log = logging.getLogger(__name__)


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
    """[((h, w), steps)] from coarse to fine; sizes grow by √2, and the steps are split
    by ``cfg.taper`` (see :func:`split_steps`).

    Scales whose longest side would fall under 64 px are left out, and so are those
    whose shorter side would be under what the deepest layer needs (16 px for
    ``block5_conv1``: see :func:`~painterly.nn.layers.min_side`), so a panorama simply gets
    fewer scales. An output too thin even at ``size`` raises :class:`ConfigError`
    naming the smallest size that works.
    """
    layers = [*cfg.content_layers, *cfg.style_layers]
    need = min_side(layers)
    final = images.fit_size(height, width, cfg.size)
    if min(final) < need:
        side = images.side_for(height, width, need)
        raise ConfigError(
            f"at {{field}} {cfg.size} the photo would be {final[1]}×{final[0]} px, thinner than "
            f"the {need} px that layer {deepest(layers)} needs: use {{field}} {side} or more, "
            "or crop the photo to a less elongated shape",
            "size",
        )
    sides = [round(cfg.size / math.sqrt(2) ** (cfg.scales - 1 - i)) for i in range(cfg.scales)]
    sides = [s for s in sides if s >= min(MIN_SCALE_SIDE, cfg.size)]
    sizes = [images.fit_size(height, width, side) for side in sides]
    sizes = [hw for hw in sizes if min(hw) >= need]
    return list(zip(sizes, split_steps(cfg.iterations, len(sizes), cfg.taper), strict=True))


def split_steps(total: int, scales: int, taper: float) -> list[int]:
    """``total`` steps over ``scales`` scales in proportion to ``taper ** index``; the
    steps that rounding down leaves over go to the largest remainders (the finest
    scales first among equals).

    >>> split_steps(10, 3, 1.0), split_steps(100, 3, 0.5)
    ([3, 3, 4], [57, 29, 14])
    """
    shares = [taper**i for i in range(scales)]
    exact = [total * share / sum(shares) for share in shares]
    steps = [math.floor(x) for x in exact]
    order = sorted(range(scales), key=lambda i: (exact[i] - steps[i], i), reverse=True)
    for i in order[: total - sum(steps)]:
        steps[i] += 1
    return steps


# With a time budget, a scale between the first and the last that could not take this
# many steps in its share is left out: a scale's first steps only win back what the
# enlargement lost, so a scale of one or two steps costs its time and gives nothing.
MIN_SCALE_STEPS = 5


def share_of(plan: Plan, index: int, left: float) -> float:
    """The seconds of the ``left`` ones that scale ``index`` gets: its planned cost (steps
    times pixels) as a share of the cost of the scales from it on."""
    cost = costs(plan)
    return left * cost[index] / max(sum(cost[index:]), 1)


def _seconds_per_pixel_step(history: list[dict[str, float]], scale: int, pixels: int) -> float:
    """A step's seconds per pixel at ``scale``, from the times of its steps after the
    first (which also builds the scale's targets); 0 when it made fewer than two."""
    times = [h["time"] for h in history if h["scale"] == scale]
    return (times[-1] - times[0]) / (len(times) - 1) / pixels if len(times) > 1 else 0.0


def run(
    cfg: Config,
    content: ImageLike,
    styles: Sequence[ImageLike],
    *,
    progress: ProgressFn | None = None,
    cache: FeatureCache | None = None,
    start: torch.Tensor | None = None,
    extra_loss: PixelLoss | None = None,
) -> Result:
    """Run a transfer for a resolved :class:`Config`; ``cache`` shares the targets'
    features with other runs (see :mod:`painterly.engine.targets`).

    ``start`` (a picture, 1×3×H×W in [0, 1]) replaces ``cfg.init`` as the first scale's
    start image; ``extra_loss`` adds a caller's term on the pixels to the objective at
    every scale (both serve :mod:`painterly.video.render`).
    """
    started = time.perf_counter()
    if isinstance(styles, (str, os.PathLike)):
        styles = [styles]
    image_weights = check_style_weights(cfg, len(styles))
    device = pick_device(cfg.device)
    precision = resolve_precision(cfg.precision, device)
    inputs = prepare(cfg, content, styles)
    plan = schedule(cfg, *inputs.photo.shape[-2:])
    check_style_sizes(cfg, inputs.styles, plan)
    warn_upscale(cfg, inputs.styles, plan[-1][0])
    deep = deepest([*cfg.content_layers, *cfg.style_layers])
    fit = check_fits(*plan[-1][0], deep, precision, cfg.size, _history(cfg, plan), device, cfg.tile)
    weights = load_weights(cfg.weights)
    net = build_network(cfg, weights, inputs.content, plan[0][0], device)
    extractor = Extractor(cfg, net, device, precision, cache)
    seed = cfg.seed if cfg.seed is not None else int.from_bytes(os.urandom(4), "little")
    generator = torch.Generator().manual_seed(seed)
    history = fit.history if cfg.optimizer == "lbfgs" else cfg.lbfgs_history
    loop = Loop(cfg, extractor, plan, progress, inputs.present, started, history)
    image: torch.Tensor | None = None
    rate = 0.0  # seconds per pixel-step, as measured at the last scale run
    tiled: list[list[int]] = []
    for index, (hw, steps) in enumerate(plan):
        deadline = None
        if cfg.time is not None:
            now = time.perf_counter() - loop.started
            share = share_of(plan, index, cfg.time - now)
            if 0 < index < len(plan) - 1 and share < MIN_SCALE_STEPS * rate * hw[0] * hw[1]:
                continue  # too short a share to be worth a scale: it goes to the finer ones
            deadline = now + share
        extractor.tile = _tile_at(cfg, fit, hw, deep, precision)
        if extractor.tiles_for(*hw) is not None:
            tiled.append([hw[1], hw[0]])
        first = _start_image(cfg, inputs, hw, image, generator, start)
        objective = _objective(cfg, extractor, inputs, image_weights, hw, plan[-1][0])
        objective.extra = extra_loss
        # The first scale, the cheapest, takes two steps even over its share: the
        # second gives L-BFGS its first curvature and this loop its step rate.
        image = loop.optimise(
            objective, first, steps, index, len(plan), deadline, minimum=1 if index else 2
        )
        if loop.stopped:
            break
        rate = _seconds_per_pixel_step(loop.history, index, hw[0] * hw[1]) or rate
    assert image is not None
    painting = inputs.painting(image.detach().cpu().clamp(0, 1))
    photo = images.resize(inputs.photo, (painting.shape[-2], painting.shape[-1]))
    return Result(
        image=blend(painting, photo, cfg.strength),
        history=loop.history,
        config=cfg,
        seed=seed,
        weights={"source": weights.spec.name, "path": str(weights.path), "sha256": weights.sha256},
        elapsed=time.perf_counter() - loop.started,
        interrupted=loop.stopped,
        device=str(device),
        precision=precision,
        painting=painting,
        photo=photo,
        memory={
            "tile": extractor.tile if tiled else None,
            "halo": halo(deep) if tiled else None,
            "tiled_sizes": tiled,
            "lbfgs_history": history if cfg.optimizer == "lbfgs" else None,
            "estimated_peak_gib": round(fit.need / 2**30, 2),
        },
    )


def _history(cfg: Config, plan: list[tuple[tuple[int, int], int]]) -> int:
    """Image-sized vectors the optimiser keeps per pair at the last scale: L-BFGS never
    holds more pairs than it takes steps there (a time budget may take any number)."""
    if cfg.optimizer == "adam":
        return 2  # its two moments
    if cfg.optimizer != "lbfgs":
        return 0
    return cfg.lbfgs_history if cfg.time is not None else min(cfg.lbfgs_history, plan[-1][1])


def _tile_at(
    cfg: Config, fit: MemoryPlan, hw: tuple[int, int], deep: str, precision: str
) -> int | None:
    """The tile side at the scale ``hw``: ``--tile`` wherever the image is larger, else
    the memory plan's tile where a whole step would not fit."""
    if cfg.tile is not None:
        return cfg.tile
    return None if fit.fits_whole(*hw, deep, precision) else fit.tile


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
    net = build_network(cfg, load_weights(cfg.weights), inputs.content, hw, device)
    extractor = Extractor(cfg, net, device, "fp32")
    weights = check_style_weights(cfg, len(styles))
    objective = _objective(cfg, extractor, inputs, weights, hw, hw)
    with torch.no_grad():
        terms: LossTerms = extractor.loss(x.to(device), objective)
    return terms.as_floats()


def _start_image(
    cfg: Config,
    inputs: Inputs,
    hw: tuple[int, int],
    previous: torch.Tensor | None,
    generator: torch.Generator,
    given: torch.Tensor | None = None,
) -> torch.Tensor:
    if previous is not None:  # coarse-to-fine: start from the last scale's result
        return _enlarged(cfg, inputs, previous.detach().cpu().clamp(0, 1), hw)
    if given is not None:
        return images.resize(inputs.start(given), hw)
    if cfg.init == "content":
        return images.resize(inputs.content, hw)
    if cfg.init == "noise":
        return torch.rand((1, 3, *hw), generator=generator)
    return images.resize(inputs.start(images.load_image(cfg.init, cfg.size)), hw)


def _enlarged(
    cfg: Config, inputs: Inputs, image: torch.Tensor, hw: tuple[int, int]
) -> torch.Tensor:
    """The last scale's result at the size ``hw``, plus (``cfg.photo_detail``) the band
    of the photo between the two sizes: a Laplacian pyramid's level, the detail that the
    coarser size could not hold and the enlarged image lacks. Enlarged alone, the last
    result starts a 512 px scale with twice the content loss and three times the style
    loss it ended its own scale with; with the band, a scale starts 12–17% lower
    (measured at 256 px) and ends lower.
    """
    enlarged = images.resize(image, hw)
    if not cfg.photo_detail:
        return enlarged
    photo = images.resize(inputs.content, hw)
    band = photo - images.resize(images.resize(photo, (image.shape[-2], image.shape[-1])), hw)
    return (enlarged + band).clamp(0, 1)


def _objective(
    cfg: Config,
    extractor: Extractor,
    inputs: Inputs,
    image_weights: tuple[float, ...],
    hw: tuple[int, int],
    final: tuple[int, int],
) -> Objective:
    """The objective at the scale ``hw`` of a run whose last scale is ``final``."""
    content_feats = extractor.targets(images.resize(inputs.content, hw), cfg.content_layers)
    style_feats = [
        extractor.targets(images.resize(s, style_size(cfg, s, hw, final)), cfg.style_layers)
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
    return objective.to(extractor.device)

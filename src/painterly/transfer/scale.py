"""One scale's step: the targets at that size, the objective they make and the tile side,
bound to an evaluator. :func:`build_step` is the one place that builds it, for a run's
scales, for :func:`~painterly.transfer.run.evaluate` and for the benchmarks."""

from __future__ import annotations

from ..config.settings import Config
from ..engine.evaluator import Evaluator, ScaleStep
from ..engine.objective import PixelLoss, objective_for
from ..files import images
from . import regions
from .inputs import Inputs, style_size


def build_step(
    cfg: Config,
    evaluator: Evaluator,
    inputs: Inputs,
    *,
    image_weights: tuple[float, ...],
    size: tuple[int, int],
    final: tuple[int, int],
    tile: int | None = None,
    extra: PixelLoss | None = None,
) -> ScaleStep:
    """The step at the scale ``size`` of a run whose last scale is ``final``: targets made
    by ``evaluator`` from ``inputs``, in tiles of ``tile`` px where the image is larger,
    with a caller's ``extra`` term on the pixels."""
    content_feats = evaluator.targets(images.resize(inputs.content, size), cfg.content_layers)
    style_feats = [
        evaluator.targets(images.resize(s, style_size(cfg, s, size, final)), cfg.style_layers)
        for s in inputs.styles
    ]
    masks = None
    if inputs.style_masks is not None:
        masks = [regions.at_layers(m, size, cfg.style_layers) for m in inputs.style_masks]
    weights = None
    if inputs.content_mask is not None:
        weights = regions.at_layers(inputs.content_mask, size, cfg.content_layers, mean_one=True)
    # The content loss sums over positions, the style loss does not: scaling b by the
    # pixel ratio keeps the balance of the final size at every coarser scale (relative
    # losses need no such correction).
    ratio = (final[0] * final[1]) / (size[0] * size[1])
    objective = objective_for(
        cfg,
        content_feats,
        style_feats,
        style_image_weights=image_weights,
        content_scale=1.0 if cfg.normalize else ratio,
        style_masks=masks,
        content_weights=weights,
        extra=extra,
    )
    return ScaleStep(evaluator, objective.to(evaluator.device), tile)

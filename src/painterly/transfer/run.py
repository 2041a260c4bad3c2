"""Style transfer: the article's ``stylize`` with its seven parameters, run over a
coarse-to-fine schedule of sizes."""

from __future__ import annotations

import dataclasses
import logging
import os
import time
from collections.abc import Sequence
from typing import Any

import torch

from ..config.settings import Config, check_style_weights, make_config
from ..engine.evaluator import Evaluator, build_network
from ..engine.loop import Loop, Plan
from ..engine.loop import Progress as Progress
from ..engine.loop import ProgressFn as ProgressFn
from ..engine.memory import MemoryPlan, check_fits
from ..engine.objective import LossTerms, PixelLoss
from ..engine.precision import backend_settings, pick_device, resolve_precision
from ..engine.targets import FeatureCache
from ..files import images
from ..nn.layers import deepest, halo
from ..nn.weights import load_weights
from . import resume
from .inputs import (
    ImageLike,
    Inputs,
    blend,
    check_style_sizes,
    prepare,
    style_list,
    warn_upscale,
)
from .result import Result
from .resume import Checkpoint, Snapshot
from .scale import build_step
from .schedule import schedule, seconds_per_pixel_step, stage_at

log = logging.getLogger(__name__)


def stylize(  # noqa: PLR0913 - the article's seven parameters, then keywords only
    content: ImageLike,
    styles: ImageLike | Sequence[ImageLike],
    content_weight: float | None = None,
    style_weight: float | None = None,
    iterations: int | None = None,
    style_weights: Sequence[float] | None = None,
    layer_weights: Sequence[float] | None = None,
    *,
    progress: ProgressFn | None = None,
    preset: str = "default",
    checkpoint: Checkpoint | None = None,
    **options: Any,
) -> Result:
    """Stylise ``content`` with ``styles``; the article's seven parameters come first.

    A parameter left at ``None`` takes the preset's value, else :class:`Config`'s
    default. Other options are :class:`Config`'s fields (``size``, ``init``, ``seed``,
    ``optimizer``, ``content_layers``, ``style_layers``, …). With a ``checkpoint``, a
    stopped run continues where it stopped (see :func:`run`).

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
    return run(cfg, content, styles, progress=progress, checkpoint=checkpoint)


def _tuple(values: Sequence[float] | None) -> tuple[float, ...] | None:
    return None if values is None else tuple(float(v) for v in values)


def run(
    cfg: Config,
    content: ImageLike,
    styles: ImageLike | Sequence[ImageLike],
    *,
    progress: ProgressFn | None = None,
    cache: FeatureCache | None = None,
    start: torch.Tensor | None = None,
    extra_loss: PixelLoss | None = None,
    checkpoint: Checkpoint | None = None,
) -> Result:
    """Run a transfer for a resolved :class:`Config`; ``cache`` shares the targets'
    features with other runs (see :mod:`painterly.engine.targets`).

    ``start`` (a picture, 1×3×H×W in [0, 1]) replaces ``cfg.init`` as the first scale's
    start image; ``extra_loss`` adds a caller's term on the pixels to the objective at
    every scale (both serve :mod:`painterly.video.render`). With a ``checkpoint``, the
    run continues from the one found there if it is of the same run, and keeps its own
    there (see :mod:`painterly.transfer.resume`); the caller removes it once the result
    is saved. The process is left as it was found: backend switches a run sets are
    restored when it ends.
    """
    started = time.perf_counter()
    styles = style_list(styles)
    image_weights = check_style_weights(cfg, len(styles))
    device = pick_device(cfg.device)
    precision = resolve_precision(cfg.precision, device)
    inputs = prepare(cfg, content, styles)
    plan = schedule(cfg, *inputs.photo.shape[-2:])
    check_style_sizes(cfg, inputs.styles, plan)
    deep = deepest([*cfg.content_layers, *cfg.style_layers])
    fit = check_fits(
        *plan[-1][0],
        deep,
        precision,
        size=cfg.size,
        history=_history(cfg, plan),
        device=device,
        tile=cfg.tile,
    )
    weights = load_weights(cfg.weights)
    net = build_network(cfg, weights, inputs.content, plan[0][0], device, precision=precision)
    evaluator = Evaluator(net, device, precision, cache=cache)
    key = resume.run_key(cfg, inputs) if checkpoint is not None else None
    snap = resume.load(checkpoint, key) if checkpoint is not None and key is not None else None
    resume_path = None if checkpoint is None else checkpoint.path
    seed = cfg.seed if cfg.seed is not None else int.from_bytes(os.urandom(4), "little")
    seed = snap.seed if snap is not None else seed
    generator = torch.Generator().manual_seed(seed)
    history = fit.history if cfg.optimizer == "lbfgs" else cfg.lbfgs_history
    keeper = _Keeper(checkpoint, key, seed)
    loop = Loop(
        cfg,
        plan,
        progress=progress,
        present=inputs.present,
        started=started if snap is None else time.perf_counter() - snap.elapsed,
        history=history,
        done=() if snap is None else snap.history,
        curvature=None if snap is None else snap.curvature,
        on_step=keeper.within,
    )
    image: torch.Tensor | None = None
    if snap is not None:
        where = _where(snap, plan)
        log.warning("continuing from the checkpoint %s: %s", resume_path, where)
        image = None if snap.done else (snap.image if snap.scale else None)
    rate = 0.0  # seconds per pixel-step, as measured at the last scale run
    tiled: list[list[int]] = []
    tile: int | None = None
    stopped = False
    reached = (0, 0) if snap is None else (snap.scale, 0)  # where ``image`` stands
    with backend_settings(device):
        try:
            for index, (hw, _) in enumerate(plan):
                if snap is not None and index < snap.scale:
                    continue  # finished before the checkpoint
                tile = _tile_at(cfg, fit, hw, deep, precision)
                stage = stage_at(
                    plan, index, tile=tile, seconds=cfg.time, elapsed=loop.elapsed(), rate=rate
                )
                if stage is None:
                    continue  # too short a share to be worth a scale: it goes to the finer ones
                if evaluator.tiles_for(*hw, tile) is not None:
                    tiled.append([hw[1], hw[0]])
                first = _start_image(cfg, inputs, hw, image, generator, start)
                if snap is not None and index == snap.scale and snap.done:
                    first = snap.image  # within this scale: the steps left from its pixels
                    stage = dataclasses.replace(stage, steps=max(stage.steps - snap.done, 0))
                step = build_step(
                    cfg,
                    evaluator,
                    inputs,
                    image_weights=image_weights,
                    size=hw,
                    final=plan[-1][0],
                    tile=tile,
                    extra=extra_loss,
                )
                image = loop.optimize(step, first, stage, scale=index, scales=len(plan))
                if loop.stopped:
                    keeper.keep(loop, index, loop.steps_at(index), image)
                    break
                reached = (index + 1, 0)
                keeper.keep(loop, *reached, image)
                rate = seconds_per_pixel_step(loop.history, index, hw[0] * hw[1]) or rate
        except KeyboardInterrupt:
            # Between steps (a scale's targets): the last scale's picture, and its
            # checkpoint, are what was reached.
            stopped = True
            if image is None and snap is None:
                raise
            if image is not None:  # the signal may have cut that checkpoint's write short
                keeper.keep(loop, *reached, image)
    if image is None and snap is not None:
        image = snap.image  # every scale had finished before the checkpoint
    assert image is not None
    # Once the run has ended: a refusal, even one during the run (pixels that became
    # NaN), is then one line.
    warn_upscale(cfg, inputs.styles, plan[-1][0])
    painting = inputs.painting(image.detach().cpu().clamp(0, 1))
    photo = images.resize(inputs.photo, (painting.shape[-2], painting.shape[-1]))
    return Result(
        image=blend(painting, photo, cfg.strength),
        history=loop.history,
        config=cfg,
        seed=seed,
        weights={"source": weights.spec.name, "path": str(weights.path), "sha256": weights.sha256},
        elapsed=loop.elapsed(),
        interrupted=loop.stopped or stopped,
        device=str(device),
        precision=precision,
        painting=painting,
        photo=photo,
        memory={
            "tile": tile if tiled else None,
            "halo": halo(deep) if tiled else None,
            "tiled_sizes": tiled,
            "lbfgs_history": history if cfg.optimizer == "lbfgs" else None,
            "estimated_peak_gib": round(fit.need / 2**30, 2),
        },
    )


class _Keeper:
    """Keeps a run's checkpoint (if it has one): after each scale, within a scale once
    ``checkpoint.every`` seconds have passed since the last, and when it stops."""

    def __init__(self, checkpoint: Checkpoint | None, key: resume.RunKey | None, seed: int):
        self.checkpoint, self.key, self.seed = checkpoint, key, seed
        self.last = time.perf_counter()
        self.warned = False

    def within(self, loop: Loop, scale: int, pixels: torch.Tensor) -> None:
        if self.checkpoint is not None and time.perf_counter() - self.last >= self.checkpoint.every:
            self.keep(loop, scale, loop.steps_at(scale), pixels)

    def keep(self, loop: Loop, scale: int, done: int, pixels: torch.Tensor) -> None:
        if self.checkpoint is None or self.key is None:
            return
        snap = Snapshot(
            scale, done, pixels, loop.history, loop.curvature, loop.elapsed(), self.seed
        )
        self.last = time.perf_counter()
        try:
            resume.save(self.checkpoint, self.key, snap)
        except OSError as exc:  # a full disk: the run is worth more than its checkpoint
            if not self.warned:
                log.warning(
                    "could not keep the checkpoint %s (%s); the run goes on",
                    self.checkpoint.path,
                    exc,
                )
            self.warned = True


def _where(snap: Snapshot, plan: Plan) -> str:
    """Where a checkpoint's run stood, in words."""
    if snap.scale >= len(plan):
        return "every scale had finished"
    (h, w), steps = plan[snap.scale]
    return f"scale {snap.scale + 1} of {len(plan)} ({w}×{h}), step {snap.done} of {steps}"


def _history(cfg: Config, plan: Plan) -> int:
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
    image: ImageLike,
    content: ImageLike,
    styles: ImageLike | Sequence[ImageLike],
    cfg: Config | None = None,
) -> dict[str, float]:
    """The objective of ``cfg`` (default: painterly's defaults) at ``image``, in float32,
    with targets made at the image's size as a run of that size makes them."""
    cfg = (cfg or Config()).replace(size=1 << 30, scales=1, precision="fp32")
    x = images.load_image(image)
    hw = (x.shape[-2], x.shape[-1])
    device = pick_device(cfg.device)
    styles = style_list(styles)
    inputs = prepare(cfg, content, styles)
    net = build_network(cfg, load_weights(cfg.weights), inputs.content, hw, device)
    weights = check_style_weights(cfg, len(styles))
    evaluator = Evaluator(net, device, "fp32")
    step = build_step(cfg, evaluator, inputs, image_weights=weights, size=hw, final=hw)
    with torch.no_grad():
        terms: LossTerms = step.loss(x.to(device))
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

"""The network as a run uses it: VGG-19 on one device, in one precision and memory
layout, giving the features of the target images (shared through a
:class:`~painterly.engine.targets.FeatureCache`) and the loss and gradient of the image
being optimised.

:meth:`Evaluator.loss_and_grad` is the one place where the optimised image meets the
network: whole, or over tiles whose sums make the whole image's (see
:mod:`painterly.engine.tiled_step`). A :class:`ScaleStep` binds an evaluator to one
scale's objective and tile side: it is what the optimiser calls.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Mapping, Sequence
from dataclasses import dataclass

import torch

from ..config.settings import Config
from ..files import images
from ..nn.kernels import FAST_PATH, FastPath
from ..nn.vgg import VGG19Features, pooling_gains
from ..nn.weights import LoadedWeights
from . import tiled_step, tiles
from .objective import LossTerms, Objective
from .precision import autocast
from .targets import FeatureCache
from .tiled_step import TileFn

# Without gradients the network keeps only about two layers' activations at a time (a
# fifth of what a pass with gradients keeps): the statistics pass of a tiled step reads
# tiles this many times wider, in the same memory and with less halo.
STATISTICS_TILE_FACTOR = 2
ObjectiveFn = Callable[[Mapping[str, torch.Tensor], torch.Tensor], LossTerms]


def build_network(
    cfg: Config,
    weights: LoadedWeights,
    photo: torch.Tensor,
    hw: tuple[int, int],
    device: torch.device,
    *,
    precision: str = "fp32",
    fast: FastPath = FAST_PATH,
) -> VGG19Features:
    """The network a config needs on ``device`` in ``precision``: average pooling
    calibrated on ``photo`` at the size ``hw``, weights channels-last if the config asks,
    and stored in bf16 for a bf16 run with ``fast.native_weights``."""
    layers = [*cfg.content_layers, *cfg.style_layers]
    gains = None
    if cfg.pooling == "avg":
        sample = images.resize(photo, hw).to(device)
        gains = pooling_gains(weights, layers, cfg.padding, sample)
    native = fast.native_weights and precision == "bf16"
    return VGG19Features(
        weights,
        layers,
        cfg.pooling,
        cfg.padding,
        dtype=torch.bfloat16 if native else torch.float32,
        channels_last=cfg.channels_last,
        fast=fast,
        pool_gains=gains,
    ).to(device)


class Evaluator:
    """Evaluates the objective and its gradient for one network, device, precision and
    memory layout; complete when built (it changes nothing of the network).

    >>> evaluator = Evaluator(net, torch.device("cpu"), "fp32")  # doctest: +SKIP
    >>> evaluator.targets(photo, ["block4_conv2"])["block4_conv2"].shape  # doctest: +SKIP
    """

    def __init__(
        self,
        net: VGG19Features,
        device: torch.device,
        precision: str,
        *,
        cache: FeatureCache | None = None,
        native_gram: bool = FAST_PATH.native_gram,
    ) -> None:
        self.net, self.device, self.precision, self.cache = net, device, precision, cache
        self.native_gram = native_gram
        self.channels_last = net.channels_last
        self.deepest = net.names[-1]
        gains = tuple(net.pool_gains.values()) if net.pooling == "avg" else ()
        # What decides a target's features besides the image: runs that agree share them.
        self.key: Hashable = (
            net.weights_sha256,
            net.pooling,
            gains,
            net.padding_mode,
            precision,
            str(device),
        )

    def targets(self, image: torch.Tensor, layers: Sequence[str]) -> dict[str, torch.Tensor]:
        """The float32 features of a target image at ``layers``, from the shared cache
        when there is one (which then keeps every layer the network gives)."""
        if self.cache is None:
            return self._compute(image, layers)
        every = sorted(self.net.wanted)
        return self.cache.features(image, self.key, layers, lambda x: self._compute(x, every))

    def _compute(self, image: torch.Tensor, layers: Sequence[str]) -> dict[str, torch.Tensor]:
        with torch.no_grad(), autocast(self.device, self.precision):
            feats = self.net(self.layout(image.to(self.device)))
        return {k: feats[k].float() for k in layers}

    def layout(self, image: torch.Tensor) -> torch.Tensor:
        """The network's input in the memory layout of its weights."""
        if self.channels_last:
            return image.contiguous(memory_format=torch.channels_last)
        return image

    def features(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        """The features of ``x`` at every layer the network gives, differentiable."""
        feats = self.network_features(x)
        if not self.native_gram:  # the losses' float32 copies, made here
            return {k: v.float() for k, v in feats.items()}
        return feats

    def network_features(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        """The network's own maps for ``x`` (in its precision), differentiable."""
        with autocast(self.device, self.precision):
            feats: dict[str, torch.Tensor] = self.net(self.layout(x))
        return feats

    def loss(self, x: torch.Tensor, objective: ObjectiveFn) -> LossTerms:
        """The objective at ``x``, differentiable with respect to ``x``."""
        return objective(self.features(x), x)

    def tiles_for(self, height: int, width: int, tile: int | None) -> list[tiles.Tile] | None:
        """The tiles of side ``tile`` of an image of this size, or None to take it whole."""
        if tile is None or max(height, width) <= tile:
            return None
        return tiles.split(height, width, tile, self.deepest)

    def loss_and_grad(
        self,
        x: torch.Tensor,
        objective: ObjectiveFn,
        *,
        tile: int | None = None,
        on_tile: TileFn | None = None,
    ) -> LossTerms:
        """The objective at ``x``, its gradient added to ``x.grad``: whole, or in tiles of
        ``tile`` px where the image is larger (the same values up to rounding, see
        :mod:`painterly.engine.tiled_step`); ``on_tile`` hears of each tile's pass."""
        height, width = x.shape[-2], x.shape[-1]
        parts = self.tiles_for(height, width, tile)
        if parts is not None and tile is not None and isinstance(objective, Objective):
            wide = tiles.split(height, width, STATISTICS_TILE_FACTOR * tile, self.deepest)
            return tiled_step.loss_and_grad(
                self.network_features, x, objective, parts, on_tile, wide
            )
        terms = self.loss(x, objective)
        terms.total.backward()  # type: ignore[no-untyped-call]
        return terms


@dataclass(frozen=True)
class ScaleStep:
    """One scale's evaluation: an evaluator, the objective at that scale and the tile
    side its steps take (None: whole images). Built by
    :func:`painterly.transfer.scale.build_step`."""

    evaluator: Evaluator
    objective: Objective
    tile: int | None = None

    def loss_and_grad(self, x: torch.Tensor, on_tile: TileFn | None = None) -> LossTerms:
        """The objective at ``x`` with its gradient added to ``x.grad``."""
        return self.evaluator.loss_and_grad(x, self.objective, tile=self.tile, on_tile=on_tile)

    def loss(self, x: torch.Tensor) -> LossTerms:
        """The objective at ``x`` (no gradient is taken unless the caller asks)."""
        return self.evaluator.loss(x, self.objective)

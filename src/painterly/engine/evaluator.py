"""The network as a run uses it: VGG-19 on one device, in one precision and memory
layout, giving the features of the target images (shared through a
:class:`~painterly.engine.targets.FeatureCache`) and the loss and gradient of the image being
optimised.

:meth:`Extractor.loss_and_grad` is the one place where the optimised image meets the
network: a variant that computes features and gradients over parts of the image (tiles)
replaces that method and nothing else.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Mapping, Sequence

import torch

from ..config.settings import Config
from ..files import images
from ..nn.vgg import VGG19Features
from ..nn.weights import LoadedWeights
from . import tiled_step, tiles
from .objective import LossTerms, Objective
from .precision import FAST_PATH, FastPath, autocast
from .targets import FeatureCache
from .tiled_step import TileFn

STATISTICS_TILE_FACTOR = 2
ObjectiveFn = Callable[[Mapping[str, torch.Tensor], torch.Tensor], LossTerms]


def build_network(
    cfg: Config,
    weights: LoadedWeights,
    photo: torch.Tensor,
    hw: tuple[int, int],
    device: torch.device,
) -> VGG19Features:
    """The network a config needs on ``device``: average pooling calibrated on ``photo``
    at the size ``hw``, weights channels-last if the config asks."""
    layers = [*cfg.content_layers, *cfg.style_layers]
    net = VGG19Features(weights, layers, cfg.pooling, cfg.padding).to(device)
    if cfg.pooling == "avg":
        net.calibrate_pooling(images.resize(photo, hw).to(device))
    if cfg.channels_last:
        net.to_channels_last()
    return net


class Extractor:
    """Features and gradients from one network, device, precision and memory layout.

    >>> extractor = Extractor(cfg, net, torch.device("cpu"), "fp32")  # doctest: +SKIP
    >>> extractor.targets(photo, ["block4_conv2"])["block4_conv2"].shape  # doctest: +SKIP
    """

    def __init__(
        self,
        cfg: Config,
        net: VGG19Features,
        device: torch.device,
        precision: str,
        cache: FeatureCache | None = None,
        fast: FastPath = FAST_PATH,
    ) -> None:
        self.net, self.device, self.precision, self.cache = net, device, precision, cache
        self.fast = fast
        if fast.native_weights and precision == "bf16":
            net.cast_weights(torch.bfloat16)
        net.fused, net.lean_input = fast.fused_relu, fast.lean_input
        net.packed = fast.packed_weights
        if device.type == "cuda":  # a run convolves the same shapes many times: autotune
            torch.backends.cudnn.benchmark = True
        self.channels_last = cfg.channels_last
        self.deepest = net.names[-1]
        # Tiles of this side where the image is larger (None: whole images); set per
        # scale by the run. ``on_tile`` hears of each tile's pass during a tiled step.
        self.tile: int | None = None
        self.on_tile: TileFn | None = None
        gains = tuple(net.pool_gains.values()) if cfg.pooling == "avg" else ()
        # What decides a target's features besides the image: runs that agree share them.
        self.key: Hashable = (cfg.weights, cfg.pooling, gains, cfg.padding, precision, str(device))

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
        if not self.fast.native_gram:  # the losses' float32 copies, made here
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

    def tiles_for(self, height: int, width: int) -> list[tiles.Tile] | None:
        """The tiles of an image of this size, or None to take it whole."""
        if self.tile is None or max(height, width) <= self.tile:
            return None
        return tiles.split(height, width, self.tile, self.deepest)

    def loss_and_grad(self, x: torch.Tensor, objective: ObjectiveFn) -> LossTerms:
        """The objective at ``x``, its gradient added to ``x.grad``: whole, or tile by
        tile (the same values up to rounding, see :mod:`painterly.engine.tiled_step`)."""
        parts = self.tiles_for(x.shape[-2], x.shape[-1])
        if parts is not None and isinstance(objective, Objective):
            assert self.tile is not None
            # Without gradients the network keeps only about two layers' activations
            # at a time (a fifth of what a pass with gradients keeps): tiles twice as
            # wide fit in the same memory, and their halos cost less.
            height, width = x.shape[-2], x.shape[-1]
            wide = tiles.split(height, width, STATISTICS_TILE_FACTOR * self.tile, self.deepest)
            return tiled_step.loss_and_grad(
                self.network_features, x, objective, parts, self.on_tile, wide
            )
        terms = self.loss(x, objective)
        terms.total.backward()  # type: ignore[no-untyped-call]
        return terms

"""The loss and gradient of a whole image computed tile by tile, exactly.

The style statistics (Gram matrices; W2's means and covariances) are sums over
positions, so a first pass without gradients adds them up over the tiles
(:mod:`painterly.engine.tiles`) into the whole image's. With those totals held fixed, the
loss's gradient with respect to each tile's features is local: for
``E = c * ||G - A||^2`` it is ``2c (D + D^T) F_t`` with ``D = G - A``, given by each
style module's ``pullback``. A second pass backpropagates it through each tile, with
the content loss (a sum over positions) of the tile's core, and adds the tile's
gradient into the image's. The total variation is computed on the whole image (no
network: it is cheap). So L-BFGS sees the untiled loss and gradient up to float
rounding, at the price of one extra forward pass and the halos.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Protocol

import torch

from ..nn.layers import layer_shapes, stride
from .losses import Sums, Window, positions_by_filters, total_variation
from .objective import LossTerms, Objective
from .tiles import Tile

# (tile passes done, tile passes in the step): a step makes two passes over its tiles.
TileFn = Callable[[int, int], None]
Features = Callable[[torch.Tensor], dict[str, torch.Tensor]]
Key = tuple[int, str]  # (style image, layer)


class _Statistic(Protocol):
    def sums(self, flat: torch.Tensor, mask: torch.Tensor | None) -> Sums: ...
    def from_sums(self, sums: Sums, positions: int) -> torch.Tensor: ...
    def pullback(
        self, flat: torch.Tensor, mask: torch.Tensor | None, grads: Sums
    ) -> torch.Tensor: ...
    def mask_window(self, hw: tuple[int, int], window: Window) -> torch.Tensor | None: ...


def _wide(t: torch.Tensor) -> torch.Tensor:
    """Sums over tiles are kept in float64 (Apple's MPS has none: float32 there)."""
    return t.float() if t.device.type == "mps" else t.double()


def _style_modules(objective: Objective) -> Iterator[tuple[Key, _Statistic]]:
    for i, losses in enumerate(objective.styles):
        assert isinstance(losses, torch.nn.ModuleDict)
        for layer, module in losses.items():
            yield (i, layer), module  # type: ignore[misc]


def loss_and_grad(
    features: Features,
    x: torch.Tensor,
    objective: Objective,
    tiles: list[Tile],
    on_tile: TileFn | None = None,
    statistics_tiles: list[Tile] | None = None,
) -> LossTerms:
    """The objective at ``x`` (1×3×H×W), its gradient added to ``x.grad``, computed
    over ``tiles`` with ``features`` (the network's own maps, differentiable, not
    copies: see :func:`_backward_tile`); the pass without
    gradients may take larger ``statistics_tiles`` (it keeps no activations)."""
    report = on_tile or (lambda done, total: None)
    first = statistics_tiles or tiles
    passes = len(first) + len(tiles)
    shapes = {name: (h, w) for name, _, h, w in layer_shapes(x.shape[-2], x.shape[-1])}
    totals: dict[Key, Sums] = {}
    for k, tile in enumerate(first):
        with torch.no_grad():
            _add_sums(totals, objective, features(tile.cut(x.detach())), tile, shapes)
        report(k + 1, passes)
    style, grads = _style_loss_and_grads(objective, totals, shapes)
    grad = torch.zeros_like(x, memory_format=torch.contiguous_format)
    content = x.new_zeros(())
    for k, tile in enumerate(tiles):
        content = content + _backward_tile(features, x, objective, tile, grads, shapes, grad)
        report(len(first) + k + 1, passes)
    tv = _pixel_term(x, total_variation, grad, objective.tv_weight)
    extra = None if objective.extra is None else _pixel_term(x, objective.extra, grad)
    x.grad = grad if x.grad is None else x.grad + grad
    style = style.to(x.device)
    total = (
        objective.style_weight * style
        + objective.content_weight * content
        + objective.tv_weight * tv
    )
    if extra is None:
        return LossTerms(total, content, style, tv)
    return LossTerms(total + extra, content, style, tv, extra)


def _add_sums(
    totals: dict[Key, Sums],
    objective: Objective,
    feats: dict[str, torch.Tensor],
    tile: Tile,
    shapes: dict[str, tuple[int, int]],
) -> None:
    """Add one tile's statistics (float64) to ``totals``; unmasked statistics of one
    kind are computed once per layer and shared by the styles."""
    shared: dict[tuple[str, type], Sums] = {}
    for (i, layer), module in _style_modules(objective):
        local, place = tile.at(stride(layer))
        flat = positions_by_filters(feats[layer][..., local[0], local[1]])
        mask = module.mask_window(shapes[layer], place)
        key = (layer, type(module))
        if mask is not None or key not in shared:
            sums = tuple(_wide(s) for s in module.sums(flat, mask))
            if mask is None:
                shared[key] = sums
        else:
            sums = shared[key]
        before = totals.get((i, layer))
        if before is not None:
            sums = tuple(a + b for a, b in zip(before, sums, strict=True))
        totals[(i, layer)] = sums


def _style_loss_and_grads(
    objective: Objective, totals: dict[Key, Sums], shapes: dict[str, tuple[int, int]]
) -> tuple[torch.Tensor, dict[Key, Sums]]:
    """The style loss of the whole image (float32, on the CPU) and the gradient of the
    weighted total with respect to each statistic."""
    style = torch.zeros(())
    grads: dict[Key, Sums] = {}
    for (i, layer), module in _style_modules(objective):
        leaves = tuple(s.detach().requires_grad_(True) for s in totals[(i, layer)])
        h, w = shapes[layer]
        with torch.enable_grad():
            loss = module.from_sums(leaves, h * w)
        weight = objective.style_image_weights[i] * objective.layer_weights[layer]
        found = torch.autograd.grad(loss, leaves)
        grads[(i, layer)] = tuple(g * (weight * objective.style_weight) for g in found)
        style = style + weight * float(loss.detach())
    return style, grads


def _backward_tile(
    features: Features,
    x: torch.Tensor,
    objective: Objective,
    tile: Tile,
    grads: dict[Key, Sums],
    shapes: dict[str, tuple[int, int]],
    grad: torch.Tensor,
) -> torch.Tensor:
    """Backpropagate one tile's share of the loss; add its pixels' gradient to ``grad``
    and return its (unweighted) content loss.

    Each loss layer's gradient (its *seed*, over the core only) goes in where the
    gradient from the layers above arrives: a hook adds it, in place, to the core of
    that gradient. Backpropagating through a slice of the feature map instead would
    make a zero map of the whole tile, copy the seed in and add the two maps: at 4096 px
    those passes over bf16 maps took a quarter of a tiled step. The deepest layer has
    nothing above it: its seed, as a whole map, starts the backward pass.
    """
    crop = tile.cut(x.detach()).clone().requires_grad_(True)
    feats = features(crop)
    content = crop.new_zeros(())
    seeds: dict[str, torch.Tensor] = {}
    for layer, module in objective.content.items():
        local, place = tile.at(stride(layer))
        core = feats[layer][..., local[0], local[1]].detach().requires_grad_(True)
        with torch.enable_grad():
            value = module(core, place)
        (seeds[layer],) = torch.autograd.grad(value * objective.content_weight, core)
        content = content + value.detach()
    for layer in objective.layer_weights:
        local, place = tile.at(stride(layer))
        core = feats[layer][..., local[0], local[1]].detach()
        flat = positions_by_filters(core, keep_bf16=True)
        parts = [
            style.pullback(flat, style.mask_window(shapes[layer], place), grads[(i, name)])
            for (i, name), style in _style_modules(objective)
            if name == layer
        ]
        pulled = sum(parts[1:], parts[0])
        as_map = pulled.view(1, *core.shape[-2:], -1).permute(0, 3, 1, 2)
        seeds[layer] = as_map if layer not in seeds else seeds[layer] + as_map
    last = next(reversed(feats))  # the network ends at the deepest layer it gives
    start = torch.zeros_like(feats[last])
    for layer, seed in seeds.items():
        local, _ = tile.at(stride(layer))
        if layer == last:
            start[..., local[0], local[1]] = seed
        else:
            feats[layer].register_hook(_adding(seed, local))  # type: ignore[no-untyped-call]
    torch.autograd.backward([feats[last]], [start])
    assert crop.grad is not None
    tile.cut(grad).add_(crop.grad)
    return content.detach()


def _adding(seed: torch.Tensor, core: Window) -> Callable[[torch.Tensor], torch.Tensor]:
    """A hook that adds ``seed`` to the ``core`` of a feature map's gradient, in place:
    the gradient is the fresh output of the one layer that reads the map (a convolution
    or a pooling), which nothing else holds."""

    def hook(arriving: torch.Tensor) -> torch.Tensor:
        arriving[..., core[0], core[1]] += seed
        return arriving

    return hook


def _pixel_term(
    x: torch.Tensor,
    term: Callable[[torch.Tensor], torch.Tensor],
    grad: torch.Tensor,
    weight: float = 1.0,
) -> torch.Tensor:
    """A loss term on the whole image's pixels (total variation, a caller's extra
    term), unweighted; its weighted gradient is added to ``grad``. Cheap next to the
    network's tiles."""
    if not weight:
        return x.new_zeros(())
    leaf = x.detach().requires_grad_(True)
    value = term(leaf)
    (value * weight).backward()  # type: ignore[no-untyped-call]
    assert leaf.grad is not None
    grad += leaf.grad
    return value.detach()

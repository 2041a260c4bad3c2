"""What the benchmarks borrow from the engine.

The probes time painterly's own step, piece by piece, so they reach below the public API:
the network and its oneDNN kernels, the evaluator, the objective, the memory plan, the
speed levers and the precision probe, and the way ``painterly.transfer.run`` builds a
scale's step. This is the only module of ``benchmarks/`` that imports those internals
(``painterly.engine``, ``painterly.nn``, ``painterly.transfer.inputs`` and ``.scale``): when
their names change, only this module changes. The public API (``painterly.stylize``,
``painterly.transfer.run``, ``Config``, ``painterly.files``, ``painterly.explain``,
``painterly.video``, ``painterly.batch``) is used where it is needed.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import fields, replace
from pathlib import Path

import torch

from painterly.config.settings import Config, check_style_weights
from painterly.engine.evaluator import Evaluator, build_network
from painterly.engine.losses import gram_per_position
from painterly.engine.memory import available_bytes, estimate_peak_bytes, tiled_peak_bytes
from painterly.engine.memory import plan as plan_memory
from painterly.engine.objective import objective_for
from painterly.engine.precision import faster_precision, resolve_precision
from painterly.files import images
from painterly.nn.kernels import FAST_PATH, SLOW_PATH, FastPath, fused_conv, pack
from painterly.nn.layers import INDEX, LAYERS, deepest
from painterly.nn.vgg import VGG19Features
from painterly.nn.weights import load_weights
from painterly.transfer.inputs import prepare
from painterly.transfer.result import Result
from painterly.transfer.scale import build_step

__all__ = [
    "FAST_PATH",
    "PLAIN_PASSES",
    "SLOW_PATH",
    "FastPath",
    "LossAndGrad",
    "available_bytes",
    "conv_shapes",
    "deepest_layer",
    "estimate_peak_bytes",
    "faster_precision",
    "feature_network",
    "gradient_step",
    "gram_per_position",
    "levers",
    "objective_total",
    "packed_conv",
    "plan_memory",
    "resolve_precision",
    "scale_steps",
    "step_times",
    "tiled_peak_bytes",
    "without",
]

Shape = tuple[int, int, int, int]  # (in channels, out channels, height, width)
Features = dict[str, torch.Tensor]
LossAndGrad = Callable[[torch.Tensor], object]  # a step's loss, its gradient added to x.grad
# Differentiable passes the network takes at an input shape before it packs its weights
# for that shape: a probe of the packed step warms up with that many.
PLAIN_PASSES: int = VGG19Features.PLAIN_PASSES


def levers() -> tuple[str, ...]:
    """The names of the speed levers (the fields of ``FastPath``)."""
    return tuple(f.name for f in fields(FastPath))


def without(lever: str) -> FastPath:
    """Every speed lever on but ``lever``."""
    return replace(FAST_PATH, **{lever: False})


def deepest_layer(cfg: Config) -> str:
    """The deepest layer a config's losses read."""
    return deepest([*cfg.content_layers, *cfg.style_layers])


def conv_shapes(height: int, width: int, last: str) -> list[Shape]:
    """The convolutions of VGG-19 up to ``last`` for an input of ``height×width``."""
    shapes, h, w, cin = [], height, width, 3
    for layer in LAYERS[: INDEX[last] + 1]:
        if layer.kind == "pool":
            h, w = h // 2, w // 2
            continue
        shapes.append((cin, layer.channels, h, w))
        cin = layer.channels
    return shapes


def packed_conv(
    weight: torch.Tensor, bias: torch.Tensor, x_shape: Sequence[int]
) -> Callable[[torch.Tensor], None]:
    """A convolution's forward pass and input gradient as painterly's bf16 CPU step runs
    them: weights packed once for oneDNN, the input gradient as a forward convolution of
    the flipped kernel (no ReLU)."""
    forward, back = pack(weight, x_shape)

    def once(x: torch.Tensor) -> None:
        y = fused_conv(x, forward, bias, "none")
        fused_conv(torch.ones_like(y), back, None, "none")

    return once


def gradient_step(
    cfg: Config,
    photo: torch.Tensor,
    style: torch.Tensor,
    hw: tuple[int, int],
    device: torch.device,
    fast: FastPath,
) -> Callable[[], None]:
    """painterly's step at ``hw`` in ``cfg.precision`` with the levers ``fast``: the
    features of the image (the photo), the objective against ``photo`` and ``style``
    (both resized to ``hw``) and its gradient; each call takes one step."""
    precision = cfg.precision
    net = build_network(cfg, load_weights(), photo, hw, device, precision=precision, fast=fast)
    evaluator = Evaluator(net, device, precision, native_gram=fast.native_gram)
    content = evaluator.targets(images.resize(photo, hw), cfg.content_layers)
    styles = evaluator.targets(images.resize(style, hw), cfg.style_layers)
    objective = objective_for(cfg, content, [styles], style_image_weights=[1.0]).to(device)
    x = images.resize(photo, hw).to(device).contiguous().requires_grad_(True)

    def step() -> None:
        x.grad = None
        evaluator.loss_and_grad(x, objective)

    return step


def scale_steps(
    cfg: Config,
    content: Path,
    styles: Sequence[Path],
    longest: int,
    device: torch.device,
    tiles: Sequence[int | None],
) -> tuple[torch.Tensor, list[LossAndGrad]]:
    """One scale of a run at ``longest`` px as ``painterly.transfer.run`` builds it (the
    network, the evaluator, the targets and the objective of ``cfg``): the photo at that
    size, and the step's loss and gradient (added to ``x.grad``) for each tile side of
    ``tiles`` (None: whole)."""
    inputs = prepare(cfg, content, styles)
    hw = images.fit_size(inputs.photo.shape[-2], inputs.photo.shape[-1], longest)
    precision = cfg.precision
    net = build_network(
        cfg, load_weights(cfg.weights), inputs.content, hw, device, precision=precision
    )
    evaluator = Evaluator(net, device, precision)
    weights = check_style_weights(cfg, len(styles))
    step = build_step(cfg, evaluator, inputs, image_weights=weights, size=hw, final=hw)
    steps: list[LossAndGrad] = [replace(step, tile=tile).loss_and_grad for tile in tiles]
    return images.resize(inputs.content, hw), steps


def step_times(result: Result) -> list[float]:
    """Seconds from a run's start to the end of each of its steps."""
    return [record.time for record in result.history]


def feature_network(layers: Sequence[str]) -> Callable[[torch.Tensor], Features]:
    """VGG-19 with the default weights, giving the features at ``layers`` (float32)."""
    net: Callable[[torch.Tensor], Features] = VGG19Features(load_weights(), list(layers))
    return net


def objective_total(
    cfg: Config,
    content: Mapping[str, torch.Tensor],
    style: Mapping[str, torch.Tensor],
    features: Mapping[str, torch.Tensor],
    x: torch.Tensor,
) -> float:
    """painterly's objective of ``cfg`` for targets of one content and one style image,
    at an image ``x`` whose features are ``features``."""
    objective = objective_for(cfg, content, [style], style_image_weights=[1.0])
    return float(objective(features, x).total)

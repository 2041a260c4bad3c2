"""Speed probes: the convolutions a step needs, alone, and a whole step of a transfer.

A step's floor is its convolutions: the 13 of the default layers (up to block5_conv1)
at the step's own shapes, forward and input gradient, channels-last, in the run's
precision, with no ReLU, pooling, loss or optimiser. :func:`conv_time` times exactly
that; :func:`Stepper` times painterly's step (network, losses, backward) at the same
size, with the speed levers of :class:`painterly.engine.precision.FastPath` on or off.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from pathlib import Path

import torch
from torch.nn import functional as F

from painterly.config.settings import Config
from painterly.engine.evaluator import Extractor, build_network
from painterly.engine.objective import objective_for
from painterly.engine.precision import FastPath
from painterly.files import images
from painterly.nn.layers import INDEX, LAYERS, deepest
from painterly.nn.vgg import VGG19Features, fused_conv, pack
from painterly.nn.weights import load_weights

DTYPES = {"fp32": torch.float32, "bf16": torch.bfloat16, "fp16": torch.float16}
DATA = Path(__file__).resolve().parents[1] / "src" / "painterly" / "data"
Shape = tuple[int, int, int, int]  # (in channels, out channels, height, width)


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


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


def step_flops(height: int, width: int, last: str) -> float:
    """Convolution FLOPs of one forward and backward (input gradients) pass."""
    return sum(4 * cin * cout * 9 * h * w for cin, cout, h, w in conv_shapes(height, width, last))


def default_last() -> str:
    cfg = Config()
    return deepest([*cfg.content_layers, *cfg.style_layers])


def conv_pass(
    height: int,
    width: int,
    precision: str,
    device: torch.device,
    last: str | None = None,
    packed: bool = False,
) -> Callable[[], None]:
    """One pass of the convolutions alone: forward and input gradient of each, on
    random channels-last tensors of the step's shapes (no ReLU, pooling or loss).

    With ``packed`` (bf16 on CPUs), as painterly's step runs them: weights packed for
    oneDNN beforehand and the input gradient as a forward convolution of the flipped
    kernel (see :func:`painterly.nn.vgg.pack`); otherwise as PyTorch's own calls run them.
    """
    dtype = DTYPES[precision]
    layout = torch.channels_last
    convs = []
    for cin, cout, h, w in conv_shapes(height, width, last or default_last()):
        x = torch.randn(1, cin, h, w, dtype=dtype, device=device).contiguous(memory_format=layout)
        weight = torch.randn(cout, cin, 3, 3, dtype=dtype, device=device)
        bias = torch.randn(cout, dtype=dtype, device=device)
        x.requires_grad_(not packed)
        convs.append((x, weight.contiguous(memory_format=layout), bias))

    def once() -> None:
        for x, weight, bias in convs:
            y = F.conv2d(x, weight, bias, padding=1)
            torch.autograd.grad(y, x, torch.ones_like(y))
        sync(device)

    if not packed:
        return once
    packs = [(x, bias, pack(weight, x.shape)) for x, weight, bias in convs]

    def packed_once() -> None:
        for x, bias, (forward, back) in packs:
            y = fused_conv(x, forward, bias, "none")
            fused_conv(torch.ones_like(y), back, None, "none")

    return packed_once


class Stepper:
    """painterly's step (features, objective, gradient) on the bundled pair at one size,
    with the levers ``fast``; call it to take one step."""

    def __init__(
        self, height: int, width: int, precision: str, device: torch.device, fast: FastPath
    ) -> None:
        cfg = Config(precision=precision)
        photo = images.load_image(DATA / "tubingen.jpg")
        style = images.load_image(DATA / "starry_night.jpg")
        hw = (height, width)
        net = build_network(cfg, load_weights(), photo, hw, device)
        self.extractor = Extractor(cfg, net, device, precision, fast=fast)
        content = self.extractor.targets(images.resize(photo, hw), cfg.content_layers)
        styles = self.extractor.targets(images.resize(style, hw), cfg.style_layers)
        self.objective = objective_for(cfg, content, [styles], [1.0]).to(device)
        self.x = images.resize(photo, hw).to(device).contiguous().requires_grad_(True)
        self.device = device
        for _ in range(VGG19Features.PLAIN_PASSES):  # a scale's first steps, before packing
            self()

    def __call__(self) -> None:
        self.x.grad = None
        self.extractor.loss_and_grad(self.x, self.objective)
        sync(self.device)


def timed(fn: Callable[[], None]) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def interleaved(fns: Mapping[str, Callable[[], None]], repeats: int) -> dict[str, list[float]]:
    """Seconds of each of ``fns`` over ``repeats`` rounds, one call of each per round
    (after one warm-up call each), so that a changing load falls on all alike."""
    for fn in fns.values():
        fn()
    times: dict[str, list[float]] = {name: [] for name in fns}
    for _ in range(repeats):
        for name, fn in fns.items():
            times[name].append(timed(fn))
    return times


def paired_ratios(numerators: list[float], denominators: list[float]) -> list[float]:
    """Each round's ratio of two timings taken in the same round of :func:`interleaved`
    (a machine whose speed drifts between rounds slows both of a round alike)."""
    return [a / b for a, b in zip(numerators, denominators, strict=True)]

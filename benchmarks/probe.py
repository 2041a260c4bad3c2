"""Speed probes: the convolutions a step needs, alone, and a whole step of a transfer.

A step's floor is its convolutions: the 13 of the default layers (up to block5_conv1)
at the step's own shapes, forward and input gradient, channels-last, in the run's
precision, with no ReLU, pooling, loss or optimiser. :func:`conv_pass` times exactly
that; :class:`Stepper` times painterly's step (network, losses, backward) at the same
size, with the speed levers (``engine.FastPath``) on or off. Time them side by side
with :func:`benchmarks.harness.interleaved`.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch.nn import functional as F

from painterly.config.settings import Config
from painterly.files import images
from painterly.files.samples import bundled

from . import engine

DTYPES = {"fp32": torch.float32, "bf16": torch.bfloat16, "fp16": torch.float16}


def sync(device: torch.device) -> None:
    """Wait for the device's queued work (a GPU's calls return before they finish)."""
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def step_flops(height: int, width: int, last: str) -> float:
    """Convolution FLOPs of one forward and backward (input gradients) pass."""
    shapes = engine.conv_shapes(height, width, last)
    return sum(4 * cin * cout * 9 * h * w for cin, cout, h, w in shapes)


def default_last() -> str:
    """The deepest layer of the default losses."""
    return engine.deepest_layer(Config())


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
    kernel (see :func:`benchmarks.engine.packed_conv`); otherwise as PyTorch's own calls
    run them.
    """
    dtype = DTYPES[precision]
    layout = torch.channels_last
    convs = []
    for cin, cout, h, w in engine.conv_shapes(height, width, last or default_last()):
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
    packs = [(x, engine.packed_conv(weight, bias, x.shape)) for x, weight, bias in convs]

    def packed_once() -> None:
        for x, conv in packs:
            conv(x)

    return packed_once


class Stepper:
    """painterly's step (features, objective, gradient) on the bundled pair at one size,
    with the levers ``fast``; call it to take one step."""

    def __init__(
        self, height: int, width: int, precision: str, device: torch.device, fast: engine.FastPath
    ) -> None:
        photo = images.load_image(bundled("tubingen.jpg"))
        style = images.load_image(bundled("starry_night.jpg"))
        cfg = Config(precision=precision)
        self.step = engine.gradient_step(cfg, photo, style, (height, width), device, fast)
        self.device = device
        for _ in range(engine.PLAIN_PASSES):  # a scale's first steps, before packing
            self()

    def __call__(self) -> None:
        self.step()
        sync(self.device)

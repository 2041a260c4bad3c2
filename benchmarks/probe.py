"""Speed probes: convolution throughput and per-step time of a transfer."""

from __future__ import annotations

import time

import torch
from torch.nn import functional as F

from painterly.config import Config
from painterly.layers import INDEX, LAYERS, deepest
from painterly.objective import objective_for
from painterly.runtime import autocast
from painterly.vgg import VGG19Features
from painterly.weights import load_weights

DTYPES = {"fp32": torch.float32, "bf16": torch.bfloat16}
# Representative VGG-19 convolutions (in, out, side) at the scale of a 512 px step.
PROBE_SHAPES = ((64, 64, 256), (128, 128, 128), (256, 256, 64), (512, 512, 32))


def conv_throughput(precision: str, repeats: int = 4) -> float:
    """GFLOP/s of forward plus input-gradient 3×3 convolutions, channels-last."""
    dtype, flops, seconds = DTYPES[precision], 0.0, 0.0
    for cin, cout, side in PROBE_SHAPES:
        x = (
            torch.randn(1, cin, side, side, dtype=dtype)
            .contiguous(memory_format=torch.channels_last)
            .requires_grad_(True)
        )
        w = torch.randn(cout, cin, 3, 3, dtype=dtype).contiguous(memory_format=torch.channels_last)

        def once(x: torch.Tensor = x, w: torch.Tensor = w) -> None:
            y = F.conv2d(x, w, padding=1)
            (grad,) = torch.autograd.grad(y, x, torch.ones_like(y))
            del grad

        once()
        start = time.perf_counter()
        for _ in range(repeats):
            once()
        seconds += time.perf_counter() - start
        flops += repeats * 2 * (2 * cin * cout * 9 * side * side)
    return flops / seconds / 1e9


def step_flops(height: int, width: int, last: str) -> float:
    """Convolution FLOPs of one forward and backward (input gradients) pass."""
    total, h, w, cin = 0.0, height, width, 3
    for layer in LAYERS[: INDEX[last] + 1]:
        if layer.kind == "pool":
            h, w = h // 2, w // 2
            continue
        total += 2 * cin * layer.channels * 9 * h * w
        cin = layer.channels
    return 2 * total


def step_time(side: int, precision: str, cfg: Config | None = None, repeats: int = 3) -> float:
    """Seconds per optimiser evaluation (forward, losses, backward) at side×side."""
    cfg = cfg or Config()
    layers = [*cfg.content_layers, *cfg.style_layers]
    net = VGG19Features(load_weights(), layers).to_channels_last()
    device = torch.device("cpu")
    image = torch.rand(1, 3, side, side)
    with torch.no_grad(), autocast(device, precision):
        feats = {k: v.float() for k, v in net(image).items()}
    objective = objective_for(cfg, feats, [feats], [1.0])
    x = torch.rand(1, 3, side, side, requires_grad=True)

    def once() -> None:
        with autocast(device, precision):
            out = net(x.contiguous(memory_format=torch.channels_last))
        objective(out, x).total.backward()

    once()
    start = time.perf_counter()
    for _ in range(repeats):
        once()
    return (time.perf_counter() - start) / repeats


def default_step_flops(side: int) -> float:
    cfg = Config()
    return step_flops(side, side, deepest([*cfg.content_layers, *cfg.style_layers]))

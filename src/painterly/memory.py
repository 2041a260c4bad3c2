"""Peak-memory estimate of a run, so that a size that cannot fit is refused before
any allocation."""

from __future__ import annotations

import os
from collections.abc import Sequence

import torch

from .errors import ConfigError
from .layers import INDEX, layer_shapes

# Bytes kept per activation value through forward and backward (activations, their
# gradients, pooling indices). Measured: a 2048×1536 fp32 step up to block5_conv1 peaked
# at 7.1 GiB, 7.0 bytes per value over the overhead; 8 leaves a margin. bf16 autocast
# keeps extra half-precision copies.
BYTES_PER_ACTIVATION = {"fp32": 8.0, "bf16": 10.0}
OVERHEAD_BYTES = 600 * 2**20  # interpreter, torch and the weights
# L-BFGS keeps two float32 vectors the size of the image per history entry.
LBFGS_BYTES_PER_PIXEL_AND_ENTRY = 2 * 3 * 4


def activations(height: int, width: int, deepest: str) -> int:
    """Activation values of every layer up to ``deepest`` for one image."""
    last = INDEX[deepest]
    return sum(c * h * w for _, c, h, w in layer_shapes(height, width)[: last + 1])


def estimate_peak_bytes(
    height: int, width: int, deepest: str, precision: str, history: int = 0
) -> int:
    """Peak memory of a step at this size, with an L-BFGS history of ``history`` entries."""
    network = activations(height, width, deepest) * BYTES_PER_ACTIVATION[precision]
    optimiser = LBFGS_BYTES_PER_PIXEL_AND_ENTRY * history * height * width
    return int(network + optimiser + OVERHEAD_BYTES)


def available_bytes(device: torch.device | None = None) -> int:
    """Memory a run on ``device`` may use: a CUDA device's free memory; for the CPU (and
    Apple's MPS, which shares it) the host's MemAvailable, else its physical memory."""
    if device is not None and device.type == "cuda":
        free, _total = torch.cuda.mem_get_info(device)
        return int(free)
    return host_bytes()


def host_bytes() -> int:
    """The host's MemAvailable, else its physical memory."""
    try:
        with open("/proc/meminfo") as handle:
            for line in handle:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")


def check_fits(
    height: int,
    width: int,
    deepest: str,
    precision: str,
    size: int,
    history: int = 0,
    device: torch.device | None = None,
) -> None:
    """Raise :class:`ConfigError` naming the largest size that fits on ``device`` (default:
    the host), if this one does not."""
    have = available_bytes(device)

    def need(scale: float) -> int:
        h, w = round(height * scale), round(width * scale)
        return estimate_peak_bytes(h, w, deepest, precision, history)

    if need(1.0) <= have:
        return
    fit = size
    while fit > 16 and need(fit / size) > have:
        fit = int(fit * 0.95)
    raise ConfigError(
        f"{{field}} {size} needs about {need(1.0) / 2**30:.1f} GiB but {have / 2**30:.1f} GiB "
        f"is available: use {{field}} {fit} or less",
        "size",
    )


def forward_peak_bytes(height: int, width: int, kept: Sequence[str]) -> int:
    """Peak memory of forward passes without gradients (float32) that keep the layers
    ``kept`` of two images at once (as scoring does) while a third passes through the
    network, whose widest step holds a layer's input and output."""
    shapes = {name: c * h * w for name, c, h, w in layer_shapes(height, width)}
    last = max(INDEX[name] for name in kept)
    widest = max(list(shapes.values())[: last + 1])
    values = 2 * sum(shapes[name] for name in kept) + 2 * widest
    return int(4 * values + OVERHEAD_BYTES)


def check_forward_fits(height: int, width: int, kept: Sequence[str], what: str) -> None:
    """Raise :class:`ConfigError` naming the largest longer side that fits, if
    :func:`forward_peak_bytes` at this size exceeds the memory available."""
    have = available_bytes()
    need = forward_peak_bytes(height, width, kept)
    if need <= have:
        return
    side = max(height, width)
    while side > 16:
        side = int(side * 0.95)
        scale = side / max(height, width)
        if forward_peak_bytes(round(height * scale), round(width * scale), kept) <= have:
            break
    raise ConfigError(
        f"{what} at {width}×{height} needs about {need / 2**30:.1f} GiB but "
        f"{have / 2**30:.1f} GiB is available: downscale it to {side} px on its longer side"
    )

"""Peak-memory estimate of a run, so that a size that cannot fit is refused before
any allocation."""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass

import torch

from ..errors import ConfigError
from ..nn.layers import INDEX, halo, layer_shapes

# Bytes kept per activation value through forward and backward (activations, their
# gradients, pooling masks, and the image-sized buffers, which grow with them), and what
# a process holds before its first step (interpreter, torch, the weights and, in bf16,
# their packed copies). Fitted to the peaks that ``python -m benchmarks memory``
# measures (each constant 2% above the fit, which runs through the largest peaks), so
# that the estimate is not below a peak and within about 10% above it.
BYTES_PER_ACTIVATION = {"fp32": 8.2, "bf16": 7.35}
OVERHEAD_BYTES = {"fp32": int(0.87 * 2**30), "bf16": int(0.67 * 2**30)}
# L-BFGS keeps two float32 vectors the size of the image per history entry.
LBFGS_BYTES_PER_PIXEL_AND_ENTRY = 2 * 3 * 4
# A tiled step keeps more per value of the tile it runs (the first pass's sums in
# float64, the features of both passes), and beside the L-BFGS history some buffers at
# the whole image's size: the image, its gradient, L-BFGS's direction, the start, photo
# and content images, the content target, and in bf16 their half-precision copies and
# the gradient's accumulators. Fitted as above, from steps of 256 and 512 px tiles at
# 1024 to 2048 px.
TILED_BYTES_PER_ACTIVATION = {"fp32": 11.95, "bf16": 9.1}
IMAGE_BYTES_PER_PIXEL = {"fp32": 72, "bf16": 347}
# Tile sides tried, largest first, when a whole step does not fit; below the smallest
# the halos cost more than the cores.
TILE_SIDES = (2048, 1536, 1024, 768, 512, 384, 256)
# The history is shrunk to fit, but not below this (see the README's measurement).
MIN_HISTORY = 10
# Before tiles get smaller, the history is shortened down to this.
SHORT_HISTORY = 20
# A run plans with this share of the memory free when it starts: the estimate is an
# estimate, and other programs on the machine keep growing while a long run goes on.
HEADROOM = 0.9


def activations(height: int, width: int, deepest: str) -> int:
    """Activation values of every layer up to ``deepest`` for one image."""
    last = INDEX[deepest]
    return sum(c * h * w for _, c, h, w in layer_shapes(height, width)[: last + 1])


def estimate_peak_bytes(
    height: int, width: int, deepest: str, precision: str, history: int = 0
) -> int:
    """Peak memory of a step at this size, with an L-BFGS history of ``history`` entries."""
    network = activations(height, width, deepest) * BYTES_PER_ACTIVATION[precision]
    optimizer = LBFGS_BYTES_PER_PIXEL_AND_ENTRY * history * height * width
    return int(network + optimizer + OVERHEAD_BYTES[precision])


def tiled_peak_bytes(
    height: int, width: int, deepest: str, precision: str, tile: int, history: int = 0
) -> int:
    """Peak memory of a step in tiles of ``tile`` px: one tile and its halos through the
    network, plus what the run keeps at the whole image's size."""
    read = tile + 2 * halo(deepest)
    network = activations(min(height, read), min(width, read), deepest)
    per_pixel = IMAGE_BYTES_PER_PIXEL[precision] + LBFGS_BYTES_PER_PIXEL_AND_ENTRY * history
    image = per_pixel * height * width
    tile_bytes = network * TILED_BYTES_PER_ACTIVATION[precision]
    return int(tile_bytes + image + OVERHEAD_BYTES[precision])


@dataclass(frozen=True)
class MemoryPlan:
    """How a run's last scale fits: whole or in tiles, and the L-BFGS history it keeps."""

    tile: int | None  # None: whole steps
    history: int
    need: int  # estimated peak, bytes
    have: int  # the budget, bytes

    def fits_whole(self, height: int, width: int, deepest: str, precision: str) -> bool:
        """Whether a whole step at this size fits the budget (for the coarser scales)."""
        return estimate_peak_bytes(height, width, deepest, precision, self.history) <= self.have


def available_bytes(device: torch.device | None = None) -> int:
    """Memory a run on ``device`` may use: :data:`HEADROOM` of a CUDA device's free
    memory, or for the CPU (and Apple's MPS, which shares it) of the host's MemAvailable,
    else of its physical memory."""
    if device is not None and device.type == "cuda":
        free, _total = torch.cuda.mem_get_info(device)
        return int(HEADROOM * free)
    return int(HEADROOM * host_bytes())


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


def plan(
    height: int,
    width: int,
    deepest: str,
    precision: str,
    history: int = 0,
    tile: int | None = None,
    have: int | None = None,
) -> MemoryPlan | None:
    """How a step at this size fits in ``have`` bytes (default: what is available), or
    None if nothing fits. A given ``tile`` is kept.

    Whole steps if they fit; else the largest tile whose longest fitting history is at
    least :data:`SHORT_HISTORY` (or the history asked for, if shorter): halos around
    small tiles cost time at every step, while a history of 20 instead of 40 costs
    L-BFGS next to nothing (see the README's measurement); else the largest tile with
    at least :data:`MIN_HISTORY`.
    """
    budget = available_bytes() if have is None else have
    whole = estimate_peak_bytes(height, width, deepest, precision, history)
    if tile is None and whole <= budget:
        return MemoryPlan(None, history, whole, budget)
    sides = (tile,) if tile is not None else [t for t in TILE_SIDES if t < max(height, width)]
    sides = sides or [TILE_SIDES[-1]]
    for floor in (min(history, SHORT_HISTORY), min(history, MIN_HISTORY)):
        for side in sides:
            fit = _longest_history(height, width, deepest, precision, side, history, budget)
            if fit >= floor:
                need = tiled_peak_bytes(height, width, deepest, precision, side, fit)
                return MemoryPlan(side, fit, need, budget)
    return None


def _longest_history(
    height: int, width: int, deepest: str, precision: str, side: int, most: int, budget: int
) -> int:
    """The most L-BFGS entries, up to ``most``, that fit beside tiles of ``side`` px
    (-1 if the tiles alone do not fit)."""
    bare = tiled_peak_bytes(height, width, deepest, precision, side)
    if bare > budget:
        return -1
    return int(min(most, (budget - bare) // (LBFGS_BYTES_PER_PIXEL_AND_ENTRY * height * width)))


def check_fits(
    height: int,
    width: int,
    deepest: str,
    precision: str,
    *,
    size: int,
    history: int = 0,
    device: torch.device | None = None,
    tile: int | None = None,
) -> MemoryPlan:
    """How this size fits on ``device`` (default: the host), whole or in tiles (see
    :func:`plan`); raise :class:`ConfigError` naming the largest size that fits if it
    cannot fit even in tiles."""
    have = available_bytes(device)
    found = plan(height, width, deepest, precision, history, tile, have)
    if found is not None:
        return found

    def fits(scale: float) -> bool:
        h, w = round(height * scale), round(width * scale)
        return plan(h, w, deepest, precision, history, tile, have) is not None

    fit = size
    while fit > 16 and not fits(fit / size):
        fit = int(fit * 0.95)
    side = tile or TILE_SIDES[-1]
    need = tiled_peak_bytes(height, width, deepest, precision, side, min(history, MIN_HISTORY))
    raise ConfigError(
        f"{{field}} {size} needs about {need / 2**30:.1f} GiB even in tiles but "
        f"{have / 2**30:.1f} GiB is available: use {{field}} {fit} or less",
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
    return int(4 * values + OVERHEAD_BYTES["fp32"])


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

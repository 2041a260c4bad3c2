"""Peak-memory estimate of a run, so that a size that cannot fit is refused before
any allocation."""

from __future__ import annotations

import os

from .errors import ConfigError
from .layers import INDEX, layer_shapes

# Bytes kept per activation value through forward and backward (activations, their
# gradients, bf16 copies and pooling indices), measured on the CPU: see benchmarks/.
BYTES_PER_ACTIVATION = {"fp32": 12.0, "bf16": 12.0}
OVERHEAD_BYTES = 600 * 2**20  # interpreter, torch and the weights


def activations(height: int, width: int, deepest: str) -> int:
    """Activation values of every layer up to ``deepest`` for one image."""
    last = INDEX[deepest]
    return sum(c * h * w for _, c, h, w in layer_shapes(height, width)[: last + 1])


def estimate_peak_bytes(height: int, width: int, deepest: str, precision: str) -> int:
    return int(
        activations(height, width, deepest) * BYTES_PER_ACTIVATION[precision] + OVERHEAD_BYTES
    )


def available_bytes() -> int:
    """Memory the process may use: MemAvailable, else physical memory."""
    try:
        with open("/proc/meminfo") as handle:
            for line in handle:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")


def check_fits(height: int, width: int, deepest: str, precision: str, size: int) -> None:
    """Raise :class:`ConfigError` naming the largest size that fits, if this one does not."""
    need = estimate_peak_bytes(height, width, deepest, precision)
    have = available_bytes()
    if need <= have:
        return
    fit = size
    while (
        fit > 16
        and estimate_peak_bytes(
            round(height * fit / size), round(width * fit / size), deepest, precision
        )
        > have
    ):
        fit = int(fit * 0.95)
    raise ConfigError(
        f"size {size} needs about {need / 2**30:.1f} GiB but {have / 2**30:.1f} GiB is "
        f"available: use --size {fit} or less"
    )

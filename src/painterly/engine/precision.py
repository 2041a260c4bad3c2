"""Where and in what precision the network runs."""

from __future__ import annotations

import contextlib
import functools
import time
from collections.abc import Iterator

import torch

from ..errors import ConfigError


def pick_device(name: str = "auto") -> torch.device:
    """``auto`` → CUDA if present, else Apple's MPS, else the CPU."""
    if name == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        if torch.backends.mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    available = {
        "cpu": True,
        "cuda": torch.cuda.is_available(),
        "mps": torch.backends.mps.is_available(),
    }
    if not available.get(name, False):
        raise ConfigError(
            f"device '{name}' is not available here: set {{field}} to cpu or auto", "device"
        )
    return torch.device(name)


def bf16_supported(device: torch.device) -> bool:
    """Whether bf16 convolutions are native (and fast) on this device."""
    if device.type == "cuda":
        return bool(torch.cuda.is_bf16_supported())
    if device.type == "cpu":
        return bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())
    return False


@functools.cache
def faster_precision(device_type: str) -> str:
    """``bf16`` if a probe convolution runs at least 15% faster in bf16 than in fp32.

    CPUs differ: some run oneDNN's bf16 convolutions at twice the fp32 rate, others
    (AVX-512 BF16 without AMX, seen on painterly's CI machine) at half of it. The
    probe costs about 0.1 s, once per process.

    The probe runs on one thread. On two threads, with another busy process on the
    machine, each convolution waited for its second thread's turn on a core: both
    precisions took the scheduler's time slice, and the probe picked fp32 on an AMX
    machine where bf16 is several times faster. One thread measures the arithmetic
    alone, and the ratio of the two precisions is the same per core.
    """
    device = torch.device(device_type)
    if device.type == "cuda":
        return "bf16" if bf16_supported(device) else "fp32"
    if not bf16_supported(device):
        return "fp32"
    return choose(probe_rates(device))


def choose(rates: dict[str, float]) -> str:
    """The pick from the probe's rates: ``bf16`` only when at least 15% faster."""
    return "bf16" if rates["bf16"] > rates["fp32"] * 1.15 else "fp32"


def probe_rates(device: torch.device) -> dict[str, float]:
    """The probe of :func:`faster_precision`: GFLOP/s of one 3×3 convolution of 128
    channels at 48×48 px in fp32 and bf16, the best of four turns on one thread."""
    own = torch.Generator().manual_seed(0)  # the caller's global generator is left alone
    x = torch.randn(1, 128, 48, 48, generator=own).to(device, memory_format=torch.channels_last)
    w = torch.randn(128, 128, 3, 3, generator=own).to(device, memory_format=torch.channels_last)
    pairs = {"fp32": (x, w), "bf16": (x.bfloat16(), w.bfloat16())}
    times = {name: float("inf") for name in pairs}
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        for _ in range(4):  # in turns, the best of each: a loaded machine slows both alike
            for name, (xd, wd) in pairs.items():
                start = time.perf_counter()
                torch.nn.functional.conv2d(xd, wd, padding=1)
                if device.type == "cuda":
                    torch.cuda.synchronize(device)
                times[name] = min(times[name], time.perf_counter() - start)
    finally:
        torch.set_num_threads(threads)
    flop = 2 * 128 * 128 * 9 * 48 * 48
    return {name: flop / max(seconds, 1e-9) / 1e9 for name, seconds in times.items()}


def resolve_precision(precision: str, device: torch.device) -> str:
    """``auto`` → whichever of bf16 and fp32 convolves faster on this device."""
    if precision == "auto":
        return faster_precision(device.type)
    if precision == "bf16" and device.type == "mps":
        raise ConfigError(
            "precision 'bf16' is not supported on mps: set {field} to fp32", "precision"
        )
    return precision


@contextlib.contextmanager
def autocast(device: torch.device, precision: str) -> Iterator[None]:
    """bf16 autocast for the convolutions; losses cast back to float32 themselves."""
    if precision == "bf16":
        with torch.autocast(device.type, dtype=torch.bfloat16):
            yield
    else:
        yield


@contextlib.contextmanager
def backend_settings(device: torch.device) -> Iterator[None]:
    """The backend switches a run wants, restored when it ends: on CUDA, cuDNN's
    autotuner (a run convolves the same shapes many times)."""
    if device.type != "cuda":
        yield
        return
    before = torch.backends.cudnn.benchmark
    torch.backends.cudnn.benchmark = True
    try:
        yield
    finally:
        torch.backends.cudnn.benchmark = before

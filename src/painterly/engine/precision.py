"""Where and in what precision the network runs."""

from __future__ import annotations

import contextlib
import ctypes
import functools
import os
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass

import torch

from ..errors import ConfigError

# glibc's mallopt parameters (malloc.h) and the values painterly sets.
M_TRIM_THRESHOLD, M_MMAP_THRESHOLD = -1, -3
MMAP_THRESHOLD = 64 << 20
TRIM_THRESHOLD = 512 << 20


def keep_freed_memory() -> bool:
    """Let glibc keep freed buffers of up to 64 MiB for reuse instead of returning them
    to the kernel; return whether it was set.

    By default glibc serves each allocation over 32 MiB (fewer, early on) with a fresh
    ``mmap``, unmaps it when freed, and trims the heap's free top. A step allocates and
    frees the same feature maps every time, so each came back as new pages to fault in
    and zero: 7,800 page faults and 0.1 CPU seconds in the kernel per 512 px step
    (``getrusage``), and a bf16 to float32 cast of block1's features 6× slower than into
    memory already touched. Kept, a step after the first few faults in next to nothing.
    The cost: the freed memory stays with the process (up to 512 MiB of it at the top
    of the heap), a 512 px step's peak 0.1–0.25 GiB higher. Buffers over 64 MiB, as at
    4096 px, are mapped and unmapped as before (with 2 MiB pages, see ``__init__``).

    Only glibc on Linux has ``mallopt``; elsewhere, or when the user set a threshold
    through glibc's own ``MALLOC_MMAP_THRESHOLD_`` / ``MALLOC_TRIM_THRESHOLD_``, or
    ``PAINTERLY_KEEP_FREED=0`` (what ``benchmarks/run.py --pages`` compares against),
    nothing changes. Dask's nanny sets ``MALLOC_TRIM_THRESHOLD_`` for its workers (it
    wants freed memory back for its memory limits), so a Dask worker keeps Dask's choice.
    """
    if not sys.platform.startswith("linux") or os.environ.get("PAINTERLY_KEEP_FREED") == "0":
        return False
    if {"MALLOC_MMAP_THRESHOLD_", "MALLOC_TRIM_THRESHOLD_"} & set(os.environ):
        return False
    try:
        mallopt = ctypes.CDLL(None).mallopt  # the C library already loaded: no search
    except (OSError, AttributeError):  # musl and other C libraries lack mallopt
        return False
    kept = mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD) and mallopt(M_TRIM_THRESHOLD, TRIM_THRESHOLD)
    return bool(kept)


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
    precisions took the scheduler's 16 ms slice, and the probe picked fp32 on an AMX
    machine where bf16 is 3–5× faster (measured 2026-11-29: five probes of six during a
    test run, and a demo of 77 s instead of about 25). One thread measures the
    arithmetic alone, and the ratio of the two precisions is the same per core.
    """
    device = torch.device(device_type)
    if device.type == "cuda":
        return "bf16" if bf16_supported(device) else "fp32"
    if not bf16_supported(device):
        return "fp32"
    x = torch.randn(1, 128, 48, 48, device=device).contiguous(memory_format=torch.channels_last)
    w = torch.randn(128, 128, 3, 3, device=device).contiguous(memory_format=torch.channels_last)
    pairs = {"fp32": (x, w), "bf16": (x.bfloat16(), w.bfloat16())}
    times = {name: float("inf") for name in pairs}
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        for _ in range(4):  # in turns, the best of each: a loaded machine slows both alike
            for name, (xd, wd) in pairs.items():
                start = time.perf_counter()
                torch.nn.functional.conv2d(xd, wd, padding=1)
                times[name] = min(times[name], time.perf_counter() - start)
    finally:
        torch.set_num_threads(threads)
    return "bf16" if times["bf16"] * 1.15 < times["fp32"] else "fp32"


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


@dataclass(frozen=True)
class FastPath:
    """The speed levers of a step, each a switch (``benchmarks/run.py`` compares a step
    with all of them off, today's default with all on, and one at a time).

    - ``native_weights``: a bf16 run stores the weights in bf16 (autocast would cast
      all of them at every step);
    - ``fused_relu``: each convolution and its ReLU in one oneDNN call (CPUs), and
      with the max pooling after it in one function whose ReLU mask is applied at the
      pooled size;
    - ``native_gram``: the Gram loss's gradient taken in bf16 from the bf16 features
      (float32 accumulation), not in float32 and cast back; and the Gram matrix, which
      stays float32 (rounded to bf16 it moved a 40-step run's style error by 0.03),
      taken on oneDNN's bf16 units from the exact float32 copy of the bf16 features;
    - ``lean_input``: the colour convention without a gather (whose gradient is slow);
    - ``packed_weights``: the fused calls of a step convolve with weights packed once
      per scale (from its third step) in oneDNN's blocked layout, and take the input's
      gradient as a forward convolution of the flipped kernel (see
      :func:`painterly.nn.vgg.pack`).

    None of them changes a float32 run's numbers.
    """

    native_weights: bool = True
    fused_relu: bool = True
    native_gram: bool = True
    lean_input: bool = True
    packed_weights: bool = True


FAST_PATH = FastPath()  # the default: every lever on
SLOW_PATH = FastPath(False, False, False, False, False)  # the step as it was before them

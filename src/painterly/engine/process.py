"""Tuning the process for painterly's steps: an explicit call made by painterly's own
entry points (the command line, the studio, a Dask worker), never by importing the
library.

Each setting changes the whole process: the C library's heap, PyTorch's allocator,
oneDNN's matrix products. A program that uses painterly as a library keeps its own
settings unless it calls :func:`tune_process` itself. This module imports no PyTorch,
so that an entry point can call it before PyTorch's first allocation.
"""

from __future__ import annotations

import ctypes
import os
import sys
from dataclasses import dataclass

# Set by tune_process: whether painterly owns the process, and so may switch oneDNN's
# float32 products to its bf16 units around its own Gram products (see engine.losses).
_OWNED = {"bf16_gram": False}


@dataclass(frozen=True)
class Tuning:
    """What :func:`tune_process` set."""

    huge_pages: bool  # PyTorch's CPU allocator asked for 2 MiB pages
    keep_freed: bool  # glibc keeps freed buffers for reuse
    bf16_gram: bool  # Gram products of bf16 features may use oneDNN's bf16 units


def tune_process() -> Tuning:
    """Tune this process for painterly's steps, as ``painterly`` the command does; return
    what was set.

    - PyTorch's CPU allocator backs large tensors with 2 MiB pages
      (``THP_MEM_ALLOC_ENABLE``, read at PyTorch's first allocation, so only when this
      runs before ``import torch``; a value the user set is kept). A 4096 px step
      allocates and frees buffers of hundreds of MB, each costing hundreds of thousands
      of page faults with 4 KiB pages.
    - glibc keeps freed buffers for the next step (:func:`keep_freed_memory`).
    - The Gram matrix of bf16 features, taken in float32 from their exact copies, may
      run on oneDNN's bf16 units (the same float32 result, faster where the CPU has
      AMX). The switch is process-wide while a product runs, so a library call never
      makes it: a matrix product of the host's own in another thread would run in bf16.

    >>> import painterly
    >>> painterly.tune_process()  # doctest: +SKIP
    Tuning(huge_pages=True, keep_freed=True, bf16_gram=True)
    """
    huge = "torch" not in sys.modules
    if huge:
        os.environ.setdefault("THP_MEM_ALLOC_ENABLE", "1")
    _OWNED["bf16_gram"] = True
    return Tuning(huge_pages=huge, keep_freed=keep_freed_memory(), bf16_gram=True)


def owns_process() -> bool:
    """Whether :func:`tune_process` was called: painterly may change process-wide
    switches around its own work."""
    return _OWNED["bf16_gram"]


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
    and zero: thousands of page faults per step, and casts into fresh memory several
    times slower than into memory already touched (``benchmarks/run.py --pages``).
    Kept, a step after the first few faults in next to nothing.
    The cost: the freed memory stays with the process (up to 512 MiB of it at the top
    of the heap), a step's peak somewhat higher. Buffers over 64 MiB, as at 4096 px, are
    mapped and unmapped as before (with 2 MiB pages, see :func:`tune_process`).

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

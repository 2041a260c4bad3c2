"""The oneDNN kernels behind a fast CPU step, and the switches that turn each on.

The fused calls use private oneDNN operators of PyTorch (``torch.ops.mkldnn``): a
convolution with its ReLU as one call, and weights packed once in oneDNN's blocked
layout. :func:`onednn_kernels` checks once per process that those operators exist and
agree with a plain convolution; where they do not (another build of PyTorch, another
CPU), :func:`fusable` says no and the network runs plain convolutions with the same
numbers.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

log = logging.getLogger(__name__)


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
      :func:`pack`).

    None of them changes a float32 run's numbers.
    """

    native_weights: bool = True
    fused_relu: bool = True
    native_gram: bool = True
    lean_input: bool = True
    packed_weights: bool = True


FAST_PATH = FastPath()  # the default: every lever on
SLOW_PATH = FastPath(False, False, False, False, False)  # the step as it was before them


def fusable(conv: nn.Conv2d, x: torch.Tensor) -> bool:
    """Whether oneDNN can run ``conv`` and its ReLU on ``x`` as one call: on CPUs, zero
    padding, and ``x`` already in bf16 like the weights (in float32 the fused call's
    gradient differs from the unfused one by rounding at small sizes: float32 runs keep
    their exact numbers)."""
    if x.device.type != "cpu" or conv.padding_mode != "zeros":
        return False
    if x.dtype != torch.bfloat16 or conv.weight.dtype != torch.bfloat16:
        return False
    if torch.is_autocast_enabled("cpu") and torch.get_autocast_dtype("cpu") != x.dtype:
        return False
    return onednn_kernels()


@functools.cache
def onednn_kernels() -> bool:
    """Whether this PyTorch has the oneDNN operators the fused calls use and they give a
    plain convolution's map and input gradient on a small bf16 probe (checked once)."""
    try:
        own = torch.Generator().manual_seed(0)  # the caller's global generator is left alone
        x = torch.randn(1, 8, 6, 6, generator=own).bfloat16()
        x = x.contiguous(memory_format=torch.channels_last)
        w = torch.randn(8, 8, 3, 3, generator=own).bfloat16()
        w = w.contiguous(memory_format=torch.channels_last)
        b = torch.randn(8, generator=own).bfloat16()
        want = torch.relu(torch.conv2d(x.float(), w.float(), b.float(), padding=1))
        packs = pack(w, x.shape)
        grad = torch.ones(1, 8, 6, 6).bfloat16().contiguous(memory_format=torch.channels_last)
        pairs = [
            (fused_conv(x, w, b, "relu"), want),
            (fused_conv(x, packs[0], b, "relu"), want),
            (_input_grad(grad, x, w, packs), _input_grad(grad, x, w, None)),
        ]
        for got, expected in pairs:
            if not _close(got.float(), expected.float()):
                raise RuntimeError("a fused call disagrees with the plain convolution")
    except (RuntimeError, AttributeError, TypeError, NotImplementedError) as exc:
        log.info("oneDNN's fused kernels are not usable here (%s): plain convolutions", exc)
        return False
    return True


def _close(a: torch.Tensor, b: torch.Tensor) -> bool:
    """Equal up to bf16 rounding: a relative error under 2%."""
    return a.shape == b.shape and float((a - b).norm()) <= 0.02 * float(b.norm()) + 1e-6


ONE, TWO = [1, 1], [2, 2]
Packs = tuple[torch.Tensor, torch.Tensor]  # a convolution's weights, oneDNN-blocked: see pack


def pack(w: torch.Tensor, x_shape: Sequence[int]) -> Packs:
    """The weights ``w`` of a 3×3 convolution (stride 1, padding 1) in oneDNN's blocked
    layout for inputs of ``x_shape``, and those of its input gradient: the kernel flipped
    and its filters transposed, so that the gradient is a forward convolution too.

    oneDNN reorders plain weights into its blocked layout at every call, twice per
    convolution and step. Packed once per scale, the calls skip that; and for some
    shapes oneDNN's forward kernel is faster than its backward-data one. The gradient is
    the same: the transposed convolution with padding 1 is this convolution of the
    flipped kernel (``benchmarks/run.py --levers`` measures each lever).
    """
    shape = list(x_shape)
    forward = torch.ops.mkldnn._reorder_convolution_weight(w, ONE, ONE, ONE, 1, shape)
    flipped = w.flip(2, 3).transpose(0, 1).contiguous(memory_format=torch.channels_last)
    back = torch.ops.mkldnn._reorder_convolution_weight(
        flipped, ONE, ONE, ONE, 1, [shape[0], w.shape[0], *shape[2:]]
    )
    return forward, back


def fused_conv(
    x: torch.Tensor, weight: torch.Tensor, b: torch.Tensor | None, attr: str
) -> torch.Tensor:
    """A 3×3 convolution (padding 1) and its post-op ``attr`` in one oneDNN call."""
    y: torch.Tensor = torch.ops.mkldnn._convolution_pointwise(
        x, weight, b, ONE, ONE, ONE, 1, attr, [None], ""
    )
    return y


def _input_grad(
    grad: torch.Tensor, x: torch.Tensor, w: torch.Tensor, packs: Packs | None
) -> torch.Tensor:
    """The gradient of a 3×3 convolution's input (not of its weights)."""
    if packs is not None:
        return fused_conv(grad, packs[1], None, "none")
    dx: torch.Tensor = torch.ops.aten.convolution_backward(
        grad, x, w, None, ONE, ONE, ONE, False, [0, 0], 1, [True, False, False]
    )[0]
    return dx


class _ConvReLU(torch.autograd.Function):
    """``relu(conv3x3(x, w) + b)`` as one oneDNN call (the ReLU as a post-op: no second
    pass over the output), and only the input's gradient on the way back; with
    ``packs`` (see :func:`pack`) on weights already in oneDNN's layout."""

    @staticmethod
    def forward(
        ctx: Any, x: torch.Tensor, w: torch.Tensor, b: torch.Tensor | None, packs: Packs | None
    ) -> torch.Tensor:
        y = fused_conv(x, w if packs is None else packs[0], b, "relu")
        ctx.save_for_backward(x, w, y)
        ctx.packs = packs
        return y

    @staticmethod
    def backward(ctx: Any, grad: torch.Tensor) -> tuple[torch.Tensor, None, None, None]:
        x, w, y = ctx.saved_tensors
        masked = torch.ops.aten.threshold_backward(grad, y, 0)
        return _input_grad(masked, x, w, ctx.packs), None, None, None


class _ConvReLUPool(torch.autograd.Function):
    """``max_pool2d(relu(conv3x3(x, w) + b), 2)`` with the ReLU's mask applied on the
    way back at the pooled size, a quarter of the pixels.

    The pooling's gradient reaches only the position of each window's maximum, where the
    ReLU's output equals the pooled value; so masking the pooled gradient where that value
    is zero gives exactly what masking the unpooled one does, without a full-size pass.
    """

    @staticmethod
    def forward(
        ctx: Any, x: torch.Tensor, w: torch.Tensor, b: torch.Tensor | None, packs: Packs | None
    ) -> torch.Tensor:
        y = fused_conv(x, w if packs is None else packs[0], b, "relu")
        pooled, where = torch.ops.aten.max_pool2d_with_indices(y, TWO, TWO, [0, 0], ONE, False)
        ctx.save_for_backward(x, w, y, pooled, where)
        ctx.packs = packs
        return pooled  # type: ignore[no-any-return]

    @staticmethod
    def backward(ctx: Any, grad: torch.Tensor) -> tuple[torch.Tensor, None, None, None]:
        x, w, y, pooled, where = ctx.saved_tensors
        masked = torch.ops.aten.threshold_backward(grad, pooled, 0)
        spread = torch.ops.aten.max_pool2d_with_indices_backward(
            masked, y, TWO, TWO, [0, 0], ONE, False, where
        )
        return _input_grad(spread, x, w, ctx.packs), None, None, None


def conv_relu_pool(
    x: torch.Tensor, w: torch.Tensor, b: torch.Tensor | None, packs: Packs | None = None
) -> torch.Tensor:
    """``max_pool2d(relu(conv2d(x, w, b, padding=1)), 2)`` (see :class:`_ConvReLUPool`)."""
    y: torch.Tensor = _ConvReLUPool.apply(x, w, b, packs)  # type: ignore[no-untyped-call]
    return y


def conv_relu(
    x: torch.Tensor, w: torch.Tensor, b: torch.Tensor | None, packs: Packs | None = None
) -> torch.Tensor:
    """``relu(conv2d(x, w, b, padding=1))`` in one fused call (see :func:`fusable`)."""
    y: torch.Tensor = _ConvReLU.apply(x, w, b, packs)  # type: ignore[no-untyped-call]
    return y

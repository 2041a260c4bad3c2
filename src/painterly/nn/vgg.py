"""VGG-19's convolutional part as a feature extractor with named layers."""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterable, Sequence
from typing import Any

import torch
from torch import nn
from torch.nn import functional as F

from ..errors import ConfigError
from .layers import CONV_NAMES, INDEX, LAYER_NAMES, LAYERS, check_layer
from .weights import LoadedWeights


class VGG19Features(nn.Module):
    """VGG-19 convolutions that return the activations of the requested layers.

    The input is an RGB batch in [0, 1]; the module converts it to the convention of
    its weights (channel order, scale, mean, std), so a caller can never feed the wrong
    normalisation. The network is cut after the deepest layer it is asked for.

    >>> net = VGG19Features(load_weights(), layers=["block1_conv1"])  # doctest: +SKIP
    >>> net(torch.rand(1, 3, 64, 64))["block1_conv1"].shape  # doctest: +SKIP
    torch.Size([1, 64, 64, 64])
    """

    order: torch.Tensor
    mean: torch.Tensor
    std: torch.Tensor

    def __init__(
        self,
        weights: LoadedWeights,
        layers: Iterable[str],
        pooling: str = "max",
        padding_mode: str = "zeros",
    ) -> None:
        super().__init__()
        wanted = [check_layer(name) for name in layers]
        if not wanted:
            raise ConfigError("no layers requested: name at least one VGG-19 layer", "style_layers")
        if pooling not in ("max", "avg"):
            raise ConfigError(f"unknown pooling '{pooling}': use 'max' or 'avg'", "pooling")
        self.wanted = frozenset(wanted)
        self.pooling = pooling
        last = max(INDEX[name] for name in wanted)
        self.names: tuple[str, ...] = LAYER_NAMES[: last + 1]
        self.convs = nn.ModuleDict()
        for layer in LAYERS[: last + 1]:
            if layer.kind == "conv":
                w, b = weights.tensors[layer.name]
                conv = nn.Conv2d(w.shape[1], w.shape[0], 3, padding=1)
                conv.weight = nn.Parameter(w.clone(), requires_grad=False)
                conv.bias = nn.Parameter(b.clone(), requires_grad=False)
                self.convs[layer.name] = conv
        # Replicate padding on the first convolution avoids dark borders (an option;
        # the original network pads with zeros everywhere).
        first = self.convs[CONV_NAMES[0]]
        assert isinstance(first, nn.Conv2d)
        if padding_mode == "replicate":
            first.padding_mode = "replicate"
        convention = weights.spec.convention
        self.register_buffer("order", torch.tensor(convention.channel_index), persistent=False)
        self.register_buffer(
            "mean", torch.tensor(convention.mean).view(1, 3, 1, 1), persistent=False
        )
        self.register_buffer("std", torch.tensor(convention.std).view(1, 3, 1, 1), persistent=False)
        self.scale = convention.scale
        # Average pooling's output is multiplied by a gain per pooling layer (1 until
        # calibrated): see calibrate_pooling.
        self.pool_gains = {n: 1.0 for n in self.names if n.endswith("_pool")}
        # Speed switches (benchmarks/run.py compares them): each convolution and its ReLU
        # in one oneDNN call on CPUs, and the colour convention applied without a gather.
        self.fused = True
        self.lean_input = True
        # And with ``packed``, a differentiable pass convolves with weights packed for
        # oneDNN (see pack) from the third pass at a shape on, kept for two shapes.
        self.packed = True
        self._packs: OrderedDict[tuple[str, tuple[int, ...]], Packs] = OrderedDict()
        self._passes: OrderedDict[tuple[int, ...], int] = OrderedDict()  # by input shape
        self.requires_grad_(False)

    def to_channels_last(self) -> VGG19Features:
        """Store the convolution weights channels-last (faster with oneDNN and cuDNN)."""
        for conv in self.convs.values():
            assert isinstance(conv, nn.Conv2d)
            conv.weight.data = conv.weight.data.contiguous(memory_format=torch.channels_last)
        self._packs.clear()
        return self

    def cast_weights(self, dtype: torch.dtype) -> VGG19Features:
        """Store the convolutions in ``dtype`` (bf16 runs: no cast of the weights at each
        step); the input's conversion stays in float32."""
        self.convs.to(dtype)
        self._packs.clear()
        return self

    @property
    def dtype(self) -> torch.dtype:
        """The precision the convolutions are stored in."""
        first = self.convs[CONV_NAMES[0]]
        assert isinstance(first, nn.Conv2d)
        return first.weight.dtype

    @torch.no_grad()
    def calibrate_pooling(self, rgb: torch.Tensor) -> dict[str, float]:
        """Set each average-pooling layer's gain so that, on ``rgb``, the mean activation
        of the convolution after it equals what the max-pooling network gives there;
        return the gains.

        Gatys et al. (2015) swap max for average pooling, which shrinks the activations of
        every deeper layer (an average of a ReLU's outputs is below their maximum); the
        gains keep the magnitudes, and so the balance of the losses, as with max pooling.
        """
        peak = average = self.preprocess(rgb)
        for i, name in enumerate(self.names):
            if not name.endswith("_pool"):
                conv = self.convs[name]
                peak, average = F.relu(conv(peak)), F.relu(conv(average))
                continue
            peak, average = F.max_pool2d(peak, 2), F.avg_pool2d(average, 2)
            gain = float(peak.mean() / average.mean().clamp_min(1e-12))
            if i + 1 < len(self.names):  # match the next convolution's mean output
                conv = self.convs[self.names[i + 1]]
                want = float(F.relu(conv(peak)).mean())
                for _ in range(8):  # the mean is nearly proportional to the gain
                    gain *= want / max(float(F.relu(conv(average * gain)).mean()), 1e-12)
            self.pool_gains[name] = gain
            average = average * gain
        return dict(self.pool_gains)

    def preprocess(self, rgb: torch.Tensor) -> torch.Tensor:
        """RGB in [0, 1] → the weights' own input convention."""
        order = self.order.tolist()
        if self.lean_input and order in ([0, 1, 2], [2, 1, 0]):
            # The same values as the gather, whose gradient (index_add_) is slow.
            x = (rgb if order == [0, 1, 2] else rgb.flip(1)) * self.scale
        else:
            x = rgb.index_select(1, self.order) * self.scale
        return (x - self.mean) / self.std

    def forward(self, rgb: torch.Tensor) -> dict[str, torch.Tensor]:
        packing = self._count_pass(rgb)
        x = self.preprocess(rgb).to(self.dtype)
        out: dict[str, torch.Tensor] = {}
        pooled = False  # whether the last convolution also took this pooling layer's place
        for i, name in enumerate(self.names):
            if name.endswith("_pool"):
                if not pooled:
                    x = (
                        F.max_pool2d(x, 2)
                        if self.pooling == "max"
                        else _avg_pool(x, self.pool_gains[name])
                    )
            else:
                conv = self.convs[name]
                assert isinstance(conv, nn.Conv2d)
                after = self.names[i + 1] if i + 1 < len(self.names) else ""
                fused = self.fused and fusable(conv, x)
                pooled = fused and self._pools_before(name, after)
                packs = self._packed_for(name, conv, x) if fused and packing else None
                if pooled:
                    x = conv_relu_pool(x, conv.weight, conv.bias, packs)
                elif fused:
                    x = conv_relu(x, conv.weight, conv.bias, packs)
                else:
                    x = F.relu(conv(x), inplace=True)
            if name in self.wanted:
                out[name] = x
        return out

    def _pools_before(self, name: str, after: str) -> bool:
        """Whether fused convolution ``name`` takes its ReLU and the max pooling ``after``
        it in one function: followed by max pooling, and its own map not wanted (whose
        loss gradient would join the pooling's before the ReLU's mask)."""
        return after.endswith("_pool") and self.pooling == "max" and name not in self.wanted

    PACKED_SHAPES = 2  # input shapes whose packed weights are kept (a scale's, a tile's)
    PLAIN_PASSES = 2  # differentiable passes at an input shape before it is packed for

    def _count_pass(self, rgb: torch.Tensor) -> bool:
        """Count a differentiable pass at ``rgb``'s shape (of the last eight shapes);
        return whether this pass's fused convolutions run packed: only where ``rgb``
        carries a gradient (the steps, not the targets' single passes), and from the third
        pass at a shape on (packing all 13 costs about three steps' worth of reorders,
        which a coarse scale of two steps would never win back)."""
        if not (self.packed and self.fused and rgb.requires_grad):
            return False
        shape = tuple(rgb.shape)
        self._passes[shape] = self._passes.get(shape, 0) + 1
        self._passes.move_to_end(shape)
        while len(self._passes) > 8:
            self._passes.popitem(last=False)
        return self._passes[shape] > self.PLAIN_PASSES

    def _packed_for(self, name: str, conv: nn.Conv2d, x: torch.Tensor) -> Packs:
        """The packed weights of fused convolution ``name`` for ``x``'s shape, in a pass
        that :meth:`_count_pass` packs for; the packs of two shapes are kept."""
        key = (name, tuple(x.shape))
        if key not in self._packs:
            self._packs[key] = pack(conv.weight, x.shape)
            while len(self._packs) > self.PACKED_SHAPES * len(self.convs):
                self._packs.popitem(last=False)
        self._packs.move_to_end(key)
        return self._packs[key]


def _avg_pool(x: torch.Tensor, gain: float) -> torch.Tensor:
    # Gatys et al. 2015 replace max by average pooling; plain averaging shrinks the
    # activations of deeper layers, which the gain (see calibrate_pooling) restores.
    pooled = F.avg_pool2d(x, 2)
    return pooled if gain == 1.0 else pooled * gain


def fusable(conv: nn.Conv2d, x: torch.Tensor) -> bool:
    """Whether oneDNN can run ``conv`` and its ReLU on ``x`` as one call: on CPUs, zero
    padding, and ``x`` already in bf16 like the weights (in float32 the fused call's
    gradient differs from the unfused one by rounding at small sizes: float32 runs keep
    their exact numbers)."""
    if x.device.type != "cpu" or conv.padding_mode != "zeros":
        return False
    if x.dtype != torch.bfloat16 or conv.weight.dtype != torch.bfloat16:
        return False
    return not torch.is_autocast_enabled("cpu") or torch.get_autocast_dtype("cpu") == x.dtype


ONE, TWO = [1, 1], [2, 2]
Packs = tuple[torch.Tensor, torch.Tensor]  # a convolution's weights, oneDNN-blocked: see pack


def pack(w: torch.Tensor, x_shape: Sequence[int]) -> Packs:
    """The weights ``w`` of a 3×3 convolution (stride 1, padding 1) in oneDNN's blocked
    layout for inputs of ``x_shape``, and those of its input gradient: the kernel flipped
    and its filters transposed, so that the gradient is a forward convolution too.

    oneDNN reorders plain weights into its blocked layout at every call: twice per
    convolution and step, 18 ms of a 512 px step. Packed once per scale, the calls skip
    that; and for some shapes oneDNN's forward kernel is faster than its backward-data
    one (256 channels at 96×128: 23 ms against 40 ms). The gradient is the same: the
    transposed convolution with padding 1 is this convolution of the flipped kernel.
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
    is zero gives exactly what masking the unpooled one does, without a full-size pass
    (at 512 px, block1's mask was 14 ms of a step).
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

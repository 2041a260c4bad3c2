"""VGG-19's convolutional part as a feature extractor with named layers."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import torch
from torch import nn
from torch.nn import functional as F

from .errors import ConfigError
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
        self.requires_grad_(False)

    def to_channels_last(self) -> VGG19Features:
        """Store the convolution weights channels-last (faster with oneDNN and cuDNN)."""
        for conv in self.convs.values():
            assert isinstance(conv, nn.Conv2d)
            conv.weight.data = conv.weight.data.contiguous(memory_format=torch.channels_last)
        return self

    def cast_weights(self, dtype: torch.dtype) -> VGG19Features:
        """Store the convolutions in ``dtype`` (bf16 runs: no cast of the weights at each
        step); the input's conversion stays in float32."""
        self.convs.to(dtype)
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
                pooled = self._pools_with(name, after, conv, x)
                x = (
                    conv_relu_pool(x, conv.weight, conv.bias)
                    if pooled
                    else self._conv_relu(conv, x)
                )
            if name in self.wanted:
                out[name] = x
        return out

    def _pools_with(self, name: str, after: str, conv: nn.Conv2d, x: torch.Tensor) -> bool:
        """Whether convolution ``name`` runs with its ReLU and the max pooling ``after``
        it in one function: fused, followed by max pooling, and its own map not wanted
        (whose loss gradient would join the pooling's before the ReLU's mask)."""
        if not (self.fused and after.endswith("_pool") and self.pooling == "max"):
            return False
        return name not in self.wanted and fusable(conv, x)

    def _conv_relu(self, conv: nn.Module, x: torch.Tensor) -> torch.Tensor:
        assert isinstance(conv, nn.Conv2d)
        if self.fused and fusable(conv, x):
            return conv_relu(x, conv.weight, conv.bias)
        return F.relu(conv(x), inplace=True)


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


class _ConvReLU(torch.autograd.Function):
    """``relu(conv3x3(x, w) + b)`` as one oneDNN call (the ReLU as a post-op: no second
    pass over the output), and only the input's gradient on the way back."""

    @staticmethod
    def forward(ctx: Any, x: torch.Tensor, w: torch.Tensor, b: torch.Tensor | None) -> torch.Tensor:
        one = [1, 1]
        y: torch.Tensor = torch.ops.mkldnn._convolution_pointwise(
            x, w, b, one, one, one, 1, "relu", [None], ""
        )
        ctx.save_for_backward(x, w, y)
        return y

    @staticmethod
    def backward(ctx: Any, grad: torch.Tensor) -> tuple[torch.Tensor, None, None]:
        x, w, y = ctx.saved_tensors
        one = [1, 1]
        masked = torch.ops.aten.threshold_backward(grad, y, 0)
        dx = torch.ops.aten.convolution_backward(
            masked, x, w, None, one, one, one, False, [0, 0], 1, [True, False, False]
        )[0]
        return dx, None, None


class _ConvReLUPool(torch.autograd.Function):
    """``max_pool2d(relu(conv3x3(x, w) + b), 2)`` with the ReLU's mask applied on the
    way back at the pooled size, a quarter of the pixels.

    The pooling's gradient reaches only the position of each window's maximum, where the
    ReLU's output equals the pooled value; so masking the pooled gradient where that value
    is zero gives exactly what masking the unpooled one does, without a full-size pass
    (at 512 px, block1's mask was 14 ms of a step).
    """

    @staticmethod
    def forward(ctx: Any, x: torch.Tensor, w: torch.Tensor, b: torch.Tensor | None) -> torch.Tensor:
        one, two = [1, 1], [2, 2]
        y = torch.ops.mkldnn._convolution_pointwise(x, w, b, one, one, one, 1, "relu", [None], "")
        pooled, where = torch.ops.aten.max_pool2d_with_indices(y, two, two, [0, 0], one, False)
        ctx.save_for_backward(x, w, y, pooled, where)
        return pooled  # type: ignore[no-any-return]

    @staticmethod
    def backward(ctx: Any, grad: torch.Tensor) -> tuple[torch.Tensor, None, None]:
        x, w, y, pooled, where = ctx.saved_tensors
        one, two = [1, 1], [2, 2]
        masked = torch.ops.aten.threshold_backward(grad, pooled, 0)
        spread = torch.ops.aten.max_pool2d_with_indices_backward(
            masked, y, two, two, [0, 0], one, False, where
        )
        dx = torch.ops.aten.convolution_backward(
            spread, x, w, None, one, one, one, False, [0, 0], 1, [True, False, False]
        )[0]
        return dx, None, None


def conv_relu_pool(x: torch.Tensor, w: torch.Tensor, b: torch.Tensor | None) -> torch.Tensor:
    """``max_pool2d(relu(conv2d(x, w, b, padding=1)), 2)`` (see :class:`_ConvReLUPool`)."""
    y: torch.Tensor = _ConvReLUPool.apply(x, w, b)  # type: ignore[no-untyped-call]
    return y


def conv_relu(x: torch.Tensor, w: torch.Tensor, b: torch.Tensor | None) -> torch.Tensor:
    """``relu(conv2d(x, w, b, padding=1))`` in one fused call (see :func:`fusable`)."""
    y: torch.Tensor = _ConvReLU.apply(x, w, b)  # type: ignore[no-untyped-call]
    return y

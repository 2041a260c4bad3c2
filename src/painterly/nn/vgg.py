"""VGG-19's convolutional part as a feature extractor with named layers."""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterable, Mapping

import torch
from torch import nn
from torch.nn import functional as F

from ..errors import ConfigError
from .kernels import FAST_PATH, SLOW_PATH, FastPath, Packs, conv_relu, conv_relu_pool, fusable, pack
from .layers import CONV_NAMES, INDEX, LAYER_NAMES, LAYERS, check_layer
from .weights import LoadedWeights


class VGG19Features(nn.Module):
    """VGG-19 convolutions that return the activations of the requested layers.

    The input is an RGB batch in [0, 1]; the module converts it to the convention of
    its weights (channel order, scale, mean, std), so a caller can never feed the wrong
    normalisation. The network is cut after the deepest layer it is asked for.

    ``dtype`` and ``channels_last`` say how the convolution weights are stored (a bf16
    run stores them in bf16: autocast would cast them at every step); ``fast`` which of
    the speed levers of :class:`~painterly.nn.kernels.FastPath` the forward pass uses;
    ``pool_gains`` the gain of each average-pooling layer (see :func:`pooling_gains`).

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
        *,
        dtype: torch.dtype = torch.float32,
        channels_last: bool = False,
        fast: FastPath = FAST_PATH,
        pool_gains: Mapping[str, float] | None = None,
    ) -> None:
        super().__init__()
        wanted = [check_layer(name) for name in layers]
        if not wanted:
            raise ConfigError("no layers requested: name at least one VGG-19 layer", "style_layers")
        if pooling not in ("max", "avg"):
            raise ConfigError(f"unknown pooling '{pooling}': use 'max' or 'avg'", "pooling")
        self.wanted = frozenset(wanted)
        self.pooling, self.padding_mode, self.channels_last = pooling, padding_mode, channels_last
        self.weights_sha256 = weights.sha256  # which weights: what targets are shared by
        last = max(INDEX[name] for name in wanted)
        self.names: tuple[str, ...] = LAYER_NAMES[: last + 1]
        self.convs = nn.ModuleDict()
        for layer in LAYERS[: last + 1]:
            if layer.kind == "conv":
                w, b = weights.tensors[layer.name]
                # Built on "meta": no random init (the global generator is left alone)
                conv = nn.Conv2d(w.shape[1], w.shape[0], 3, padding=1, device="meta")
                layout = torch.channels_last if channels_last else torch.contiguous_format
                kept = w.to(dtype).contiguous(memory_format=layout)
                conv.weight = nn.Parameter(kept, requires_grad=False)
                conv.bias = nn.Parameter(b.to(dtype), requires_grad=False)
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
        # Average pooling's output is multiplied by a gain per pooling layer (1 unless
        # given): see pooling_gains.
        gains = pool_gains or {}
        self.pool_gains = {n: gains.get(n, 1.0) for n in self.names if n.endswith("_pool")}
        # The speed levers: each convolution and its ReLU in one oneDNN call on CPUs, the
        # colour convention applied without a gather, and (``packed``) a differentiable
        # pass convolving with weights packed for oneDNN from the third pass at a shape on.
        self.fused = fast.fused_relu
        self.lean_input = fast.lean_input
        self.packed = fast.packed_weights
        self._packs: OrderedDict[tuple[str, tuple[int, ...]], Packs] = OrderedDict()
        self._passes: OrderedDict[tuple[int, ...], int] = OrderedDict()  # by input shape
        self.requires_grad_(False)

    @property
    def dtype(self) -> torch.dtype:
        """The precision the convolutions are stored in."""
        first = self.convs[CONV_NAMES[0]]
        assert isinstance(first, nn.Conv2d)
        return first.weight.dtype

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


@torch.no_grad()
def pooling_gains(
    weights: LoadedWeights, layers: Iterable[str], padding_mode: str, rgb: torch.Tensor
) -> dict[str, float]:
    """The gain of each average-pooling layer up to the deepest of ``layers`` such that,
    on ``rgb``, the mean activation of the convolution after it equals what the
    max-pooling network gives there (computed in float32).

    Gatys et al. (2015) swap max for average pooling, which shrinks the activations of
    every deeper layer (an average of a ReLU's outputs is below their maximum); the
    gains keep the magnitudes, and so the balance of the losses, as with max pooling.
    """
    net = VGG19Features(weights, layers, "max", padding_mode, fast=SLOW_PATH).to(rgb.device)
    gains: dict[str, float] = {}
    peak = average = net.preprocess(rgb)
    for i, name in enumerate(net.names):
        if not name.endswith("_pool"):
            conv = net.convs[name]
            peak, average = F.relu(conv(peak)), F.relu(conv(average))
            continue
        peak, average = F.max_pool2d(peak, 2), F.avg_pool2d(average, 2)
        gain = float(peak.mean() / average.mean().clamp_min(1e-12))
        if i + 1 < len(net.names):  # match the next convolution's mean output
            conv = net.convs[net.names[i + 1]]
            want = float(F.relu(conv(peak)).mean())
            for _ in range(8):  # the mean is nearly proportional to the gain
                gain *= want / max(float(F.relu(conv(average * gain)).mean()), 1e-12)
        gains[name] = gain
        average = average * gain
    return gains


def _avg_pool(x: torch.Tensor, gain: float) -> torch.Tensor:
    # Gatys et al. 2015 replace max by average pooling; plain averaging shrinks the
    # activations of deeper layers, which the gain (see calibrate_pooling) restores.
    pooled = F.avg_pool2d(x, 2)
    return pooled if gain == 1.0 else pooled * gain

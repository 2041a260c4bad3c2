"""VGG-19's convolutional part as a feature extractor with named layers."""

from __future__ import annotations

from collections.abc import Iterable

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
        self.requires_grad_(False)

    def to_channels_last(self) -> VGG19Features:
        """Store the convolution weights channels-last (faster with oneDNN and cuDNN)."""
        for conv in self.convs.values():
            assert isinstance(conv, nn.Conv2d)
            conv.weight.data = conv.weight.data.contiguous(memory_format=torch.channels_last)
        return self

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
        x = rgb.index_select(1, self.order) * self.scale
        return (x - self.mean) / self.std

    def forward(self, rgb: torch.Tensor) -> dict[str, torch.Tensor]:
        x = self.preprocess(rgb)
        out: dict[str, torch.Tensor] = {}
        for name in self.names:
            if name.endswith("_pool"):
                x = (
                    F.max_pool2d(x, 2)
                    if self.pooling == "max"
                    else _avg_pool(x, self.pool_gains[name])
                )
            else:
                x = F.relu(self.convs[name](x), inplace=True)
            if name in self.wanted:
                out[name] = x
        return out


def _avg_pool(x: torch.Tensor, gain: float) -> torch.Tensor:
    # Gatys et al. 2015 replace max by average pooling; plain averaging shrinks the
    # activations of deeper layers, which the gain (see calibrate_pooling) restores.
    pooled = F.avg_pool2d(x, 2)
    return pooled if gain == 1.0 else pooled * gain

"""The image transformation network of Johnson, Alahi and Fei-Fei (2016), with the
changes the field has since agreed on.

Strided convolutions down, residual blocks, then resize-and-convolve up (Odena et al.
2016: nearest-neighbour upsampling then a convolution; transposed convolutions leave
checkerboards), every convolution padded by reflection (Johnson et al. padded the input
once instead; reflection at each layer avoids dark borders). Every normalisation is an
instance normalisation (Ulyanov et al. 2016), made conditional (Dumoulin, Shlens and
Kudlur 2017): one scale and shift per style, so one network holds several styles and a
convex mix of their scales and shifts paints a blend of them.

Each normalisation's statistics (a mean and a variance per channel) come from the
:class:`Norms` of the pass: from the map itself, or given, so that tiles of a large
image are normalised by the whole image's statistics (see :mod:`painterly.fast.tiles`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import torch
from torch import nn
from torch.nn import functional as F

from ..errors import ModelError

ARCHITECTURE = "johnson"
ARCHITECTURE_VERSION = 1  # bump when a saved state dict would no longer load or mean the same
EPS = 1e-5
STRIDE = 4  # the network's total downsampling: its input sides must be multiples of this


@dataclass(frozen=True)
class Shape:
    """The network's size: ``width`` filters at full resolution (×2, ×4 below), ``blocks``
    residual blocks at a quarter of it."""

    width: int = 32
    blocks: int = 5

    @property
    def norms(self) -> int:
        """How many normalisations a pass goes through."""
        return 3 + 2 * self.blocks + 2


# "standard" is the network of Johnson et al.; "small" has a quarter of the filters in
# each convolution and three residual blocks: about 1/14 of the arithmetic per pixel.
SHAPES = {"standard": Shape(32, 5), "small": Shape(16, 3)}


class _Reached(Exception):
    """Raised by :meth:`Norms.normalize` to stop a pass once it has what it came for."""


@dataclass
class Norms:
    """How one pass normalises: the style mix (``B×S``, rows summing to 1) and, for the
    first ``len(given)`` normalisations, statistics given as ``(mean, var)`` of shape
    ``B×C×1×1``. ``stop_after`` ends the pass (with :meth:`TransformNet.statistics`) once
    that many normalisations were reached, their statistics in :attr:`seen`; ``window``
    (rows and columns of the full-resolution input) limits what they are taken over."""

    mix: torch.Tensor
    given: Sequence[tuple[torch.Tensor, torch.Tensor]] = ()
    stop_after: int | None = None
    window: tuple[slice, slice] | None = None
    seen: list[torch.Tensor] = field(default_factory=list)  # the map at the stop

    def normalize(self, index: int, x: torch.Tensor, stride: int) -> tuple[torch.Tensor, ...]:
        """The ``(mean, var)`` normalisation ``index`` uses for ``x`` (at ``stride``)."""
        if self.stop_after is not None and index == self.stop_after:
            self.seen.append(_cropped(x, self.window, stride))
            raise _Reached
        if index < len(self.given):
            mean, var = self.given[index]
            return mean.to(x), var.to(x)
        return x.mean((2, 3), keepdim=True), x.var((2, 3), keepdim=True, unbiased=False)


def _cropped(x: torch.Tensor, window: tuple[slice, slice] | None, stride: int) -> torch.Tensor:
    if window is None:
        return x
    rows, cols = window
    return x[
        ..., rows.start // stride : rows.stop // stride, cols.start // stride : cols.stop // stride
    ]


class ConditionalInstanceNorm(nn.Module):
    """``gamma_s * (x - mean) / sqrt(var + eps) + beta_s`` with ``gamma`` and ``beta``
    the mix of the styles' own (Dumoulin et al. 2017, eq. 5)."""

    def __init__(self, channels: int, styles: int, index: int, stride: int) -> None:
        super().__init__()
        self.gamma = nn.Parameter(torch.ones(styles, channels))
        self.beta = nn.Parameter(torch.zeros(styles, channels))
        self.index, self.stride = index, stride

    def forward(self, x: torch.Tensor, norms: Norms) -> torch.Tensor:
        mean, var = norms.normalize(self.index, x, self.stride)
        gamma = (norms.mix @ self.gamma)[:, :, None, None]
        beta = (norms.mix @ self.beta)[:, :, None, None]
        return (x - mean) * torch.rsqrt(var + EPS) * gamma + beta


class Conv(nn.Module):
    """Reflection padding, then a convolution (``up``: nearest-neighbour ×2 first)."""

    def __init__(self, cin: int, cout: int, kernel: int, stride: int = 1, up: bool = False):
        super().__init__()
        self.pad, self.up = kernel // 2, up
        self.conv = nn.Conv2d(cin, cout, kernel, stride)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.up:
            x = F.interpolate(x, scale_factor=2.0, mode="nearest")
        out: torch.Tensor = self.conv(F.pad(x, [self.pad] * 4, mode="reflect"))
        return out


class ConvNorm(nn.Module):
    """A :class:`Conv`, its conditional instance norm and (``relu``) a ReLU."""

    def __init__(
        self, cin: int, cout: int, kernel: int, *, stride: int, up: bool, at: tuple[int, int, int]
    ) -> None:
        super().__init__()
        styles, index, scale = at
        self.conv = Conv(cin, cout, kernel, stride, up)
        self.norm = ConditionalInstanceNorm(cout, styles, index, scale)

    def forward(self, x: torch.Tensor, norms: Norms, relu: bool = True) -> torch.Tensor:
        y = self.norm(self.conv(x), norms)
        return F.relu(y) if relu else y


class Residual(nn.Module):
    """``x + IN(conv(ReLU(IN(conv(x)))))`` (Johnson et al., supplementary, fig. 1)."""

    def __init__(self, channels: int, styles: int, index: int) -> None:
        super().__init__()
        self.a = ConvNorm(channels, channels, 3, stride=1, up=False, at=(styles, index, 4))
        self.b = ConvNorm(channels, channels, 3, stride=1, up=False, at=(styles, index + 1, 4))

    def forward(self, x: torch.Tensor, norms: Norms) -> torch.Tensor:
        out: torch.Tensor = x + self.b(self.a(x, norms), norms, relu=False)
        return out


class TransformNet(nn.Module):
    """RGB in [0, 1] (sides multiples of :data:`STRIDE`) → the painting, RGB in [0, 1].

    >>> net = TransformNet(Shape(8, 1), styles=2)
    >>> net(torch.rand(1, 3, 32, 32), torch.tensor([0.5, 0.5])).shape
    torch.Size([1, 3, 32, 32])
    """

    def __init__(self, shape: Shape, styles: int) -> None:
        super().__init__()
        if styles < 1:
            raise ModelError("a fast model needs at least one style")
        w, s = shape.width, styles
        self.shape, self.styles = shape, styles
        self.down = nn.ModuleList(
            [
                ConvNorm(3, w, 9, stride=1, up=False, at=(s, 0, 1)),
                ConvNorm(w, 2 * w, 3, stride=2, up=False, at=(s, 1, 2)),
                ConvNorm(2 * w, 4 * w, 3, stride=2, up=False, at=(s, 2, 4)),
            ]
        )
        self.blocks = nn.ModuleList(Residual(4 * w, s, 3 + 2 * i) for i in range(shape.blocks))
        last = 3 + 2 * shape.blocks
        self.up = nn.ModuleList(
            [
                ConvNorm(4 * w, 2 * w, 3, stride=1, up=True, at=(s, last, 2)),
                ConvNorm(2 * w, w, 3, stride=1, up=True, at=(s, last + 1, 1)),
            ]
        )
        self.out = Conv(w, 3, 9)

    def mix_of(self, weights: torch.Tensor, batch: int) -> torch.Tensor:
        """Style weights (``S`` or ``B×S``) as the ``B×S`` mix, each row summing to 1."""
        mix = weights.float().reshape(-1, self.styles).expand(batch, -1)
        return mix / mix.sum(1, keepdim=True)

    def forward(self, x: torch.Tensor, weights: torch.Tensor) -> torch.Tensor:
        """The painting of ``x`` for the style ``weights`` (one per style, or one row
        per image), with each normalisation's statistics taken from its own map."""
        return self.run(x, Norms(self.mix_of(weights, x.shape[0])))

    def run(self, x: torch.Tensor, norms: Norms) -> torch.Tensor:
        """A pass normalised as ``norms`` says."""
        for layer in self.down:
            x = layer(x, norms)
        for block in self.blocks:
            x = block(x, norms)
        for layer in self.up:
            x = layer(x, norms)
        # A sigmoid keeps the painting in [0, 1] with a gradient everywhere (Johnson et al.
        # scaled a tanh, the same curve).
        return torch.sigmoid(self.out(x))

    def statistics(self, x: torch.Tensor, norms: Norms, index: int) -> torch.Tensor:
        """The map that normalisation ``index`` normalises in a pass of ``x``, cut to
        ``norms.window``; the normalisations before it use ``norms.given``."""
        probe = Norms(norms.mix, norms.given, stop_after=index, window=norms.window)
        try:
            self.run(x, probe)
        except _Reached:
            return probe.seen[0]
        raise ModelError(f"the network has no normalisation {index}")  # pragma: no cover

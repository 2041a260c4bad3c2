"""The network: shapes, style mixes, and tiles that equal the whole pass."""

from __future__ import annotations

import torch

from painterly.fast.network import Norms, Shape, TransformNet
from painterly.fast.tiles import tiled_forward


def _net(styles: int = 2) -> TransformNet:
    torch.manual_seed(0)
    net = TransformNet(Shape(8, 2), styles).eval()
    with torch.no_grad():  # away from the identity norms, so that the statistics matter
        for p in net.parameters():
            p.add_(0.2 * torch.randn_like(p))
    return net


def test_tiled_equals_whole_within_one_level() -> None:
    net = _net()
    x = torch.rand(1, 3, 152, 200, generator=torch.Generator().manual_seed(1))
    mix = net.mix_of(torch.tensor([0.3, 0.7]), 1)
    with torch.no_grad():
        whole = net.run(x, Norms(mix))
        tiled = tiled_forward(net, x, mix, 48)
    assert float((whole - tiled).abs().max()) <= 1 / 255
    assert float(whole.std()) > 0.01  # a picture, not a constant


def test_style_weights_mix_the_styles() -> None:
    net = _net()
    x = torch.rand(1, 3, 64, 64)
    with torch.no_grad():
        a, b = net(x, torch.tensor([1.0, 0.0])), net(x, torch.tensor([0.0, 1.0]))
        half = net(x, torch.tensor([1.0, 1.0]))
    assert float((a - b).abs().mean()) > 1e-3
    assert float((half - a).abs().mean()) < float((b - a).abs().mean())

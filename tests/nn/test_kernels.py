"""The oneDNN kernels sit behind one capability check, with plain convolutions where the
check fails."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import torch

from painterly.files import images
from painterly.nn import kernels
from painterly.nn.vgg import VGG19Features
from painterly.nn.weights import load_weights


@pytest.fixture
def fresh_check() -> Iterator[None]:
    kernels.onednn_kernels.cache_clear()
    yield
    kernels.onednn_kernels.cache_clear()


def _broken(*args: object) -> torch.Tensor:
    raise RuntimeError("no such operator in this build")


def test_the_check_passes_where_the_operators_work(fresh_check: None) -> None:
    assert kernels.onednn_kernels()


def test_without_the_operators_a_network_runs_plain_convolutions(
    monkeypatch: pytest.MonkeyPatch, fresh_check: None, content_path: Path
) -> None:
    x = images.resize(images.load_image(content_path), (32, 48))
    x = x.contiguous(memory_format=torch.channels_last)
    net = VGG19Features(load_weights(), ["block2_conv1"], dtype=torch.bfloat16, channels_last=True)
    conv = net.convs["block1_conv1"]
    assert isinstance(conv, torch.nn.Conv2d)
    fused = net(x.clone().requires_grad_(True))["block2_conv1"].float()
    monkeypatch.setattr(kernels, "fused_conv", _broken)
    kernels.onednn_kernels.cache_clear()
    assert not kernels.onednn_kernels()
    assert not kernels.fusable(conv, x.bfloat16())
    image = x.clone().requires_grad_(True)
    plain = net(image)["block2_conv1"].float()  # would raise if a fused call were made
    plain.sum().backward()
    assert image.grad is not None and image.grad.abs().sum() > 0
    assert float((plain - fused).detach().norm() / fused.detach().norm()) < 0.02

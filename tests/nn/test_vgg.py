"""The feature extractor: average pooling keeps the activations' magnitudes."""

from __future__ import annotations

from pathlib import Path

import torch

import painterly
from painterly.files import images
from painterly.nn.kernels import SLOW_PATH, conv_relu, conv_relu_pool, fusable, pack
from painterly.nn.vgg import VGG19Features, pooling_gains
from painterly.nn.weights import load_weights


def test_calibrated_average_pooling_keeps_magnitudes(content_path: Path) -> None:
    x = images.resize(images.load_image(content_path), (96, 128))
    weights = load_weights()
    layer = ["block5_conv1"]
    peak = VGG19Features(weights, layer, "max")
    plain = VGG19Features(weights, layer, "avg")
    gains = pooling_gains(weights, layer, "zeros", x)
    scaled = VGG19Features(weights, layer, "avg", pool_gains=gains)
    assert len(gains) == 4 and all(g > 1 for g in gains.values())
    with torch.no_grad():
        ref = peak(x)["block5_conv1"].mean()
        low = plain(x)["block5_conv1"].mean()
        kept = scaled(x)["block5_conv1"].mean()
    assert low < 0.5 * ref
    assert 0.7 * ref < kept < 1.4 * ref


def test_average_pooling_runs(content_path: Path, style_path: Path) -> None:
    result = painterly.stylize(content_path, [style_path], iterations=5, size=64, pooling="avg")
    assert result.history[-1].losses["total"] < result.history[0].losses["total"]


def test_fused_convolution_and_relu_match_the_separate_ones() -> None:
    torch.manual_seed(0)
    conv = torch.nn.Conv2d(8, 16, 3, padding=1).to(torch.bfloat16)
    x = torch.randn(1, 8, 12, 10).bfloat16().contiguous(memory_format=torch.channels_last)
    assert fusable(conv, x) and not fusable(conv, x.float())
    a, b = x.clone().requires_grad_(True), x.clone().requires_grad_(True)
    separate = torch.relu(conv(a))
    fused = conv_relu(b, conv.weight, conv.bias)
    torch.testing.assert_close(fused, separate, rtol=1e-2, atol=1e-2)
    assert (fused == 0).any()  # the ReLU cut something
    grad = torch.randn_like(separate)
    separate.backward(grad)  # type: ignore[no-untyped-call]
    fused.backward(grad)  # type: ignore[no-untyped-call]
    assert a.grad is not None and b.grad is not None
    torch.testing.assert_close(b.grad, a.grad, rtol=2e-2, atol=2e-2)


def test_pooling_with_the_convolution_masks_the_same_gradient() -> None:
    torch.manual_seed(0)
    conv = torch.nn.Conv2d(8, 16, 3, padding=1).to(torch.bfloat16)
    # An odd height: max pooling drops the convolution's last row.
    x = torch.randn(1, 8, 13, 10).bfloat16().contiguous(memory_format=torch.channels_last)
    a, b = x.clone().requires_grad_(True), x.clone().requires_grad_(True)
    apart = torch.nn.functional.max_pool2d(conv_relu(a, conv.weight, conv.bias), 2)
    joint = conv_relu_pool(b, conv.weight, conv.bias)
    assert torch.equal(joint, apart) and joint.shape[-2:] == (6, 5)
    assert (joint == 0).any()  # some windows are all cut by the ReLU
    grad = torch.randn_like(apart)
    apart.backward(grad)  # type: ignore[no-untyped-call]
    joint.backward(grad)  # type: ignore[no-untyped-call]
    assert a.grad is not None and b.grad is not None
    assert torch.equal(b.grad, a.grad)  # the mask at the pooled size is exact
    assert a.grad.abs().sum() > 0


def test_packed_weights_give_the_same_map_and_input_gradient() -> None:
    torch.manual_seed(0)
    conv = torch.nn.Conv2d(8, 16, 3, padding=1).to(torch.bfloat16)
    weight = conv.weight.detach().contiguous(memory_format=torch.channels_last)
    x = torch.randn(1, 8, 13, 10).bfloat16().contiguous(memory_format=torch.channels_last)
    grads: list[torch.Tensor | None] = []
    maps: list[torch.Tensor] = []
    for packs in (None, pack(weight, x.shape)):
        for function in (conv_relu, conv_relu_pool):
            a = x.clone().requires_grad_(True)
            y = function(a, weight, conv.bias, packs)
            y.backward(torch.linspace(-1, 1, y.numel()).reshape(y.shape).to(y))  # type: ignore[no-untyped-call]
            maps.append(y)
            grads.append(a.grad)
    for plain, packed in zip(maps[:2], maps[2:], strict=True):
        assert torch.equal(packed, plain)
    for grad, packed_grad in zip(grads[:2], grads[2:], strict=True):
        # the transposed convolution as a forward one of the flipped kernel: the same sums
        assert grad is not None and packed_grad is not None and grad.abs().sum() > 0
        torch.testing.assert_close(packed_grad, grad, rtol=1e-2, atol=1e-2)


def test_a_network_packs_from_the_third_step_at_a_size_and_keeps_two(content_path: Path) -> None:
    net = VGG19Features(load_weights(), ["block2_conv1"], dtype=torch.bfloat16, channels_last=True)
    photo = images.load_image(content_path)
    for index, hw in enumerate(((32, 48), (40, 56), (48, 64))):
        x = images.resize(photo, hw).contiguous(memory_format=torch.channels_last)
        with torch.no_grad():
            net(x)  # a target's pass: plain weights, not counted
        for passes in range(1, 4):
            net(x.requires_grad_(True))["block2_conv1"].float().sum().backward()
            # plain for two passes (a first scale of two steps never packs), then packed
            packed_here = 3 if passes == 3 else 0
            assert len(net._packs) == min(3 * index + packed_here, 6)
    # three convolutions up to block2_conv1, packed for the last two input shapes
    assert {shape[-2:] for _, shape in net._packs} == {(40, 56), (48, 64), (20, 28), (24, 32)}


def test_a_wanted_map_before_a_pooling_keeps_its_own_gradient(content_path: Path) -> None:
    x = images.resize(images.load_image(content_path), (32, 48))
    grads, maps = [], []
    for layers in (["block1_conv2"], ["block1_conv2", "block2_conv1"]):
        net = VGG19Features(load_weights(), layers, dtype=torch.bfloat16, channels_last=True)
        image = x.clone().requires_grad_(True)
        feats = net(image.contiguous(memory_format=torch.channels_last))
        feats["block1_conv2"].float().pow(2).sum().backward()
        grads.append(image.grad)
        maps.append(feats["block1_conv2"])
    # With block2_conv1 wanted too, block1_conv2 is followed by a pooling that is not
    # fused with it: its map stays whole and its gradient is the same.
    assert maps[1].shape[-2:] == (32, 48) and torch.equal(maps[0], maps[1])
    assert grads[0] is not None and grads[1] is not None and grads[0].abs().sum() > 0
    assert torch.equal(grads[0], grads[1])


def test_lean_input_and_bf16_weights_give_the_same_features(content_path: Path) -> None:
    x = images.resize(images.load_image(content_path), (32, 48))
    weights, layer = load_weights(), ["block2_conv1"]
    net = VGG19Features(weights, layer, dtype=torch.bfloat16)
    with torch.no_grad():
        lean = VGG19Features(weights, layer)(x)["block2_conv1"]
        gathered = VGG19Features(weights, layer, fast=SLOW_PATH)(x)["block2_conv1"]
        half = net(x)["block2_conv1"]
    assert torch.equal(lean, gathered)
    assert net.dtype == torch.bfloat16 and net.mean.dtype == torch.float32
    assert half.dtype == torch.bfloat16
    assert float((half.float() - lean).norm() / lean.norm()) < 0.01  # bf16 rounding only

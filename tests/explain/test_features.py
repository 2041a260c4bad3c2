"""What VGG-19 sees: feature maps, correlations, the toy Gram case, reconstructions."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import torch

from painterly.errors import ConfigError
from painterly.explain import features
from painterly.files import images


def test_feature_maps_have_the_layers_shapes(content_path: Path) -> None:
    maps = features.feature_maps(content_path, ["block1_conv1", "block3_conv2"], size=64)
    assert maps["block1_conv1"].shape == (64, 48, 64)
    assert maps["block3_conv2"].shape == (256, 12, 16)
    with pytest.raises(ConfigError, match="block3_conv2"):
        features.feature_maps(content_path, ["block3_conv22"])


def test_top_filters_are_the_strongest_first() -> None:
    maps = torch.zeros(5, 2, 2)
    maps[3] = 4
    maps[1] = 2
    assert features.top_filters(maps, 2) == [3, 1]


def test_toy_gram_numbers() -> None:
    toy = features.toy_gram()
    # red = 1 0 / 1 0 / 1 0, blue = 1 0 / 0.5 0 / 1 0.5
    assert toy["gram"].tolist() == [[3.0, 2.5], [2.5, 2.5]]
    torch.testing.assert_close(
        toy["per_position"], torch.tensor([[0.5, 2.5 / 6], [2.5 / 6, 2.5 / 6]])
    )
    expected = 2.5 / (3.0 * 2.5) ** 0.5  # 0.9129
    torch.testing.assert_close(toy["correlation"], torch.tensor([[1.0, expected], [expected, 1.0]]))


def test_correlation_is_a_normalized_symmetric_matrix(style_path: Path) -> None:
    fmap = features.feature_maps(style_path, ["block1_conv1"], size=64)["block1_conv1"]
    corr = features.correlation(fmap)
    assert corr.shape == (64, 64)
    torch.testing.assert_close(corr, corr.T)
    fired = fmap.flatten(1).abs().sum(1) > 0
    assert torch.allclose(corr.diagonal()[fired], torch.ones(int(fired.sum())))
    assert float(corr.min()) >= 0 and float(corr.max()) <= 1 + 1e-5


def test_strongest_pairs_skip_the_diagonal() -> None:
    m = torch.eye(4)
    m[0, 2] = m[2, 0] = 0.9
    m[1, 3] = m[3, 1] = 0.5
    pairs = features.strongest_pairs(m, 2)
    assert [(p.first, p.second) for p in pairs] == [(0, 2), (1, 3)]
    assert pairs[0].value == pytest.approx(0.9)


def test_shallow_content_layers_keep_more_pixels_than_deep(content_path: Path) -> None:
    kw: dict[str, Any] = {"size": 64, "iterations": 60, "seed": 0}
    shallow = features.reconstruct(content_path, content_layer="block1_conv2", **kw)
    deep = features.reconstruct(content_path, content_layer="block5_conv2", **kw)
    photo = images.resize(images.load_image(content_path), (48, 64))
    assert (shallow.image - photo).pow(2).mean() < (deep.image - photo).pow(2).mean()
    assert shallow.history[-1].losses["content"] < 0.1 * shallow.history[0].losses["content"]


def test_style_reconstruction_keeps_colors_not_layout(style_path: Path) -> None:
    result = features.reconstruct(style_path, style_layers=["block1_conv1"], size=48, iterations=20)
    assert result.history[-1].losses["style"] < 0.1 * result.history[0].losses["style"]
    painting = images.resize(
        images.load_image(style_path), (result.image.shape[-2], result.image.shape[-1])
    )
    colors = painting.mean(dim=(2, 3))
    noise = torch.rand(painting.shape, generator=torch.Generator().manual_seed(0))
    # The first layer's Gram matrix holds the colours: the reconstruction takes the
    # painting's mean colour from the noise it starts at …
    start = (noise.mean(dim=(2, 3)) - colors).abs().max()
    assert (result.image.mean(dim=(2, 3)) - colors).abs().max() < 0.5 * start
    # … but not where things are: it stays far from the painting pixel by pixel.
    assert (result.image - painting).pow(2).mean() > 0.5 * (noise - painting).pow(2).mean()
    with pytest.raises(ValueError, match="either"):
        features.reconstruct(style_path)


def test_feature_maps_too_small_for_the_layer_name_the_size(content_path: Path) -> None:
    with pytest.raises(
        ConfigError, match=r"32×24 px, under the 32 px .* block5_pool needs: use size 42"
    ):
        features.feature_maps(content_path, ["block5_pool"], size=32)
    assert features.feature_maps(content_path, ["block5_pool"], size=42)["block5_pool"].shape == (
        512,
        1,
        1,
    )

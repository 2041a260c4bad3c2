"""Strength, style scale and the start image of a run."""

from __future__ import annotations

import logging
import math
from pathlib import Path
from typing import Any

import pytest
import torch

import painterly
from painterly.config.settings import Config
from painterly.errors import ConfigError
from painterly.files import images
from painterly.transfer.inputs import blend, check_style_sizes, style_size


def test_strength_zero_returns_the_photo(content_path: Path, style_path: Path) -> None:
    result = painterly.stylize(content_path, [style_path], iterations=4, size=64, strength=0.0)
    photo = images.resize(
        images.load_image(content_path), (result.image.shape[-2], result.image.shape[-1])
    )
    torch.testing.assert_close(result.image, photo)
    assert result.record()["config"]["strength"] == 0.0


def test_strength_reblends_without_running_again(content_path: Path, style_path: Path) -> None:
    result = painterly.stylize(content_path, [style_path], iterations=4, size=64, seed=0)
    assert result.painting is not None and result.photo is not None
    half = result.with_strength(0.5)
    torch.testing.assert_close(half.image, 0.5 * result.image + 0.5 * result.photo)
    torch.testing.assert_close(result.with_strength(0).image, result.photo)
    assert half.config.strength == 0.5 and half.history is result.history
    with pytest.raises(painterly.PainterlyError, match="between 0 and 1"):
        result.with_strength(1.5)


def high_frequency_energy(image: torch.Tensor) -> float:
    """Mean squared Laplacian of the grey image, relative to its variance."""
    grey = image.mean(1, keepdim=True)
    kernel = torch.tensor([[0.0, 1, 0], [1, -4, 1], [0, 1, 0]]).view(1, 1, 3, 3)
    lap = torch.nn.functional.conv2d(grey, kernel)
    return float(lap.pow(2).mean() / grey.var())


def test_doubled_style_scale_lowers_high_frequencies(content_path: Path) -> None:
    # A "painting" of 8-pixel cells of random colours: its stroke size is known.
    cells = torch.rand(1, 3, 48, 48, generator=torch.Generator().manual_seed(0))
    style = torch.nn.functional.interpolate(cells, size=(384, 384), mode="nearest")
    hw = (72, 96)
    sizes = [style_size(Config(style_scale=s), style, hw) for s in (1.0, 2.0)]
    assert max(sizes[1]) == 2 * max(sizes[0])
    # The style term's target: the painting seen twice as large, strokes twice as big.
    target = [high_frequency_energy(images.resize(style, s)) for s in sizes]
    assert target[1] < 0.6 * target[0]
    # The picture painted with it follows.
    kw: dict[str, Any] = {"style_weight": 20.0, "iterations": 30, "size": 96, "seed": 0}
    runs = [painterly.stylize(content_path, [style], style_scale=s, **kw) for s in (1.0, 2.0)]
    assert high_frequency_energy(runs[1].image) < 0.7 * high_frequency_energy(runs[0].image)


def test_style_is_never_upscaled_and_keeps_its_ratio_over_scales(
    caplog: pytest.LogCaptureFixture, content_path: Path, style_path: Path
) -> None:
    style = torch.rand(1, 3, 100, 200)
    cfg = Config(style_scale=1.0)
    final = (600, 800)
    assert style_size(cfg, style, final, final) == (100, 200)  # capped at its own size
    assert style_size(cfg, style, (300, 400), final) == (50, 100)  # same ratio, coarser
    enlarged = Config(upscale_style=True)
    assert style_size(enlarged, style, final, final) == (400, 800)  # asked: enlarged
    with caplog.at_level(logging.WARNING, logger="painterly"):
        painterly.stylize(content_path, [torch.rand(1, 3, 24, 32)], iterations=1, size=64)
    assert "not upscaled" in caplog.text


def test_a_small_style_scale_keeps_the_style_large_enough(style_path: Path) -> None:
    cfg = Config(style_scale=0.25, size=64)
    style = images.load_image(style_path)  # 1024×640
    h, w = style_size(cfg, style, (48, 64), (48, 64))
    assert (h, w) == (16, 25)  # block5_conv1 needs 16 px; 0.25 × 64 would give 16×10
    shallow = Config(style_scale=0.25, size=64, style_layers=("block3_conv1",))
    assert style_size(shallow, style, (48, 64), (48, 64)) == (10, 16)


def test_a_thread_of_a_style_image_is_refused() -> None:
    cfg = Config(size=64)
    with pytest.raises(ConfigError, match="style image 1 is too elongated: layer block5_conv1"):
        check_style_sizes(
            cfg, [torch.rand(1, 3, 40, 50), torch.rand(1, 3, 1, 900)], [((48, 64), 1)]
        )


def test_blend_refuses_a_strength_that_is_not_a_number() -> None:
    with pytest.raises(ConfigError, match="strength must be between 0 and 1, got nan"):
        blend(torch.ones(1, 3, 2, 2), torch.zeros(1, 3, 2, 2), math.nan)

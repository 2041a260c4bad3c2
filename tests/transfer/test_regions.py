"""Regions: style masks (guided Gram matrices) and the content mask."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import torch
from PIL import Image

import painterly
from painterly.config.settings import parse_mask
from painterly.engine.losses import GramStyleLoss, gram_per_position
from painterly.errors import ConfigError
from painterly.files import images
from painterly.nn.vgg import VGG19Features
from painterly.nn.weights import load_weights
from painterly.transfer import regions


def half_mask(path: Path, size: tuple[int, int], left_white: bool) -> Path:
    w, h = size
    img = Image.new("L", size, 0)
    img.paste(255, (0, 0, w // 2, h) if left_white else (w // 2, 0, w, h))
    img.save(path)
    return path


def test_mask_specs_are_checked(tmp_path: Path) -> None:
    mask = half_mask(tmp_path / "m.png", (64, 48), True)
    assert parse_mask(f"1={mask}") == (1, mask)
    with pytest.raises(ConfigError, match="STYLE_INDEX=FILE"):
        parse_mask(str(mask))
    with pytest.raises(ConfigError, match="from 0 to 0"):
        regions.style_masks([f"1={mask}"], 1, (48, 64))
    with pytest.raises(ConfigError, match="two masks"):
        regions.style_masks([f"0={mask}", f"0={mask}"], 2, (48, 64))
    black = tmp_path / "black.png"
    Image.new("L", (64, 48), 0).save(black)
    with pytest.raises(ConfigError, match="empty"):
        regions.style_masks([f"0={black}"], 1, (48, 64))
    with pytest.raises(ConfigError, match="aspect ratio"):
        regions.style_masks([f"0={mask}"], 1, (64, 64))
    with pytest.raises(ConfigError, match="does not exist"):
        painterly.make_config(masks=("0=nowhere.png",))


def test_a_style_without_mask_takes_what_is_left(tmp_path: Path) -> None:
    mask = half_mask(tmp_path / "m.png", (64, 48), True)
    given, rest = regions.style_masks([f"0={mask}"], 2, (48, 64))  # type: ignore[misc]
    torch.testing.assert_close(given + rest, torch.ones_like(given))
    assert float(given[..., :, :30].mean()) == 1.0 and float(rest[..., :, :30].mean()) == 0.0


def test_masked_gram_sees_only_its_region() -> None:
    features = torch.rand(1, 4, 6, 8)
    mask = torch.zeros(1, 1, 6, 8)
    mask[..., :4] = 1
    target = features[..., :4].clone()
    loss = GramStyleLoss(target, mask=mask)
    changed = features.clone()
    changed[..., 4:] = torch.rand(1, 4, 6, 4) * 5  # outside the mask: no effect
    assert float(loss(features)) == pytest.approx(0.0, abs=1e-6)
    assert float(loss(changed)) == pytest.approx(0.0, abs=1e-6)


def gram_distances(
    image: torch.Tensor, styles: list[torch.Tensor], columns: tuple[float, float]
) -> list[float]:
    """Relative Gram distance of the image's features in a band of columns (as fractions
    of the width, away from the seam) to each style's."""
    net = VGG19Features(load_weights(), ["block1_conv1", "block2_conv1"])
    with torch.no_grad():
        feats = net(image)
        out = []
        for style in styles:
            fs = net(style)
            total = 0.0
            for layer in feats:
                width = feats[layer].shape[-1]
                region = feats[layer][..., round(columns[0] * width) : round(columns[1] * width)]
                g, a = gram_per_position(region), gram_per_position(fs[layer])
                total += float(torch.linalg.norm(g - a) / torch.linalg.norm(a))
            out.append(total)
    return out


def test_masks_confine_each_style_to_its_region(
    tmp_path: Path, content_path: Path, style_path: Path, style2_path: Path
) -> None:
    left = half_mask(tmp_path / "left.png", (512, 384), True)
    result = painterly.stylize(
        content_path,
        [style_path, style2_path],
        style_weight=10,
        iterations=40,
        size=96,
        seed=0,
        masks=(f"0={left}",),  # style 1 takes the rest: the right half
    )
    styles = [images.resize(images.load_image(p), (72, 96)) for p in (style_path, style2_path)]
    in_left = gram_distances(result.image, styles, (0.05, 0.45))
    in_right = gram_distances(result.image, styles, (0.55, 0.95))
    assert in_left[0] < in_left[1]  # the left half looks like style 0
    assert in_right[1] < in_right[0]  # the right half like style 1


def test_content_mask_keeps_the_white_part_nearer_the_photo(
    tmp_path: Path, content_path: Path, style_path: Path
) -> None:
    left = half_mask(tmp_path / "left.png", (512, 384), True)
    kw: dict[str, Any] = {"style_weight": 10.0, "iterations": 20, "size": 64, "seed": 0}
    masked = painterly.stylize(content_path, [style_path], content_mask=str(left), **kw)
    plain = painterly.stylize(content_path, [style_path], **kw)
    photo = images.resize(images.load_image(content_path), (48, 64))

    def change(result: painterly.Result, cols: slice) -> float:
        return float((result.image - photo)[..., cols].abs().mean())

    ratio_masked = change(masked, slice(0, 32)) / change(masked, slice(32, 64))
    ratio_plain = change(plain, slice(0, 32)) / change(plain, slice(32, 64))
    assert ratio_masked < 0.8 * ratio_plain

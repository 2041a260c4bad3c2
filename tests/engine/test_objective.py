"""The objective ``a*L_style + b*L_content + tv*TV`` against hand-computed parts."""

from __future__ import annotations

import pytest
import torch

from painterly.config.settings import Config
from painterly.engine.losses import content_loss, gram_per_position, total_variation
from painterly.engine.objective import Objective, objective_for
from painterly.errors import ConfigError


def features(seed: int) -> dict[str, torch.Tensor]:
    gen = torch.Generator().manual_seed(seed)
    return {
        "block1_conv1": torch.rand(1, 4, 6, 6, generator=gen),
        "block2_conv1": torch.rand(1, 5, 3, 3, generator=gen),
    }


def style_error(x: torch.Tensor, s: torch.Tensor) -> float:
    """``E_l`` with the target's Gram per position scaled to x's positions."""
    n, m = x.shape[1], x.shape[2] * x.shape[3]
    return float((m * gram_per_position(x) - m * gram_per_position(s)).pow(2).sum()) / (
        4 * n * n * m * m
    )


def test_total_is_the_weighted_sum_of_its_parts() -> None:
    target, style, style2, now = features(0), features(1), features(2), features(3)
    image = torch.rand(1, 3, 8, 8, generator=torch.Generator().manual_seed(4))
    objective = Objective(
        {"block2_conv1": target["block2_conv1"]},
        [style, style2],
        style_image_weights=(0.75, 0.25),
        layer_weights={"block1_conv1": 0.6, "block2_conv1": 0.4},
        content_weight=2.0,
        style_weight=10.0,
        tv_weight=3.0,
    )
    terms = objective(now, image)
    content = float(content_loss(now["block2_conv1"], target["block2_conv1"]))
    styles = sum(
        w_i * w_l * style_error(now[layer], s[layer])
        for w_i, s in ((0.75, style), (0.25, style2))
        for layer, w_l in (("block1_conv1", 0.6), ("block2_conv1", 0.4))
    )
    tv = float(total_variation(image))
    assert float(terms.content) == pytest.approx(content, rel=1e-5)
    assert float(terms.style) == pytest.approx(styles, rel=1e-4)
    assert float(terms.tv) == pytest.approx(tv, rel=1e-6)
    assert float(terms.total) == pytest.approx(10 * styles + 2 * content + 3 * tv, rel=1e-4)


def test_relative_losses_are_one_for_zero_features() -> None:
    target, style = features(0), features(1)
    objective = Objective(
        {"block1_conv1": target["block1_conv1"]},
        [style],
        style_image_weights=(1.0,),
        layer_weights={"block2_conv1": 1.0},
        content_weight=1.0,
        style_weight=1.0,
        relative=True,
    )
    zero = {k: torch.zeros_like(v) for k, v in target.items()}
    terms = objective(zero, torch.zeros(1, 3, 8, 8))
    assert float(terms.content) == pytest.approx(1.0) and float(terms.style) == pytest.approx(1.0)
    assert float(terms.tv) == 0  # no TV weight: not computed


def test_objective_for_reads_the_config() -> None:
    cfg = Config(
        content_layers=("block2_conv1",),
        style_layers=("block1_conv1",),
        content_weight=2.0,
        tv_weight=0.0,
        normalize=False,
    )
    target, style, now = features(0), features(1), features(3)
    image = torch.rand(1, 3, 8, 8)
    weights = (1.0,)
    scaled = objective_for(cfg, target, [style], style_image_weights=weights, content_scale=4.0)
    plain = objective_for(cfg, target, [style], style_image_weights=weights)(now, image)
    scaled_terms = scaled(now, image)
    assert float(scaled_terms.content) == float(plain.content)  # the parts are unweighted
    extra = float(scaled_terms.total - plain.total)
    assert extra == pytest.approx(3 * 2.0 * float(plain.content), rel=1e-5)


def test_masks_need_the_gram_loss() -> None:
    style = features(1)
    mask = {"block1_conv1": torch.ones(1, 1, 6, 6)}
    with pytest.raises(ConfigError, match="need the gram style loss") as info:
        Objective(
            {},
            [style],
            style_image_weights=(1.0,),
            layer_weights={"block1_conv1": 1.0},
            content_weight=1.0,
            style_weight=1.0,
            style_loss="w2",
            style_masks=[mask],
        )
    assert info.value.field == "style_loss"

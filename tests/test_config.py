"""The config validates every value and names the fix."""

from __future__ import annotations

import math

import pytest

from painterly.config import Config, check_style_weights, layer_weight_map, make_config
from painterly.errors import ConfigError


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"style_weight": -1.0}, "style_weight must be a finite number"),
        ({"content_weight": math.inf}, "content_weight must be a finite number"),
        ({"iterations": 0}, "iterations must be ≥ 1"),
        ({"layer_weights": (1.0, 2.0)}, "2 layer weights given for 5 style layers"),
        ({"layer_weights": (0.0,) * 5}, "sum to 0"),
        ({"content_layers": ("block9_conv1",)}, "unknown layer 'block9_conv1'"),
        ({"optimizer": "sgd"}, "optimizer 'sgd' is not one of lbfgs, adam, gd"),
        ({"init": "missing.png"}, "init 'missing.png'"),
        ({"size": 4}, "size must be at least 16"),
    ],
)
def test_invalid_values_raise(changes: dict[str, object], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        Config().replace(**changes)


def test_style_weights_are_normalised() -> None:
    cfg = make_config(style_weights=(2.0, 2.0))
    assert check_style_weights(cfg, 2) == (0.5, 0.5)
    assert check_style_weights(Config(), 3) == (1 / 3,) * 3


def test_presets_and_unknown_options() -> None:
    assert make_config("article").content_layers == ("block5_conv2",)
    with pytest.raises(ConfigError, match="unknown preset"):
        make_config("fancy")
    with pytest.raises(ConfigError, match="unknown option 'colour'"):
        make_config(colour="red")


def test_layer_weights_default_equal() -> None:
    weights = layer_weight_map(Config())
    assert len(weights) == 5 and len(set(weights.values())) == 1

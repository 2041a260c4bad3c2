"""Layer names are derived from the architecture; typos get a suggestion."""

from __future__ import annotations

import pytest

from painterly.errors import ConfigError
from painterly.nn.layers import CONV_NAMES, LAYER_NAMES, check_layer, deepest, layer_shapes


def test_names_follow_the_keras_convention() -> None:
    assert len(CONV_NAMES) == 16
    assert CONV_NAMES[0] == "block1_conv1" and CONV_NAMES[-1] == "block5_conv4"
    assert [n for n in LAYER_NAMES if n.endswith("pool")] == [f"block{b}_pool" for b in range(1, 6)]


def test_unknown_layer_suggests_the_nearest() -> None:
    with pytest.raises(ConfigError, match="Did you mean 'block4_conv2'"):
        check_layer("block4_conv22")


def test_shapes_halve_after_each_pool() -> None:
    shapes = {name: (c, h, w) for name, c, h, w in layer_shapes(64, 32)}
    assert shapes["block1_conv1"] == (64, 64, 32)
    assert shapes["block3_conv1"] == (256, 16, 8)
    assert shapes["block5_pool"] == (512, 2, 1)


def test_deepest() -> None:
    assert deepest(["block5_conv1", "block1_conv1", "block4_conv2"]) == "block5_conv1"

"""The config validates every value and names the fix."""

from __future__ import annotations

import dataclasses
import math
import pickle

import pytest

from helpers import SKY
from painterly.config.settings import (
    FIELDS,
    Config,
    check_style_weights,
    layer_weight_map,
    make_config,
)
from painterly.errors import ConfigError


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"style_weight": -1.0}, "style_weight must be a finite number"),
        ({"content_weight": math.inf}, "content_weight must be a finite number"),
        ({"iterations": 0}, "iterations must be ≥ 1"),
        ({"seed": 10**23}, "seed 100000000000000000000000 is out of range"),
        ({"layer_weights": (1.0, 2.0)}, "2 layer weights given for 5 style layers"),
        ({"layer_weights": (0.0,) * 5}, "sum to 0"),
        ({"content_layers": ("block9_conv1",)}, "unknown layer 'block9_conv1'"),
        ({"optimizer": "sgd"}, "optimizer 'sgd' is not one of lbfgs, adam, gd"),
        ({"init": "missing.png"}, "init 'missing.png'"),
        ({"size": 4}, "size must be ≥ 16, got 4"),
    ],
)
def test_invalid_values_raise(changes: dict[str, object], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        Config().replace(**changes)


def test_style_weights_are_normalized() -> None:
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


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"size": -5}, "size"),
        ({"average": 1.0}, "average"),
        ({"style_layers": ("block1_conv9",)}, "style_layers"),
        ({"layer_weights": (1.0,)}, "layer_weights"),
        ({"init": "nowhere.png"}, "init"),
        ({"masks": ("0=nowhere.png",)}, "masks"),
        # Across fields: fails here, before any weights load.
        ({"masks": (f"0={SKY}",), "style_loss": "w2"}, "style_loss"),
    ],
)
def test_errors_carry_their_field(changes: dict[str, object], field: str) -> None:
    with pytest.raises(ConfigError) as info:
        Config().replace(**changes)
    assert info.value.field == field
    assert "--" not in str(info.value)  # the library names the field, never a flag


def test_an_error_words_its_field_for_each_front_end() -> None:
    with pytest.raises(ConfigError) as info:
        Config(masks=(f"0={SKY}",), style_loss="w2")
    assert "set style_loss to gram" in str(info.value)
    assert "set --style-loss to gram" in info.value.worded("--style-loss")
    copy = pickle.loads(pickle.dumps(info.value))
    assert copy.field == "style_loss" and str(copy) == str(info.value)


def test_the_field_table_follows_the_annotations() -> None:
    assert FIELDS["style_weights"].kind == "numbers" and FIELDS["style_weights"].optional
    assert FIELDS["size"].kind == "whole" and FIELDS["normalize"].kind == "flag"
    assert FIELDS["init"].choices == ("content", "noise") and FIELDS["init"].or_file
    assert set(FIELDS) == {f.name for f in dataclasses.fields(Config)}


def test_fields_parse_words_and_data() -> None:
    assert FIELDS["style_weights"].parse("0.7, 0.3") == (0.7, 0.3)
    assert FIELDS["style_layers"].parse("block1_conv1 block2_conv1") == (
        "block1_conv1",
        "block2_conv1",
    )
    assert FIELDS["normalize"].parse("no") is False
    with pytest.raises(ConfigError, match="'big' is not a whole number") as info:
        FIELDS["size"].parse("big")
    assert info.value.field == "size"
    assert FIELDS["content_layers"].from_data("block1_conv1") == ("block1_conv1",)
    assert FIELDS["layer_weights"].from_data([1, 2.5]) == (1, 2.5)
    with pytest.raises(ConfigError, match="is a str: give a number"):
        FIELDS["style_weight"].from_data("high")
    with pytest.raises(ConfigError, match="give a whole number"):
        FIELDS["size"].from_data(1.5)

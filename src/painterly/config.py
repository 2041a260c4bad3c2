"""One typed, validated configuration holding every default of a transfer.

The command line builds its options from :class:`Config`'s fields, the web studio
its form, and each run saves its resolved config beside the output.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from .errors import ConfigError
from .layers import check_layer

STYLE_LAYERS = ("block1_conv1", "block2_conv1", "block3_conv1", "block4_conv1", "block5_conv1")
OPTIMIZERS = ("lbfgs", "adam", "gd")
DEVICES = ("auto", "cpu", "cuda", "mps")
PRECISIONS = ("auto", "bf16", "fp32")
POOLINGS = ("max", "avg")
PADDINGS = ("zeros", "replicate")
STYLE_LOSSES = ("gram", "w2")
PRESERVE_COLORS = ("none", "luminance", "histogram")


def _opt(default: Any, help: str, choices: tuple[str, ...] | None = None) -> Any:
    """A config field with the help text (and choices) the CLI and web form show."""
    return field(default=default, metadata={"help": help, "choices": choices, "option": True})


@dataclass(frozen=True)
class Config:
    """Every parameter of a style transfer, with painterly's defaults.

    ``a = style_weight`` and ``b = content_weight`` weigh ``L = a*L_style + b*L_content``
    (+ ``tv_weight`` times the total variation). ``iterations`` counts optimiser steps
    over all scales of the coarse-to-fine schedule.
    """

    content_weight: float = _opt(1.0, "b: weight of the content loss")
    style_weight: float = _opt(2.5, "a: weight of the style loss")
    iterations: int = _opt(200, "optimiser steps in all, over every scale")
    style_weights: tuple[float, ...] | None = _opt(
        None, "weight of each style image (default: equal; normalised to sum to 1)"
    )
    layer_weights: tuple[float, ...] | None = _opt(
        None, "weight of each style layer (default: equal)"
    )
    content_layers: tuple[str, ...] = _opt(("block4_conv2",), "content layer(s)")
    style_layers: tuple[str, ...] = _opt(STYLE_LAYERS, "style layers")
    time: float | None = _opt(
        None, "time budget in seconds, spread over the scales (overrides iterations)"
    )
    size: int = _opt(512, "longest side of the output in pixels")
    style_scale: float = _opt(1.0, "style image size relative to the output")
    upscale_style: bool = _opt(
        False,
        "enlarge a style image beyond its own pixels where the style scale asks for it "
        "(with a warning): keeps the strokes' size at high resolutions, a little blurred",
    )
    preserve_colors: str = _opt(
        "none",
        "keep the photo's colours: luminance (transfer brightness only) or histogram "
        "(recolour the styles to the photo's colours first)",
        PRESERVE_COLORS,
    )
    masks: tuple[str, ...] = field(
        default=(),
        metadata={"help": "STYLE_INDEX=FILE: a region (white) for a style image", "option": False},
    )
    content_mask: str | None = _opt(
        None, "image whose white parts keep more of the photo (grey: as set; black: less)"
    )
    strength: float = _opt(1.0, "blend of the result with the photo: 1 all painting, 0 the photo")
    init: str = _opt("content", "start image: content, noise, or an image file")
    seed: int | None = _opt(None, "random seed (default: a new one, saved in the record)")
    optimizer: str = _opt("lbfgs", "optimiser", OPTIMIZERS)
    lr: float | None = _opt(
        None,
        "learning rate of adam (0.02) or alpha of gd (default: first step moves pixels by 0.02)",
    )
    lbfgs_history: int = _opt(50, "L-BFGS history size")
    style_loss: str = _opt(
        "gram", "style statistics: gram (the article) or w2 (Wasserstein)", STYLE_LOSSES
    )
    average: float = _opt(0.0, "iterate averaging: EMA decay of the image (0: off)")
    normalize: bool = _opt(True, "divide each layer's loss by its target's size")
    # 3 was measured to remove the pixel-level speckle of L-BFGS (the output's
    # high-frequency energy falls to near the photo's) without costing style or
    # content scores; 10 and more start to smooth the brush strokes away.
    tv_weight: float = _opt(3.0, "total-variation (smoothness) weight")
    pooling: str = _opt("max", "pooling in the network", POOLINGS)
    padding: str = _opt("zeros", "padding of the first convolution", PADDINGS)
    scales: int = _opt(5, "coarse-to-fine: number of sizes, each √2 larger")
    channels_last: bool = _opt(True, "channels-last memory layout (faster on CPUs and GPUs)")
    precision: str = _opt("auto", "convolution precision (auto: the faster here)", PRECISIONS)
    device: str = _opt("auto", "device", DEVICES)
    weights: str | None = _opt(None, "VGG-19 weights: a source name or a file")
    preset: str = field(default="default", metadata={"help": "preset"})

    def __post_init__(self) -> None:
        validate(self)

    def replace(self, **changes: Any) -> Config:
        return dataclasses.replace(self, **changes)

    def to_json(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


PRESETS: dict[str, dict[str, Any]] = {
    "default": {},
    # The article's setting: deep content layer, five style layers with equal
    # weights, the raw Gatys losses, a single scale from white noise, no smoothness term.
    "article": {
        # The article's baseline weights (its experiment raises the style weight to 0.1).
        "style_weight": 0.005,
        "content_weight": 1.0,
        "iterations": 300,
        "content_layers": ("block5_conv2",),
        "style_layers": STYLE_LAYERS,
        "layer_weights": None,
        "init": "noise",
        "scales": 1,
        "tv_weight": 0.0,
        "padding": "zeros",
        "normalize": False,
        "style_loss": "gram",
        "average": 0.0,
    },
}


def make_config(preset: str = "default", **overrides: Any) -> Config:
    """A :class:`Config` from a preset plus overrides (``None`` values are ignored)."""
    if preset not in PRESETS:
        raise ConfigError(f"unknown preset '{preset}': use one of {', '.join(PRESETS)}")
    values = {**PRESETS[preset], **{k: v for k, v in overrides.items() if v is not None}}
    known = {f.name for f in fields(Config)}
    unknown = sorted(set(values) - known)
    if unknown:
        raise ConfigError(f"unknown option '{unknown[0]}': valid options are {sorted(known)}")
    return Config(preset=preset, **values)


def _finite_nonneg(name: str, value: float) -> None:
    if not math.isfinite(value) or value < 0:
        raise ConfigError(f"{name} must be a finite number ≥ 0, got {value}")


def _weights(name: str, values: tuple[float, ...] | None, count: int, what: str) -> None:
    if values is None:
        return
    if len(values) != count:
        raise ConfigError(f"{len(values)} {name} given for {count} {what}: give exactly {count}")
    for v in values:
        _finite_nonneg(name, v)
    if sum(values) <= 0:
        raise ConfigError(f"{name} {list(values)} sum to 0: give at least one positive weight")


def _choice(name: str, value: str, allowed: tuple[str, ...]) -> None:
    if value not in allowed:
        raise ConfigError(f"{name} '{value}' is not one of {', '.join(allowed)}")


def validate(cfg: Config) -> None:
    """Raise :class:`ConfigError` for the first invalid value in ``cfg``."""
    for name in ("content_weight", "style_weight", "tv_weight"):
        _finite_nonneg(name, getattr(cfg, name))
    if cfg.iterations < 1:
        raise ConfigError(f"iterations must be ≥ 1, got {cfg.iterations}")
    if not cfg.content_layers and not cfg.style_layers:
        raise ConfigError("no content and no style layers: name at least one layer")
    for layer in (*cfg.content_layers, *cfg.style_layers):
        check_layer(layer)
    _weights("layer weights", cfg.layer_weights, len(cfg.style_layers), "style layers")
    if cfg.size < 16:
        raise ConfigError(f"size must be at least 16 pixels, got {cfg.size}")
    if not math.isfinite(cfg.style_scale) or cfg.style_scale <= 0:
        raise ConfigError(f"style scale must be > 0, got {cfg.style_scale}")
    if cfg.lr is not None and (not math.isfinite(cfg.lr) or cfg.lr <= 0):
        raise ConfigError(f"learning rate must be > 0, got {cfg.lr}")
    if cfg.time is not None and (not math.isfinite(cfg.time) or cfg.time <= 0):
        raise ConfigError(f"time budget must be > 0 seconds, got {cfg.time}")
    if cfg.scales < 1:
        raise ConfigError(f"scales must be ≥ 1, got {cfg.scales}")
    if cfg.lbfgs_history < 1:
        raise ConfigError(f"L-BFGS history must be ≥ 1, got {cfg.lbfgs_history}")
    _choice("optimizer", cfg.optimizer, OPTIMIZERS)
    _choice("device", cfg.device, DEVICES)
    _choice("precision", cfg.precision, PRECISIONS)
    _choice("pooling", cfg.pooling, POOLINGS)
    _choice("padding", cfg.padding, PADDINGS)
    _choice("style loss", cfg.style_loss, STYLE_LOSSES)
    if not 0 <= cfg.average < 1:
        raise ConfigError(f"average must be in [0, 1), got {cfg.average}: try 0.9")
    _choice("preserve colors", cfg.preserve_colors, PRESERVE_COLORS)
    if not 0 <= cfg.strength <= 1:
        raise ConfigError(f"strength must be between 0 and 1, got {cfg.strength}: try 0.6")
    for path in (cfg.content_mask, *(parse_mask(m)[1] for m in cfg.masks)):
        if path and not Path(path).is_file():
            raise ConfigError(f"mask '{path}' does not exist: check the path")
    if cfg.init not in ("content", "noise") and not Path(cfg.init).is_file():
        raise ConfigError(
            f"init '{cfg.init}' is neither 'content', 'noise' nor an existing image file"
        )


def parse_mask(spec: str) -> tuple[int, Path]:
    """``"0=sky.png"`` → ``(0, Path("sky.png"))``; the index counts style images from 0."""
    index, sep, path = spec.partition("=")
    if not sep or not index.strip().isdigit() or not path:
        raise ConfigError(
            f"mask '{spec}' is not STYLE_INDEX=FILE: write e.g. '0=sky.png' for the first style"
        )
    return int(index), Path(path)


def check_style_weights(cfg: Config, n_styles: int) -> tuple[float, ...]:
    """The per-style-image weights, validated against the count and summing to 1."""
    if n_styles < 1:
        raise ConfigError("no style image given: give at least one")
    _weights("style weights", cfg.style_weights, n_styles, "style images")
    raw = cfg.style_weights or (1.0,) * n_styles
    total = sum(raw)
    return tuple(w / total for w in raw)


def layer_weight_map(cfg: Config) -> dict[str, float]:
    """Style layer → its weight ``w_l`` (equal by default)."""
    count = len(cfg.style_layers)
    raw = cfg.layer_weights or (1.0 / max(count, 1),) * count
    return dict(zip(cfg.style_layers, raw, strict=True))

"""One typed, validated configuration holding every default of a transfer.

Each field is declared once, with its kind, choices and range (:data:`FIELDS`); the
command line builds its options from that table, the web studio its form checks and the
experiment grids their parser, and each run saves its resolved config beside the output.
"""

from __future__ import annotations

import dataclasses
import typing
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import ConfigError
from ..files.paths import check_readable
from ..nn.layers import check_layer, check_tile, deepest
from .fields import Bounds, FieldSpec, kind_of

STYLE_LAYERS = ("block1_conv1", "block2_conv1", "block3_conv1", "block4_conv1", "block5_conv1")
OPTIMIZERS = ("lbfgs", "adam", "gd")
DEVICES = ("auto", "cpu", "cuda", "mps")
PRECISIONS = ("auto", "bf16", "fp32")
POOLINGS = ("max", "avg")
PADDINGS = ("zeros", "replicate")
STYLE_LOSSES = ("gram", "w2")
PRESERVE_COLORS = ("none", "luminance", "histogram")
INITS = ("content", "noise")  # or an image file
# The fields that define the objective itself (what a fast model learns and its file
# records), as against how a run reaches it (sizes, steps, optimiser, device).
OBJECTIVE_FIELDS = (
    "content_weight",
    "style_weight",
    "layer_weights",
    "content_layers",
    "style_layers",
    "style_scale",
    "style_loss",
    "normalize",
    "tv_weight",
    "pooling",
    "padding",
    "weights",
)
WEIGHT = Bounds(low=0)  # finite and ≥ 0
POSITIVE = Bounds(low=0, open_low=True)


def parse_mask(spec: str) -> tuple[int, Path]:
    """``"0=sky.png"`` → ``(0, Path("sky.png"))``; the index counts style images from 0."""
    index, sep, path = spec.partition("=")
    if not sep or not index.strip().isdigit() or not path:
        raise ConfigError(
            f"mask '{spec}' is not STYLE_INDEX=FILE: write e.g. '0=sky.png' for the first style"
        )
    return int(index), Path(path)


def _existing_file(path: str | Path) -> None:
    if path:
        check_readable(path, "mask", ConfigError)  # missing, a folder, a link loop, …


def _mask_spec(spec: str) -> None:
    _existing_file(parse_mask(spec)[1])


def _opt(
    default: Any,
    help: str,
    *,
    choices: tuple[str, ...] = (),
    or_file: bool = False,
    bounds: Bounds | None = None,
    check_item: Callable[[str], object] | None = None,
    option: bool = True,
    studio: bool = False,
) -> Any:
    """A config field and its declaration (see :class:`~painterly.config.fields.FieldSpec`):
    help text, choices, range, an extra check per value, and where it may be set."""
    spec = {
        "help": help,
        "choices": choices,
        "or_file": or_file,
        "bounds": bounds,
        "check_item": check_item,
        "option": option,
        "studio": studio,
    }
    return field(default=default, metadata={**spec, "choices": choices or None, "spec": spec})


@dataclass(frozen=True)
class Config:
    """Every parameter of a style transfer, with painterly's defaults.

    ``a = style_weight`` and ``b = content_weight`` weigh ``L = a*L_style + b*L_content``
    (+ ``tv_weight`` times the total variation). ``iterations`` counts optimiser steps
    over all scales of the coarse-to-fine schedule. Each field's kind, choices and range
    are declared here once (see :data:`FIELDS`).
    """

    content_weight: float = _opt(1.0, "b: weight of the content loss", bounds=WEIGHT, studio=True)
    style_weight: float = _opt(2.5, "a: weight of the style loss", bounds=WEIGHT, studio=True)
    # 80 steps tapered towards the fine scales, with the carried L-BFGS scale, end as
    # low as twice as many even steps in less than half the time (benchmarks/schedule.py;
    # the figures are on the README's speed tables).
    iterations: int = _opt(
        80, "optimiser steps in all, over every scale", bounds=Bounds(low=1), studio=True
    )
    style_weights: tuple[float, ...] | None = _opt(
        None,
        "weight of each style image (default: equal; normalised to sum to 1)",
        bounds=WEIGHT,
        studio=True,
    )
    layer_weights: tuple[float, ...] | None = _opt(
        None, "weight of each style layer (default: equal)", bounds=WEIGHT, studio=True
    )
    content_layers: tuple[str, ...] = _opt(
        ("block4_conv2",), "content layer(s)", check_item=check_layer, studio=True
    )
    style_layers: tuple[str, ...] = _opt(
        STYLE_LAYERS, "style layers", check_item=check_layer, studio=True
    )
    time: float | None = _opt(
        None,
        "time budget in seconds, spread over the scales (overrides iterations)",
        bounds=POSITIVE,
        studio=True,
    )
    size: int = _opt(
        512, "longest side of the output in pixels", bounds=Bounds(low=16), studio=True
    )
    style_scale: float = _opt(
        1.0, "style image size relative to the output", bounds=POSITIVE, studio=True
    )
    upscale_style: bool = _opt(
        False,
        "enlarge a style image beyond its own pixels where the style scale asks for it "
        "(with a warning): keeps the strokes' size at high resolutions, a little blurred",
    )
    preserve_colors: str = _opt(
        "none",
        "keep the photo's colours: luminance (transfer brightness only) or histogram "
        "(recolour the styles to the photo's colours first)",
        choices=PRESERVE_COLORS,
        studio=True,
    )
    masks: tuple[str, ...] = _opt(
        (),
        "STYLE_INDEX=FILE: a region (white) for a style image",
        check_item=_mask_spec,
        option=False,
    )
    content_mask: str | None = _opt(
        None,
        "image whose white parts keep more of the photo (grey: as set; black: less)",
        check_item=_existing_file,
    )
    strength: float = _opt(
        1.0,
        "blend of the result with the photo: 1 all painting, 0 the photo",
        bounds=Bounds(low=0, high=1, fix="try 0.6"),
        studio=True,
    )
    init: str = _opt(
        "content",
        "start image: content, noise, or an image file",
        choices=INITS,
        or_file=True,
        studio=True,
    )
    seed: int | None = _opt(
        None, "random seed (default: a new one, saved in the record)", studio=True
    )
    optimizer: str = _opt("lbfgs", "optimiser", choices=OPTIMIZERS, studio=True)
    lr: float | None = _opt(
        None,
        "learning rate of adam (0.02) or alpha of gd (default: first step moves pixels by 0.02)",
        bounds=POSITIVE,
    )
    lbfgs_history: int = _opt(50, "L-BFGS history size", bounds=Bounds(low=1))
    carry_scale: bool = _opt(
        True,
        "start each scale's L-BFGS with the curvature scale the last scale ended with "
        "(off: a first step of 1/sum|gradient|, which hardly moves the image)",
    )
    # On by default: in the same steps it ends lower than plain steps on every pair tried,
    # for about 1% of a step's time (four FFTs of the image; benchmarks/race.py).
    precondition: bool = _opt(
        True,
        "L-BFGS moves broad areas (a sky's colour, a wall's tone) as readily as fine "
        "detail, through a spectral preconditioner (off: plain pixel steps; either way "
        "L-BFGS keeps the pixels in [0, 1])",
    )
    style_loss: str = _opt(
        "gram", "style statistics: gram (the article) or w2 (Wasserstein)", choices=STYLE_LOSSES
    )
    average: float = _opt(
        0.0,
        "iterate averaging: EMA decay of the image (0: off)",
        bounds=Bounds(low=0, high=1, open_high=True, fix="try 0.9"),
    )
    normalize: bool = _opt(True, "divide each layer's loss by its target's size")
    # Enough to remove the pixel-level speckle of L-BFGS (the output's high-frequency
    # energy falls to near the photo's) without costing style or content scores; ten
    # times more starts to smooth the brush strokes away.
    tv_weight: float = _opt(3.0, "total-variation (smoothness) weight", bounds=WEIGHT, studio=True)
    pooling: str = _opt("max", "pooling in the network", choices=POOLINGS, studio=True)
    padding: str = _opt("zeros", "padding of the first convolution", choices=PADDINGS)
    scales: int = _opt(
        5, "coarse-to-fine: number of sizes, each √2 larger", bounds=Bounds(low=1), studio=True
    )
    taper: float = _opt(
        1.4,
        "steps at each scale relative to the scale before it (1: an even split; "
        "1.4: each finer scale gets 1.4 times the steps of the coarser one)",
        bounds=POSITIVE,
    )
    photo_detail: bool = _opt(
        True,
        "start each finer scale from the coarser result enlarged plus the photo's detail "
        "that the coarser size could not hold (off: the enlarged result alone)",
    )
    stop_tolerance: float = _opt(
        0.0,
        "leave a scale early when its loss fell by less than this fraction over the "
        "last stop_window steps (0: never)",
        bounds=Bounds(low=0, high=1, open_high=True, fix="try 0.01"),
    )
    stop_window: int = _opt(
        10, "steps over which stop_tolerance measures the fall of the loss", bounds=Bounds(low=1)
    )
    tile: int | None = _opt(
        None,
        "cut each step into tiles of this many px (plus halos) where the image is larger: "
        "the same result in less memory (default: only when a whole step would not fit)",
        bounds=Bounds(low=16),
    )
    channels_last: bool = _opt(True, "channels-last memory layout (faster on CPUs and GPUs)")
    precision: str = _opt(
        "auto", "convolution precision (auto: the faster here)", choices=PRECISIONS
    )
    device: str = _opt("auto", "device", choices=DEVICES)
    weights: str | None = _opt(None, "VGG-19 weights: a source name or a file")
    preset: str = _opt("default", "preset", option=False)

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
        raise ConfigError(f"unknown preset '{preset}': use one of {', '.join(PRESETS)}", "preset")
    values = {**PRESETS[preset], **{k: v for k, v in overrides.items() if v is not None}}
    unknown = sorted(set(values) - set(FIELDS))
    if unknown:
        raise ConfigError(
            f"unknown option '{unknown[0]}': valid options are {sorted(FIELDS)}", unknown[0]
        )
    return Config(preset=preset, **values)


def _table() -> dict[str, FieldSpec]:
    hints = typing.get_type_hints(Config)
    table = {}
    for f in dataclasses.fields(Config):
        kind, optional = kind_of(hints[f.name])
        table[f.name] = FieldSpec(f.name, kind, optional, **f.metadata["spec"])
    return table


FIELDS: dict[str, FieldSpec] = _table()
"""Config field → its :class:`~painterly.config.fields.FieldSpec`: the one table of what each
field takes, from which the command line, the studio's form and the grids derive."""


def _weights(name: str, values: tuple[float, ...] | None, count: int, what: str) -> None:
    if values is None:
        return
    words = name.replace("_", " ")
    if len(values) != count:
        raise ConfigError(
            f"{len(values)} {words} given for {count} {what}: give exactly {count}", name
        )
    if sum(values) <= 0:
        raise ConfigError(
            f"{words} {list(values)} sum to 0: give at least one positive weight", name
        )


def validate(cfg: Config) -> None:
    """Raise :class:`ConfigError` for the first invalid value in ``cfg``: each field's
    own checks (from :data:`FIELDS`), then those between fields."""
    for spec in FIELDS.values():
        spec.check(getattr(cfg, spec.name))
    if cfg.seed is not None and not -(2**63) <= cfg.seed < 2**64:  # what torch takes
        raise ConfigError(
            f"{{field}} {cfg.seed} is out of range: use a whole number from 0 to 2**64 - 1", "seed"
        )
    if not cfg.content_layers and not cfg.style_layers:
        raise ConfigError(
            "no content and no style layers: name at least one layer", "content_layers"
        )
    _weights("layer_weights", cfg.layer_weights, len(cfg.style_layers), "style layers")
    if cfg.tile is not None:
        check_tile(cfg.tile, deepest([*cfg.content_layers, *cfg.style_layers]))
    if cfg.masks and cfg.style_loss != "gram":
        raise ConfigError(
            f"style masks need the gram style loss, not '{cfg.style_loss}': "
            "set {field} to gram or give no masks",
            "style_loss",
        )
    if cfg.precision == "bf16" and cfg.device == "mps":
        raise ConfigError(
            "precision 'bf16' is not supported on mps: set {field} to fp32", "precision"
        )


def check_style_weights(cfg: Config, n_styles: int) -> tuple[float, ...]:
    """The per-style-image weights, validated against the count and summing to 1."""
    if n_styles < 1:
        raise ConfigError("no style image given: give at least one", "style_weights")
    _weights("style_weights", cfg.style_weights, n_styles, "style images")
    raw = cfg.style_weights or (1.0,) * n_styles
    total = sum(raw)
    return tuple(w / total for w in raw)


def layer_weight_map(cfg: Config) -> dict[str, float]:
    """Style layer → its weight ``w_l`` (equal by default)."""
    count = len(cfg.style_layers)
    raw = cfg.layer_weights or (1.0 / max(count, 1),) * count
    return dict(zip(cfg.style_layers, raw, strict=True))

"""The studio's form: which parameters a page may send, their types and limits, and
their validation into a :class:`~painterly.Config` with a message per field."""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from PIL import Image

from ..config.fields import NUMBER, NUMBERS, TEXT, WHOLE
from ..config.settings import FIELDS as CONFIG_FIELDS
from ..config.settings import PRESETS, Config, check_style_weights, make_config
from ..errors import ConfigError, PainterlyError
from ..nn.layers import CONV_NAMES
from ..transfer.regions import content_mask, style_masks

# Form field → kind, from Config's field table. Paths (weights, masks, an init file) are
# never taken from a page.
FIELDS: dict[str, str] = {name: spec.kind for name, spec in CONFIG_FIELDS.items() if spec.studio}


@dataclass(frozen=True)
class FormLimits:
    """Bounds the server sets on top of painterly's own checks."""

    max_size: int = 1024
    max_iterations: int = 3000
    max_time: float = 3600.0
    max_styles: int = 4


class FormError(Exception):
    """Invalid fields: ``errors`` maps each field to its message."""

    def __init__(self, errors: dict[str, str]) -> None:
        super().__init__("; ".join(f"{k}: {v}" for k, v in errors.items()))
        self.errors = errors


def _coerce(name: str, kind: str, value: Any) -> Any:
    """The value as Config wants it, or raise ConfigError naming what was expected."""
    if kind in (NUMBER, WHOLE):
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise ConfigError(f"{name} must be a number, got {value!r}")
        if not math.isfinite(value):
            raise ConfigError(f"{name} must be finite, got {value}")
        if kind == WHOLE and value != int(value):
            raise ConfigError(f"{name} must be a whole number, got {value}")
        return int(value) if kind == WHOLE else float(value)
    if kind == TEXT:
        if not isinstance(value, str) or len(value) > 40:
            raise ConfigError(f"{name} must be a short text, got {value!r}")
        return value
    if not isinstance(value, list) or len(value) > 16:
        raise ConfigError(f"{name} must be a list of at most 16 values")
    inner = NUMBER if kind == NUMBERS else TEXT
    return tuple(_coerce(name, inner, v) for v in value)


def _bounds(name: str, value: Any, limits: FormLimits) -> None:
    if name == "size" and value > limits.max_size:
        raise ConfigError(f"size {value} is over this server's {limits.max_size} px: lower it")
    if name == "iterations" and value > limits.max_iterations:
        raise ConfigError(f"iterations {value} is over this server's {limits.max_iterations}")
    if name == "time" and value > limits.max_time:
        raise ConfigError(f"time {value} s is over this server's {limits.max_time:.0f} s")
    if name == "seed" and not 0 <= value < 2**63:
        message = f"seed {value} is out of range: use a whole number from 0 to 2⁶³ − 1"
        raise ConfigError(message, name)
    choices = CONFIG_FIELDS[name].choices
    if choices and value not in choices:
        raise ConfigError(f"{name} '{value}' is not one of {', '.join(choices)}", name)
    if name in ("content_layers", "style_layers"):
        bad = [v for v in value if v not in CONV_NAMES]
        if bad:
            raise ConfigError(
                f"'{bad[0]}' is not a convolution layer (block1_conv1 … block5_conv4)"
            )


def validate(
    preset: Any, values: Any, n_styles: int, limits: FormLimits | None = None
) -> tuple[Config, dict[str, Any]]:
    """A Config from a page's preset and values; raise FormError with every bad field.

    Returns the config and the cleaned form (what a gallery entry loads back).
    """
    limits = limits or FormLimits()
    if not isinstance(preset, str) or preset not in PRESETS:
        raise FormError({"preset": f"preset must be one of {', '.join(PRESETS)}"})
    if not isinstance(values, dict):
        raise FormError({"params": "params must be an object of field: value"})
    errors: dict[str, str] = {}
    clean: dict[str, Any] = {}
    for name, value in values.items():
        if name not in FIELDS:
            errors[name] = f"'{name}' cannot be set from the studio"
            continue
        if value is None:
            continue
        try:
            clean[name] = _coerce(name, FIELDS[name], value)
            _bounds(name, clean[name], limits)
            make_config(preset, **{name: clean[name]})
        except ConfigError as exc:
            errors[name] = str(exc)
    if not 1 <= n_styles <= limits.max_styles:
        errors["styles"] = f"choose 1 to {limits.max_styles} style images, not {n_styles}"
    if errors:
        raise FormError(errors)
    try:
        cfg = make_config(preset, **clean)
        check_style_weights(cfg, n_styles)
    except ConfigError as exc:
        raise FormError({exc.field or "params": str(exc)}) from None
    form = {k: list(v) if isinstance(v, tuple) else v for k, v in clean.items()}
    return cfg, {"preset": preset, **form}


def with_regions(
    cfg: Config,
    masks: Any,
    keep: Any,
    n_styles: int,
    photo: Path,
    resolve: Callable[[str], Path],
) -> tuple[Config, dict[str, Any]]:
    """Add a page's regions to a config: ``masks`` maps a painting's number ("0") to the
    id of a mask image, ``keep`` is the id of a content mask. Ids are resolved by the
    server (``resolve``), never used as paths; every mask is checked against the photo.
    Returns the config and the form fields to store."""
    if not masks and not keep:
        return cfg, {}
    with Image.open(photo) as img:
        hw = (img.height, img.width)
    chosen: dict[str, str] = {}
    try:
        if not isinstance(masks, dict | type(None)):
            raise ConfigError("masks must map a painting's number to a mask image")
        specs = []
        for index, image_id in (masks or {}).items():
            number = str(index)  # ASCII digits only: int("²") fails though "²".isdigit()
            if (
                not re.fullmatch(r"[0-9]{1,2}", number)
                or int(number) >= n_styles
                or not isinstance(image_id, str)
            ):
                raise ConfigError(f"there is no painting number {index!r} to give a region to")
            specs.append(f"{int(index)}={resolve(image_id)}")
            chosen[str(index)] = image_id
        style_masks(specs, n_styles, hw)
        cfg = cfg.replace(masks=tuple(specs))
    except PainterlyError as exc:
        raise FormError({"masks": str(exc)}) from None
    try:
        if keep:
            path = resolve(str(keep))
            content_mask(path, hw)
            cfg = cfg.replace(content_mask=str(path))
    except PainterlyError as exc:
        raise FormError({"content_mask": str(exc)}) from None
    return cfg, {"masks": chosen, "content_mask": keep or None}

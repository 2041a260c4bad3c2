"""Checks of the images' shapes at submission: every size a run will use must keep the
deepest layer at least one pixel wide, or the run would fail after it started.

Only the images' headers are read; the sizes come from the same functions the run uses
(``transfer.schedule`` and ``inputs.style_size``).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import torch
from PIL import Image

from ..config.settings import Config
from ..errors import ConfigError
from ..files import images
from ..nn.layers import INDEX, deepest, layer_shapes
from ..transfer.inputs import MAX_STYLE_STRETCH, style_size
from ..transfer.schedule import schedule
from .form import FormError


def reaches(hw: tuple[int, int], layer: str) -> bool:
    """Whether an input of size ``hw`` still has pixels at ``layer``."""
    _, _, h, w = layer_shapes(*hw)[INDEX[layer]]
    return h >= 1 and w >= 1


def header_size(path: Path) -> tuple[int, int]:
    """(height, width) of an image file, from its header."""
    with Image.open(path) as img:
        return img.height, img.width


def _sizes(
    cfg: Config, photo: tuple[int, int], style: tuple[int, int] | None
) -> list[tuple[int, int]]:
    """Every size the photo (or, given ``style``, that style image) takes in a run."""
    try:
        plan = [hw for hw, _ in schedule(cfg, *photo)]
    except ConfigError:  # too thin even at cfg.size: that size is the one that fails
        plan = [images.fit_size(*photo, cfg.size)]
    if style is None:
        return plan
    shape = torch.empty((0, *style))  # style_size reads only the shape
    return [style_size(cfg, shape, hw, plan[-1]) for hw in plan]


def _fits(cfg: Config, photo: tuple[int, int], style: tuple[int, int] | None, layer: str) -> bool:
    sizes = _sizes(cfg, photo, style)
    if style is not None:  # a style image is enlarged to the layer's need, within limits
        plan = _sizes(cfg, photo, None)
        if any(max(s) > MAX_STYLE_STRETCH * max(hw) for s, hw in zip(sizes, plan, strict=True)):
            return False
    return all(reaches(hw, layer) for hw in sizes)


def _smallest_size(
    cfg: Config, photo: tuple[int, int], style: tuple[int, int] | None, layer: str, most: int
) -> int | None:
    """The smallest ``size`` up to ``most`` at which every size reaches ``layer``."""
    for size in range(cfg.size + 1, most + 1):
        if _fits(cfg.replace(size=size), photo, style, layer):
            return size
    return None


def check_shapes(cfg: Config, photo: Path, styles: Sequence[Path], max_size: int) -> None:
    """Raise FormError (on ``size``, ``images`` or ``styles``) if an image would be too
    thin for the deepest layer ``cfg`` uses at some scale of the run."""
    layer = deepest([*cfg.content_layers, *cfg.style_layers])
    photo_hw = header_size(photo)
    for field, style in [("images", None), *[("styles", header_size(s)) for s in styles]]:
        if _fits(cfg, photo_hw, style, layer):
            continue
        h, w = style or photo_hw
        what = "the photo" if style is None else f"a painting ({w}×{h})"
        small = min(min(hw) for hw in _sizes(cfg, photo_hw, style))
        problem = (
            f"at size {cfg.size}, {what} is {small} px on its short side at the smallest "
            f"scale, too few for {layer}"
        )
        better = _smallest_size(cfg, photo_hw, style, layer, max_size)
        if better is not None:
            raise FormError({"size": f"{problem}: raise size to {better} or more"})
        raise FormError({field: f"{problem}: crop it to a less elongated shape"})


def inside_size(path: Path, layer: str, side: int) -> tuple[int, int] | None:
    """The size ``path`` is drawn at (longest side ``side``) if ``layer`` still has
    pixels there, else None."""
    hw = images.fit_size(*header_size(path), side)
    return hw if reaches(hw, layer) else None

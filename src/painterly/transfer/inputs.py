"""The images of a run as the network reads them, and the picture a user sees.

Colour preservation changes what the network reads (grey luminance images, or style
images recoloured to the photo's colours); the optimised pixels are then presented
with the photo's colours put back and blended with the photo by ``strength``.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import cast

import torch

from ..config.settings import Config
from ..errors import ConfigError
from ..files import images
from ..files.images import ACCEPTED
from ..nn.layers import deepest, min_side
from . import colors, regions

log = logging.getLogger(__name__)
ImageLike = images.ImageSource  # a path, PIL image, tensor, array, bytes or file object


def style_list(styles: ImageLike | Sequence[ImageLike] | None) -> list[ImageLike]:
    """The style images of a call: a list or tuple of them, or one image alone.

    >>> style_list("starry.jpg")
    ['starry.jpg']
    """
    if isinstance(styles, (list, tuple)):
        return list(styles)
    if styles is None:
        raise ConfigError(f"no style image given (None): give one, or a list; each {ACCEPTED}")
    return [cast(ImageLike, styles)]


def blend(painting: torch.Tensor, photo: torch.Tensor, strength: float) -> torch.Tensor:
    """``strength * painting + (1 - strength) * photo``, the photo resized to the painting.

    >>> blend(torch.ones(1, 3, 2, 2), torch.zeros(1, 3, 2, 2), 0.25)[0, 0, 0, 0].item()
    0.25
    """
    if not 0 <= strength <= 1:  # also refuses NaN
        raise ConfigError(f"{{field}} must be between 0 and 1, got {strength}: try 0.6", "strength")
    if strength == 1:
        return painting
    photo = images.resize(photo.to(painting), (painting.shape[-2], painting.shape[-1]))
    return (strength * painting + (1 - strength) * photo).clamp(0, 1)


@dataclass
class Inputs:
    """A run's images: the photo as given, and what the network reads."""

    photo: torch.Tensor  # 1×3×H×W RGB in [0, 1], as given
    content: torch.Tensor  # the content target image (grey with luminance transfer)
    styles: list[torch.Tensor]  # the style images, prepared likewise
    style_masks: list[torch.Tensor] | None  # one 1×1×H×W mask per style, photo-sized
    content_mask: torch.Tensor | None  # 1×1×H×W in [0, 1], photo-sized
    preserve_colors: str
    strength: float

    def start(self, image: torch.Tensor) -> torch.Tensor:
        """A start image given by the user, in the space the network optimises."""
        if self.preserve_colors == "luminance":
            return colors.grey(colors.luminance(image))
        return image

    def painting(self, x: torch.Tensor) -> torch.Tensor:
        """The optimised pixels as a picture, with the photo's colours where asked."""
        if self.preserve_colors != "luminance":
            return x
        photo = images.resize(self.photo.to(x), (x.shape[-2], x.shape[-1]))
        return colors.with_photo_colors(x, photo)

    def present(self, x: torch.Tensor) -> torch.Tensor:
        """What the user sees: the painting blended with the photo by ``strength``."""
        return blend(self.painting(x), self.photo, self.strength)


def prepare(cfg: Config, content: ImageLike, styles: Sequence[ImageLike]) -> Inputs:
    """Load the images and masks of a run and apply the colour preservation."""
    # Files much larger than the run needs are decoded at a reduced size.
    photo = images.load_image(content, cfg.size, what="the content image")
    wanted = None if cfg.upscale_style else max(16, math.ceil(cfg.size * cfg.style_scale))
    style_imgs = [
        images.load_image(s, wanted, what=f"style image {i}") for i, s in enumerate(styles)
    ]
    hw = (photo.shape[-2], photo.shape[-1])
    target = photo
    if cfg.preserve_colors == "luminance":
        target = colors.grey(colors.luminance(photo))
        style_imgs = [colors.match_luminance(s, photo) for s in style_imgs]
    elif cfg.preserve_colors == "histogram":
        style_imgs = [colors.match_histogram(s, photo) for s in style_imgs]
    mask = None if cfg.content_mask is None else regions.content_mask(cfg.content_mask, hw)
    return Inputs(
        photo=photo,
        content=target,
        styles=style_imgs,
        style_masks=regions.style_masks(cfg.masks, len(style_imgs), hw),
        content_mask=mask,
        preserve_colors=cfg.preserve_colors,
        strength=cfg.strength,
    )


def style_size(
    cfg: Config, style: torch.Tensor, hw: tuple[int, int], final: tuple[int, int] | None = None
) -> tuple[int, int]:
    """The style image's size at an output size ``hw``: ``style_scale`` times the output's
    longest side, never upscaled beyond the style image's own resolution.

    The cap is set at the ``final`` (largest) output size and the same ratio is kept at
    every coarser scale, so the brush strokes keep their relative size from scale to
    scale instead of shrinking at the last ones. ``upscale_style`` lifts the cap. A
    size whose shorter side is under what the deepest style layer needs is enlarged
    to it (see :func:`check_style_sizes`).
    """
    h, w = style.shape[-2:]
    if cfg.upscale_style:
        side = max(16, round(max(hw) * cfg.style_scale))
    else:
        ratio = min(cfg.style_scale, max(h, w) / max(final or hw))
        side = max(16, min(max(h, w), round(max(hw) * ratio)))
    if cfg.style_layers:
        side = max(side, images.side_for(h, w, min_side(cfg.style_layers)))
    return images.fit_size(h, w, side)


MAX_STYLE_STRETCH = 8  # a style image may be sized up to 8 times the output's longer side


def check_style_sizes(
    cfg: Config, styles: Sequence[torch.Tensor], plan: Sequence[tuple[tuple[int, int], int]]
) -> None:
    """Raise :class:`ConfigError` for a style image so elongated that its shorter side
    reaches what the deepest style layer needs only at an unreasonable size."""
    if not cfg.style_layers:
        return
    final = plan[-1][0]
    for i, style in enumerate(styles):
        for hw, _ in plan:
            size = style_size(cfg, style, hw, final)
            if max(size) > MAX_STYLE_STRETCH * max(hw):
                need, layer = min_side(cfg.style_layers), deepest(cfg.style_layers)
                raise ConfigError(
                    f"style image {i} is too elongated: layer {layer} needs {need} px on its "
                    f"shorter side, so it would be {size[1]}×{size[0]} px: crop it to a less "
                    "elongated shape"
                )


def warn_upscale(cfg: Config, styles: Sequence[torch.Tensor], final: tuple[int, int]) -> None:
    """Warn once per style image that would need upscaling at the final size."""
    for i, style in enumerate(styles):
        h, w = style.shape[-2:]
        want = round(max(final) * cfg.style_scale)
        if want > max(h, w) and cfg.upscale_style:
            log.warning("style image %d is %d×%d: upscaled to %d px, so blurred", i, w, h, want)
        elif want > max(h, w):
            log.warning(
                "style image %d is %d×%d: not upscaled to %d px (a style scale of %.2f here; "
                "upscale_style keeps the stroke size)",
                i,
                w,
                h,
                want,
                max(h, w) / max(final),
            )

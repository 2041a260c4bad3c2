"""The images of a run as the network reads them, and the picture a user sees.

Colour preservation changes what the network reads (grey luminance images, or style
images recoloured to the photo's colours); the optimised pixels are then presented
with the photo's colours put back and blended with the photo by ``strength``.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import torch

from . import color, images, regions
from .config import Config

log = logging.getLogger(__name__)
ImageLike = str | os.PathLike[str] | Any  # path, PIL image or tensor


def blend(painting: torch.Tensor, photo: torch.Tensor, strength: float) -> torch.Tensor:
    """``strength * painting + (1 - strength) * photo``, the photo resized to the painting.

    >>> blend(torch.ones(1, 3, 2, 2), torch.zeros(1, 3, 2, 2), 0.25)[0, 0, 0, 0].item()
    0.25
    """
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
            return color.grey(color.luminance(image))
        return image

    def painting(self, x: torch.Tensor) -> torch.Tensor:
        """The optimised pixels as a picture, with the photo's colours where asked."""
        if self.preserve_colors != "luminance":
            return x
        photo = images.resize(self.photo.to(x), (x.shape[-2], x.shape[-1]))
        return color.with_photo_colours(x, photo)

    def present(self, x: torch.Tensor) -> torch.Tensor:
        """What the user sees: the painting blended with the photo by ``strength``."""
        return blend(self.painting(x), self.photo, self.strength)


def prepare(cfg: Config, content: ImageLike, styles: Sequence[ImageLike]) -> Inputs:
    """Load the images and masks of a run and apply the colour preservation."""
    photo = images.load_image(content)
    style_imgs = [images.load_image(s) for s in styles]
    hw = (photo.shape[-2], photo.shape[-1])
    target = photo
    if cfg.preserve_colors == "luminance":
        target = color.grey(color.luminance(photo))
        style_imgs = [color.match_luminance(s, photo) for s in style_imgs]
    elif cfg.preserve_colors == "histogram":
        style_imgs = [color.match_histogram(s, photo) for s in style_imgs]
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
    scale instead of shrinking at the last ones. ``upscale_style`` lifts the cap.
    """
    h, w = style.shape[-2:]
    if cfg.upscale_style:
        return images.fit_size(h, w, max(16, round(max(hw) * cfg.style_scale)))
    ratio = min(cfg.style_scale, max(h, w) / max(final or hw))
    return images.fit_size(h, w, max(16, min(max(h, w), round(max(hw) * ratio))))


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

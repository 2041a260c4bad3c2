"""The bundled sample images (credits in ``painterly/data/SOURCES.md``)."""

from __future__ import annotations

from importlib import resources
from pathlib import Path

import numpy as np
import torch

from . import images

BUNDLED = ("tubingen.jpg", "starry_night.jpg", "the_scream.jpg", "shipwreck.jpg")
MASKS = ("tubingen_sky.png",)  # regions of the bundled photo, for --mask


def bundled(name: str) -> Path:
    """Path of a bundled sample image or mask."""
    return Path(str(resources.files("painterly") / "data" / name))


def moving_clip(
    frames: int, size: int, pan: float = 0.25, zoom: float = 0.15, thing: bool = True
) -> list[np.ndarray]:
    """A synthetic clip made from the bundled photo: the camera pans right by ``pan`` of
    the photo's width and zooms in by ``zoom`` over the clip, while a disc cut from
    *The Shipwreck* crosses the frame; ``H×W×3`` uint8 frames, longest side ``size``."""
    photo = images.load_image(bundled("tubingen.jpg"))
    h, w = photo.shape[-2:]
    out_hw = images.fit_size(round(h * 0.75), round(w * 0.6), size)
    patch = images.resize_longest(images.load_image(bundled("shipwreck.jpg")), out_hw[0] // 3)
    disc = _disc(patch.shape[-2])
    for_frames = max(frames - 1, 1)
    clip = []
    for t in range(frames):
        k = t / for_frames
        ch, cw = round(h * 0.75 * (1 - zoom * k)), round(w * 0.6 * (1 - zoom * k))
        top = (h - ch) // 2
        left = round((w - cw) * 0.1 + pan * w * k)
        frame = images.resize(photo[..., top : top + ch, left : left + cw], out_hw)
        if thing:
            y, x = round(out_hw[0] * (0.55 - 0.3 * k)), round(out_hw[1] * (0.1 + 0.6 * k))
            region = frame[..., y : y + disc.shape[-2], x : x + disc.shape[-1]]
            ph, pw = region.shape[-2:]
            region.mul_(1 - disc[..., :ph, :pw]).add_(disc[..., :ph, :pw] * patch[..., :ph, :pw])
        clip.append(np.array(images.tensor_to_pil(frame)))
    return clip


def _disc(side: int) -> torch.Tensor:
    ys, xs = torch.meshgrid(torch.arange(side), torch.arange(side), indexing="ij")
    r = (side - 1) / 2
    return (((ys - r) ** 2 + (xs - r) ** 2) <= r * r).float()[None, None]

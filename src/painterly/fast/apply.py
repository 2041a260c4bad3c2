"""A photo through a fast model: the style mix, colours kept, strength, any size.

The network's sides must be multiples of :data:`~painterly.fast.network.STRIDE`: the
photo is padded by reflection to the next ones and the painting cut back. An image
above :data:`WHOLE_PIXELS` runs in tiles (see :mod:`painterly.fast.tiles`) whose result
equals the whole pass up to rounding.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch.nn import functional as F

from ..errors import ConfigError, ModelError
from ..files import images
from ..transfer import colors
from ..transfer.inputs import ImageLike, blend
from .model import FastModel
from .network import STRIDE, Norms
from .tiles import tiled_forward

# Up to this many pixels a pass runs whole (its largest maps, 32 float32 channels at
# full resolution, about 300 MiB each here); larger images run in tiles.
WHOLE_PIXELS = 1536 * 1536
TILE = 512


def style_mix(model: FastModel, weights: Sequence[float] | int | None) -> torch.Tensor:
    """The model's style weights as a vector summing to 1: ``None`` is the first style,
    an int the style of that index, a sequence one weight per style."""
    count = len(model.styles)
    names = ", ".join(f"{i}={s.name}" for i, s in enumerate(model.styles))
    if weights is None:
        weights = 0
    if isinstance(weights, int):
        if not 0 <= weights < count:
            raise ModelError(
                f"style index {weights} is out of range: model '{model.path}' holds "
                f"{count} style(s) ({names})"
            )
        return F.one_hot(torch.tensor(weights), count).float()
    values = [float(w) for w in weights]
    if len(values) != count:
        raise ConfigError(
            f"{len(values)} {{field}} given for a model of {count} style(s) ({names}): "
            f"give exactly {count}",
            "style_weights",
        )
    if any(not w >= 0 for w in values) or sum(values) <= 0:
        raise ConfigError(f"{{field}} {values} must be ≥ 0 with a positive sum", "style_weights")
    mix = torch.tensor(values)
    return mix / mix.sum()


def paint(
    model: FastModel,
    photo: torch.Tensor,
    mix: torch.Tensor,
    *,
    tile: int | None = None,
) -> torch.Tensor:
    """The network's painting of ``photo`` (``1×3×H×W`` in [0, 1], any size) for the
    style ``mix``; in tiles of ``tile`` px (default: only above :data:`WHOLE_PIXELS`)."""
    net = model.net
    device = next(net.parameters()).device
    h, w = photo.shape[-2:]
    pad_h, pad_w = -h % STRIDE, -w % STRIDE
    x = photo.to(device)
    if pad_h or pad_w:
        x = F.pad(x, [0, pad_w, 0, pad_h], mode="reflect" if min(h, w) > STRIDE else "replicate")
    rows = net.mix_of(mix.to(device), x.shape[0])
    if tile is None and h * w > WHOLE_PIXELS:
        tile = TILE
    with torch.inference_mode():
        if tile is None or max(h, w) <= tile:
            out = net.run(x, Norms(rows))
        else:
            out = tiled_forward(net, x, rows, tile)
    return out[..., :h, :w].float().cpu()


def stylize_with_model(
    model: FastModel,
    photo: ImageLike,
    *,
    style_weights: Sequence[float] | int | None = None,
    size: int | None = None,
    preserve_colors: str = "none",
    strength: float = 1.0,
    tile: int | None = None,
) -> torch.Tensor:
    """The picture ``model`` paints of ``photo`` (longest side ``size``; default its own):
    ``preserve_colors`` ``luminance`` keeps the photo's colours under the painting's
    brightness, ``histogram`` maps the painting's colours onto the photo's mean and
    covariance; ``strength`` blends with the photo (1: the painting alone).

    >>> picture = stylize_with_model(load_model("m.safetensors"), "photo.jpg")  # doctest: +SKIP
    """
    if preserve_colors not in ("none", "luminance", "histogram"):
        raise ConfigError(
            f"{{field}} '{preserve_colors}' is not none, luminance or histogram", "preserve_colors"
        )
    mix = style_mix(model, style_weights)
    x = images.load_image(photo, size)
    if size is not None:
        x = images.resize_longest(x, size)
    painting = paint(model, x, mix, tile=tile)
    if preserve_colors == "luminance":
        painting = colors.with_photo_colors(painting, x)
    elif preserve_colors == "histogram":
        painting = colors.match_histogram(painting, x)
    return blend(painting, x, strength)

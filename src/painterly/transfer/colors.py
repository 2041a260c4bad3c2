"""Keeping the photo's colours, the two ways of Gatys et al. (2017), section 5.

* **luminance**: the transfer runs on luminance images only; the result's luminance
  is then recombined with the photo's colour (chroma) channels in YIQ space;
* **histogram**: each style image's colours are mapped by an affine transform so that
  their mean and covariance equal the photo's, and the transfer runs on those.

Both are pure functions of ``1×3×H×W`` RGB tensors in [0, 1].
"""

from __future__ import annotations

import torch

from ..engine.losses import psd_sqrt

# RGB → YIQ (NTSC), the colour space of Gatys et al. 2017.
RGB_TO_YIQ = torch.tensor(
    [
        [0.299, 0.587, 0.114],
        [0.595716, -0.274453, -0.321263],
        [0.211456, -0.522591, 0.311135],
    ]
)
YIQ_TO_RGB = torch.linalg.inv(RGB_TO_YIQ)


def _apply(matrix: torch.Tensor, image: torch.Tensor) -> torch.Tensor:
    """Apply a 3×3 colour matrix to every pixel of a ``1×3×H×W`` tensor."""
    return torch.einsum("ij,bjhw->bihw", matrix.to(image), image)


def rgb_to_yiq(image: torch.Tensor) -> torch.Tensor:
    return _apply(RGB_TO_YIQ, image)


def yiq_to_rgb(image: torch.Tensor) -> torch.Tensor:
    return _apply(YIQ_TO_RGB, image)


def luminance(image: torch.Tensor) -> torch.Tensor:
    """The Y channel, ``1×1×H×W``."""
    return rgb_to_yiq(image)[:, :1]


def grey(luma: torch.Tensor) -> torch.Tensor:
    """A ``1×1×H×W`` luminance as the RGB image the network reads."""
    return luma.expand(-1, 3, -1, -1).clamp(0, 1).contiguous()


def match_luminance(style: torch.Tensor, photo: torch.Tensor) -> torch.Tensor:
    """The style image's luminance, shifted and scaled to the photo's mean and standard
    deviation (Gatys et al. 2017, eq. 11), as a grey RGB image."""
    ys, yc = luminance(style), luminance(photo)
    matched = (ys - ys.mean()) * (yc.std() / ys.std().clamp_min(1e-6)) + yc.mean()
    return grey(matched)


def with_photo_colors(image: torch.Tensor, photo: torch.Tensor) -> torch.Tensor:
    """``image``'s luminance with ``photo``'s I and Q channels (same size), clamped."""
    yiq = torch.cat([luminance(image), rgb_to_yiq(photo)[:, 1:]], dim=1)
    return yiq_to_rgb(yiq).clamp(0, 1)


def color_statistics(image: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Mean (3) and covariance (3×3) of an image's pixel colours."""
    pixels = image.reshape(3, -1).double()
    mean = pixels.mean(1)
    centered = pixels - mean[:, None]
    return mean, centered @ centered.T / pixels.shape[1]


def match_histogram(style: torch.Tensor, photo: torch.Tensor) -> torch.Tensor:
    """``style`` with its colours mapped so that their mean and covariance are the photo's.

    ``x' = C_p^{1/2} C_s^{-1/2} (x - m_s) + m_p`` (Gatys et al. 2017, section 5.2), the
    matrix square roots by eigendecomposition (symmetric, stable, and available in
    every PyTorch 2, unlike the removed ``Tensor.eig``). Clamped to [0, 1].
    """
    mean_s, cov_s = color_statistics(style)
    mean_p, cov_p = color_statistics(photo)
    eye = torch.eye(3, dtype=torch.float64)
    inverse_root = torch.linalg.inv(psd_sqrt(cov_s + 1e-8 * eye))
    transform = psd_sqrt(cov_p) @ inverse_root
    pixels = style.reshape(3, -1).double()
    mapped = transform @ (pixels - mean_s[:, None]) + mean_p[:, None]
    result: torch.Tensor = mapped.reshape(style.shape).to(style.dtype).clamp(0, 1)
    return result

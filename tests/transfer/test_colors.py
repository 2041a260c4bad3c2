"""Keeping the photo's colours: YIQ, luminance transfer and histogram matching."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

import painterly
from painterly.files import images
from painterly.transfer import colors


def small(path: Path, side: int = 64) -> torch.Tensor:
    return images.resize_longest(images.load_image(path), side)


def test_yiq_round_trip_and_grey_has_no_chroma() -> None:
    x = torch.rand(1, 3, 8, 8)
    torch.testing.assert_close(colors.yiq_to_rgb(colors.rgb_to_yiq(x)), x, atol=1e-5, rtol=0)
    grey = colors.grey(colors.luminance(x))
    assert colors.rgb_to_yiq(grey)[:, 1:].abs().max() < 1e-5


def test_histogram_matching_gives_the_photos_mean_and_covariance(
    content_path: Path, style_path: Path
) -> None:
    photo, style = small(content_path, 128), small(style_path, 128)
    matched = colors.match_histogram(style, photo)
    mean_p, cov_p = colors.color_statistics(photo)
    mean_m, cov_m = colors.color_statistics(matched)
    mean_s, cov_s = colors.color_statistics(style)
    assert (mean_m - mean_p).abs().max() < 0.02 < (mean_s - mean_p).abs().max()
    assert (cov_m - cov_p).abs().max() < 0.1 * cov_p.abs().max()
    assert (cov_s - cov_p).abs().max() > 0.3 * cov_p.abs().max()


def test_luminance_matching_takes_the_photos_brightness(
    content_path: Path, style_path: Path
) -> None:
    photo, style = small(content_path), small(style_path)
    y = colors.luminance(colors.match_luminance(style, photo))
    yc = colors.luminance(photo)
    assert abs(float(y.mean() - yc.mean())) < 0.02
    assert abs(float(y.std() - yc.std())) < 0.03


def test_luminance_transfer_keeps_the_photos_color_channels(
    content_path: Path, style_path: Path
) -> None:
    result = painterly.stylize(
        content_path,
        [style_path],
        iterations=12,
        size=64,
        seed=0,
        preserve_colors="luminance",
    )
    photo = images.resize(
        images.load_image(content_path), (result.image.shape[-2], result.image.shape[-1])
    )
    chroma_out = colors.rgb_to_yiq(result.image)[:, 1:]
    chroma_photo = colors.rgb_to_yiq(photo)[:, 1:]
    close = (chroma_out - chroma_photo).abs() < 0.01  # off only where RGB clipping bites
    assert close.float().mean() > 0.95
    luma_change = (colors.luminance(result.image) - colors.luminance(photo)).abs().mean()
    assert luma_change > 0.02  # the brightness was painted
    assert result.record()["config"]["preserve_colors"] == "luminance"


def test_histogram_transfer_stays_nearer_the_photos_colors(
    content_path: Path, style_path: Path
) -> None:
    kw: dict[str, Any] = {"iterations": 12, "size": 64, "seed": 0}
    plain = painterly.stylize(content_path, [style_path], **kw)
    kept = painterly.stylize(content_path, [style_path], preserve_colors="histogram", **kw)
    photo = images.resize(images.load_image(content_path), (48, 64))
    photo_mean = colors.color_statistics(photo)[0]
    off_plain = (colors.color_statistics(plain.image)[0] - photo_mean).abs().sum()
    off_kept = (colors.color_statistics(kept.image)[0] - photo_mean).abs().sum()
    assert off_kept < off_plain

"""The yardstick: tiny, thin and too large images are handled before the network."""

from __future__ import annotations

from pathlib import Path

import pytest
from PIL import Image

from painterly.engine import memory
from painterly.errors import ConfigError, ImageError
from painterly.explain.score import score


def test_an_output_smaller_than_the_layers_need_is_refused(
    tmp_path: Path, content_path: Path, style_path: Path
) -> None:
    Image.new("RGB", (1, 1), (10, 20, 30)).save(tmp_path / "dot.png")
    with pytest.raises(ImageError, match="is 1×1 px: scoring needs at least 16×16 px"):
        score(tmp_path / "dot.png", content_path, [style_path])


def test_a_thin_style_image_is_scored(tmp_path: Path, content_path: Path) -> None:
    colour = (200, 40, 30)
    Image.new("RGB", (1, 400), colour).save(tmp_path / "thin.png")
    Image.new("RGB", (64, 48), colour).save(tmp_path / "flat.png")
    Image.open(content_path).resize((64, 48)).save(tmp_path / "photo.png")
    thin = [tmp_path / "thin.png"]
    flat, photo = (score(tmp_path / name, content_path, thin) for name in ("flat.png", "photo.png"))
    # Its one colour, scored at the output's size: a flat picture of that colour is
    # nearer its style than the photo is.
    assert flat.style_err < 0.6 * photo.style_err


def test_scoring_checks_memory_first(
    monkeypatch: pytest.MonkeyPatch, content_path: Path, style_path: Path
) -> None:
    monkeypatch.setattr(memory, "available_bytes", lambda: 700 * 2**20)
    with pytest.raises(ConfigError, match=r"scoring output .* needs about .* GiB .* downscale it"):
        score(content_path, content_path, [style_path])

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
    Image.new("RGB", (1, 400), (200, 40, 30)).save(tmp_path / "thin.png")
    result = score(content_path, content_path, [tmp_path / "thin.png"])
    assert result.content_err == 0 and result.style_err > 0


def test_scoring_checks_memory_first(
    monkeypatch: pytest.MonkeyPatch, content_path: Path, style_path: Path
) -> None:
    monkeypatch.setattr(memory, "available_bytes", lambda: 700 * 2**20)
    with pytest.raises(ConfigError, match=r"scoring output .* needs about .* GiB .* downscale it"):
        score(content_path, content_path, [style_path])

"""The explain figures: layout, labels and sizes."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
from PIL import Image

from painterly.explain import features, figures


def texts(fig: Any) -> str:
    found = [t.get_text() for t in fig.texts]
    for ax in fig.axes:
        found += [ax.get_title(), ax.get_ylabel(), *(t.get_text() for t in ax.texts)]
    return "\n".join(found)


def test_feature_grid_labels_every_row_and_map(tmp_path: Path) -> None:
    maps = {"block1_conv1": torch.rand(64, 24, 32), "block2_conv1": torch.rand(128, 12, 16)}
    chosen = {"block1_conv1": [4, 13], "block2_conv1": [0, 1]}
    fig = figures.feature_grid(maps, chosen, "title here", torch.rand(1, 3, 24, 32))
    words = texts(fig)
    for label in ("block1_conv1", "64 filters", "32×24", "filter 13", "block2_conv1", "title"):
        assert label in words
    out = figures.save(fig, tmp_path / "grid.png")
    width, height = Image.open(out).size
    assert 300 < width < 1200 and 200 < height < 800


def test_gram_figure_shows_panels_difference_and_pairs(tmp_path: Path) -> None:
    a, b = torch.rand(8, 8), torch.rand(8, 8)
    pairs = features.strongest_pairs(a, 3)
    fig = figures.gram_figure([("a.jpg", a), ("b.jpg", b)], pairs, "t", (a - b).abs())
    words = texts(fig)
    assert "a.jpg" in words and "b.jpg" in words and "|difference|" in words
    assert f"{pairs[0].value:.3f}" in words
    width, _ = Image.open(figures.save(fig, tmp_path / "g.png")).size
    assert width < 1800


def test_loss_curves_are_log_scaled_with_one_line_per_run() -> None:
    history = [
        {"step": i, "scale": i // 3, "content": 1 / i, "style": 2 / i, "total": 3 / i}
        for i in range(1, 7)
    ]
    fig = figures.loss_curves({"a": history, "b": history}, "losses")
    assert [ax.get_title() for ax in fig.axes] == ["content loss", "style loss", "total loss"]
    assert all(ax.get_yscale() == "log" and len(ax.lines) == 2 for ax in fig.axes)

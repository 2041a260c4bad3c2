"""Figures that explain: feature-map grids, Gram heat maps and loss curves.

Drawn with matplotlib's object API (no pyplot, no global state), an optional extra:
``pip install 'painterly[explain]'``.
"""

from __future__ import annotations

import itertools
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import torch

from .. import errors
from ..files import images
from ..nn.layers import INDEX
from .features import Pair

CELL = 1.25  # inches per feature map
DPI = 100


def require() -> None:
    """Raise, with the command that fixes it, if matplotlib is missing."""
    errors.require("matplotlib", "figures need matplotlib", "explain")


def _figure(width: float, height: float) -> Any:
    require()
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width, height), dpi=DPI)
    FigureCanvasAgg(fig)
    return fig


def save(fig: Any, path: str | os.PathLike[str]) -> Path:
    """Write a figure as PNG, atomically."""
    out = images.check_output_path(path)
    images.atomic_write(out, lambda tmp: fig.savefig(tmp, format="png", dpi=DPI))
    return out


def feature_grid(
    maps: Mapping[str, torch.Tensor],
    filters: Mapping[str, Sequence[int]],
    title: str,
    image: torch.Tensor | None = None,
) -> Any:
    """One row per layer, one feature map per column, labelled with the filter index.

    Each row shares one colour scale (0 to the row's largest activation, colour bar on
    the right), so maps of a layer compare directly; the input is shown top left.
    """
    layers = list(maps)
    columns = max(len(filters[layer]) for layer in layers)
    head = 1.2  # inches above the grid for the title and the input
    cell = min(3.0, max(CELL, 7.5 / columns))  # few maps: show them larger
    fig = _figure(cell * (columns + 1) + 1.0, cell * len(layers) + head)
    grid = fig.add_gridspec(len(layers), columns + 2, width_ratios=[0.9] + [1] * columns + [0.08])
    for row, layer in enumerate(layers):
        n, h, w = maps[layer].shape
        label = fig.add_subplot(grid[row, 0])
        label.axis("off")
        label.text(1, 0.5, f"{layer}\n{n} filters\n{w}×{h}", ha="right", va="center", size=8)
        shown = [maps[layer][i] for i in filters[layer]]
        top = max(float(m.max()) for m in shown) or 1.0
        picture = None
        for col, (index, fmap) in enumerate(zip(filters[layer], shown, strict=True)):
            ax = fig.add_subplot(grid[row, col + 1])
            picture = ax.imshow(fmap.numpy(), cmap="magma", vmin=0, vmax=top)
            ax.set_xticks([])
            ax.set_yticks([])
            ax.set_title(f"filter {index}", fontsize=7, pad=2)
        fig.colorbar(picture, cax=fig.add_subplot(grid[row, -1])).ax.tick_params(labelsize=6)
    height = fig.get_figheight()
    fig.subplots_adjust(left=0.02, right=0.93, top=1 - head / height, bottom=0.02, hspace=0.3)
    if image is not None:
        inset = fig.add_axes((0.02, 1 - (head - 0.1) / height, 0.16, (head - 0.2) / height))
        inset.imshow(images.tensor_to_pil(image))
        inset.set_anchor("W")
        inset.axis("off")
    fig.text(0.5, 1 - 0.35 / height, title, ha="center", va="center", size=10)
    return fig


def gram_figure(
    panels: Sequence[tuple[str, torch.Tensor]],
    pairs: Sequence[Pair],
    title: str,
    difference: torch.Tensor | None = None,
) -> Any:
    """Heat maps of correlation matrices (filter × filter, 0 to 1), an optional
    difference panel, and the strongest pairs listed beside them."""
    count = len(panels) + (difference is not None)
    fig = _figure(3.6 * count + 2.4, 4.0)
    grid = fig.add_gridspec(1, count + 1, width_ratios=[1] * count + [0.62])
    for i, (name, matrix) in enumerate(panels):
        ax = fig.add_subplot(grid[0, i])
        picture = ax.imshow(matrix.numpy(), cmap="viridis", vmin=0, vmax=1)
        ax.set_title(name, fontsize=9)
        ax.set_xlabel("filter", fontsize=8)
        ax.set_ylabel("filter", fontsize=8)
        fig.colorbar(picture, ax=ax, fraction=0.046, pad=0.03)
    if difference is not None:
        ax = fig.add_subplot(grid[0, count - 1])
        picture = ax.imshow(difference.numpy(), cmap="magma", vmin=0)
        ax.set_title("|difference|", fontsize=9)
        ax.set_xlabel("filter", fontsize=8)
        fig.colorbar(picture, ax=ax, fraction=0.046, pad=0.03)
    text = fig.add_subplot(grid[0, -1])
    text.axis("off")
    lines = [f"{p.first:>4} & {p.second:<4} {p.value:.3f}" for p in pairs]
    heading = "strongest pairs\n(first image)" if len(panels) > 1 else "strongest pairs"
    text.text(0, 1, heading + "\n\n" + "\n".join(lines), va="top", family="monospace", size=8)
    fig.suptitle(title, fontsize=10)
    fig.subplots_adjust(left=0.05, right=0.98, top=0.86, bottom=0.1, wspace=0.35)
    return fig


def loss_curves(histories: Mapping[str, Sequence[Mapping[str, float]]], title: str) -> Any:
    """Content, style and total loss against step on a log scale, one line per run;
    dotted lines mark where a coarse-to-fine run moves to the next size."""
    fig = _figure(11, 3.4)
    axes = fig.subplots(1, 3)
    for ax, key in zip(axes, ("content", "style", "total"), strict=True):
        for name, history in histories.items():
            steps = [h["step"] for h in history]
            values = [max(h[key], 1e-12) for h in history]
            ax.plot(steps, values, label=name, linewidth=1.2)
            if len(histories) == 1:
                for prev, cur in itertools.pairwise(history):
                    if cur["scale"] != prev["scale"]:
                        ax.axvline(cur["step"], color="grey", linestyle=":", linewidth=0.8)
        ax.set_yscale("log")
        ax.set_title(f"{key} loss", fontsize=9)
        ax.set_xlabel("step", fontsize=8)
        ax.tick_params(which="both", labelsize=7)
    if len(histories) > 1:
        axes[-1].legend(fontsize=6, loc="upper right")
    fig.suptitle(title, fontsize=10)
    fig.subplots_adjust(left=0.06, right=0.98, top=0.82, bottom=0.15, wspace=0.3)
    return fig


def layer_order(layers: Sequence[str]) -> list[str]:
    """Layers from shallow to deep."""
    return sorted(layers, key=INDEX.__getitem__)

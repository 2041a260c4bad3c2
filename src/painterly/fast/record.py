"""A training's record: the JSON beside the model (versions, settings, data hashes,
machine, loss curves) and the summary of it that the model file's metadata keep."""

from __future__ import annotations

import dataclasses
import platform
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch

from .._version import __version__
from .checkpoint import State
from .network import TransformNet
from .settings import TrainSettings

if TYPE_CHECKING:
    from .train import _Setup


def columns(settings: TrainSettings) -> list[str]:
    """The loss curve's columns: the temporal term's only where it is trained."""
    temporal = ["temporal"] if settings.temporal_weight else []
    return ["step", "seconds", "total", "content", "style", "tv", *temporal]


def summary(setup: _Setup, state: State, interrupted: bool) -> dict[str, Any]:
    """What the model file's metadata keep of the record."""
    last = [row[2] for row in state.curve[-20:]]
    return {
        "steps": state.step,
        "seconds": round(state.elapsed, 1),
        "interrupted": interrupted,
        "device": str(setup.device),
        "precision": setup.precision,
        "network": setup.settings.network,
        "crop": setup.settings.size,
        "batch": setup.settings.batch,
        "processes": setup.ranks.world,
        "temporal_weight": setup.settings.temporal_weight,
        "photos": len(setup.photos),
        "held_out_photos": len(setup.held_out),
        "final_loss": sum(last) / len(last) if last else None,
        "held_out_loss": state.held_out[-1][1] if state.held_out else None,
    }


def record(
    setup: _Setup, net: TransformNet, state: State, out: Path, interrupted: bool
) -> dict[str, Any]:
    """The JSON record: versions, network, config, settings, styles and photos with
    their hashes, the machine, the summary and the loss curves."""
    return {
        "painterly_version": __version__,
        "torch_version": torch.__version__,
        "model": out.name,
        "network": {
            "name": setup.settings.network,
            "width": net.shape.width,
            "blocks": net.shape.blocks,
            "parameters": sum(p.numel() for p in net.parameters()),
        },
        "config": setup.cfg.to_json(),
        "settings": dataclasses.asdict(setup.settings),
        "styles": [
            {"path": str(p), "name": s.name, "sha256": s.sha256}
            for p, s in zip(setup.style_paths, setup.styles, strict=True)
        ],
        "photos": {
            "training": [p.describe() for p in setup.photos],
            "held_out": [p.describe() for p in setup.held_out],
            "skipped": [str(p) for p in setup.skipped],
        },
        "machine": {"platform": platform.platform(), "processor": platform.processor()},
        "summary": summary(setup, state, interrupted),
        "curve": {
            "columns": columns(setup.settings),
            "rows": state.curve,
        },
        "held_out_curve": {"columns": ["step", "loss"], "rows": state.held_out},
    }

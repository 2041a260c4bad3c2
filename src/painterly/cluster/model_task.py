"""A photo painted by a fast model as self-contained work: the photo's and the model's
bytes and the settings of the pass in, the PNG and its record out.

It runs through :func:`~painterly.cluster.task.run_work`, as a batch's optimisation
does, so that the same runners take it to this process or to a Dask worker: the
model file travels with each task, as the style images do, and the worker needs
neither VGG-19's weights nor a shared file system.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from .._version import __version__
from ..config.settings import Config
from ..engine.targets import FeatureCache
from ..fast.apply import stylize_with_model
from ..fast.model import load_model
from ..files import images
from ..transfer.run import ProgressFn
from .task import Outcome, Shipped, digest, place, run_work

# The settings of a pass that change its picture, with their defaults.
PASS_SETTINGS: dict[str, Any] = {
    "size": None,
    "style_weights": None,
    "preserve_colors": "none",
    "strength": 1.0,
}


def pass_settings(cfg: Config) -> dict[str, Any]:
    """The :data:`PASS_SETTINGS` of a config, as JSON data."""
    weights = list(cfg.style_weights) if cfg.style_weights is not None else None
    return {
        "size": cfg.size,
        "style_weights": weights,
        "preserve_colors": cfg.preserve_colors,
        "strength": cfg.strength,
    }


def model_key(inputs: Sequence[str], settings: Mapping[str, Any]) -> str:
    """What makes a model's picture what it is: the SHA-256 of the photo's and the
    model's hashes (in order) and the pass's :data:`PASS_SETTINGS`."""
    data = [list(inputs), {k: settings.get(k, v) for k, v in PASS_SETTINGS.items()}]
    return hashlib.sha256(json.dumps(data, sort_keys=True).encode()).hexdigest()


@dataclass(frozen=True)
class ModelTask:
    """What a worker needs to paint one photo with a model."""

    key: str  # unique among the tasks of one run
    name: str  # the output's stem, e.g. "tubingen__starry"
    content: Shipped
    model: Shipped
    settings: Mapping[str, Any] = field(default_factory=dict)  # :data:`PASS_SETTINGS`
    inputs: Mapping[str, Any] = field(default_factory=dict)  # the record's "inputs"

    def execute(
        self, cache: FeatureCache | None, progress: ProgressFn | None, worker: str
    ) -> Outcome:
        """Paint here (``cache`` and ``progress`` are an optimisation's: unused)."""
        return run_work(self.key, worker, None, lambda folder: paint_task(self, folder))


def paint_task(task: ModelTask, folder: Path) -> tuple[bytes, dict[str, Any]]:
    """The PNG and record of ``task``, its inputs placed in ``folder``."""
    started = time.perf_counter()
    content = place(folder / "content", task.content)
    model = load_model(place(folder / "model", task.model))
    chosen = {k: task.settings.get(k, v) for k, v in PASS_SETTINGS.items()}
    weights = chosen["style_weights"]
    picture = stylize_with_model(
        model,
        content,
        style_weights=list(weights) if weights is not None else None,
        size=chosen["size"],
        preserve_colors=chosen["preserve_colors"],
        strength=chosen["strength"],
    )
    out = images.save_image(picture, folder / "out.png")
    record = {
        "painterly": __version__,
        "torch": torch.__version__,
        "model": {
            "file": task.model[0],
            "sha256": digest(task.model[1]),
            "styles": [s.name for s in model.styles],
            "training": model.training,
        },
        "settings": chosen,
        "size": [picture.shape[-1], picture.shape[-2]],
        "seconds": round(time.perf_counter() - started, 3),
        "inputs": dict(task.inputs),
        "output": {"bit_depth": 8, "quality": 95},
    }
    return out.read_bytes(), record

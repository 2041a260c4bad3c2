"""The result of a run and its JSON record, written beside the image."""

from __future__ import annotations

import dataclasses
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from PIL import Image

from . import images
from ._version import __version__
from .config import Config
from .errors import ConfigError
from .inputs import blend


@dataclass
class Result:
    """A finished (or interrupted) transfer."""

    image: torch.Tensor  # 1×3×H×W, RGB in [0, 1], on the CPU
    history: list[dict[str, float]]
    config: Config
    seed: int
    weights: dict[str, str]
    elapsed: float
    interrupted: bool
    device: str
    precision: str
    painting: torch.Tensor | None = None  # the result at strength 1
    photo: torch.Tensor | None = None  # the photo at the result's size
    # How the steps fitted in memory: tile side, halo, sizes taken in tiles, the L-BFGS
    # history kept, the estimated peak.
    memory: dict[str, Any] = dataclasses.field(default_factory=dict)

    def with_strength(self, strength: float) -> Result:
        """The same run blended with the photo by another ``strength``, without running
        again (0: the photo, 1: the painting)."""
        if self.painting is None or self.photo is None:
            raise ConfigError(
                "this result keeps no painting and photo to blend: run again", "strength"
            )
        config = self.config.replace(strength=strength)
        return dataclasses.replace(
            self, image=blend(self.painting, self.photo, strength), config=config
        )

    @property
    def final_losses(self) -> dict[str, float]:
        """Losses of the last step ({} if stopped before the first step ended)."""
        last = self.history[-1] if self.history else {}
        return {k: v for k, v in last.items() if k not in ("step", "scale")}

    def to_pil(self) -> Image.Image:
        return images.tensor_to_pil(self.image)

    def record(self, inputs: dict[str, Any] | None = None) -> dict[str, Any]:
        """Everything needed to reproduce and compare the run, as plain JSON data."""
        return {
            "painterly": __version__,
            "torch": torch.__version__,
            "config": self.config.to_json(),
            "seed": self.seed,
            "weights": self.weights,
            "device": self.device,
            "precision": self.precision,
            "size": [self.image.shape[-1], self.image.shape[-2]],
            "steps": len(self.history),
            "final_losses": self.final_losses,
            "seconds": round(self.elapsed, 3),
            "interrupted": self.interrupted,
            "memory": self.memory,
            "inputs": inputs or {},
        }

    def save(
        self,
        path: str | os.PathLike[str],
        quality: int = 95,
        inputs: dict[str, Any] | None = None,
        bit_depth: int = 8,
    ) -> Path:
        """Write the image and, beside it, ``<name>.json`` with the record
        (``bit_depth=16`` for 16 bits per channel in a PNG or TIFF)."""
        out = images.save_image(self.image, path, quality=quality, bit_depth=bit_depth)
        record = self.record(inputs)
        record["output"] = {"path": out.name, "bit_depth": bit_depth, "quality": quality}
        write_json(out.with_suffix(".json"), record)
        return out


def write_json(path: Path, data: Any) -> None:
    """Write JSON atomically."""

    def write(tmp: Path) -> None:
        tmp.write_text(json.dumps(data, indent=2) + "\n")

    images.atomic_write(path, write)

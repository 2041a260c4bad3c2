"""The result of a run: the picture, its history and the record that reproduces it."""

from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from PIL import Image

from .._version import __version__
from ..config.settings import Config
from ..engine.loop import StepRecord
from ..errors import ConfigError
from ..files import images
from ..files.pairs import save_pair, save_pair_or_fallback
from .inputs import blend


@dataclass
class Result:
    """A finished (or interrupted) transfer."""

    image: torch.Tensor  # 1×3×H×W, RGB in [0, 1], on the CPU
    history: list[StepRecord]
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
        return dict(self.history[-1].losses) if self.history else {}

    def history_dicts(self) -> list[dict[str, float]]:
        """The history as a record's JSON keeps it (see :meth:`StepRecord.as_dict`)."""
        return [h.as_dict() for h in self.history]

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
        """Write the image and, beside it, ``<name>.json`` with the record, as a pair
        (see :func:`save_pair`; ``bit_depth=16`` for 16 bits per channel in a PNG or TIFF)."""
        out, record = self._output(path, quality, inputs, bit_depth)
        return save_pair(self.image, out, record, quality, bit_depth)

    def save_or_fallback(
        self,
        path: str | os.PathLike[str],
        quality: int = 95,
        inputs: dict[str, Any] | None = None,
        bit_depth: int = 8,
    ) -> Path:
        """:meth:`save`; if writing fails, save to the temporary folder instead and raise
        :class:`SavedElsewhere` naming both, so that the work is never lost."""
        out, record = self._output(path, quality, inputs, bit_depth)
        return save_pair_or_fallback(self.image, out, record, quality, bit_depth)

    def _output(
        self,
        path: str | os.PathLike[str],
        quality: int,
        inputs: dict[str, Any] | None,
        bit_depth: int,
    ) -> tuple[Path, dict[str, Any]]:
        """The checked output path and the record that names it."""
        out = images.check_output_path(path, bit_depth)
        record = self.record(inputs)
        record["output"] = {"path": out.name, "bit_depth": bit_depth, "quality": quality}
        return out, record

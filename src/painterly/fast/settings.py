"""What a training takes besides the objective's :class:`~painterly.Config`: crops,
batch, budget, network, learning rate, and how often it checkpoints and previews."""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from typing import Any

from ..errors import ConfigError
from .network import SHAPES, STRIDE

DEFAULT_STEPS = 2000  # when neither steps nor a time budget is given


@dataclass(frozen=True)
class TrainSettings:
    """A training's own settings (the loss's are the Config's).

    ``steps`` and ``time`` (seconds, over all runs of a resumed training) bound it, the
    first reached ending it; ``checkpoint_minutes`` apart a checkpoint is written, and
    every ``preview_every`` steps a preview sheet of the held-out photos and their loss.
    ``temporal_weight`` adds the temporal term (:mod:`painterly.fast.temporal`): a
    painting that follows its photo's motion, for clips that flicker less.
    """

    size: int = 256  # the side of a training crop
    batch: int = 4
    steps: int | None = None
    time: float | None = None
    network: str = "standard"
    lr: float = 1e-3
    seed: int = 0
    checkpoint_minutes: float = 5.0
    preview_every: int = 200
    hold_out: int | None = None  # photos kept out of training (default: 1 of 3 or more)
    half: bool = False  # write the model's weights in float16
    # The weight of the temporal term (painterly.fast.temporal) in the loss; 0: none.
    temporal_weight: float = 0.0

    def __post_init__(self) -> None:
        if self.network not in SHAPES:
            raise ConfigError(
                f"unknown network '{self.network}': use one of {', '.join(SHAPES)}", "network"
            )
        _at_least("size", self.size, 32)
        if self.size % STRIDE:
            raise ConfigError(f"{{field}} {self.size} is not a multiple of {STRIDE}", "size")
        _at_least("batch", self.batch, 1)
        _at_least("preview_every", self.preview_every, 1)
        if self.steps is not None:
            _at_least("steps", self.steps, 1)
        for name in ("time", "lr", "checkpoint_minutes"):
            value = getattr(self, name)
            if value is not None and not (math.isfinite(value) and value > 0):
                raise ConfigError(f"{{field}} must be a number > 0, got {value}", name)
        if not (math.isfinite(self.temporal_weight) and self.temporal_weight >= 0):
            raise ConfigError(
                f"{{field}} must be a number ≥ 0, got {self.temporal_weight}", "temporal_weight"
            )
        if self.hold_out is not None:
            _at_least("hold_out", self.hold_out, 0)

    @property
    def total_steps(self) -> int | None:
        """The step count that ends the training (None: only the time budget does)."""
        if self.steps is None and self.time is None:
            return DEFAULT_STEPS
        return self.steps

    def replace(self, **changes: Any) -> TrainSettings:
        return dataclasses.replace(self, **changes)


def _at_least(name: str, value: int, low: int) -> None:
    if value < low:
        raise ConfigError(f"{{field}} must be ≥ {low}, got {value}", name)


SETTINGS = frozenset(f.name for f in dataclasses.fields(TrainSettings))

"""A training's checkpoint beside its model: the network, the optimiser, the step, the
time spent and the loss curve, written atomically, and read back only by the same
training (the same styles, photos, objective and settings, by their fingerprint)."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from ..errors import ModelError
from ..files.atomic import atomic_write, reason

# The settings that may change between runs of one training: its budget and schedule.
RESUMABLE = ("steps", "time", "checkpoint_minutes", "preview_every", "half")


def checkpoint_path(model: Path) -> Path:
    """``starry.safetensors`` → ``starry.ckpt``."""
    return model.with_suffix(".ckpt")


def fingerprint(parts: dict[str, Any]) -> str:
    """A digest of what makes two trainings the same one."""
    return hashlib.sha256(json.dumps(parts, sort_keys=True).encode()).hexdigest()


@dataclass
class State:
    """Where a training stands: its step, seconds spent, losses so far."""

    step: int = 0
    elapsed: float = 0.0
    curve: list[list[float]] = field(default_factory=list)  # step, s, total, content, style, tv
    held_out: list[list[float]] = field(default_factory=list)  # step, loss on held-out photos


def save(
    path: Path, net: torch.nn.Module, optimizer: torch.optim.Optimizer, state: State, key: str
) -> None:
    """Write the checkpoint atomically (never half a file, the last one kept until then)."""
    data = {
        "fingerprint": key,
        "net": net.state_dict(),
        "optimizer": optimizer.state_dict(),
        "step": state.step,
        "elapsed": state.elapsed,
        "curve": state.curve,
        "held_out": state.held_out,
    }
    try:
        atomic_write(path, lambda part: torch.save(data, part))
    except OSError as exc:
        raise ModelError(f"could not write checkpoint '{path}': {reason(exc)}") from None


def read(path: Path, key: str) -> dict[str, Any] | None:
    """The checkpoint at ``path`` as saved (on the CPU); None if there is none. One of
    another training, or damaged, raises :class:`ModelError`."""
    if not path.exists():
        return None
    try:
        data: dict[str, Any] = torch.load(path, map_location="cpu", weights_only=True)
        same = data["fingerprint"] == key
    except Exception:  # torch.load raises many kinds for a damaged file
        raise ModelError(
            f"checkpoint '{path}' is damaged: remove it to start the training afresh"
        ) from None
    if not same:
        raise ModelError(
            f"checkpoint '{path}' belongs to another training (other styles, photos or "
            "settings): repeat that training's command, or remove the checkpoint to start afresh"
        )
    return data


def restore(data: dict[str, Any], net: torch.nn.Module, optimizer: torch.optim.Optimizer) -> State:
    """Load what :func:`read` returned into ``net`` and ``optimizer``; where it stood."""
    net.load_state_dict(data["net"])
    optimizer.load_state_dict(data["optimizer"])
    return State(int(data["step"]), float(data["elapsed"]), data["curve"], data["held_out"])


def resume(
    path: Path, net: torch.nn.Module, optimizer: torch.optim.Optimizer, key: str
) -> State | None:
    """:func:`read` then :func:`restore`: None if there is no checkpoint."""
    data = read(path, key)
    return None if data is None else restore(data, net, optimizer)

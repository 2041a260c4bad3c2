"""Checkpoints of a run, so that a long one (a print takes tens of minutes) survives an
interruption: the same call continues from the last finished scale, or from the last
checkpoint within a scale.

A checkpoint is one safetensors file: the pixels reached (float32) and, in its
metadata, where they were reached (the scale and its steps done), the history so far,
L-BFGS's curvature scale, the seconds spent, the seed, and what identifies the run:
its resolved config and the hashes of the images it reads. A checkpoint of another run
(a changed option, another image) is never used; what differs is said, and the file is
left alone until the new run writes its own.

Within a scale the optimiser's memory (L-BFGS's pairs) is not kept: a run continued
there takes its next step afresh from the pixels, with the curvature of the scale before.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError, safe_open
from safetensors.torch import load_file, save_file

from ..config.settings import Config
from ..engine.loop import StepRecord
from ..files.atomic import atomic_write
from .inputs import Inputs

log = logging.getLogger(__name__)

FORMAT = "painterly-run-checkpoint/1"


@dataclass(frozen=True)
class Checkpoint:
    """Where a run keeps its checkpoint, and how often: at the end of a scale or within
    one once ``every`` seconds have passed since the last, and when it is stopped."""

    path: Path
    every: float = 120.0


@dataclass(frozen=True)
class RunKey:
    """What a checkpoint must match to be continued: the config and the inputs."""

    config: dict[str, Any]
    inputs: str  # SHA-256 of the images a run reads, as prepared

    def differences(self, other: RunKey) -> list[str]:
        """What differs from ``other``, in words (empty: the same run)."""
        changed = [
            f"{name} was {other.config.get(name)!r}, now {value!r}"
            for name, value in self.config.items()
            if other.config.get(name, value) != value
        ]
        if self.inputs != other.inputs:
            changed.append("the images differ")
        return changed


def run_key(cfg: Config, inputs: Inputs) -> RunKey:
    """The key of a run of ``cfg`` on ``inputs``."""
    digest = hashlib.sha256()
    tensors = [inputs.photo, *inputs.styles, *(inputs.style_masks or [])]
    if inputs.content_mask is not None:
        tensors.append(inputs.content_mask)
    for tensor in tensors:
        digest.update(str(tuple(tensor.shape)).encode())
        digest.update(tensor.detach().cpu().float().contiguous().numpy().tobytes())
    config = json.loads(json.dumps(cfg.to_json(), default=str))
    return RunKey(config, digest.hexdigest())


@dataclass(frozen=True)
class Snapshot:
    """A run's state: at scale ``scale``, ``done`` steps in (0: the scale not begun, and
    ``image`` is the finished scale before it), after ``elapsed`` seconds."""

    scale: int
    done: int
    image: torch.Tensor  # 1×3×H×W float32 pixels, as optimised (before colours or blend)
    history: Sequence[StepRecord] = field(default_factory=list)
    curvature: tuple[float, int] | None = None
    elapsed: float = 0.0
    seed: int = 0


def save(checkpoint: Checkpoint, key: RunKey, snap: Snapshot) -> None:
    """Write ``snap`` of the run ``key`` to ``checkpoint.path``, atomically."""
    meta = {
        "format": FORMAT,
        "config": json.dumps(key.config, sort_keys=True),
        "inputs": key.inputs,
        "scale": str(snap.scale),
        "done": str(snap.done),
        "history": json.dumps([record.as_dict() for record in snap.history]),
        "curvature": json.dumps(snap.curvature),
        "elapsed": repr(snap.elapsed),
        "seed": str(snap.seed),
    }
    image = snap.image.detach().cpu().float().contiguous()
    atomic_write(checkpoint.path, lambda part: save_file({"image": image}, str(part), meta))


def load(checkpoint: Checkpoint, key: RunKey) -> Snapshot | None:
    """The snapshot at ``checkpoint.path`` if it is one of the run ``key``; None (with
    a line saying why) if there is none, it is unreadable or it is of another run."""
    path = checkpoint.path
    if not path.is_file():
        return None
    try:
        meta, image = _read(path)
        if meta.get("format") != FORMAT:
            raise ValueError(f"not a {FORMAT} file")
        saved = RunKey(json.loads(meta["config"]), meta["inputs"])
        curvature = json.loads(meta["curvature"])
        snap = Snapshot(
            scale=int(meta["scale"]),
            done=int(meta["done"]),
            image=image,
            history=[StepRecord.from_dict(d) for d in json.loads(meta["history"])],
            curvature=None if curvature is None else (float(curvature[0]), int(curvature[1])),
            elapsed=float(meta["elapsed"]),
            seed=int(meta["seed"]),
        )
    except (OSError, SafetensorError, ValueError, KeyError, TypeError, IndexError) as exc:
        log.warning("starting afresh: the checkpoint %s cannot be read (%s)", path, exc)
        return None
    changed = key.differences(saved)
    if changed:
        log.warning(
            "starting afresh: the checkpoint %s is of another run (%s); it is replaced "
            "when this run saves its own",
            path,
            "; ".join(changed[:3]) + ("; …" if len(changed) > 3 else ""),
        )
        return None
    return snap


def _read(path: Path) -> tuple[dict[str, str], torch.Tensor]:
    with safe_open(str(path), framework="pt") as f:
        meta = dict(f.metadata() or {})
    return meta, load_file(str(path))["image"]

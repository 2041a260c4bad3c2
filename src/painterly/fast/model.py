"""A fast model on disk: a safetensors file whose metadata say what it is.

The metadata (all strings, as safetensors wants) hold the architecture and its version,
the network's shape, the styles with their images' SHA-256, the objective's settings it
was trained with, painterly's version and the training record's summary. Loading checks
each of them: a file that is not a painterly model, or one of an architecture version
this painterly does not know, is refused in one line naming the file and the fix.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from .._version import __version__
from ..errors import ModelError
from ..files.atomic import atomic_write, reason
from ..files.paths import check_readable
from .network import ARCHITECTURE, ARCHITECTURE_VERSION, Shape, TransformNet

FORMAT = "painterly-fast-model"
SUFFIX = ".safetensors"


@dataclass(frozen=True)
class Style:
    """A style a model paints: its name (the image's file stem) and the image's hash."""

    name: str
    sha256: str


@dataclass(frozen=True)
class FastModel:
    """A trained network with what it was trained for; complete when built."""

    net: TransformNet
    styles: tuple[Style, ...]
    objective: dict[str, Any] = field(default_factory=dict)  # the Config fields of the loss
    training: dict[str, Any] = field(default_factory=dict)  # the record's summary
    version: str = __version__  # painterly's, when it was written
    path: Path | None = None

    def metadata(self) -> dict[str, str]:
        """The file's metadata, every value a string."""
        shape = self.net.shape
        return {
            "format": FORMAT,
            "architecture": ARCHITECTURE,
            "architecture_version": str(ARCHITECTURE_VERSION),
            "shape": json.dumps({"width": shape.width, "blocks": shape.blocks}),
            "styles": json.dumps([{"name": s.name, "sha256": s.sha256} for s in self.styles]),
            "objective": json.dumps(self.objective),
            "painterly_version": self.version,
            "training": json.dumps(self.training),
        }


def save_model(model: FastModel, path: str | os.PathLike[str], *, half: bool = False) -> Path:
    """Write ``model`` atomically (``half``: its weights in float16, half the bytes)."""
    from safetensors.torch import save_file

    out = Path(path)
    dtype = torch.float16 if half else torch.float32
    tensors = {
        k: v.detach().to("cpu", dtype).contiguous() for k, v in model.net.state_dict().items()
    }
    try:
        atomic_write(out, lambda part: save_file(tensors, str(part), model.metadata()))
    except OSError as exc:
        raise ModelError(f"could not write model '{out}': {reason(exc)}") from None
    return out


def read_metadata(path: str | os.PathLike[str]) -> dict[str, str]:
    """The metadata of a painterly model file, checked; raises :class:`ModelError`."""
    from safetensors import SafetensorError, safe_open

    check_readable(path, "model", ModelError)
    try:
        with safe_open(str(path), framework="pt") as handle:
            meta = handle.metadata() or {}
    except (SafetensorError, OSError, ValueError, RuntimeError):
        raise ModelError(
            f"model '{path}' is not a safetensors file: give a model made by painterly train"
        ) from None
    if meta.get("format") != FORMAT:
        raise ModelError(
            f"'{path}' is a safetensors file but not a painterly fast model: "
            "give a model made by painterly train"
        )
    arch, version = meta.get("architecture"), meta.get("architecture_version", "")
    if arch != ARCHITECTURE or version != str(ARCHITECTURE_VERSION):
        raise ModelError(
            f"model '{path}' has architecture {arch} version {version}, which this painterly "
            f"({__version__}) does not know ({ARCHITECTURE} version {ARCHITECTURE_VERSION}): "
            "upgrade painterly or train the model again"
        )
    return meta


def load_model(path: str | os.PathLike[str]) -> FastModel:
    """A model file as a :class:`FastModel` in float32 on the CPU, every part checked.

    >>> model = load_model("starry_night.safetensors")  # doctest: +SKIP
    >>> [s.name for s in model.styles]  # doctest: +SKIP
    ['starry_night']
    """
    from safetensors.torch import load_file

    meta = read_metadata(path)
    try:
        shape = Shape(**json.loads(meta["shape"]))
        styles = tuple(Style(s["name"], s["sha256"]) for s in json.loads(meta["styles"]))
        objective = json.loads(meta.get("objective", "{}"))
        training = json.loads(meta.get("training", "{}"))
        net = TransformNet(shape, len(styles))
        tensors = load_file(str(path))
        net.load_state_dict({k: v.float() for k, v in tensors.items()}, strict=True)
    except (KeyError, TypeError, ValueError, RuntimeError, ModelError):
        raise ModelError(
            f"model '{path}' is damaged: its metadata or weights do not match its "
            "architecture; train it again"
        ) from None
    if not all(bool(torch.isfinite(p).all()) for p in net.parameters()):
        raise ModelError(f"model '{path}' has weights that are not finite: train it again")
    net.eval().requires_grad_(False)
    version = meta.get("painterly_version", "")
    return FastModel(net, styles, objective, training, version, Path(path))

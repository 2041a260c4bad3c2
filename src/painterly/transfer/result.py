"""The result of a run and its JSON record, written beside the image as a pair."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from PIL import Image

from .._version import __version__
from ..config.settings import Config
from ..errors import ConfigError, SavedElsewhere
from ..files import atomic, images
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


def save_pair_or_fallback(
    image: torch.Tensor, path: Path, record: dict[str, Any], quality: int = 95, bit_depth: int = 8
) -> Path:
    """:func:`save_pair`; if writing fails, save the pair to :func:`fallback_path` instead
    and raise :class:`SavedElsewhere` naming the cause and the place."""
    try:
        return save_pair(image, path, record, quality, bit_depth)
    except OSError as exc:
        spare = atomic.fallback_path(path)
        save_pair(
            image,
            spare,
            {**record, "output": {**record.get("output", {}), "path": spare.name}},
            quality,
            bit_depth,
        )
        raise SavedElsewhere(
            f"could not write '{path}' ({atomic.reason(exc)}): saved the image and its "
            f"record to '{spare}' instead",
            str(spare),
        ) from None


def save_pair(
    image: torch.Tensor, path: Path, record: dict[str, Any], quality: int = 95, bit_depth: int = 8
) -> Path:
    """Write an image and its record ``<name>.json`` so that both are from this call or
    neither is replaced.

    Both are written to flushed temporary parts first; then the image is renamed into
    place and the record last, and if that fails the previous image comes back. The
    output's name is locked meanwhile, so two processes writing the same path leave one
    complete pair. The record gets the image file's SHA-256 (``output.sha256``).
    """
    _write_pair(path, images.image_writer(image, path, quality, bit_depth), record)
    return path


def _write_pair(path: Path, write_image: Callable[[Path], object], record: dict[str, Any]) -> None:
    """The pair writer behind :func:`save_pair` and :func:`write_pair`."""
    record_path = path.with_suffix(".json")
    with atomic.locked(path), atomic.locked(record_path):
        image_part = atomic.write_part(path, write_image)
        try:
            output = {**record.get("output", {}), "sha256": _sha256(image_part)}
            text = json.dumps({**record, "output": output}, indent=2) + "\n"
            record_part = atomic.write_part(record_path, lambda tmp: tmp.write_text(text))
        except BaseException:
            image_part.unlink(missing_ok=True)
            raise
        _rename_pair(image_part, path, record_part, record_path)


def _rename_pair(image_part: Path, path: Path, record_part: Path, record_path: Path) -> None:
    """Rename the image then the record into place; on failure, restore the old image."""
    had_image, backup = path.exists(), None
    if had_image:
        backup = path.with_name(f".{path.name}.previous.part")  # removed if left behind
        try:
            os.link(path, backup)
        except OSError:
            backup = None  # no hard links here: the old image cannot be restored
    try:
        os.replace(image_part, path)
        os.replace(record_part, record_path)
    except BaseException:
        if backup is not None:
            os.replace(backup, path)
        elif not had_image and not image_part.exists():
            path.unlink(missing_ok=True)
        image_part.unlink(missing_ok=True)
        record_part.unlink(missing_ok=True)
        raise
    finally:
        if backup is not None:
            backup.unlink(missing_ok=True)
    atomic.fsync_folder(path.parent)


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def write_json(path: Path, data: Any) -> None:
    """Write JSON atomically."""
    text = json.dumps(data, indent=2) + "\n"
    atomic.atomic_write(path, lambda tmp: tmp.write_text(text))


def write_pair(image: Path, data: bytes, record: dict[str, Any]) -> None:
    """Write an already encoded image and its JSON record beside it as a pair, as
    :func:`save_pair` does (for batches whose workers return bytes)."""
    output = {**record.get("output", {}), "path": image.name}
    _write_pair(image, lambda tmp: tmp.write_bytes(data), {**record, "output": output})


def read_pair(image: Path) -> dict[str, Any] | None:
    """The record of a finished pair written by :func:`save_pair` or :func:`write_pair`,
    else ``None`` (no record, an unreadable one, an interrupted run, or an image that is
    not the one the record names)."""
    try:
        record: dict[str, Any] = json.loads(image.with_suffix(".json").read_text())
        data = image.read_bytes()
    except (OSError, ValueError):
        return None
    if not isinstance(record, dict) or record.get("interrupted"):
        return None
    expected = record.get("output", {}).get("sha256")
    return record if expected == hashlib.sha256(data).hexdigest() else None

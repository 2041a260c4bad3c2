"""An image and its JSON record written beside it as a pair: both from one call or
neither replaced, and a finished pair told by the SHA-256 its record holds."""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch

from ..errors import SavedElsewhere
from . import atomic, images


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

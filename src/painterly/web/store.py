"""The studio's results folder: uploads under generated names, and finished runs.

Layout::

    RESULTS/uploads/<hex>.<ext>        an uploaded image, checked by its content
    RESULTS/runs/<id>/image.png        a run's picture
    RESULTS/runs/<id>/record.json      its record and form parameters (written last)

No name that a client sends ever becomes a path: images are addressed by ids that
must match a strict pattern and are then looked up in this folder or the bundle.
"""

from __future__ import annotations

import io
import json
import re
import secrets
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from PIL import Image, UnidentifiedImageError

from .. import images
from ..errors import ImageError
from ..record import Result, write_json
from ..samples import BUNDLED, MASKS, bundled

UPLOAD_ID = re.compile(r"^u-[0-9a-f]{32}\.(png|jpg|webp|tif|bmp|gif)$")
RUN_ID = re.compile(r"^r-[0-9]{13}-[0-9a-f]{6}$")
EXTENSIONS = {
    "PNG": "png",
    "JPEG": "jpg",
    "WEBP": "webp",
    "TIFF": "tif",
    "BMP": "bmp",
    "GIF": "gif",
}


@dataclass(frozen=True)
class Limits:
    """What an upload may be."""

    max_bytes: int = 20 * 2**20
    max_pixels: int = 40_000_000


class UploadRejected(Exception):
    """An upload that is too large or not an image; ``status`` is the HTTP answer."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


class Store:
    """Uploads and runs under one folder."""

    def __init__(self, root: Path, limits: Limits | None = None) -> None:
        self.root = root
        self.limits = limits or Limits()
        self.uploads = root / "uploads"
        self.runs = root / "runs"
        self.uploads.mkdir(parents=True, exist_ok=True)
        self.runs.mkdir(parents=True, exist_ok=True)

    # --- images -------------------------------------------------------------

    def save_upload(self, data: bytes) -> dict[str, Any]:
        """Check bytes by their content and store them under a generated name."""
        if len(data) > self.limits.max_bytes:
            raise UploadRejected(413, self.too_big(len(data)))
        try:
            with Image.open(io.BytesIO(data)) as img:
                fmt, (w, h) = img.format, img.size
                if w * h > self.limits.max_pixels:
                    raise UploadRejected(
                        413,
                        f"the image is {w}×{h} ({w * h / 1e6:.0f} MP), over the "
                        f"{self.limits.max_pixels / 1e6:.0f} MP limit: downscale it first",
                    )
                img.verify()
        except UploadRejected:
            raise
        except Image.DecompressionBombError:
            limit = self.limits.max_pixels / 1e6
            message = f"the image has too many pixels: the limit is {limit:.0f} MP"
            raise UploadRejected(413, message) from None
        except (UnidentifiedImageError, OSError, SyntaxError, ValueError):
            raise UploadRejected(
                415, "that file is not an image painterly can read: upload a PNG, JPEG or WebP"
            ) from None
        if fmt not in EXTENSIONS:
            raise UploadRejected(415, f"{fmt} images are not accepted: upload a PNG, JPEG or WebP")
        name = f"u-{secrets.token_hex(16)}.{EXTENSIONS[fmt]}"
        images.atomic_write(self.uploads / name, lambda tmp: tmp.write_bytes(data))
        return {"id": name, "width": w, "height": h}

    def too_big(self, size: int) -> str:
        limit = self.limits.max_bytes / 2**20
        return f"the file is {size / 2**20:.1f} MB, over the {limit:.0f} MB limit: shrink it first"

    def image_path(self, image_id: str) -> Path:
        """The file behind an image id: ``b-<bundled name>`` or an upload's id."""
        if image_id.startswith("b-") and image_id[2:] in (*BUNDLED, *MASKS):
            return bundled(image_id[2:])
        if UPLOAD_ID.match(image_id) and (self.uploads / image_id).is_file():
            return self.uploads / image_id
        raise ImageError(f"unknown image '{image_id[:80]}': upload it or pick a bundled one")

    @staticmethod
    def bundled_ids() -> list[str]:
        return [f"b-{name}" for name in BUNDLED]

    @staticmethod
    def mask_ids() -> list[str]:
        return [f"b-{name}" for name in MASKS]

    # --- runs ---------------------------------------------------------------

    @staticmethod
    def new_run_id() -> str:
        return f"r-{int(time.time() * 1000):013d}-{secrets.token_hex(3)}"

    def run_dir(self, run_id: str) -> Path:
        if not RUN_ID.match(run_id):
            raise ImageError(f"unknown run '{run_id[:80]}'")
        return self.runs / run_id

    def save_run(self, run_id: str, result: Result, form: dict[str, Any]) -> dict[str, Any]:
        """Write a run's image, then its record (the record marks it complete)."""
        folder = self.run_dir(run_id)
        folder.mkdir(exist_ok=True)
        images.save_image(result.image, folder / "image.png")
        record = {**result.record(), "id": run_id, "form": form}
        record["history"] = result.history
        write_json(folder / "record.json", record)
        return summary(record)

    def list_runs(self) -> list[dict[str, Any]]:
        """Every complete run, newest first (a run without its record is skipped)."""
        found = []
        for folder in sorted(self.runs.iterdir(), reverse=True):
            record_path = folder / "record.json"
            if RUN_ID.match(folder.name) and record_path.is_file():
                try:
                    found.append(summary(json.loads(record_path.read_text())))
                except (OSError, ValueError, KeyError):
                    continue
        return found


def summary(record: dict[str, Any]) -> dict[str, Any]:
    """What the gallery shows of a run."""
    return {
        "id": record["id"],
        "form": record["form"],
        "size": record["size"],
        "steps": record["steps"],
        "seconds": record["seconds"],
        "final_losses": record["final_losses"],
        "interrupted": record["interrupted"],
        "seed": record["seed"],
        "config": {k: record["config"][k] for k in ("style_weight", "content_weight", "size")},
    }

"""The studio's results folder: uploads named by their content, finished runs, and the
queue of runs still to do.

Layout::

    RESULTS/uploads/u-<sha256>.<ext>   an uploaded image, checked by its content
    RESULTS/runs/<id>/image.png        a run's picture
    RESULTS/runs/<id>/record.json      its record and form parameters
    RESULTS/queue.json                 runs accepted but not yet finished

A run folder is written as ``runs/.<id>.part`` and renamed into place when both files
are there, so a run is in the gallery whole or not at all. No name that a client sends
ever becomes a path: images are addressed by ids that must match a strict pattern and
are then looked up in this folder or the bundle.
"""

from __future__ import annotations

import errno
import hashlib
import io
import json
import logging
import os
import re
import secrets
import shutil
import time
from collections.abc import Collection
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from PIL import Image, UnidentifiedImageError

from ..errors import ImageError
from ..files import atomic, images
from ..files.pairs import write_json
from ..files.samples import BUNDLED, MASKS, bundled
from ..transfer.result import Result

log = logging.getLogger(__name__)
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
# An absolute path inside a message or record (a POSIX one, or C:\… on Windows).
PATH = re.compile(r"(?:[A-Za-z]:\\|/)[^\s'\"=:,;()\[\]{}]*[/\\]([^\s'\"/\\,;()\[\]{}]+)")
DISK_FULL = (errno.ENOSPC, errno.EDQUOT)


@dataclass(frozen=True)
class Limits:
    """What an upload may be, and how much room all uploads may take."""

    max_bytes: int = 20 * 2**20
    max_pixels: int = 40_000_000
    max_total_bytes: int = 1024 * 2**20


class UploadRejected(Exception):
    """An upload that is too large or not an image; ``status`` is the HTTP answer."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


class DiskFull(Exception):
    """The results folder's disk has no room left for what had to be written."""


def scrub(text: str) -> str:
    """``text`` with every absolute path replaced by its last part (a file's name).

    >>> scrub("cannot read '/srv/results/uploads/u-1.png': truncated")
    "cannot read 'u-1.png': truncated"
    """
    return PATH.sub(lambda m: m.group(1), text)


def scrub_all(data: Any) -> Any:
    """A JSON value with :func:`scrub` applied to every string in it."""
    if isinstance(data, str):
        return scrub(data)
    if isinstance(data, list):
        return [scrub_all(v) for v in data]
    if isinstance(data, dict):
        return {k: scrub_all(v) for k, v in data.items()}
    return data


def is_disk_full(exc: BaseException) -> bool:
    return isinstance(exc, OSError) and exc.errno in DISK_FULL


class Store:
    """Uploads, runs and the queue under one folder."""

    def __init__(self, root: Path, limits: Limits | None = None) -> None:
        self.root = root
        self.limits = limits or Limits()
        self.uploads = root / "uploads"
        self.runs = root / "runs"
        self.queue_file = root / "queue.json"
        self.uploads.mkdir(parents=True, exist_ok=True)
        self.runs.mkdir(parents=True, exist_ok=True)

    def clean_leftovers(self) -> list[str]:
        """Remove what a killed server left half-written; return the names removed."""
        removed = []
        for folder in self.runs.iterdir():
            complete = RUN_ID.match(folder.name) and (folder / "record.json").is_file()
            if folder.is_dir() and not complete:
                shutil.rmtree(folder, ignore_errors=True)
                removed.append(folder.name)
        for part in [*self.uploads.glob(".*.part"), *self.root.glob(".*.part")]:
            part.unlink(missing_ok=True)
            removed.append(part.name)
        return removed

    # --- images -------------------------------------------------------------

    def save_upload(self, data: bytes, in_use: Collection[str] = ()) -> dict[str, Any]:
        """Check bytes by their content and store them under their hash: the same bytes
        get the same id. Older uploads that no run in ``in_use`` needs make room."""
        if len(data) > self.limits.max_bytes:
            raise UploadRejected(413, self.too_big(len(data)))
        fmt, (w, h) = self._check_image(data)
        name = f"u-{hashlib.sha256(data).hexdigest()[:32]}.{EXTENSIONS[fmt]}"
        path = self.uploads / name
        if path.is_file():
            os.utime(path)  # used again: the last to go
            return {"id": name, "width": w, "height": h}
        self._make_room(len(data), in_use)
        try:
            images.atomic_write(path, lambda tmp: tmp.write_bytes(data))
        except OSError as exc:
            if is_disk_full(exc):
                raise UploadRejected(
                    507, "the server's disk is full: the upload was not kept"
                ) from None
            raise
        return {"id": name, "width": w, "height": h}

    def _check_image(self, data: bytes) -> tuple[str, tuple[int, int]]:
        """The format and size of an image, decoded in full (a truncated file fails)."""
        try:
            with Image.open(io.BytesIO(data)) as img:
                fmt, (w, h) = img.format or "", img.size
                if w * h > self.limits.max_pixels:
                    raise UploadRejected(
                        413,
                        f"the image is {w}×{h} ({w * h / 1e6:.0f} MP), over the "
                        f"{self.limits.max_pixels / 1e6:.0f} MP limit: downscale it first",
                    )
                if fmt == "JPEG":  # decode at 1/8 scale: every byte is still read
                    img.draft("RGB", (max(1, w // 8), max(1, h // 8)))
                img.load()
        except UploadRejected:
            raise
        except Image.DecompressionBombError:
            limit = self.limits.max_pixels / 1e6
            message = f"the image has too many pixels: the limit is {limit:.0f} MP"
            raise UploadRejected(413, message) from None
        except (UnidentifiedImageError, OSError, SyntaxError, ValueError):
            raise UploadRejected(
                415,
                "that file is not an image painterly can read, or it is cut short: "
                "upload a whole PNG, JPEG or WebP",
            ) from None
        if fmt not in EXTENSIONS:
            raise UploadRejected(415, f"{fmt} images are not accepted: upload a PNG, JPEG or WebP")
        return fmt, (w, h)

    def _make_room(self, size: int, in_use: Collection[str]) -> None:
        """Delete the least recently used uploads no waiting run needs until ``size``
        more bytes fit under the total limit."""
        cap = self.limits.max_total_bytes
        if size > cap:
            raise UploadRejected(413, self.too_big(size, cap))
        stored = sorted(
            ((p.stat().st_mtime, p.stat().st_size, p) for p in self.uploads.glob("u-*")),
            key=lambda entry: entry[0],
        )
        total = sum(entry[1] for entry in stored)
        for _, bytes_, path in stored:
            if total + size <= cap:
                return
            if path.name not in in_use:
                path.unlink(missing_ok=True)
                total -= bytes_
                log.info("upload %s removed to make room", path.name)
        if total + size > cap:
            raise UploadRejected(
                507,
                f"the upload space ({cap / 2**20:.0f} MB) is taken by images that waiting "
                "runs need: try again when they end",
            )

    def too_big(self, size: int, limit: int | None = None) -> str:
        mb = (limit or self.limits.max_bytes) / 2**20
        return f"the file is {size / 2**20:.1f} MB, over the {mb:.0f} MB limit: shrink it first"

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

    def save_run(
        self, run_id: str, result: Result, form: dict[str, Any], stopped_by: str | None = None
    ) -> dict[str, Any]:
        """Write a run's image and record into a hidden folder, then rename it into
        place: the gallery sees the run whole or not at all. Raise DiskFull when the
        disk has no room (nothing is left behind). ``stopped_by`` says who interrupted it."""
        folder = self.run_dir(run_id)
        part = self.runs / f".{run_id}.part"
        record = {**result.record(), "id": run_id, "form": form, "history": result.history_dicts()}
        record["stopped_by"] = stopped_by
        try:
            part.mkdir(exist_ok=True)
            images.save_image(result.image, part / "image.png")
            write_json(part / "record.json", record)
            atomic.fsync_folder(part)
            part.rename(folder)
            atomic.fsync_folder(self.runs)
        except OSError as exc:
            shutil.rmtree(part, ignore_errors=True)
            if is_disk_full(exc):
                raise DiskFull(
                    "the server's disk is full: the picture could not be saved"
                ) from None
            raise
        return summary(record)

    def record(self, run_id: str) -> dict[str, Any]:
        """A run's record as the studio serves it: without server paths."""
        folder = self.run_dir(run_id)
        data = json.loads((folder / "record.json").read_text())
        return dict(scrub_all(data))

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

    # --- the queue ----------------------------------------------------------

    def save_queue(self, requests: list[dict[str, Any]]) -> None:
        """Keep the runs still to do, so that a restarted server does them."""
        try:
            write_json(self.queue_file, requests)
        except OSError as exc:
            log.error("the queue could not be saved: %s", scrub(str(exc)))

    def load_queue(self) -> list[dict[str, Any]]:
        try:
            data = json.loads(self.queue_file.read_text())
        except FileNotFoundError:
            return []
        except (OSError, ValueError) as exc:
            log.error("the saved queue is unreadable, starting empty: %s", scrub(str(exc)))
            return []
        return (
            [entry for entry in data if isinstance(entry, dict)] if isinstance(data, list) else []
        )


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
        "stopped_by": record.get("stopped_by"),
        "seed": record["seed"],
        "config": {k: record["config"][k] for k in ("style_weight", "content_weight", "size")},
    }

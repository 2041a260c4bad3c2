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

import contextlib
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
from .refusals import NOT_AN_IMAGE, UploadRejected, scrub, scrub_all, unwritable

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


@dataclass(frozen=True)
class Limits:
    """What an upload may be, how much room all uploads may take, and how many are
    decoded at once (in full, 4 bytes a pixel: 160 MB for 40 MP) with how many more
    waiting their turn, bodies read (beyond, 503 and Retry-After)."""

    max_bytes: int = 20 * 2**20
    max_pixels: int = 40_000_000
    max_total_bytes: int = 1024 * 2**20
    decoding: int = 1
    waiting: int = 3
    retry_after: int = 2  # seconds a client told to wait is told


@dataclass(frozen=True)
class Upload:
    """An upload seen by its header: the id it is stored under and its size."""

    name: str
    width: int
    height: int

    def answer(self) -> dict[str, Any]:
        return {"id": self.name, "width": self.width, "height": self.height}


def prepare(root: Path, what: str = "results") -> None:
    """Create the results folder and its ``uploads`` and ``runs``, checking that files
    can be written in each; else raise :class:`~painterly.errors.OutputError` in one
    line naming the folder and the fix."""
    for folder in (root, root / "uploads", root / "runs"):
        atomic.make_folder(folder, what)


class Store:
    """Uploads, runs and the queue under one folder."""

    def __init__(self, root: Path, limits: Limits | None = None) -> None:
        self.root = root
        self.limits = limits or Limits()
        self.uploads = root / "uploads"
        self.runs = root / "runs"
        self.queue_file = root / "queue.json"
        self.reported: set[str] = set()  # damaged run folders already logged
        prepare(root)

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
        upload = self.inspect(data)
        self.keep(upload, data, in_use)
        return upload.answer()

    def inspect(self, data: bytes) -> Upload:
        """An upload's id and size from its bytes and its header alone (nothing is
        decoded): raise :class:`UploadRejected` for one too large or not an image."""
        if len(data) > self.limits.max_bytes:
            raise UploadRejected(413, self.too_big(len(data)))
        try:
            with Image.open(io.BytesIO(data)) as img:
                fmt, (w, h) = img.format or "", img.size
        except Image.DecompressionBombError:
            raise UploadRejected(413, self._too_many_pixels()) from None
        except (UnidentifiedImageError, OSError, SyntaxError, ValueError):
            raise UploadRejected(415, NOT_AN_IMAGE) from None
        if w * h > self.limits.max_pixels:
            raise UploadRejected(413, self._too_many_pixels(w, h))
        if fmt not in EXTENSIONS:
            raise UploadRejected(415, f"{fmt} images are not accepted: upload a PNG, JPEG or WebP")
        name = f"u-{hashlib.sha256(data).hexdigest()[:32]}.{EXTENSIONS[fmt]}"
        return Upload(name, w, h)

    def find(self, upload: Upload) -> bool:
        """Whether these bytes are stored already; if so they are marked used again (the
        last to go when room is made)."""
        path = self.uploads / upload.name
        if not path.is_file():
            return False
        with contextlib.suppress(OSError):  # a read-only folder: the order is not worth a refusal
            os.utime(path)
        return True

    def keep(self, upload: Upload, data: bytes, in_use: Collection[str] = ()) -> None:
        """Decode an inspected upload in full (a cut-short file fails) and store it,
        unless it is stored already; raise :class:`UploadRejected` or
        :class:`Unwritable`."""
        if self.find(upload):
            return
        self._decode(data)
        try:
            self._make_room(len(data), in_use)
            images.atomic_write(self.uploads / upload.name, lambda tmp: tmp.write_bytes(data))
        except OSError as exc:
            raise unwritable(exc, "the upload was not kept") from None

    def _decode(self, data: bytes) -> None:
        """Decode an image in full: JPEGs at 1/8 scale, which still reads every byte."""
        try:
            with Image.open(io.BytesIO(data)) as img:
                if img.format == "JPEG":
                    w, h = img.size
                    img.draft("RGB", (max(1, w // 8), max(1, h // 8)))
                img.load()
        except Image.DecompressionBombError:
            raise UploadRejected(413, self._too_many_pixels()) from None
        except (UnidentifiedImageError, OSError, SyntaxError, ValueError):
            raise UploadRejected(415, NOT_AN_IMAGE) from None

    def _too_many_pixels(self, w: int = 0, h: int = 0) -> str:
        limit = f"the {self.limits.max_pixels / 1e6:.0f} MP limit"
        if not w:
            return f"the image has too many pixels, over {limit}: downscale it first"
        return f"the image is {w}×{h} ({w * h / 1e6:.0f} MP), over {limit}: downscale it first"

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

    def check_writable(self) -> None:
        """Raise :class:`Unwritable` if a run's picture could not be saved now, so that
        it is refused before it runs rather than failing at its end."""
        failure = atomic.probe(self.runs)
        if failure is not None:
            raise unwritable(failure, "the run would not be saved, so it was not started")

    def save_run(
        self, run_id: str, result: Result, form: dict[str, Any], stopped_by: str | None = None
    ) -> dict[str, Any]:
        """Write a run's image and record into a hidden folder, then rename it into
        place: the gallery sees the run whole or not at all. Raise :class:`Unwritable`
        when that fails (the hidden folder is removed at once). ``stopped_by`` says who
        interrupted it."""
        folder = self.run_dir(run_id)
        part = self.runs / f".{run_id}.part"
        record = {**result.record(), "id": run_id, "form": form, "history": result.history_dicts()}
        record["stopped_by"] = stopped_by
        picture = part / "image.png"
        try:
            part.mkdir(exist_ok=True)
            images.atomic_write(picture, images.image_writer(result.image, picture))
            write_json(part / "record.json", record)
            atomic.fsync_folder(part)
            part.rename(folder)
            atomic.fsync_folder(self.runs)
        except BaseException as exc:
            shutil.rmtree(part, ignore_errors=True)
            if isinstance(exc, OSError):
                raise unwritable(exc, "the picture could not be saved") from None
            raise
        return summary(record)

    def record(self, run_id: str) -> dict[str, Any]:
        """A finished run's record as the studio serves it, without server paths; raise
        :class:`~painterly.errors.ImageError` for an unknown or damaged run."""
        folder = self.run_dir(run_id)
        record = self._finished(folder)
        if record is None:
            raise ImageError(f"unknown run '{run_id[:80]}'")
        return dict(scrub_all(record))

    def list_runs(self) -> list[dict[str, Any]]:
        """Every finished run, newest first; damaged ones are left out (and logged)."""
        found = []
        for folder in sorted(self.runs.iterdir(), reverse=True):
            if RUN_ID.match(folder.name) and folder.is_dir():
                record = self._finished(folder)
                if record is not None:
                    found.append(summary(record))
        return found

    def _finished(self, folder: Path) -> dict[str, Any] | None:
        """A run folder's record if the run is whole (its record readable and complete,
        its picture there), else ``None``, logged once per folder."""
        try:
            record = json.loads((folder / "record.json").read_text(encoding="utf-8"))
            summary(record)  # every field the gallery shows is there
            if not (folder / "image.png").is_file():
                raise FileNotFoundError("its image.png is missing")
        except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
            if folder.name not in self.reported:
                self.reported.add(folder.name)
                log.warning("run %s is left out of the gallery: %s", folder.name, _damage(exc))
            return None
        self.reported.discard(folder.name)
        return dict(record)

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


def _damage(exc: Exception) -> str:
    """What is wrong with a run folder, in words."""
    if isinstance(exc, KeyError):
        return f"its record has no {exc}"
    if isinstance(exc, (TypeError, AttributeError)):
        return "its record.json does not hold a run's record"
    if isinstance(exc, ValueError):
        return f"its record.json is not readable JSON ({scrub(str(exc))})"
    return scrub(str(exc))


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

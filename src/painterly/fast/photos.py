"""The training photos: found in folders, globs or files, decoded once, and cut into
batches of random crops with scale jitter and horizontal flips.

An unreadable file among them is skipped with one warning line; no photo at all is an
:class:`~painterly.errors.ImageError`. The last photos (in name order) can be held out:
the preview sheet and the held-out loss use photos the network never trained on.
"""

from __future__ import annotations

import glob
import hashlib
import logging
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import torch

from ..errors import ImageError
from ..files import images

log = logging.getLogger(__name__)
KEEP_SIDE = 1.5  # photos are kept with their shorter side at 1.5 crops: room to jitter


@dataclass(frozen=True)
class Photo:
    """A decoded photo, its shorter side about :data:`KEEP_SIDE` crops."""

    path: Path
    sha256: str
    image: torch.Tensor  # 1×3×H×W in [0, 1]

    def describe(self) -> dict[str, str]:
        return {"path": str(self.path), "sha256": self.sha256}


def find_photos(sources: Sequence[str | os.PathLike[str]]) -> list[Path]:
    """The image files that ``sources`` name: folders (their images, not recursing),
    glob patterns and files, sorted by name and each once; raises :class:`ImageError`
    when there is none."""
    readable = images.readable_extensions()
    found: list[Path] = []
    for source in sources:
        path = Path(source)
        if path.is_dir():
            found += [p for p in sorted(path.iterdir()) if p.suffix.lower() in readable]
        elif glob.has_magic(str(source)):
            found += [Path(p) for p in sorted(glob.glob(str(source))) if Path(p).is_file()]
        elif path.is_file():
            found.append(path)
    unique = sorted(dict.fromkeys(found), key=lambda p: (p.name, str(p)))
    if not unique:
        shown = ", ".join(f"'{s}'" for s in sources) or "nothing"
        raise ImageError(
            f"no photos found in {shown}: give a folder or a glob of photos, "
            "e.g. --photos 'photos/*.jpg'"
        )
    return unique


def load_photos(paths: Sequence[Path], crop: int) -> tuple[list[Photo], list[Path]]:
    """The photos that decode, resized for crops of ``crop`` px, and the paths skipped
    (each with a warning); raises :class:`ImageError` when none decodes."""
    side = round(KEEP_SIDE * crop)
    photos, skipped = [], []
    for path in paths:
        try:
            data = path.read_bytes()
            image = images.load_image(path, 4 * side)
        except (ImageError, OSError) as exc:
            log.warning("%s; skipped", exc)
            skipped.append(path)
            continue
        h, w = image.shape[-2:]
        image = images.resize(image, images.fit_size(h, w, images.side_for(h, w, side)))
        photos.append(Photo(path, hashlib.sha256(data).hexdigest(), image))
    if not photos:
        raise ImageError(
            f"none of the {len(paths)} photo file(s) could be read: give photos "
            "painterly can open (.jpg, .png, .webp, …)"
        )
    return photos, skipped


def hold_out(photos: list[Photo], count: int | None) -> tuple[list[Photo], list[Photo]]:
    """``(training, held out)``: the last ``count`` photos held out (default one where
    there are at least three), always leaving one to train on."""
    if count is None:
        count = 1 if len(photos) >= 3 else 0
    count = max(0, min(count, len(photos) - 1))
    return photos[: len(photos) - count], photos[len(photos) - count :]


def random_crops(
    photos: Sequence[Photo],
    batch: int,
    crop: int,
    generator: torch.Generator,
    rows: Sequence[int] | None = None,
) -> torch.Tensor:
    """``batch`` crops of ``crop`` px: a random photo, a random square of a random side
    between the crop and the photo's shorter side (scale jitter), resized to ``crop``,
    and flipped left to right half the time. ``rows`` keeps only those crops of the
    batch (a process's share of it), drawn as if all were cut."""
    keep = set(range(batch) if rows is None else rows)
    out = []
    for index in range(batch):
        pick = int(torch.randint(len(photos), (1,), generator=generator))
        image = photos[pick].image
        h, w = image.shape[-2:]
        low = min(crop, h, w)
        side = int(torch.randint(low, min(h, w) + 1, (1,), generator=generator))
        top = int(torch.randint(h - side + 1, (1,), generator=generator))
        left = int(torch.randint(w - side + 1, (1,), generator=generator))
        flip = float(torch.rand((), generator=generator)) < 0.5
        if index not in keep:
            continue
        part = images.resize(image[..., top : top + side, left : left + side], (crop, crop))
        out.append(part.flip(-1) if flip else part)
    return torch.cat(out)

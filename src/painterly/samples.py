"""The bundled sample images (credits in ``painterly/data/SOURCES.md``)."""

from __future__ import annotations

from importlib import resources
from pathlib import Path

BUNDLED = ("tubingen.jpg", "starry_night.jpg", "the_scream.jpg", "shipwreck.jpg")
MASKS = ("tubingen_sky.png",)  # regions of the bundled photo, for --mask


def bundled(name: str) -> Path:
    """Path of a bundled sample image or mask."""
    return Path(str(resources.files("painterly") / "data" / name))

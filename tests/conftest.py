"""Shared fixtures: the bundled sample images and small real-weight settings."""

from __future__ import annotations

from pathlib import Path

import pytest

DATA = Path(__file__).resolve().parents[1] / "src" / "painterly" / "data"


@pytest.fixture
def content_path() -> Path:
    return DATA / "tubingen.jpg"


@pytest.fixture
def style_path() -> Path:
    return DATA / "starry_night.jpg"


@pytest.fixture
def style2_path() -> Path:
    return DATA / "the_scream.jpg"

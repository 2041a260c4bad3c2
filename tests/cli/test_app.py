"""The command group: lazy commands, the overview, the typo's suggestion, no PyTorch
for help and usage errors."""

from __future__ import annotations

import subprocess
import sys

import click
import pytest

from painterly.cli import main
from painterly.cli.app import COMMANDS, LazyGroup, cli


def test_the_table_names_every_command_with_its_own_short_help() -> None:
    assert isinstance(cli, LazyGroup)
    for name, (_, _, short) in COMMANDS.items():
        command = cli.get_command(click.Context(cli), name)
        assert command is not None, name
        assert command.get_short_help_str(200) == short, name


def test_no_arguments_prints_the_overview(capsys: pytest.CaptureFixture[str]) -> None:
    assert main([]) == 0
    out, err = capsys.readouterr()
    assert "painterly demo" in out and "painterly doctor" in out
    assert "error" not in out + err


def test_help_lists_every_command(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--help"]) == 0
    out = capsys.readouterr().out
    assert all(f"  {name} " in out for name in COMMANDS)


def test_a_typo_gets_the_closest_command(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["stylze"]) == 2
    err = capsys.readouterr().err
    assert "No such command 'stylze'. Did you mean 'stylize'?" in err


def _fresh(argv: list[str]) -> subprocess.CompletedProcess[str]:
    """``painterly ARGV`` in a fresh interpreter, which prints on its last stderr line
    whether PyTorch was imported."""
    code = (
        "import sys; from painterly.cli import main; status = main(sys.argv[1:]); "
        "sys.stdout.flush(); print('torch' in sys.modules, file=sys.stderr); "
        "raise SystemExit(status)"
    )
    return subprocess.run(
        [sys.executable, "-c", code, *argv], capture_output=True, text=True, timeout=120
    )


@pytest.mark.subprocess
@pytest.mark.parametrize(
    "argv", [[], ["--help"], ["stylze"], ["--bogus"], ["weights", "download", "--help"]]
)
def test_the_group_answers_without_torch(argv: list[str]) -> None:
    done = _fresh(argv)
    assert done.stderr.strip().splitlines()[-1] == "False", done.stderr


@pytest.mark.subprocess
@pytest.mark.parametrize("name", sorted(COMMANDS))
def test_every_command_help_imports_no_torch(name: str) -> None:
    done = _fresh([name, "--help"])
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith(f"Usage: painterly {name} "), done.stdout
    assert done.stderr.strip().splitlines()[-1] == "False", done.stderr


@pytest.mark.subprocess
@pytest.mark.parametrize(
    "argv",
    [
        ["stylize"],
        ["stylize", "a.jpg", "b.jpg", "-o", "c.png", "--size", "big"],
        ["batch", "photos/"],
        ["video", "clip.mp4"],
        ["train", "style.jpg"],
        ["features"],
        ["weights", "download", "nowhere"],
    ],
)
def test_usage_errors_import_no_torch(argv: list[str]) -> None:
    done = _fresh(argv)
    assert done.returncode == 2, done.stderr
    lines = done.stderr.strip().splitlines()
    assert lines[0].startswith("painterly: error: "), done.stderr
    assert lines[-1] == "False", done.stderr


def test_the_copies_the_help_shows_agree_with_the_library() -> None:
    from painterly.cli import experiment as experiment_cli
    from painterly.cli import fast as fast_cli
    from painterly.cli import video as video_cli
    from painterly.explain.experiment import MAX_RUNS
    from painterly.fast.network import SHAPES
    from painterly.video.render import VideoSettings

    assert tuple(SHAPES) == fast_cli.NETWORKS
    assert VideoSettings.temporal_weight == video_cli.TEMPORAL_WEIGHT
    assert VideoSettings.frame_iterations == video_cli.FRAME_ITERATIONS
    assert experiment_cli.MAX_RUNS == MAX_RUNS

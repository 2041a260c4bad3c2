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


@pytest.mark.subprocess
@pytest.mark.parametrize(
    "argv", [[], ["--help"], ["doctor", "--help"], ["serve", "--help"], ["stylze"], ["--bogus"]]
)
def test_help_and_usage_errors_import_no_torch(argv: list[str]) -> None:
    code = (
        "import sys; from painterly.cli import main; status = main(sys.argv[1:]); "
        "sys.stdout.flush(); print('torch' in sys.modules, file=sys.stderr)"
    )
    done = subprocess.run(
        [sys.executable, "-c", code, *argv], capture_output=True, text=True, timeout=120
    )
    assert done.stderr.strip().splitlines()[-1] == "False", done.stderr

"""The command line's one progress bar: drawn on a terminal unless quiet, from its first
update on, with lines written above it."""

from __future__ import annotations

import logging
import sys

import pytest

from painterly.cli.progress import Bar


def _terminal(monkeypatch: pytest.MonkeyPatch, tty: bool) -> None:
    monkeypatch.setattr(sys.stderr, "isatty", lambda: tty)


def test_a_bar_is_drawn_on_a_terminal_from_its_first_update(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    _terminal(monkeypatch, True)
    bar = Bar(unit="frame")
    bar.write("kept 3 frames from before")
    assert capsys.readouterr().err == "kept 3 frames from before\n"  # no bar yet
    bar.show(3, "pass 1", total=10)  # opens at 3 of 10: earlier frames set no pace
    bar.show(5, total=10)
    bar.write("a line")
    bar.close()
    err = capsys.readouterr().err
    assert "3/10" in err and "5/10" in err and "pass 1" in err and "a line\n" in err
    bar.show(1, total=2)  # a closed bar opens again
    bar.close()
    assert "1/2" in capsys.readouterr().err


@pytest.mark.parametrize(("quiet", "tty"), [(True, True), (False, False)])
def test_no_bar_when_quiet_or_not_on_a_terminal(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], quiet: bool, tty: bool
) -> None:
    _terminal(monkeypatch, tty)
    bar = Bar.of_work(quiet)
    bar.show(40.0, "step 4/10")
    bar.write("done")
    bar.close()
    assert capsys.readouterr().err == "done\n"  # a log gets the lines alone


def test_a_work_bar_shows_the_share_done(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    _terminal(monkeypatch, True)
    bar = Bar.of_work()
    bar.show(25.0, "step 1/4")
    bar.show(75.0, "step 3/4")
    bar.close()
    err = capsys.readouterr().err
    assert " 25%|" in err and " 75%|" in err and "step 3/4" in err


def test_log_lines_go_above_the_bar(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    _terminal(monkeypatch, True)
    console = logging.StreamHandler(sys.stderr)  # as the command line's logging setup
    logging.getLogger().addHandler(console)
    try:
        bar = Bar.of_work()
        bar.show(50.0, "step 5/10")
        logging.getLogger("painterly.test").warning("a note")
        bar.close()
        logging.getLogger("painterly.test").warning("after the bar")
    finally:
        logging.getLogger().removeHandler(console)
    parts = [part for line in capsys.readouterr().err.split("\n") for part in line.split("\r")]
    assert "a note" in parts and "after the bar" in parts  # each on a line of its own

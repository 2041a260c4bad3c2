"""The command line's progress bars: one rule for when a bar is shown, one way to move it.

A bar is drawn on stderr only when stderr is a terminal and the command is not quiet
(a log or a pipe gets the commands' lines alone), and only from its first update on,
so that what an earlier run left done (frames, items) does not count in its pace.
While it is drawn, the log's lines (the library's notes) are written above it.
"""

from __future__ import annotations

import contextlib
import sys
from typing import Any

import click

WORK = "{percentage:3.0f}%|{bar}| {elapsed}<{remaining}{postfix}"  # a run's share done


class Bar:
    """A tqdm bar on a terminal, or nothing; ``options`` are tqdm's.

    >>> bar = Bar(quiet=True, unit="frame")
    >>> bar.show(3, total=10)  # nothing is drawn when quiet
    >>> bar.close()
    """

    def __init__(self, quiet: bool = False, **options: Any) -> None:
        self.shown = not quiet and sys.stderr.isatty()
        self.options = {"dynamic_ncols": True, **options}
        self._bar: Any = None
        self._logging = contextlib.ExitStack()  # the log sent above the bar while drawn

    @classmethod
    def of_work(cls, quiet: bool = False) -> Bar:
        """A bar over a share of planned work, in percent, with the time left."""
        return cls(quiet, total=100, bar_format=WORK)

    def show(self, done: float, postfix: str = "", total: float | None = None) -> None:
        """Move the bar to ``done`` (of ``total``, when given), opened at the first call."""
        if not self.shown:
            return
        if self._bar is None:
            from tqdm import tqdm
            from tqdm.contrib.logging import logging_redirect_tqdm

            given = {} if total is None else {"total": total}
            self._logging.enter_context(logging_redirect_tqdm())
            self._bar = tqdm(initial=done, **{**self.options, **given})
        elif total is not None:
            self._bar.total = total
        if postfix:
            self._bar.set_postfix_str(postfix, refresh=False)
        self._bar.update(done - self._bar.n)

    def write(self, line: str) -> None:
        """A line on stderr, above the bar when one is drawn."""
        if self._bar is not None:
            self._bar.write(line, file=sys.stderr)
        else:
            click.echo(line, err=True)

    def close(self) -> None:
        """Close the bar; a later :meth:`show` opens a new one."""
        if self._bar is not None:
            self._bar.close()
            self._bar = None
            self._logging.close()

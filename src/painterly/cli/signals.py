"""SIGTERM treated like Ctrl-C: the run stops and keeps the image reached so far.

While the run goes on, SIGINT and SIGTERM raise :class:`KeyboardInterrupt`, which
the transfer turns into an interrupted result; once the run has returned, a further
signal is held back until the image and its record are saved.
"""

from __future__ import annotations

import contextlib
import signal
import threading
from collections.abc import Iterator
from types import FrameType
from typing import Any

_SIGNALS = (signal.SIGINT, signal.SIGTERM)


class Stopping:
    """The state of one run: stopping it raises KeyboardInterrupt until :meth:`done`."""

    def __init__(self) -> None:
        self.saving = False
        self.received: int | None = None

    def handle(self, signum: int, frame: FrameType | None) -> None:
        if not self.saving:
            raise KeyboardInterrupt  # the run stops, keeping what it reached
        self.received = signum  # held back until the save ends

    def done(self) -> None:
        """The run has returned: signals now wait for the save to end."""
        self.saving = True


@contextlib.contextmanager
def stops_the_run() -> Iterator[Stopping]:
    """Within the block, SIGTERM stops the run as Ctrl-C does (main thread only)."""
    stopping = Stopping()
    if threading.current_thread() is not threading.main_thread():
        yield stopping
        return
    previous: dict[int, Any] = {s: signal.signal(s, stopping.handle) for s in _SIGNALS}
    try:
        yield stopping
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
    if stopping.saving and stopping.received is not None:
        raise KeyboardInterrupt  # a signal came while saving: stop now that it is safe

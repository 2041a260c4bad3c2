"""What the tests share besides fixtures: where the source tree and the bundled images
are, a free port on the loopback, and the type of the ``fails_with`` fixture.

Import it as ``from helpers import DATA`` (the tests folder is on ``sys.path`` because of
its conftest.py); never import from conftest itself, whose module name each folder's
conftest.py would take.
"""

from __future__ import annotations

import socket
from collections.abc import Callable, Sequence
from pathlib import Path

from painterly.files.samples import bundled

SRC = Path(__file__).resolve().parents[1] / "src"  # for a subprocess's PYTHONPATH
DATA = bundled("tubingen.jpg").parent  # the bundled photos, paintings and masks
SKY = bundled("tubingen_sky.png")  # the sky of tubingen.jpg, white on black

FailsWith = Callable[[Sequence[str], str], None]
"""``fails_with(argv, message)``: the command line exits 2 with one line naming it."""


def free_port() -> int:
    """A TCP port of 127.0.0.1 that nothing listens on (until someone takes it)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])

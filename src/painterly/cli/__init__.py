"""The ``painterly`` command line: a thin adapter over the library.

``main(argv) -> int`` is the one exit point: a :class:`~painterly.PainterlyError` or a
usage mistake prints one line on stderr and returns 2. It tunes the process for
painterly's steps (:func:`painterly.tune_process`) before it loads PyTorch.

The room: ``app`` (the lazy command group, its table of commands and the exit point;
a command's module loads only when that command runs or shows its help, and PyTorch
only when it runs), one module per family of commands (``run``: stylize, demo, blend;
``batch``; ``video``; ``experiment``; ``explain``: features, gram, reconstruct;
``tools``: layers, weights, score; ``fast``: train, models, export; ``serve``: the
studio; ``doctor``), ``options`` (options generated from the config's fields),
``signals`` (SIGTERM handled as Ctrl-C), ``progress`` (the one progress bar).
"""

from __future__ import annotations

from collections.abc import Sequence

from ..engine.process import tune_process


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; return the exit status."""
    tune_process()
    from .app import main as run_command_line  # each command loads PyTorch after the tuning

    return run_command_line(argv)


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())

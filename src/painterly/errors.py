"""The small family of exceptions painterly raises for problems a user can fix.

Every message names the offending value, what is allowed and how to fix it; the
command line prints the message on one line and exits with status 2.
"""

from __future__ import annotations

import difflib
import importlib
from collections.abc import Iterable
from types import ModuleType


class PainterlyError(Exception):
    """Base class: a problem with the user's input or set-up, not a bug."""


class ConfigError(PainterlyError, ValueError):
    """A parameter is out of range, of the wrong count, or unknown.

    ``field`` names the :class:`~painterly.Config` field at fault (``None`` when no
    single field is). The message writes that field as ``{field}``: ``str()`` shows the
    Config name, and each front end words it its own way with :meth:`worded` (the
    command line as ``--size``, the studio as its form field).

    >>> str(ConfigError("{field} must be ≥ 16, got 4", "size"))
    'size must be ≥ 16, got 4'
    >>> ConfigError("{field} must be ≥ 16, got 4", "size").worded("--size")
    '--size must be ≥ 16, got 4'
    """

    def __init__(self, message: str, field: str | None = None) -> None:
        self.template = message
        self.field = field
        super().__init__(self.worded(field or "value"))

    def worded(self, word: str) -> str:
        """The message with the field written as ``word``."""
        return self.template.replace("{field}", word)

    def __reduce__(self) -> tuple[type[ConfigError], tuple[str, str | None]]:
        return type(self), (self.template, self.field)


class ImageError(PainterlyError):
    """An image file is missing, unreadable, corrupt or too large."""


class WeightsError(PainterlyError):
    """Network weights are missing, corrupt, or of an unknown format."""


class OutputError(PainterlyError):
    """The output path cannot be written as asked."""


class SavedElsewhere(OutputError):
    """Writing the output failed at the end of the work, so it was saved to ``path``
    (in the temporary folder) instead; the command line exits with status 1."""

    def __init__(self, message: str, path: str) -> None:
        super().__init__(message)
        self.path = path


def did_you_mean(value: str, choices: Iterable[str]) -> str:
    """Return ``" Did you mean 'x'?"`` for the closest choice, or ``""``.

    >>> did_you_mean("block4_conv22", ["block4_conv2", "block5_conv1"])
    " Did you mean 'block4_conv2'?"
    """
    close = difflib.get_close_matches(value, list(choices), n=1, cutoff=0.6)
    return f" Did you mean '{close[0]}'?" if close else ""


def require(module: str, needs: str, extra: str) -> ModuleType:
    """Import an optional dependency, or raise :class:`PainterlyError` saying what needs
    it and the command that installs painterly's ``extra`` with it.

    >>> require("json", "records need json", "dev").__name__
    'json'
    >>> require("no_such_module", "video needs PyAV", "video")
    Traceback (most recent call last):
    painterly.errors.PainterlyError: video needs PyAV: run pip install 'painterly[video]'
    """
    try:
        return importlib.import_module(module)
    except ImportError:
        raise PainterlyError(f"{needs}: run pip install 'painterly[{extra}]'") from None


class ModelError(PainterlyError):
    """A fast model file is missing, not a painterly model, of an unknown architecture
    version, or asked for a style it does not hold."""

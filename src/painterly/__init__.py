"""painterly: neural style transfer after Gatys et al., as a library and a CLI."""

from __future__ import annotations

from ._version import __version__
from .batch import BatchResult, batch
from .config import Config, make_config
from .errors import PainterlyError
from .record import Result
from .transfer import Progress, stylize

__all__ = [
    "BatchResult",
    "Config",
    "PainterlyError",
    "Progress",
    "Result",
    "__version__",
    "batch",
    "make_config",
    "stylize",
]

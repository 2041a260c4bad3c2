"""painterly: neural style transfer after Gatys et al., as a library and a CLI."""

from __future__ import annotations

__version__ = "0.1.0"

from .config import Config, make_config  # noqa: E402
from .errors import PainterlyError  # noqa: E402
from .record import Result  # noqa: E402
from .transfer import Progress, stylize  # noqa: E402

__all__ = ["Config", "PainterlyError", "Progress", "Result", "__version__", "make_config",
           "stylize"]

"""painterly: neural style transfer after Gatys et al., as a library and a CLI."""

from __future__ import annotations

from ._version import __version__
from .batch import BatchResult, batch
from .config import Config, make_config
from .errors import PainterlyError
from .record import Result
from .transfer import Progress, stylize
from .video import VideoSettings, video
from .video_chunks import videos

__all__ = [
    "BatchResult",
    "Config",
    "PainterlyError",
    "Progress",
    "Result",
    "VideoSettings",
    "__version__",
    "batch",
    "make_config",
    "stylize",
    "video",
    "videos",
]

"""painterly: neural style transfer after Gatys et al., as a library and a CLI."""

from __future__ import annotations

import os as _os

# PyTorch's CPU allocator backs large tensors with 2 MiB pages when this is
# set before its first allocation. A 4096 px step allocates and frees many
# buffers of hundreds of MB; with 4 KiB pages each one costs hundreds of
# thousands of page faults (a quarter of the CPU time at 4096 px), with huge
# pages a five-hundredth of that. The kernel decides in the end, so a
# machine without transparent huge pages is unaffected. A value the user set
# is kept.
_os.environ.setdefault("THP_MEM_ALLOC_ENABLE", "1")

from ._version import __version__
from .batch import BatchResult, batch
from .config.settings import Config, make_config
from .engine.precision import keep_freed_memory as _keep_freed_memory
from .errors import PainterlyError
from .transfer.result import Result
from .transfer.run import Progress, stylize
from .video.parallel import videos
from .video.render import VideoSettings, video

# And freed buffers stay with the process for the next step to reuse (see there).
_keep_freed_memory()

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

"""painterly: neural style transfer after Gatys et al., as a library and a CLI.

>>> import painterly
>>> result = painterly.stylize("photo.jpg", ["painting.jpg"], iterations=100)  # doctest: +SKIP
>>> result.save("out.png")  # doctest: +SKIP

Importing painterly changes nothing in the process and loads PyTorch only when a name
below is first used. The packages, bottom to top (each imports only from those below):

- ``files``: image decoding and encoding, atomic writes and locks, the image+record
  pair, the bundled samples, contact sheets;
- ``nn``: VGG-19's layer table and geometry, the network, its weights, the oneDNN kernels;
- ``config``: :class:`Config`, its presets and the field table that drives the CLI,
  the studio and the grids;
- ``engine``: losses, the objective, targets, the evaluator, tiles and the exact tiled
  step, the optimisers, the loop, the memory plan, precision and process tuning;
- ``transfer``: :func:`stylize` and ``run``, the schedule and time budget, a scale's
  step, the inputs, colours, regions and :class:`Result`;
- ``fast``: :func:`train` a fast model, :func:`load_model`, paint in one pass;
- ``cluster``: where tasks run (this process, Dask), the task scaffold, the studio's
  queue on Dask;
- ``batch`` (folders), ``video`` (flicker-free clips), ``explain`` (feature maps,
  figures, scores, experiment grids): the workflows, independent of each other;
- ``web`` (the studio) and ``cli`` (the command line): thin adapters on top.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from ._version import __version__
from .errors import PainterlyError

if TYPE_CHECKING:
    from .batch import BatchResult, batch
    from .config.settings import Config, make_config
    from .engine.process import Tuning, tune_process
    from .fast.model import load_model
    from .fast.train import train
    from .transfer.result import Result
    from .transfer.resume import Checkpoint
    from .transfer.run import Progress, stylize
    from .video.parallel import videos
    from .video.render import VideoSettings, video

# The public names and the module each lives in, imported on first use.
_HOMES = {
    "BatchResult": ".batch",
    "batch": ".batch",
    "Config": ".config.settings",
    "make_config": ".config.settings",
    "Tuning": ".engine.process",
    "tune_process": ".engine.process",
    "load_model": ".fast.model",
    "train": ".fast.train",
    "Result": ".transfer.result",
    "Checkpoint": ".transfer.resume",
    "Progress": ".transfer.run",
    "stylize": ".transfer.run",
    "videos": ".video.parallel",
    "VideoSettings": ".video.render",
    "video": ".video.render",
}


def __getattr__(name: str) -> Any:
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module 'painterly' has no attribute '{name}'")
    value = getattr(importlib.import_module(home, __name__), name)
    globals()[name] = value  # later lookups skip this function
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *_HOMES])


__all__ = [
    "BatchResult",
    "Checkpoint",
    "Config",
    "PainterlyError",
    "Progress",
    "Result",
    "Tuning",
    "VideoSettings",
    "__version__",
    "batch",
    "load_model",
    "make_config",
    "stylize",
    "train",
    "tune_process",
    "video",
    "videos",
]

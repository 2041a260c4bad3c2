"""The Dask worker's entry point: a preload module that tunes a worker process for
painterly's steps (:func:`painterly.tune_process`) before it runs a task.

Workers that painterly starts (``--workers N``) load it themselves; workers of a cluster
someone else started load it with ``dask worker --preload painterly.cluster.worker ADDR``.
"""

from __future__ import annotations

import logging

from ..engine.process import tune_process

log = logging.getLogger(__name__)


def dask_setup(worker: object) -> None:
    """Called by Dask when the worker starts (see Dask's preload documentation)."""
    log.info("painterly tuned Dask worker %s: %s", worker, tune_process())

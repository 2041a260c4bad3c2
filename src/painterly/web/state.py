"""What the studio's handlers share, kept on ``app.state.studio``."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

from starlette.requests import Request

from .form import FormLimits
from .guard import Access
from .jobs import JobQueue
from .store import Store


@dataclass(frozen=True)
class StreamLimits:
    """How many event streams may be open, on one job and in all."""

    per_job: int = 8
    total: int = 100


@dataclass
class Studio:
    """The store, the queue and the limits of one studio, and whether it is stopping."""

    store: Store
    jobs: JobQueue
    bounds: FormLimits
    access: Access
    streams: StreamLimits = field(default_factory=StreamLimits)
    inside_waiting: int = 2  # "See inside" drawings that may wait for the one running
    open_streams: int = 0
    inside_pending: int = 0
    uploads_pending: int = 0  # uploads between their first byte and their answer
    stopping: threading.Event = field(default_factory=threading.Event)
    inside_pool: ThreadPoolExecutor = field(
        default_factory=lambda: ThreadPoolExecutor(1, thread_name_prefix="painterly-inside")
    )
    upload_pool: ThreadPoolExecutor = field(init=False)

    def __post_init__(self) -> None:
        at_once = self.store.limits.decoding
        self.upload_pool = ThreadPoolExecutor(at_once, thread_name_prefix="painterly-upload")

    def stop(self) -> None:
        """At a stop signal: end the event streams, take no more jobs and interrupt the
        running one (it is saved, marked interrupted; the waiting ones stay queued)."""
        self.stopping.set()
        self.jobs.stop()


def studio(request: Request) -> Studio:
    found: Studio = request.app.state.studio
    return found

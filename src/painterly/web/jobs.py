"""The studio's job queue: runs one at a time (or ``workers`` at a time) in threads,
the others waiting in order; each job keeps the events a page streams.
"""

from __future__ import annotations

import base64
import inspect
import io
import logging
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import torch

from ..config.settings import Config
from ..errors import PainterlyError
from ..files import images
from ..transfer.result import Result
from ..transfer.run import Progress, run
from .refusals import Unwritable, scrub
from .store import Store

log = logging.getLogger(__name__)
PREVIEW_SIDE = 320  # longest side of the live preview
PREVIEW_EVERY = 0.4  # seconds between previews (the first and last steps always send one)
KEEP_FINISHED = 100  # finished jobs whose events stay in memory (their results stay on disk)


class QueueFull(Exception):
    """More jobs are waiting than the queue holds."""


class QueueClosed(Exception):
    """The server is stopping and takes no more jobs."""


@dataclass
class Job:
    """One submitted run and everything that happened to it; ``request`` is what the
    page sent (kept on disk while the job waits, so a restarted server can redo it)."""

    id: str
    config: Config
    content: str  # image ids, resolved by the store
    styles: list[str]
    form: dict[str, Any]
    request: dict[str, Any] = field(default_factory=dict)
    state: str = "queued"  # queued, running, done, cancelled, interrupted, failed
    events: list[dict[str, Any]] = field(default_factory=list)
    cancel: threading.Event = field(default_factory=threading.Event)
    stopped_by: str | None = None  # set when the server stops the job
    result: dict[str, Any] | None = None
    last_preview: float = 0.0
    preview_at: int = -1  # index of the event holding the latest preview
    streams: int = 0  # event streams open on it

    @property
    def finished(self) -> bool:
        return self.state in ("done", "cancelled", "interrupted", "failed")

    @property
    def image_ids(self) -> set[str]:
        ids = {self.content, *self.styles, *self.form.get("masks", {}).values()}
        keep = self.form.get("content_mask")
        return ids | {keep} if keep else ids

    def emit(self, kind: str, **data: Any) -> None:
        if "preview" in data:  # keep only the latest preview image in memory
            if self.preview_at >= 0:
                older = self.events[self.preview_at]
                # A new dict, not a deletion: a stream may be serialising the old one.
                self.events[self.preview_at] = {k: v for k, v in older.items() if k != "preview"}
            self.preview_at = len(self.events)
        self.events.append({"event": kind, **data})


class JobQueue:
    """A FIFO of jobs served by worker threads; ``limit`` jobs may wait at once.

    The jobs still to do are kept in the store after every change. :meth:`start` starts
    the workers; :meth:`stop` (at a signal) takes no more jobs and interrupts the running
    ones, which are saved marked interrupted; :meth:`join` waits for that.
    """

    def __init__(
        self,
        store: Store,
        workers: int = 1,
        limit: int = 8,
        runner: Callable[..., Result] = run,
    ) -> None:
        self.store, self.workers, self.limit, self.runner = store, workers, limit, runner
        # A runner that takes ``cancel`` (a run on a cluster) is told of a stop at once.
        self.tells_cancel = "cancel" in inspect.signature(runner).parameters
        self.jobs: dict[str, Job] = {}
        self.waiting: deque[Job] = deque()
        self.lock = threading.Condition()
        self.stopping = False
        self.threads: list[threading.Thread] = []

    def start(self) -> None:
        self.threads = [
            threading.Thread(target=self._work, name=f"painterly-worker-{i}", daemon=True)
            for i in range(self.workers)
        ]
        for thread in self.threads:
            thread.start()

    def submit(self, job: Job, restored: bool = False) -> int:
        """Queue a job; return its position (0: it starts now). A ``restored`` job (from
        the queue a stopped server kept) is taken past the limit."""
        with self.lock:
            if self.stopping:
                raise QueueClosed("the studio is stopping: start the run again after it restarts")
            if len(self.waiting) >= self.limit and not restored:
                raise QueueFull(
                    f"the queue is full ({self.limit} runs waiting): try again when one ends"
                )
            self._forget_old()
            self.jobs[job.id] = job
            self.waiting.append(job)
            position = len(self.waiting) - 1 + self._busy()
            job.emit("queued", position=position)
            self._persist()
            self.lock.notify()
            return position

    def _forget_old(self) -> None:
        finished = [key for key, job in self.jobs.items() if job.finished]
        for key in finished[: max(0, len(finished) - KEEP_FINISHED)]:
            del self.jobs[key]

    def _busy(self) -> int:
        return sum(1 for j in self.jobs.values() if j.state == "running")

    def _persist(self) -> None:
        """Keep the running and waiting jobs on disk (call with the lock held)."""
        running = [j for j in self.jobs.values() if j.state == "running"]
        self.store.save_queue([j.request for j in [*running, *self.waiting] if j.request])

    def in_use(self) -> set[str]:
        """The image ids that running and waiting jobs need."""
        with self.lock:
            return set().union(*(j.image_ids for j in self.jobs.values() if not j.finished))

    def position(self, job: Job) -> int:
        with self.lock:
            return list(self.waiting).index(job) if job in self.waiting else -1

    def cancel(self, job_id: str) -> Job | None:
        """Stop a job: a waiting one leaves the queue; a running one stops at its next
        step and keeps what it reached."""
        with self.lock:
            job = self.jobs.get(job_id)
            if job is None:
                return None
            job.cancel.set()
            if job in self.waiting:
                self.waiting.remove(job)
                job.state = "cancelled"
                job.emit("cancelled", kept=False)
                self._persist()
            return job

    def stop(self) -> None:
        """Take no more jobs and interrupt the running ones; the waiting ones stay in
        the saved queue for the next start."""
        with self.lock:
            self.stopping = True
            for job in self.jobs.values():
                if job.state == "running":
                    job.stopped_by = "the server stopped"
                    job.cancel.set()
            self.lock.notify_all()

    def join(self, timeout: float) -> bool:
        """Wait for the workers to end after :meth:`stop`; True if they all did."""
        deadline = time.monotonic() + timeout
        for thread in self.threads:
            thread.join(max(0.0, deadline - time.monotonic()))
        return not any(thread.is_alive() for thread in self.threads)

    def _work(self) -> None:
        while True:
            with self.lock:
                while not self.waiting and not self.stopping:
                    self.lock.wait()
                if self.stopping:
                    return
                job = self.waiting.popleft()
                job.state = "running"
                for waiting in self.waiting:  # everyone moves up
                    waiting.emit("queued", position=self.position(waiting) + self._busy())
            self._run(job)
            with self.lock:
                self._persist()

    def _run(self, job: Job) -> None:
        job.emit("started")
        try:
            content = self.store.image_path(job.content)
            styles = [self.store.image_path(s) for s in job.styles]
            told = {"cancel": job.cancel} if self.tells_cancel else {}
            result = self.runner(
                job.config, content, styles, progress=lambda p: _step(job, p), **told
            )
            job.result = self.store.save_run(job.id, result, job.form, job.stopped_by)
        except (PainterlyError, Unwritable) as exc:
            self._fail(job, scrub(str(exc)))
            return
        except Exception as exc:  # a bug: keep serving, say what happened
            log.exception("run %s failed", job.id)
            self._fail(job, f"internal error: {scrub(str(exc))}")
            return
        if job.stopped_by:
            job.state = "interrupted"
        else:
            job.state = "cancelled" if result.interrupted else "done"
        job.emit(job.state, kept=True, result=job.result)

    @staticmethod
    def _fail(job: Job, message: str) -> None:
        job.state = "failed"
        job.emit("failed", error=message)


def _step(job: Job, p: Progress) -> bool:
    """Turn a progress event into a page event; return False to stop a cancelled job."""
    if p.tiles is not None:  # within a tiled step: only the work moves on
        job.emit("tile", done=p.tiles[0], total=p.tiles[1], work=round(p.work, 4))
        return not job.cancel.is_set()
    now = time.monotonic()
    data: dict[str, Any] = {
        "step": p.step,
        "total": p.total,
        "scale": p.scale + 1,
        "scales": p.scales,
        "size": [p.size[1], p.size[0]],
        "losses": p.losses,
        "elapsed": round(p.elapsed, 2),
    }
    if p.work > 0:  # the later, larger sizes cost more per step: weigh by pixels
        data["eta"] = round(p.elapsed * (1 - p.work) / p.work, 1)
        data["work"] = round(p.work, 4)
    pictured = p.image.numel() > 0  # from a cluster, only some steps carry a picture
    if pictured and (p.step == 1 or p.step == p.total or now - job.last_preview >= PREVIEW_EVERY):
        data["preview"] = preview(p.image)
        job.last_preview = now
    job.emit("progress", **data)
    return not job.cancel.is_set()


def preview(image: torch.Tensor) -> str:
    """A small JPEG of the current picture as a data URL."""
    pil = images.tensor_to_pil(image.detach().cpu().clamp(0, 1))
    pil.thumbnail((PREVIEW_SIDE, PREVIEW_SIDE))
    buffer = io.BytesIO()
    pil.save(buffer, format="JPEG", quality=80)
    return "data:image/jpeg;base64," + base64.b64encode(buffer.getvalue()).decode()

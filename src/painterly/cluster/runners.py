"""Where a batch's tasks run: in this process, on a Dask ``LocalCluster`` that
painterly starts and stops, or on a Dask scheduler someone started.

All three run the same work (:meth:`painterly.cluster.task.Work.execute`: a batch's item, or
a chunk of a clip) and report the same events
(:class:`Started`, :class:`Stepped`, :class:`Lost`, :class:`Finished`) to one
handler; the caller writes the results. On Dask, at most one task per worker is in
flight, so that each runs with all of its worker's threads and the last items are not
queued behind a busy worker; a task whose worker dies is run again by Dask on another
(up to ``distributed.scheduler.allowed-failures`` deaths, then it fails).
"""

from __future__ import annotations

import logging
import os
import uuid
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any, Protocol

from ..engine.targets import FeatureCache
from ..errors import ConfigError, PainterlyError, require
from ..transfer.run import Progress
from .task import WORKER_CACHE_BYTES, Outcome, Work, run_on_worker

log = logging.getLogger(__name__)
CONNECT_TIMEOUT = 10  # seconds to reach a scheduler
WORKERS_TIMEOUT = 15  # seconds to wait for a scheduler's first worker


@dataclass(frozen=True)
class Started:
    key: str
    worker: str


@dataclass(frozen=True)
class Stepped:
    key: str
    step: Progress


@dataclass(frozen=True)
class Lost:
    """An attempt that ended without a result (its worker died, or had no weights)."""

    key: str
    worker: str
    reason: str


@dataclass(frozen=True)
class Finished:
    outcome: Outcome


Event = Started | Stepped | Lost | Finished
Handler = Callable[[Event], None]


class Runner(Protocol):
    label: str

    def run(self, tasks: Iterable[Work], handle: Handler) -> None: ...

    def close(self) -> None: ...


class InProcess:
    """One task at a time in this process, with all its threads."""

    label = "in-process"

    def __init__(self) -> None:
        self.cache = FeatureCache(max_bytes=WORKER_CACHE_BYTES)

    def run(self, tasks: Iterable[Work], handle: Handler) -> None:
        for task in tasks:
            handle(Started(task.key, "local"))
            handle(Finished(task.execute(self.cache, _stepper(task.key, handle), "local")))

    def close(self) -> None:
        self.cache = FeatureCache(max_bytes=WORKER_CACHE_BYTES)


def _stepper(key: str, handle: Handler) -> Callable[[Progress], None]:
    def step(progress: Progress) -> None:
        handle(Stepped(key, progress))

    return step


class DaskRunner:
    """Tasks on a Dask cluster through ``client``; ``cluster`` is closed with it."""

    def __init__(self, client: Any, cluster: Any = None, label: str = "") -> None:
        self.client, self.cluster = client, cluster
        self.label = label or str(client.scheduler.address)
        self.unfit: set[str] = set()  # workers without weights: no more tasks for them

    def run(self, tasks: Iterable[Work], handle: Handler) -> None:
        from distributed import wait

        todo = iter(tasks)
        running: dict[Any, Work] = {}
        attempts: dict[str, str] = {}  # item key → the worker that last started it
        try:
            while True:
                self._fill(todo, running)
                if not running:
                    break
                done = _wait(wait, list(running))
                self._announce(running, attempts, handle)
                for future in done:
                    self._settle(future, running.pop(future), attempts, running, handle)
        finally:
            self.client.cancel(list(running))

    def _announce(
        self, running: dict[Any, Work], attempts: dict[str, str], handle: Handler
    ) -> None:
        """Report the tasks the workers took since the last look; a task taken again by
        another worker lost its first attempt with its worker."""
        tasks = {future.key: task for future, task in running.items()}
        for worker, keys in self.client.processing().items():
            for task in (tasks[k] for k in keys if k in tasks):
                previous = attempts.get(task.key)
                if previous == worker:
                    continue
                if previous is not None:
                    reason = f"worker {previous} was lost while running it"
                    handle(Lost(task.key, previous, reason))
                attempts[task.key] = worker
                handle(Started(task.key, worker))

    def _fill(self, todo: Iterator[Work], running: dict[Any, Work]) -> None:
        workers = list(self.client.nthreads())
        fit = [w for w in workers if w not in self.unfit]
        while len(running) < max(1, len(fit)):
            task = next(todo, None)
            if task is None:
                return
            running[self._submit(task, fit)] = task

    def _submit(self, task: Work, fit: list[str]) -> Any:
        only = fit if self.unfit and fit else None
        key = f"painterly-{task.name}-{uuid.uuid4().hex[:8]}"
        return self.client.submit(run_on_worker, task, key=key, pure=False, workers=only)

    def _settle(
        self,
        future: Any,
        task: Work,
        attempts: dict[str, str],
        running: dict[Any, Work],
        handle: Handler,
    ) -> None:
        outcome = outcome_of(future, task)
        attempts.pop(task.key, None)
        if outcome.missing_weights and self._set_aside(outcome):
            handle(Lost(task.key, outcome.worker, f"{outcome.error} (run elsewhere)"))
            fit = [w for w in self.client.nthreads() if w not in self.unfit]
            running[self._submit(task, fit)] = task
            return
        handle(Finished(outcome))

    def _set_aside(self, outcome: Outcome) -> bool:
        """Give no more tasks to a worker without weights; ``True`` if others remain."""
        if outcome.worker not in self.unfit:
            self.unfit.add(outcome.worker)
            log.warning(
                "worker %s: %s; its items go to other workers", outcome.worker, outcome.error
            )
        return any(w not in self.unfit for w in self.client.nthreads())

    def close(self) -> None:
        self.client.close()
        if self.cluster is not None:
            # Its worker processes often outlive the nanny's 4 s of grace and are killed,
            # which the nanny logs as a warning: expected here, so not shown.
            nanny = logging.getLogger("distributed.nanny")
            level = nanny.level
            nanny.setLevel(logging.ERROR)
            try:
                self.cluster.close()
            finally:
                nanny.setLevel(level)


def _wait(wait: Any, futures: list[Any]) -> list[Any]:
    """The futures done, waiting a quarter of a second at most for the first."""
    try:
        done, _ = wait(futures, 0.25, "FIRST_COMPLETED")
    except TimeoutError:
        return []
    return list(done)


def outcome_of(future: Any, task: Work) -> Outcome:
    """A finished Dask future's outcome; a task that failed or was cancelled as an
    outcome with its error."""
    if future.status == "finished":
        result = future.result()
        assert isinstance(result, Outcome)
        return result
    if future.status == "cancelled":
        return Outcome(task.key, "", 0.0, error="cancelled on the cluster")
    exc = future.exception()
    from distributed import KilledWorker

    if isinstance(exc, KilledWorker):
        error = (
            "every worker that ran it died (distributed.scheduler.allowed-failures times): "
            "it may need more memory than a worker has"
        )
    else:
        error = f"{type(exc).__name__}: {exc}".splitlines()[0]
    return Outcome(task.key, "", 0.0, error=error)


def local_cluster(workers: int) -> DaskRunner:
    """A ``LocalCluster`` of ``workers`` processes on 127.0.0.1, each with its share
    of this machine's cores; its dashboard on a free port of 127.0.0.1."""
    distributed = _dask()
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    threads = max(1, (cores or 1) // workers)
    cluster = distributed.LocalCluster(
        n_workers=workers,
        threads_per_worker=threads,
        processes=True,
        host="127.0.0.1",
        dashboard_address="127.0.0.1:0",
        silence_logs=logging.ERROR,
        preload=["painterly.cluster.worker"],  # tunes each worker process first
    )
    client = distributed.Client(cluster)
    log.info("Dask dashboard (with bokeh installed): %s", client.dashboard_link)
    label = f"{workers} local workers × {threads} threads"
    return DaskRunner(client, cluster, label)


def connect(address: str) -> DaskRunner:
    """A client of the scheduler at ``address`` that has at least one worker."""
    distributed = _dask()
    try:
        client = distributed.Client(address, timeout=f"{CONNECT_TIMEOUT}s")
    except (OSError, ValueError) as exc:
        raise PainterlyError(
            f"cannot reach a Dask scheduler at '{address}' in {CONNECT_TIMEOUT} s ({exc}): "
            "start one with 'dask scheduler' or check the address (tcp://HOST:8786)"
        ) from None
    try:
        client.wait_for_workers(1, timeout=WORKERS_TIMEOUT)
    except (OSError, TimeoutError):
        client.close()
        raise PainterlyError(
            f"the scheduler at '{address}' has no workers after {WORKERS_TIMEOUT} s: "
            f"start one with 'dask worker {address}'"
        ) from None
    return DaskRunner(client, None, address)


def _dask() -> Any:
    return require("distributed", "--workers and --cluster need Dask", "cluster")


def check_places(workers: int | None, cluster: str | None) -> None:
    """Refuse ``workers`` with ``cluster``, and fewer than one worker, before any work."""
    if workers is not None and cluster is not None:
        raise ConfigError("give --workers or --cluster, not both")
    if workers is not None and workers < 1:
        raise ConfigError(f"--workers {workers}: give 1 or more")


def open_runner(workers: int | None, cluster: str | None) -> Runner:
    """In this process, on ``workers`` local processes, or on the scheduler ``cluster``."""
    check_places(workers, cluster)
    if cluster is not None:
        return connect(cluster)
    if workers is not None:
        return local_cluster(workers)
    return InProcess()

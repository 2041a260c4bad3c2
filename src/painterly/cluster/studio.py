"""One run on a Dask cluster, called as if it ran here: the studio's queue on a
scheduler (``painterly serve --cluster ADDR``).

:class:`ClusterRuns` is called like :func:`painterly.transfer.run.run` (a config, the photo,
the paintings, a progress callback) and returns a :class:`~painterly.transfer.result.Result`, but
the run is a :class:`~painterly.cluster.task.Task` on one of the scheduler's workers: the photo,
paintings and masks travel as bytes, the picture and record come back. Its progress
comes back through a Dask event topic (``Worker.log_event``): the numbers at most every
``NUMBERS_EVERY`` seconds, and a picture (a JPEG ``PICTURE_SIDE`` px long) at the first
step of each scale, at the last step and otherwise at most every ``PICTURE_EVERY``
seconds. Stopping a run sets a Dask ``Event`` that the worker looks at every
``STOP_EVERY`` seconds; the run then ends with the picture it reached, as here.
"""

from __future__ import annotations

import io
import threading
import time
import uuid
from pathlib import Path
from typing import Any

import torch
from PIL import Image

from ..config.settings import Config
from ..engine.loop import StepRecord
from ..errors import PainterlyError, WeightsError
from ..files import images
from ..transfer.result import Result
from ..transfer.run import Progress, ProgressFn
from .runners import DaskRunner, outcome_of
from .task import Outcome, Task, read_files, run_on_worker, ship

NUMBERS_EVERY = 0.5  # seconds between progress messages from a worker
PICTURE_EVERY = 5.0  # seconds between pictures within a scale
PICTURE_SIDE = 320
STOP_EVERY = 1.0  # seconds between a worker's looks at the stop flag
GIVE_UP = 10.0  # seconds after a stop before a run that no worker runs is dropped
NO_PICTURE = torch.empty(1, 3, 0, 0)


class Watch:
    """A worker's progress callback: sends the run's progress to ``topic`` through
    ``worker.log_event`` and stops the run once ``stop`` (a Dask ``Event``) is set."""

    def __init__(self, topic: str, key: str, stop: Any, worker: Any) -> None:
        self.topic, self.key, self.worker = topic, key, worker
        self.stop, self.stopped = stop, False
        self.sent = self.pictured = self.looked = -float("inf")
        self.scale = -1

    def __call__(self, p: Progress) -> bool:
        now = time.monotonic()
        if now - self.looked >= STOP_EVERY:
            self.looked = now
            self.stopped = self.stopped or self._stop_set()
        picture = p.tiles is None and (
            p.scale != self.scale or p.step == p.total or now - self.pictured >= PICTURE_EVERY
        )
        if picture or now - self.sent >= NUMBERS_EVERY:
            self.worker.log_event(self.topic, self._message(p, picture))
            self.sent, self.scale = now, p.scale
            self.pictured = now if picture else self.pictured
        return not self.stopped

    def _stop_set(self) -> bool:
        try:
            return bool(self.stop.is_set())
        except (OSError, TimeoutError):  # the scheduler did not answer: go on
            return False

    def _message(self, p: Progress, picture: bool) -> dict[str, Any]:
        message = {
            "key": self.key,
            "step": p.step,
            "total": p.total,
            "scale": p.scale,
            "scales": p.scales,
            "size": list(p.size),
            "losses": p.losses,
            "elapsed": p.elapsed,
            "work": p.work,
            "tiles": list(p.tiles) if p.tiles else None,
        }
        if picture:
            message["picture"] = _jpeg(p.image)
        return message


def _jpeg(image: torch.Tensor) -> bytes:
    pil = images.tensor_to_pil(image.detach().cpu().clamp(0, 1))
    pil.thumbnail((PICTURE_SIDE, PICTURE_SIDE))
    buffer = io.BytesIO()
    pil.save(buffer, format="JPEG", quality=90)
    return buffer.getvalue()


def run_watched(task: Task, topic: str, stop: str) -> Outcome:
    """The Dask task: :func:`~painterly.cluster.task.run_on_worker`, watched; ``stop`` names
    the run's Dask ``Event``."""
    from distributed import Event

    def watch(worker: Any) -> Watch:
        return Watch(topic, task.key, Event(stop), worker)  # type: ignore[no-untyped-call]

    return run_on_worker(task, watch)


def progress_of(message: dict[str, Any]) -> Progress:
    """A worker's message as the progress a local run would give (its picture is
    small, and empty between pictures)."""
    picture = NO_PICTURE
    if message.get("picture"):
        with Image.open(io.BytesIO(message["picture"])) as img:
            picture = images.pil_to_tensor(img.convert("RGB"))
    tiles = message.get("tiles")
    return Progress(
        step=message["step"],
        total=message["total"],
        scale=message["scale"],
        scales=message["scales"],
        size=(message["size"][0], message["size"][1]),
        losses=dict(message["losses"]),
        elapsed=message["elapsed"],
        work=message["work"],
        image=picture,
        tiles=(tiles[0], tiles[1]) if tiles else None,
    )


class ClusterRuns:
    """Runs on the Dask cluster of ``runner`` (from :func:`painterly.cluster.runners.connect`),
    called as :func:`painterly.transfer.run.run` is; ``cancel`` stops a run."""

    def __init__(self, runner: DaskRunner) -> None:
        self.runner, self.client = runner, runner.client
        self.topic = f"painterly-studio-{uuid.uuid4().hex[:12]}"
        self.watchers: dict[str, ProgressFn] = {}
        self.stopping: set[str] = set()
        self.client.subscribe_topic(self.topic, self._heard)

    @property
    def workers(self) -> int:
        return len(self.client.nthreads())

    def __call__(
        self,
        config: Config,
        content: str | Path,
        styles: list[str] | list[Path],
        progress: ProgressFn | None = None,
        cancel: threading.Event | None = None,
    ) -> Result:
        from distributed import Event

        task = _task(config, Path(content), [Path(s) for s in styles])
        stop = Event(f"{self.topic}-{task.key}", client=self.client)  # type: ignore[no-untyped-call]
        if progress is not None:
            self.watchers[task.key] = progress
        future = self.client.submit(
            run_watched, task, self.topic, stop.name, key=f"painterly-studio-{task.key}", pure=False
        )
        try:
            outcome = self._wait(future, task, stop, cancel or threading.Event())
        finally:
            self.watchers.pop(task.key, None)
            self.stopping.discard(task.key)
            future.release()  # else a lost worker's finished run would be computed again
        return _result(outcome, config)

    def _wait(self, future: Any, task: Task, stop: Any, cancel: threading.Event) -> Outcome:
        """The run's outcome; once stopped, the picture it reached, or an error if no
        worker is running it ``GIVE_UP`` seconds after the stop."""
        from distributed import wait

        stopped_at: float | None = None
        try:
            while True:
                try:
                    wait(future, timeout=0.25)  # type: ignore[no-untyped-call]
                    return outcome_of(future, task)
                except TimeoutError:
                    pass
                if stopped_at is None and (cancel.is_set() or task.key in self.stopping):
                    stop.set()
                    stopped_at = time.monotonic()
                late = stopped_at is not None and time.monotonic() - stopped_at > GIVE_UP
                if late and not self._running(future.key):
                    future.cancel()
                    raise PainterlyError("stopped: no worker of the cluster was running it")
        finally:
            if stopped_at is not None:
                stop.clear()

    def _running(self, key: str) -> bool:
        """Whether a worker is running the task ``key`` now."""
        return any(key in keys for keys in self.client.processing().values())

    def _heard(self, event: tuple[float, dict[str, Any]]) -> None:
        """A worker's progress message (on the client's event loop)."""
        message = event[1]
        watcher = self.watchers.get(message.get("key", ""))
        if watcher is not None and watcher(progress_of(message)) is False:
            self.stopping.add(message["key"])

    def close(self) -> None:
        self.client.unsubscribe_topic(self.topic)
        self.runner.close()


def _task(config: Config, content: Path, styles: list[Path]) -> Task:
    key = uuid.uuid4().hex
    return Task(
        key,
        key,
        config,
        ship(content),
        tuple(ship(s) for s in styles),
        read_files(config),
        history=True,
        keep_stopped=True,
    )


def _result(outcome: Outcome, config: Config) -> Result:
    """The worker's picture and record as a local run's result."""
    if not outcome.ok or outcome.image is None or outcome.record is None:
        error = outcome.error or "no picture came back"
        raise (WeightsError if outcome.missing_weights else PainterlyError)(
            f"on worker {outcome.worker}: {error}"
        )
    record = outcome.record
    with Image.open(io.BytesIO(outcome.image)) as img:
        image = images.pil_to_tensor(img.convert("RGB"))
    return Result(
        image=image,
        history=[StepRecord.from_dict(h) for h in record.get("history", [])],
        config=config,
        seed=record["seed"],
        weights=record["weights"],
        elapsed=record["seconds"],
        interrupted=record["interrupted"],
        device=f"{record['device']} on Dask worker {outcome.worker.split('://')[-1]}",
        precision=record["precision"],
        memory=record.get("memory", {}),
    )

"""The studio's runs on a Dask scheduler (``painterly serve --cluster``): progress and
pictures come back through Dask's event topic, coarser than in-process; a stop reaches
the worker; a job sent over HTTP runs on a worker started by hand and its image is
served; an unreachable scheduler is one line and exit 2 before the server starts."""

from __future__ import annotations

import http.client
import io
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import msgpack
import pytest
import torch
from PIL import Image

from dask_procs import Cluster, listening, stop, wait_for
from helpers import SRC, free_port
from painterly.cli import main
from painterly.cluster import studio
from painterly.cluster.studio import Watch, progress_of
from painterly.transfer.run import Progress
from studio_http import BUNDLE, Studio


class Worker:
    def __init__(self) -> None:
        self.sent: list[tuple[str, dict[str, Any]]] = []

    def log_event(self, topic: str, message: dict[str, Any]) -> None:
        self.sent.append((topic, message))


class Flag:
    def __init__(self) -> None:
        self.up = False

    def is_set(self) -> bool:
        return self.up


def _step(step: int, scale: int, total: int = 10) -> Progress:
    size = (24, 32) if scale == 0 else (48, 64)
    losses = {"style": 1.0 / step, "content": 2.0}
    image = torch.rand(1, 3, *size)
    return Progress(step, total, scale, 2, size, losses, 0.1 * step, step / total, image)


def test_watch_sends_numbers_now_and_then_and_a_picture_per_scale(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    worker, flag = Worker(), Flag()
    watch = Watch("topic", "key", flag, worker)
    assert all(watch(_step(s, 0)) for s in (1, 2, 3))  # quicker than NUMBERS_EVERY
    assert [m["step"] for _, m in worker.sent] == [1]
    assert watch(_step(4, 1))  # a new scale: sent at once, with its picture
    assert watch(_step(10, 1))  # the last step
    steps = [(m["step"], "picture" in m) for _, m in worker.sent]
    assert steps == [(1, True), (4, True), (10, True)]
    assert {topic for topic, _ in worker.sent} == {"topic"}
    for _, message in worker.sent:
        msgpack.packb(message)  # what Dask's log_event needs
    monkeypatch.setattr(studio, "NUMBERS_EVERY", 0.0)
    assert watch(_step(5, 1))
    assert "picture" not in worker.sent[-1][1]
    flag.up = True
    assert watch(_step(6, 1))  # the flag is looked at once a second only
    watch.looked = time.monotonic() - studio.STOP_EVERY
    assert watch(_step(7, 1)) is False and watch(_step(8, 1)) is False


def test_a_workers_message_reads_back_as_a_local_progress() -> None:
    worker = Worker()
    sent = _step(4, 1)
    Watch("topic", "key", Flag(), worker)(sent)
    message = msgpack.unpackb(msgpack.packb(worker.sent[0][1]))
    got = progress_of(message)
    assert (got.step, got.total, got.scale, got.scales) == (4, 10, 1, 2)
    assert got.size == (48, 64) and got.losses == sent.losses and got.tiles is None
    assert got.image.shape == (1, 3, 48, 64)
    assert (got.image - sent.image).abs().mean() < 0.2  # a JPEG of the same noise
    del message["picture"]
    assert progress_of(message).image.numel() == 0  # no picture with this step


# --- a scheduler and a worker started by hand, and the studio on them -----------------


def _events(studio: Studio, job_id: str, until: str | None = None) -> list[dict[str, Any]]:
    """A job's events, read as they come, up to the first named ``until`` (or the end)."""
    connection = http.client.HTTPConnection("127.0.0.1", studio.port, timeout=600)
    host = {"Host": f"127.0.0.1:{studio.port}"}
    connection.request("GET", f"/api/jobs/{job_id}/events", headers=host)
    response = connection.getresponse()
    assert response.status == 200
    events, name = [], ""
    try:
        for raw in iter(response.readline, b""):
            line = raw.decode().rstrip("\n")
            if line.startswith("event: "):
                name = line[7:]
            elif line.startswith("data: "):
                events.append({"event": name, **json.loads(line[6:])})
                if name == until:
                    break
    finally:
        connection.close()
    return events


def _studio(cluster: Cluster, results: Path) -> tuple[subprocess.Popen[bytes], Studio]:
    port = free_port()
    argv = ["serve", "--cluster", cluster.address, "--port", str(port)]
    argv += ["--results", str(results)]
    env = {**os.environ, "PYTHONPATH": str(SRC)}
    log = (results.parent / "serve.log").open("wb")
    proc = subprocess.Popen([sys.executable, "-m", "painterly", *argv], env=env, stdout=log)
    studio = Studio(port, results, None)
    deadline = time.monotonic() + 120
    while True:
        assert proc.poll() is None, (results.parent / "serve.log").read_text()
        assert time.monotonic() < deadline, "the studio did not start"
        try:
            if studio.request("GET", "/api/options").status == 200:
                return proc, studio
        except OSError:
            time.sleep(0.5)


@pytest.mark.cluster
@pytest.mark.subprocess
def test_studio_on_a_scheduler_runs_jobs_sent_over_http_and_serves_their_images(
    tmp_path: Path, cluster: Cluster
) -> None:
    worker = cluster.worker()
    wait_for(cluster.address, 1)
    proc, studio = _studio(cluster, tmp_path / "results")
    try:
        assert listening([*cluster.procs, proc]) == {"127.0.0.1"}
        params = {"size": 64, "iterations": 6, "scales": 2, "seed": 0}
        job = studio.request("POST", "/api/jobs", {**BUNDLE, "params": params}).json()["id"]
        events = _events(studio, job)
        assert events[-1]["event"] == "done", events[-1]
        steps = [e for e in events if e["event"] == "progress"]
        assert steps[-1]["step"] == 6 and steps[-1]["scale"] == steps[-1]["scales"]
        pictures = [e for e in steps if "preview" in e]
        assert pictures and pictures[-1]["preview"].startswith("data:image/jpeg;base64,")
        image = studio.request("GET", f"/api/results/{job}/image.png")
        assert image.status == 200
        assert Image.open(io.BytesIO(image.body)).size == (64, 48)
        record = studio.request("GET", f"/api/results/{job}/record.json").json()
        assert record["steps"] == 6 and record["device"].endswith(worker.split("://")[1])
        assert not record["interrupted"]

        params = {"size": 64, "iterations": 3000, "scales": 1, "seed": 0}
        long = studio.request("POST", "/api/jobs", {**BUNDLE, "params": params}).json()["id"]
        _events(studio, long, until="progress")  # it runs on the worker
        assert studio.request("POST", f"/api/jobs/{long}/cancel", {}).status == 200
        end = _events(studio, long)[-1]
        assert end["event"] == "cancelled" and end["kept"], end
        record = studio.request("GET", f"/api/results/{long}/record.json").json()
        assert record["interrupted"] and 1 <= record["steps"] < 3000

        os.kill(cluster.workers[worker].pid, signal.SIGKILL)  # no worker left
        orphan = studio.request("POST", "/api/jobs", {**BUNDLE, "params": params}).json()["id"]
        _events(studio, orphan, until="started")
        assert studio.request("POST", f"/api/jobs/{orphan}/cancel", {}).status == 200
        end = _events(studio, orphan)[-1]
        assert end["event"] == "failed" and "no worker" in end["error"], end
    finally:
        stop([proc])
    assert proc.returncode == 0


@pytest.mark.cluster  # it waits out Dask's connect timeout
def test_unreachable_scheduler_is_one_line_and_exit_2_before_the_server_starts(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    results = tmp_path / "results"
    address = f"tcp://127.0.0.1:{free_port()}"  # nothing listens there
    started = time.monotonic()
    argv = ["serve", "--cluster", address, "--port", str(free_port()), "--results", str(results)]
    assert main(argv) == 2
    assert time.monotonic() - started < 30
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and address in err and "dask scheduler" in err
    assert not results.exists()

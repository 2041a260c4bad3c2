"""``painterly serve`` stopped by a signal in the middle of a run, then started again:
the running picture is kept (marked interrupted), the waiting runs are done after the
restart, and the server exits promptly even with an event stream open."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("starlette", reason="the studio needs painterly[web]")

from helpers import free_port
from studio_http import BUNDLE, TINY

pytestmark = pytest.mark.subprocess

LONG = {"size": 64, "iterations": 3000, "seed": 0}
EXIT_BOUND = 20  # seconds: a server that takes longer has hung (it used to take 40+)


class Server:
    """``painterly serve`` in its own process on 127.0.0.1."""

    def __init__(self, results: Path, port: int) -> None:
        self.base = f"http://127.0.0.1:{port}"
        command = [sys.executable, "-m", "painterly", "serve", "--port", str(port)]
        self.process = subprocess.Popen(
            [*command, "--results", str(results)],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        deadline = time.monotonic() + 60
        while True:
            try:
                self.get("/api/options")
                return
            except OSError:
                assert self.process.poll() is None, self.process.communicate()[0]
                assert time.monotonic() < deadline, "the server did not start"
                time.sleep(0.2)

    def get(self, path: str, headers: dict[str, str] | None = None) -> Any:
        request = urllib.request.Request(self.base + path, headers=headers or {})
        with urllib.request.urlopen(request, timeout=60) as response:
            return json.loads(response.read())

    def submit(self, params: dict[str, Any]) -> str:
        data = json.dumps({**BUNDLE, "params": params}).encode()
        request = urllib.request.Request(
            self.base + "/api/jobs", data, {"content-type": "application/json"}
        )
        with urllib.request.urlopen(request, timeout=60) as response:
            return str(json.loads(response.read())["id"])

    def events(self, job_id: str, seen: list[str], last_id: str | None = None) -> None:
        """Append a job's event names to ``seen`` until its stream ends."""
        headers = {"last-event-id": last_id} if last_id else {}
        request = urllib.request.Request(f"{self.base}/api/jobs/{job_id}/events", headers=headers)
        try:
            with urllib.request.urlopen(request, timeout=120) as stream:
                for raw in stream:
                    if raw.startswith(b"event: "):
                        seen.append(raw[7:].decode().strip())
        except (OSError, urllib.error.URLError):
            seen.append("<connection lost>")

    def stop(self, sig: int) -> tuple[int, float, str]:
        """Send ``sig``; return the exit status, the seconds it took, and the output."""
        started = time.monotonic()
        self.process.send_signal(sig)
        try:
            output, _ = self.process.communicate(timeout=EXIT_BOUND)
        except subprocess.TimeoutExpired:
            self.process.kill()
            output, _ = self.process.communicate()
            pytest.fail(f"the server did not exit within {EXIT_BOUND} s: {output}")
        return self.process.returncode, time.monotonic() - started, output


@pytest.fixture
def servers() -> Iterator[list[Server]]:
    started: list[Server] = []
    yield started
    for server in started:
        if server.process.poll() is None:
            server.process.kill()
            server.process.wait()


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_a_stopped_server_keeps_the_running_picture_and_the_queue(
    tmp_path: Path, servers: list[Server], sig: int
) -> None:
    results, port = tmp_path / "results", free_port()
    first = Server(results, port)
    servers.append(first)
    running = first.submit(LONG)
    seen: list[str] = []
    follower = threading.Thread(target=first.events, args=(running, seen))
    follower.start()  # a page following the run: its stream stays open until the stop
    deadline = time.monotonic() + 120
    while seen.count("progress") < 2:
        assert time.monotonic() < deadline, seen
        time.sleep(0.1)
    waiting = [first.submit(TINY), first.submit(TINY)]
    status, _, output = first.stop(sig)
    follower.join(timeout=10)
    assert status == 0 and "Traceback" not in output and "terminate" not in output
    assert "2 run(s) kept" in output
    assert seen[-1] == "interrupted"
    record = json.loads((results / "runs" / running / "record.json").read_text())
    assert record["interrupted"] is True and record["stopped_by"] == "the server stopped"
    assert [entry["id"] for entry in json.loads((results / "queue.json").read_text())] == waiting

    again = Server(results, port)
    servers.append(again)
    endings = []
    for job_id in waiting:  # a page reconnecting with the id it last saw before the stop
        events: list[str] = []
        again.events(job_id, events, last_id="3")
        endings.append(events[-1])
    assert endings == ["done", "done"]
    gallery = {run["id"]: run for run in again.get("/api/results")}
    assert set(gallery) == {running, *waiting}
    assert gallery[running]["interrupted"] and gallery[running]["stopped_by"]
    status, _, output = again.stop(signal.SIGINT)
    assert status == 0 and "0 run(s) kept" in output
    assert json.loads((results / "queue.json").read_text()) == []

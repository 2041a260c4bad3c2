"""A real studio for the tests: uvicorn on 127.0.0.1 in a thread, and a raw HTTP
client that sends the Host, Origin and token an attacker would."""

from __future__ import annotations

import http.client
import io
import json
import random
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from PIL import Image

from helpers import free_port
from painterly.errors import ImageError
from painterly.web.app import create_app
from painterly.web.guard import Access
from painterly.web.server import ServerLimits, StudioServer, make_server

TINY = {"size": 48, "iterations": 3, "seed": 0}
BUNDLE = {"content": "b-tubingen.jpg", "styles": ["b-starry_night.jpg"]}


@dataclass
class Answer:
    status: int
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


@dataclass
class Studio:
    """A running studio: its port, results folder and app."""

    port: int
    results: Path
    app: Any

    def request(
        self,
        method: str,
        path: str,
        body: bytes | dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
    ) -> Answer:
        sent = {"Host": f"127.0.0.1:{self.port}"}
        if isinstance(body, dict):
            body = json.dumps(body).encode()
            sent["Content-Type"] = "application/json"
        sent.update(headers or {})
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=60)
        try:
            connection.request(method, path, body=body, headers=sent)
            response = connection.getresponse()
            return Answer(response.status, dict(response.getheaders()), response.read())
        finally:
            connection.close()

    def upload(self, data: bytes, headers: dict[str, str] | None = None) -> Answer:
        boundary = "painterlyboundary"
        body = (
            (
                f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="a"\r\n'
                f"Content-Type: application/octet-stream\r\n\r\n"
            ).encode()
            + data
            + f"\r\n--{boundary}--\r\n".encode()
        )
        kind = {"Content-Type": f"multipart/form-data; boundary={boundary}"}
        return self.request("POST", "/api/uploads", body, {**kind, **(headers or {})})

    def events(self, job_id: str, headers: dict[str, str] | None = None) -> list[str]:
        """The event names of a job's stream, read to its end."""
        answer = self.request("GET", f"/api/jobs/{job_id}/events", headers=headers)
        assert answer.status == 200, answer.body
        return [
            line[7:] for line in answer.body.decode().splitlines() if line.startswith("event: ")
        ]


class Servers:
    """Studios on free ports, each in its own thread; :meth:`close` stops them all."""

    def __init__(self, tmp_path: Path) -> None:
        self.tmp_path = tmp_path
        self.running: list[tuple[StudioServer, threading.Thread]] = []

    def start(self, server: ServerLimits | None = None, **options: Any) -> Studio:
        """A studio made by ``create_app(**options)`` under ``server`` limits."""
        access = options.setdefault("access", Access(port=free_port()))
        results = options.pop("results", self.tmp_path / "results")
        app = create_app(results, **options)
        instance = make_server(app, "127.0.0.1", access.port, server)
        thread = threading.Thread(target=instance.run, daemon=True)
        thread.start()
        deadline = time.monotonic() + 30
        while not instance.started:
            assert time.monotonic() < deadline and thread.is_alive(), "the server did not start"
            time.sleep(0.05)
        self.running.append((instance, thread))
        return Studio(access.port, results, app)

    def close(self) -> None:
        for instance, thread in self.running:
            instance.should_exit = True
            thread.join(timeout=30)
            assert not thread.is_alive()


def png(size: tuple[int, int] = (40, 30), mode: str = "RGB") -> bytes:
    """A PNG of one colour: orange, or black in a mode other than RGB."""
    buffer = io.BytesIO()
    Image.new(mode, size, "orange" if mode == "RGB" else 0).save(buffer, format="PNG")
    return buffer.getvalue()


def noise_png(seed: int) -> bytes:
    """A 16×16 PNG of noise: about 850 bytes, different for every seed."""
    pixels = random.Random(seed).randbytes(16 * 16 * 3)
    buffer = io.BytesIO()
    Image.frombytes("RGB", (16, 16), pixels).save(buffer, format="PNG")
    return buffer.getvalue()


class Gate:
    """A fake runner that holds each run until released (real runs are too quick or
    too slow to hold a queue in place)."""

    def __init__(self) -> None:
        self.open = threading.Event()
        self.started = threading.Event()

    def __call__(self, cfg: Any, content: Any, styles: Any, progress: Any) -> Any:
        self.started.set()
        self.open.wait(30)
        raise ImageError("the gate closed")  # ends the job, saves nothing

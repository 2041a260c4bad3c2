"""The studio through real HTTP: a uvicorn server on 127.0.0.1, started and stopped by
each test, spoken to with raw requests (Host, Origin and token as an attacker would)."""

from __future__ import annotations

import errno
import http.client
import io
import json
import os
import random
import socket
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

pytest.importorskip("starlette", reason="the studio needs painterly[web]")

from painterly import images
from painterly.cli import main
from painterly.errors import ImageError
from painterly.samples import bundled
from painterly.web import inside as inside_module
from painterly.web import store as store_module
from painterly.web.app import create_app
from painterly.web.guard import Access
from painterly.web.jobs import JobQueue
from painterly.web.server import ServerLimits, make_server
from painterly.web.state import StreamLimits
from painterly.web.store import Limits, Store

TINY = {"size": 48, "iterations": 3, "seed": 0}
BUNDLE = {"content": "b-tubingen.jpg", "styles": ["b-starry_night.jpg"]}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


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


@pytest.fixture
def serve(tmp_path: Path) -> Iterator[Callable[..., Studio]]:
    """``serve(**create_app options, server=ServerLimits)``: a studio on a free port."""
    servers: list[tuple[Any, threading.Thread]] = []

    def start(server: ServerLimits | None = None, **options: Any) -> Studio:
        access = options.setdefault("access", Access(port=free_port()))
        port = access.port
        results = options.pop("results", tmp_path / "results")
        app = create_app(results, **options)
        instance = make_server(app, "127.0.0.1", port, server)
        thread = threading.Thread(target=instance.run, daemon=True)
        thread.start()
        deadline = time.monotonic() + 30
        while not instance.started:
            assert time.monotonic() < deadline and thread.is_alive(), "the server did not start"
            time.sleep(0.05)
        servers.append((instance, thread))
        return Studio(port, results, app)

    yield start
    for instance, thread in servers:
        instance.should_exit = True
        thread.join(timeout=30)
        assert not thread.is_alive()


def png(size: tuple[int, int] = (40, 30), colour: str = "orange") -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", size, colour).save(buffer, format="PNG")
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


# --- 1. cross-site requests ------------------------------------------------------


def test_cross_site_requests_are_refused(serve: Callable[..., Studio]) -> None:
    studio = serve()
    evil = {"Origin": "http://evil.example", "Content-Type": "text/plain"}
    body = json.dumps({**BUNDLE, "params": TINY}).encode()
    for answer in (
        studio.request("POST", "/api/jobs", body, evil),
        studio.upload(png(), {"Origin": "http://evil.example"}),
        studio.request("POST", "/api/jobs/r-0000000000000-000000/cancel", b"", evil),
        studio.request("POST", "/api/jobs", body, {"Referer": "http://evil.example/page"}),
        studio.request("POST", "/api/jobs", body, {"Origin": "null"}),
    ):
        assert answer.status == 403 and "may not change this studio" in answer.json()["error"]
    assert not list((studio.results / "uploads").iterdir())
    own = {"Origin": f"http://127.0.0.1:{studio.port}", "Content-Type": "text/plain"}
    plain = studio.request("POST", "/api/jobs", body, own)
    assert plain.status == 415 and "application/json" in plain.json()["error"]
    good = studio.request(
        "POST", "/api/jobs", {**BUNDLE, "params": TINY}, {"Origin": own["Origin"]}
    )
    assert good.status == 202
    assert studio.events(good.json()["id"])[-1] == "done"


# --- 2. DNS rebinding ------------------------------------------------------------


def test_only_the_studios_own_host_is_answered(serve: Callable[..., Studio]) -> None:
    studio = serve()
    for path in ("/", "/api/results", "/api/images/b-tubingen.jpg", "/api/options"):
        answer = studio.request("GET", path, headers={"Host": "rebind.attacker.example"})
        assert answer.status == 421 and "rebind" in answer.json()["error"]
    other_port = studio.request("GET", "/", headers={"Host": "127.0.0.1:1"})
    assert other_port.status == 421
    for host in ("127.0.0.1", "localhost", "[::1]"):
        answer = studio.request("GET", "/api/options", headers={"Host": f"{host}:{studio.port}"})
        assert answer.status == 200


def test_records_served_over_http_show_no_server_path(
    serve: Callable[..., Studio], tmp_path: Path
) -> None:
    studio = serve()
    run = {**BUNDLE, "params": TINY, "content_mask": "b-tubingen_sky.png"}
    run["masks"] = {"0": "b-tubingen_sky.png"}
    job_id = studio.request("POST", "/api/jobs", run).json()["id"]
    assert studio.events(job_id)[-1] == "done"
    on_disk = (studio.results / "runs" / job_id / "record.json").read_text()
    served = studio.request("GET", f"/api/results/{job_id}/record.json").body.decode()
    package = str(bundled("tubingen.jpg").parent)
    assert package in on_disk  # the file keeps the paths; the server does not show them
    for secret in (str(tmp_path), package, str(Path.home())):
        assert secret not in served
    assert json.loads(served)["config"]["content_mask"] == "tubingen_sky.png"


# --- 3. exposure: token and headers ---------------------------------------------


def test_a_token_guards_every_request(serve: Callable[..., Studio]) -> None:
    port = free_port()
    studio = serve(access=Access(port=port, token="correct-horse"))
    for path in ("/", "/api/results", "/static/app.js", "/?token=wrong-horse"):
        answer = studio.request("GET", path)
        assert answer.status == 401 and "token" in answer.json()["error"]
    bearer = studio.request(
        "GET", "/api/results", headers={"Authorization": "Bearer correct-horse"}
    )
    assert bearer.status == 200
    opened = studio.request("GET", "/?token=correct-horse")
    assert opened.status == 303 and opened.headers["location"] == "/"
    cookie = opened.headers["set-cookie"]
    assert "HttpOnly" in cookie and "SameSite=Strict" in cookie
    page = studio.request("GET", "/", headers={"Cookie": cookie.split(";")[0]})
    assert page.status == 200 and b"painterly studio" in page.body


def test_every_answer_carries_the_security_headers(serve: Callable[..., Studio]) -> None:
    studio = serve()
    for path in ("/", "/static/app.js", "/api/options", "/api/images/nope"):
        headers = {k.lower(): v for k, v in studio.request("GET", path).headers.items()}
        csp = headers["content-security-policy"]
        assert "script-src 'self'" in csp and "style-src 'self'" in csp and "unsafe" not in csp
        assert headers["x-content-type-options"] == "nosniff"
        assert headers["x-frame-options"] == "DENY"


def test_a_non_loopback_address_gets_a_token_printed(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    started: list[Any] = []

    class Idle:
        def __init__(self, app: Any, host: str, port: int) -> None:
            started.append(app)

        def run(self) -> None:
            return None

    monkeypatch.setattr("painterly.web.server.make_server", Idle)
    monkeypatch.delenv("PAINTERLY_TOKEN", raising=False)
    argv = ["serve", "--host", "0.0.0.0", "--port", "8765", "--results", str(tmp_path / "r")]
    assert main(argv) == 0
    out = capsys.readouterr().out
    token = started[0].state.studio.access.token
    assert token and f"http://127.0.0.1:8765/?token={token}" in out
    monkeypatch.setenv("PAINTERLY_TOKEN", "from-the-environment")
    assert main(argv) == 0
    assert started[1].state.studio.access.token == "from-the-environment"
    assert main([*argv[:-2], "--host", "127.0.0.1", "--results", str(tmp_path / "r")]) == 0
    assert started[2].state.studio.access.token == "from-the-environment"
    monkeypatch.delenv("PAINTERLY_TOKEN")
    assert main(["serve", "--port", "8765", "--results", str(tmp_path / "r")]) == 0
    assert started[3].state.studio.access.token is None  # loopback: no token needed


# --- 4. resource limits ----------------------------------------------------------


def test_slow_heads_and_bodies_are_cut_off(serve: Callable[..., Studio]) -> None:
    studio = serve(server=ServerLimits(head_timeout=1.0))
    slow = [socket.create_connection(("127.0.0.1", studio.port)) for _ in range(5)]
    for s in slow:
        s.sendall(b"GET /api/options HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ")
        s.settimeout(15)
    assert studio.request("GET", "/api/options").status == 200  # still answering
    for s in slow:
        assert s.recv(100) == b""  # closed by the server
        s.close()


def test_a_trickling_upload_gets_408(serve: Callable[..., Studio]) -> None:
    port = free_port()
    studio = serve(access=Access(port=port, body_timeout=1.0))
    s = socket.create_connection(("127.0.0.1", studio.port))
    s.settimeout(15)
    s.sendall(
        f"POST /api/uploads HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Length: 5000\r\n"
        "Content-Type: multipart/form-data; boundary=x\r\n\r\n--x\r\n".encode()
    )
    answer = b""
    while chunk := s.recv(4096):
        answer += chunk
    s.close()
    assert answer.startswith(b"HTTP/1.1 408") and b"did not arrive within 1 s" in answer


def test_connections_beyond_the_limit_get_503(serve: Callable[..., Studio]) -> None:
    studio = serve(server=ServerLimits(max_connections=4))
    idle = [socket.create_connection(("127.0.0.1", studio.port)) for _ in range(4)]
    time.sleep(0.3)  # let the server accept them
    assert studio.request("GET", "/api/options").status == 503
    for s in idle:
        s.close()
    time.sleep(0.3)
    assert studio.request("GET", "/api/options").status == 200


def test_event_streams_are_capped(serve: Callable[..., Studio], tmp_path: Path) -> None:
    gate = Gate()
    queue = JobQueue(Store(tmp_path / "results"), runner=gate)
    studio = serve(queue=queue, streams=StreamLimits(per_job=2, total=3))
    first = studio.request("POST", "/api/jobs", {**BUNDLE, "params": TINY}).json()["id"]
    second = studio.request("POST", "/api/jobs", {**BUNDLE, "params": TINY}).json()["id"]
    opened = []

    def follow(job_id: str) -> None:
        s = socket.create_connection(("127.0.0.1", studio.port))
        head = f"GET /api/jobs/{job_id}/events HTTP/1.1\r\nHost: 127.0.0.1:{studio.port}\r\n\r\n"
        s.sendall(head.encode())
        assert s.recv(100).startswith(b"HTTP/1.1 200")
        opened.append(s)

    follow(first)
    follow(first)
    per_job = studio.request("GET", f"/api/jobs/{first}/events")
    assert per_job.status == 429 and "follow this run" in per_job.json()["error"]
    follow(second)
    overall = studio.request("GET", f"/api/jobs/{second}/events")
    assert overall.status == 429 and "event streams are open" in overall.json()["error"]
    for s in opened:
        s.close()
    gate.open.set()
    deadline = time.monotonic() + 10
    while studio.app.state.studio.open_streams:
        assert time.monotonic() < deadline
        time.sleep(0.1)
    assert studio.request("GET", f"/api/jobs/{second}/events").status == 200


def test_see_inside_waits_its_turn_or_gets_429(
    serve: Callable[..., Studio], monkeypatch: pytest.MonkeyPatch
) -> None:
    release, calls = threading.Event(), []

    def slow_draw(kind: str, path: str, layer: str) -> bytes:
        calls.append(kind)
        release.wait(30)
        return png()

    monkeypatch.setattr(inside_module, "draw", slow_draw)
    studio = serve()
    answers: list[int] = []

    def ask(layer: str) -> None:
        path = f"/api/inside/gram?image=b-tubingen.jpg&layer={layer}"
        answers.append(studio.request("GET", path).status)

    threads = [threading.Thread(target=ask, args=(f"block1_conv{i % 2 + 1}",)) for i in range(3)]
    threads += [threading.Thread(target=ask, args=(f"block2_conv{i + 1}",)) for i in range(2)]
    for t in threads:
        t.start()
        time.sleep(0.2)
    assert answers == [429, 429] and calls == ["gram"]  # one drawing, two waiting
    release.set()
    for t in threads:
        t.join()
    assert sorted(answers) == [200, 200, 200, 429, 429] and len(calls) == 3
    ask("block1_conv1")
    assert answers[-1] == 200 and len(calls) == 3  # drawn before: from the cache


def test_uploads_are_stored_once_and_kept_within_their_room(
    serve: Callable[..., Studio], tmp_path: Path
) -> None:
    a, b, c, d = (noise_png(seed) for seed in range(4))
    room = Limits(max_total_bytes=len(a) * 5 // 2)  # two fit, not three
    gate = Gate()
    studio = serve(queue=JobQueue(Store(tmp_path / "results", room), runner=gate), limits=room)
    uploads = studio.results / "uploads"

    def kept() -> set[str]:
        return {p.name for p in uploads.iterdir()}

    first = studio.upload(a).json()["id"]
    assert studio.upload(a).json()["id"] == first and kept() == {first}  # stored once
    waiting = studio.request("POST", "/api/jobs", {**BUNDLE, "content": first, "params": TINY})
    assert waiting.status == 202 and gate.started.wait(10)
    second = studio.upload(b).json()["id"]
    third = studio.upload(c).json()["id"]  # no room for three: the oldest unused goes
    assert kept() == {first, third} and second != first
    full = studio.upload(d)  # the one left is needed by the running job
    assert full.status == 201 and kept() == {first, studio.upload(d).json()["id"]}
    assert studio.upload(png((300, 300)) + os.urandom(4000)).status == 413  # over the room
    gate.open.set()
    studio.events(waiting.json()["id"])
    studio.upload(b)  # the run has ended: its photo may go now
    assert first not in kept()


# --- 6. errors inside the server ------------------------------------------------


def test_hostile_input_gets_4xx_naming_the_field(serve: Callable[..., Studio]) -> None:
    studio = serve()
    results = str(studio.results)
    deep = b"[" * 20000 + b"]" * 20000
    answer = studio.request("POST", "/api/jobs", deep, {"Content-Type": "application/json"})
    assert answer.status == 400 and "nested too deeply" in answer.json()["error"]
    thin = studio.upload(png((10000, 1))).json()["id"]
    truncated = studio.upload(bundled("tubingen.jpg").read_bytes()[:5000])
    assert truncated.status == 415 and "cut short" in truncated.json()["error"]
    cases = [
        ({"masks": {"²": "b-tubingen_sky.png"}}, "masks"),
        ({"content": thin}, "images"),
        ({"styles": [thin]}, "styles"),
        ({"params": {**TINY, "size": 16}}, "size"),
        ({"params": {**TINY, "seed": 1e23}}, "seed"),
    ]
    for change, field in cases:
        answer = studio.request("POST", "/api/jobs", {**BUNDLE, "params": TINY, **change})
        assert answer.status == 422, (change, answer.body)
        assert field in answer.json()["fields"] and results not in answer.body.decode()
    runs = studio.request("POST", "/api/jobs", {**BUNDLE, "params": TINY}).json()["id"]
    for last in ("abc", "-3"):
        bad = studio.request("GET", f"/api/jobs/{runs}/events", headers={"Last-Event-ID": last})
        assert bad.status == 400 and bad.json()["field"] == "Last-Event-ID"
    inside = studio.request("GET", f"/api/inside/gram?image={thin}&layer=block5_conv1")
    assert inside.status == 422 and inside.json()["field"] == "layer"
    assert studio.events(runs)[-1] == "done"


def test_see_inside_without_matplotlib_names_the_install_command(
    serve: Callable[..., Studio], monkeypatch: pytest.MonkeyPatch
) -> None:
    studio = serve()
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    answer = studio.request("GET", "/api/inside/gram?image=b-tubingen.jpg&layer=block1_conv1")
    assert answer.status == 424 and "pip install 'painterly[web,explain]'" in answer.json()["error"]
    assert studio.request("GET", "/api/options").json()["inside"] is False


# --- 7. disk full ----------------------------------------------------------------


def full_disk(*args: Any, **kwargs: Any) -> None:
    raise OSError(errno.ENOSPC, "No space left on device")


def test_a_full_disk_answers_507_and_leaves_no_half_run(
    serve: Callable[..., Studio], monkeypatch: pytest.MonkeyPatch
) -> None:
    studio = serve()
    monkeypatch.setattr(images, "atomic_write", full_disk)
    answer = studio.upload(png())
    assert answer.status == 507 and "disk is full" in answer.json()["error"]
    monkeypatch.undo()
    monkeypatch.setattr(store_module, "write_json", full_disk)  # the image fits, the record not
    job_id = studio.request("POST", "/api/jobs", {**BUNDLE, "params": TINY}).json()["id"]
    answer = studio.request("GET", f"/api/jobs/{job_id}/events")
    assert b"event: failed" in answer.body and b"disk is full" in answer.body
    assert list((studio.results / "runs").iterdir()) == []
    assert studio.request("GET", "/api/results").json() == []


def test_leftovers_of_a_killed_server_are_cleaned_at_start(
    serve: Callable[..., Studio], tmp_path: Path
) -> None:
    runs, uploads = tmp_path / "results" / "runs", tmp_path / "results" / "uploads"
    uploads.mkdir(parents=True)
    (runs / ".r-0000000000001-abcdef.part").mkdir(parents=True)
    (runs / ".r-0000000000001-abcdef.part" / "image.png").write_bytes(png())
    (runs / "r-0000000000002-abcdef").mkdir()
    (runs / "r-0000000000002-abcdef" / "image.png").write_bytes(png())
    (uploads / ".u-1.png.abc.part").write_bytes(b"half")
    studio = serve()
    assert list(runs.iterdir()) == [] and list(uploads.iterdir()) == []
    assert studio.request("GET", "/api/results").json() == []

"""The studio's limits and failures (issue 12, points 4, 6 and 7) through real HTTP:
slow and many clients, See inside's executor, the upload room, hostile input, a full
disk and what a killed server left behind."""

from __future__ import annotations

import errno
import os
import socket
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("starlette", reason="the studio needs painterly[web]")

from helpers import free_port
from painterly.files import images
from painterly.files.samples import bundled
from painterly.web import inside as inside_module
from painterly.web import store as store_module
from painterly.web.guard import Access
from painterly.web.jobs import JobQueue
from painterly.web.server import ServerLimits
from painterly.web.state import StreamLimits
from painterly.web.store import Limits, Store
from studio_http import BUNDLE, TINY, Gate, Studio, noise_png, png

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

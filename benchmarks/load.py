"""Load check of the studio on 127.0.0.1, in three parts.

    python -m benchmarks load [--jobs 20] [--queue 8] [--size 64] [--iterations 5]
                              [--slow 200] [--streams 500] [--hold 15] [--inside 32]

1. ``--jobs`` jobs submitted at once: each must either finish or be refused with 429;
   none may be lost or run twice.
2. Hostile clients while a run is going: ``--slow`` connections that never finish their
   headers and ``--streams`` event streams on the run, held ``--hold`` seconds while the
   page's own request (/api/options) is asked twice a second. The server must keep
   answering, refuse the streams over its cap with 429, and close the slow connections.
3. ``--inside`` "See inside" drawings asked at once: drawn one at a time, a few wait,
   the rest get 429 (they used to run all at once, 2.6 GB for 32).

Prints the counts, the wall time, the server's peak memory (VmHWM) and the machine load.
Everything stays on loopback and every socket and the server are closed at the end.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import selectors
import shutil
import socket
import subprocess
import tempfile
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from . import harness


def post(url: str, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
    data = json.dumps(body).encode()
    request = urllib.request.Request(url, data, {"content-type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


def last_event(url: str) -> str:
    """Follow a job's event stream to its end; return the last event's name."""
    last = ""
    with urllib.request.urlopen(url, timeout=600) as stream:
        for raw in stream:
            line = raw.decode().strip()
            if line.startswith("event: "):
                last = line[len("event: ") :]
    return last


def peak_memory_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def slow_connections(port: int, count: int) -> list[socket.socket]:
    """Connections that send half a request head and then nothing."""
    opened = []
    for _ in range(count):
        s = socket.create_connection(("127.0.0.1", port), timeout=10)
        s.sendall(b"GET /api/options HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ")
        opened.append(s)
    return opened


def open_streams(
    port: int, jobs: list[str], count: int
) -> tuple[list[socket.socket], dict[str, int]]:
    """Open ``count`` event streams, spread over ``jobs``; return the accepted ones and
    the answers by status."""
    accepted: list[socket.socket] = []
    answers: dict[str, int] = {}
    for i in range(count):
        path = f"/api/jobs/{jobs[i % len(jobs)]}/events"
        s = socket.create_connection(("127.0.0.1", port), timeout=10)
        s.sendall(f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n\r\n".encode())
        try:
            status = s.recv(12).decode(errors="replace")[9:12] or "closed"
        except OSError:
            status = "closed"
        answers[status] = answers.get(status, 0) + 1
        if status == "200":
            s.setblocking(False)
            accepted.append(s)
        else:
            s.close()
    return accepted, answers


def drain(sockets: list[socket.socket], until: float) -> None:
    """Read and drop what the accepted streams send, as a page would, until ``until``."""
    selector = selectors.DefaultSelector()
    for s in sockets:
        selector.register(s, selectors.EVENT_READ)
    while time.monotonic() < until and selector.get_map():
        for key, _ in selector.select(timeout=0.2):
            try:
                if not key.fileobj.recv(65536):  # type: ignore[union-attr]
                    selector.unregister(key.fileobj)
            except OSError:
                selector.unregister(key.fileobj)
    selector.close()


def probe(base: str, until: float) -> tuple[int, int, float]:
    """Ask for the page's options twice a second: (answered, asked, slowest seconds)."""
    answered = asked = 0
    slowest = 0.0
    while time.monotonic() < until:
        asked += 1
        started = time.perf_counter()
        try:
            urllib.request.urlopen(f"{base}/api/options", timeout=5).read()
            answered += 1
        except OSError:
            pass
        slowest = max(slowest, time.perf_counter() - started)
        time.sleep(0.5)
    return answered, asked, slowest


def closed_by_server(sockets: list[socket.socket]) -> int:
    count = 0
    for s in sockets:
        s.setblocking(False)
        try:
            count += s.recv(1) == b""
        except BlockingIOError:
            pass
        except OSError:
            count += 1
        s.close()
    return count


def hostile(
    base: str, port: int, args: argparse.Namespace, body: dict[str, Any]
) -> tuple[bool, list[str]]:
    """Part 2: slow connections and many event streams during a run; (passed, report)."""
    params = {**body["params"], "iterations": 3000, "time": args.hold + 10}
    status, answer = post(f"{base}/api/jobs", {**body, "params": params})
    if status != 202:
        return False, [f"could not start the run for part 2: {status} {answer}"]
    jobs = [answer["id"]]
    for _ in range(args.queue):  # the queue full behind it: streams on every job
        jobs.append(post(f"{base}/api/jobs", body)[1]["id"])
    started = time.monotonic()
    slow = slow_connections(port, args.slow)
    streams, answers = open_streams(port, jobs, args.streams)
    until = time.monotonic() + args.hold
    drainer = threading.Thread(target=drain, args=(streams, until))
    drainer.start()
    answered, asked, slowest = probe(base, until)
    drainer.join()
    closed = closed_by_server(slow)
    for s in streams:
        s.close()
    for job in jobs:
        post(f"{base}/api/jobs/{job}/cancel", {})
    report = [
        f"part 2: {args.slow} slow connections and {args.streams} event streams on "
        f"{len(jobs)} jobs, held "
        f"{time.monotonic() - started:.0f} s during a run",
        f"  event streams answered (status: count): {answers}",
        f"  slow connections closed by the server: {closed} of {args.slow}",
        f"  the page's own requests answered: {answered} of {asked} (slowest {slowest:.2f} s)",
    ]
    passed = answered == asked and closed == args.slow and answers.get("200", 0) < args.streams
    return passed, report


def inside_burst(base: str, count: int) -> dict[int, int]:
    """``count`` "See inside" drawings asked at once, each at another layer or image (none
    cached); return the answers by status."""
    layers = [f"block{b}_conv{c}" for b in range(1, 6) for c in range(1, 3)]
    images = ["b-tubingen.jpg", "b-starry_night.jpg", "b-the_scream.jpg", "b-shipwreck.jpg"]
    answers: dict[int, int] = {}
    gate = threading.Barrier(count)

    def ask(i: int) -> None:
        query = f"image={images[i % len(images)]}&layer={layers[i // len(images) % len(layers)]}"
        gate.wait()
        try:
            with urllib.request.urlopen(f"{base}/api/inside/gram?{query}", timeout=300) as r:
                status = r.status
        except urllib.error.HTTPError as exc:
            status = exc.code
        answers[status] = answers.get(status, 0) + 1

    threads = [threading.Thread(target=ask, args=(i,)) for i in range(count)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return answers


def parser() -> argparse.ArgumentParser:
    p = harness.parser("load", __doc__)
    p.add_argument("--jobs", type=int, default=20)
    p.add_argument("--queue", type=int, default=8)
    p.add_argument("--size", type=int, default=64)
    p.add_argument("--iterations", type=int, default=5)
    p.add_argument("--slow", type=int, default=200, help="slow connections in part 2")
    p.add_argument("--streams", type=int, default=500, help="event streams in part 2")
    p.add_argument("--hold", type=float, default=15, help="seconds part 2 lasts")
    p.add_argument("--inside", type=int, default=32, help="See inside asked at once (3)")
    return p


@contextlib.contextmanager
def studio(queue: int) -> Iterator[tuple[int, subprocess.Popen[bytes]]]:
    """``painterly serve`` on a free port of 127.0.0.1, answering; stopped at the end."""
    port = harness.free_port()
    results = Path(tempfile.mkdtemp(prefix="painterly-load-"))
    command = harness.painterly_argv("serve", "--port", str(port), "--results", str(results))
    server = subprocess.Popen([*command, "--queue", str(queue)], stdout=subprocess.DEVNULL)
    try:
        harness.wait_for_studio(port, server)
        yield port, server
    finally:
        server.terminate()
        server.wait(timeout=60)
        shutil.rmtree(results, ignore_errors=True)


def burst(base: str, count: int, body: dict[str, Any]) -> list[tuple[int, dict[str, Any]]]:
    """``count`` jobs submitted at once: the answers."""
    answers: list[tuple[int, dict[str, Any]]] = []
    gate = threading.Barrier(count)

    def submit() -> None:
        gate.wait()
        answers.append(post(f"{base}/api/jobs", body))

    threads = [threading.Thread(target=submit) for _ in range(count)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return answers


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    with harness.recording("load", vars(args), "The studio under load") as out:
        found = measure(args)
        code = report(args, found)
        out.add("load", {**found, "passed": code == 0})
        for row in summary(args, found):
            out.add("summary", row)
    return code


def summary(args: argparse.Namespace, found: dict[str, Any]) -> list[dict[str, Any]]:
    """One line per part, for the benchmark page: what was asked and what came of it."""
    statuses, accepted, drawn = found["statuses"], found["accepted"], found["inside"]
    done, lost = found["endings"].count("done"), len(set(accepted) - set(found["gallery"]))
    return [
        {
            "part": "1: jobs submitted at once",
            "asked": args.jobs,
            "accepted": len(accepted),
            "refused": statuses.count(429),
            "outcome": f"{done} done once, {lost} lost, {found['wall']:.0f} s to the last",
            "peak_mib": found["peak_mib"][0],
        },
        {
            "part": "2: slow connections and event streams during a run",
            "asked": args.slow + args.streams,
            "outcome": "; ".join(line.strip() for line in found["hostile"][1:]),
            "peak_mib": found["peak_mib"][1],
        },
        {
            "part": "3: 'See inside' drawings at once",
            "asked": args.inside,
            "accepted": drawn.get(200, 0),
            "refused": drawn.get(429, 0),
            "outcome": f"{drawn.get(200, 0)} drawn",
            "peak_mib": found["peak_mib"][2],
        },
    ]


def measure(args: argparse.Namespace) -> dict[str, Any]:
    """The three parts against one studio: what each got back."""
    with studio(args.queue) as (port, server):
        base = f"http://127.0.0.1:{port}"
        body = {
            "content": "b-tubingen.jpg",
            "styles": ["b-starry_night.jpg"],
            "params": {"size": args.size, "iterations": args.iterations, "seed": 0},
        }
        started = time.perf_counter()
        answers = burst(base, args.jobs, body)
        accepted = [a["id"] for status, a in answers if status == 202]
        endings = [last_event(f"{base}/api/jobs/{job}/events") for job in accepted]
        wall = time.perf_counter() - started
        gallery = json.loads(urllib.request.urlopen(f"{base}/api/results", timeout=60).read())
        peak = peak_memory_mib(server.pid)
        survived, hostile_report = hostile(base, port, args, body)
        hostile_peak = peak_memory_mib(server.pid)
        drawn = inside_burst(base, args.inside)
        inside_peak = peak_memory_mib(server.pid)
    return {
        "statuses": [status for status, _ in answers],
        "accepted": accepted,
        "endings": endings,
        "wall": wall,
        "gallery": [run["id"] for run in gallery],
        "survived": survived,
        "hostile": hostile_report,
        "inside": drawn,
        "peak_mib": [peak, hostile_peak, inside_peak],
    }


def report(args: argparse.Namespace, found: dict[str, Any]) -> int:
    """Print what ``measure`` found; 0 if the studio passed, else 1."""
    statuses, accepted, endings = found["statuses"], found["accepted"], found["endings"]
    ids, drawn = found["gallery"], found["inside"]
    refused = statuses.count(429)
    other = [status for status in statuses if status not in (202, 429)]
    lost = sorted(set(accepted) - set(ids))
    print(f"jobs submitted at once: {args.jobs} (queue limit {args.queue}, one worker)")
    print(f"accepted: {len(accepted)}, refused with 429: {refused}, other answers: {other}")
    print(f"accepted jobs that ended 'done': {endings.count('done')} of {len(accepted)}")
    print(f"results in the gallery: {len(ids)} ({len(set(ids))} distinct); lost: {lost}")
    print(f"wall time until every accepted job ended: {found['wall']:.1f} s")
    print("\n".join(found["hostile"]))
    print(f"part 3: {args.inside} 'See inside' drawings asked at once: answers {drawn}")
    peak, hostile_peak, inside_peak = found["peak_mib"]
    print(
        f"server peak memory (VmHWM): {peak:.0f} MiB after part 1, {hostile_peak:.0f} after 2, "
        f"{inside_peak:.0f} after 3"
    )
    print(f"machine load (1, 5, 15 min): {harness.load()}")
    ok = (
        found["survived"]
        and set(drawn) <= {200, 429}
        and len(accepted) + refused == args.jobs
        and not other
        and endings.count("done") == len(accepted)
        and sorted(ids) == sorted(accepted)
    )
    print(
        "OK: every job finished once or was refused; the server kept answering" if ok else "FAILED"
    )
    return 0 if ok else 1

"""Load check of the studio: 20 jobs submitted at once to a server on 127.0.0.1.

    python benchmarks/load.py [--jobs 20] [--queue 8] [--size 64] [--iterations 5]

Each job must either finish or be refused with 429; none may be lost or run twice.
Prints the counts, the wall time and the server's peak memory (VmHWM).
"""

from __future__ import annotations

import argparse
import json
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--jobs", type=int, default=20)
    parser.add_argument("--queue", type=int, default=8)
    parser.add_argument("--size", type=int, default=64)
    parser.add_argument("--iterations", type=int, default=5)
    args = parser.parse_args()
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    results = Path(tempfile.mkdtemp(prefix="painterly-load-"))
    command = [sys.executable, "-m", "painterly", "serve", "--port", str(port)]
    command += ["--results", str(results), "--queue", str(args.queue)]
    server = subprocess.Popen(command, stdout=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                urllib.request.urlopen(f"{base}/api/options", timeout=5).read()
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise SystemExit("the server did not start") from None
                time.sleep(0.2)
        body = {
            "content": "b-tubingen.jpg",
            "styles": ["b-starry_night.jpg"],
            "params": {"size": args.size, "iterations": args.iterations, "seed": 0},
        }
        answers: list[tuple[int, dict[str, Any]]] = []
        gate = threading.Barrier(args.jobs)

        def submit() -> None:
            gate.wait()
            answers.append(post(f"{base}/api/jobs", body))

        started = time.perf_counter()
        threads = [threading.Thread(target=submit) for _ in range(args.jobs)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        accepted = [a["id"] for status, a in answers if status == 202]
        refused = [a for status, a in answers if status == 429]
        endings = [last_event(f"{base}/api/jobs/{job}/events") for job in accepted]
        wall = time.perf_counter() - started
        gallery = json.loads(urllib.request.urlopen(f"{base}/api/results", timeout=60).read())
        ids = [run["id"] for run in gallery]
        peak = peak_memory_mib(server.pid)
    finally:
        server.terminate()
        server.wait(timeout=60)
    other = [status for status, _ in answers if status not in (202, 429)]
    lost = sorted(set(accepted) - set(ids))
    print(f"jobs submitted at once: {args.jobs} (queue limit {args.queue}, one worker)")
    print(f"accepted: {len(accepted)}, refused with 429: {len(refused)}, other answers: {other}")
    print(f"accepted jobs that ended 'done': {endings.count('done')} of {len(accepted)}")
    print(f"results in the gallery: {len(ids)} ({len(set(ids))} distinct); lost: {lost}")
    print(f"wall time until every accepted job ended: {wall:.1f} s")
    print(f"server peak memory (VmHWM): {peak:.0f} MiB")
    ok = (
        len(accepted) + len(refused) == args.jobs
        and not other
        and endings.count("done") == len(accepted)
        and sorted(ids) == sorted(accepted)
    )
    print("OK: every job finished once or was refused" if ok else "FAILED")
    raise SystemExit(0 if ok else 1)


if __name__ == "__main__":
    main()

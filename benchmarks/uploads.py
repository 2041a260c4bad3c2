"""The studio's memory under concurrent uploads, on 127.0.0.1.

    python -m benchmarks uploads [--uploads 20] [--megapixels 39] [--same] [--retries 40]
                                 [--settle 5] [--python PATH]

Starts ``painterly serve`` with the interpreter ``--python`` (this one by default; give
another checkout's ``.venv/bin/python`` to measure its code), makes PNGs of one flat
colour of ``--megapixels`` each (about 100 KB: a small file that decodes to 4 bytes a
pixel), a different colour for each upload unless ``--same``, and sends ``--uploads``
of them at once. An upload answered 503 is sent again after its Retry-After, at most
``--retries`` times. The server's resident memory (VmRSS) and its peak (VmHWM), from
``/proc/PID/status``, are read after a first small upload, once every upload is
answered, and ``--settle`` seconds later. Every request has a time limit, and the
server is stopped by its pid at the end.
"""

from __future__ import annotations

import argparse
import contextlib
import http.client
import io
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from PIL import Image

from . import harness

REQUEST_TIMEOUT = 120  # seconds for one upload's answer
BOUNDARY = "painterlybench"


def memory_mib(pid: int) -> dict[str, float]:
    """The process's resident memory now and at its peak, in MiB."""
    found = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, value = line.partition(":")
        if key in ("VmRSS", "VmHWM"):
            found[key] = int(value.split()[0]) / 1024
    return found


def flat_pngs(count: int, megapixels: float, same: bool) -> list[bytes]:
    """``count`` PNGs of one flat colour each, of about ``megapixels`` (4:3)."""
    height = round((megapixels * 1e6 * 3 / 4) ** 0.5)
    width = round(megapixels * 1e6 / height)
    made: list[bytes] = []
    for i in range(1 if same else count):
        buffer = io.BytesIO()
        colour = (i * 37 % 256, i * 91 % 256, 200)
        Image.new("RGB", (width, height), colour).save(buffer, format="PNG")
        made.append(buffer.getvalue())
    return made * count if same else made


def upload(port: int, data: bytes) -> tuple[int, float | None]:
    """POST ``data`` as the form field ``file``: the status and the Retry-After."""
    head = (
        f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="file"; filename="a.png"\r\n'
        "Content-Type: image/png\r\n\r\n"
    ).encode()
    body = head + data + f"\r\n--{BOUNDARY}--\r\n".encode()
    headers = {
        "Host": f"127.0.0.1:{port}",
        "Content-Type": f"multipart/form-data; boundary={BOUNDARY}",
    }
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=REQUEST_TIMEOUT)
    try:
        connection.request("POST", "/api/uploads", body=body, headers=headers)
        response = connection.getresponse()
        response.read()
        retry = response.getheader("retry-after")
        return response.status, float(retry) if retry else None
    except OSError:
        return 0, None  # no answer (closed, refused or timed out)
    finally:
        connection.close()


def burst(port: int, files: list[bytes], retries: int) -> list[list[int]]:
    """Every file sent at once, each sent again after a 503 as Retry-After says; the
    statuses each one got, in order."""
    answers: list[list[int]] = [[] for _ in files]
    gate = threading.Barrier(len(files))

    def send(i: int) -> None:
        gate.wait()
        for _ in range(retries + 1):
            status, retry = upload(port, files[i])
            answers[i].append(status)
            if status != 503 or retry is None:
                return
            time.sleep(retry)

    threads = [threading.Thread(target=send, args=(i,), daemon=True) for i in range(len(files))]
    for t in threads:
        t.start()
    deadline = time.monotonic() + (retries + 1) * (REQUEST_TIMEOUT + 5)
    for t in threads:
        t.join(max(0.0, deadline - time.monotonic()))
    return answers


@contextlib.contextmanager
def studio(python: str) -> Iterator[tuple[int, subprocess.Popen[bytes]]]:
    """``painterly serve`` run by ``python`` on a free port of 127.0.0.1, answering;
    stopped by its pid at the end."""
    port = harness.free_port()
    results = Path(tempfile.mkdtemp(prefix="painterly-uploads-"))
    command = [python, "-m", "painterly", "serve", "--port", str(port), "--results", str(results)]
    server = subprocess.Popen(command, stdout=subprocess.DEVNULL)
    try:
        harness.wait_for_studio(port, server)
        yield port, server
    finally:
        server.terminate()
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait(timeout=30)
        shutil.rmtree(results, ignore_errors=True)


def parser() -> argparse.ArgumentParser:
    p = harness.parser("uploads", __doc__)
    p.add_argument("--uploads", type=int, default=20, help="uploads sent at once")
    p.add_argument("--megapixels", type=float, default=39.0, help="pixels of each, in MP")
    p.add_argument("--same", action="store_true", help="the same file every time")
    p.add_argument("--retries", type=int, default=40, help="times a 503 is sent again")
    p.add_argument("--settle", type=float, default=5.0, help="seconds before the last look")
    p.add_argument("--python", default=sys.executable, help="the interpreter that serves")
    return p


def measure(args: argparse.Namespace) -> dict[str, Any]:
    files = flat_pngs(args.uploads, args.megapixels, args.same)
    with studio(args.python) as (port, server):
        first = upload(port, flat_pngs(1, 0.0001, False)[0])[0]
        before = memory_mib(server.pid)
        started = time.perf_counter()
        answers = burst(port, files, args.retries)
        wall = time.perf_counter() - started
        after = memory_mib(server.pid)
        time.sleep(args.settle)
        settled = memory_mib(server.pid)
    return {
        "python": args.python,
        "file_kib": round(sum(map(len, files)) / len(files) / 1024, 1),
        "first_upload": first,
        "answers": answers,
        "wall_s": round(wall, 1),
        "before_mib": before,
        "after_mib": after,
        "settled_mib": settled,
    }


def report(args: argparse.Namespace, found: dict[str, Any]) -> int:
    """Print what ``measure`` found; 0 if every upload was stored in the end."""
    answers: list[list[int]] = found["answers"]
    finals = [a[-1] if a else 0 for a in answers]
    first = [a[0] if a else 0 for a in answers]
    count = {str(s): first.count(s) for s in sorted(set(first))}
    kind = "the same file" if args.same else "a different colour each"
    print(f"served by: {found['python']}")
    print(
        f"{args.uploads} uploads at once of a {args.megapixels:g} MP flat PNG "
        f"({found['file_kib']:.0f} KiB, {kind})"
    )
    print(f"first answers (status: count): {count}")
    resent = sum(map(len, answers)) - len(answers)
    print(f"stored in the end: {finals.count(201)} of {args.uploads}, {resent} resent after a 503")
    print(f"wall time until every upload was answered: {found['wall_s']:.1f} s")
    for label, key in (("before", "before_mib"), ("after", "after_mib")):
        mem = found[key]
        print(f"server {label}: VmRSS {mem['VmRSS']:.0f} MiB, VmHWM {mem['VmHWM']:.0f} MiB")
    print(f"server {args.settle:g} s later: VmRSS {found['settled_mib']['VmRSS']:.0f} MiB")
    print(f"machine load (1, 5, 15 min): {harness.load()}")
    return 0 if finals.count(201) == args.uploads and found["first_upload"] == 201 else 1


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    with harness.recording("uploads", vars(args), "The studio under concurrent uploads") as out:
        found = measure(args)
        code = report(args, found)
        out.add("uploads", {**found, "passed": code == 0})
    return code

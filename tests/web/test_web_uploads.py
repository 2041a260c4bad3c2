"""Uploads under concurrency, through real HTTP: decodes are bounded (one at a time
here, one more waiting, 503 with Retry-After beyond), an image already stored is
answered from its hash without decoding, and one too large by its header is refused
before its turn."""

from __future__ import annotations

import struct
import threading
import time
import zlib
from collections.abc import Callable
from typing import Any

import pytest

pytest.importorskip("starlette", reason="the studio needs painterly[web]")

from PIL import ImageFile

from painterly.web.store import Limits
from studio_http import Answer, Studio, noise_png, png


def claiming(width: int, height: int) -> bytes:
    """A small PNG whose header says ``width``×``height`` (its data is far too short)."""
    data = bytearray(png((4, 4)))
    start = 8 + 8  # the signature, then IHDR's length and type
    data[start : start + 8] = struct.pack(">II", width, height)
    crc = zlib.crc32(bytes(data[12 : start + 13]))
    data[start + 13 : start + 17] = struct.pack(">I", crc)
    return bytes(data)


def wait_for(condition: Callable[[], bool], what: str) -> None:
    deadline = time.monotonic() + 30
    while not condition():
        assert time.monotonic() < deadline, f"gave up waiting for {what}"
        time.sleep(0.02)


def test_decodes_are_bounded_and_known_uploads_skip_them(
    serve: Callable[..., Studio], monkeypatch: pytest.MonkeyPatch
) -> None:
    studio = serve(limits=Limits(decoding=1, waiting=1, retry_after=1))
    state = studio.app.state.studio
    known = noise_png(0)
    assert studio.upload(known).status == 201
    decoded: list[tuple[int, int]] = []
    release = threading.Event()
    real_load = ImageFile.ImageFile.load

    def held_load(self: ImageFile.ImageFile) -> Any:  # a slow decode, held in place
        decoded.append(self.size)
        release.wait(30)
        return real_load(self)

    monkeypatch.setattr(ImageFile.ImageFile, "load", held_load)
    answers: dict[str, Answer] = {}

    def send(name: str, data: bytes) -> threading.Thread:
        thread = threading.Thread(target=lambda: answers.update({name: studio.upload(data)}))
        thread.start()
        return thread

    first = send("first", noise_png(1))
    wait_for(lambda: len(decoded) == 1, "the first decode")
    again = studio.upload(known)  # stored already: answered from its hash, not decoded
    assert again.status == 201 and len(decoded) == 1
    huge = studio.upload(claiming(8000, 6000))  # refused by its header, not in the line
    assert huge.status == 413 and "48 MP" in huge.json()["error"] and len(decoded) == 1
    second = send("second", noise_png(2))
    wait_for(lambda: state.uploads_pending == 2, "the second upload to wait its turn")
    busy = studio.upload(noise_png(3))
    assert busy.status == 503 and busy.headers["retry-after"] == "1"
    assert "checking other uploads" in busy.json()["error"]
    assert len(decoded) == 1  # the second waits for the first
    release.set()
    first.join(60)
    second.join(60)
    assert answers["first"].status == answers["second"].status == 201
    assert len(decoded) == 2 and state.uploads_pending == 0
    assert studio.upload(noise_png(3)).status == 201  # room again

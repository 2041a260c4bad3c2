"""The studio on a results folder it cannot write or that was damaged: refused at the
start in one line, then 503 or 507 with a message (never 500, never after a whole
run), damaged runs left out of the gallery, and nothing half-written left behind."""

from __future__ import annotations

import errno
import json
import logging
import os
import shutil
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("starlette", reason="the studio needs painterly[web]")

from helpers import FailsWith
from painterly.files import images
from painterly.web.jobs import JobQueue
from painterly.web.store import Store
from studio_http import BUNDLE, TINY, Studio, png

ReadOnly = Callable[[Path], None]


@pytest.fixture
def read_only(monkeypatch: pytest.MonkeyPatch) -> Iterator[ReadOnly]:
    """``read_only(folder)``: nothing can be created or removed under ``folder`` any
    more, by chmod where it bites and, as root (whom chmod does not stop), by the
    calls that create and remove files failing there as on a read-only file system."""
    chmodded: list[Path] = []

    def refuse(path: Any, folder: Path) -> None:
        if path is not None and Path(path).resolve().is_relative_to(folder.resolve()):
            raise OSError(errno.EROFS, "Read-only file system", str(path))

    def make(folder: Path) -> None:
        if os.geteuid() != 0:
            for each in [folder, *(p for p in folder.rglob("*") if p.is_dir())]:
                each.chmod(0o555)
                chmodded.append(each)
            return
        mkstemp, mkdir, unlink = tempfile.mkstemp, os.mkdir, os.unlink

        def fake_mkstemp(*args: Any, **kwargs: Any) -> tuple[int, str]:
            refuse(kwargs.get("dir"), folder)
            return mkstemp(*args, **kwargs)

        def fake_mkdir(path: Any, *args: Any, **kwargs: Any) -> None:
            refuse(Path(path).parent, folder)
            mkdir(path, *args, **kwargs)

        def fake_unlink(path: Any, *args: Any, **kwargs: Any) -> None:
            refuse(Path(path).parent, folder)
            unlink(path, *args, **kwargs)

        monkeypatch.setattr(tempfile, "mkstemp", fake_mkstemp)
        monkeypatch.setattr(os, "mkdir", fake_mkdir)
        monkeypatch.setattr(os, "unlink", fake_unlink)

    yield make
    for each in chmodded:
        each.chmod(0o755)


class Counting:
    """A fake runner that counts its runs and ends each at once, saving nothing."""

    def __init__(self) -> None:
        self.runs = 0

    def __call__(self, cfg: Any, content: Any, styles: Any, progress: Any) -> Any:
        from painterly.errors import ImageError

        self.runs += 1
        raise ImageError("the fake run ends here")


def disk_full(*args: Any, **kwargs: Any) -> None:
    raise OSError(errno.ENOSPC, "No space left on device")


def read_only_fs(*args: Any, **kwargs: Any) -> None:
    raise OSError(errno.EROFS, "Read-only file system")


# --- at the start ------------------------------------------------------------------


def test_serve_checks_its_results_folder_first(
    fails_with: FailsWith, tmp_path: Path, read_only: ReadOnly
) -> None:
    (tmp_path / "a-file").write_text("not a folder")
    fails_with(["serve", "--results", str(tmp_path / "a-file")], "a-file' is a file")
    fails_with(["serve", "--results", "/proc/self/results"], "cannot be written")
    (tmp_path / "odd" / "runs").mkdir(parents=True)
    (tmp_path / "odd" / "uploads").write_text("a file where a folder goes")
    fails_with(["serve", "--results", str(tmp_path / "odd")], "uploads' is a file")
    empty = tmp_path / "empty"
    empty.mkdir()
    read_only(empty)
    fails_with(["serve", "--results", str(empty)], f"--results folder '{empty}' cannot be")
    kept = tmp_path / "kept"
    (kept / "runs").mkdir(parents=True)
    read_only(kept / "runs")  # the folder may be written, its runs not
    fails_with(["serve", "--results", str(kept)], "choose another folder")


# --- once serving ------------------------------------------------------------------


def test_an_upload_that_cannot_be_written_gets_503(
    serve: Callable[..., Studio], read_only: ReadOnly
) -> None:
    studio = serve()
    read_only(studio.results)
    answer = studio.upload(png())
    assert answer.status == 503, answer.body
    assert "cannot be written" in answer.json()["error"]
    assert str(studio.results) not in answer.body.decode()


def test_a_run_that_could_not_be_saved_is_refused_before_it_runs(
    serve: Callable[..., Studio], read_only: ReadOnly, tmp_path: Path
) -> None:
    runner = Counting()
    studio = serve(queue=JobQueue(Store(tmp_path / "results"), runner=runner))
    read_only(studio.results)
    answer = studio.request("POST", "/api/jobs", {**BUNDLE, "params": TINY})
    assert answer.status == 503, answer.body
    assert "cannot be written" in answer.json()["error"] and runner.runs == 0


def test_a_run_whose_picture_cannot_be_saved_says_why(
    serve: Callable[..., Studio], monkeypatch: pytest.MonkeyPatch
) -> None:
    studio = serve()
    monkeypatch.setattr(images, "atomic_write", read_only_fs)  # gone read-only mid-run
    job_id = studio.request("POST", "/api/jobs", {**BUNDLE, "params": TINY}).json()["id"]
    answer = studio.request("GET", f"/api/jobs/{job_id}/events")
    assert b"event: failed" in answer.body and b"internal error" not in answer.body
    assert b"read-only" in answer.body
    assert list((studio.results / "runs").iterdir()) == []


def test_a_full_disk_at_the_picture_leaves_no_part_folder(
    serve: Callable[..., Studio], monkeypatch: pytest.MonkeyPatch
) -> None:
    studio = serve()
    monkeypatch.setattr(images, "atomic_write", disk_full)  # not even the image fits
    job_id = studio.request("POST", "/api/jobs", {**BUNDLE, "params": TINY}).json()["id"]
    answer = studio.request("GET", f"/api/jobs/{job_id}/events")
    assert b"event: failed" in answer.body and b"disk is full" in answer.body
    assert list((studio.results / "runs").iterdir()) == []  # no empty .part left


def test_damaged_runs_are_left_out_of_the_gallery(
    serve: Callable[..., Studio], caplog: pytest.LogCaptureFixture
) -> None:
    studio = serve()
    job_id = studio.request("POST", "/api/jobs", {**BUNDLE, "params": TINY}).json()["id"]
    assert studio.events(job_id)[-1] == "done"
    runs = studio.results / "runs"
    good = runs / job_id
    damaged = {
        "r-0000000000001-aaaaaa": b"{ cut short",
        "r-0000000000002-aaaaaa": b"[1, 2]",
        "r-0000000000003-aaaaaa": json.dumps({"id": "r-0000000000003-aaaaaa"}).encode(),
        "r-0000000000004-aaaaaa": b"\xff\xfe not text",
    }
    for name, record in damaged.items():
        shutil.copytree(good, runs / name)
        (runs / name / "record.json").write_bytes(record)
    shutil.copytree(good, runs / "r-0000000000005-aaaaaa")
    (runs / "r-0000000000005-aaaaaa" / "image.png").unlink()
    damaged["r-0000000000005-aaaaaa"] = b""
    with caplog.at_level(logging.WARNING, logger="painterly"):
        gallery = studio.request("GET", "/api/results")
    assert gallery.status == 200 and [run["id"] for run in gallery.json()] == [job_id]
    for name in damaged:
        assert name in caplog.text
        for file in ("image.png", "record.json"):
            assert studio.request("GET", f"/api/results/{name}/{file}").status == 404

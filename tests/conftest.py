"""Shared fixtures: the bundled sample images, the command line's one-line failures, a
studio in a thread and a Dask cluster of processes. Plain helpers live in helpers.py.

Nothing here imports an extra at import time: the studio's and the cluster's helpers
are imported by the fixtures that need them, so the core tests run without them.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from helpers import DATA, FailsWith
from painterly.cli import main

if TYPE_CHECKING:
    from dask_procs import Cluster
    from studio_http import Studio


@pytest.fixture
def content_path() -> Path:
    return DATA / "tubingen.jpg"


@pytest.fixture
def style_path() -> Path:
    return DATA / "starry_night.jpg"


@pytest.fixture
def style2_path() -> Path:
    return DATA / "the_scream.jpg"


@pytest.fixture
def fails_with(capsys: pytest.CaptureFixture[str]) -> FailsWith:
    """``fails_with(argv, message)``: the command line exits 2 with one line naming it."""

    def check(argv: Sequence[str], message: str) -> None:
        assert main(list(argv)) == 2
        err = capsys.readouterr().err
        assert message in err and err.count("\n") == 1 and "Traceback" not in err

    return check


@pytest.fixture
def serve(tmp_path: Path) -> Iterator[Callable[..., Studio]]:
    """``serve(server=ServerLimits, **create_app options)``: a running studio on
    127.0.0.1, stopped after the test (the studio's HTTP tests; needs painterly[web])."""
    from studio_http import Servers

    servers = Servers(tmp_path)
    yield servers.start
    servers.close()


@pytest.fixture
def cluster(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Cluster]:
    """A scheduler and workers started as subprocesses on 127.0.0.1, stopped by pid
    (needs painterly[cluster]). Its tests carry the ``cluster`` marker, so that the
    fast tier never starts one."""
    if request.node.get_closest_marker("cluster") is None:
        pytest.fail(f"{request.node.nodeid} starts a Dask cluster: mark it cluster")
    from dask_procs import Cluster, stop

    started = Cluster(tmp_path)
    try:
        yield started
    finally:
        stop(started.procs)


@pytest.fixture(scope="session")
def tiny_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A fast model of two styles (Starry Night, The Scream), the small network trained
    for four steps on 32 px crops of two photos: a real model file, made in seconds,
    for the tests that paint with one (batch, video, the studio)."""
    from painterly.fast.train import train

    folder = tmp_path_factory.mktemp("tiny_model")
    photos = folder / "photos"
    photos.mkdir()
    for name in ("tubingen.jpg", "shipwreck.jpg"):
        shutil.copy(DATA / name, photos / name)
    styles = [DATA / "starry_night.jpg", DATA / "the_scream.jpg"]
    out = folder / "tiny.safetensors"
    train(styles, photos, out, steps=4, size=32, batch=1, network="small", hold_out=0, lr=3e-3)
    return out

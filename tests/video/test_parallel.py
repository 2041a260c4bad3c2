"""Clips in chunks on the runners: naming several clips, a stopped run that keeps its
finished chunks, a LocalCluster that leaves no process behind, a killed worker whose
chunk runs again and is written once, and options that do not fit."""

from __future__ import annotations

import json
import os
import signal
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from PIL import Image
from test_render import write_frames

from dask_procs import Cluster, children_left, wait_for
from helpers import DATA, FailsWith
from painterly.cli import main
from painterly.errors import OutputError
from painterly.files.samples import moving_clip
from painterly.video import clips
from painterly.video.chunking import Chunking
from painterly.video.parallel import ChunkProgress, ClipJob, plan_jobs, videos
from painterly.video.render import VideoSettings

FAST: dict[str, Any] = {"size": 48, "iterations": 6, "scales": 1, "seed": 0}
FAST_ARGS = ["--size", "48", "--iterations", "6", "--scales", "1", "--frame-iterations", "3"]
QUICK = VideoSettings(frame_iterations=3)
CHUNKS = Chunking(4, 2)  # a clip of 6 frames: chunks 0–3 and 2–5
RUN: dict[str, Any] = {"settings": QUICK, "chunking": CHUNKS, **FAST}


@pytest.fixture
def clip6(tmp_path: Path) -> Path:
    return write_frames(tmp_path / "clip", moving_clip(6, 48, pan=0.1, zoom=0.0))


def test_several_inputs_and_each_style_get_their_own_outputs() -> None:
    styles = [Path("a/starry.jpg"), Path("b/scream.jpg")]
    jobs = plan_jobs(["in/one.mp4", "frames/*.png"], styles, Path("out/p.mp4"), each_style=True)
    assert [j.output.name for j in jobs] == [
        "p-one-starry.mp4",
        "p-one-scream.mp4",
        "p-frames-starry.mp4",
        "p-frames-scream.mp4",
    ]
    blended = plan_jobs(["in/one.mp4"], styles, Path("p"), each_style=False)
    assert blended == [ClipJob("in/one.mp4", tuple(styles), Path("p"))]


def test_also_and_each_style_make_one_whole_clip_each_in_process(
    tmp_path: Path, style_path: Path
) -> None:
    one = write_frames(tmp_path / "one", moving_clip(3, 48, pan=0.1, zoom=0.0, thing=False))
    two = write_frames(tmp_path / "two", moving_clip(3, 48, pan=0.0, zoom=0.1, thing=False))
    scream = DATA / "the_scream.jpg"
    out = tmp_path / "p"
    argv = ["video", str(one), str(style_path), str(scream), "--also", str(two), "-o", str(out)]
    assert main([*argv, "--each-style", *FAST_ARGS, "-q"]) == 0
    made = sorted(p.name for p in tmp_path.glob("p-*") if p.is_dir())
    assert made == [
        "p-one-starry_night",
        "p-one-the_scream",
        "p-two-starry_night",
        "p-two-the_scream",
    ]
    for name in made:
        assert sorted(f.name for f in (tmp_path / name).glob("*.png")) == [
            f"{t:06d}.png" for t in range(1, 4)
        ]
        record = json.loads((tmp_path / f"{name}.json").read_text())
        assert record["chunk_spans"] == [[0, 3]] and record["seam_pairs"] == 0
    assert not out.exists()


def _noting(seen: list[tuple[int, str]], stop_at: str = "") -> Callable[[ChunkProgress], None]:
    """A progress callback noting (chunk, state), stopping the run at state ``stop_at``."""

    def note(info: ChunkProgress) -> None:
        seen.append((info.chunk, info.state))
        if info.state == stop_at:
            raise KeyboardInterrupt

    return note


def _stopped_after_a_chunk(clip: Path, style: Path, out: Path) -> list[tuple[int, str]]:
    """The events of a run stopped (as by Ctrl-C) once its first chunk is done."""
    seen: list[tuple[int, str]] = []
    with pytest.raises(KeyboardInterrupt):
        videos([clip], [style], out, progress=_noting(seen, stop_at="done"), **RUN)
    return seen


def test_stopped_run_keeps_its_chunks_and_the_next_runs_only_the_rest(
    clip6: Path, tmp_path: Path, style_path: Path
) -> None:
    out = tmp_path / "out"
    seen = _stopped_after_a_chunk(clip6, style_path, out)
    assert seen == [(0, "started"), (0, "done")]
    assert sorted(p.name for p in (out / ".painterly-chunks").iterdir()) == ["000"]
    seen.clear()
    note = _noting(seen)
    (result,) = videos([clip6], [style_path], out, progress=note, **RUN)
    assert seen == [(0, "kept"), (1, "started"), (1, "done")]
    assert result.frames == 6 and clips.open_clip(out, None).count == 6
    assert sorted(p.name for p in out.glob("*.png")) == [f"{t:06d}.png" for t in range(1, 7)]
    assert not (out / ".painterly-chunks").exists()
    record = result.record
    assert record["chunk_spans"] == [[0, 4], [2, 6]] and record["seam_pairs"] == 3
    assert record["warping_error_inside"] > 0 and record["warping_error_seams"] > 0
    seen.clear()
    (again,) = videos([clip6], [style_path], out, progress=note, **RUN)
    assert seen == [(0, "kept"), (1, "kept")] and again.frames == 6  # nothing redone


def test_a_chunk_counts_as_done_only_when_its_pair_reads_back_whole(
    clip6: Path, tmp_path: Path, style_path: Path
) -> None:
    out = tmp_path / "out"
    assert _stopped_after_a_chunk(clip6, style_path, out) == [(0, "started"), (0, "done")]
    kept = out / ".painterly-chunks" / "000" / "frames.zip"
    assert json.loads(kept.with_suffix(".json").read_text())["inputs"]["key"].endswith("#0")
    kept.write_bytes(kept.read_bytes()[:-10])  # there, but not what its record names
    assert _stopped_after_a_chunk(clip6, style_path, out) == [(0, "started"), (0, "done")]
    other = tmp_path / "other.png"
    Image.open(style_path).transpose(Image.Transpose.ROTATE_180).save(other)
    with pytest.raises(OutputError, match="holds chunks made from other styles") as refused:
        videos([clip6], [other], out, **RUN)  # the same options, another painting
    assert "starry_night.jpg" in str(refused.value) and "delete" not in str(refused.value)


@pytest.mark.cluster
def test_two_local_workers_make_a_video_and_stop(
    clip6: Path, tmp_path: Path, style_path: Path
) -> None:
    out = tmp_path / "out.mp4"
    argv = ["video", str(clip6), str(style_path), "-o", str(out), *FAST_ARGS, "--seed", "0"]
    assert main([*argv, "--workers", "2", "--chunk", "4", "--overlap", "2", "-q"]) == 0
    assert clips.open_clip(out, None).count == 6
    assert not (tmp_path / "out.mp4.frames").exists()
    chunks = json.loads(out.with_suffix(".json").read_text())["chunks"]
    workers = {c["worker"] for c in chunks.values()}
    assert all(w.startswith("tcp://127.0.0.1:") for w in workers)
    assert not children_left()  # the cluster is gone


@pytest.mark.cluster
def test_killed_worker_its_chunk_runs_again_and_is_written_once(
    clip6: Path,
    tmp_path: Path,
    style_path: Path,
    cluster: Cluster,
) -> None:
    cluster.worker(), cluster.worker()
    wait_for(cluster.address, 2)
    killed: list[str] = []
    done: list[int] = []

    def kill_first(info: ChunkProgress) -> None:
        if info.state == "started" and not killed:
            killed.append(info.worker)
            os.kill(cluster.workers[info.worker].pid, signal.SIGKILL)
        if info.state == "done":
            done.append(info.chunk)

    out = tmp_path / "out"
    run = {"settings": QUICK, "chunking": CHUNKS, **FAST}
    (result,) = videos(
        [clip6], [style_path], out, cluster=cluster.address, progress=kill_first, **run
    )
    assert sorted(done) == [0, 1] and result.frames == 6  # each chunk written once
    (lost,) = result.record["lost"]
    assert lost["worker"] == killed[0] and "lost" in lost["reason"]
    rerun = result.record["chunks"][str(lost["chunk"])]
    assert rerun["attempts"] == 2 and rerun["worker"] != killed[0]


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--workers", "1", "--chunk", "4", "--overlap", "3"], "overlap 3"),
        (["--workers", "0"], "--workers 0"),
        (["--workers", "1", "--cluster", "tcp://127.0.0.1:1"], "not both"),
    ],
)
def test_chunk_options_that_do_not_fit_fail_in_one_line(
    clip6: Path,
    tmp_path: Path,
    style_path: Path,
    fails_with: FailsWith,
    extra: list[str],
    message: str,
) -> None:
    out = tmp_path / "out"
    fails_with(["video", str(clip6), str(style_path), "-o", str(out), *FAST_ARGS, *extra], message)
    assert not out.exists()

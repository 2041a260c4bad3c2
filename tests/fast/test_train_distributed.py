"""A training on two processes started by torchrun on 127.0.0.1: each takes its share
of the batch, so a step is the one a single process takes, only the first writes the
files, and its checkpoint resumes in one process."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import psutil
import pytest

from helpers import DATA, free_port
from painterly.errors import ConfigError, ModelError
from painterly.fast.distributed import Ranks, from_environment, launched
from painterly.fast.train import train

# In float32: bf16 convolutions round differently for a batch of one and of two.
TINY: dict[str, Any] = {
    "size": 32,
    "batch": 2,
    "network": "small",
    "hold_out": 0,
    "precision": "fp32",
    "temporal_weight": 100.0,  # its warps, too, are the whole batch's, shared out
}
STEPS = 3


def _stop(proc: subprocess.Popen[bytes]) -> None:
    """torchrun and the workers it started, each by its pid, the workers first."""
    try:
        workers = psutil.Process(proc.pid).children(recursive=True)
    except psutil.NoSuchProcess:
        workers = []
    for child in workers:
        if child.is_running():
            child.kill()
    if proc.poll() is None:
        os.kill(proc.pid, signal.SIGKILL)
    proc.wait()


def _torchrun(args: list[str], log: Path) -> int:
    port = free_port()
    cmd = [sys.executable, "-m", "torch.distributed.run", "--nnodes", "1"]
    cmd += ["--nproc-per-node", "2", "--master-addr", "127.0.0.1", "--master-port", str(port)]
    env = {**os.environ, "MASTER_ADDR": "127.0.0.1", "OMP_NUM_THREADS": "1"}
    with log.open("wb") as out:
        proc = subprocess.Popen([*cmd, "-m", "painterly", *args], env=env, stdout=out, stderr=out)
        try:
            return proc.wait(timeout=300)
        finally:
            _stop(proc)


@pytest.mark.subprocess
def test_two_processes_train_as_one_and_resume_in_one(tmp_path: Path) -> None:
    photos = tmp_path / "photos"
    photos.mkdir()
    shutil.copy(DATA / "tubingen.jpg", photos)
    style = DATA / "starry_night.jpg"
    out = tmp_path / "two" / "m.safetensors"
    out.parent.mkdir()
    args = ["train", str(style), "--photos", str(photos), "-o", str(out), "--steps", str(STEPS)]
    args += ["--crop", "32", "--batch", "2", "--network", "small", "--hold-out", "0", "-q"]
    args += ["--precision", "fp32", "--temporal-weight", "100"]
    log = tmp_path / "torchrun.log"
    assert _torchrun(args, log) == 0, log.read_text()[-3000:]
    record = json.loads(out.with_suffix(".json").read_text())
    assert record["summary"]["processes"] == 2
    assert sorted(p.name for p in out.parent.iterdir()) == [
        "m.ckpt",
        "m.json",
        "m.preview.png",
        "m.safetensors",
    ]
    # The same steps in one process: the same batches, the same losses (temporal too).
    alone = train([style], photos, tmp_path / "one.safetensors", steps=STEPS, **TINY)
    one = json.loads(alone.record.read_text())["curve"]["rows"]
    two = record["curve"]["rows"]
    for a, b in zip(one, two, strict=True):
        assert a[2:] == pytest.approx(b[2:], rel=1e-4)
    # Its checkpoint goes on in one process from the step it reached.
    seen: list[int] = []
    done = train(
        [style], photos, out, steps=STEPS + 2, progress=lambda i: seen.append(i.step), **TINY
    )
    assert seen[0] == STEPS + 1 and done.steps == STEPS + 2
    assert json.loads(done.record.read_text())["summary"]["processes"] == 1


def test_each_process_paints_its_share_of_the_batch() -> None:
    shares = [Ranks(r, 3).share(8) for r in range(3)]
    assert shares == [[0, 3, 6], [1, 4, 7], [2, 5]]


def test_torchruns_variables_say_where_a_process_stands() -> None:
    env = {"RANK": "1", "WORLD_SIZE": "2", "LOCAL_RANK": "1"}
    assert launched(env) and from_environment(env) == Ranks(1, 2, 1)
    assert not launched({**env, "WORLD_SIZE": "1"}) and not launched({})
    with pytest.raises(ModelError, match="torchrun --nproc-per-node"):
        from_environment({"RANK": "0"})


def test_a_batch_smaller_than_the_processes_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name, value in {"RANK": "0", "WORLD_SIZE": "4", "LOCAL_RANK": "0"}.items():
        monkeypatch.setenv(name, value)
    with pytest.raises(ConfigError, match="batch 2 is smaller than the 4 processes"):
        train(
            [DATA / "starry_night.jpg"],
            DATA / "tubingen.jpg",
            tmp_path / "m.safetensors",
            distributed=True,
            **TINY,
        )
    assert list(tmp_path.iterdir()) == []

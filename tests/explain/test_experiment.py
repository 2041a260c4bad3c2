"""Experiment grids: the TOML parser, a two-run grid end to end, and its resume."""

from __future__ import annotations

import json
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from PIL import Image

from helpers import FailsWith
from painterly.cli import main
from painterly.errors import ConfigError
from painterly.explain import experiment
from painterly.files.pairs import read_pair

GRID = """
preset = "default"
[base]
iterations = 3
[grid]
style_weight = [1, 10]
"""


def test_grid_is_the_cartesian_product() -> None:
    text = GRID + 'content_layers = ["block4_conv2", ["block1_conv1", "block2_conv1"]]\n'
    preset, base, runs = experiment.parse_grid(text)
    assert preset == "default" and base == {"iterations": 3}
    assert len(runs) == 4
    assert runs[1].options == {
        "style_weight": 1,
        "content_layers": ("block1_conv1", "block2_conv1"),
    }
    assert "style_weight 10" in runs[3].name


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            "[grid]\nstyle_wieght = [1]\n",
            "unknown option 'style_wieght'. Did you mean 'style_weight'",
        ),
        ("[grid]\nstyle_weight = []\n", "grid.style_weight is empty"),
        ('[grid]\nstyle_weight = [1, "high"]\n', "grid.style_weight[1] = 'high' is a str"),
        ("[grid]\nstyle_weight = 1\n", "must be a list of values"),
        ("[grid]\ncontent_layers = [[1]]\n", "give a list of layer names"),
        ("[grid]\nsize = [1.5]\n", "give a whole number"),
        ('[grid]\nstyle_layers = ["block9_conv1"]\n', "unknown layer 'block9_conv1'"),
        ("[grids]\nsize = [64]\n", "unknown key 'grids'"),
        ("[base]\nsize = 64\n", "no [grid] table"),
        ("[grid\n", "is not valid TOML"),
        ('preset = "gatys"\n[grid]\nsize = [64]\n', "unknown preset 'gatys'"),
    ],
)
def test_bad_grids_say_what_is_wrong(text: str, message: str) -> None:
    with pytest.raises(ConfigError) as info:
        experiment.parse_grid(text, "g.toml")
    assert message in str(info.value) and str(info.value).startswith("g.toml")


def test_article_grid_has_the_sections_runs() -> None:
    runs = experiment.article_grid("article", styles=2)
    assert len(runs) == 7
    assert runs[1].options == {"style_weight": pytest.approx(0.1)}
    assert runs[-1].styles == (0, 1)
    assert len(experiment.article_grid("article", styles=1)) == 6


def test_two_run_grid_end_to_end_with_shared_targets(
    tmp_path: Path, content_path: Path, style_path: Path
) -> None:
    grid = tmp_path / "grid.toml"
    grid.write_text(GRID)
    out = tmp_path / "out"
    argv = ["experiment", str(content_path), str(style_path), "-o", str(out), "--grid", str(grid)]
    assert main([*argv, "--size", "48", "--plot", "-q"]) == 0
    rows = json.loads((out / "results.json").read_text())
    assert [r["options"] for r in rows] == [{"style_weight": 1}, {"style_weight": 10}]
    assert rows[1]["style_loss"] < rows[0]["style_loss"]
    assert all((out / r["image"]).is_file() for r in rows)
    header = (out / "results.csv").read_text().splitlines()[0]
    assert header.startswith("run,name,image,options") and "content_loss" in header
    assert Image.open(out / "sheet.jpg").width <= 1200
    assert (out / "losses.png").is_file()
    grid_result = experiment.run_grid(
        content_path,
        [style_path],
        experiment.parse_grid(GRID)[2],
        out,
        "default",
        {"iterations": 3, "size": 48, "seed": 0},
    )
    assert grid_result.reused == 2  # run again: nothing is recomputed


def test_targets_are_computed_once_for_the_grid(
    tmp_path: Path, content_path: Path, style_path: Path
) -> None:
    runs = experiment.parse_grid(GRID)[2]
    done = experiment.run_grid(
        content_path, [style_path], runs, tmp_path, "default", {"size": 48, "iterations": 2}
    )
    assert done.cache.misses == 2 and done.cache.hits == 2  # content and style, once each


def test_a_grid_resumes_only_whole_pairs_of_the_same_inputs(
    tmp_path: Path, content_path: Path, style_path: Path
) -> None:
    runs = experiment.parse_grid(GRID)[2]
    base = {"size": 48, "iterations": 2, "seed": 0}
    first = experiment.run_grid(content_path, [style_path], runs, tmp_path, "default", base)
    assert first.reused == 0 and len(first.rows) == 2
    damaged = tmp_path / first.rows[1]["image"]
    damaged.write_bytes(damaged.read_bytes()[:-1])  # the image is there, but not whole
    again = experiment.run_grid(content_path, [style_path], runs, tmp_path, "default", base)
    assert again.reused == 1 and again.rows[0] == first.rows[0]
    assert read_pair(damaged) is not None  # run again and written whole
    other = tmp_path / "other.png"
    Image.open(content_path).transpose(Image.Transpose.FLIP_LEFT_RIGHT).save(other)
    moved = experiment.run_grid(other, [style_path], runs, tmp_path, "default", base)
    assert moved.reused == 0  # another photo: the same options are other runs
    assert {r["image"] for r in moved.rows}.isdisjoint(r["image"] for r in first.rows)


@pytest.mark.subprocess
def test_a_killed_grid_resumes_where_it_stopped(
    tmp_path: Path, content_path: Path, style_path: Path
) -> None:
    grid = tmp_path / "grid.toml"
    grid.write_text('preset = "default"\n[grid]\niterations = [3, 100000]\n')
    out = tmp_path / "out"
    argv = [sys.executable, "-m", "painterly", "experiment", str(content_path), str(style_path)]
    argv += ["-o", str(out), "--grid", str(grid), "--size", "48", "-q"]
    proc = subprocess.Popen(argv, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 240
    while not list(out.glob("01-*.json")) and time.monotonic() < deadline:
        time.sleep(0.2)
    time.sleep(1.0)  # well into the second, endless run
    assert proc.poll() is None, proc.stderr.read() if proc.stderr else ""
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=60)
    first = next(out.glob("01-*.png"))
    stamp = first.stat().st_mtime_ns
    assert not list(out.glob("02-*.json")) and not list(out.glob("02-*.png"))
    assert not list(out.glob(".*.part"))  # nothing half-written
    preset, base, runs = experiment.parse_grid(grid.read_text())
    runs[1] = experiment.Run(runs[1].name, {"iterations": 3})  # finish quickly this time
    base = {"size": 48, "seed": 0}
    done = experiment.run_grid(content_path, [style_path], runs, out, preset, base)
    assert done.reused == 1 and first.stat().st_mtime_ns == stamp
    assert len(list(out.glob("0*.png"))) == 2 and len(done.rows) == 2


def test_experiment_cli_errors_are_one_line(
    tmp_path: Path, fails_with: FailsWith, content_path: Path, style_path: Path
) -> None:
    grid = tmp_path / "bad.toml"
    grid.write_text("[grid]\nstyle_weight = []\n")
    argv = ["experiment", str(content_path), str(style_path), "-o", str(tmp_path / "o")]
    fails_with([*argv, "--grid", str(grid)], "bad.toml: grid.style_weight is empty")
    assert not (tmp_path / "o").exists()


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("base = 5\n[grid]\nseed = [1]\n", "g.toml: base = 5 is not a table"),
        ('preset = ["a"]\n[grid]\nseed = [1]\n', "g.toml: preset = ['a'] is not a name"),
        ("[grid]\nseed = [100000000000000000000]\n", "seed 100000000000000000000 is out of range"),
    ],
)
def test_grid_values_of_the_wrong_kind_say_so(text: str, message: str) -> None:
    with pytest.raises(ConfigError, match=re.escape(message)):
        experiment.parse_grid(text, "g.toml")


def test_a_huge_grid_is_refused_before_it_is_expanded(monkeypatch: pytest.MonkeyPatch) -> None:
    values = ", ".join(str(i) for i in range(1, 101))
    text = f"[grid]\nseed = [{values}]\nstyle_weight = [{values}]\niterations = [{values}]\n"
    monkeypatch.setattr(experiment, "_check_value", None)  # never reached
    with pytest.raises(
        ConfigError, match="100 × 100 × 100 = 1,000,000 runs, over the limit of 1,000"
    ):
        experiment.parse_grid(text, "g.toml")
    monkeypatch.undo()
    assert len(experiment.parse_grid("[grid]\nseed = [1, 2, 3]\n", max_runs=3)[2]) == 3
    with pytest.raises(ConfigError, match="--max-runs"):
        experiment.parse_grid("[grid]\nseed = [1, 2, 3]\n", max_runs=2)


def test_experiment_cli_refuses_before_writing_anything(
    tmp_path: Path, fails_with: FailsWith, content_path: Path, style_path: Path
) -> None:
    out = tmp_path / "o"
    argv = ["experiment", str(content_path), str(style_path), "-o", str(out)]
    (tmp_path / "binary.toml").write_bytes(bytes(range(256)))
    fails_with([*argv, "--grid", str(tmp_path / "binary.toml")], "is not a text (UTF-8 TOML) file")
    fails_with([*argv, "--size", "16"], "use --size 21 or more")
    big = tmp_path / "big.toml"
    big.write_text("[grid]\nseed = [1, 2, 3]\n")
    fails_with([*argv, "--grid", str(big), "--max-runs", "2"], "over the limit of 2")
    assert not out.exists()
    fails_with([*argv[:-1], "/proc/self/exp"], "folder '/proc/self/exp' cannot be written")
    fails_with([*argv[:-1], str(content_path)], "is a file: give a folder")

"""An experiment grid on Dask workers: the same files as one run after another, and each
way resumes the other's grid."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from painterly.cli import main

pytestmark = pytest.mark.cluster

GRID = """
preset = "default"
[base]
iterations = 3
scales = 1
[grid]
style_weight = [1, 10]
"""


def test_grid_on_two_local_workers_then_resumed_in_process(
    tmp_path: Path, content_path: Path, style_path: Path
) -> None:
    grid = tmp_path / "grid.toml"
    grid.write_text(GRID)
    out = tmp_path / "grid"
    argv = ["experiment", str(content_path), str(style_path), "--grid", str(grid)]
    argv += ["--size", "48", "-o", str(out), "-q"]
    assert main([*argv, "--workers", "2"]) == 0
    rows = json.loads((out / "results.json").read_text())
    assert [r["options"] for r in rows] == [{"style_weight": 1}, {"style_weight": 10}]
    assert all(r["steps"] == 3 and (out / r["image"]).is_file() for r in rows)
    record = json.loads((out / rows[1]["image"]).with_suffix(".json").read_text())
    assert len(record["history"]) == 3 and record["config"]["style_weight"] == 10
    assert (out / "sheet.jpg").is_file()
    stamps = [(out / r["image"]).stat().st_mtime_ns for r in rows]
    assert main(argv) == 0  # in-process now: both runs are reused
    assert [(out / r["image"]).stat().st_mtime_ns for r in rows] == stamps

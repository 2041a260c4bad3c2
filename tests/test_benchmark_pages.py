"""The benchmark pages' tables, written from results files (benchmarks/pages.py)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from benchmarks import pages

MACHINE = {
    "date": "2026-12-02T15:49:59Z",
    "cpu": "AMD EPYC",
    "cores": 2,
    "cores_total": 2,
    "amx": False,
    "bf16": True,
    "torch": "2.13.0+cpu",
    "cuda": None,
    "rev": "f5b754a",
    "dirty": False,
    "load": [4.6, 4.1, 2.5],
}


def _file(tmp_path: Path, benchmark: str, argv: list[str], rows: list[dict[str, Any]]) -> Path:
    """A results file as harness.Results.save writes one."""
    data = {"benchmark": benchmark, "complete": True, "argv": argv, "machine": MACHINE}
    path = tmp_path / f"{benchmark}.json"
    path.write_text(json.dumps({**data, "rows": rows}))
    return path


def test_a_missing_file_is_a_note_not_an_error(tmp_path: Path) -> None:
    text = pages.render(tmp_path / "run-nowhere.json")
    assert "No results file yet" in text and "run-nowhere.json" in text


def test_the_stamp_names_date_commit_machine_and_command(tmp_path: Path) -> None:
    path = _file(tmp_path, "tiles", ["tiles", "plan"], [])  # argv as sys.argv[1:]
    text = pages.render(path, "stamp")
    assert "2026-12-02 15:49 UTC" in text and "`f5b754a`" in text
    assert "AMD EPYC (native bf16), 2 of 2 cores" in text and "load 4.6/4.1/2.5" in text
    assert "`python -m benchmarks tiles plan`" in text


def test_a_table_writes_each_row_of_its_section(tmp_path: Path) -> None:
    rows: list[dict[str, Any]] = [
        {"section": "history", "history": 30, "losses": {"total": 0.60761}},
        {"section": "history", "history": 5, "losses": {"total": 0.61109}},
        {"section": "speed", "size": "1024×768"},
    ]
    text = pages.render(_file(tmp_path, "tiles", ["history"], rows), "history")
    assert text.splitlines()[2:4] == ["| 30 | 0.6076 |", "| 5 | 0.6111 |"]


def test_a_pivot_takes_the_median_of_the_rounds(tmp_path: Path) -> None:
    walls = {"now": [22.3, 24.8, 20.3], "before": [56.3, 54.5, 46.7]}
    rows = [
        {"section": "run", "round": i, "run": name, "wall": values[i]}
        for i in range(3)
        for name, values in walls.items()
    ]
    text = pages.render(_file(tmp_path, "schedule", ["OUT"], rows), "rounds")
    lines = [line for line in text.splitlines() if line.startswith("|")]
    assert lines[0] == "| round | now | before |"
    assert lines[2] == "| 0 | 22.3 s | 56.3 s |"
    assert lines[-1] == "| median | 22.3 s | 54.5 s |"


def test_values_of_another_shape_are_written_as_they_are(tmp_path: Path) -> None:
    rows = [{"section": "history", "history": 30, "losses": {"total": "n/a"}}]
    text = pages.render(_file(tmp_path, "tiles", ["history"], rows), "history")
    assert "| 30 | n/a |" in text

"""Today's schedule against the one before, side by side: the demo (512 px, the bundled
Tübingen + Starry Night, seed 0) with the defaults and with the schedule painterly had
until 2026-11-28 (``race.BEFORE``), alternated, each in a child process, with the
content and style errors of each picture (``painterly.score``).

Both run in the precision the probe picks once at the start, so that a probe disturbed
by the machine's load cannot give the two different ones.

    python benchmarks/schedule.py OUT [--repeats 2] [--size 512]
    python benchmarks/schedule.py OUT --try "t07=--taper 0.7 --iterations 140"

``--try NAME=OPTIONS`` adds a run with those ``stylize`` options to each round, to try
a schedule against both.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import race

from painterly.runtime import faster_precision
from painterly.score import score

RUNS = {"before": race.BEFORE, "now": ()}


def one_run(
    name: str, out: Path, size: int, precision: str, runs: dict[str, tuple[str, ...]]
) -> dict[str, float | str]:
    content, style = race.DATA / "tubingen.jpg", race.DATA / "starry_night.jpg"
    cmd = [sys.executable, "-m", "painterly", "stylize", str(content), str(style), "-o", str(out)]
    cmd += ["--seed", "0", "--size", str(size), "--precision", precision, "-q", *runs[name]]
    cpu, start, load = race.child_seconds(), time.perf_counter(), race.load()
    subprocess.run(cmd, check=True)
    wall = time.perf_counter() - start
    record = json.loads(out.with_suffix(".json").read_text())
    s = score(out, content, [style])
    row: dict[str, float | str] = {
        "run": name,
        "wall": round(wall, 1),
        "cpu": round(race.child_seconds() - cpu, 1),
        "steps": record["steps"],
        "content_err": round(s.content_err, 4),
        "style_err": round(s.style_err, 4),
        "load": load,
    }
    print(json.dumps(row), flush=True)
    return row


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("out", type=Path)
    parser.add_argument("--repeats", type=int, default=1)
    parser.add_argument("--size", type=int, default=512)
    parser.add_argument("--try", dest="tries", action="append", default=[], metavar="NAME=OPTS")
    args = parser.parse_args()
    runs = dict(RUNS)
    for entry in args.tries:
        name, _, options = entry.partition("=")
        runs[name] = tuple(options.split())
    args.out.mkdir(parents=True, exist_ok=True)
    precision = faster_precision("cpu")
    print(f"# Schedule before and now, {time.strftime('%Y-%m-%d %H:%M')}, {precision}\n")
    rows = [
        one_run(name, args.out / f"{name}-{i}.png", args.size, precision, runs)
        for i in range(args.repeats)
        for name in runs
    ]
    print("\n| run | wall (s) | CPU (s) | steps | content_err | style_err | load (1/5/15 min) |")
    print("|---|---|---|---|---|---|---|")
    for r in rows:
        print(
            f"| {r['run']} | {r['wall']} | {r['cpu']} | {r['steps']} | {r['content_err']} | "
            f"{r['style_err']} | {r['load']} |"
        )
    for key in ("wall", "cpu"):
        mid = {n: statistics.median(float(r[key]) for r in rows if r["run"] == n) for n in runs}
        for name in runs:
            if name != "before":
                print(f"- {key}: {name} / before = {mid[name] / mid['before']:.2f}")


if __name__ == "__main__":
    main()

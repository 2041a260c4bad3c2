"""Today's schedule against the one before, side by side: the demo (512 px, the bundled
Tübingen + Starry Night, seed 0) with the defaults and with the schedule painterly had
until 2026-11-28 (``race.BEFORE``), alternated, each in a child process, with the
content and style errors of each picture (``painterly.explain.score``).

Both run in the precision the probe picks once at the start, so that a probe disturbed
by the machine's load cannot give the two different ones.

    python benchmarks/schedule.py OUT [--repeats 2] [--size 512]
    python benchmarks/schedule.py OUT --try "t07=--taper 0.7 --iterations 140"

``--try NAME=OPTIONS`` adds a run with those ``stylize`` options to each round, to try
a schedule against both. ``--against REV`` adds a run of the demo's defaults as they were
at the git revision REV (checked out into a temporary worktree and run from its
sources), so that "half today's time" is measured against the code of that day in the
same rounds:

    python benchmarks/schedule.py OUT --against 732850f --try "fast=--iterations 100"

``--no-before`` leaves the old schedule on today's code out of the rounds.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import probe
import race

from painterly.engine.precision import faster_precision
from painterly.explain.score import score

RUNS = {"before": race.BEFORE, "now": ()}
REPO = Path(__file__).resolve().parents[1]


@contextlib.contextmanager
def worktree(rev: str) -> Iterator[Path]:
    """The sources of git revision ``rev``, checked out for the duration."""
    with tempfile.TemporaryDirectory() as folder:
        tree = Path(folder) / "tree"
        git = ["git", "-C", str(REPO), "worktree"]
        subprocess.run([*git, "add", "--detach", str(tree), rev], check=True, capture_output=True)
        try:
            yield tree / "src"
        finally:
            subprocess.run([*git, "remove", "--force", str(tree)], check=True)


def one_run(
    name: str,
    out: Path,
    size: int,
    precision: str,
    runs: dict[str, tuple[str, ...]],
    sources: Path | None = None,
) -> dict[str, float | str]:
    """One demo run in a child process; with ``sources``, from those sources."""
    content, style = race.DATA / "tubingen.jpg", race.DATA / "starry_night.jpg"
    cmd = [sys.executable, "-m", "painterly", "stylize", str(content), str(style), "-o", str(out)]
    cmd += ["--seed", "0", "--size", str(size), "--precision", precision, "-q", *runs[name]]
    env = dict(os.environ)
    if sources is not None:
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(sources), env.get("PYTHONPATH")]))
    cpu, start, load = race.child_seconds(), time.perf_counter(), race.load()
    subprocess.run(cmd, check=True, env=env)
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
    parser.add_argument("--against", metavar="REV", help="also run the defaults of git REV")
    parser.add_argument(
        "--no-before", action="store_true", help="leave out today's code on the old schedule"
    )
    args = parser.parse_args()
    runs = dict(RUNS)
    if args.no_before:
        del runs["before"]
    if args.against:
        runs[args.against] = ()
    for entry in args.tries:
        name, _, options = entry.partition("=")
        runs[name] = tuple(options.split())
    args.out.mkdir(parents=True, exist_ok=True)
    precision = faster_precision("cpu")
    print(f"# Schedule before and now, {time.strftime('%Y-%m-%d %H:%M')}, {precision}\n")
    with contextlib.ExitStack() as stack:
        sources = (
            {args.against: stack.enter_context(worktree(args.against))} if args.against else {}
        )
        rows = [
            one_run(
                name, args.out / f"{name}-{i}.png", args.size, precision, runs, sources.get(name)
            )
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
    base = args.against or "before"
    for key in ("wall", "cpu"):
        by_run = {n: [float(r[key]) for r in rows if r["run"] == n] for n in runs}
        mid = {n: statistics.median(values) for n, values in by_run.items()}
        for name in runs:
            if name != base:
                # and the median of each round's ratio: the machine's speed swings between
                # rounds, and a round's runs are minutes apart, not hours
                paired = probe.paired_ratios(by_run[name], by_run[base])
                print(
                    f"- {key}: {name} / {base} = {mid[name] / mid[base]:.2f} (medians); "
                    f"{statistics.median(paired):.2f} (median of the rounds' ratios, "
                    f"{min(paired):.2f}–{max(paired):.2f})"
                )


if __name__ == "__main__":
    main()

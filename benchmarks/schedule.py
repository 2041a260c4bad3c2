"""Today's schedule against the one before, side by side: the demo (512 px, the bundled
Tübingen + Starry Night, seed 0) with the defaults and with the schedule painterly had
until 2026-11-28 (``race.BEFORE``), alternated, each in a child process, with the
content and style errors of each picture (``painterly.explain.score``).

Both run in the precision the probe picks once at the start, so that a probe disturbed
by the machine's load cannot give the two different ones.

    python -m benchmarks schedule OUT [--repeats 2] [--size 512]
    python -m benchmarks schedule OUT --try "t07=--taper 0.7 --iterations 140"

``--try NAME=OPTIONS`` adds a run with those ``stylize`` options to each round, to try
a schedule against both. ``--against REV`` adds a run of the demo's defaults as they were
at the git revision REV (checked out into a temporary worktree and run from its
sources), so that "half today's time" is measured against the code of that day in the
same rounds:

    python -m benchmarks schedule OUT --against 732850f --try "fast=--iterations 100"

``--no-before`` leaves the old schedule on today's code out of the rounds.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import statistics
import subprocess
import tempfile
from collections.abc import Collection, Iterator
from pathlib import Path

from painterly.explain.score import score
from painterly.files.samples import bundled

from . import engine, harness, race
from .harness import Results

RUNS = {"before": race.BEFORE, "now": ()}


@contextlib.contextmanager
def worktree(rev: str) -> Iterator[Path]:
    """The sources of git revision ``rev``, checked out for the duration."""
    with tempfile.TemporaryDirectory() as folder:
        tree = Path(folder) / "tree"
        git = ["git", "-C", str(harness.ROOT), "worktree"]
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
    content, style = bundled("tubingen.jpg"), bundled("starry_night.jpg")
    args = [str(content), str(style), "-o", str(out), "--seed", "0", "--size", str(size)]
    args += ["--precision", precision, "-q", *runs[name]]
    env = dict(os.environ)
    if sources is not None:
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(sources), env.get("PYTHONPATH")]))
    load = harness.load()
    child = harness.run_child(harness.painterly_argv("stylize", *args), env=env)
    record = json.loads(out.with_suffix(".json").read_text())
    s = score(out, content, [style])
    row: dict[str, float | str] = {
        "run": name,
        "wall": round(child.seconds, 1),
        "cpu": round(child.cpu_seconds, 1),
        "steps": record["steps"],
        "content_err": round(s.content_err, 4),
        "style_err": round(s.style_err, 4),
        "load": load,
    }
    print(json.dumps(row), flush=True)
    return row


def parser() -> argparse.ArgumentParser:
    p = harness.parser("schedule", __doc__)
    p.add_argument("out", type=Path)
    p.add_argument("--repeats", type=int, default=1)
    p.add_argument("--size", type=int, default=512)
    p.add_argument("--try", dest="tries", action="append", default=[], metavar="NAME=OPTS")
    p.add_argument("--against", metavar="REV", help="also run the defaults of git REV")
    p.add_argument(
        "--no-before", action="store_true", help="leave out today's code on the old schedule"
    )
    return p


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    runs = dict(RUNS)
    if args.no_before:
        del runs["before"]
    if args.against:
        runs[args.against] = ()
    for entry in args.tries:
        name, _, options = entry.partition("=")
        runs[name] = tuple(options.split())
    args.out.mkdir(parents=True, exist_ok=True)
    precision = engine.faster_precision("cpu")
    title = f"Schedule before and now, {precision}"
    with harness.recording("schedule", vars(args), title) as out, contextlib.ExitStack() as stack:
        sources = (
            {args.against: stack.enter_context(worktree(args.against))} if args.against else {}
        )
        rows = []
        for i in range(args.repeats):
            for name in runs:
                image = args.out / f"{name}-{i}.png"
                rows.append(one_run(name, image, args.size, precision, runs, sources.get(name)))
                out.add("run", {"round": i, **rows[-1]})
        report(out, rows, runs, args.against or "before")
    return 0


def report(
    out: Results, rows: list[dict[str, float | str]], runs: Collection[str], base: str
) -> None:
    """The table of runs, and each run's wall and CPU time over ``base``'s."""
    print("\n| run | wall (s) | CPU (s) | steps | content_err | style_err | load (1/5/15 min) |")
    print("|---|---|---|---|---|---|---|")
    for r in rows:
        print(
            f"| {r['run']} | {r['wall']} | {r['cpu']} | {r['steps']} | {r['content_err']} | "
            f"{r['style_err']} | {r['load']} |"
        )
    if base not in runs:
        return
    for key in ("wall", "cpu"):
        by_run = {n: [float(r[key]) for r in rows if r["run"] == n] for n in runs}
        mid = {n: statistics.median(values) for n, values in by_run.items()}
        for name in runs:
            if name != base:
                # and the median of each round's ratio: the machine's speed swings between
                # rounds, and a round's runs are minutes apart, not hours
                paired = harness.paired_ratios(by_run[name], by_run[base])
                ratio = {
                    "run": name,
                    "over": base,
                    "of": key,
                    "medians": mid[name] / mid[base],
                    "paired": statistics.median(paired),
                    "range": [min(paired), max(paired)],
                }
                out.add("ratio", ratio)
                print(
                    f"- {key}: {name} / {base} = {mid[name] / mid[base]:.2f} (medians); "
                    f"{statistics.median(paired):.2f} (median of the rounds' ratios, "
                    f"{min(paired):.2f}–{max(paired):.2f})"
                )

"""The time–quality curve: content and style error against the time spent, at 512 px
on the demo pair, for painterly (``--time T``) and for pastiche 1.6.0 on its own
defaults and on painterly's objective (without TV, as in ``race.py``).

painterly runs once per budget. pastiche has no time budget: it runs once per setting,
saving its image after every step, and the image at budget T is the last one saved
before its own clock (``elapsed``, which counts its set-up as painterly's counts its
own) passed T. Writes ``curve.png`` (the plot), ``strip.jpg`` (the pictures at each
budget) and ``curve.json`` into OUT.

    python -m benchmarks curve OUT [--times 5 10 20 40 80] [--size 512] [--reuse]

Images are names from ``$PAINTERLY_BENCH_IMAGES`` where set (the full-size originals),
else the bundled ones, or paths.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
from pathlib import Path

from matplotlib.figure import Figure
from matplotlib.ticker import NullFormatter

from painterly.config.settings import Config
from painterly.explain.score import score
from painterly.files.sheets import contact_sheet, save_sheet

from . import harness, race
from .harness import Results

Point = dict[str, float | str]


def painterly_points(
    content: Path, style: Path, size: int, times: list[float], out: Path, reuse: bool = False
) -> list[Point]:
    """painterly with each time budget; with ``reuse``, the images of an earlier run in
    ``out`` are scored again instead (their wall time is the one they recorded)."""
    points: list[Point] = []
    for budget in times:
        path = out / f"painterly-{budget:g}.png"
        record = path.with_suffix(".json")
        if reuse and path.exists() and record.exists():
            wall = float(json.loads(record.read_text())["seconds"])
            points.append(_point("painterly", budget, path, content, style, wall))
            continue
        args = [str(content), str(style), "-o", str(path), "--seed", "0", "--size", str(size)]
        child = harness.run_child(
            harness.painterly_argv("stylize", *args, "--time", str(budget), "-q")
        )
        points.append(_point("painterly", budget, path, content, style, child.seconds))
    return points


def pastiche_steps(cmd: list[str], limit: float) -> dict[int, float]:
    """Run pastiche until its clock passes ``limit`` seconds; return step → elapsed."""
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}  # each step's line as it happens
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True, env=env)
    assert proc.stdout is not None
    elapsed: dict[int, float] = {}
    for line in proc.stdout:
        found = re.match(r"^(\d+)\s+(\S+)\s+\S+$", line.strip())
        if found:
            elapsed[int(found.group(1))] = float(found.group(2))
            if elapsed[int(found.group(1))] > limit:
                break
    proc.terminate()
    proc.wait()
    return elapsed


def pastiche_points(
    name: str, flags: list[str], content: Path, style: Path, times: list[float], out: Path
) -> list[Point]:
    folder = out / name
    folder.mkdir(exist_ok=True)
    cmd = [sys.executable, "-m", "pastiche", "-c", str(content), "-s", str(style)]
    cmd += ["-o", str(folder / "final.png"), "--num-steps", "100000", "--seed", "0"]
    cmd += ["--info-step", "1", "--workspace", str(folder), "--workspace-step", "1", *flags]
    elapsed = pastiche_steps(cmd, max(times))
    # pastiche pads the step in its file names to the width of --num-steps
    saved = {int(p.stem): p for p in folder.glob("*.png") if p.stem.isdigit()}
    points: list[Point] = []
    for budget in times:
        done = [step for step, seconds in elapsed.items() if seconds <= budget]
        step = max(done, default=0)
        points.append(_point(name, budget, saved[step], content, style, elapsed.get(step, 0.0)))
    return points


def _point(name: str, budget: float, path: Path, content: Path, style: Path, wall: float) -> Point:
    s = score(path, content, [style])
    point: Point = {
        "run": name,
        "budget": budget,
        "wall": round(wall, 1),
        "content_err": round(s.content_err, 4),
        "style_err": round(s.style_err, 4),
        "image": str(path),
        "load": round(os.getloadavg()[0], 1),
    }
    print(json.dumps(point), flush=True)
    return point


def plot(points: list[Point], path: Path, title: str) -> None:
    """Content and style error against the budget, a line per run."""
    fig = Figure(figsize=(9, 3.6))
    axes = fig.subplots(1, 2, sharex=True)
    for run in dict.fromkeys(str(p["run"]) for p in points):
        mine = [p for p in points if p["run"] == run]
        for ax, key in zip(axes, ("content_err", "style_err"), strict=True):
            ax.plot([p["budget"] for p in mine], [p[key] for p in mine], "o-", label=run)
    budgets = sorted({float(p["budget"]) for p in points})
    for ax, key in zip(axes, ("content error", "style error"), strict=True):
        ax.set_xscale("log")
        ax.set_xticks(budgets, [f"{b:g}" for b in budgets])
        ax.xaxis.set_minor_formatter(NullFormatter())
        ax.set_xlabel("time budget (s)")
        ax.set_ylabel(key)
        ax.grid(alpha=0.3)
    axes[0].legend(fontsize=8, loc="upper left")  # the empty corner
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=90)


def parser() -> argparse.ArgumentParser:
    p = harness.parser("curve", __doc__)
    p.add_argument("out", type=Path)
    p.add_argument("--times", type=float, nargs="+", default=[5, 10, 20, 40, 80])
    p.add_argument("--size", type=int, default=512)
    p.add_argument("--content", default="tubingen")
    p.add_argument("--style", default="starry_night")
    p.add_argument(
        "--reuse", action="store_true", help="score painterly's images already in OUT again"
    )
    return p


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    content, style = harness.image(args.content), harness.image(args.style)
    with harness.recording("curve", vars(args), "The time–quality curve") as out:
        points = curve(out, args, content, style)
    title = (
        f"{content.stem} + {style.stem} at {args.size} px, {out.facts.date[:10]}, "
        f"load {'/'.join(f'{x:.1f}' for x in out.facts.load)}"
    )
    plot(points, args.out / "curve.png", title)
    cells = [
        (
            Path(str(p["image"])),
            f"{p['run']}\n{p['budget']:g} s: c {p['content_err']:.3f} s {p['style_err']:.3f}",
        )
        for p in points
    ]
    save_sheet(
        contact_sheet(cells, columns=len(args.times), thumb=200, font_size=11),
        args.out / "strip.jpg",
    )
    for p in points:
        print(f"| {p['run']} | {p['budget']:g} | {p['content_err']:.3f} | {p['style_err']:.3f} |")
    return 0


def curve(out: Results, args: argparse.Namespace, content: Path, style: Path) -> list[Point]:
    """Every run's points, kept in ``out`` and in ``OUT/curve.json``."""
    cfg = Config(tv_weight=0.0)
    k = race.loss_scale(content, style, args.size, cfg)
    same = race.pastiche_flags(content, style, args.size, cfg, k)
    own = ["--size", str(args.size)]
    points = painterly_points(content, style, args.size, args.times, args.out, args.reuse)
    points += pastiche_points("pastiche, own defaults", own, content, style, args.times, args.out)
    points += pastiche_points(
        "pastiche, painterly's objective", same, content, style, args.times, args.out
    )
    for point in points:
        out.add("point", point)
    (args.out / "curve.json").write_text(json.dumps(points, indent=2))
    return points

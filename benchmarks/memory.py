"""The memory plan's estimate against the measured peak: ``python -m benchmarks memory``.

    python -m benchmarks memory [--runs 768 1024 1536 2048/512] [--precision fp32 bf16]
                                [--steps 3] [--default 1024]

Each run is ``painterly stylize`` of the bundled pair (or ``$PAINTERLY_BENCH_IMAGES``'
originals) in a child process of its own, at one scale of ``--steps`` steps:
``SIZE`` takes whole steps, ``SIZE/TILE`` steps in tiles of TILE px. The peak is the
child's largest resident set (``wait4``); the estimate is the one its record states
(what the guard compared with the memory available before the run began). A plan that
holds must never be below the peak (the kernel would kill the run the guard let start)
and should be within 10% above it (else the guard refuses sizes that fit, or picks
smaller tiles than it could). ``--default`` adds whole default runs (every scale, the
default steps) at those sizes.
"""

from __future__ import annotations

import argparse
import json
import tempfile
from pathlib import Path

from . import harness
from .harness import Results


def measure(
    out: Results, tmp: Path, size: int, tile: int | None, precision: str, extra: list[str]
) -> None:
    """One child's peak against its record's estimate."""
    content, style = harness.image("tubingen"), harness.image("starry_night")
    image = tmp / f"m{size}-{tile}-{precision}.png"
    args = [str(content), str(style), "-o", str(image), "--seed", "0", "--size", str(size)]
    args += ["--precision", precision, *extra, "-q"]
    if tile is not None:
        args += ["--tile", str(tile)]
    child = harness.run_child(harness.painterly_argv("stylize", *args), capture=True)
    record = json.loads(image.with_suffix(".json").read_text())
    memory = record["memory"]
    estimate = float(memory["estimated_peak_gib"])
    row = {
        "side": size,
        "tile": memory["tile"],
        "precision": record["precision"],
        "history": memory["lbfgs_history"],
        "steps": record["steps"],
        "default run": not extra,
        "peak_gib": child.peak_gib,
        "estimate_gib": estimate,
        "ratio": estimate / child.peak_gib,
        "seconds": child.seconds,
    }
    out.add("memory", row)
    tiles = f"{memory['tile']} px tiles" if memory["tile"] else "whole"
    print(
        f"| {size} | {tiles} | {row['precision']} | {row['history']} | {row['steps']} | "
        f"{child.peak_gib:.2f} | {estimate:.2f} | {row['ratio']:.2f} |",
        flush=True,
    )


def _run(text: str) -> tuple[int, int | None]:
    size, _, tile = text.partition("/")
    return int(size), int(tile) if tile else None


def parser() -> argparse.ArgumentParser:
    p = harness.parser("memory", __doc__)
    p.add_argument("--runs", nargs="+", default=["768", "1024", "1536", "2048/512"])
    p.add_argument("--precision", nargs="+", default=["fp32", "bf16"])
    p.add_argument("--steps", type=int, default=3)
    p.add_argument("--default", type=int, nargs="*", default=[], help="default runs' sizes")
    return p


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    runs = [_run(r) for r in args.runs]
    one_scale = ["--scales", "1", "--iterations", str(args.steps), "--stop-tolerance", "0"]
    with (
        harness.recording("memory", vars(args), "The memory plan against the peak") as out,
        tempfile.TemporaryDirectory() as folder,
    ):
        tmp = Path(folder)
        print(
            "| size | steps in | precision | history | steps | peak (GiB) | plan (GiB) "
            "| plan / peak |"
        )
        print("|---|---|---|---|---|---|---|---|")
        for precision in args.precision:
            for size, tile in runs:
                measure(out, tmp, size, tile, precision, one_scale)
        for size in args.default:
            measure(out, tmp, size, None, "auto", [])
        ratios = [row["ratio"] for row in out.rows]
        print(f"\n- plan / peak from {min(ratios):.2f} to {max(ratios):.2f}")
    return 0

"""painterly on a CUDA GPU: the step against its convolutions, and whole default runs.

    python -m benchmarks gpu [--sizes 512 2048 4096] [--repeats 3] [--no-step]

Meant for one call on a lent GPU machine (``benchmarks/gpu.sh`` runs the CUDA tests
first, then this). Prints, in this one process:

1. the step against its convolutions at 512 and 2048 px wide, in the precision painterly
   picks there (bf16 where the GPU has it; channels-last; cuDNN autotuning on), as
   ``python -m benchmarks run --device cuda`` measures it on the CPU;
2. a default run of the bundled pair at each of ``--sizes`` (``painterly stylize
   --size N`` with its defaults and a fixed seed): wall time including the targets and
   cuDNN's first-call autotuning, steps, GPU memory at its peak against the memory plan's
   estimate, and the scores of the result seen at 512 px.

The targets a lent H100 or H200 should meet: 512 px under 2 s, 2048 px under 20 s and
4096 px under 90 s for the whole run.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import torch

from painterly import stylize
from painterly.explain.score import score
from painterly.files import images
from painterly.files.samples import bundled

from . import harness
from .harness import Results
from .run import section_speed

TARGETS = {512: 2.0, 2048: 20.0, 4096: 90.0}  # seconds, whole run, on an H100/H200


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def section_runs(out: Results, sizes: list[int], tmp: Path, device: torch.device) -> None:
    """A default run at each size on ``device``, timed from the call to the result."""
    cuda = device.type == "cuda"
    content, style = bundled("tubingen.jpg"), bundled("starry_night.jpg")
    print(f"## Default runs on {device} (bundled Tübingen + Starry Night, seed 0)\n")
    print("| size | wall (s) | target (s) | steps | precision | GPU peak (GiB) | plan (GiB) |")
    print("|---|---|---|---|---|---|---|")
    for side in sizes:
        _sync(device)
        if cuda:
            torch.cuda.reset_peak_memory_stats(device)
        start = time.perf_counter()
        result = stylize(content, [style], size=side, seed=0, device=device.type)
        _sync(device)
        seconds = time.perf_counter() - start
        peak = torch.cuda.max_memory_allocated(device) / 2**30 if cuda else float("nan")
        path = tmp / f"gpu{side}.png"
        result.save(path)
        preview = tmp / f"gpu{side}-at512.png"
        images.save_image(images.load_image(path, 512), preview)
        seen = score(preview, content, [style])
        row = {
            "size": side,
            "seconds": seconds,
            "target": TARGETS.get(side),
            "steps": len(result.history),
            "precision": result.precision,
            "gpu_peak_gib": peak,
            "estimated_peak_gib": result.memory["estimated_peak_gib"],
            "content_err_at_512": seen.content_err,
            "style_err_at_512": seen.style_err,
        }
        out.add("gpu run", row)
        target = f"{TARGETS[side]:.0f}" if side in TARGETS else "–"
        print(
            f"| {side} | {seconds:.1f} | {target} | {row['steps']} | {result.precision} | "
            f"{peak:.2f} | {row['estimated_peak_gib']:.2f} |",
            flush=True,
        )
    print()


def parser() -> argparse.ArgumentParser:
    p = harness.parser("gpu", __doc__)
    p.add_argument("--sizes", type=int, nargs="+", default=[512, 2048, 4096])
    p.add_argument("--step-sizes", type=int, nargs="+", default=[512, 2048])
    p.add_argument("--repeats", type=int, default=3, help="rounds of the step timings")
    p.add_argument("--no-step", action="store_true", help="only the whole runs")
    p.add_argument("--keep", type=Path, default=None, help="keep the images in this folder")
    p.add_argument(
        "--device", choices=("cuda", "cpu"), default="cuda", help="cpu: a dry run of the script"
    )
    return p


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    device = torch.device(args.device)
    if device.type == "cuda" and not torch.cuda.is_available():
        raise harness.BenchmarkError("no CUDA device here: try --device cpu for a dry run")
    torch.backends.cudnn.benchmark = True  # a benchmark's own process: autotuned convolutions
    with (
        harness.recording("gpu", vars(args), "painterly on the GPU") as out,
        tempfile.TemporaryDirectory() as folder,
    ):
        name = torch.cuda.get_device_name(device) if device.type == "cuda" else "none (dry run)"
        print(f"GPU: {name}, torch {torch.__version__}\n")
        tmp = args.keep or Path(folder)
        tmp.mkdir(parents=True, exist_ok=True)
        if not args.no_step:
            section_speed(out, args.step_sizes, device, False, args.repeats)
        section_runs(out, sorted(args.sizes), tmp, device)
        runs = [row for row in out.rows if row["section"] == "gpu run"]
        missed = [r["size"] for r in runs if r["target"] and r["seconds"] > r["target"]]
        print(f"- median wall over sizes: {statistics.median(r['seconds'] for r in runs):.1f} s")
        print(f"- targets missed at: {missed or 'none'}")
    return 0

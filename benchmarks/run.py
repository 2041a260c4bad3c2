"""painterly's benchmark: `make bench` or `python benchmarks/run.py [--quick]`.

Prints, measured side by side in this one run:
1. convolution throughput (fp32, bf16) and per-step time at 256/512/1024 px against it;
2. time and peak memory of a default run at 512 px;
3. the peer race against pastiche 1.6.0 at 384 px (see race.py).
"""

from __future__ import annotations

import argparse
import json
import platform
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))

import probe
import race

from painterly.config import Config
from painterly.runtime import bf16_supported, faster_precision
from painterly.score import score
from painterly.transfer import evaluate

SHARED = Path(__file__).resolve().parents[2] / "shared" / "images"
DATA = Path(__file__).resolve().parents[1] / "src" / "painterly" / "data"


def section_speed(sizes: list[int]) -> None:
    precisions = ["fp32", "bf16"] if bf16_supported(torch.device("cpu")) else ["fp32"]
    limits = {p: probe.conv_throughput(p) for p in precisions}
    print("## Convolution throughput (fwd + input-grad, channels-last)")
    for p, gflops in limits.items():
        print(f"- {p}: {gflops:.0f} GFLOP/s")
    print(f"- painterly's auto precision here: {faster_precision('cpu')}\n")
    print(
        "| size | precision | step (s) | conv limit fp32 (s) | conv limit bf16 (s) | "
        "ratio to the faster limit |"
    )
    print("|---|---|---|---|---|---|")
    for side in sizes:
        flops = probe.default_step_flops(side) / 1e9
        limit = {p: flops / g for p, g in limits.items()}
        best = min(limit.values())
        for p in precisions:
            t = probe.step_time(side, p, repeats=2 if side >= 1024 else 3)
            cells = " | ".join(f"{limit[q]:.2f}" if q in limit else "-" for q in ("fp32", "bf16"))
            print(f"| {side} | {p} | {t:.2f} | {cells} | {t / best:.2f}× |", flush=True)
    print()


def painterly_cli(args: list[str]) -> tuple[float, float]:
    """Run the CLI in a child; return (wall seconds, child's peak RSS in GiB)."""
    start = time.perf_counter()
    subprocess.run([sys.executable, "-m", "painterly", "stylize", *args, "-q"], check=True)
    peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 2**20
    return time.perf_counter() - start, peak


def section_default_run(tmp: Path, content: Path, style: Path) -> None:
    out = tmp / "default512.png"
    seconds, peak = painterly_cli([str(content), str(style), "-o", str(out), "--seed", "0"])
    record = json.loads(out.with_suffix(".json").read_text())
    print("## Default run at 512 px (bundled Tübingen + Starry Night)")
    print(
        f"- wall time {seconds:.1f} s ({record['steps']} steps, {record['precision']}), "
        f"peak memory {peak:.2f} GiB\n"
    )


def section_race(
    tmp: Path, content: Path, style: Path, size: int, steps: int, scale: float | None
) -> None:
    # pastiche has no smoothness term: the race is run and scored without painterly's
    # (as it was measured before the TV default became 3).
    cfg = Config(tv_weight=0.0)
    k = race.loss_scale(content, style, size, cfg) if scale is None else scale
    gap = race.check_conversion(content, style, size, cfg, k, tmp)
    print(f"## Peer race at {size} px: pastiche 1.6.0, {steps} L-BFGS steps from the photo")
    print(
        f"- pastiche's weights are k = {k:.3g} times painterly's objective; conversion "
        f"check: pastiche's loss / k and painterly's objective differ by {gap:.1e}"
    )
    p_out = tmp / "pastiche.png"
    p_time, _ = race.run_pastiche(content, style, p_out, size, steps, cfg, k)
    rows = [("pastiche", p_time, p_out)]
    for divisor in (5, 10):
        out = tmp / f"painterly_{divisor}.png"
        budget = p_time / divisor
        seconds, _ = painterly_cli(
            [
                str(content),
                str(style),
                "-o",
                str(out),
                "--seed",
                "0",
                "--size",
                str(size),
                "--time",
                f"{budget:.1f}",
                "--tv-weight",
                "0",
            ]
        )
        rows.append((f"painterly, 1/{divisor} of that time", seconds, out))
    print("\n| run | wall (s) | objective | content_err | style_err |")
    print("|---|---|---|---|---|")
    values = {}
    for name, seconds, path in rows:
        value = evaluate(path, content, [style], cfg)["total"]
        values[name] = value
        s = score(path, content, [style])
        print(
            f"| {name} | {seconds:.1f} | {value:.4f} | {s.content_err:.3f} | {s.style_err:.3f} |",
            flush=True,
        )
    for name, value in values.items():
        if name != "pastiche":
            print(
                f"- {name}: objective ratio painterly/pastiche = {value / values['pastiche']:.3f}"
            )
    print()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="256 and 512 px only, no race")
    parser.add_argument("--race-only", action="store_true")
    parser.add_argument("--race-size", type=int, default=384)
    parser.add_argument("--race-steps", type=int, default=300)
    parser.add_argument(
        "--race-scale",
        type=float,
        default=None,
        help="factor k on pastiche's loss (default: the magnitude of its own defaults)",
    )
    parser.add_argument("--keep", type=Path, default=None, help="keep the images in this folder")
    args = parser.parse_args()
    content = SHARED / "tubingen.jpg" if SHARED.exists() else DATA / "tubingen.jpg"
    style = SHARED / "starry_night.jpg" if SHARED.exists() else DATA / "starry_night.jpg"
    print(
        f"# painterly benchmark, {time.strftime('%Y-%m-%d')}, {platform.processor() or 'cpu'}"
        f", {torch.get_num_threads()} threads, torch {torch.__version__}\n"
    )
    with tempfile.TemporaryDirectory() as folder:
        tmp = args.keep or Path(folder)
        tmp.mkdir(parents=True, exist_ok=True)
        if not args.race_only:
            section_speed([256, 512] if args.quick else [256, 512, 1024])
            section_default_run(tmp, DATA / "tubingen.jpg", DATA / "starry_night.jpg")
        if not args.quick:
            section_race(tmp, content, style, args.race_size, args.race_steps, args.race_scale)


if __name__ == "__main__":
    main()

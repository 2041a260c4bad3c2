"""painterly's benchmark: speed of a step, a default run, and the peer race.

    make bench
    python -m benchmarks run [--quick] [--levers] [--pages] [--device cuda]

Prints, measured side by side in this one run:
1. a step's time against its convolutions alone at 256, 512 (and 1024) px wide, before
   and with the speed levers (and, with --levers, each lever's share);
2. time and peak memory of a default run at 512 px;
3. the peer race against pastiche 1.6.0 at 384 px (see race.py; CPU only).

``--device cuda`` runs 1 and 2 on the GPU (painterly's pick of precision there: bf16
where supported; channels-last; cuDNN autotuning). ``--pages`` adds the step under three
heap settings, each in its own child processes, in turns: 4 KiB or 2 MiB pages for
PyTorch's CPU buffers (``THP_MEM_ALLOC_ENABLE``), and freed buffers returned to the kernel
or kept for reuse (``PAINTERLY_KEEP_FREED``); ``python -m benchmarks`` tunes the process
as painterly's command does, which sets both.

Steps and the default run use the bundled pair; the race uses
``$PAINTERLY_BENCH_IMAGES`` where set (the full-size originals), else the bundled pair.
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import tempfile
from collections.abc import Callable
from pathlib import Path

import torch

from painterly.config.settings import Config
from painterly.explain.score import score
from painterly.files.samples import bundled
from painterly.transfer.run import evaluate

from . import engine, harness, probe, race
from .harness import Results, interleaved, load, median_ratio, paired_ratios


def section_speed(
    out: Results,
    sizes: list[int],
    device: torch.device,
    levers: bool,
    repeats: int,
    precision: str = "auto",
) -> None:
    """A step against its convolutions alone, at the bundled photo's aspect (4:3), in
    the precision painterly picks on ``device`` (or ``precision``): the step before the
    speed levers (SLOW_PATH) and with them (FAST_PATH), measured in turns in the same
    rounds."""
    precision = engine.resolve_precision(precision, device)
    print(f"## A step against its convolutions ({precision}, painterly's pick on {device})")
    print(
        "Convolutions alone: the 13 up to block5_conv1 at the step's shapes, forward and "
        "input gradient, channels-last; step: features, losses and gradient of the bundled "
        f"pair. {repeats} interleaved rounds. This machine's speed swings by up to 2.5× "
        "within seconds, so a ratio is taken within each round (a step over the "
        "convolutions timed just before it) and the table gives the median over rounds, "
        "with their range; times are medians. Packed: the same convolutions as the step "
        "now runs them (bf16 on CPUs: weights packed for oneDNN, the input gradient as a "
        "forward convolution), the floor of today's step.\n"
    )
    packable = precision == "bf16" and device.type == "cpu"
    print(
        "| size | load | convs (s) | GFLOP/s | step before (s) | ratio before | "
        "step now (s) | ratio now (range) | now / before | packed convs (s) | now / packed |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    for side in sizes:
        h, w = side * 3 // 4, side
        fns: dict[str, Callable[[], None]] = {
            "convs": probe.conv_pass(h, w, precision, device),
            "before": probe.Stepper(h, w, precision, device, engine.SLOW_PATH),
            "now": probe.Stepper(h, w, precision, device, engine.FAST_PATH),
        }
        if packable:
            fns["packed convs"] = probe.conv_pass(h, w, precision, device, packed=True)
        times = interleaved(fns, repeats)
        med = {k: statistics.median(v) for k, v in times.items()}
        now = paired_ratios(times["now"], times["convs"])
        row = {
            "size": f"{w}×{h}",
            "precision": precision,
            "device": str(device),
            "load": load(),
            "times": times,
            "medians": med,
            "gflops": probe.step_flops(h, w, probe.default_last()) / med["convs"] / 1e9,
            "ratio_before": median_ratio(times["before"], times["convs"]),
            "ratio_now": statistics.median(now),
            "ratio_now_range": [min(now), max(now)],
            "now_over_before": median_ratio(times["now"], times["before"]),
            "now_over_packed": median_ratio(times["now"], times["packed convs"])
            if packable
            else None,
        }
        out.add("speed", row)
        packed = "| – | – |"
        if packable:
            packed = f"| {med['packed convs']:.3f} | {row['now_over_packed']:.2f}× |"
        print(
            f"| {w}×{h} | {row['load']} | {med['convs']:.3f} | {row['gflops']:.0f} | "
            f"{med['before']:.3f} | {row['ratio_before']:.2f}× | "
            f"{med['now']:.3f} | {row['ratio_now']:.2f}× ({min(now):.2f}–{max(now):.2f}) | "
            f"{row['now_over_before']:.2f} {packed}",
            flush=True,
        )
    print()
    if levers:
        section_levers(out, sizes[-1], precision, device, repeats)


def section_levers(
    out: Results, side: int, precision: str, device: torch.device, repeats: int
) -> None:
    """Each lever's share: the step with all levers on but one, against all on (the
    median of each round's ratio, as in section_speed)."""
    h, w = side * 3 // 4, side
    fns = {"all on": probe.Stepper(h, w, precision, device, engine.FAST_PATH)}
    for name in engine.levers():
        fns[f"without {name}"] = probe.Stepper(h, w, precision, device, engine.without(name))
    times = interleaved(fns, repeats)
    print(f"## Each lever at {w}×{h} ({precision}, load {load()})\n")
    print("| step | median (s) | / all on (median of rounds) |")
    print("|---|---|---|")
    for name, values in times.items():
        ratio = median_ratio(values, times["all on"])
        out.add("levers", {"size": f"{w}×{h}", "step": name, "times": values, "ratio": ratio})
        print(f"| {name} | {statistics.median(values):.3f} | {ratio:.2f} |")
    print()


# The heap settings section_pages compares, each in its own child processes: glibc's
# and PyTorch's defaults, then with 2 MiB pages, then also with freed buffers kept
# (what painterly's command sets; see painterly.tune_process).
HEAPS = {
    "4 KiB pages, freed returned": {"THP_MEM_ALLOC_ENABLE": "0", "PAINTERLY_KEEP_FREED": "0"},
    "2 MiB pages, freed returned": {"THP_MEM_ALLOC_ENABLE": "1", "PAINTERLY_KEEP_FREED": "0"},
    "2 MiB pages, freed kept": {"THP_MEM_ALLOC_ENABLE": "1", "PAINTERLY_KEEP_FREED": "1"},
}
CHILD_ROUNDS = 6


def section_pages(out: Results, sizes: list[int], precision: str, repeats: int) -> None:
    """The step and its convolutions under each of ``HEAPS``: the settings are read once
    per process, so each round runs one child per setting, in turns."""
    print(f"## The heap ({precision}; each child: {CHILD_ROUNDS} rounds after warm-up steps)\n")
    print(
        "| size | heap | load | convs (s) | step (s) | ratio | kernel CPU (s/step) | faults/step |"
    )
    print("|---|---|---|---|---|---|---|---|")
    for side in sizes:
        runs: dict[str, list[dict[str, float]]] = {name: [] for name in HEAPS}
        for _ in range(repeats):
            for name, settings in HEAPS.items():
                argv = harness.benchmark_argv("run", "--child-step", str(side))
                argv += ["--precision", precision]
                child = harness.run_child(argv, env=harness.child_env(settings), capture=True)
                runs[name].append(json.loads(child.stdout))
        for name, got in runs.items():
            med = {key: statistics.median(g[key] for g in got) for key in got[0]}
            out.add("pages", {"size": f"{side}×{side * 3 // 4}", "heap": name, **med})
            print(
                f"| {side}×{side * 3 // 4} | {name} | {load()} | {med['convs']:.3f} | "
                f"{med['step']:.3f} | {med['ratio']:.2f}× | {med['kernel']:.3f} | "
                f"{med['faults']:.0f} |",
                flush=True,
            )
    print()


def child_step(side: int, precision: str) -> None:
    """One child of ``section_pages``: median times, the median ratio of its rounds,
    and a step's kernel CPU seconds and page faults (after three warm-up steps, as a
    run's heap settles after its first steps), as JSON on stdout."""
    device = torch.device("cpu")
    precision = engine.resolve_precision(precision, device)
    h, w = side * 3 // 4, side
    step = probe.Stepper(h, w, precision, device, engine.FAST_PATH)
    fns: dict[str, Callable[[], None]] = {"convs": probe.conv_pass(h, w, precision, device)}
    for _ in range(3):
        step()
    before = resource.getrusage(resource.RUSAGE_SELF)
    for _ in range(CHILD_ROUNDS):
        step()
    after = resource.getrusage(resource.RUSAGE_SELF)
    times = interleaved({**fns, "step": step}, CHILD_ROUNDS)
    print(
        json.dumps(
            {
                "convs": statistics.median(times["convs"]),
                "step": statistics.median(times["step"]),
                "ratio": median_ratio(times["step"], times["convs"]),
                "kernel": (after.ru_stime - before.ru_stime) / CHILD_ROUNDS,
                "faults": (after.ru_minflt - before.ru_minflt) / CHILD_ROUNDS,
            }
        )
    )


def painterly_cli(args: list[str]) -> harness.Child:
    """Run ``painterly stylize ARGS -q`` in a child, measured."""
    return harness.run_child(harness.painterly_argv("stylize", *args, "-q"))


def section_default_run(out: Results, tmp: Path, device: torch.device) -> None:
    content, style = bundled("tubingen.jpg"), bundled("starry_night.jpg")
    image = tmp / "default512.png"
    args = [str(content), str(style), "-o", str(image), "--seed", "0", "--device", device.type]
    child = painterly_cli(args)
    record = json.loads(image.with_suffix(".json").read_text())
    out.add(
        "default run",
        {
            "device": str(device),
            "seconds": child.seconds,
            "peak_gib": child.peak_gib,
            "steps": record["steps"],
            "precision": record["precision"],
        },
    )
    print(f"## Default run at 512 px on {device} (bundled Tübingen + Starry Night)")
    print(
        f"- wall time {child.seconds:.1f} s ({record['steps']} steps, {record['precision']}), "
        f"peak memory {child.peak_gib:.2f} GiB\n"
    )


def section_race(
    out: Results, tmp: Path, pair: tuple[Path, Path], size: int, steps: int, scale: float | None
) -> None:
    content, style = pair
    # pastiche has no smoothness term: the race is run and scored without painterly's
    # (as it was measured before the TV default became 3).
    cfg = Config(tv_weight=0.0)
    k = race.loss_scale(content, style, size, cfg) if scale is None else scale
    gap = race.check_conversion(content, style, size, cfg, k, tmp)
    out.add("race setup", {"size": size, "steps": steps, "k": k, "conversion_gap": gap})
    print(f"## Peer race at {size} px: pastiche 1.6.0, {steps} L-BFGS steps from the photo")
    print(
        f"- pastiche's weights are k = {k:.3g} times painterly's objective; conversion "
        f"check: pastiche's loss / k and painterly's objective differ by {gap:.1e}"
    )
    p_out = tmp / "pastiche.png"
    p_time, _, _ = race.run_pastiche(content, style, p_out, size, steps, cfg, k)
    rows = [("pastiche", p_time, p_out)]
    for divisor in (5, 10):
        image = tmp / f"painterly_{divisor}.png"
        budget = p_time / divisor
        args = [str(content), str(style), "-o", str(image), "--seed", "0", "--size", str(size)]
        seconds = painterly_cli([*args, "--time", f"{budget:.1f}", "--tv-weight", "0"]).seconds
        rows.append((f"painterly, 1/{divisor} of that time", seconds, image))
    print("\n| run | wall (s) | objective | content_err | style_err |")
    print("|---|---|---|---|---|")
    values = {}
    for name, seconds, path in rows:
        value = evaluate(path, content, [style], cfg)["total"]
        values[name] = value
        s = score(path, content, [style])
        out.add(
            "race",
            {
                "run": name,
                "wall": seconds,
                "objective": value,
                "content_err": s.content_err,
                "style_err": s.style_err,
            },
        )
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


def parser() -> argparse.ArgumentParser:
    p = harness.parser("run", __doc__)
    p.add_argument("--quick", action="store_true", help="256 and 512 px only, no race")
    p.add_argument("--race-only", action="store_true")
    p.add_argument("--race-size", type=int, default=384)
    p.add_argument("--race-steps", type=int, default=300)
    p.add_argument(
        "--race-scale",
        type=float,
        default=None,
        help="factor k on pastiche's loss (default: the magnitude of its own defaults)",
    )
    p.add_argument("--keep", type=Path, default=None, help="keep the images in this folder")
    p.add_argument("--levers", action="store_true", help="each speed lever's share")
    p.add_argument("--repeats", type=int, default=8, help="rounds of the step timings")
    p.add_argument("--device", choices=("cpu", "cuda"), default="cpu")
    p.add_argument("--pages", action="store_true", help="the step under three heap settings")
    p.add_argument("--child-step", type=int, default=None, help=argparse.SUPPRESS)
    p.add_argument(
        "--precision",
        choices=("auto", "bf16", "fp32"),
        default="auto",
        help="of the step table (auto: painterly's pick, whose probe a loaded machine may sway)",
    )
    return p


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    if args.child_step:
        child_step(args.child_step, args.precision)
        return 0
    device = torch.device(args.device)
    race_pair = race.pair_images("tubingen:starry_night")  # what it needs, found at once
    if device.type == "cuda":
        torch.backends.cudnn.benchmark = True
    with (
        harness.recording("run", vars(args), "painterly benchmark") as out,
        tempfile.TemporaryDirectory() as folder,
    ):
        tmp = args.keep or Path(folder)
        tmp.mkdir(parents=True, exist_ok=True)
        if not args.race_only:
            sizes = [256, 512] if args.quick else [256, 512, 1024]
            section_speed(out, sizes, device, args.levers, args.repeats, args.precision)
            if args.pages and device.type == "cpu":
                precision = engine.resolve_precision(args.precision, device)
                section_pages(out, sizes, precision, 2)
            section_default_run(out, tmp, device)
        if not args.quick and device.type == "cpu":
            section_race(out, tmp, race_pair, args.race_size, args.race_steps, args.race_scale)
    return 0

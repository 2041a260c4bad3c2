"""painterly's benchmark: `make bench` or `python benchmarks/run.py [--quick] [--levers]
[--device cuda]`.

Prints, measured side by side in this one run:
1. a step's time against its convolutions alone at 256, 512 (and 1024) px wide, before
   and with the speed levers (and, with --levers, each lever's share);
2. time and peak memory of a default run at 512 px;
3. the peer race against pastiche 1.6.0 at 384 px (see race.py; CPU only).

``--device cuda`` runs 1 and 2 on the GPU (painterly's pick of precision there: bf16
where supported; channels-last; cuDNN autotuning). ``--pages`` adds the step under three
heap settings, each in its own child processes, in turns: 4 KiB or 2 MiB pages for
PyTorch's CPU buffers (``THP_MEM_ALLOC_ENABLE``), and freed buffers returned to the kernel
or kept for reuse (``PAINTERLY_KEEP_FREED``); painterly sets both on import.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import fields, replace
from pathlib import Path

# As painterly does on import, before torch allocates anything (see painterly/__init__).
os.environ.setdefault("THP_MEM_ALLOC_ENABLE", "1")

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))

import probe
import race

from painterly.config.settings import Config
from painterly.engine.precision import FAST_PATH, SLOW_PATH, FastPath, resolve_precision
from painterly.explain.score import score
from painterly.transfer.run import evaluate

SHARED = Path(__file__).resolve().parents[2] / "shared" / "images"
DATA = Path(__file__).resolve().parents[1] / "src" / "painterly" / "data"


LEVERS = tuple(f.name for f in fields(FastPath))


def section_speed(
    sizes: list[int], device: torch.device, levers: bool, repeats: int, precision: str = "auto"
) -> None:
    """A step against its convolutions alone, at the bundled photo's aspect (4:3), in
    the precision painterly picks on ``device`` (or ``precision``): the step before the
    speed levers (SLOW_PATH) and with them (FAST_PATH), measured in turns in the same
    rounds."""
    precision = resolve_precision(precision, device)
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
            "before": probe.Stepper(h, w, precision, device, SLOW_PATH),
            "now": probe.Stepper(h, w, precision, device, FAST_PATH),
        }
        if packable:
            fns["packed convs"] = probe.conv_pass(h, w, precision, device, packed=True)
        times = probe.interleaved(fns, repeats)
        med = {k: statistics.median(v) for k, v in times.items()}
        ratios = {k: probe.paired_ratios(times[k], times["convs"]) for k in ("before", "now")}
        gflops = probe.step_flops(h, w, probe.default_last()) / med["convs"] / 1e9
        now = ratios["now"]
        packed = "| – | – |"
        if packable:
            to_packed = probe.paired_ratios(times["now"], times["packed convs"])
            packed = f"| {med['packed convs']:.3f} | {statistics.median(to_packed):.2f}× |"
        print(
            f"| {w}×{h} | {_load()} | {med['convs']:.3f} | {gflops:.0f} | "
            f"{med['before']:.3f} | {statistics.median(ratios['before']):.2f}× | "
            f"{med['now']:.3f} | {statistics.median(now):.2f}× ({min(now):.2f}–{max(now):.2f}) | "
            f"{statistics.median(probe.paired_ratios(times['now'], times['before'])):.2f} {packed}",
            flush=True,
        )
    print()
    if levers:
        section_levers(sizes[-1], precision, device, repeats)


def section_levers(side: int, precision: str, device: torch.device, repeats: int) -> None:
    """Each lever's share: the step with all levers on but one, against all on (the
    median of each round's ratio, as in section_speed)."""
    h, w = side * 3 // 4, side
    fns = {"all on": probe.Stepper(h, w, precision, device, FAST_PATH)}
    for name in LEVERS:
        fns[f"without {name}"] = probe.Stepper(
            h, w, precision, device, replace(FAST_PATH, **{name: False})
        )
    times = probe.interleaved(fns, repeats)
    print(f"## Each lever at {w}×{h} ({precision}, load {_load()})\n")
    print("| step | median (s) | / all on (median of rounds) |")
    print("|---|---|---|")
    for name, values in times.items():
        ratio = statistics.median(probe.paired_ratios(values, times["all on"]))
        print(f"| {name} | {statistics.median(values):.3f} | {ratio:.2f} |")
    print()


# The heap settings section_pages compares, each in its own child processes: glibc's
# and PyTorch's defaults, then with 2 MiB pages, then also with freed buffers kept
# (painterly's default on import; see painterly.engine.precision.keep_freed_memory).
HEAPS = {
    "4 KiB pages, freed returned": {"THP_MEM_ALLOC_ENABLE": "0", "PAINTERLY_KEEP_FREED": "0"},
    "2 MiB pages, freed returned": {"THP_MEM_ALLOC_ENABLE": "1", "PAINTERLY_KEEP_FREED": "0"},
    "2 MiB pages, freed kept": {"THP_MEM_ALLOC_ENABLE": "1", "PAINTERLY_KEEP_FREED": "1"},
}


def section_pages(sizes: list[int], precision: str, repeats: int) -> None:
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
                cmd = [sys.executable, __file__, "--child-step", str(side)]
                cmd += ["--precision", precision]
                env = {**os.environ, **settings}
                done = subprocess.run(cmd, env=env, capture_output=True, text=True, check=True)
                runs[name].append(json.loads(done.stdout))
        for name, got in runs.items():
            med = {key: statistics.median(g[key] for g in got) for key in got[0]}
            print(
                f"| {side}×{side * 3 // 4} | {name} | {_load()} | {med['convs']:.3f} | "
                f"{med['step']:.3f} | {med['ratio']:.2f}× | {med['kernel']:.3f} | "
                f"{med['faults']:.0f} |",
                flush=True,
            )
    print()


CHILD_ROUNDS = 6


def child_step(side: int, precision: str) -> None:
    """One child of ``section_pages``: median times, the median ratio of its rounds,
    and a step's kernel CPU seconds and page faults (after three warm-up steps, as a
    run's heap settles after its first steps), as JSON on stdout."""
    device = torch.device("cpu")
    precision = resolve_precision(precision, device)
    h, w = side * 3 // 4, side
    step = probe.Stepper(h, w, precision, device, FAST_PATH)
    fns: dict[str, Callable[[], None]] = {"convs": probe.conv_pass(h, w, precision, device)}
    for _ in range(3):
        step()
    before = resource.getrusage(resource.RUSAGE_SELF)
    for _ in range(CHILD_ROUNDS):
        step()
    after = resource.getrusage(resource.RUSAGE_SELF)
    times = probe.interleaved({**fns, "step": step}, CHILD_ROUNDS)
    print(
        json.dumps(
            {
                "convs": statistics.median(times["convs"]),
                "step": statistics.median(times["step"]),
                "ratio": statistics.median(probe.paired_ratios(times["step"], times["convs"])),
                "kernel": (after.ru_stime - before.ru_stime) / CHILD_ROUNDS,
                "faults": (after.ru_minflt - before.ru_minflt) / CHILD_ROUNDS,
            }
        )
    )


def _load() -> str:
    return "/".join(f"{v:.1f}" for v in os.getloadavg())


def painterly_cli(args: list[str]) -> tuple[float, float]:
    """Run the CLI in a child; return (wall seconds, that child's peak RSS in GiB).

    The peak is the child's own, from ``wait4``: ``RUSAGE_CHILDREN`` would give the
    largest of every child so far (the ``--pages`` children's steps among them)."""
    start = time.perf_counter()
    child = subprocess.Popen([sys.executable, "-m", "painterly", "stylize", *args, "-q"])
    _, status, usage = os.wait4(child.pid, 0)
    child.returncode = os.waitstatus_to_exitcode(status)
    if child.returncode:
        raise subprocess.CalledProcessError(child.returncode, child.args)
    return time.perf_counter() - start, usage.ru_maxrss / 2**20


def section_default_run(tmp: Path, content: Path, style: Path, device: torch.device) -> None:
    out = tmp / "default512.png"
    args = [str(content), str(style), "-o", str(out), "--seed", "0", "--device", device.type]
    seconds, peak = painterly_cli(args)
    record = json.loads(out.with_suffix(".json").read_text())
    print(f"## Default run at 512 px on {device} (bundled Tübingen + Starry Night)")
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


def _machine(device: torch.device) -> str:
    if device.type == "cuda":
        return torch.cuda.get_device_name(device)
    return f"load {_load()}"


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
    parser.add_argument("--levers", action="store_true", help="each speed lever's share")
    parser.add_argument("--repeats", type=int, default=8, help="rounds of the step timings")
    parser.add_argument("--device", choices=("cpu", "cuda"), default="cpu")
    parser.add_argument("--pages", action="store_true", help="the step under three heap settings")
    parser.add_argument("--child-step", type=int, default=None, help=argparse.SUPPRESS)
    parser.add_argument(
        "--precision",
        choices=("auto", "bf16", "fp32"),
        default="auto",
        help="of the step table (auto: painterly's pick, whose probe a loaded machine may sway)",
    )
    args = parser.parse_args()
    if args.child_step:
        child_step(args.child_step, args.precision)
        return
    device = torch.device(args.device)
    if device.type == "cuda":
        torch.backends.cudnn.benchmark = True
    content = SHARED / "tubingen.jpg" if SHARED.exists() else DATA / "tubingen.jpg"
    style = SHARED / "starry_night.jpg" if SHARED.exists() else DATA / "starry_night.jpg"
    print(
        f"# painterly benchmark, {time.strftime('%Y-%m-%d')}, {platform.processor() or 'cpu'}"
        f", {torch.get_num_threads()} threads, torch {torch.__version__}, {_machine(device)}\n"
    )
    with tempfile.TemporaryDirectory() as folder:
        tmp = args.keep or Path(folder)
        tmp.mkdir(parents=True, exist_ok=True)
        if not args.race_only:
            sizes = [256, 512] if args.quick else [256, 512, 1024]
            section_speed(sizes, device, args.levers, args.repeats, args.precision)
            if args.pages and device.type == "cpu":
                section_pages(sizes, resolve_precision(args.precision, device), 2)
            section_default_run(tmp, DATA / "tubingen.jpg", DATA / "starry_night.jpg", device)
        if not args.quick and device.type == "cpu":
            section_race(tmp, content, style, args.race_size, args.race_steps, args.race_scale)


if __name__ == "__main__":
    main()

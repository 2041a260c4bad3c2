"""Tiled steps: exactness, overhead, memory. `python benchmarks/tiles.py SECTION...`

Sections (run in the order given, side by side in one process where they compare):
- ``exact``: a 1024 px run with ``--tile 384`` and one without, same seed, fp32, 12 steps
  at one scale from the photo: the images' mean difference and the largest mean
  difference along any row or column (a seam would stand out), seconds per step.
- ``speed``: one step's loss and gradient at 1024 px, whole and in 384 px tiles, in
  bf16 and in fp32, alternated three times after a warm-up (the ratio of the medians).
- ``memory``: what ``check_fits`` plans at 2048, 4096 and 8192 px (here, and with a
  20 GiB budget), and the peak resident memory of a tiled step at 2048 px.
- ``history``: L-BFGS at 384 px, 30 steps from the photo, with histories 30, 10, 5:
  the final objective (the rule for shrinking the history at large sizes).
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
from dataclasses import replace
from pathlib import Path

import torch

from painterly.config.settings import Config, check_style_weights, make_config
from painterly.engine import memory
from painterly.engine.evaluator import Extractor, build_network
from painterly.files import images
from painterly.nn.weights import load_weights
from painterly.transfer import run
from painterly.transfer.inputs import prepare

SHARED = Path(os.environ.get("PAINTERLY_IMAGES", "/work/shared/images"))
PHOTO, PAINTING = SHARED / "tubingen.jpg", SHARED / "starry_night.jpg"
OUT = Path(os.environ.get("TILES_OUT", "/tmp/painterly-tiles"))


def load() -> str:
    return "load average " + ", ".join(f"{v:.1f}" for v in os.getloadavg())


def section_exact() -> None:
    """Tiled against whole, and a control: a whole run whose start differs from the
    photo by at most 1e-6 (far below one 8-bit level). L-BFGS magnifies any difference
    step after step, so the control shows how far float rounding alone carries two runs
    apart; a seam would show as a row or column above the rest."""
    steps = int(os.environ.get("TILES_STEPS", "12"))  # fewer on a busy machine
    reuse = os.environ.get("TILES_REUSE") == "1"  # keep the PNGs of an earlier run
    cfg = make_config("default", size=1024, scales=1, iterations=steps, precision="fp32", seed=0)
    OUT.mkdir(parents=True, exist_ok=True)
    photo = images.load_image(PHOTO, cfg.size)
    start = images.resize(photo, images.fit_size(photo.shape[-2], photo.shape[-1], cfg.size))
    nudge = (torch.rand(start.shape, generator=torch.Generator().manual_seed(1)) - 0.5) * 2e-6
    runs = {"whole": (None, None), "tiled": (384, None), "nudged": (None, start + nudge)}
    results = {}
    for name, (tile, first) in runs.items():
        path = OUT / f"{name}.png"
        if reuse and path.exists():
            results[name] = images.load_image(path)[0]
            print(f"{name}: reused {path}")
            continue
        print(f"{name}: starting ({load()})", flush=True)
        result = run.run(replace(cfg, tile=tile), PHOTO, [PAINTING], start=first)
        result.save(path)
        times = [h["time"] for h in result.history]
        per_step = (times[-1] - times[0]) / (len(times) - 1)
        print(f"{name}: {per_step:.1f} s a step, losses {result.final_losses} ({load()})")
        results[name] = images.load_image(path)[0]  # as saved: 8-bit, like the others
    for name in ("tiled", "nudged"):
        _compare(name, results[name], results["whole"])


def _compare(name: str, image: torch.Tensor, whole: torch.Tensor) -> None:
    diff = (image - whole).abs().mean(0)  # H×W, on a 0–1 scale
    rows, cols = diff.mean(1), diff.mean(0)
    print(
        f"mean |{name} - whole| = {float(diff.mean()) * 255:.3f} /255, largest row mean "
        f"{float(rows.max()) * 255:.3f} /255 (row {int(rows.argmax())}), largest column mean "
        f"{float(cols.max()) * 255:.3f} /255 (column {int(cols.argmax())}), largest pixel "
        f"{float(diff.max()) * 255:.1f} /255"
    )
    scaled = (diff / diff.max().clamp_min(1e-8)).expand(3, -1, -1)[None]
    images.save_image(scaled, OUT / f"diff-{name}.png")


def section_speed() -> None:
    for precision in ("bf16", "fp32"):
        _speed(precision)


def _speed(precision: str) -> None:
    """One step at 1024 px whole and in 384 px tiles, in turns (after a warm-up of
    each, which pays oneDNN's set-up for new shapes): the ratio of the medians."""
    cfg = Config(size=1024, precision=precision)
    inputs = prepare(cfg, PHOTO, [PAINTING])
    hw = images.fit_size(inputs.photo.shape[-2], inputs.photo.shape[-1], 1024)
    cpu = torch.device("cpu")
    net = build_network(cfg, load_weights(None), inputs.content, hw, cpu)
    extractor = Extractor(cfg, net, cpu, precision)
    weights = check_style_weights(cfg, 1)
    objective = run._objective(cfg, extractor, inputs, weights, hw, hw)
    x = images.resize(inputs.content, hw)
    seconds: dict[str, list[float]] = {"whole": [], "tiled": []}
    for round_ in range(4):
        for name, tile in (("whole", None), ("tiled", 384)):
            extractor.tile = tile
            y = x.clone().requires_grad_(True)
            start = time.perf_counter()
            extractor.loss_and_grad(y, objective)
            if round_:
                seconds[name].append(time.perf_counter() - start)
                print(f"{precision} {name}: {seconds[name][-1]:.2f} s ({load()})", flush=True)
    whole, tiled = (statistics.median(seconds[k]) for k in ("whole", "tiled"))
    ratio = tiled / whole
    print(
        f"step at {hw[1]}×{hw[0]}, {precision}: whole {whole:.2f} s, "
        f"tiled {tiled:.2f} s: {ratio:.2f}×"
    )


def _peak_of(argv: list[str]) -> tuple[float, float]:
    """Wall seconds and peak resident GiB of a child process."""
    start = time.perf_counter()
    child = subprocess.Popen(argv)
    _, status, usage = os.wait4(child.pid, 0)
    if status:
        raise SystemExit(f"{argv} failed with status {status}")
    return time.perf_counter() - start, usage.ru_maxrss / 2**20


def section_memory() -> None:
    for side in (2048, 4096, 8192):
        h, w = images.fit_size(768, 1024, side)
        for label, have in (("here", memory.available_bytes()), ("20 GiB", 20 * 2**30)):
            fit = memory.plan(h, w, "block5_conv1", "fp32", 40, have=have)
            whole = memory.estimate_peak_bytes(h, w, "block5_conv1", "fp32", 40) / 2**30
            what = "does not fit" if fit is None else f"tile {fit.tile}, history {fit.history}"
            need = "" if fit is None else f", {fit.need / 2**30:.1f} GiB"
            print(f"{w}×{h} ({label}, {have / 2**30:.1f} GiB): whole {whole:.1f} GiB; {what}{need}")
    OUT.mkdir(parents=True, exist_ok=True)
    argv = [sys.executable, "-m", "painterly", "stylize", str(PHOTO), str(PAINTING)]
    argv += ["--size", "2048", "--scales", "1", "--iterations", "1", "--tile", "768"]
    argv += ["--precision", "fp32", "--upscale-style", "-q", "-o", str(OUT / "2048.png")]
    print(f"2048 px, 1 step in 768 px tiles: starting ({load()})", flush=True)
    wall, peak = _peak_of(argv)
    estimate = memory.tiled_peak_bytes(1536, 2048, "block5_conv1", "fp32", 768, 1) / 2**30
    print(f"2048 px, 1 tiled step: {wall:.0f} s wall, peak {peak:.2f} GiB", end="")
    print(f" (estimate {estimate:.2f} GiB)")
    print(f"  ({load()})")


def section_history() -> None:
    for history in (30, 10, 5):
        result = run.stylize(
            PHOTO,
            [PAINTING],
            size=384,
            scales=1,
            iterations=30,
            precision="fp32",
            seed=0,
            lbfgs_history=history,
        )
        print(f"history {history}: final {result.final_losses} ({load()})", flush=True)


SECTIONS = {
    "exact": section_exact,
    "speed": section_speed,
    "memory": section_memory,
    "history": section_history,
}

if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("sections", nargs="+", choices=SECTIONS)
    for section in parser.parse_args().sections:
        print(f"## {section} ({time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}, {load()})")
        SECTIONS[section]()

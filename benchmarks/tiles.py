"""Tiled steps: exactness, overhead, memory. ``python -m benchmarks tiles SECTION...``

Sections (run in the order given, side by side in one process where they compare):
- ``exact``: a 1024 px run with ``--tile 384`` and one without, same seed, fp32, 12 steps
  at one scale from the photo: the images' mean difference and the largest mean
  difference along any row or column (a seam would stand out), seconds per step.
- ``speed``: one step's loss and gradient at 1024 px, whole and in 384 px tiles, in
  bf16 and in fp32, alternated three times after a warm-up (the ratio of the medians).
- ``plan``: what ``check_fits`` plans for a default run at 2048, 4096 and 8192 px (here,
  and with a 20 GiB budget), in a second: nothing runs.
- ``memory``: the plans, and the peak resident memory of a tiled step at 2048 px.
- ``history``: L-BFGS at 384 px, 30 steps from the photo, with histories 30, 10, 5:
  the final objective (the rule for shrinking the history at large sizes).

The pair is Tübingen and The Starry Night from ``$PAINTERLY_BENCH_IMAGES`` where set (the
1024 px originals the figures were measured on), else the bundled copies. ``TILES_OUT``
names the folder of the images (default: painterly-tiles in the temporary folder),
``TILES_STEPS`` the steps of ``exact`` (fewer on a busy machine) and ``TILES_REUSE=1``
keeps the images of an earlier ``exact``.
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
from dataclasses import dataclass, replace
from pathlib import Path

import torch

from painterly.config.settings import Config, make_config
from painterly.files import images
from painterly.transfer import run
from painterly.transfer.schedule import split_steps

from . import engine, harness
from .harness import Results, load


@dataclass(frozen=True)
class Pair:
    """The images of every section, and where their outputs go."""

    photo: Path
    painting: Path
    out: Path


def section_exact(out: Results, pair: Pair) -> None:
    """Tiled against whole, and a control: a whole run whose start differs from the
    photo by at most 1e-6 (far below one 8-bit level). L-BFGS magnifies any difference
    step after step, so the control shows how far float rounding alone carries two runs
    apart; a seam would show as a row or column above the rest."""
    steps = int(os.environ.get("TILES_STEPS", "12"))
    reuse = os.environ.get("TILES_REUSE") == "1"
    cfg = make_config("default", size=1024, scales=1, iterations=steps, precision="fp32", seed=0)
    pair.out.mkdir(parents=True, exist_ok=True)
    photo = images.load_image(pair.photo, cfg.size)
    start = images.resize(photo, images.fit_size(photo.shape[-2], photo.shape[-1], cfg.size))
    nudge = (torch.rand(start.shape, generator=torch.Generator().manual_seed(1)) - 0.5) * 2e-6
    runs = {"whole": (None, None), "tiled": (384, None), "nudged": (None, start + nudge)}
    results = {}
    for name, (tile, first) in runs.items():
        path = pair.out / f"{name}.png"
        if reuse and path.exists():
            results[name] = images.load_image(path)[0]
            print(f"{name}: reused {path}")
            continue
        print(f"{name}: starting (load {load()})", flush=True)
        result = run.run(replace(cfg, tile=tile), pair.photo, [pair.painting], start=first)
        result.save(path)
        times = engine.step_times(result)
        per_step = (times[-1] - times[0]) / (len(times) - 1)
        out.add(
            "exact run",
            {
                "run": name,
                "seconds_per_step": per_step,
                "losses": result.final_losses,
                "load": load(),
            },
        )
        print(f"{name}: {per_step:.1f} s a step, losses {result.final_losses} (load {load()})")
        results[name] = images.load_image(path)[0]  # as saved: 8-bit, like the others
    for name in ("tiled", "nudged"):
        out.add("exact", {"run": name, **_compare(pair, name, results[name], results["whole"])})


def _compare(pair: Pair, name: str, image: torch.Tensor, whole: torch.Tensor) -> dict[str, float]:
    diff = (image - whole).abs().mean(0)  # H×W, on a 0–1 scale
    rows, cols = diff.mean(1), diff.mean(0)
    found = {
        "mean": float(diff.mean()) * 255,
        "row_max": float(rows.max()) * 255,
        "row": int(rows.argmax()),
        "column_max": float(cols.max()) * 255,
        "column": int(cols.argmax()),
        "pixel_max": float(diff.max()) * 255,
    }
    print(
        f"mean |{name} - whole| = {found['mean']:.3f} /255, largest row mean "
        f"{found['row_max']:.3f} /255 (row {found['row']}), largest column mean "
        f"{found['column_max']:.3f} /255 (column {found['column']}), largest pixel "
        f"{found['pixel_max']:.1f} /255"
    )
    scaled = (diff / diff.max().clamp_min(1e-8)).expand(3, -1, -1)[None]
    images.save_image(scaled, pair.out / f"diff-{name}.png")
    return found


def section_speed(out: Results, pair: Pair) -> None:
    for precision in ("bf16", "fp32"):
        _speed(out, pair, precision)


def _speed(out: Results, pair: Pair, precision: str) -> None:
    """One step at 1024 px whole and in 384 px tiles, in turns (after a warm-up of
    each, which pays oneDNN's set-up for new shapes): the ratio of the medians."""
    cfg = Config(size=1024, precision=precision)
    cpu = torch.device("cpu")
    x, (whole, tiled) = engine.scale_steps(cfg, pair.photo, [pair.painting], 1024, cpu, (None, 384))

    def step(loss_and_grad: engine.LossAndGrad) -> None:
        loss_and_grad(x.clone().requires_grad_(True))

    seconds = harness.interleaved({"whole": lambda: step(whole), "tiled": lambda: step(tiled)}, 3)
    for name, values in seconds.items():
        print(f"{precision} {name}: {', '.join(f'{v:.2f}' for v in values)} s (load {load()})")
    medians = {name: statistics.median(values) for name, values in seconds.items()}
    ratio = medians["tiled"] / medians["whole"]
    size = f"{x.shape[-1]}×{x.shape[-2]}"
    out.add("speed", {"size": size, "precision": precision, "seconds": seconds, "ratio": ratio})
    print(
        f"step at {size}, {precision}: whole {medians['whole']:.2f} s, "
        f"tiled {medians['tiled']:.2f} s: {ratio:.2f}×"
    )


def default_history() -> int:
    """The L-BFGS history of a default run: its steps at the last scale, at most
    ``lbfgs_history`` (as painterly.transfer.run counts it)."""
    cfg = Config()
    return min(cfg.lbfgs_history, split_steps(cfg.iterations, cfg.scales, cfg.taper)[-1])


def section_plan(out: Results, pair: Pair) -> None:
    """What ``check_fits`` plans for a default run at 2048, 4096 and 8192 px, here and
    within 20 GiB."""
    history = default_history()
    for side in (2048, 4096, 8192):
        h, w = images.fit_size(768, 1024, side)
        for label, have in (("here", engine.available_bytes()), ("20 GiB", 20 * 2**30)):
            fit = engine.plan_memory(h, w, "block5_conv1", "fp32", history, have=have)
            whole = engine.estimate_peak_bytes(h, w, "block5_conv1", "fp32", history) / 2**30
            steps = "whole steps" if fit is None or fit.tile is None else f"{fit.tile} px tiles"
            what = "does not fit" if fit is None else f"{steps}, history {fit.history}"
            need = "" if fit is None else f", {fit.need / 2**30:.1f} GiB"
            out.add(
                "plan",
                {
                    "size": f"{w}×{h}",
                    "budget": label,
                    "history_asked": history,
                    "have": have,
                    "whole": whole,
                    "plan": what,
                    "need": None if fit is None else fit.need,
                },
            )
            print(f"{w}×{h} ({label}, {have / 2**30:.1f} GiB): whole {whole:.1f} GiB; {what}{need}")


def section_memory(out: Results, pair: Pair) -> None:
    """The plans, and the peak resident memory of a tiled step at 2048 px."""
    section_plan(out, pair)
    pair.out.mkdir(parents=True, exist_ok=True)
    args = [str(pair.photo), str(pair.painting), "--size", "2048", "--scales", "1"]
    args += ["--iterations", "1", "--tile", "768", "--precision", "fp32", "--upscale-style"]
    args += ["-q", "-o", str(pair.out / "2048.png")]
    print(f"2048 px, 1 step in 768 px tiles: starting (load {load()})", flush=True)
    child = harness.run_child(harness.painterly_argv("stylize", *args))
    estimate = engine.tiled_peak_bytes(1536, 2048, "block5_conv1", "fp32", 768, 1) / 2**30
    out.add(
        "peak",
        {
            "size": "2048",
            "seconds": child.seconds,
            "peak_gib": child.peak_gib,
            "estimate_gib": estimate,
        },
    )
    print(
        f"2048 px, 1 tiled step: {child.seconds:.0f} s wall, peak {child.peak_gib:.2f} GiB", end=""
    )
    print(f" (estimate {estimate:.2f} GiB)")
    print(f"  (load {load()})")


def section_history(out: Results, pair: Pair) -> None:
    for history in (30, 10, 5):
        result = run.stylize(
            pair.photo,
            [pair.painting],
            size=384,
            scales=1,
            iterations=30,
            precision="fp32",
            seed=0,
            lbfgs_history=history,
        )
        out.add("history", {"history": history, "losses": result.final_losses})
        print(f"history {history}: final {result.final_losses} (load {load()})", flush=True)


SECTIONS = {
    "exact": section_exact,
    "speed": section_speed,
    "plan": section_plan,
    "memory": section_memory,
    "history": section_history,
}


def parser() -> argparse.ArgumentParser:
    p = harness.parser("tiles", __doc__)
    p.add_argument("sections", nargs="+", choices=SECTIONS)
    return p


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    default = Path(tempfile.gettempdir()) / "painterly-tiles"
    folder = Path(os.environ.get("TILES_OUT", default))
    pair = Pair(harness.image("tubingen"), harness.image("starry_night"), folder)
    with harness.recording("tiles", vars(args), "Tiled steps") as out:
        for section in args.sections:
            print(f"## {section} (load {load()})")
            SECTIONS[section](out, pair)
    return 0

"""Flicker against style and time: each way of stylising a clip, side by side.

    python -m benchmarks video                  # the table of the README
    python -m benchmarks video --sweep          # frame steps × temporal weight
    python -m benchmarks video --clip sintel --modes a c
    python -m benchmarks video --single --size 384 --modes a b c cw100 cw200 d d2

Modes: (a) each frame on its own with the defaults, (b) warm start only, (c) warm
start + temporal loss (the default), (d) + long-term consistency, (d2) two passes.
For each: Lai et al.'s warping error (and the input's own, the floor), the mean
style error per frame (``painterly.explain.score``), and seconds per frame (first frame and
warm-started ones apart), with the machine's load. Rows go to the results file and the
frame strip to ``docs/images/video-strip-CLIP.jpg``.

The synthetic clip is made from the bundled photo; the Sintel clip is not bundled: it is
the folder ``sintel/`` (its frames as PNG) in ``$PAINTERLY_BENCH_IMAGES``.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from painterly.config.settings import make_config
from painterly.explain.score import score
from painterly.files import images
from painterly.files.samples import bundled, moving_clip
from painterly.transfer.run import stylize
from painterly.video.clips import open_clip
from painterly.video.render import STATE, VideoSettings, render, settings_json
from painterly.video.resume import clip_identity, style_entries

from . import harness
from .harness import Results

STYLE = bundled("starry_night.jpg")
MODES = {
    "a": ("each frame alone", VideoSettings(warm_start=False)),
    "b": ("warm start only", VideoSettings(temporal_weight=0.0)),
    "c": ("warm start + temporal loss (default)", VideoSettings()),
    "c10": ("(c) with 10 steps a frame", VideoSettings(frame_iterations=10)),
    "cw100": ("(c) with temporal weight 100", VideoSettings(temporal_weight=100.0)),
    "cw200": ("(c) with temporal weight 200", VideoSettings(temporal_weight=200.0)),
    "cw1000": ("(c) with temporal weight 1000", VideoSettings(temporal_weight=1000.0)),
    "d": ("(c) + long-term", VideoSettings(long_term=True)),
    "d2": ("(c) + 2 passes", VideoSettings(passes=2)),
}


def clips(which: str, work: Path) -> dict[str, tuple[Path, int]]:
    """Folders of input frames and the size to run them at."""
    out: dict[str, tuple[Path, int]] = {}
    if which in ("sintel", "both"):
        out["sintel"] = (harness.clip("sintel"), 512)
    if which in ("synthetic", "both"):
        folder = work / "synthetic"
        folder.mkdir(exist_ok=True)
        for t, frame in enumerate(moving_clip(12, 384)):
            Image.fromarray(frame).save(folder / f"{t:03d}.png")
        out["synthetic"] = (folder, 384)
    return out


def measure(
    name: str, source: Path, size: int, settings: VideoSettings, out: Path, first: Path | None
) -> dict[str, Any]:
    """Run one mode; ``first``: the output folder of mode (a), whose first frame (the
    same full run, seed 0) is taken over instead of computed again."""
    cfg = make_config(size=size, seed=0)
    load = os.getloadavg()[0]
    reused = 0.0
    if first is not None and settings.warm_start:
        reused = take_first_frame(cfg, settings, source, out, first)
    started = time.perf_counter()
    result = render(cfg, settings, source, [STYLE], out)
    wall = time.perf_counter() - started + reused
    frames = sorted(out.glob("*.png"))
    inputs = sorted(p for p in source.iterdir() if p.suffix == ".png")
    styles = [score(f, i, [STYLE]).style_err for f, i in zip(frames, inputs, strict=True)]
    times = [f["seconds"] for f in result.record["per_frame"] if f["pass"] == 1]
    return {
        "clip": name,
        "frames": len(frames),
        "size": result.record["size"],
        "warping_error": result.record["warping_error"],
        "floor": result.record["warping_error_input"],
        "style_error": float(np.mean(styles)),
        "seconds_per_frame": wall / len(frames),
        "first_frame_s": times[0],
        "warm_frame_s": float(np.mean(times[1:])) if len(times) > 1 else None,
        "load_before": round(load, 2),
        "load_after": round(os.getloadavg()[0], 2),
    }


def take_first_frame(
    cfg: Any, settings: VideoSettings, source: Path, out: Path, first: Path
) -> float:
    """Start ``out`` as a resumed run whose first frame is mode (a)'s; its time."""
    state = json.loads((first / STATE).read_text())
    entry = state["frames"][0]
    out.mkdir()
    shutil.copy(first / "000001.png", out / "000001.png")
    clip = open_clip(source, cfg.size)
    styles = style_entries([STYLE], [images.load_image(STYLE)])
    identity = clip_identity(cfg, settings_json(settings), clip, styles, (None, None), None)
    new = {"identity": identity, "pass": 1, "done": 1, "frames": [entry]}
    (out / STATE).write_text(json.dumps(new))
    return float(entry["seconds"])


def single_image_seconds() -> float:
    """A single 384 px image with the defaults: the bar's yardstick."""
    started = time.perf_counter()
    stylize(bundled("tubingen.jpg"), [STYLE], size=384, seed=0)
    return time.perf_counter() - started


def strip(rows: dict[str, Path], source: Path, picks: range, target: Path) -> None:
    """Consecutive frames side by side: the input, then each mode, one row each."""
    inputs = sorted(p for p in source.iterdir() if p.suffix == ".png")
    lines = [[images.load_image(inputs[t]) for t in picks]]
    lines += [
        [images.load_image(sorted(folder.glob("*.png"))[t]) for t in picks]
        for folder in rows.values()
    ]
    size = (int(lines[-1][0].shape[-2]), int(lines[-1][0].shape[-1]))
    grid = [
        np.concatenate([np.array(images.tensor_to_pil(images.resize(x, size))) for x in line], 1)
        for line in lines
    ]
    target.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(np.concatenate(grid, 0)).save(target, quality=88)


def parser() -> argparse.ArgumentParser:
    p = harness.parser("video", __doc__)
    p.add_argument("--clip", choices=("sintel", "synthetic", "both"), default="both")
    p.add_argument("--modes", nargs="+", default=list(MODES))
    p.add_argument("--sweep", action="store_true")
    p.add_argument("--single", action="store_true", help="also time one 384 px image")
    p.add_argument("--frames", type=int, default=None, help="first N frames only")
    p.add_argument("--size", type=int, default=None, help="run every clip at this size")
    p.add_argument("--keep", type=Path, default=None, help="keep the outputs here")
    return p


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    if args.clip != "synthetic":
        harness.clip("sintel")  # before anything runs: say at once what is missing
    title = "Flicker against style and time"
    with (
        tempfile.TemporaryDirectory(prefix="painterly-video-") as folder,
        harness.recording("video", vars(args), title) as out,
    ):
        work = Path(folder)
        if args.single:  # first: the yardstick is there even if the run is cut short
            load = os.getloadavg()[0]
            seconds = single_image_seconds()
            row = {"mode": "single 384 px image", "seconds": seconds, "load": load}
            out.add("single", row)
            print(json.dumps(row), flush=True)
        for name, (source, size) in clips(args.clip, work).items():
            run_clip(
                out, args, work, name, _cut(work, name, source, args.frames), args.size or size
            )
        if args.keep:
            shutil.copytree(work, args.keep, dirs_exist_ok=True)
    return 0


def _cut(work: Path, name: str, source: Path, frames: int | None) -> Path:
    """The first ``frames`` of ``source`` (all of them: ``source`` itself)."""
    if not frames:
        return source
    cut = work / f"{name}-cut"
    cut.mkdir()
    for p in sorted(source.iterdir())[:frames]:
        shutil.copy(p, cut / p.name)
    return cut


def run_clip(
    out: Results, args: argparse.Namespace, work: Path, name: str, source: Path, size: int
) -> None:
    """Every mode (or the sweep) on one clip; the strip of (a) against (c)."""
    runs = sweep() if args.sweep else {m: MODES[m] for m in args.modes}
    for mode, (label, settings) in runs.items():
        folder = work / f"{name}-{mode}"
        first = work / f"{name}-a" if "a" in runs and mode != "a" else None
        row = {"mode": mode, "label": label, **measure(name, source, size, settings, folder, first)}
        out.add("mode", row)
        print(json.dumps(row), flush=True)
    if not args.sweep and {"a", "c"} <= set(runs):
        folders = {m: work / f"{name}-{m}" for m in ("a", "c")}
        target = harness.ROOT / "docs" / "images" / f"video-strip-{name}.jpg"
        count = len(list(source.glob("*.png")))
        strip(folders, source, range(max(0, count - 3), count), target)


def sweep() -> dict[str, tuple[str, VideoSettings]]:
    """The per-frame schedule and the temporal weight, chosen by measurement."""
    runs = {"a": MODES["a"]}
    for steps in (10, 30):
        for weight in (0.0, 50.0, 200.0, 1000.0):
            runs[f"s{steps}w{weight:g}"] = (
                f"{steps} steps, weight {weight:g}",
                VideoSettings(frame_iterations=steps, temporal_weight=weight),
            )
    return runs

"""A fast model's flicker with and without the temporal term of its training.

    PAINTERLY_BENCH_IMAGES=../shared/video python -m benchmarks fast_temporal
    python -m benchmarks fast_temporal --weights 0 100 300 --steps 300 --time 170

Trains one small model per temporal weight, each from the same ``--seed`` on the same crops
(the bundled Tübingen photo unless ``--photos``), within ``--steps`` and ``--time``;
then paints the frames of the *Sintel* clip (never trained on) in one pass each, at
``--clip-size``, rounded to 8 bits as ``painterly video --model`` writes them. For each
model: Lai et al.'s warping error as ``video-score`` computes it (the input's own is
the floor), the mean style and content error per frame as ``painterly score`` computes
them, the steps reached and the seconds spent training. A strip of the last frames goes
to ``--strip`` when given.
"""

from __future__ import annotations

import json
import os
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch
from PIL import Image

from painterly.explain.score import score
from painterly.fast.apply import stylize_with_model
from painterly.fast.train import train
from painterly.files import images
from painterly.files.samples import bundled
from painterly.video import clips, flow

from . import harness

STYLE = bundled("starry_night.jpg")


def frames(size: int) -> list[torch.Tensor]:
    """The clip's frames, their longest side ``size``."""
    folder = harness.clip("sintel")
    return [
        images.resize_longest(images.load_image(p, size), size)
        for p in sorted(folder.glob("*.png"))
    ]


def trained(weight: float, args: Any, work: Path) -> tuple[Path, dict[str, Any]]:
    out = work / f"w{weight:g}.safetensors"
    photos = args.photos or [str(bundled("tubingen.jpg"))]
    started = time.perf_counter()
    done = train(
        [STYLE],
        photos,
        out,
        steps=args.steps,
        time=args.time,
        size=args.crop,
        batch=args.batch,
        network=args.network,
        hold_out=0,
        seed=args.seed,
        preview_every=10**9,
        temporal_weight=weight,
    )
    return out, {"steps": done.steps, "train_s": round(time.perf_counter() - started, 1)}


def painted(model: Path, inputs: list[torch.Tensor], size: int) -> list[torch.Tensor]:
    from painterly.fast.model import load_model

    loaded = load_model(model)
    rounded = [clips.to_array(stylize_with_model(loaded, x, size=size)) for x in inputs]
    return [torch.from_numpy(a).permute(2, 0, 1)[None].float() / 255 for a in rounded]


def _hwc(x: torch.Tensor) -> np.ndarray:
    return np.ascontiguousarray(x[0].permute(1, 2, 0).numpy(), dtype=np.float32)


def strip(clips_: dict[str, list[torch.Tensor]], target: Path) -> None:
    rows = [np.concatenate([clips.to_array(x) for x in clip[-3:]], 1) for clip in clips_.values()]
    target.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(np.concatenate(rows, 0)).save(target, quality=88)


def parser() -> Any:
    p = harness.parser("fast_temporal", __doc__)
    p.add_argument("--weights", type=float, nargs="+", default=[0.0, 300.0])
    p.add_argument("--steps", type=int, default=300)
    p.add_argument("--time", type=float, default=170.0, help="seconds per training at most")
    p.add_argument("--crop", type=int, default=64)
    p.add_argument("--batch", type=int, default=2)
    p.add_argument("--network", default="small")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--photos", nargs="*", default=None)
    p.add_argument("--clip-size", type=int, default=384)
    p.add_argument("--strip", type=Path, default=None)
    return p


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    inputs = frames(args.clip_size)  # before anything runs: say at once what is missing
    title = "A fast model's flicker with and without the temporal term"
    with (
        tempfile.TemporaryDirectory(prefix="painterly-fast-temporal-") as folder,
        harness.recording("fast_temporal", vars(args), title) as out,
    ):
        work, outputs, rows = Path(folder), {"input": inputs}, []
        for weight in args.weights:
            load = os.getloadavg()[0]
            model, row = trained(weight, args, work)
            outputs[f"w{weight:g}"] = painted(model, inputs, args.clip_size)
            pairs = zip(outputs[f"w{weight:g}"], inputs, strict=True)
            scores = [score(y, x, [STYLE]) for y, x in pairs]
            row |= {
                "temporal_weight": weight,
                "style_error": float(np.mean([s.style_err for s in scores])),
                "content_error": float(np.mean([s.content_err for s in scores])),
                "load_before": round(load, 2),
            }
            rows.append(row)
        as_hwc = [[_hwc(x) for x in clip] for clip in outputs.values()]
        errors = flow.warping_errors(as_hwc[0], as_hwc, flow.FlowSettings())
        for name, error in zip(outputs, errors, strict=True):
            if name == "input":
                out.add("floor", {"warping_error": error})
                print(json.dumps({"input (floor)": error}), flush=True)
        for row, error in zip(rows, errors[1:], strict=True):
            row["warping_error"] = error
            out.add("model", row)
            print(json.dumps(row), flush=True)
        if args.strip:
            strip(outputs, args.strip)
    return 0

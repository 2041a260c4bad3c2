"""The artistic controls side by side on the bundled photo, for the README.

    python -m benchmarks controls OUT_DIR [--size 320]

Each control is one run of ``painterly.stylize`` (seed 0) beside the defaults; the
strength cell re-blends the default result without running again.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path
from typing import Any

from PIL import ImageOps

import painterly
from painterly.files import images
from painterly.files.samples import bundled
from painterly.files.sheets import contact_sheet, save_sheet

from . import harness


def variants(out: Path) -> dict[str, tuple[list[str], dict[str, Any]]]:
    """Caption → (style images, options)."""
    sky = bundled("tubingen_sky.png")
    town = out / "town-mask.png"
    ImageOps.invert(images.open_image(sky)).save(town)
    starry, scream = "starry_night.jpg", "the_scream.jpg"
    return {
        "defaults": ([starry], {}),
        "--preserve-colors luminance": ([starry], {"preserve_colors": "luminance"}),
        "--preserve-colors histogram": ([starry], {"preserve_colors": "histogram"}),
        "--style-scale 0.5 (finer strokes)": ([starry], {"style_scale": 0.5}),
        "--style-scale 2 (bigger strokes)": ([starry], {"style_scale": 2.0}),
        "--mask 0=sky.png: Starry Night\nin the sky, The Scream elsewhere": (
            [starry, scream],
            {"masks": (f"0={sky}",)},
        ),
        "--content-mask town.png\n--style-weight 10": (
            [starry],
            {"content_mask": str(town), "style_weight": 10.0},
        ),
        "--pooling avg": ([starry], {"pooling": "avg"}),
    }


def parser() -> argparse.ArgumentParser:
    p = harness.parser("controls", __doc__)
    p.add_argument("out", type=Path)
    p.add_argument("--size", type=int, default=320)
    p.add_argument("--iterations", type=int, default=None)
    return p


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    content = bundled("tubingen.jpg")
    cells: list[tuple[Any, str]] = [(content, "the photo")]
    default: painterly.Result | None = None
    with harness.recording("controls", vars(args), "The artistic controls") as out:
        for i, (caption, (styles, options)) in enumerate(variants(args.out).items()):
            start = time.perf_counter()
            result = painterly.stylize(
                content,
                [bundled(s) for s in styles],
                size=args.size,
                seed=0,
                iterations=args.iterations,
                **options,
            )
            seconds = time.perf_counter() - start
            path = result.save(args.out / f"control-{i}.png")
            default = default or result
            cells.append((path, f"{caption}\n{seconds:.0f} s"))
            out.add(
                "control", {"control": caption, "seconds": seconds, "steps": len(result.history)}
            )
            print(json.dumps({"control": caption, "seconds": round(seconds, 1)}), flush=True)
    assert default is not None
    lighter = default.with_strength(0.5)
    cells.append((lighter.save(args.out / "control-strength.png"), "--strength 0.5\n(no new run)"))
    sheet = contact_sheet(cells, columns=5, thumb=300)
    print(save_sheet(sheet, args.out / "controls.jpg"))
    return 0

"""Quality report: score and time of painterly's defaults with each technique switched,
on Tübingen and each painting at 384 px. Writes a Markdown table and a contact sheet.

    python -m benchmarks quality OUT_DIR [--pairs starry_night the_scream shipwreck]

The images come from ``$PAINTERLY_BENCH_IMAGES`` where set (the full-size originals the
figures were measured on), else the bundled copies.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

import painterly
from painterly.explain.score import score
from painterly.files.sheets import contact_sheet, save_sheet

from . import harness

VARIANTS: dict[str, dict[str, Any]] = {
    "defaults": {},
    "raw losses (--no-normalize --style-weight 30)": {"normalize": False, "style_weight": 30.0},
    "one scale (--scales 1)": {"scales": 1},
    "W2 style loss (--style-loss w2)": {"style_loss": "w2"},
    "iterate averaging (--average 0.9)": {"average": 0.9},
    "TV smoothing (--tv-weight 5)": {"tv_weight": 5.0},
    "replicate padding": {"padding": "replicate"},
    "steep layer weights 256:64:16:4:1": {
        "layer_weights": [256 / 341, 64 / 341, 16 / 341, 4 / 341, 1 / 341]
    },
}


def parser() -> argparse.ArgumentParser:
    p = harness.parser("quality", __doc__)
    p.add_argument("out", type=Path)
    p.add_argument("--pairs", nargs="+", default=["starry_night"])
    p.add_argument("--variants", nargs="+", default=list(VARIANTS))
    p.add_argument("--size", type=int, default=384)
    return p


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    content = harness.image("tubingen")
    styles = {name: harness.image(name) for name in args.pairs}
    rows, cells = [], []
    with harness.recording("quality", vars(args), "Quality of each technique") as out:
        for style_name, style in styles.items():
            for name in args.variants:
                slug = f"{style_name}-{list(VARIANTS).index(name)}"
                start = time.perf_counter()
                result = painterly.stylize(
                    content, [style], size=args.size, seed=0, **VARIANTS[name]
                )
                seconds = time.perf_counter() - start
                path = result.save(args.out / f"{slug}.png")
                s = score(path, content, [style])
                rows.append(
                    {
                        "style": style_name,
                        "variant": name,
                        "seconds": round(seconds, 1),
                        "content_err": round(s.content_err, 3),
                        "style_err": round(s.style_err, 3),
                    }
                )
                out.add("variant", rows[-1])
                caption = (
                    f"{name[:48]}\nc {s.content_err:.3f}  s {s.style_err:.3f}  {seconds:.0f} s"
                )
                cells.append((path, caption))
                print(json.dumps(rows[-1]), flush=True)
            sheet = contact_sheet(cells[-len(args.variants) :])
            save_sheet(sheet, args.out / f"sheet-{style_name}.png")
    (args.out / "quality.json").write_text(json.dumps(rows, indent=2))
    print("\n| style | variant | time (s) | content_err | style_err |\n|---|---|---|---|---|")
    for r in rows:
        print(
            f"| {r['style']} | {r['variant']} | {r['seconds']} | {r['content_err']} | "
            f"{r['style_err']} |"
        )
    sys.stdout.flush()
    return 0

"""What the seams of a chunked clip cost: the warping error at the cross-faded frames
against inside the chunks, and against the same clip made in one piece.

    python -m benchmarks video_chunks --size 128 --frames 12 --chunk 6 --overlap 2

The clip is the synthetic one made from the bundled photo (a pan and zoom with a disc
of *The Shipwreck* crossing it). Both runs are in this process (where a chunk runs
does not change its frames); the row goes to the results file, and both clips' frames
to ``painterly-chunks-kept`` in the temporary folder.
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from pathlib import Path
from typing import Any

from PIL import Image

from painterly.cluster.runners import InProcess
from painterly.config.settings import make_config
from painterly.files.samples import bundled, moving_clip
from painterly.video import clips
from painterly.video.chunking import Chunking, seam_errors, spans
from painterly.video.parallel import ClipJob, render_chunked
from painterly.video.render import VideoSettings, render

from . import harness

STYLE = bundled("starry_night.jpg")


def parser() -> argparse.ArgumentParser:
    p = harness.parser("video_chunks", __doc__)
    p.add_argument("--size", type=int, default=128)
    p.add_argument("--frames", type=int, default=12)
    p.add_argument("--chunk", type=int, default=6)
    p.add_argument("--overlap", type=int, default=2)
    return p


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    title = "The seams of a chunked clip"
    with (
        harness.recording("video_chunks", vars(args), title) as out,
        tempfile.TemporaryDirectory(prefix="painterly-chunks-") as tmp,
    ):
        row = measure(Path(tmp), args.size, args.frames, Chunking(args.chunk, args.overlap))
        out.add("seams", row)
        print(json.dumps(row, indent=2), flush=True)
        keep = Path(tempfile.gettempdir()) / "painterly-chunks-kept"
        for name in ("whole", "chunked"):
            (keep / name).mkdir(parents=True, exist_ok=True)
            for p in sorted((Path(tmp) / name).glob("*.png")):
                (keep / name / p.name).write_bytes(p.read_bytes())
    return 0


def measure(work: Path, size: int, frames: int, chunking: Chunking) -> dict[str, Any]:
    """The clip made whole and in chunks in ``work``: seam errors and seconds of each."""
    cfg, settings = make_config(size=size, seed=0), VideoSettings()
    source = work / "clip"
    source.mkdir()
    for t, frame in enumerate(moving_clip(frames, size)):
        Image.fromarray(frame).save(source / f"{t:03d}.png")
    load = os.getloadavg()[0]
    started = time.perf_counter()
    render(cfg, settings, source, [STYLE], work / "whole")
    whole_s = time.perf_counter() - started
    started = time.perf_counter()
    job = ClipJob(str(source), (STYLE,), work / "chunked")
    render_chunked(cfg, settings, [job], InProcess(), chunking)
    chunked_s = time.perf_counter() - started
    clip = clips.open_clip(source, None)
    cut = spans(clip.count, chunking)
    row: dict[str, Any] = {"size": size, "frames": frames, "chunks": [list(s) for s in cut]}
    for name in ("whole", "chunked"):
        inputs = (clips.as_float(f) for f in clip.frames())
        outputs = (clips.as_float(f) for f in clips.open_clip(work / name, None).frames())
        row[name] = seam_errors(zip(inputs, outputs, strict=True), cut, settings.flow)
    row |= {"whole_s": whole_s, "chunked_s": chunked_s, "load_before": load}
    row["load_after"] = os.getloadavg()[0]
    return row

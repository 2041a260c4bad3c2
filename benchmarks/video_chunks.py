"""What the seams of a chunked clip cost: the warping error at the cross-faded frames
against inside the chunks, and against the same clip made in one piece.

    PYTHONPATH=src python benchmarks/video_chunks.py --size 128 --frames 12 --chunk 6 --overlap 2

The clip is the synthetic one made from the bundled photo (a pan and zoom with a disc
of *The Shipwreck* crossing it). Both runs are in this process (where a chunk runs
does not change its frames); results go to ``benchmarks/results/video-chunks.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from pathlib import Path

from PIL import Image

from painterly.cluster.runners import InProcess
from painterly.config.settings import make_config
from painterly.files.samples import bundled, moving_clip
from painterly.video import clips
from painterly.video.chunking import Chunking, seam_errors, spans
from painterly.video.parallel import ClipJob, render_chunked
from painterly.video.render import VideoSettings, render

ROOT = Path(__file__).resolve().parents[1]
STYLE = bundled("starry_night.jpg")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--size", type=int, default=128)
    parser.add_argument("--frames", type=int, default=12)
    parser.add_argument("--chunk", type=int, default=6)
    parser.add_argument("--overlap", type=int, default=2)
    args = parser.parse_args()
    cfg, settings = make_config(size=args.size, seed=0), VideoSettings()
    chunking = Chunking(args.chunk, args.overlap)
    with tempfile.TemporaryDirectory(prefix="painterly-chunks-") as tmp:
        work = Path(tmp)
        source = work / "clip"
        source.mkdir()
        for t, frame in enumerate(moving_clip(args.frames, args.size)):
            Image.fromarray(frame).save(source / f"{t:03d}.png")
        load = os.getloadavg()[0]
        started = time.perf_counter()
        render(cfg, settings, source, [STYLE], work / "whole")
        whole_s = time.perf_counter() - started
        started = time.perf_counter()
        job = ClipJob(str(source), (STYLE,), work / "chunked")
        render_chunked(cfg, settings, [job], InProcess(), chunking)
        chunked_s = time.perf_counter() - started
        inputs = [clips.as_float(f) for f in clips.read_clip(source, None).frames]
        cut = spans(len(inputs), chunking)
        row = {"size": args.size, "frames": args.frames, "chunks": [list(s) for s in cut]}
        for name in ("whole", "chunked"):
            outputs = [clips.as_float(f) for f in clips.read_clip(work / name, None).frames]
            row[name] = seam_errors(inputs, outputs, cut, settings.flow)
        row |= {"whole_s": whole_s, "chunked_s": chunked_s, "load_before": load}
        row["load_after"] = os.getloadavg()[0]
        print(json.dumps(row, indent=2), flush=True)
        results = ROOT / "benchmarks" / "results"
        results.mkdir(exist_ok=True)
        (results / "video-chunks.json").write_text(json.dumps(row, indent=2))
        keep = Path("/tmp/painterly-chunks-kept")
        for name in ("whole", "chunked"):
            (keep / name).mkdir(parents=True, exist_ok=True)
            for p in sorted((work / name).glob("*.png")):
                (keep / name / p.name).write_bytes(p.read_bytes())


if __name__ == "__main__":
    main()

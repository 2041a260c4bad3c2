"""``painterly video`` and ``painterly video-score``.

The commands import :mod:`painterly.video` (and PyTorch) when they run, so that their
help and usage errors answer at once; the defaults the help shows are copied here, and
a test checks them against :class:`~painterly.video.render.VideoSettings`.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from ..config.settings import make_config
from ..video.flow import DIS_PRESETS
from . import signals
from .options import config_options
from .progress import Bar

if TYPE_CHECKING:
    from ..video.parallel import ChunkProgress
    from ..video.render import FrameProgress, VideoResult, VideoSettings

TEMPORAL_WEIGHT = 50.0  # VideoSettings.temporal_weight
FRAME_ITERATIONS = 20  # VideoSettings.frame_iterations


class _FrameBar:
    """A bar over frames, with the time left: made at the first frame this run
    finishes, so that frames kept from an earlier run do not count in its pace."""

    def __init__(self, quiet: bool) -> None:
        self.bar = Bar(quiet, unit="frame")

    def __call__(self, info: FrameProgress) -> None:
        postfix = f"pass {info.pass_}, {info.seconds:.1f} s"
        if "style" in info.losses:  # a fast model's frames have no loss
            postfix += f", style {info.losses['style']:.3g}"
        self.bar.show(info.done, postfix, total=info.total)

    def close(self) -> None:
        self.bar.close()


def _settings(options: dict[str, Any]) -> VideoSettings:
    from ..video import flow
    from ..video.render import VideoSettings

    defaults = VideoSettings()
    chosen = {k: v for k, v in options.items() if v is not None}
    preset = chosen.pop("flow_preset", None)
    independent = chosen.pop("independent", False)
    return VideoSettings(
        **chosen,
        warm_start=not independent,
        flow=flow.FlowSettings(preset) if preset else defaults.flow,
    )


@click.command(short_help="Stylise a video or a folder of frames, without flicker.")
@click.argument("source", metavar="INPUT")
@click.argument("styles", nargs=-1, type=click.Path(path_type=Path))
@click.option(
    "-o",
    "--output",
    type=click.Path(path_type=Path),
    required=True,
    help="output: .mp4 (H.264), .webm, .gif, or a folder for one PNG per frame",
)
@click.option(
    "--model",
    type=click.Path(path_type=Path),
    default=None,
    help="paint each frame in one pass of this fast model (painterly train), not STYLEs",
)
@config_options
@click.option("--mask", "masks", multiple=True, metavar="INDEX=FILE", help="as for stylize")
@click.option("--frames", "span", metavar="A:B", help="frames A to B-1, counted from 0")
@click.option("--fps", type=float, help="resample a video to this rate (a folder's rate: 24)")
@click.option(
    "--temporal-weight",
    type=float,
    help=f"weight of the temporal loss  [default: {TEMPORAL_WEIGHT:g}]",
)
@click.option(
    "--frame-iterations",
    type=int,
    help=f"steps of each warm-started frame  [default: {FRAME_ITERATIONS}]",
)
@click.option("--long-term/--no-long-term", default=None, help="also hold to frames t-2, t-4")
@click.option("--passes", type=int, help="passes over the clip, alternating  [default: 1]")
@click.option("--flow-preset", type=click.Choice(DIS_PRESETS), help="DIS preset")
@click.option("--independent", is_flag=True, help="each frame on its own (flickers; to compare)")
@click.option("--workers", type=int, help="chunks and clips on N local Dask worker processes")
@click.option("--cluster", metavar="ADDR", help="chunks and clips on the Dask scheduler ADDR")
@click.option("--chunk", type=int, default=24, show_default=True, help="frames a chunk")
@click.option("--overlap", type=int, default=4, show_default=True, help="frames chunks share")
@click.option("--also", multiple=True, metavar="INPUT", help="a further input (repeatable)")
@click.option("--each-style", is_flag=True, help="one clip for each STYLE, not a blend")
@click.option("-q", "--quiet", is_flag=True, help="no progress bar or summary")
def video(
    source: str,
    styles: tuple[Path, ...],
    output: Path,
    model: Path | None,
    span: str | None,
    fps: float | None,
    quiet: bool,
    workers: int | None,
    cluster: str | None,
    chunk: int,
    overlap: int,
    also: tuple[str, ...],
    each_style: bool,
    **options: Any,
) -> int:
    """Paint the frames of INPUT (a video file, a folder of frames or a quoted glob)
    in the style of STYLE images; each frame starts from the last one, warped along
    the optical flow, so the strokes stay put. Run the same command again to continue
    an interrupted clip.

    \b
    With --workers or --cluster (or --also, --each-style), the clips are cut into
    chunks of --chunk frames sharing --overlap frames, run in parallel and cross-faded
    where they meet; finished chunks are kept for the next run.

    \b
    Example:
      painterly video clip.mp4 starry_night.jpg --size 384 -o painted.mp4
      painterly video 'frames/*.png' starry_night.jpg --frames 0:48 -o painted/
      painterly video long.mp4 starry_night.jpg --workers 2 --chunk 24 -o painted.mp4
      painterly video clip.mp4 --model starry.safetensors -o painted.mp4
    """
    if bool(styles) == (model is not None):
        raise click.UsageError("give STYLE images or --model, one of the two")
    from ..video import clips
    from ..video.chunking import Chunking
    from ..video.render import render

    names = ("temporal_weight", "frame_iterations", "long_term", "passes", "flow_preset")
    settings = _settings({k: options.pop(k) for k in (*names, "independent")})
    if model is not None:
        if workers is not None or cluster is not None or also or each_style:
            raise click.UsageError(
                "--model paints a clip in this process: give it without --workers, "
                "--cluster, --also and --each-style"
            )
        return _with_model(model, source, output, span, fps, quiet, options)
    if workers is not None or cluster is not None or also or each_style:
        on_cluster = workers is not None or cluster is not None
        chunking = Chunking(chunk, overlap) if on_cluster else None
        places = {"workers": workers, "cluster": cluster, "chunking": chunking}
        sources, clip_options = [source, *also], {"frames": span, "fps": fps, **places}
        return _chunked(sources, styles, output, each_style, settings, clip_options, quiet, options)
    cfg = make_config(**options)
    frames = clips.parse_range(span) if span else (None, None)
    bar = _FrameBar(quiet)
    try:
        with signals.stops_the_run():
            result = render(cfg, settings, source, list(styles), output, frames, fps, bar)
    finally:
        bar.close()
    return _summary(result, quiet)


def _summary(result: VideoResult, quiet: bool) -> int:
    if not quiet:
        state = "interrupted; run again to continue" if result.interrupted else "done"
        record = result.record
        click.echo(
            f"{result.output} ({state}: {result.frames} frames, warping error "
            f"{record['warping_error']:.4f}, input's own {record['warping_error_input']:.4f}; "
            f"record in {result.output.with_suffix('.json')})",
            err=True,
        )
    return 130 if result.interrupted else 0


def _with_model(
    model: Path,
    source: str,
    output: Path,
    span: str | None,
    fps: float | None,
    quiet: bool,
    options: dict[str, Any],
) -> int:
    """``painterly video INPUT --model M``: each frame through the network."""
    from ..video.fast import video_with_model

    bar = _FrameBar(quiet)
    try:
        with signals.stops_the_run():
            result = video_with_model(
                model, source, output, frames=span, fps=fps, progress=bar, **options
            )
    finally:
        bar.close()
    return _summary(result, quiet)


def _chunked(
    sources: list[str],
    styles: tuple[Path, ...],
    output: Path,
    each_style: bool,
    settings: VideoSettings,
    clip_options: dict[str, Any],
    quiet: bool,
    options: dict[str, Any],
) -> int:
    """Clips in chunks: a line per chunk event, a summary per clip."""
    from ..video.parallel import videos

    def tell(info: ChunkProgress) -> None:
        if not quiet and info.state != "started":
            where = f" on {info.worker}" if info.worker else ""
            why = f": {info.message}" if info.message else ""
            line = f"{info.output.name} chunk {info.chunk + 1}/{info.chunks} {info.state}"
            click.echo(f"{line}{where}{why}", err=True)

    try:
        with signals.stops_the_run():
            results = videos(
                sources, list(styles), output, each_style=each_style, settings=settings,
                progress=tell, **clip_options, **options,
            )  # fmt: skip
    except KeyboardInterrupt:
        click.echo("interrupted: the finished chunks are kept; run again to continue", err=True)
        return 130
    failed = [r for r in results if not r.frames]
    for result in results:
        if result.frames and not quiet:
            r = result.record
            click.echo(
                f"{result.output} (done: {result.frames} frames, warping error "
                f"{r['warping_error']:.4f}, at the seams {r['warping_error_seams'] or 0:.4f}, "
                f"input's own {r['warping_error_input']:.4f})",
                err=True,
            )
    for result in failed:
        click.echo(f"{result.output}: chunks failed: {result.record['failed_chunks']}", err=True)
    return 1 if failed else 0


@click.command("video-score", short_help="Warping error of a stylised clip (Lai et al. 2018).")
@click.argument("source", metavar="INPUT")
@click.argument("output", metavar="OUTPUT")
@click.option("--frames", "span", metavar="A:B", help="the frames of INPUT that OUTPUT holds")
@click.option("--flow-preset", type=click.Choice(DIS_PRESETS), default="medium")
def video_score(source: str, output: str, span: str | None, flow_preset: str) -> None:
    """The warping error of OUTPUT, flow taken on INPUT (both videos, folders or globs):
    the mean squared difference (RGB 0-1) between each frame and the next one warped
    back to it, where the flow is trusted. Lower is steadier; the input's own error,
    printed beside it, is the floor. INPUT is read at the size OUTPUT was made at, and
    a side that a video made even (33x21 is written 34x22) is cropped back.

    \b
    Example:
      painterly video-score clip.mp4 painted.mp4
    """
    from ..video import clips, flow
    from ..video.score import score

    frames = clips.parse_range(span) if span else (None, None)
    found = score(source, output, frames, flow.FlowSettings(flow_preset))
    click.echo(
        f"warping error {found.error:.5f} (the input's own: {found.floor:.5f}; "
        f"{found.frames} frames)"
    )

"""``painterly stylize``, ``painterly demo`` and ``painterly blend``.

The commands import the library (and PyTorch) when they run, so that their help and
usage errors answer at once.
"""

from __future__ import annotations

import logging
import math
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from ..config.settings import make_config
from ..errors import OutputError
from . import fast, signals
from .options import config_options
from .progress import Bar

if TYPE_CHECKING:
    from ..transfer.result import Result
    from ..transfer.run import Progress, ProgressFn

log = logging.getLogger(__name__)


def plot_path(out: Path) -> Path:
    """Where ``--plot`` writes the loss curves of ``out``."""
    return out.with_name(f"{out.stem}.losses.png")


def checkpoint_path(out: Path) -> Path:
    """Where a run writing ``out`` keeps its checkpoint until the image is saved."""
    return out.with_name(f"{out.stem}.resume.safetensors")


def _describe(info: Progress) -> str:
    """The bar's words: the step, the size, the losses, and the tile within a step."""
    step = info.step + (info.tiles is not None)  # within a tiled step: the one under way
    steps = f"step {step}/{info.total}" if info.total else f"step {step}"
    where = f"{steps} at {info.size[1]}×{info.size[0]}"
    if info.tiles is not None:
        where += f", tile pass {info.tiles[0]}/{info.tiles[1]}"
    if "style" not in info.losses:
        return where
    return f"{where}, style {info.losses['style']:.3g} content {info.losses['content']:.3g}"


class _Reporter:
    """Turns progress events into a tqdm bar and intermediate images.

    The bar counts work, not steps: a step at the last, largest size of the
    coarse-to-fine schedule costs many at the first, so the time left follows the work.
    """

    def __init__(self, out: Path, quiet: bool, save_every: int | None) -> None:
        self.out, self.save_every = out, save_every
        self.bar = Bar.of_work(quiet)

    def __call__(self, info: Progress) -> None:
        self.bar.show(100 * info.work, _describe(info))
        if info.tiles is None and self.save_every and info.step % self.save_every == 0:
            from ..files import images

            path = self.out.with_name(f"{self.out.stem}.step{info.step:04d}{self.out.suffix}")
            try:
                images.save_image(info.image.detach().cpu().clamp(0, 1), path)
            except OutputError as exc:  # an intermediate image is not worth the run
                log.warning("%s; the run goes on", exc)

    def close(self) -> None:
        self.bar.close()


def execute(
    cfg_args: dict[str, Any],
    content: Path,
    styles: list[Path],
    out: Path,
    quiet: bool,
    save_every: int | None,
    quality: int,
    bit_depth: int = 8,
    plot: bool = False,
    restart: bool = False,
) -> Result:
    """Validate everything, run, and save the image, its record and the loss plot.

    The run keeps a checkpoint beside ``out`` (see :func:`checkpoint_path`): stopped or
    killed, the same command continues from it; ``restart`` starts afresh instead."""
    from ..explain import figures
    from ..files import images
    from ..transfer.resume import Checkpoint
    from ..transfer.run import run

    images.check_output_path(out, bit_depth)
    if plot:
        figures.require()
    if save_every is not None and save_every < 1:
        raise click.BadParameter(f"--save-every must be ≥ 1, got {save_every}")
    cfg = make_config(**cfg_args)
    reporter = _Reporter(out, quiet, save_every)
    callback: ProgressFn = reporter
    checkpoint = Checkpoint(checkpoint_path(out))
    if restart:
        checkpoint.path.unlink(missing_ok=True)
    with signals.stops_the_run() as stopping:
        try:
            result = run(cfg, content, styles, progress=callback, checkpoint=checkpoint)
        finally:
            reporter.close()
        stopping.done()  # from here a signal waits until the image is saved
        inputs = {"content": str(content), "styles": [str(s) for s in styles]}
        result.save_or_fallback(out, quality=quality, inputs=inputs, bit_depth=bit_depth)
        if not result.interrupted:
            checkpoint.path.unlink(missing_ok=True)  # finished and saved: nothing to continue
    if plot and result.history:
        title = f"{out.name}: losses per step (dotted: next size)"
        figures.save(figures.loss_curves({out.name: result.history_dicts()}, title), plot_path(out))
    if not quiet:
        losses = result.final_losses
        state = "done"
        if result.interrupted:
            state = (
                "interrupted; kept the image reached so far, and the same command "
                f"continues from {checkpoint.path.name}"
            )
        click.echo(
            f"{out} ({state}: {len(result.history)} steps in {result.elapsed:.1f} s, "
            f"style loss {losses.get('style', math.nan):.4g}, "
            f"content loss {losses.get('content', math.nan):.4g}; "
            f"record in {out.with_suffix('.json')})",
            err=True,
        )
    return result


_OUT = click.option(
    "-o",
    "--output",
    "output",
    type=click.Path(path_type=Path),
    required=True,
    help="output image (.png, .jpg, .webp, .tif)",
)
_QUIET = click.option("-q", "--quiet", is_flag=True, help="no progress bar or summary")
_QUALITY = click.option(
    "--quality", type=click.IntRange(1, 100), default=95, help="JPEG/WebP quality  [default: 95]"
)
_DEPTH = click.option(
    "--depth",
    "bit_depth",
    type=click.Choice(["8", "16"]),
    default="8",
    help="bits per channel (16: .png and .tif only)  [default: 8]",
)


@click.command()
@click.argument("content", type=click.Path(path_type=Path))
@click.argument("styles", nargs=-1, type=click.Path(path_type=Path))
@_OUT
@click.option(
    "--model",
    type=click.Path(path_type=Path),
    default=None,
    help="paint with this fast model (painterly train) instead of STYLE images",
)
@config_options
@click.option(
    "--mask",
    "masks",
    multiple=True,
    metavar="INDEX=FILE",
    help="paint style INDEX (0 = the first) only where FILE is white; repeat per style",
)
@click.option("--save-every", type=int, default=None, help="write every N-th step's image")
@_QUALITY
@_DEPTH
@click.option("--plot", is_flag=True, help="also write <output>.losses.png, the loss curves")
@click.option(
    "--restart",
    is_flag=True,
    help="start afresh instead of continuing a stopped run's <output>.resume.safetensors",
)
@_QUIET
def stylize(
    content: Path,
    styles: tuple[Path, ...],
    output: Path,
    quiet: bool,
    save_every: int | None,
    quality: int,
    bit_depth: str,
    plot: bool,
    model: Path | None,
    restart: bool,
    **cfg_args: Any,
) -> int:
    """Paint CONTENT in the style of one or more STYLE images.

    \b
    Example:
      painterly stylize photo.jpg starry_night.jpg -o out.png
      painterly stylize photo.jpg a.jpg b.jpg --style-weights 0.7 0.3 -o out.png
      painterly stylize photo.jpg a.jpg b.jpg --mask 0=sky.png -o out.png
      painterly stylize photo.jpg --model starry.safetensors -o out.png

    Stopped (Ctrl-C, SIGTERM, a closed lid that killed it), the same command continues
    from the last finished scale or the last checkpoint within one (every two minutes).
    """
    if model is not None or not styles:
        if model is None or styles:
            raise click.UsageError("give STYLE images or --model, one of the two")
        return fast.stylize_with(model, content, output, cfg_args, quality, int(bit_depth))
    result = execute(
        cfg_args,
        content,
        list(styles),
        output,
        quiet,
        save_every,
        quality,
        int(bit_depth),
        plot,
        restart,
    )
    return 130 if result.interrupted else 0


@click.command(short_help="Stylise a bundled photo with The Starry Night.")
@click.option(
    "-o",
    "--output",
    type=click.Path(path_type=Path),
    default=Path("painterly-demo.png"),
    help="output image  [default: painterly-demo.png]",
)
@click.option("--size", type=int, default=None, help="longest side in pixels  [default: 512]")
@_QUIET
def demo(output: Path, size: int | None, quiet: bool) -> int:
    """Stylise a bundled photo of Tübingen with van Gogh's Starry Night."""
    from ..files.samples import bundled

    content, style = bundled("tubingen.jpg"), bundled("starry_night.jpg")
    started = time.perf_counter()
    result = execute({"size": size, "seed": 0}, content, [style], output, quiet, None, 95)
    click.echo(
        f"Wrote {output.resolve()} in {time.perf_counter() - started:.0f} s "
        f"(Tübingen by Andreas Praefcke, CC BY 3.0; The Starry Night, public domain)"
    )
    return 130 if result.interrupted else 0


@click.command(short_help="Blend a finished painting with its photo, no new run.")
@click.argument("painting", type=click.Path(path_type=Path))
@click.argument("photo", type=click.Path(path_type=Path))
@_OUT
@click.option(
    "--strength",
    type=click.FloatRange(0, 1),
    required=True,
    help="1: the painting, 0: the photo",
)
@_QUALITY
@_DEPTH
def blend(
    painting: Path, photo: Path, output: Path, strength: float, quality: int, bit_depth: str
) -> None:
    """Blend a finished PAINTING with its PHOTO for a lighter touch, without running again.

    \b
    Example:
      painterly blend out.png photo.jpg --strength 0.6 -o lighter.png
    """
    from ..files import images
    from ..transfer.inputs import blend as blend_images

    images.check_output_path(output, int(bit_depth))
    picture = images.load_image(painting)
    # The photo is only used at the painting's size.
    mixed = blend_images(picture, images.load_image(photo, max(picture.shape[-2:])), strength)
    images.save_image(mixed, output, quality=quality, bit_depth=int(bit_depth))

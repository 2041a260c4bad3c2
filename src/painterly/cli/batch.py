"""``painterly batch``: folders of photos × paintings, here or on a Dask cluster."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from . import signals
from .options import config_options
from .progress import Bar

if TYPE_CHECKING:
    from ..batch import BatchProgress


def spread_styles(args: list[str]) -> list[str]:
    """Let ``--styles`` take several files: ``--styles a.jpg b.jpg`` → one ``--styles``
    per file, up to the next option."""
    out: list[str] = []
    taking = False
    for arg in args:
        if arg in ("--styles", "-s"):
            taking = True
            continue
        if arg.startswith("-"):
            taking = False
        out += ["--styles", arg] if taking else [arg]
    return out


class _BatchCommand(click.Command):
    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        return super().parse_args(ctx, spread_styles(args))


class _Bar:
    """A bar over the batch's work, with counts, and a line per finished item."""

    def __init__(self, quiet: bool) -> None:
        self.quiet, self.bar = quiet, Bar.of_work(quiet)
        self.last: BatchProgress | None = None

    def __call__(self, info: BatchProgress) -> None:
        self.last = info
        if self.quiet:
            return
        if info.message:
            self.bar.write(info.message)
        counts = f"{info.done + info.reused}/{info.total} done"
        counts += f", {info.failed} failed" if info.failed else ""
        counts += f", {info.in_flight} running" if info.in_flight else ""
        if info.step is not None and info.item:
            step = f"step {info.step.step}/{info.step.total}" if info.step.total else ""
            counts += f"; {info.item} {step}"
        self.bar.show(100 * info.work, counts)

    def close(self) -> None:
        self.bar.close()


def _echo(line: str) -> None:
    click.echo(line, err=True)


@click.command(cls=_BatchCommand, short_help="Stylise folders of photos with paintings.")
@click.argument("contents", nargs=-1, required=True)
@click.option(
    "-s",
    "--styles",
    multiple=True,
    metavar="STYLE",
    help="style images, folders or quoted globs (several after one --styles)",
)
@click.option(
    "--model",
    type=click.Path(path_type=Path),
    default=None,
    help="paint each photo with this fast model (painterly train) instead of --styles",
)
@click.option("-o", "--output", type=click.Path(path_type=Path), required=True, help="folder")
@click.option("--pairs", is_flag=True, help="pair contents and styles in order")
@click.option("--blend", is_flag=True, help="all styles in each image (see --style-weights)")
@click.option("--workers", type=int, default=None, help="run on N local Dask worker processes")
@click.option("--cluster", default=None, metavar="ADDR", help="run on the Dask scheduler ADDR")
@config_options
@click.option("-q", "--quiet", is_flag=True, help="no progress, only the summary")
def batch(
    contents: tuple[str, ...],
    styles: tuple[str, ...],
    output: Path,
    model: Path | None,
    pairs: bool,
    blend: bool,
    workers: int | None,
    cluster: str | None,
    quiet: bool,
    **cfg_args: Any,
) -> int:
    """Paint every CONTENT image in the style of every --styles image (or with a fast
    --model), into a folder.

    CONTENT and STYLE are files, folders or quoted globs. Writes
    <content>__<style>.png with its record, and manifest.jsonl (one line per item
    and attempt). Run it again to resume: finished items are skipped, by hash.
    Every option of stylize applies to every item.

    \b
    Examples:
      painterly batch photos/ --styles starry.jpg scream.jpg -o out/
      painterly batch 'shots/*.jpg' --styles a.jpg b.jpg --blend --style-weights 0.7 0.3 -o out/
      painterly batch photos/ --styles paintings/ --workers 2 -o out/
      painterly batch photos/ --styles paintings/ --cluster tcp://10.0.0.5:8786 -o out/
      painterly batch photos/ --model starry.safetensors --workers 2 -o out/
    """
    if bool(styles) == (model is not None):
        raise click.UsageError("give --styles or --model, one of the two")
    from ..batch import batch as run_batch  # PyTorch, once the command runs

    if pairs and blend:
        raise click.BadParameter("give --pairs or --blend, not both")
    mode = "pairs" if pairs else "blend" if blend else "cross"
    bar = _Bar(quiet)
    try:
        with signals.stops_the_run():
            result = run_batch(
                contents, styles, output, mode=mode, model=model, workers=workers,
                cluster=cluster, progress=bar, **cfg_args,
            )  # fmt: skip
    except KeyboardInterrupt:
        bar.close()
        kept = f"{bar.last.done + bar.last.reused} of {bar.last.total} items" if bar.last else ""
        _echo(f"stopped: {kept or 'what is done'} in {output}; the same command does the rest")
        raise
    finally:
        bar.close()
    failed = f", {len(result.failed)} failed" if result.failed else ""
    failed += f", {len(result.skipped)} entries skipped" if result.skipped else ""
    click.echo(
        f"{len(result.done)} done, {len(result.reused)} already there{failed} "
        f"in {result.seconds:.0f} s; images in {output}, one line per attempt in "
        f"{result.manifest}",
        err=True,
    )
    return 1 if result.failed else 0

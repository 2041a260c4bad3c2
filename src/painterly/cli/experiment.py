"""``painterly experiment``: the article's experiments, or any grid, in one command.

The command imports :mod:`painterly.explain.experiment` (and PyTorch) when it runs,
so that its help and usage errors answer at once.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from ..config.settings import INITS, PRESETS
from ..errors import ConfigError, ImageError
from ..files.paths import check_readable
from . import signals
from .progress import Bar

if TYPE_CHECKING:
    from ..transfer.run import Progress

# painterly.explain.experiment.MAX_RUNS, for the help (a test checks that they agree)
MAX_RUNS = 1000


class _Events:
    """One line per run on stderr, and a step bar on a terminal."""

    def __init__(self, quiet: bool) -> None:
        self.quiet, self.bar = quiet, Bar(quiet, unit="step", leave=False)

    def __call__(self, name: str, index: int, count: int, step: Progress | None) -> None:
        if self.quiet:
            return
        if step is None:
            self.bar.close()
            self.bar.write(f"run {index + 1}/{count}: {name.replace(chr(10), ' ')}")
        elif step.tiles is None:  # a tile pass within a step moves no step on
            self.bar.show(step.step, total=step.total or None)

    def close(self) -> None:
        self.bar.close()


def _read_grid(path: Path) -> str:
    """The text of a grid file, or one line saying why it cannot be read."""
    try:
        check_readable(path, "grid file")
        return path.read_text(encoding="utf-8")
    except ImageError as exc:
        raise ConfigError(str(exc)) from None
    except UnicodeDecodeError:
        raise ConfigError(f"grid file '{path}' is not a text (UTF-8 TOML) file") from None
    except OSError as exc:
        raise ConfigError(f"grid file '{path}' cannot be read ({exc.strerror})") from None


@click.command(short_help="Run the article's experiments, or a TOML grid.")
@click.argument("content", type=click.Path(path_type=Path))
@click.argument("styles", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option(
    "-o", "--output", type=click.Path(path_type=Path), required=True, help="output folder"
)
@click.option(
    "--grid", "grid_file", type=click.Path(path_type=Path), default=None, help="a TOML grid"
)
@click.option(
    "--preset",
    type=click.Choice(list(PRESETS)),
    default=None,
    help="base setting  [default: article, or the grid file's]",
)
@click.option("--size", type=click.IntRange(16, 4096), default=256, help="longest side  [256]")
@click.option("--iterations", type=click.IntRange(1), default=None, help="steps per run")
@click.option("--seed", type=int, default=0, help="seed of every run  [default: 0]")
@click.option(
    "--init",
    type=click.Choice(INITS),
    default="content",
    help="start from the photo or from noise, as the article allows both  [content]",
)
@click.option(
    "--max-runs",
    type=click.IntRange(1),
    default=MAX_RUNS,
    help=f"refuse a grid of more runs  [default: {MAX_RUNS}]",
)
@click.option("--plot", is_flag=True, help="also write losses.png, every run's loss curves")
@click.option("--workers", type=click.IntRange(1), default=None, help="on N local Dask workers")
@click.option("--cluster", default=None, metavar="ADDR", help="on the Dask scheduler ADDR")
@click.option("-q", "--quiet", is_flag=True, help="no progress")
def experiment_cmd(
    content: Path,
    styles: tuple[Path, ...],
    output: Path,
    grid_file: Path | None,
    preset: str | None,
    size: int,
    iterations: int | None,
    seed: int,
    init: str,
    max_runs: int,
    plot: bool,
    workers: int | None,
    cluster: str | None,
    quiet: bool,
) -> int:
    """Run the article's experiments on CONTENT and STYLE(s) as a grid into a folder.

    Without --grid: the baseline, a 20× style weight, one style layer, a shallow
    content layer, two sets of layer weights and (with two styles) a blend, each from
    the photo (--init noise: from noise; 300 steps then leave grain). Writes every
    image, sheet.jpg, results.csv and results.json; run it again to resume.

    \b
    Examples:
      painterly experiment photo.jpg starry.jpg scream.jpg -o article/
      painterly experiment photo.jpg starry.jpg --grid grid.toml -o mine/ --plot
      painterly experiment photo.jpg starry.jpg scream.jpg -o article/ --workers 2
    """
    from ..explain import experiment, figures
    from ..files.sheets import contact_sheet, save_sheet

    if plot:
        figures.require()
    for path in (content, *styles):
        check_readable(path, "image")
    base: dict[str, Any] = {"size": size, "seed": seed, "init": init}
    if iterations is not None:
        base["iterations"] = iterations
    notes: list[str] = []
    if grid_file is None:
        chosen = preset or "article"
        runs = experiment.article_grid(chosen, len(styles))
        notes = experiment.article_notes(len(styles))
    else:
        chosen, grid_base, runs = experiment.parse_grid(
            _read_grid(grid_file), grid_file.name, max_runs
        )
        chosen = preset or chosen
        base = {**base, **grid_base}
    events, out = _Events(quiet), output
    with signals.stops_the_run():  # SIGTERM stops it as Ctrl-C does; run it again to resume
        try:
            done = experiment.run_grid(
                content, list(styles), runs, out, chosen, base, events,
                workers=workers, cluster=cluster, notes=notes,
            )  # fmt: skip
        finally:
            events.close()
    for name, error in done.failed.items():
        click.echo(f"run '{name.replace(chr(10), ' ')}' failed: {error}", err=True)
    cells = [
        (out / row["image"], experiment.caption(row, runs[row["run"] - 1].name))
        for row in done.rows
    ]
    title = f"{content.name} + {', '.join(s.name for s in styles)}: preset {chosen}, {size} px"
    if not cells:  # every run failed
        raise click.ClickException(f"no run of the grid finished: nothing written in {out}")
    sheet = save_sheet(contact_sheet(cells, columns=4, thumb=260, title=title), out / "sheet.jpg")
    if plot:
        fig = figures.loss_curves(done.histories, f"Losses of each run ({chosen}, {size} px)")
        figures.save(fig, out / "losses.png")
    seconds = sum(row["seconds"] for row in done.rows)
    failed = f", {len(done.failed)} failed (run it again to retry them)" if done.failed else ""
    click.echo(
        f"{len(done.rows)} runs ({done.reused} reused{failed}) in {seconds:.0f} s of run "
        f"time; targets computed {done.cache.misses} times, reused {done.cache.hits} times. "
        f"Wrote {sheet}, {out / 'results.csv'}"
    )
    return 1 if done.failed else 0

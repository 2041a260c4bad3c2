"""The command group and its one exit point, :func:`main` (see :mod:`painterly.cli`)."""

from __future__ import annotations

import logging
import sys
from collections.abc import Sequence

import click

from .._version import __version__
from ..errors import ConfigError, PainterlyError, SavedElsewhere
from .batch import batch
from .experiment import experiment_cmd
from .explain import features, gram, reconstruct
from .fast import export_cmd, models, train_cmd
from .options import flag, gather_lists
from .run import blend, demo, stylize
from .serve import serve
from .tools import layers, score, weights
from .video import video, video_score


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="painterly")
@click.option("-v", "--verbose", is_flag=True, help="log what happens")
def cli(verbose: bool) -> None:
    """painterly: neural style transfer (Gatys et al.) with the original VGG-19."""
    level = logging.INFO if verbose else logging.WARNING
    logging.basicConfig(level=level, format="painterly: %(message)s")
    for handler in logging.getLogger().handlers:  # libraries' own loggers (Dask's) too
        if isinstance(handler, logging.StreamHandler) and handler.stream is sys.stderr:
            handler.setLevel(level)


for command in (
    stylize,
    batch,
    blend,
    demo,
    layers,
    weights,
    score,
    features,
    gram,
    reconstruct,
    serve,
):
    cli.add_command(command)
cli.add_command(video)
cli.add_command(video_score)
cli.add_command(experiment_cmd, name="experiment")
cli.add_command(train_cmd, name="train")
cli.add_command(models)
cli.add_command(export_cmd, name="export")


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; return the exit status."""
    args = gather_lists(sys.argv[1:] if argv is None else argv)
    try:
        result = cli.main(args=args, prog_name="painterly", standalone_mode=False)
    except click.exceptions.Exit as exc:
        return int(exc.exit_code)
    except click.ClickException as exc:
        click.echo(f"painterly: error: {exc.format_message()}", err=True)
        return 2
    except (click.exceptions.Abort, KeyboardInterrupt):
        click.echo("painterly: aborted", err=True)
        return 130
    except SavedElsewhere as exc:  # the work is safe, but not where it was asked
        click.echo(f"painterly: error: {exc}", err=True)
        return 1
    except ConfigError as exc:  # the field as this command line calls it: --size
        message = exc.worded(flag(exc.field)) if exc.field else str(exc)
        click.echo(f"painterly: error: {message}", err=True)
        return 2
    except PainterlyError as exc:
        click.echo(f"painterly: error: {exc}", err=True)
        return 2
    return int(result or 0)

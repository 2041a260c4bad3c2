"""The command group and its one exit point, :func:`main` (see :mod:`painterly.cli`).

The group is lazy: :data:`COMMANDS` names each command's module, imported only when
its command runs or its own ``--help`` is asked. ``painterly``, ``painterly --help`` and
a mistyped command answer from the table alone. The command modules import the library
(and PyTorch) inside the commands' bodies, so that ``painterly COMMAND --help`` and
usage errors answer at once too. Adding a command is one line there.
"""

from __future__ import annotations

import importlib
import logging
import sys
from collections.abc import Sequence

import click

from .._version import __version__
from ..errors import ConfigError, PainterlyError, SavedElsewhere
from .options import flag, gather_lists

# name: (module in painterly.cli, attribute, the short help of `painterly --help`);
# a test checks each short help against the command's own.
COMMANDS: dict[str, tuple[str, str, str]] = {
    "demo": ("run", "demo", "Stylise a bundled photo with The Starry Night."),
    "stylize": ("run", "stylize", "Paint CONTENT in the style of one or more STYLE images."),
    "blend": ("run", "blend", "Blend a finished painting with its photo, no new run."),
    "batch": ("batch", "batch", "Stylise folders of photos with paintings."),
    "video": ("video", "video", "Stylise a video or a folder of frames, without flicker."),
    "video-score": ("video", "video_score", "Warping error of a stylised clip (Lai et al. 2018)."),
    "serve": ("serve", "serve", "Open the local web studio."),
    "features": ("explain", "features", "Draw an image's feature maps, layer by layer."),
    "gram": ("explain", "gram", "Draw the Gram (filter correlation) matrix of an image."),
    "reconstruct": ("explain", "reconstruct", "Show what a layer keeps of an image, from noise."),
    "experiment": (
        "experiment",
        "experiment_cmd",
        "Run the article's experiments, or a TOML grid.",
    ),
    "score": ("tools", "score", "Score OUTPUT against CONTENT and STYLES (lower is better)."),
    "layers": ("tools", "layers", "List VGG-19's layer names with their output shapes."),
    "weights": ("tools", "weights", "List the VGG-19 weight sources; 'download' or 'export' them."),
    "doctor": ("doctor", "doctor", "Say what painterly finds here: devices, precision, weights."),
    "train": ("fast", "train_cmd", "Train a fast model for one or more styles."),
    "models": ("fast", "models", "List fast models with their styles and training."),
    "export": ("fast", "export_cmd", "Export a fast model to ONNX."),
}

OVERVIEW = """\
painterly {version}: neural style transfer (Gatys et al.) with the original VGG-19.

  painterly demo                         stylise a bundled photo (start here)
  painterly stylize PHOTO PAINTING -o OUT.png
  painterly batch | video | serve        folders, clips, the web studio
  painterly train | models | export      fast styles: train a network, apply it
  painterly features | gram | experiment see inside the network
  painterly doctor                       what painterly finds on this machine

'painterly --help' lists every command, 'painterly COMMAND --help' its options."""


class LazyGroup(click.Group):
    """A group whose commands are imported from :data:`COMMANDS` when first used."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(COMMANDS)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name not in COMMANDS:
            return None
        module, attribute, _ = COMMANDS[cmd_name]
        command = getattr(importlib.import_module(f".{module}", __package__), attribute)
        assert isinstance(command, click.Command)
        return command

    def resolve_command(
        self, ctx: click.Context, args: list[str]
    ) -> tuple[str | None, click.Command | None, list[str]]:
        try:
            return super().resolve_command(ctx, args)
        except click.exceptions.NoSuchCommand:  # click suggests from the loaded ones only
            raise click.exceptions.NoSuchCommand(
                click.utils.make_str(args[0]), possibilities=list(COMMANDS), ctx=ctx
            ) from None

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        rows = [(name, COMMANDS[name][2]) for name in self.list_commands(ctx)]
        with formatter.section("Commands"):
            formatter.write_dl(rows)


@click.group(
    cls=LazyGroup,
    invoke_without_command=True,
    context_settings={"help_option_names": ["-h", "--help"]},
)
@click.version_option(__version__, prog_name="painterly")
@click.option("-v", "--verbose", is_flag=True, help="log what happens")
@click.pass_context
def cli(ctx: click.Context, verbose: bool) -> None:
    """painterly: neural style transfer (Gatys et al.) with the original VGG-19."""
    if ctx.invoked_subcommand is None:
        click.echo(OVERVIEW.format(version=__version__))
        return
    level = logging.INFO if verbose else logging.WARNING
    logging.basicConfig(level=level, format="painterly: %(message)s")
    for handler in logging.getLogger().handlers:  # libraries' own loggers (Dask's) too
        if isinstance(handler, logging.StreamHandler) and handler.stream is sys.stderr:
            handler.setLevel(level)


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

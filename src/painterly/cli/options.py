"""Command-line options generated from :class:`painterly.Config`'s fields."""

from __future__ import annotations

import dataclasses
import re
import types
import typing
from collections.abc import Callable, Sequence
from typing import Any

import click

from ..config import PRESETS, Config

LIST_FIELDS = {
    f.name
    for f in dataclasses.fields(Config)
    if "tuple" in str(f.type) and f.metadata.get("option")
}
# List options of the explain commands, gathered likewise.
GATHERED = LIST_FIELDS | {"layers", "filters"}
_NUMBER = re.compile(r"^[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$|^[-+]?(nan|inf|infinity)$", re.I)


def gather_lists(argv: Sequence[str]) -> list[str]:
    """Let list options take several words: ``--style-weights 0.7 0.3`` → ``0.7,0.3``.

    Numbers are gathered for weight lists, bare words (no dot or slash) for layer
    lists, so that the image paths after them stay positional.
    """
    out: list[str] = []
    args = list(argv)
    i = 0
    while i < len(args):
        token = args[i]
        out.append(token)
        i += 1
        name = token[2:].replace("-", "_") if token.startswith("--") else ""
        if name not in GATHERED:
            continue
        numeric = name.endswith("weights") or name == "filters"
        values = []
        while i < len(args) and (
            _NUMBER.match(args[i])
            if numeric
            else not args[i].startswith("-") and not re.search(r"[./\\]", args[i])
        ):
            values.append(args[i])
            i += 1
        out.append(",".join(values))
    return out


def _parse_list(kind: type) -> Callable[[click.Context, click.Parameter, str | None], Any]:
    def parse(ctx: click.Context, param: click.Parameter, value: str | None) -> Any:
        if value is None:
            return None
        words = [w for w in value.replace(",", " ").split() if w]
        if not words:
            raise click.BadParameter("give at least one value")
        try:
            return tuple(kind(w) for w in words)
        except ValueError:
            raise click.BadParameter(f"'{value}' is not a list of numbers") from None

    return parse


def _base_type(annotation: Any) -> type:
    hint = typing.get_type_hints(Config)[annotation]
    args = (
        [a for a in typing.get_args(hint) if a is not type(None)]
        if isinstance(hint, types.UnionType)
        else [hint]
    )
    first = args[0]
    base = typing.get_args(first)[0] if typing.get_origin(first) is tuple else first
    assert isinstance(base, type)
    return base


def config_options(func: Callable[..., Any]) -> Callable[..., Any]:
    """Add one ``--option`` per :class:`Config` field, all defaulting to the preset."""
    defaults = Config()
    for f in reversed(dataclasses.fields(Config)):
        if not f.metadata.get("option"):
            continue
        flag = "--" + f.name.replace("_", "-")
        default = getattr(defaults, f.name)
        shown = " ".join(map(str, default)) if isinstance(default, tuple) else default
        help_text = f.metadata["help"] + (f"  [default: {shown}]" if default is not None else "")
        kind = _base_type(f.name)
        if f.name in LIST_FIELDS:
            option = click.option(
                flag,
                f.name,
                default=None,
                callback=_parse_list(kind),
                help=help_text,
                metavar="LIST",
            )
        elif kind is bool:
            negative = "--no-" + f.name.replace("_", "-")
            option = click.option(f"{flag}/{negative}", f.name, default=None, help=help_text)
        elif f.metadata.get("choices"):
            option = click.option(
                flag, f.name, default=None, help=help_text, type=click.Choice(f.metadata["choices"])
            )
        else:
            option = click.option(flag, f.name, default=None, type=kind, help=help_text)
        func = option(func)
    return click.option(
        "--preset",
        type=click.Choice(list(PRESETS)),
        default="default",
        help="a set of defaults: 'article' is the article's own setting",
    )(func)

"""Command-line options generated from :class:`painterly.Config`'s fields."""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from typing import Any

import click

from ..config.fields import FLAG, LISTS, NUMBERS, FieldSpec
from ..config.settings import FIELDS, PRESETS, Config
from ..errors import ConfigError

LIST_FIELDS = {name for name, spec in FIELDS.items() if spec.kind in LISTS and spec.option}
NUMBER_LISTS = {name for name in LIST_FIELDS if FIELDS[name].kind == NUMBERS} | {"filters"}
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
        numeric = name in NUMBER_LISTS
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


class FieldType(click.ParamType):  # type: ignore[type-arg]  # generic in recent click
    """A Config field as a click type: its words parsed by the field's own
    :meth:`~painterly.config.fields.FieldSpec.parse`."""

    def __init__(self, spec: FieldSpec) -> None:
        self.spec = spec
        self.name = {"whole": "integer"}.get(spec.kind, spec.kind)

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        if not isinstance(value, str):
            return value
        try:
            return self.spec.parse(value)
        except ConfigError as exc:
            raise click.UsageError(exc.worded(flag(self.spec.name)), ctx) from None


def flag(name: str) -> str:
    """A Config field's command-line word: ``style_loss`` → ``--style-loss``."""
    spec = FIELDS.get(name)
    return "--" + name.replace("_", "-") if spec is not None and spec.option else name


def _option(spec: FieldSpec, default: Any) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    shown = " ".join(map(str, default)) if isinstance(default, tuple) else default
    help_text = spec.help + (f"  [default: {shown}]" if default is not None else "")
    if spec.kind == FLAG:
        negative = flag(spec.name).replace("--", "--no-", 1)
        return click.option(
            f"{flag(spec.name)}/{negative}", spec.name, default=None, help=help_text
        )
    kind: click.ParamType[Any] = FieldType(spec)
    if spec.choices and not spec.or_file:
        kind = click.Choice(spec.choices)
    metavar = "LIST" if spec.kind in LISTS else None
    return click.option(
        flag(spec.name), spec.name, default=None, type=kind, help=help_text, metavar=metavar
    )


def config_options(func: Callable[..., Any]) -> Callable[..., Any]:
    """Add one ``--option`` per :class:`Config` field, all defaulting to the preset."""
    defaults = Config()
    for spec in reversed(FIELDS.values()):
        if spec.option:
            func = _option(spec, getattr(defaults, spec.name))(func)
    return click.option(
        "--preset",
        type=click.Choice(list(PRESETS)),
        default="default",
        help="a set of defaults: 'article' is the article's own setting",
    )(func)

"""Griffe extension: the docstrings' Sphinx roles and doctests, as the site shows them.

The docstrings are written for ``help()`` and for editors that read Sphinx roles:
:func:`stylize`, ``code``, ``>>>`` examples. On the site a role becomes a
cross-reference (a link where the target has a page here, else plain code), and a
doctest a highlighted console block without its ``# doctest:`` flags.
"""

from __future__ import annotations

import html
import re
from typing import Any

import griffe

ROLE = re.compile(r":(?:func|class|meth|mod|data|attr|exc|obj):`(~?)([^`<>]+)`")
FLAGS = re.compile(r"\s*# doctest:.*$")


def target(obj: griffe.Object | griffe.Alias, name: str) -> str:
    """The full path of ``name`` as written in ``obj``'s docstring (``Config``,
    ``StepRecord.as_dict``, ``painterly.tune_process``)."""
    bare = name.removesuffix("()")
    if bare.startswith("painterly."):
        return bare
    head, _, rest = bare.partition(".")
    try:
        found = obj.resolve(head)
    except (griffe.NameResolutionError, AttributeError):
        return bare
    return f"{found}.{rest}" if rest else found


def cross_references(obj: griffe.Object | griffe.Alias, text: str) -> str:
    """Each role as an optional cross-reference: autorefs links it when the target is
    on a page, and leaves the code alone when it is not."""

    def link(match: re.Match[str]) -> str:
        short, name = match.groups()
        title = name.rsplit(".", 1)[-1] if short else name
        identifier = html.escape(target(obj, name), quote=True)
        return f'<autoref identifier="{identifier}" optional>`{title}`</autoref>'

    return ROLE.sub(link, text)


def fence_doctests(text: str) -> str:
    """Wrap each run of ``>>>`` lines and their output in a ``pycon`` fence."""
    out: list[str] = []
    lines = text.splitlines()
    i = 0
    while i < len(lines):
        line = lines[i]
        if not line.lstrip().startswith(">>>"):
            out.append(line)
            i += 1
            continue
        indent = line[: len(line) - len(line.lstrip())]
        block = []
        while i < len(lines) and lines[i].strip():
            block.append(FLAGS.sub("", lines[i]))
            i += 1
        out += ["", f"{indent}```pycon", *block, f"{indent}```", ""]
    return "\n".join(out)


class SphinxRoles(griffe.Extension):
    """Rewrites every docstring once the package is loaded."""

    def on_object(self, *, obj: griffe.Object, **kwargs: Any) -> None:
        if obj.docstring is not None:
            obj.docstring.value = fence_doctests(cross_references(obj, obj.docstring.value))

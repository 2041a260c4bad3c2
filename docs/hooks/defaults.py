"""MkDocs hook: ``{{ config_defaults }}`` in a page becomes the table of
:class:`painterly.Config`'s fields, their defaults and help, read from the code."""

from __future__ import annotations

from typing import Any

from painterly.config.settings import FIELDS, Config

MARKER = "{{ config_defaults }}"


def defaults_table() -> str:
    """One row per Config field: its option, default and help."""
    defaults = Config()
    rows = ["| field | option | default | what it sets |", "|---|---|---|---|"]
    for name, spec in FIELDS.items():
        value = getattr(defaults, name)
        shown = " ".join(map(str, value)) if isinstance(value, tuple) else value
        option = "--" + name.replace("_", "-") if spec.option else ""
        cell = "" if value is None or value == () else f"`{shown}`"
        rows.append(f"| `{name}` | {f'`{option}`' if option else ''} | {cell} | {spec.help} |")
    return "\n".join(rows)


def on_page_markdown(markdown: str, **kwargs: Any) -> str:
    return markdown.replace(MARKER, defaults_table()) if MARKER in markdown else markdown

"""``python -m benchmarks NAME [ARGS]``: run the benchmark NAME; alone: list them."""

from __future__ import annotations

import ast
import difflib
import importlib
import sys
from collections.abc import Callable
from pathlib import Path

import painterly
from painterly.errors import PainterlyError

from . import pages

HERE = Path(__file__).resolve().parent


def benchmarks() -> list[str]:
    """The modules of this package that define ``main``: the benchmarks (read, not
    imported, so that listing them loads nothing)."""
    names = []
    for path in sorted(HERE.glob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        if any(isinstance(node, ast.FunctionDef) and node.name == "main" for node in tree.body):
            names.append(path.stem)
    return [name for name in names if name not in ("__main__", "pages")]


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    names = benchmarks()
    if not args or args[0] in ("-h", "--help", "list"):
        print(importlib.import_module(__package__ or "benchmarks").__doc__)
        print("benchmarks:", ", ".join(names))
        return 0
    name, rest = args[0], args[1:]
    if name == "pages":  # the writer of the pages' tables: no PyTorch, no tuning
        return pages.main(rest)
    if name not in names:
        close = difflib.get_close_matches(name, names, n=1)
        hint = f" Did you mean '{close[0]}'?" if close else ""
        print(
            f"unknown benchmark '{name}': choose one of {', '.join(names)}.{hint}", file=sys.stderr
        )
        return 2
    # Before the benchmark imports PyTorch, as painterly's command does: the figures
    # are those of a tuned process (2 MiB pages, freed buffers kept).
    painterly.tune_process()
    module = importlib.import_module(f"{__package__ or 'benchmarks'}.{name}")
    run: Callable[[list[str]], int] = module.main
    try:
        return run(rest)
    except PainterlyError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())

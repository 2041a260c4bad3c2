"""MkDocs hook: ``{{ results FILE [VIEW] }}`` in a page becomes the figures of the results
file ``docs/benchmarks/results/FILE``, written by ``benchmarks/pages.py`` (its stamp and
tables; a file that is not there, a note saying so)."""

from __future__ import annotations

import re
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # benchmarks/ beside docs/

from benchmarks import pages

# {{ results NAME.json }} or {{ results NAME.json VIEW }} (a view's name may hold spaces)
MARKER = re.compile(r"\{\{\s*results\s+(\S+?\.json)(?:\s+([^}]*?))?\s*\}\}")


def on_page_markdown(markdown: str, config: Any, **kwargs: Any) -> str:
    folder = Path(config["docs_dir"]) / "benchmarks" / "results"
    return MARKER.sub(lambda m: pages.render(folder / m[1], m[2] or None), markdown)

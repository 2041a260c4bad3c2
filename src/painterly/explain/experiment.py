"""Experiments: a grid of runs on one photo and its paintings, as in section 4 of the
article, or from a TOML file whose lists are crossed.

Each run is a :class:`~painterly.cluster.task.Task` on a runner of
:mod:`painterly.cluster.runners`: one after another in this process (the targets'
features computed once for all), or on Dask workers. Every run's image and record are
written as a pair as soon as it ends, under a name holding its resume key (its
inputs' SHA-256 and its config), so a grid that is stopped resumes where it stopped,
whichever way either was run.
"""

from __future__ import annotations

import csv
import io
import itertools
import json
import logging
import math
import os
import sys
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..cluster import runners
from ..cluster.runners import Event, Finished, Runner, Started, Stepped
from ..cluster.task import (
    Shipped,
    Task,
    digest,
    finished,
    input_files,
    read_files,
    resume_key,
    ship,
)
from ..config.settings import FIELDS, PRESETS, Config, make_config
from ..engine.targets import FeatureCache
from ..errors import ConfigError, ImageError, did_you_mean
from ..files import atomic, images
from ..files.pairs import write_json, write_pair
from ..nn import weights
from ..transfer.inputs import check_style_sizes
from ..transfer.run import Progress
from ..transfer.schedule import schedule

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

log = logging.getLogger(__name__)
OPTIONS = {name for name in FIELDS if name != "preset"}


@dataclass(frozen=True)
class Run:
    """One cell of a grid: a caption, Config overrides and which style images it uses."""

    name: str
    options: Mapping[str, Any] = field(default_factory=dict)
    styles: tuple[int, ...] = (0,)

    def key(self, config: Config, inputs: Sequence[str]) -> str:
        """The run's resume key (:func:`painterly.cluster.task.resume_key`): its resolved
        config and the SHA-256 of the photo and of the style images it uses, given
        ``inputs`` (the photo's, then every style image's)."""
        return resume_key([inputs[0], *(inputs[1 + i] for i in self.styles)], config)


def article_grid(preset: str = "article", styles: int = 1) -> list[Run]:
    """Section 4 of the article: the baseline and one change at a time."""
    weight = PRESETS[preset].get("style_weight", Config().style_weight)
    runs = [
        Run("baseline: five style layers,\nequal weights, one content layer"),
        Run(f"style weight {weight:g} to {weight * 20:g}", {"style_weight": weight * 20}),
        Run("one style layer:\nblock1_conv1 only", {"style_layers": ("block1_conv1",)}),
        Run("content layer block1_conv1", {"content_layers": ("block1_conv1",)}),
        Run("layer weights\n0.4 0.3 0.2 0.05 0.05", {"layer_weights": (0.4, 0.3, 0.2, 0.05, 0.05)}),
        Run("layer weights\n0.05 0.05 0.2 0.3 0.4", {"layer_weights": (0.05, 0.05, 0.2, 0.3, 0.4)}),
    ]
    if styles >= 2:
        runs.append(Run("two styles blended 0.5 / 0.5", {"style_weights": (0.5, 0.5)}, (0, 1)))
    return runs


def article_notes(styles: int) -> list[str]:
    """What :func:`article_grid` leaves out with ``styles`` style images, in words (for
    :func:`run_grid`'s ``notes``)."""
    if styles >= 2:
        return []
    return ["one style image given: the two-style blend is left out of the grid"]


# --- TOML grids -------------------------------------------------------------------


def _all(values: list[Any], *kinds: type) -> bool:
    return all(isinstance(v, kinds) and not isinstance(v, bool) for v in values)


def _check_value(where: str, name: str, value: Any) -> Any:
    if name == "styles":
        if not (isinstance(value, list) and value and _all(value, int)):
            raise ConfigError(
                f"{where} = {value!r}: styles are lists of style indices, e.g. [0, 1]"
            )
        return tuple(value)
    if name not in OPTIONS:
        hint = did_you_mean(name, OPTIONS)
        raise ConfigError(f"{where}: unknown option '{name}'.{hint} Options are Config's fields")
    try:
        return FIELDS[name].from_data(value)
    except ConfigError as exc:
        raise ConfigError(exc.worded(where), name) from None


MAX_RUNS = 1000  # a larger grid must be asked for (--max-runs)


def parse_grid(
    text: str, source: str = "grid", max_runs: int = MAX_RUNS
) -> tuple[str, dict[str, Any], list[Run]]:
    """A TOML grid → (preset, base options, runs: the Cartesian product of [grid]).

    ``preset = "article"`` (optional), ``[base]`` options for every run, and ``[grid]``
    lists, one per varied option (``styles`` picks style images by index). A grid of
    more than ``max_runs`` runs is refused before it is expanded.
    """
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{source} is not valid TOML ({exc}): fix the line named") from None
    unknown = sorted(set(data) - {"preset", "base", "grid"})
    if unknown:
        raise ConfigError(f"{source}: unknown key '{unknown[0]}': use preset, [base] and [grid]")
    preset = data.get("preset", "default")
    if not isinstance(preset, str):
        raise ConfigError(f'{source}: preset = {preset!r} is not a name: write preset = "article"')
    if preset not in PRESETS:
        raise ConfigError(f"{source}: unknown preset '{preset}': use one of {', '.join(PRESETS)}")
    base_table = data.get("base", {})
    if not isinstance(base_table, dict):
        raise ConfigError(
            f"{source}: base = {base_table!r} is not a table: write [base] and one option "
            "a line under it, e.g. iterations = 100"
        )
    base = {k: _check_value(f"{source}: base.{k}", k, v) for k, v in base_table.items()}
    grid = data.get("grid", {})
    if not isinstance(grid, dict) or not grid:
        raise ConfigError(f"{source}: no [grid] table: add e.g. [grid] style_weight = [1, 10]")
    axes: dict[str, list[Any]] = {}
    for name, values in grid.items():
        where = f"{source}: grid.{name}"
        if not isinstance(values, list):
            raise ConfigError(f"{where} = {values!r} must be a list of values, e.g. [1, 10]")
        if not values:
            raise ConfigError(f"{where} is empty: give at least one value")
        axes[name] = values
    _check_count(source, axes, max_runs)
    for name, values in axes.items():
        where = f"{source}: grid.{name}"
        axes[name] = [_check_value(f"{where}[{i}]", name, v) for i, v in enumerate(values)]
    runs = []
    for combo in itertools.product(*axes.values()):
        chosen = dict(zip(axes, combo, strict=True))
        styles = chosen.pop("styles", (0,))
        name = "\n".join(f"{k} {_show(v)}" for k, v in zip(axes, combo, strict=True))
        runs.append(Run(name, chosen, styles))
    for r in runs:  # every combination must be a valid config
        try:
            make_config(preset, **{**base, **r.options})
        except ConfigError as exc:
            raise ConfigError(f"{source}: run '{r.name.replace(chr(10), ', ')}': {exc}") from None
    return preset, base, runs


def _check_count(source: str, axes: Mapping[str, Sequence[Any]], max_runs: int) -> None:
    count = math.prod(len(values) for values in axes.values())
    if count > max_runs:
        sizes = " × ".join(str(len(values)) for values in axes.values())
        raise ConfigError(
            f"{source}: the grid has {sizes} = {count:,} runs, over the limit of {max_runs:,}: "
            "shorten its lists, or raise the limit with --max-runs"
        )


def _show(value: Any) -> str:
    return " ".join(map(str, value)) if isinstance(value, tuple) else str(value)


# --- running ------------------------------------------------------------------------

PathLike = str | os.PathLike[str]
EventFn = Callable[[str, int, int, Progress | None], None]  # (run name, index, count, step)


@dataclass
class GridResult:
    """The rows of a finished (or resumed) grid, in order."""

    rows: list[dict[str, Any]]
    histories: dict[str, list[dict[str, float]]]
    reused: int
    cache: FeatureCache  # its counts: target features computed and reused over the runs
    failed: dict[str, str] = field(default_factory=dict)  # run name → its one-line error


@dataclass
class Grid:
    """A grid checked and ready to run: each run's config and resume key, the inputs as
    work carries them, and the records of the runs finished in ``out``."""

    runs: list[Run]
    configs: list[Config]
    keys: list[str]
    out: Path
    photo: Shipped
    paintings: list[Shipped]
    records: list[dict[str, Any] | None]

    def slug(self, index: int) -> str:
        """The file stem of a run: its place and the start of its key."""
        return f"{index + 1:02d}-{self.keys[index][:10]}"

    def rows(self) -> list[dict[str, Any]]:
        """The table's rows of the runs finished so far, in order."""
        return [
            _row(i, r, self.slug(i), record)
            for i, (r, record) in enumerate(zip(self.runs, self.records, strict=True))
            if record is not None
        ]


def plan_grid(
    content: PathLike,
    styles: Sequence[PathLike],
    runs: Sequence[Run],
    out: PathLike,
    preset: str = "article",
    base: Mapping[str, Any] | None = None,
) -> Grid:
    """Check every run of a grid (its config, its style indices, its sizes) and the
    folder ``out``, creating nothing, and find the runs already finished there."""
    for r in runs:
        bad = [i for i in r.styles if not 0 <= i < len(styles)]
        if bad:
            raise ConfigError(
                f"run '{r.name}' uses style {bad[0]}, but {len(styles)} style images were "
                "given: give more style images or lower the index"
            )
    configs = [make_config(preset, **{**(base or {}), **r.options}) for r in runs]
    photo = images.load_image(content)
    paintings = [images.load_image(s) for s in styles]
    for r, cfg in zip(runs, configs, strict=True):  # every size works, before any run
        check_style_sizes(cfg, [paintings[i] for i in r.styles], schedule(cfg, *photo.shape[-2:]))
    _check_files(runs, configs)
    folder = atomic.check_folder(out, "experiment output")
    shipped = [ship(content), *(ship(s) for s in styles)]
    inputs = [digest(data) for _, data in shipped]
    keys = [r.key(cfg, inputs) for r, cfg in zip(runs, configs, strict=True)]
    grid = Grid(list(runs), configs, keys, folder, shipped[0], shipped[1:], [])
    grid.records = [finished(folder / f"{grid.slug(i)}.png", k) for i, k in enumerate(keys)]
    return grid


def _check_files(runs: Sequence[Run], configs: Sequence[Config]) -> None:
    """Raise :class:`ImageError` for the first run whose files (an init image, masks)
    are not images, before any run: each file is decoded once."""
    seen: set[str] = set()
    for r, cfg in zip(runs, configs, strict=True):
        for option, path in input_files(cfg).items():
            if path in seen:
                continue
            try:
                images.load_image(path, cfg.size)
            except ImageError as exc:
                name = r.name.replace("\n", ", ")
                raise ImageError(f"run '{name}', option {option.split('.')[0]}: {exc}") from None
            seen.add(path)


def run_grid(  # noqa: PLR0913 (the grid, where it runs, and its notes)
    content: PathLike,
    styles: Sequence[PathLike],
    runs: Sequence[Run],
    out: PathLike,
    preset: str = "article",
    base: Mapping[str, Any] | None = None,
    events: EventFn | None = None,
    *,
    workers: int | None = None,
    cluster: str | None = None,
    notes: Sequence[str] = (),
) -> GridResult:
    """Run every cell of a grid into folder ``out``, cells already there reused: in this
    process, on a Dask ``LocalCluster`` of ``workers`` or on the scheduler ``cluster``.
    ``notes`` (e.g. :func:`article_notes`) are logged once the grid is accepted and its
    runner started, so a refusal is one line. A run that fails is in the result's
    ``failed`` with its error, and the others go on (a rerun runs only what is not
    finished)."""
    runners.check_places(workers, cluster)
    grid = plan_grid(content, styles, runs, out, preset, base)
    if cluster is None:
        for name in {cfg.weights for cfg in grid.configs}:
            weights.resolve(name)  # on a cluster, each worker's own weights count
    todo = any(record is None for record in grid.records)
    runner = runners.open_runner(workers, cluster) if todo else runners.InProcess()
    try:
        for note in notes:  # once the runner is there: a scheduler out of reach is one line
            log.warning("%s", note)
        return run_grid_on(runner, grid, events)
    finally:
        runner.close()


def run_grid_on(runner: Runner, grid: Grid, events: EventFn | None = None) -> GridResult:
    """Run the cells of a planned grid that are not finished on ``runner``, writing each
    pair and the tables as it ends."""
    count, tally, failed = len(grid.runs), FeatureCache(), {}
    slugs = {grid.slug(i): i for i in range(count)}
    tasks = [_task(grid, i) for i, record in enumerate(grid.records) if record is None]
    out = atomic.make_folder(grid.out, "experiment output")

    def handle(event: Event) -> None:
        if isinstance(event, (Started, Stepped)) and events is not None:
            index = slugs[event.key]
            step = event.step if isinstance(event, Stepped) else None
            events(grid.runs[index].name, index, count, step)
        if not isinstance(event, Finished):
            return
        outcome = event.outcome
        if not outcome.ok or outcome.image is None or outcome.record is None:
            failed[outcome.key] = outcome.error or "no picture came back"
            return
        write_pair(out / f"{outcome.key}.png", outcome.image, outcome.record)
        grid.records[slugs[outcome.key]] = outcome.record
        tally.misses += outcome.cache[0]
        tally.hits += outcome.cache[1]
        write_tables(out, grid.rows())

    runner.run(tasks, handle)
    rows = grid.rows()
    if rows:
        write_tables(out, rows)
    records = zip(grid.runs, grid.records, strict=True)
    histories = {r.name: record["history"] for r, record in records if record is not None}
    errors = {grid.runs[slugs[slug]].name: error for slug, error in failed.items()}
    return GridResult(rows, histories, count - len(tasks), tally, errors)


def _task(grid: Grid, index: int) -> Task:
    r, cfg = grid.runs[index], grid.configs[index]
    slug = grid.slug(index)
    paintings = tuple(grid.paintings[i] for i in r.styles)
    inputs = {"styles": list(r.styles), "name": r.name, "key": grid.keys[index]}
    return Task(slug, slug, cfg, grid.photo, paintings, read_files(cfg), inputs, history=True)


def _row(index: int, r: Run, slug: str, record: dict[str, Any]) -> dict[str, Any]:
    losses = record["final_losses"]
    return {
        "run": index + 1,
        "name": r.name.replace("\n", " "),
        "image": f"{slug}.png",
        "options": {k: list(v) if isinstance(v, tuple) else v for k, v in r.options.items()},
        "styles": list(r.styles),
        "content_loss": losses.get("content"),
        "style_loss": losses.get("style"),
        "total_loss": losses.get("total"),
        "seconds": record["seconds"],
        "steps": record["steps"],
    }


def write_tables(out: Path, rows: Sequence[dict[str, Any]]) -> None:
    """``results.json`` and ``results.csv`` (options as JSON in one column)."""
    write_json(out / "results.json", list(rows))
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=list(rows[0]))
    writer.writeheader()
    for row in rows:
        writer.writerow({**row, "options": json.dumps(row["options"]), "styles": row["styles"]})
    text = buffer.getvalue()
    images.atomic_write(out / "results.csv", lambda tmp: tmp.write_text(text))


def caption(row: Mapping[str, Any], name: str) -> str:
    """A contact-sheet caption: the run's name, final losses and time."""
    return (
        f"{row['run']}. {name}\ncontent {row['content_loss']:.3g}  style {row['style_loss']:.3g}"
        f"\n{row['seconds']:.0f} s, {row['steps']} steps"
    )

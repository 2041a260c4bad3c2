"""Experiments: a grid of runs on one photo and its paintings, as in section 4 of the
article, or from a TOML file whose lists are crossed.

Every run's image and record are written as soon as it ends, so a grid that is
stopped resumes where it stopped; the targets' features are computed once for all.
"""

from __future__ import annotations

import csv
import hashlib
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

from ..config.settings import FIELDS, PRESETS, Config, make_config
from ..engine.targets import FeatureCache
from ..errors import ConfigError, OutputError, did_you_mean
from ..files import atomic, images
from ..files.pairs import save_pair_or_fallback, write_json
from ..transfer.inputs import ImageLike, check_style_sizes
from ..transfer.run import Progress, run, schedule

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

    def key(self, config: Config) -> str:
        """A digest of everything that decides the run's result: its resolved config and
        which style images it uses."""
        data = json.dumps([config.to_json(), self.styles], sort_keys=True)
        return hashlib.sha1(data.encode()).hexdigest()[:10]


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
    else:
        log.warning("one style image given: the two-style blend is left out of the grid")
    return runs


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

EventFn = Callable[[str, int, int, Progress | None], None]  # (run name, index, count, step)


@dataclass
class GridResult:
    """The rows of a finished (or resumed) grid, in order."""

    rows: list[dict[str, Any]]
    histories: dict[str, list[dict[str, float]]]
    reused: int
    cache: FeatureCache


def run_grid(
    content: ImageLike,
    styles: Sequence[ImageLike],
    runs: Sequence[Run],
    out: Path,
    preset: str = "article",
    base: Mapping[str, Any] | None = None,
    events: EventFn | None = None,
) -> GridResult:
    """Run every cell of a grid into folder ``out``; cells already there are reused."""
    base = dict(base or {})
    for r in runs:
        bad = [i for i in r.styles if not 0 <= i < len(styles)]
        if bad:
            raise ConfigError(
                f"run '{r.name}' uses style {bad[0]}, but {len(styles)} style images were "
                "given: give more style images or lower the index"
            )
    configs = [make_config(preset, **{**base, **r.options}) for r in runs]  # validate first
    content = images.load_image(content)  # read once for every run
    styles = [images.load_image(s) for s in styles]
    for r, cfg in zip(runs, configs, strict=True):  # every size works, before any run
        plan = schedule(cfg, *content.shape[-2:])
        check_style_sizes(cfg, [images.load_image(styles[i]) for i in r.styles], plan)
    out = folder(out)
    cache = FeatureCache()
    rows, histories, reused = [], {}, 0
    for index, (r, cfg) in enumerate(zip(runs, configs, strict=True)):
        slug = f"{index + 1:02d}-{r.key(cfg)}"
        record_path = out / f"{slug}.json"
        record = _finished(record_path)
        if record is None:
            if events:
                events(r.name, index, len(runs), None)
            record = _one(
                cfg, content, styles, r, out / f"{slug}.png", cache, events, index, len(runs)
            )
        else:
            reused += 1
        rows.append(_row(index, r, slug, record))
        histories[r.name] = record["history"]
        write_tables(out, rows)
    return GridResult(rows, histories, reused, cache)


def _finished(path: Path) -> dict[str, Any] | None:
    """The record of a run that ended and was saved, else ``None``."""
    try:
        record: dict[str, Any] = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    done = not record.get("interrupted") and path.with_suffix(".png").is_file()
    return record if done else None


def _one(
    cfg: Config,
    content: ImageLike,
    styles: Sequence[ImageLike],
    r: Run,
    path: Path,
    cache: FeatureCache,
    events: EventFn | None,
    index: int,
    count: int,
) -> dict[str, Any]:
    def step(p: Progress) -> None:
        if events:
            events(r.name, index, count, p)

    result = run(cfg, content, [styles[i] for i in r.styles], progress=step, cache=cache)
    if result.interrupted:
        raise KeyboardInterrupt
    record = result.record({"styles": list(r.styles), "name": r.name})
    record["history"] = result.history
    save_pair_or_fallback(result.image, path, record)  # the record marks the run done
    return record


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


def folder(path: str | os.PathLike[str]) -> Path:
    """The output folder, created if missing; an existing file there is an error."""
    out = check_folder(path)
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise OutputError(f"folder '{out}' cannot be created: {atomic.reason(exc)}") from None
    atomic.check_writable(out / "results.json", "experiment output")
    return out


def check_folder(path: str | os.PathLike[str]) -> Path:
    """Check, creating nothing, that the output folder can be written (or created)."""
    out = Path(path)
    if out.exists() and not out.is_dir():
        raise ConfigError(f"'{out}' is a file: give a folder for the experiment's images")
    existing = next(p for p in (out, *out.parents) if p.exists() or p == Path(p.anchor))
    failure: OSError | None = None
    if not existing.is_dir():
        failure = NotADirectoryError(0, f"'{existing}' is a file")
    failure = failure or atomic.probe(existing)
    if failure is not None:
        raise OutputError(f"folder '{out}' cannot be written: {atomic.reason(failure)}")
    return out

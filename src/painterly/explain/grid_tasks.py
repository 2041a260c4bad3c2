"""An experiment grid run as batch tasks: on a Dask ``LocalCluster`` or scheduler
(``painterly experiment --workers N | --cluster ADDR``) instead of one run after another.

The cells, their file names and their resume are those of
:func:`painterly.explain.experiment.run_grid`, so a grid started one way resumes the other.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from ..cluster.runners import Event, Finished, Runner, Started
from ..cluster.task import Task
from ..config.settings import make_config
from ..engine.targets import FeatureCache
from ..errors import ConfigError
from ..files.pairs import write_pair
from . import experiment
from .experiment import EventFn, GridResult, Run

PathLike = str | os.PathLike[str]


def run_grid_on(
    runner: Runner,
    content: PathLike,
    styles: Sequence[PathLike],
    runs: Sequence[Run],
    out: Path,
    preset: str = "article",
    base: Mapping[str, Any] | None = None,
    events: EventFn | None = None,
) -> GridResult:
    """Run the cells of a grid that are not in ``out`` yet on ``runner``; a cell that
    fails raises :class:`ConfigError` once the others have ended."""
    for r in runs:
        if any(not 0 <= i < len(styles) for i in r.styles):
            raise ConfigError(f"run '{r.name}' uses a style index beyond the {len(styles)} given")
    configs = [make_config(preset, **{**(base or {}), **r.options}) for r in runs]
    out = experiment.folder(out)  # created once the grid is found valid, as run_grid does
    photo = (Path(content).name, Path(content).read_bytes())
    paintings = [(Path(s).name, Path(s).read_bytes()) for s in styles]
    slugs = [f"{i + 1:02d}-{r.key(c)}" for i, (r, c) in enumerate(zip(runs, configs, strict=True))]
    records = {s: experiment._finished(out / f"{s}.json") for s in slugs}
    tasks = [
        Task(
            slug,
            slug,
            cfg,
            photo,
            tuple(paintings[i] for i in r.styles),
            inputs={"styles": list(r.styles), "name": r.name},
            history=True,
        )
        for slug, r, cfg in zip(slugs, runs, configs, strict=True)
        if records[slug] is None
    ]
    reused = len(runs) - len(tasks)
    cache, failed = FeatureCache(), {}

    def handle(event: Event) -> None:
        if isinstance(event, Started) and events is not None:
            index = slugs.index(event.key)
            events(runs[index].name, index, len(runs), None)
        if not isinstance(event, Finished):
            return
        outcome = event.outcome
        if not outcome.ok:
            failed[outcome.key] = outcome.error
            return
        assert outcome.image is not None and outcome.record is not None
        write_pair(out / f"{outcome.key}.png", outcome.image, outcome.record)
        records[outcome.key] = outcome.record
        cache.misses += outcome.cache[0]
        cache.hits += outcome.cache[1]

    runner.run(tasks, handle)
    if failed:
        slug, error = next(iter(failed.items()))
        name = runs[slugs.index(slug)].name.replace("\n", " ")
        raise ConfigError(f"run '{name}' failed on the cluster: {error}")
    rows = [
        experiment._row(i, r, s, records[s] or {})
        for i, (r, s) in enumerate(zip(runs, slugs, strict=True))
    ]
    experiment.write_tables(out, rows)
    histories = {r.name: (records[s] or {})["history"] for r, s in zip(runs, slugs, strict=True)}
    return GridResult(rows, histories, reused, cache)

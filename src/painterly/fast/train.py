"""Training a fast model: :func:`train`, the network of Johnson et al. taught painterly's
own objective on batches of the user's photos.

Each step paints a batch of random crops (each crop in one of the styles, in turn),
scores it with :class:`~painterly.fast.loss.BatchObjective` through VGG-19 in the
precision the probe picks (the network's own weights stay float32), and takes an Adam
step. A checkpoint is written every few minutes and when the training is stopped
(Ctrl-C, SIGTERM); the same call resumes from it. At the end, or when stopped, the
model, its JSON record and a preview sheet are written beside ``output``. Started by
``torchrun``, several processes share each batch (:mod:`painterly.fast.distributed`).
"""

from __future__ import annotations

import dataclasses
import hashlib
import logging
import os
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from ..config.settings import OBJECTIVE_FIELDS, Config, make_config
from ..engine.evaluator import Evaluator, build_network
from ..engine.objective import LossTerms
from ..engine.precision import backend_settings, pick_device, resolve_precision
from ..errors import ModelError
from ..files import images
from ..files.atomic import check_writable
from ..files.pairs import write_json
from ..files.paths import check_readable
from ..nn.weights import load_weights
from ..transfer.inputs import style_size
from . import checkpoint, preview, record
from . import distributed as dist
from .checkpoint import State
from .distributed import Ranks
from .loss import BatchObjective
from .model import SUFFIX, FastModel, Style, save_model
from .network import SHAPES, TransformNet
from .photos import Photo, find_photos, hold_out, load_photos, random_crops
from .settings import SETTINGS, TrainSettings
from .temporal import Warp, temporal_term

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class TrainProgress:
    """One step's report: ``work`` is the share of the budget done (0 to 1); ``saving``
    says the training has ended and its files are being written."""

    step: int
    total: int | None
    losses: dict[str, float]
    elapsed: float
    work: float
    saving: bool = False


TrainProgressFn = Callable[[TrainProgress], None]


@dataclass(frozen=True)
class Training:
    """What :func:`train` made: the model, where its files are, how far it got."""

    model: FastModel
    path: Path
    record: Path
    preview: Path | None
    steps: int
    elapsed: float
    interrupted: bool


@dataclass(frozen=True)
class _Setup:
    """Everything a training's steps need, built once."""

    cfg: Config
    settings: TrainSettings
    device: torch.device
    precision: str
    evaluator: Evaluator
    objective: BatchObjective
    styles: tuple[Style, ...]
    style_paths: tuple[Path, ...]
    photos: list[Photo]
    held_out: list[Photo]
    skipped: list[Path]
    key: str
    ranks: Ranks


def train(
    styles: Sequence[str | os.PathLike[str]],
    photos: str | os.PathLike[str] | Sequence[str | os.PathLike[str]],
    output: str | os.PathLike[str],
    *,
    progress: TrainProgressFn | None = None,
    preset: str = "default",
    distributed: bool = False,
    **options: Any,
) -> Training:
    """Train a fast model of ``styles`` on ``photos`` (folders, globs or files) and write
    it to ``output`` (``.safetensors``), with its record and preview sheet beside it.

    ``options`` are :class:`~painterly.fast.settings.TrainSettings` fields (``steps``,
    ``time``, ``size``, ``batch``, ``network``, ``lr``, …) and the objective's
    :class:`~painterly.Config` fields (``style_weight``, ``style_layers``, …). Calling it
    again with the same arguments resumes from the checkpoint ``output`` left.
    ``distributed``: this process is one of several that ``torchrun`` started for
    this training (see :mod:`painterly.fast.distributed`).

    >>> train(["starry.jpg"], "photos/", "starry.safetensors", steps=500)  # doctest: +SKIP
    """
    given = {k: v for k, v in options.items() if v is not None}
    settings = TrainSettings(**{k: v for k, v in given.items() if k in SETTINGS})
    cfg = make_config(preset, **{k: v for k, v in given.items() if k not in SETTINGS})
    sources = [photos] if isinstance(photos, (str, os.PathLike)) else list(photos)
    out = _check_output(Path(output))
    ranks = dist.from_environment() if distributed else Ranks()
    dist.check_batch(ranks, settings.batch)
    setup = _setup(cfg, settings, [Path(s) for s in styles], sources, ranks)
    ckpt, sheet = checkpoint.checkpoint_path(out), None
    with dist.joined(ranks, setup.device), backend_settings(setup.device):
        dist.check_same(ranks, setup.key)
        net, optimizer, state = _start(setup, ckpt)
        interrupted = _loop(setup, net, optimizer, state, ckpt, progress)
        if progress is not None:
            progress(TrainProgress(state.step, settings.total_steps, {}, state.elapsed, 1, True))
        if ranks.main:
            checkpoint.save(ckpt, net, optimizer, state, setup.key)
            sheet = preview.write(setup, net, state, out)
    model = FastModel(
        net.eval(),
        setup.styles,
        objective=_objective(cfg),
        training=record.summary(setup, state, interrupted),
    )
    done = out.with_suffix(".json")
    if not ranks.main:  # the first process writes the files
        return Training(model, out, done, None, state.step, state.elapsed, interrupted)
    save_model(model, out, half=settings.half)
    write_json(done, record.record(setup, net, state, out, interrupted))
    return Training(model, out, done, sheet, state.step, state.elapsed, interrupted)


def _check_output(out: Path) -> Path:
    if out.suffix.lower() != SUFFIX:
        raise ModelError(f"model '{out}' must end in {SUFFIX}: e.g. '{out.with_suffix(SUFFIX)}'")
    check_writable(out, "model")
    return out


def _setup(
    cfg: Config,
    settings: TrainSettings,
    style_paths: list[Path],
    sources: list[Any],
    ranks: Ranks,
) -> _Setup:
    if not style_paths:
        raise ModelError("no style image given: give at least one painting to train for")
    for path in style_paths:
        check_readable(path, "style image")
    found = find_photos(sources)
    decoded, skipped = load_photos(found, settings.size)
    photos, held = hold_out(decoded, settings.hold_out)
    device = dist.device_for(ranks, pick_device(cfg.device))
    precision = resolve_precision(cfg.precision, device)
    side = settings.size
    net = build_network(
        cfg, load_weights(cfg.weights), photos[0].image, (side, side), device, precision=precision
    )
    evaluator = Evaluator(net, device, precision)
    targets = []
    for path in style_paths:
        image = images.load_image(path, max(16, round(side * cfg.style_scale * 2)))
        hw = style_size(cfg, image, (side, side))
        targets.append(evaluator.targets(images.resize(image, hw), cfg.style_layers))
    objective = BatchObjective(cfg, targets).to(device)
    styles = tuple(Style(p.stem, _sha256(p)) for p in style_paths)
    key = checkpoint.fingerprint(
        {
            "styles": [s.sha256 for s in styles],
            "photos": [p.sha256 for p in photos],
            "objective": _objective(cfg),
            "settings": {
                k: v
                for k, v in dataclasses.asdict(settings).items()
                if k not in checkpoint.RESUMABLE
            },
        }
    )
    return _Setup(
        cfg,
        settings,
        device,
        precision,
        evaluator,
        objective,
        styles,
        tuple(style_paths),
        photos,
        held,
        skipped,
        key,
        ranks,
    )


def _start(setup: _Setup, ckpt: Path) -> tuple[TransformNet, torch.optim.Optimizer, State]:
    """The network, its optimiser and where the training stands: from the checkpoint
    that the first process reads, if there is one."""
    with torch.random.fork_rng(devices=[]):  # the process's own generator is left as found
        torch.manual_seed(setup.settings.seed)
        net = TransformNet(SHAPES[setup.settings.network], len(setup.styles)).to(setup.device)
    optimizer = torch.optim.Adam(net.parameters(), lr=setup.settings.lr)
    found = checkpoint.read(ckpt, setup.key) if setup.ranks.main else None
    found = dist.from_main(setup.ranks, found, setup.device)
    if found is None:
        return net, optimizer, State()
    state = checkpoint.restore(found, net, optimizer)
    log.info("resuming %s at step %d", ckpt, state.step)
    return net, optimizer, state


def _loop(
    setup: _Setup,
    net: TransformNet,
    optimizer: torch.optim.Optimizer,
    state: State,
    ckpt: Path,
    progress: TrainProgressFn | None,
) -> bool:
    """Steps until the budget is spent; True if a signal (or a lost process) stopped
    them. The first process's clock decides for all when the time is up."""
    settings, ranks, main = setup.settings, setup.ranks, setup.ranks.main
    model = dist.wrap(net, ranks, setup.device)
    columns = record.columns(settings)[2:]
    start = time.perf_counter() - state.elapsed
    saved = time.perf_counter()
    try:
        while not _spent(settings, state):
            losses = _step(setup, model, optimizer, state.step)
            share = len(ranks.share(settings.batch)) / settings.batch
            clock = time.perf_counter() - start if main else 0.0
            *means, state.elapsed = dist.summed(
                ranks, [share * losses[k] for k in columns] + [clock], setup.device
            )
            losses = dict(zip(columns, means, strict=True))
            state.step += 1
            state.curve.append([state.step, round(state.elapsed, 3), *means])
            if progress is not None:
                work = _work(settings, state)
                progress(
                    TrainProgress(state.step, settings.total_steps, losses, state.elapsed, work)
                )
            if main and state.step % settings.preview_every == 0:
                state.held_out.append([state.step, preview.held_out_loss(setup, net)])
            if main and time.perf_counter() - saved > 60 * settings.checkpoint_minutes:
                checkpoint.save(ckpt, net, optimizer, state, setup.key)
                saved = time.perf_counter()
    except dist.STOPS as stop:
        # Stopped between two statements of a step at worst: its update may be partly
        # applied, and the step is taken again on resuming (one step's noise).
        if not isinstance(stop, KeyboardInterrupt):
            log.warning("another process of this training stopped (%s); stopping too", stop)
        state.elapsed = time.perf_counter() - start
        return True
    return False


def _step(
    setup: _Setup, model: torch.nn.Module, optimizer: torch.optim.Optimizer, step: int
) -> dict[str, float]:
    """One step on this process's share of the step's batch; the share's mean losses."""
    settings, ranks = setup.settings, setup.ranks
    rows = ranks.share(settings.batch)
    # Each step's crops come from a generator seeded by the step: a resumed training,
    # and each process of a distributed one, sees the batch it would have seen alone.
    generator = torch.Generator().manual_seed(settings.seed * 1_000_003 + step)
    batch = random_crops(setup.photos, settings.batch, settings.size, generator, rows)
    batch = batch.to(setup.device)
    styles = [(step * settings.batch + i) % len(setup.styles) for i in rows]
    onehot = torch.nn.functional.one_hot(torch.tensor(styles), len(setup.styles)).float()
    onehot = onehot.to(setup.device)
    photo_features = setup.evaluator.targets(batch, setup.cfg.content_layers)
    model.train()
    weight = settings.temporal_weight
    warp = Warp.random(settings.batch, generator).take(rows) if weight else None
    if warp is None:
        painting = model(batch, onehot)
    else:  # one pass for both: instance normalisation keeps the images apart
        both = model(torch.cat([batch, warp.apply(batch)]), onehot.repeat(2, 1))
        painting, moved = both.chunk(2)
    terms: LossTerms = setup.objective(
        setup.evaluator.features(painting), painting, photo_features, styles
    )
    total, losses = terms.total, terms.as_floats()
    if warp is not None:
        temporal = temporal_term(moved, painting, warp)
        total = total + weight * temporal
        losses["temporal"] = float(temporal.detach())
        losses["total"] = float(total.detach())
    optimizer.zero_grad(set_to_none=True)
    # The processes' gradients are averaged: each share counts by its size, so that
    # the average is the gradient of the whole batch's mean.
    (total * len(rows) * ranks.world / settings.batch).backward()  # type: ignore[no-untyped-call]
    optimizer.step()
    return losses


def _spent(settings: TrainSettings, state: State) -> bool:
    total = settings.total_steps
    if total is not None and state.step >= total:
        return True
    return settings.time is not None and state.elapsed >= settings.time


def _work(settings: TrainSettings, state: State) -> float:
    shares = []
    if settings.total_steps is not None:
        shares.append(state.step / settings.total_steps)
    if settings.time is not None:
        shares.append(state.elapsed / settings.time)
    return min(1.0, max(shares))


def _objective(cfg: Config) -> dict[str, Any]:
    return {k: getattr(cfg, k) for k in OBJECTIVE_FIELDS}


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()

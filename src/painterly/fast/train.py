"""Training a fast model: :func:`train`, the network of Johnson et al. taught painterly's
own objective on batches of the user's photos.

Each step paints a batch of random crops (each crop in one of the styles, in turn),
scores it with :class:`~painterly.fast.loss.BatchObjective` through VGG-19 in the
precision the probe picks (the network's own weights stay float32), and takes an Adam
step. A checkpoint is written every few minutes and when the training is stopped
(Ctrl-C, SIGTERM); the same call resumes from it. At the end, or when stopped, the
model, its JSON record and a preview sheet are written beside ``output``.
"""

from __future__ import annotations

import dataclasses
import hashlib
import logging
import os
import platform
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from .._version import __version__
from ..config.settings import Config, make_config
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
from . import checkpoint, preview
from .checkpoint import State
from .loss import BatchObjective
from .model import SUFFIX, FastModel, Style, save_model
from .network import SHAPES, TransformNet
from .photos import Photo, find_photos, hold_out, load_photos, random_crops
from .settings import SETTINGS, TrainSettings
from .temporal import Warp, temporal_term

log = logging.getLogger(__name__)
# The Config fields that define the objective a model learns (saved in its file).
OBJECTIVE_FIELDS = (
    "content_weight",
    "style_weight",
    "layer_weights",
    "content_layers",
    "style_layers",
    "style_scale",
    "style_loss",
    "normalize",
    "tv_weight",
    "pooling",
    "padding",
    "weights",
)


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


def train(
    styles: Sequence[str | os.PathLike[str]],
    photos: str | os.PathLike[str] | Sequence[str | os.PathLike[str]],
    output: str | os.PathLike[str],
    *,
    progress: TrainProgressFn | None = None,
    preset: str = "default",
    **options: Any,
) -> Training:
    """Train a fast model of ``styles`` on ``photos`` (folders, globs or files) and write
    it to ``output`` (``.safetensors``), with its record and preview sheet beside it.

    ``options`` are :class:`~painterly.fast.settings.TrainSettings` fields (``steps``,
    ``time``, ``size``, ``batch``, ``network``, ``lr``, …) and the objective's
    :class:`~painterly.Config` fields (``style_weight``, ``style_layers``, …). Calling it
    again with the same arguments resumes from the checkpoint ``output`` left.

    >>> train(["starry.jpg"], "photos/", "starry.safetensors", steps=500)  # doctest: +SKIP
    """
    given = {k: v for k, v in options.items() if v is not None}
    settings = TrainSettings(**{k: v for k, v in given.items() if k in SETTINGS})
    cfg = make_config(preset, **{k: v for k, v in given.items() if k not in SETTINGS})
    sources = [photos] if isinstance(photos, (str, os.PathLike)) else list(photos)
    out = _check_output(Path(output))
    setup = _setup(cfg, settings, [Path(s) for s in styles], sources)
    shape = SHAPES[settings.network]
    with torch.random.fork_rng(devices=[]):  # the process's own generator is left as found
        torch.manual_seed(settings.seed)
        net = TransformNet(shape, len(setup.styles)).to(setup.device)
    optimizer = torch.optim.Adam(net.parameters(), lr=settings.lr)
    ckpt = checkpoint.checkpoint_path(out)
    state = checkpoint.resume(ckpt, net, optimizer, setup.key) or State()
    if state.step:
        log.info("resuming %s at step %d", out, state.step)
    with backend_settings(setup.device):
        interrupted = _loop(setup, net, optimizer, state, ckpt, progress)
        if progress is not None:
            progress(TrainProgress(state.step, settings.total_steps, {}, state.elapsed, 1, True))
        checkpoint.save(ckpt, net, optimizer, state, setup.key)
        sheet = preview.write(setup, net, state, out)
    model = FastModel(
        net.eval(),
        setup.styles,
        objective=_objective(cfg),
        training=_summary(setup, state, interrupted),
    )
    save_model(model, out, half=settings.half)
    record = out.with_suffix(".json")
    write_json(record, _record(setup, net, state, out, interrupted))
    return Training(model, out, record, sheet, state.step, state.elapsed, interrupted)


def _check_output(out: Path) -> Path:
    if out.suffix.lower() != SUFFIX:
        raise ModelError(f"model '{out}' must end in {SUFFIX}: e.g. '{out.with_suffix(SUFFIX)}'")
    check_writable(out, "model")
    return out


def _setup(
    cfg: Config, settings: TrainSettings, style_paths: list[Path], sources: list[Any]
) -> _Setup:
    if not style_paths:
        raise ModelError("no style image given: give at least one painting to train for")
    for path in style_paths:
        check_readable(path, "style image")
    found = find_photos(sources)
    decoded, skipped = load_photos(found, settings.size)
    photos, held = hold_out(decoded, settings.hold_out)
    device = pick_device(cfg.device)
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
    )


def _loop(
    setup: _Setup,
    net: TransformNet,
    optimizer: torch.optim.Optimizer,
    state: State,
    ckpt: Path,
    progress: TrainProgressFn | None,
) -> bool:
    """Steps until the budget is spent; True if a signal stopped them."""
    settings = setup.settings
    total = settings.total_steps
    start = time.perf_counter() - state.elapsed
    saved = time.perf_counter()
    try:
        while not _spent(settings, state):
            losses = _step(setup, net, optimizer, state.step)
            state.step += 1
            state.elapsed = time.perf_counter() - start
            columns = _columns(settings)[2:]
            state.curve.append([state.step, round(state.elapsed, 3), *(losses[k] for k in columns)])
            if progress is not None:
                progress(
                    TrainProgress(state.step, total, losses, state.elapsed, _work(settings, state))
                )
            if state.step % settings.preview_every == 0:
                state.held_out.append([state.step, preview.held_out_loss(setup, net)])
            if time.perf_counter() - saved > 60 * settings.checkpoint_minutes:
                checkpoint.save(ckpt, net, optimizer, state, setup.key)
                saved = time.perf_counter()
    except KeyboardInterrupt:
        # Stopped between two statements of a step at worst: its update may be partly
        # applied, and the step is taken again on resuming (one step's noise).
        state.elapsed = time.perf_counter() - start
        return True
    return False


def _step(
    setup: _Setup, net: TransformNet, optimizer: torch.optim.Optimizer, step: int
) -> dict[str, float]:
    settings = setup.settings
    # Each step's crops come from a generator seeded by the step: a resumed training
    # sees the batches it would have seen without the stop.
    generator = torch.Generator().manual_seed(settings.seed * 1_000_003 + step)
    batch = random_crops(setup.photos, settings.batch, settings.size, generator).to(setup.device)
    styles = [(step * settings.batch + i) % len(setup.styles) for i in range(settings.batch)]
    onehot = torch.nn.functional.one_hot(torch.tensor(styles), len(setup.styles)).float()
    onehot = onehot.to(setup.device)
    photo_features = setup.evaluator.targets(batch, setup.cfg.content_layers)
    net.train()
    weight = settings.temporal_weight
    warp = Warp.random(len(batch), generator) if weight else None
    if warp is None:
        painting = net(batch, onehot)
    else:  # one pass for both: instance normalisation keeps the images apart
        painting, moved = net(torch.cat([batch, warp.apply(batch)]), onehot.repeat(2, 1)).chunk(2)
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
    total.backward()  # type: ignore[no-untyped-call]
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


def _columns(settings: TrainSettings) -> list[str]:
    """The loss curve's columns: the temporal term's only where it is trained."""
    temporal = ["temporal"] if settings.temporal_weight else []
    return ["step", "seconds", "total", "content", "style", "tv", *temporal]


def _objective(cfg: Config) -> dict[str, Any]:
    return {k: getattr(cfg, k) for k in OBJECTIVE_FIELDS}


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _summary(setup: _Setup, state: State, interrupted: bool) -> dict[str, Any]:
    last = [row[2] for row in state.curve[-20:]]
    return {
        "steps": state.step,
        "seconds": round(state.elapsed, 1),
        "interrupted": interrupted,
        "device": str(setup.device),
        "precision": setup.precision,
        "network": setup.settings.network,
        "crop": setup.settings.size,
        "batch": setup.settings.batch,
        "temporal_weight": setup.settings.temporal_weight,
        "photos": len(setup.photos),
        "held_out_photos": len(setup.held_out),
        "final_loss": sum(last) / len(last) if last else None,
        "held_out_loss": state.held_out[-1][1] if state.held_out else None,
    }


def _record(
    setup: _Setup, net: TransformNet, state: State, out: Path, interrupted: bool
) -> dict[str, Any]:
    return {
        "painterly_version": __version__,
        "torch_version": torch.__version__,
        "model": out.name,
        "network": {
            "name": setup.settings.network,
            "width": net.shape.width,
            "blocks": net.shape.blocks,
            "parameters": sum(p.numel() for p in net.parameters()),
        },
        "config": setup.cfg.to_json(),
        "settings": dataclasses.asdict(setup.settings),
        "styles": [
            {"path": str(p), "name": s.name, "sha256": s.sha256}
            for p, s in zip(setup.style_paths, setup.styles, strict=True)
        ],
        "photos": {
            "training": [p.describe() for p in setup.photos],
            "held_out": [p.describe() for p in setup.held_out],
            "skipped": [str(p) for p in setup.skipped],
        },
        "machine": {"platform": platform.platform(), "processor": platform.processor()},
        "summary": _summary(setup, state, interrupted),
        "curve": {
            "columns": _columns(setup.settings),
            "rows": state.curve,
        },
        "held_out_curve": {"columns": ["step", "loss"], "rows": state.held_out},
    }

"""How a training is doing on photos it never trained on: their loss under the same
objective, and a preview sheet of their paintings in each style."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import torch
from torch.nn import functional as F

from ..files import images, sheets
from .checkpoint import State
from .network import STRIDE, Norms, TransformNet

if TYPE_CHECKING:
    from .train import _Setup

MAX_PHOTOS = 3  # on a sheet


def _painting(net: TransformNet, photo: torch.Tensor, style: int) -> torch.Tensor:
    """The painting of ``photo`` in style ``style``, in evaluation mode, no gradient."""
    h, w = photo.shape[-2:]
    x = F.pad(photo, [0, -w % STRIDE, 0, -h % STRIDE], mode="replicate")
    mix = F.one_hot(torch.tensor([style]), net.styles).float().to(x.device)
    with torch.no_grad():
        return net.run(x, Norms(mix))[..., :h, :w]


def _photos(setup: _Setup, held_out_only: bool) -> list[tuple[str, torch.Tensor]]:
    side = setup.settings.size
    chosen = setup.held_out or ([] if held_out_only else setup.photos)
    return [
        (p.path.name, images.resize_longest(p.image, side).to(setup.device))
        for p in chosen[:MAX_PHOTOS]
    ]


def held_out_loss(setup: _Setup, net: TransformNet) -> float:
    """The objective's mean over the held-out photos (at the crop size) and the styles."""
    was_training = net.training
    net.eval()
    losses = []
    for _, photo in _photos(setup, held_out_only=True):
        with torch.no_grad():
            content = setup.evaluator.targets(photo, setup.cfg.content_layers)
            for style in range(net.styles):
                painting = _painting(net, photo, style)
                feats = setup.evaluator.features(painting)
                losses.append(float(setup.objective(feats, painting, content, [style]).total))
    net.train(was_training)
    return sum(losses) / len(losses) if losses else float("nan")


def write(setup: _Setup, net: TransformNet, state: State, out: Path) -> Path:
    """The preview sheet ``NAME.preview.png`` beside the model: each held-out photo (or,
    with none held out, training photos, said so) and its painting in every style."""
    net.eval()
    held = bool(setup.held_out)
    cells: list[sheets.Cell] = []
    for name, photo in _photos(setup, held_out_only=False):
        cells.append(
            (images.tensor_to_pil(photo), f"{name}\n{'held out' if held else 'trained on'}")
        )
        for style in range(net.styles):
            painting = _painting(net, photo, style).clamp(0, 1)
            caption = f"{setup.styles[style].name}\nstep {state.step}"
            cells.append((images.tensor_to_pil(painting), caption))
    title = f"{out.name}: step {state.step}, {state.elapsed:.0f} s"
    sheet = sheets.contact_sheet(cells, columns=1 + net.styles, thumb=256, title=title)
    return sheets.save_sheet(sheet, out.with_suffix(".preview.png"))

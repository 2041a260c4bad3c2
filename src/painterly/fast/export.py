"""A fast model as ONNX, so that the style runs in other applications.

The graph takes ``image`` (``1×3×H×W`` RGB in [0, 1], any size: it pads to the network's
stride by reflection inside) and ``style_weights`` (one per style, summing to 1) and
gives the painting of the image's size. After export, onnxruntime paints a check image
and the largest difference to PyTorch's painting is returned (it must be ≤ 1/255).
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import torch
from torch import nn
from torch.nn import functional as F

from ..errors import ModelError, require
from ..files.atomic import atomic_write, reason
from .model import FastModel
from .network import STRIDE, Norms, TransformNet

TOLERANCE = 1 / 255


class _Exported(nn.Module):
    """The network with the padding to its stride and the crop back, for export."""

    def __init__(self, net: TransformNet) -> None:
        super().__init__()
        self.net = net

    def forward(self, image: torch.Tensor, style_weights: torch.Tensor) -> torch.Tensor:
        h, w = image.shape[-2], image.shape[-1]
        pad_h = (STRIDE - h % STRIDE) % STRIDE
        pad_w = (STRIDE - w % STRIDE) % STRIDE
        x = F.pad(image, [0, pad_w, 0, pad_h], mode="replicate")
        out = self.net.run(x, Norms(style_weights.reshape(1, -1)))
        return out[:, :, :h, :w]


def export_onnx(
    model: FastModel, output: str | os.PathLike[str], *, check_side: int = 256
) -> float:
    """Write ``model`` as ONNX to ``output`` (atomically) and return the largest
    difference between onnxruntime's and PyTorch's paintings of a check image of
    ``check_side`` px; raises :class:`ModelError` above :data:`TOLERANCE`."""
    require("onnx", "ONNX export needs onnx", "onnx")
    require("onnxscript", "ONNX export needs onnxscript", "onnx")
    ort = require("onnxruntime", "the ONNX check needs onnxruntime", "onnx")
    out = Path(output)
    if out.suffix.lower() != ".onnx":
        raise ModelError(
            f"ONNX output '{out}' must end in .onnx: e.g. '{out.with_suffix('.onnx')}'"
        )
    wrapper = _Exported(model.net.float().cpu()).eval()
    generator = torch.Generator().manual_seed(0)
    image = torch.rand(1, 3, check_side, check_side * 5 // 4 + 1, generator=generator)
    mix = torch.full((len(model.styles),), 1 / len(model.styles))
    h, w = torch.export.Dim("height", min=STRIDE), torch.export.Dim("width", min=STRIDE)

    def write(part: Path) -> None:
        program = torch.onnx.export(
            wrapper,
            (image, mix),
            input_names=["image", "style_weights"],
            output_names=["painting"],
            dynamic_shapes={"image": {2: h, 3: w}, "style_weights": None},
            dynamo=True,
            verbose=False,
        )
        assert program is not None
        styles = [s.name for s in model.styles]
        program.model.metadata_props["painterly"] = json.dumps({"styles": styles})
        program.save(str(part))

    try:
        atomic_write(out, write)
    except OSError as exc:
        raise ModelError(f"could not write '{out}': {reason(exc)}") from None
    session = ort.InferenceSession(str(out), providers=["CPUExecutionProvider"])
    got = session.run(None, {"image": image.numpy(), "style_weights": mix.numpy()})[0]
    with torch.no_grad():
        want = wrapper(image, mix)
    diff = float((torch.from_numpy(got) - want).abs().max())
    if not diff <= TOLERANCE:
        out.unlink(missing_ok=True)
        raise ModelError(f"the ONNX graph differs from PyTorch by {diff * 255:.2f}/255: not kept")
    return diff

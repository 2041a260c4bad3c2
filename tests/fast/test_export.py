"""ONNX export: onnxruntime paints what PyTorch paints."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from painterly.fast.export import export_onnx
from painterly.fast.model import FastModel, Style
from painterly.fast.network import Norms, Shape, TransformNet


def test_onnx_and_pytorch_agree(tmp_path: Path) -> None:
    ort = pytest.importorskip("onnxruntime")
    pytest.importorskip("onnxscript")
    torch.manual_seed(0)
    net = TransformNet(Shape(8, 1), 2).eval()
    model = FastModel(net, (Style("a", "0" * 64), Style("b", "1" * 64)))
    out = tmp_path / "m.onnx"
    assert export_onnx(model, out, check_side=48) <= 1 / 255
    # another size and mix than the check's: the graph's sides are free
    x = torch.rand(1, 3, 70, 90)
    mix = torch.tensor([0.25, 0.75])
    session = ort.InferenceSession(str(out), providers=["CPUExecutionProvider"])
    got = session.run(None, {"image": x.numpy(), "style_weights": mix.numpy()})[0]
    with torch.no_grad():
        padded = torch.nn.functional.pad(x, [0, 2, 0, 2], mode="replicate")
        want = net.run(padded, Norms(mix.reshape(1, -1)))[..., :70, :90]
    assert got.shape == (1, 3, 70, 90)
    assert float(np.abs(got - want.numpy()).max()) <= 1 / 255

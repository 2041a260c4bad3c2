"""The evaluator's speed levers: float32 numbers unchanged, bf16 ones within rounding."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from painterly.config.settings import Config
from painterly.engine.evaluator import Evaluator, build_network
from painterly.engine.objective import objective_for
from painterly.files import images
from painterly.nn.kernels import FAST_PATH, SLOW_PATH, FastPath
from painterly.nn.weights import load_weights

HW = (40, 56)


def _step(
    fast: FastPath, precision: str, content: Path, style: Path
) -> tuple[float, torch.Tensor, Evaluator]:
    cfg = Config(precision=precision)
    photo = images.load_image(content)
    cpu = torch.device("cpu")
    net = build_network(cfg, load_weights(), photo, HW, cpu, precision=precision, fast=fast)
    evaluator = Evaluator(net, cpu, precision, native_gram=fast.native_gram)
    targets = evaluator.targets(images.resize(photo, HW), cfg.content_layers)
    styles = evaluator.targets(images.resize(images.load_image(style), HW), cfg.style_layers)
    objective = objective_for(cfg, targets, [styles], style_image_weights=[1.0])
    x = (images.resize(photo, HW) * 0.8 + 0.1).requires_grad_(True)
    terms = evaluator.loss_and_grad(x, objective)
    assert x.grad is not None
    return float(terms.total.detach()), x.grad, evaluator


def test_levers_leave_float32_unchanged(content_path: Path, style_path: Path) -> None:
    slow, slow_grad, _ = _step(SLOW_PATH, "fp32", content_path, style_path)
    fast, fast_grad, evaluator = _step(FAST_PATH, "fp32", content_path, style_path)
    assert evaluator.net.dtype == torch.float32  # float32 runs keep float32 weights
    assert fast == slow and torch.equal(fast_grad, slow_grad)


@pytest.mark.parametrize("lever", ["native_weights", "fused_relu", "native_gram", "lean_input"])
def test_each_bf16_lever_keeps_loss_and_gradient(
    content_path: Path, style_path: Path, lever: str
) -> None:
    only = FastPath(
        **{
            name: name == lever
            for name in ("native_weights", "fused_relu", "native_gram", "lean_input")
        }
    )
    slow, slow_grad, _ = _step(SLOW_PATH, "bf16", content_path, style_path)
    fast, fast_grad, evaluator = _step(only, "bf16", content_path, style_path)
    assert evaluator.net.dtype == (torch.bfloat16 if lever == "native_weights" else torch.float32)
    assert abs(fast - slow) < 1e-3 * abs(slow)
    assert float((fast_grad - slow_grad).norm() / slow_grad.norm()) < 0.02


def test_all_bf16_levers_take_the_fast_path(content_path: Path, style_path: Path) -> None:
    slow, slow_grad, _ = _step(SLOW_PATH, "bf16", content_path, style_path)
    fast, fast_grad, evaluator = _step(FAST_PATH, "bf16", content_path, style_path)
    features = evaluator.features(torch.rand(1, 3, *HW))
    assert all(f.dtype == torch.bfloat16 for f in features.values())  # no float32 copies
    assert evaluator.net.fused and evaluator.net.dtype == torch.bfloat16
    assert abs(fast - slow) < 1e-3 * abs(slow)
    assert float((fast_grad - slow_grad).norm() / slow_grad.norm()) < 0.02

"""What a run does on each device it may be given: the same tests on the CPU (in CI) and,
where one is present, on a CUDA GPU (the ``cuda`` marker: ``pytest -m cuda`` runs that
subset alone, as ``benchmarks/gpu.sh`` does on a lent machine)."""

from __future__ import annotations

import pytest
import torch

import painterly
from helpers import DATA
from painterly.config.settings import Config, check_style_weights
from painterly.engine.evaluator import Evaluator, build_network
from painterly.engine.memory import check_fits
from painterly.engine.precision import pick_device, resolve_precision
from painterly.fast.network import SHAPES, TransformNet
from painterly.files import images
from painterly.nn.weights import load_weights
from painterly.transfer.inputs import prepare
from painterly.transfer.scale import build_step

DEVICES = [
    "cpu",
    pytest.param(
        "cuda",
        marks=[
            pytest.mark.cuda,
            pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device here"),
        ],
    ),
]


def _loss_and_grad(
    device: str, precision: str, hw: tuple[int, int], tile: int | None = None
) -> tuple[dict[str, float], torch.Tensor]:
    """The default objective's terms and gradient at a fixed picture between the photo
    and noise, computed on ``device`` in ``precision`` (in tiles of ``tile`` px)."""
    cfg = Config(precision=precision)
    where = torch.device(device)
    styles = [DATA / "starry_night.jpg"]
    inputs = prepare(cfg, DATA / "tubingen.jpg", styles)
    net = build_network(
        cfg, load_weights(cfg.weights), inputs.content, hw, where, precision=precision
    )
    evaluator = Evaluator(net, where, precision)
    weights = check_style_weights(cfg, len(styles))
    step = build_step(cfg, evaluator, inputs, image_weights=weights, size=hw, final=hw)
    noise = torch.rand((1, 3, *hw), generator=torch.Generator().manual_seed(0))
    x = (0.7 * images.resize(inputs.content, hw) + 0.3 * noise).to(where).requires_grad_(True)
    terms = evaluator.loss_and_grad(x, step.objective.to(where), tile=tile)
    assert x.grad is not None
    return terms.as_floats(), x.grad.detach().cpu()


def _relative(a: torch.Tensor, b: torch.Tensor) -> float:
    return float((a - b).norm() / b.norm())


@pytest.mark.parametrize("device", DEVICES)
def test_the_step_in_fp32_gives_the_cpus_loss_and_gradient(device: str) -> None:
    hw = (96, 128)
    terms, grad = _loss_and_grad(device, "fp32", hw)
    cpu_terms, cpu_grad = _loss_and_grad("cpu", "fp32", hw)
    # cuDNN may pick other convolution algorithms (TF32 is off for fp32 runs).
    assert terms["total"] == pytest.approx(cpu_terms["total"], rel=1e-3)
    assert _relative(grad, cpu_grad) < 1e-2
    assert terms["style"] > 0 and terms["content"] > 0


@pytest.mark.parametrize("device", DEVICES)
def test_the_precision_painterly_picks_agrees_with_fp32(device: str) -> None:
    hw = (96, 128)
    precision = resolve_precision("auto", torch.device(device))
    terms, grad = _loss_and_grad(device, precision, hw)
    exact, exact_grad = _loss_and_grad(device, "fp32", hw)
    assert terms["total"] == pytest.approx(exact["total"], rel=3e-2)
    assert _relative(grad, exact_grad) < 0.1


@pytest.mark.parametrize("device", DEVICES)
def test_a_tiled_step_matches_the_whole_one(device: str) -> None:
    hw = (192, 256)
    whole, grad = _loss_and_grad(device, "fp32", hw)
    tiled, tiled_grad = _loss_and_grad(device, "fp32", hw, tile=96)
    assert tiled["total"] == pytest.approx(whole["total"], rel=1e-4)
    assert _relative(tiled_grad, grad) < 1e-3


@pytest.mark.parametrize("device", DEVICES)
def test_a_small_run_lowers_the_style_loss_and_says_where_it_ran(device: str) -> None:
    result = painterly.stylize(
        DATA / "tubingen.jpg",
        [DATA / "starry_night.jpg"],
        style_weight=20,
        iterations=30,
        size=64,
        seed=1,
        device=device,
    )
    assert result.history[-1].losses["style"] * 5 <= result.history[0].losses["style"]
    assert result.device.startswith(device)
    assert result.image.device.type == "cpu" and result.image.shape[-2:] == (48, 64)


@pytest.mark.parametrize("device", DEVICES)
def test_the_memory_plan_reads_the_devices_memory(device: str) -> None:
    where = pick_device(device)
    fit = check_fits(384, 512, "block5_conv1", "fp32", size=512, history=10, device=where)
    assert fit.need > 0 and fit.fits_whole(384, 512, "block5_conv1", "fp32")


@pytest.mark.parametrize("device", DEVICES)
def test_a_fast_network_runs_on_the_device_as_on_the_cpu(device: str) -> None:
    torch.manual_seed(0)
    net = TransformNet(SHAPES["small"], styles=1).eval()
    photo = images.load_image(DATA / "tubingen.jpg", 64)  # 48×64: sides multiples of 4
    with torch.no_grad():
        here = net.to(device)(photo.to(device), torch.ones(1, device=device)).cpu()
        there = net.cpu()(photo, torch.ones(1))
    assert here.shape == photo.shape
    assert float((here - there).abs().max()) < 1e-3

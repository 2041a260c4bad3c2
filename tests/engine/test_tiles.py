"""Tiled steps give the untiled loss and gradient; the tile geometry follows the layers."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import torch

from helpers import DATA, SKY
from painterly import Progress, stylize
from painterly.config.settings import Config, check_style_weights
from painterly.engine import tiles
from painterly.engine.evaluator import Evaluator, build_network
from painterly.engine.objective import LossTerms
from painterly.files import images
from painterly.nn import layers
from painterly.nn.weights import load_weights
from painterly.transfer.inputs import prepare
from painterly.transfer.scale import build_step


def test_halo_comes_from_the_layer_walk() -> None:
    assert layers.receptive_field("block5_conv1") == 156
    assert layers.receptive_field("block4_conv2") == 84
    assert (layers.reach("block5_conv1"), layers.halo("block5_conv1")) == (80, 80)
    assert (layers.reach("block4_conv2"), layers.halo("block4_conv2")) == (40, 40)
    assert layers.grid("block5_conv1") == 16


def test_tiles_cover_an_uneven_image_once() -> None:
    parts = tiles.split(200, 250, 96, "block5_conv1")
    covered = torch.zeros(200, 250)
    for tile in parts:
        covered[tile.rows.start : tile.rows.stop, tile.cols.start : tile.cols.stop] += 1
        assert tile.rows.start % 16 == 0 and tile.cols.start % 16 == 0
        assert tile.rows.low == max(0, tile.rows.start - 80)  # no halo past the border
        assert tile.cols.high == min(250, tile.cols.stop + 80)
    assert bool((covered == 1).all())
    assert [t.cols.stop - t.cols.start for t in parts[:3]] == [96, 96, 58]


def test_a_tile_smaller_than_the_halo_is_refused() -> None:
    with pytest.raises(Exception, match="tile 64 px is smaller than the 80 px halo") as info:
        Config(tile=64)
    assert info.value.field == "tile"  # type: ignore[attr-defined]
    Config(tile=64, style_layers=("block3_conv1",), content_layers=("block3_conv1",))


def _evaluate(
    cfg: Config,
    styles: list[Path],
    hw: tuple[int, int],
    tile: int,
    extra: Any = None,
    precision: str = "fp32",
) -> Any:
    """Loss terms and gradient at a fixed image between the photo and noise, whole and
    in tiles (with a caller's pixel term ``extra``, if given)."""
    inputs = prepare(cfg, DATA / "tubingen.jpg", styles)
    cpu = torch.device("cpu")
    weights = load_weights(cfg.weights)
    net = build_network(cfg, weights, inputs.content, hw, cpu, precision=precision)
    evaluator = Evaluator(net, cpu, precision)
    image_weights = check_style_weights(cfg, len(styles))
    step = build_step(
        cfg, evaluator, inputs, image_weights=image_weights, size=hw, final=hw, extra=extra
    )
    noise = torch.rand((1, 3, *hw), generator=torch.Generator().manual_seed(0))
    start = 0.7 * images.resize(inputs.content, hw) + 0.3 * noise
    out = []
    for each in (None, tile):
        x = start.clone().requires_grad_(True)
        terms: LossTerms = evaluator.loss_and_grad(x, step.objective, tile=each)
        assert x.grad is not None
        out += [terms.as_floats(), x.grad]
    return out


def _relative(a: torch.Tensor, b: torch.Tensor) -> float:
    return float((a - b).norm() / b.norm())


CASES: dict[str, dict[str, Any]] = {
    "gram": {},
    "masked gram, two styles": {"masks": (f"0={SKY}",)},
    "w2": {"style_loss": "w2"},
    "avg pooling, content mask, replicate": {
        "pooling": "avg",
        "content_mask": str(SKY),
        "padding": "replicate",
    },
}


@pytest.mark.parametrize("case", CASES)
def test_tiled_step_matches_the_untiled_one(case: str) -> None:
    cfg = Config(precision="fp32", **CASES[case])
    styles = [DATA / "starry_night.jpg", DATA / "the_scream.jpg"][: 2 if "two" in case else 1]
    hw = (192, 256)  # 96 px tiles: 2 rows, 3 columns (the last 64 px wide)
    whole, grad, tiled, tiled_grad = _evaluate(cfg, styles, hw, 96)
    assert _relative(tiled_grad, grad) < 1e-4
    for part in ("total", "content", "style", "tv"):
        # W2's untiled loss takes its square roots in float32, the tiled one in float64.
        assert tiled[part] == pytest.approx(whole[part], rel=1e-4, abs=1e-9)
    assert whole["content"] > 0 and whole["style"] > 0 and whole["tv"] > 0


def test_a_tiled_bf16_step_matches_the_untiled_one() -> None:
    """In bf16 the network's own maps get each layer's gradient added in place where
    the layer above sends its own (see tiled_step); the whole step takes the fused,
    native path. They agree to bf16's rounding."""
    cfg = Config(precision="bf16")
    hw = (192, 256)
    whole, grad, tiled, tiled_grad = _evaluate(
        cfg, [DATA / "starry_night.jpg"], hw, 96, precision="bf16"
    )
    assert _relative(tiled_grad, grad) < 2e-2
    assert tiled["total"] == pytest.approx(whole["total"], rel=1e-2)
    assert tiled["content"] == pytest.approx(whole["content"], rel=1e-2)


def test_a_callers_pixel_term_counts_in_tiled_steps() -> None:
    """The video's temporal loss is a term on the pixels: tiles must add it too."""
    hw = (192, 256)
    target = torch.rand((1, 3, *hw), generator=torch.Generator().manual_seed(1))

    def pull(x: torch.Tensor) -> torch.Tensor:
        return 50.0 * ((x - target) ** 2).mean()

    cfg = Config(precision="fp32")
    whole, grad, tiled, tiled_grad = _evaluate(cfg, [DATA / "starry_night.jpg"], hw, 96, pull)
    assert whole["extra"] > 0
    assert tiled["extra"] == pytest.approx(whole["extra"], rel=1e-6)
    assert tiled["total"] == pytest.approx(whole["total"], rel=1e-5)
    assert _relative(tiled_grad, grad) < 1e-4


def test_an_image_off_the_grid_tiles_exactly() -> None:
    cfg = Config(precision="fp32")
    hw = (150, 203)  # neither side a multiple of 16
    whole, grad, tiled, tiled_grad = _evaluate(cfg, [DATA / "starry_night.jpg"], hw, 80)
    assert _relative(tiled_grad, grad) < 1e-4
    assert tiled["total"] == pytest.approx(whole["total"], rel=1e-5)


def test_a_tiled_run_reports_its_tiles_and_records_them() -> None:
    events: list[Progress] = []
    options: dict[str, Any] = dict(size=128, scales=1, iterations=2, precision="fp32", seed=0)
    tiled = stylize(
        DATA / "tubingen.jpg",
        [DATA / "starry_night.jpg"],
        tile=80,
        progress=events.append,
        **options,
    )
    whole = stylize(DATA / "tubingen.jpg", [DATA / "starry_night.jpg"], **options)
    passes = [e.tiles for e in events if e.tiles is not None]
    # 128×96 px: 2×2 tiles of 80 px for the gradients, 1×1 of 160 px for the statistics.
    assert passes[:5] == [(1, 5), (2, 5), (3, 5), (4, 5), (5, 5)]
    assert [e.step for e in events if e.tiles is None] == [1, 2]
    assert tiled.memory["tile"] == 80 and tiled.memory["tiled_sizes"] == [[128, 96]]
    assert whole.memory["tile"] is None and whole.memory["tiled_sizes"] == []
    assert float((tiled.image - whole.image).abs().max()) < 1e-3


def test_ctrl_c_within_a_tiled_step_keeps_the_image_reached() -> None:
    seen: list[Progress] = []

    def interrupt(info: Progress) -> None:
        seen.append(info)
        if info.step == 1 and info.tiles is not None:
            raise KeyboardInterrupt

    result = stylize(
        DATA / "tubingen.jpg",
        [DATA / "starry_night.jpg"],
        size=128,
        scales=1,
        iterations=3,
        precision="fp32",
        seed=0,
        tile=80,
        progress=interrupt,
    )
    assert result.interrupted and len(result.history) == 1
    assert torch.equal(result.image, seen[-1].image.clamp(0, 1))

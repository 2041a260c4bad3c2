"""A run's schedule: the sizes from coarse to fine, the steps at each, and with a time
budget the deadline of each scale, as :class:`~painterly.engine.loop.Stage` values."""

from __future__ import annotations

import math
from collections.abc import Sequence

from ..config.settings import Config
from ..engine.loop import Plan, Stage, StepRecord, costs
from ..errors import ConfigError
from ..files import images
from ..nn.layers import deepest, min_side

MIN_SCALE_SIDE = 64  # coarser scales than this are dropped from the schedule


def schedule(cfg: Config, height: int, width: int) -> Plan:
    """[((h, w), steps)] from coarse to fine; sizes grow by √2, and the steps are split
    by ``cfg.taper`` (see :func:`split_steps`).

    Scales whose longest side would fall under 64 px are left out, and so are those
    whose shorter side would be under what the deepest layer needs (16 px for
    ``block5_conv1``: see :func:`~painterly.nn.layers.min_side`), so a panorama simply gets
    fewer scales. An output too thin even at ``size`` raises :class:`ConfigError`
    naming the smallest size that works.
    """
    layers = [*cfg.content_layers, *cfg.style_layers]
    need = min_side(layers)
    final = images.fit_size(height, width, cfg.size)
    if min(final) < need:
        side = images.side_for(height, width, need)
        raise ConfigError(
            f"at {{field}} {cfg.size} the photo would be {final[1]}×{final[0]} px, thinner than "
            f"the {need} px that layer {deepest(layers)} needs: use {{field}} {side} or more, "
            "or crop the photo to a less elongated shape",
            "size",
        )
    sides = [round(cfg.size / math.sqrt(2) ** (cfg.scales - 1 - i)) for i in range(cfg.scales)]
    sides = [s for s in sides if s >= min(MIN_SCALE_SIDE, cfg.size)]
    sizes = [images.fit_size(height, width, side) for side in sides]
    sizes = [hw for hw in sizes if min(hw) >= need]
    return list(zip(sizes, split_steps(cfg.iterations, len(sizes), cfg.taper), strict=True))


def split_steps(total: int, scales: int, taper: float) -> list[int]:
    """``total`` steps over ``scales`` scales in proportion to ``taper ** index``; the
    steps that rounding down leaves over go to the largest remainders (the finest
    scales first among equals).

    >>> split_steps(10, 3, 1.0), split_steps(100, 3, 0.5)
    ([3, 3, 4], [57, 29, 14])
    """
    shares = [taper**i for i in range(scales)]
    exact = [total * share / sum(shares) for share in shares]
    steps = [math.floor(x) for x in exact]
    order = sorted(range(scales), key=lambda i: (exact[i] - steps[i], i), reverse=True)
    for i in order[: total - sum(steps)]:
        steps[i] += 1
    return steps


# With a time budget, a scale between the first and the last that could not take this
# many steps in its share is left out: a scale's first steps only win back what the
# enlargement lost, so a scale of one or two steps costs its time and gives nothing.
MIN_SCALE_STEPS = 5


def share_of(plan: Plan, index: int, left: float) -> float:
    """The seconds of the ``left`` ones that scale ``index`` gets: its planned cost (steps
    times pixels) as a share of the cost of the scales from it on."""
    cost = costs(plan)
    return left * cost[index] / max(sum(cost[index:]), 1)


def seconds_per_pixel_step(history: Sequence[StepRecord], scale: int, pixels: int) -> float:
    """A step's seconds per pixel at ``scale``, from the times of its steps after the
    first (which also builds the scale's targets); 0 when it made fewer than two."""
    times = [h.time for h in history if h.scale == scale]
    return (times[-1] - times[0]) / (len(times) - 1) / pixels if len(times) > 1 else 0.0


def stage_at(
    plan: Plan,
    index: int,
    *,
    tile: int | None,
    seconds: float | None,
    elapsed: float,
    rate: float,
) -> Stage | None:
    """Scale ``index`` of ``plan`` as the loop takes it, or None to leave it out.

    Without a time budget (``seconds`` None) a scale takes its planned steps. With one,
    it gets :func:`share_of` the seconds left after ``elapsed`` as its deadline; a scale
    between the first and the last whose share could not take :data:`MIN_SCALE_STEPS`
    steps at ``rate`` (seconds per pixel-step, as measured at the last scale run) is left
    out, its time going to the finer ones. The first scale, the cheapest, takes two steps
    even over its share: the second gives L-BFGS its first curvature and the run its
    step rate.
    """
    hw, steps = plan[index]
    if seconds is None:
        return Stage(hw, steps, tile)
    share = share_of(plan, index, seconds - elapsed)
    if 0 < index < len(plan) - 1 and share < MIN_SCALE_STEPS * rate * hw[0] * hw[1]:
        return None
    return Stage(hw, steps, tile, deadline=elapsed + share, minimum=1 if index else 2)

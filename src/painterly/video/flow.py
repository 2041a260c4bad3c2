"""Optical flow between frames, warping along it, and where it can be trusted.

Flow comes from OpenCV's DIS (Kroeger et al. 2016; no learned weights). A flow
``f`` from frame ``a`` to frame ``b`` is an ``H×W×2`` float32 array of (x, y)
displacements with ``a(p) ≈ b(p + f(p))``. The occlusion and motion-boundary tests
are those of Ruder, Dosovitskiy and Brox (2016), "Artistic style transfer for
videos", section 3.2; the warping error is that of Lai et al. (2018), "Learning
blind video temporal consistency", section 5.1. Frames are ``H×W×3`` float32 RGB
in [0, 1].
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from types import ModuleType

import numpy as np

from ..errors import require

DIS_PRESETS = ("ultrafast", "fast", "medium")


def require_cv2() -> ModuleType:
    """OpenCV, or an error with the command that installs it."""
    return require("cv2", "video needs OpenCV and PyAV", "video")


@dataclass(frozen=True)
class FlowSettings:
    """How flow is computed: DIS's preset (``medium`` is its most accurate)."""

    preset: str = "medium"

    def to_json(self) -> dict[str, str]:
        return {"method": "DIS (OpenCV)", "preset": self.preset}


def flow(a: np.ndarray, b: np.ndarray, settings: FlowSettings | None = None) -> np.ndarray:
    """The flow from frame ``a`` to frame ``b`` (see the module's docstring)."""
    cv2 = require_cv2()
    preset = (settings or FlowSettings()).preset
    dis = cv2.DISOpticalFlow_create(getattr(cv2, f"DISOPTICAL_FLOW_PRESET_{preset.upper()}"))
    result = dis.calc(_grey(a), _grey(b), None)
    return np.asarray(result, dtype=np.float32)


def _grey(frame: np.ndarray) -> np.ndarray:
    luma = frame @ np.array([0.299, 0.587, 0.114], dtype=np.float32)
    return np.ascontiguousarray((luma.clip(0, 1) * 255).round().astype(np.uint8))


def warp(image: np.ndarray, f: np.ndarray) -> np.ndarray:
    """``image`` sampled at ``p + f(p)`` (bilinear; edges repeated outside the frame):
    with ``f`` the flow from ``a`` to ``b`` and ``image`` aligned with ``b``, the result
    is aligned with ``a``."""
    cv2 = require_cv2()
    h, w = f.shape[:2]
    xs, ys = np.meshgrid(np.arange(w, dtype=np.float32), np.arange(h, dtype=np.float32))
    map_x, map_y = xs + f[..., 0], ys + f[..., 1]
    warped = cv2.remap(
        np.ascontiguousarray(image, dtype=np.float32),
        map_x,
        map_y,
        interpolation=cv2.INTER_LINEAR,
        borderMode=cv2.BORDER_REPLICATE,
    )
    return np.asarray(warped, dtype=np.float32).reshape(image.shape)


def inside(f: np.ndarray) -> np.ndarray:
    """1 where ``p + f(p)`` lands inside the frame, else 0."""
    h, w = f.shape[:2]
    xs, ys = np.meshgrid(np.arange(w, dtype=np.float32), np.arange(h, dtype=np.float32))
    x, y = xs + f[..., 0], ys + f[..., 1]
    within = (x >= 0) & (x <= w - 1) & (y >= 0) & (y <= h - 1)
    return np.asarray(within, dtype=np.float32)


def consistent(forward: np.ndarray, backward: np.ndarray) -> np.ndarray:
    """1 where the forward–backward check passes at frame ``a`` (``forward``: a → b,
    ``backward``: b → a), 0 where ``|w + ŵ|² > 0.01(|w|² + |ŵ|²) + 0.5`` (disoccluded)
    or where ``p + w`` leaves the frame."""
    back = warp(backward, forward)
    mismatch = np.square(forward + back).sum(-1)
    bound = 0.01 * (np.square(forward).sum(-1) + np.square(back).sum(-1)) + 0.5
    passed = np.asarray(mismatch <= bound, dtype=np.float32)
    return np.asarray(passed * inside(forward))


def motion_boundaries(f: np.ndarray) -> np.ndarray:
    """1 on motion boundaries, where ``|∇u|² + |∇v|² > 0.01|w|² + 0.002``, else 0."""
    du_dy, du_dx = np.gradient(f[..., 0])
    dv_dy, dv_dx = np.gradient(f[..., 1])
    steep = du_dx**2 + du_dy**2 + dv_dx**2 + dv_dy**2
    return np.asarray(steep > 0.01 * np.square(f).sum(-1) + 0.002, dtype=np.float32)


def trusted(forward: np.ndarray, backward: np.ndarray) -> np.ndarray:
    """Ruder et al.'s weights ``c`` at frame ``a``: 1 where the flow a → b can be trusted,
    0 where it fails the forward–backward check, leaves the frame or crosses a motion
    boundary."""
    return np.asarray(consistent(forward, backward) * (1.0 - motion_boundaries(forward)))


def closest_first(masks: Sequence[np.ndarray]) -> list[np.ndarray]:
    """Long-term weights (Ruder et al., eq. 8): each earlier frame counts only where no
    closer frame is trusted, ``c_j = max(c_j − Σ_{k<j} c_k, 0)``; ``masks`` run from the
    closest frame to the farthest."""
    out, covered = [], np.zeros_like(masks[0]) if masks else None
    for mask in masks:
        assert covered is not None
        out.append(np.maximum(mask - covered, 0.0))
        covered = covered + mask
    return out


def warping_error(
    outputs: Sequence[np.ndarray],
    inputs: Sequence[np.ndarray],
    settings: FlowSettings | None = None,
) -> float:
    """Lai et al.'s warping error of a stylised clip ``outputs``, flow taken on its
    ``inputs``: the mean over t of ``Σ_p M(p) |O_t(p) − warp(O_{t+1})(p)|² / Σ_p M(p)``,
    M the non-occlusion mask (:func:`consistent`). 0 for a clip of one frame."""
    return warping_errors(inputs, [outputs], settings)[0]


def warping_errors(
    inputs: Sequence[np.ndarray],
    outputs: Sequence[Sequence[np.ndarray]],
    settings: FlowSettings | None = None,
) -> list[float]:
    """:func:`warping_error` of several clips made from the same ``inputs``, the flow
    computed once (pass ``inputs`` among ``outputs`` for the floor: the input's own)."""
    frames = ((frame, [clip[t] for clip in outputs]) for t, frame in enumerate(inputs))
    return mean_errors(pair_errors(frames, settings), len(outputs))


def pair_errors(
    frames: Iterable[tuple[np.ndarray, Sequence[np.ndarray]]],
    settings: FlowSettings | None = None,
) -> Iterator[list[float]]:
    """For each pair of consecutive frames, given one at a time as ``(input, [each
    clip's frame])``, the :func:`pair_error` of each clip, the flow taken on the inputs;
    two frames are held at a time."""
    before: tuple[np.ndarray, Sequence[np.ndarray]] | None = None
    for now in frames:
        if before is not None:
            forward, backward = flow(before[0], now[0], settings), flow(now[0], before[0], settings)
            pairs = zip(before[1], now[1], strict=True)
            yield [pair_error(a, b, forward, backward) for a, b in pairs]
        before = now


def mean_errors(errors: Iterable[Sequence[float]], clips: int) -> list[float]:
    """The mean of each of ``clips`` columns of :func:`pair_errors` (0 with no pair)."""
    sums, count = [0.0] * clips, 0
    for row in errors:
        sums = [s + e for s, e in zip(sums, row, strict=True)]
        count += 1
    return [s / count if count else 0.0 for s in sums]


def pair_error(
    now: np.ndarray, after: np.ndarray, forward: np.ndarray, backward: np.ndarray
) -> float:
    """One term of :func:`warping_error`: frame ``now`` against ``after`` warped to it."""
    mask = consistent(forward, backward)
    diff = np.square(now - warp(after, forward)).sum(-1)
    return float((mask * diff).sum() / max(float(mask.sum()), 1.0))

"""Loss functions of Gatys et al. (2015), as pure functions, plus thin modules that
hold their targets as buffers.

Normalisations follow the paper and the article:

* content: ``L = 1/2 * sum((F(x) - F(c))**2)``
* Gram matrix: ``G = F F^T`` over the ``M = H*W`` positions of ``N`` filters
* style, per layer: ``E_l = 1/(4 N^2 M^2) * sum((G(x) - G(s))**2)``

All are computed in float32, whatever precision the network ran in: Gram matrices
of half-precision features overflow. The exception is the gradient of the Gram
loss of bf16 features: its matrix product takes the bf16 features as they are (oneDNN
accumulates in float32) and gives the bf16 gradient the network needs, with no float32
gradient of the feature map to cast back; and the Gram matrix of bf16 features, taken
in float32 from exact copies, runs on oneDNN's bf16 units (see :func:`gram_of`).
"""

from __future__ import annotations

import threading
from typing import Any

import torch
from torch import nn

from .process import owns_process

Window = tuple[slice, slice]  # rows and columns of a feature map
Sums = tuple[torch.Tensor, ...]  # statistics that are sums over positions


def at_least_fp32(t: torch.Tensor) -> torch.Tensor:
    """Half-precision tensors as float32; float32 and float64 unchanged."""
    return t.float() if t.dtype in (torch.bfloat16, torch.float16) else t


def positions_by_filters(features: torch.Tensor, keep_bf16: bool = False) -> torch.Tensor:
    """A ``1×N×H×W`` (or ``N×H×W``) feature map as the ``M×N`` matrix ``F^T`` in float32
    (bf16 kept as it is with ``keep_bf16``).

    For a channels-last map this is a view, not a copy.
    """
    n = features.shape[-3]
    flat = features.movedim(-3, -1).reshape(-1, n)
    return flat if keep_bf16 and flat.dtype == torch.bfloat16 else at_least_fp32(flat)


# oneDNN runs float32 matrix products on its bf16 units when a process-wide setting asks
# (torch.backends.mkldnn.matmul.fp32_precision). painterly switches it on around a Gram
# product only in a process it owns (painterly.tune_process): elsewhere another thread's
# float32 product could run in bf16 meanwhile. Every Gram product of painterly holds
# this lock, so one of its own that must stay in float32 never runs while it is on.
_PRODUCTS = threading.Lock()
_ONEDNN_MATMUL: Any = getattr(torch.backends.mkldnn, "matmul", None)  # PyTorch ≥ 2.9


def gram_of(flat: torch.Tensor, from_bf16: bool = False) -> torch.Tensor:
    """``flat^T flat`` for a float32 ``M×N`` matrix; ``from_bf16``: every value of
    ``flat`` is a bf16 number (a float32 copy of bf16 features).

    Then the product runs on oneDNN's bf16 units: a product of two bf16 numbers is exact
    in float32 and oneDNN accumulates in float32, so it is the float32 Gram matrix (up to
    the order of the sums), 2–4× faster where the CPU has AMX. The Gram matrix rounded
    to bf16 instead moved a run's style error visibly. Only in a process tuned by
    :func:`painterly.tune_process`; elsewhere the product runs in float32 as it is.
    """
    with _PRODUCTS:
        exact = from_bf16 and flat.device.type == "cpu" and flat.dtype == torch.float32
        if _ONEDNN_MATMUL is None or not exact or not owns_process():
            return flat.T @ flat
        setting = _ONEDNN_MATMUL.fp32_precision
        _ONEDNN_MATMUL.fp32_precision = "bf16"
        try:
            return flat.T @ flat
        finally:
            _ONEDNN_MATMUL.fp32_precision = setting


def gram_matrix(features: torch.Tensor) -> torch.Tensor:
    """Unnormalised Gram matrix ``G = F F^T`` (N×N) of a feature map.

    >>> gram_matrix(torch.tensor([[[1.0, 2.0]], [[0.0, 1.0]]]))
    tensor([[5., 2.],
            [2., 1.]])
    """
    return gram_of(positions_by_filters(features))


def gram_per_position(features: torch.Tensor) -> torch.Tensor:
    """The Gram matrix per position, ``F F^T / M`` (N×N), in float32: comparable between
    images of different sizes (the style targets, the score, the explain tools).

    >>> gram_per_position(torch.tensor([[[1.0, 2.0]], [[0.0, 1.0]]]))
    tensor([[2.5000, 1.0000],
            [1.0000, 0.5000]])
    """
    flat = positions_by_filters(features)
    return gram_of(flat) / flat.shape[0]


class _GramDistance(torch.autograd.Function):
    """``sum((X^T X - A)**2) / (4 N^2)`` with its analytic gradient ``X (G - A) / N^2``.

    Autograd would differentiate both factors of ``X^T X`` separately (two large
    matrix products); the closed form needs one. For a bf16 ``X`` the Gram matrix is
    taken in float32 (a bf16 result would round it to 3 digits), and the gradient in
    bf16 from the bf16 ``X`` kept for it (float32 accumulation; the network needs it
    in bf16 anyway).
    """

    @staticmethod
    def forward(ctx: Any, flat: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        n = flat.shape[1]
        diff = gram_of(at_least_fp32(flat), flat.dtype == torch.bfloat16) - target
        ctx.save_for_backward(flat, diff)
        return diff.pow(2).sum() / (4.0 * n * n)

    @staticmethod
    def backward(ctx: Any, grad: torch.Tensor) -> tuple[torch.Tensor, None]:
        flat, diff = ctx.saved_tensors
        n = flat.shape[1]
        return flat @ (diff * (grad / (n * n))).to(flat.dtype), None


def gram_distance(flat: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """``sum((F F^T - A)**2) / (4 N^2)`` for ``flat = F^T`` (M×N) and a symmetric target."""
    result: torch.Tensor = _GramDistance.apply(flat, target)  # type: ignore[no-untyped-call]
    return result


def content_loss(
    features: torch.Tensor, target: torch.Tensor, weights: torch.Tensor | None = None
) -> torch.Tensor:
    """``1/2 * sum((F - P)**2)`` (Gatys et al. 2015, eq. 1); ``weights`` (broadcast over
    the filters) weigh each position."""
    squared = (at_least_fp32(features) - target).pow(2)
    return 0.5 * (squared if weights is None else squared * weights).sum()


def style_layer_loss(gram: torch.Tensor, target: torch.Tensor, n: int, m: int) -> torch.Tensor:
    """``E_l = 1/(4 N^2 M^2) * sum((G - A)**2)`` (Gatys et al. 2015, eq. 4)."""
    return (gram - target).pow(2).sum() / (4.0 * n * n * m * m)


def total_variation(image: torch.Tensor) -> torch.Tensor:
    """Mean squared difference of neighbouring pixels, a smoothness prior.

    Not in Gatys et al. 2015; Mahendran & Vedaldi (2015) and most later tools add it.
    """
    dx = image[..., :, 1:] - image[..., :, :-1]
    dy = image[..., 1:, :] - image[..., :-1, :]
    return dx.pow(2).mean() + dy.pow(2).mean()


class ContentLoss(nn.Module):
    """Content loss against a fixed target feature map (held as a buffer).

    With ``relative=True`` the loss is divided by ``1/2 * sum(P**2)``: the squared
    error relative to the target, 1.0 when the features are all zero. ``weights``
    (``1×1×H×W`` at the layer's size, mean 1) weigh each position: a content mask.
    """

    target: torch.Tensor
    weights: torch.Tensor | None

    def __init__(
        self, target: torch.Tensor, relative: bool = False, weights: torch.Tensor | None = None
    ) -> None:
        super().__init__()
        self.register_buffer("target", at_least_fp32(target.detach()))
        self.register_buffer("weights", weights)
        self.scale = 1.0 / float(content_loss(self.target, torch.zeros(()))) if relative else 1.0

    def forward(self, features: torch.Tensor, window: Window | None = None) -> torch.Tensor:
        """The loss of ``features``; with ``window`` (rows and columns of the layer),
        of the part of the map there (a tile's share of the sum over positions)."""
        if window is None:
            return content_loss(features, self.target, self.weights) * self.scale
        weights = None if self.weights is None else self.weights[..., window[0], window[1]]
        target = self.target[..., window[0], window[1]]
        return content_loss(features, target, weights) * self.scale


class GramStyleLoss(nn.Module):
    """Per-layer style loss against a precomputed target Gram matrix.

    The target is computed once from the style image's features, so each step only
    pays for the Gram matrix of the image being optimised.
    With ``relative=True`` the loss is ``sum((G/M - A)**2) / sum(A**2)``: the
    squared error relative to the target. Departure from Gatys et al.: the raw Caffe
    weights give activations whose scales differ by 1000× between layers (Gatys et al.
    rescaled the network instead), so with equal weights one layer would dominate.

    With ``mask`` (``1×1×H×W`` in [0, 1] at the layer's size), the loss is guided
    (Gatys et al. 2017, section 4): the features are weighted by the mask before the
    Gram matrix, and ``M`` becomes the mask's mass ``sum(mask**2)``, so only the
    masked region is asked to have the style's statistics.
    """

    target: torch.Tensor
    mask: torch.Tensor | None

    def __init__(
        self,
        target_features: torch.Tensor,
        relative: bool = False,
        mask: torch.Tensor | None = None,
    ) -> None:
        super().__init__()
        self.register_buffer("target", gram_per_position(target_features))
        self.register_buffer("mask", None if mask is None else mask.reshape(-1, 1).float())
        n = self.target.shape[0]
        self.scale = 4.0 * n * n / float(self.target.pow(2).sum()) if relative else 1.0

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        flat = positions_by_filters(features, keep_bf16=self.mask is None)
        if self.mask is None:
            m = float(flat.shape[0])
        else:
            flat = flat * self.mask
            m = float(self.mask.pow(2).sum())
        # E_l with G = F F^T and A = M * (style Gram per position): the target is scaled
        # to this image's M, so the style image may have another size than the output.
        return gram_distance(flat, self.target * m) * (self.scale / (m * m))

    # Tiled steps (painterly.engine.tiles): the statistics are sums over positions, so they add
    # up over tiles; the loss is a function of their totals.
    def sums(self, flat: torch.Tensor, mask: torch.Tensor | None) -> Sums:
        """``(G,)`` of the positions ``flat`` (M×N) weighted by their ``mask`` (M×1)."""
        weighted = flat if mask is None else flat * mask
        return (gram_of(weighted),)

    def from_sums(self, sums: Sums, positions: int) -> torch.Tensor:
        """The loss for the totals ``sums`` over all ``positions`` of the layer (the same
        value as :meth:`forward`)."""
        m = float(positions) if self.mask is None else float(self.mask.pow(2).sum())
        n = self.target.shape[0]
        diff = sums[0] - self.target.to(sums[0]) * m
        return diff.pow(2).sum() / (4.0 * n * n) * (self.scale / (m * m))

    def pullback(self, flat: torch.Tensor, mask: torch.Tensor | None, grads: Sums) -> torch.Tensor:
        """The loss's gradient with respect to ``flat`` given its gradient ``grads``
        with respect to the sums: ``(D + D^T) F`` (masked on both sides)."""
        d = grads[0].to(flat)
        sym = d + d.T
        if mask is None:
            return flat @ sym
        return ((flat * mask) @ sym) * mask

    def mask_window(self, hw: tuple[int, int], window: Window) -> torch.Tensor | None:
        """The mask of the positions in ``window`` of a layer of size ``hw``, as M×1."""
        if self.mask is None:
            return None
        return self.mask.view(hw)[window].reshape(-1, 1)

    def extra_repr(self) -> str:
        return f"filters={self.target.shape[0]}"


class _TraceSqrt(torch.autograd.Function):
    """``tr((S + eps I)^{1/2})`` of a symmetric PSD matrix, with gradient
    ``(S + eps I)^{-1/2} / 2``.

    The square root is infinitely steep at 0 and VGG features have many filters of
    near-zero variance: the shift keeps value and gradient smooth and consistent, which
    L-BFGS needs.
    """

    @staticmethod
    def forward(ctx: Any, matrix: torch.Tensor, eps: float) -> torch.Tensor:
        values, vectors = torch.linalg.eigh(matrix)
        roots = (values + eps).clamp_min(eps / 2).sqrt()
        ctx.save_for_backward(roots, vectors)
        total: torch.Tensor = roots.sum()
        return total

    @staticmethod
    def backward(ctx: Any, grad: torch.Tensor) -> tuple[torch.Tensor, None]:
        roots, vectors = ctx.saved_tensors
        return (vectors * (grad * 0.5 / roots)) @ vectors.T, None


def trace_sqrt(matrix: torch.Tensor, eps: float) -> torch.Tensor:
    """``tr(sqrtm(S + eps * I))`` for a symmetric positive semi-definite ``S``."""
    result: torch.Tensor = _TraceSqrt.apply(matrix, eps)  # type: ignore[no-untyped-call]
    return result


def psd_sqrt(matrix: torch.Tensor, eps: float = 1e-8) -> torch.Tensor:
    """The symmetric square root of a PSD matrix, by eigendecomposition (stable, and
    unlike the removed ``Tensor.eig`` available in every PyTorch 2)."""
    values, vectors = torch.linalg.eigh(matrix)
    root: torch.Tensor = (vectors * values.clamp_min(eps).sqrt()) @ vectors.T
    return root


def mean_and_covariance(features: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Mean (N) and covariance (N×N) of a feature map's filters over its positions."""
    flat = positions_by_filters(features)
    mean = flat.mean(0)
    centered = flat - mean
    return mean, gram_of(centered) / flat.shape[0]


def wasserstein2(
    mean: torch.Tensor,
    cov: torch.Tensor,
    target_mean: torch.Tensor,
    target_cov: torch.Tensor,
    target_cov_sqrt: torch.Tensor,
    eps: float = 0.0,
) -> torch.Tensor:
    """Squared 2-Wasserstein distance between the Gaussians N(mean, cov) and the target:
    ``|m - m_s|^2 + tr(C) + tr(C_s) - 2 tr(sqrtm(C_s^{1/2} C C_s^{1/2}))``, the inner
    matrix shifted by ``eps * I`` for smoothness."""
    cross = target_cov_sqrt @ cov @ target_cov_sqrt
    moments = (mean - target_mean).pow(2).sum() + cov.trace() + target_cov.trace()
    return moments - 2 * trace_sqrt(cross, eps)


class W2StyleLoss(nn.Module):
    """Style as the features' mean and covariance, compared by the 2-Wasserstein distance
    (as in crowsonkb/style-transfer-pytorch) instead of the Gram matrix.

    With ``relative=True`` the distance is divided by ``|m_s|^2 + tr(C_s)``, the
    target's second moment, so layers of different scales count alike.
    """

    mean: torch.Tensor
    cov: torch.Tensor
    cov_sqrt: torch.Tensor

    def __init__(self, target_features: torch.Tensor, relative: bool = False) -> None:
        super().__init__()
        mean, cov = mean_and_covariance(target_features)
        self.register_buffer("mean", mean)
        self.register_buffer("cov", cov)
        self.register_buffer("cov_sqrt", psd_sqrt(cov))
        second_moment = float(mean.pow(2).sum() + cov.trace())
        self.scale = 1.0 / second_moment if relative else 1.0
        # A fixed shift of the inner matrix (whose units are a covariance squared): 1e-3
        # of the squared mean variance of the target.
        self.eps = 1e-3 * (float(cov.trace()) / cov.shape[0]) ** 2

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        mean, cov = mean_and_covariance(features)
        distance = wasserstein2(mean, cov, self.mean, self.cov, self.cov_sqrt, self.eps)
        return distance * self.scale

    # Tiled steps: the mean and covariance come from two sums over positions.
    def sums(self, flat: torch.Tensor, mask: torch.Tensor | None) -> Sums:
        """``(sum f, sum f f^T)`` of the positions ``flat`` (M×N); W2 takes no masks."""
        return flat.sum(0), gram_of(flat)

    def from_sums(self, sums: Sums, positions: int) -> torch.Tensor:
        """The loss for the totals ``sums`` over all ``positions`` of the layer."""
        mean = sums[0] / positions
        cov = sums[1] / positions - torch.outer(mean, mean)
        like = sums[0]
        target = (self.mean.to(like), self.cov.to(like), self.cov_sqrt.to(like))
        return wasserstein2(mean, cov, *target, self.eps) * self.scale

    def pullback(self, flat: torch.Tensor, mask: torch.Tensor | None, grads: Sums) -> torch.Tensor:
        """The gradient with respect to ``flat``: ``d1 + (D2 + D2^T) f`` at each position."""
        d1, d2 = grads[0].to(flat), grads[1].to(flat)
        return flat @ (d2 + d2.T) + d1

    def mask_window(self, hw: tuple[int, int], window: Window) -> torch.Tensor | None:
        return None

"""The objective of a transfer, ``a*L_style + b*L_content + tv*TV``, with its targets
computed once and held as buffers."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

import torch
from torch import nn

from ..config.settings import Config, layer_weight_map
from ..errors import ConfigError
from .losses import ContentLoss, GramStyleLoss, W2StyleLoss, total_variation

STYLE_MODULES: dict[str, type[GramStyleLoss] | type[W2StyleLoss]] = {
    "gram": GramStyleLoss,
    "w2": W2StyleLoss,
}


@dataclass(frozen=True)
class LossTerms:
    """The weighted total and the unweighted parts of one evaluation."""

    total: torch.Tensor
    content: torch.Tensor
    style: torch.Tensor
    tv: torch.Tensor
    extra: torch.Tensor | None = None  # the pixel term a caller added (weighted), if any

    def as_floats(self) -> dict[str, float]:
        names = ("total", "content", "style", "tv") + (("extra",) if self.extra is not None else ())
        return {k: float(getattr(self, k).detach()) for k in names}


# A caller's own term on the optimised pixels (1×3×h×w at the current scale), already
# weighted, added to the total: the temporal loss of painterly.video.render is one.
PixelLoss = Callable[[torch.Tensor], torch.Tensor]


class Objective(nn.Module):
    """``L = a * sum_i a_i sum_l w_l E_l(i) + b * sum_c L_content(c) + tv * TV(x)``.

    ``style_features`` holds one ``{layer: features}`` dict per style image; only
    their Gram statistics are kept. ``relative`` divides each layer's loss by its
    target's size (see :class:`ContentLoss` and :class:`GramStyleLoss`).
    ``style_masks`` (one ``{layer: mask}`` per style image) guide each style to its
    region; ``content_weights`` (``{layer: weights}``) weigh the content loss per position;
    ``extra`` is a caller's own weighted term on the pixels, added to the total.
    """

    def __init__(  # noqa: PLR0913 - keywords only: one per term and weight of the sum
        self,
        content_features: Mapping[str, torch.Tensor],
        style_features: Sequence[Mapping[str, torch.Tensor]],
        *,
        style_image_weights: Sequence[float],
        layer_weights: Mapping[str, float],
        content_weight: float,
        style_weight: float,
        tv_weight: float = 0.0,
        relative: bool = False,
        style_loss: str = "gram",
        style_masks: Sequence[Mapping[str, torch.Tensor]] | None = None,
        content_weights: Mapping[str, torch.Tensor] | None = None,
        extra: PixelLoss | None = None,
    ) -> None:
        super().__init__()
        weights = content_weights or {}
        self.content = nn.ModuleDict(
            {k: ContentLoss(v, relative, weights.get(k)) for k, v in content_features.items()}
        )
        masks = style_masks or [{} for _ in style_features]
        self.styles = nn.ModuleList(
            nn.ModuleDict(
                {k: _style_module(style_loss, feats[k], relative, m.get(k)) for k in layer_weights}
            )
            for feats, m in zip(style_features, masks, strict=True)
        )
        self.style_image_weights = tuple(style_image_weights)
        self.layer_weights = dict(layer_weights)
        self.content_weight = content_weight
        self.style_weight = style_weight
        self.tv_weight = tv_weight
        self.extra = extra

    def forward(self, features: Mapping[str, torch.Tensor], image: torch.Tensor) -> LossTerms:
        zero = image.new_zeros(())
        content = zero
        for layer, module in self.content.items():
            content = content + module(features[layer])
        style = zero
        for weight, losses in zip(self.style_image_weights, self.styles, strict=True):
            assert isinstance(losses, nn.ModuleDict)
            for layer, module in losses.items():
                style = style + weight * self.layer_weights[layer] * module(features[layer])
        tv = total_variation(image) if self.tv_weight else zero
        total = self.style_weight * style + self.content_weight * content + self.tv_weight * tv
        if self.extra is None:
            return LossTerms(total, content, style, tv)
        extra = self.extra(image)
        return LossTerms(total + extra, content, style, tv, extra)


def _style_module(
    kind: str, features: torch.Tensor, relative: bool, mask: torch.Tensor | None
) -> nn.Module:
    if mask is None:
        return STYLE_MODULES[kind](features, relative)
    if kind != "gram":
        raise ConfigError(
            f"style masks need the gram style loss, not '{kind}': set {{field}} to gram",
            "style_loss",
        )
    return GramStyleLoss(features, relative, mask)


def objective_for(
    cfg: Config,
    content_features: Mapping[str, torch.Tensor],
    style_features: Sequence[Mapping[str, torch.Tensor]],
    *,
    style_image_weights: Sequence[float],
    content_scale: float = 1.0,
    style_masks: Sequence[Mapping[str, torch.Tensor]] | None = None,
    content_weights: Mapping[str, torch.Tensor] | None = None,
    extra: PixelLoss | None = None,
) -> Objective:
    """The objective a config describes, for targets already computed
    (``content_scale`` multiplies the content weight; masks and ``extra`` as in
    :class:`Objective`)."""
    return Objective(
        {k: content_features[k] for k in cfg.content_layers},
        style_features,
        style_image_weights=style_image_weights,
        layer_weights=layer_weight_map(cfg),
        content_weight=cfg.content_weight * content_scale,
        style_weight=cfg.style_weight,
        tv_weight=cfg.tv_weight,
        relative=cfg.normalize,
        style_loss=cfg.style_loss,
        style_masks=style_masks,
        content_weights=content_weights,
        extra=extra,
    )

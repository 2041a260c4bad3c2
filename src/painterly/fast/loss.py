"""painterly's objective for a batch of paintings, each of its own photo and style.

The same terms and weights as an optimised run (:mod:`painterly.engine.objective`):
the Config's content and style layers, their weights, the normalised Gram loss and TV.
Each image of the batch is scored on its own (a Gram matrix mixes the positions of
whatever it is given, so a batch's must not be taken together) and the batch's loss is
their mean.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import torch
from torch import nn

from ..config.settings import Config, layer_weight_map
from ..engine.losses import ContentLoss
from ..engine.objective import LossTerms, Objective


class BatchObjective(nn.Module):
    """``mean_i [a * L_style(y_i, s_i) + b * L_content(y_i, x_i) + tv * TV(y_i)]``.

    ``style_features`` holds one ``{layer: features}`` per style; each style's terms are
    an :class:`~painterly.engine.objective.Objective` without content, and the content
    term of each photo is a :class:`~painterly.engine.losses.ContentLoss` made per batch.
    """

    def __init__(self, cfg: Config, style_features: Sequence[Mapping[str, torch.Tensor]]) -> None:
        super().__init__()
        self.styles = nn.ModuleList(
            Objective(
                {},
                [features],
                style_image_weights=[1.0],
                layer_weights=layer_weight_map(cfg),
                content_weight=0.0,
                style_weight=cfg.style_weight,
                tv_weight=cfg.tv_weight,
                relative=cfg.normalize,
                style_loss=cfg.style_loss,
            )
            for features in style_features
        )
        self.content_layers = tuple(cfg.content_layers)
        self.content_weight = cfg.content_weight
        self.relative = cfg.normalize

    def forward(
        self,
        features: Mapping[str, torch.Tensor],
        paintings: torch.Tensor,
        photo_features: Mapping[str, torch.Tensor],
        styles: Sequence[int],
    ) -> LossTerms:
        """The batch's mean terms for ``paintings`` (``B×3×H×W``) with ``features`` (the
        network's, differentiable), the photos' content features and each image's style."""
        parts = []
        for i, style in enumerate(styles):
            mine = {k: v[i : i + 1] for k, v in features.items()}
            terms = self.styles[style](mine, paintings[i : i + 1])
            content = paintings.new_zeros(())
            for layer in self.content_layers:
                target = photo_features[layer][i : i + 1]
                content = content + ContentLoss(target, self.relative)(mine[layer])
            total = terms.total + self.content_weight * content
            parts.append((total, content, terms.style, terms.tv))
        mean = [torch.stack(column).mean() for column in zip(*parts, strict=True)]
        return LossTerms(*mean)

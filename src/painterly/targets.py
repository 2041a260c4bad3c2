"""Feature targets computed once and shared by the runs of an experiment grid.

The features of a content or style image at a given size depend only on the image,
the size and the network (weights, pooling and its gains, padding, precision), never
on a run's loss weights or layers: runs that agree on those reuse them.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Hashable, Sequence

import torch


def fingerprint(image: torch.Tensor) -> str:
    """A digest of an image tensor's shape and values."""
    data = image.detach().float().cpu().contiguous()
    digest = hashlib.blake2b(data.numpy().tobytes(), digest_size=16)
    digest.update(str(tuple(data.shape)).encode())
    return digest.hexdigest()


class FeatureCache:
    """``{(image, network, layer): features}``, filled by whichever run needs them first.

    >>> cache = FeatureCache()
    >>> cache.hits, cache.misses
    (0, 0)
    """

    def __init__(self) -> None:
        self._store: dict[tuple[str, Hashable, str], torch.Tensor] = {}
        self.hits = 0
        self.misses = 0

    def features(
        self,
        image: torch.Tensor,
        network: Hashable,
        layers: Sequence[str],
        compute: Callable[[torch.Tensor], dict[str, torch.Tensor]],
    ) -> dict[str, torch.Tensor]:
        """The features of ``image`` at ``layers``, calling ``compute(image)`` (which
        returns at least those layers) only for what is not stored yet."""
        key = fingerprint(image)
        missing = [layer for layer in layers if (key, network, layer) not in self._store]
        if missing:
            self.misses += 1
            for layer, value in compute(image).items():
                self._store[(key, network, layer)] = value
        else:
            self.hits += 1
        return {layer: self._store[(key, network, layer)] for layer in layers}

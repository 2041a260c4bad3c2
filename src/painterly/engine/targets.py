"""Feature targets computed once and shared by the runs of an experiment grid.

The features of a content or style image at a given size depend only on the image,
the size and the network (weights, pooling and its gains, padding, precision), never
on a run's loss weights or layers: runs that agree on those reuse them.
"""

from __future__ import annotations

import hashlib
from collections import OrderedDict
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

    With ``max_bytes``, the least recently used features are dropped beyond that size
    (a batch keeps its few style images' features while its photos come and go).

    >>> cache = FeatureCache()
    >>> cache.hits, cache.misses
    (0, 0)
    """

    def __init__(self, max_bytes: int | None = None) -> None:
        self._store: OrderedDict[tuple[str, Hashable, str], torch.Tensor] = OrderedDict()
        self.max_bytes = max_bytes
        self.bytes = 0
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
                self._put((key, network, layer), value)
        else:
            self.hits += 1
        found = {layer: self._store[(key, network, layer)] for layer in layers}
        for layer in layers:
            self._store.move_to_end((key, network, layer))
        self._trim(keep=len(layers))
        return found

    def _put(self, key: tuple[str, Hashable, str], value: torch.Tensor) -> None:
        old = self._store.pop(key, None)
        if old is not None:
            self.bytes -= old.nbytes
        self._store[key] = value
        self.bytes += value.nbytes

    def _trim(self, keep: int) -> None:
        """Drop the oldest entries over ``max_bytes``, never the ``keep`` newest."""
        while self.max_bytes is not None and self.bytes > self.max_bytes:
            if len(self._store) <= keep:
                break
            _, value = self._store.popitem(last=False)
            self.bytes -= value.nbytes

"""Target features computed once and shared by runs that agree on the network."""

from __future__ import annotations

import torch

from painterly.engine.targets import FeatureCache, fingerprint


class Counter:
    """A stand-in network: counts its calls, returns two layers."""

    def __init__(self) -> None:
        self.calls = 0

    def __call__(self, image: torch.Tensor) -> dict[str, torch.Tensor]:
        self.calls += 1
        return {"a": image * 2, "b": image * 3}


def test_features_are_computed_once_per_image_and_network() -> None:
    cache, net = FeatureCache(), Counter()
    image = torch.rand(1, 3, 4, 4)
    first = cache.features(image, "vgg-fp32", ["a"], net)
    again = cache.features(image.clone(), "vgg-fp32", ["a", "b"], net)  # equal values
    assert net.calls == 1 and (cache.hits, cache.misses) == (1, 1)
    torch.testing.assert_close(first["a"], image * 2)
    torch.testing.assert_close(again["b"], image * 3)


def test_another_network_or_image_computes_anew() -> None:
    cache, net = FeatureCache(), Counter()
    image = torch.rand(1, 3, 4, 4)
    cache.features(image, "vgg-fp32", ["a"], net)
    cache.features(image, "vgg-bf16", ["a"], net)
    cache.features(image + 1e-3, "vgg-fp32", ["a"], net)
    assert net.calls == 3 and cache.hits == 0


def test_fingerprint_tells_shapes_and_values_apart() -> None:
    image = torch.zeros(1, 3, 4, 4)
    assert fingerprint(image) == fingerprint(image.clone())
    assert fingerprint(image) != fingerprint(torch.zeros(1, 3, 2, 8))
    changed = image.clone()
    changed[0, 1, 2, 3] = 1e-6
    assert fingerprint(image) != fingerprint(changed)


def test_bounded_cache_drops_the_least_recently_used() -> None:
    one = torch.ones(1, 3, 4, 4)  # each layer's features: 192 bytes
    cache, net = FeatureCache(max_bytes=2 * 2 * 192), Counter()
    for image in (one, one * 0.5, one):  # the first image is used again: it stays
        cache.features(image, "net", ["a", "b"], net)
    cache.features(one * 0.25, "net", ["a", "b"], net)
    assert cache.bytes <= 2 * 2 * 192
    cache.features(one, "net", ["a", "b"], net)
    assert net.calls == 3  # the half-bright image was dropped, not the first

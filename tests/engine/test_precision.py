"""Device and precision choices."""

from __future__ import annotations

from collections.abc import Iterator
from types import SimpleNamespace
from typing import Any

import pytest
import torch

from painterly.engine import precision
from painterly.engine.precision import faster_precision, pick_device, resolve_precision
from painterly.errors import ConfigError


def _available(monkeypatch: pytest.MonkeyPatch, cuda: bool, mps: bool) -> None:
    monkeypatch.setattr(torch.cuda, "is_available", lambda: cuda)
    monkeypatch.setattr(torch.backends.mps, "is_available", lambda: mps)


@pytest.mark.parametrize(
    ("cuda", "mps", "expected"),
    [(True, True, "cuda"), (False, True, "mps"), (False, False, "cpu")],
)
def test_auto_prefers_cuda_then_mps_then_cpu(
    monkeypatch: pytest.MonkeyPatch, cuda: bool, mps: bool, expected: str
) -> None:
    _available(monkeypatch, cuda, mps)
    assert pick_device("auto") == torch.device(expected)
    assert pick_device("cpu") == torch.device("cpu")


def test_missing_device_is_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    _available(monkeypatch, False, False)
    with pytest.raises(ConfigError, match="device 'cuda' is not available here") as info:
        pick_device("cuda")
    assert info.value.field == "device"


class _Clock:
    """A fake perf_counter that a fake convolution advances by its dtype's cost."""

    def __init__(self, costs: dict[torch.dtype, float]) -> None:
        self.now, self.costs = 0.0, costs

    def __call__(self) -> float:
        return self.now

    def conv2d(self, x: torch.Tensor, *args: Any, **kwargs: Any) -> torch.Tensor:
        self.now += self.costs[x.dtype]
        return x


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Iterator[_Clock]:
    fake = _Clock({})
    monkeypatch.setattr(precision, "bf16_supported", lambda device: True)
    monkeypatch.setattr(precision, "time", SimpleNamespace(perf_counter=fake))
    monkeypatch.setattr(torch.nn.functional, "conv2d", fake.conv2d)
    yield fake


@pytest.mark.parametrize(
    ("fp32", "bf16", "expected"),
    [(1.0, 0.5, "bf16"), (1.0, 0.9, "fp32"), (1.0, 2.0, "fp32")],  # bf16 must win by 15%
)
def test_auto_precision_follows_the_probe(
    clock: _Clock, fp32: float, bf16: float, expected: str
) -> None:
    clock.costs = {torch.float32: fp32, torch.bfloat16: bf16}
    assert faster_precision.__wrapped__("cpu") == expected


def test_the_probe_convolves_on_one_thread_and_restores_the_count(
    clock: _Clock, monkeypatch: pytest.MonkeyPatch
) -> None:
    # On two threads a busy machine made both precisions wait for the scheduler alike.
    clock.costs = {torch.float32: 1.0, torch.bfloat16: 0.5}
    seen: list[int] = []
    timed = clock.conv2d

    def conv2d(x: torch.Tensor, w: torch.Tensor, padding: int) -> torch.Tensor:
        seen.append(torch.get_num_threads())
        return timed(x, w, padding=padding)

    monkeypatch.setattr(torch.nn.functional, "conv2d", conv2d)
    before = torch.get_num_threads()
    torch.set_num_threads(2)
    try:
        assert faster_precision.__wrapped__("cpu") == "bf16"
        assert seen and set(seen) == {1} and torch.get_num_threads() == 2
    finally:
        torch.set_num_threads(before)


def test_no_probe_without_native_bf16(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(precision, "bf16_supported", lambda device: False)
    assert faster_precision.__wrapped__("cpu") == "fp32"


def test_resolve_keeps_an_explicit_precision_and_asks_for_auto(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(precision, "faster_precision", lambda device_type: "bf16")
    assert resolve_precision("auto", torch.device("cpu")) == "bf16"
    assert resolve_precision("fp32", torch.device("cpu")) == "fp32"
    with pytest.raises(ConfigError, match="not supported on mps") as info:
        resolve_precision("bf16", torch.device("mps"))
    assert info.value.field == "precision"

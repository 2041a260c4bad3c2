"""Device and precision choices."""

from __future__ import annotations

import pytest
import torch

from painterly.errors import ConfigError
from painterly.runtime import faster_precision, pick_device, resolve_precision


def test_cpu_is_always_available() -> None:
    assert pick_device("cpu") == torch.device("cpu")
    assert pick_device("auto").type in ("cpu", "cuda", "mps")


def test_missing_device_is_a_clear_error() -> None:
    if torch.cuda.is_available():
        pytest.skip("this machine has CUDA")
    with pytest.raises(ConfigError, match="device 'cuda' is not available here"):
        pick_device("cuda")


def test_auto_precision_picks_a_measured_choice() -> None:
    assert faster_precision("cpu") in ("fp32", "bf16")
    assert resolve_precision("auto", torch.device("cpu")) == faster_precision("cpu")
    assert resolve_precision("fp32", torch.device("cpu")) == "fp32"
